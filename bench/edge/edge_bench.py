#!/usr/bin/env python3
"""Helpers for the edge benchmarks: seed a sealcast data dir (users, courses,
videos, playback sessions, stored objects), mint access tokens with the
server's own signing key, and sign playback URLs with its URL secret, exactly
as the server does (see keyserver/src/signed_url/ and keyserver/src/tokens/).

  edge_bench.py token DATA_DIR USER_ID ROLE
  edge_bench.py creator DATA_DIR                 -> prints "USER_ID COURSE_ID"
  edge_bench.py playback DATA_DIR SEGMENTS       -> seeds a ready video with 1 MiB
        segments and a 3 h playlist; prints shell assignments of the URLs
"""
import base64, glob, hashlib, hmac, json, os, secrets, sqlite3, struct, sys, time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def db(data):
    conn = sqlite3.connect(os.path.join(data, "sealcast.db"), timeout=30)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def token(data, user, role):
    pem = sorted(glob.glob(os.path.join(data, "secrets/signing-keys/*.pem")))[-1]
    # PKCS#8 v2 (with the public key), which `cryptography` will not load:
    # take the 32-byte seed after OCTET STRING(OCTET STRING(32)).
    der = base64.b64decode("".join(l for l in open(pem).read().splitlines() if not l.startswith("-----")))
    seed = der[der.index(b"\x04\x22\x04\x20") + 4:][:32]
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    x = b64u(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    kid = b64u(hashlib.sha256(('{"crv":"Ed25519","kty":"OKP","x":"%s"}' % x).encode()).digest())
    now = int(time.time())
    header = {"alg": "EdDSA", "typ": "JWT", "kid": kid}
    claims = {"sub": user, "role": role, "iss": "sealcast", "aud": "sealcast-api",
              "exp": now + 3600, "nbf": now, "iat": now, "jti": b64u(secrets.token_bytes(16))}
    signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    return signing_input + "." + b64u(key.sign(signing_input.encode()))


def mac(data, prefix, session, exp):
    secret = base64.b64decode(open(os.path.join(data, "secrets/url-signing.key")).read().strip())
    msg = b"sealcast/url/v1" + struct.pack(">Q", len(prefix)) + prefix.encode()
    msg += struct.pack(">Q", len(session)) + session.encode() + struct.pack(">Q", exp)
    return b64u(hmac.new(secret, msg, hashlib.sha256).digest())


def path_token(data, prefix, session, exp):
    """The path form of a playback session's media: `{exp}.{kv}.{sig}`."""
    return "%d.0.%s" % (exp, mac(data, prefix, session, exp))


def new_id():
    return secrets.token_hex(16)


def creator(data):
    user, course, now = new_id(), new_id(), int(time.time() * 1000)
    with db(data) as c:
        c.execute("INSERT INTO users (id, email, password_hash, role, created_at) VALUES (?, ?, 'x', 'creator', ?)",
                  (user, user + "@bench.test", now))
        c.execute("INSERT INTO courses (id, title, owner_id, created_at) VALUES (?, 'Bench', ?, ?)", (course, user, now))
    return user, course


def put_object(data, key, raw):
    path = os.path.join(data, "objects/objects", key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(raw)
    return path


def playlist(segments):
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i in range(segments):
        lines.append('#EXT-X-KEY:METHOD=AES-128,URI="sealcast-key://%032x",IV=0x%032x' % (i // 10, i))
        lines.append("#EXTINF:6,")
        lines.append("seg_%05d.ts" % i)
    lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode()


def playback(data, segments):
    user, course = creator(data)
    video, session, now = new_id(), new_id(), int(time.time() * 1000)
    with db(data) as c:
        c.execute("INSERT INTO videos (id, course_id, owner_id, title, status, progress, created_at, updated_at) "
                  "VALUES (?, ?, ?, 'Bench', 'ready', 100, ?, ?)", (video, course, user, now, now))
        c.execute("INSERT INTO playback_sessions (id, user_id, video_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                  (session, user, video, now, now + 3 * 3600 * 1000))
    seg = put_object(data, "videos/%s/hls/240p/seg_00000.ts" % video, os.urandom(1 << 20))
    text = playlist(segments)
    put_object(data, "videos/%s/hls/240p/index.m3u8" % video, text)
    exp = int(time.time()) + 2 * 3600
    hls = path_token(data, "/hls/%s/" % session, session, exp)
    print("SEGMENT_URL='/hls/%s/%s/240p/seg_00000.ts'" % (session, hls))
    print("SEGMENT_FILE='%s'" % seg)
    print("SEGMENT_STATIC='/videos/%s/hls/240p/seg_00000.ts'" % video)
    print("PLAYLIST_URL='/hls/%s/%s/240p/index.m3u8'" % (session, hls))
    print("PLAYLIST_BYTES=%d" % len(text))


if __name__ == "__main__":
    cmd, data = sys.argv[1], sys.argv[2]
    if cmd == "token":
        print(token(data, sys.argv[3], sys.argv[4]))
    elif cmd == "creator":
        print(*creator(data))
    elif cmd == "playback":
        playback(data, int(sys.argv[3]))
    else:
        sys.exit(__doc__)
