//! Custody round trips, refusals and the v1 → v2 migration.

use super::*;

const CTX: KeyContext<'static> = KeyContext {
    video_id: "vid-1",
    key_id: "k0001",
};
const KEY: [u8; 16] = *b"0123456789abcdef";

/// A v1 blob as deployments before HPKE stored it.
fn legacy_sealed(public: &PublicKey, ctx: &KeyContext<'_>, key: &[u8; 16]) -> SealedKey {
    let fingerprint = KeyFingerprint::of(public);
    let aad = aad(&sealed::header(SealedFormat::LegacyV1, &fingerprint), ctx);
    let nonce = rand::random();
    let (ephemeral, ciphertext) = legacy_v1::seal(public, nonce, &aad, key).unwrap();
    SealedKey {
        fingerprint,
        body: Body::LegacyV1 {
            ephemeral,
            nonce,
            ciphertext,
        },
    }
}

/// Every single-bit flip of the binary form is refused, as is any length change.
fn assert_tamper_evident(m: &MasterKeyPair, s: &SealedKey) {
    let bytes = s.to_bytes();
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = bytes.clone();
            t[i] ^= bit;
            let ok = SealedKey::from_bytes(&t)
                .ok()
                .and_then(|p| open(m, &CTX, &p).ok());
            assert!(ok.is_none(), "tamper at byte {i} bit {bit:#x} opened");
        }
    }
    assert!(SealedKey::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes;
    longer.push(0);
    assert!(SealedKey::from_bytes(&longer).is_err());
}

#[test]
fn roundtrip_bytes_and_text() {
    let m = MasterKeyPair::generate();
    let s = seal(m.public_key(), &CTX, &KEY).unwrap();
    assert_eq!(s.format(), SealedFormat::HpkeV2);
    assert_eq!(s.to_bytes().len(), SEALED_KEY_LEN);
    assert_eq!(s.to_bytes()[0], SEALED_KEY_VERSION);
    assert_eq!(*open(&m, &CTX, &s).unwrap(), KEY);
    let text = s.to_string();
    assert_eq!(text.len(), 108);
    let back: SealedKey = text.parse().unwrap();
    assert_eq!(back, s);
    assert_eq!(SealedKey::from_bytes(&s.to_bytes()).unwrap(), s);
    assert_eq!(*open(&m, &CTX, &back).unwrap(), KEY);
    assert_eq!(s.recipient_fingerprint(), m.fingerprint());
    let json = serde_json::to_string(&s).unwrap();
    let de: SealedKey = serde_json::from_str(&json).unwrap();
    assert_eq!(de, s);
    // A master reloaded from its key file opens what the original sealed.
    let reloaded = MasterKeyPair::from_bytes(*m.to_bytes());
    assert_eq!(*open(&reloaded, &CTX, &s).unwrap(), KEY);
}

#[test]
fn wrong_master_fails() {
    let m = MasterKeyPair::generate();
    let other = MasterKeyPair::generate();
    for s in [
        seal(m.public_key(), &CTX, &KEY).unwrap(),
        legacy_sealed(m.public_key(), &CTX, &KEY),
    ] {
        assert!(matches!(
            open(&other, &CTX, &s),
            Err(CustodyError::WrongMaster(_))
        ));
        // Even if the fingerprint is forged to match, the AEAD fails.
        let mut forged = s.clone();
        forged.fingerprint = other.fingerprint();
        assert_eq!(open(&other, &CTX, &forged), Err(CustodyError::Decrypt));
    }
}

#[test]
fn wrong_context_fails() {
    let m = MasterKeyPair::generate();
    let other_video = KeyContext {
        video_id: "vid-2",
        key_id: "k0001",
    };
    let other_key = KeyContext {
        video_id: "vid-1",
        key_id: "k0002",
    };
    let shifted = KeyContext {
        video_id: "vid-1k",
        key_id: "0001",
    };
    for s in [
        seal(m.public_key(), &CTX, &KEY).unwrap(),
        legacy_sealed(m.public_key(), &CTX, &KEY),
    ] {
        for ctx in [other_video, other_key, shifted] {
            assert_eq!(open(&m, &ctx, &s), Err(CustodyError::Decrypt));
        }
    }
}

#[test]
fn every_tampered_byte_fails() {
    let m = MasterKeyPair::generate();
    let s = seal(m.public_key(), &CTX, &KEY).unwrap();
    assert_tamper_evident(&m, &s);
    assert_tamper_evident(&m, &legacy_sealed(m.public_key(), &CTX, &KEY));
    assert!(SealedKey::from_base64("not base64!").is_err());
    assert!(SealedKey::from_bytes(&[]).is_err());
    let mut v3 = s.to_bytes();
    v3[0] = 3;
    assert_eq!(
        SealedKey::from_bytes(&v3),
        Err(CustodyError::UnsupportedVersion(3))
    );
    // Relabelling a v2 blob as v1 (or back) cannot open: the version is in the AAD
    // and the lengths differ.
    let mut relabelled = s.to_bytes();
    relabelled[0] = 1;
    assert!(SealedKey::from_bytes(&relabelled).is_err());
}

#[test]
fn sealing_twice_differs() {
    let m = MasterKeyPair::generate();
    let a = seal(m.public_key(), &CTX, &KEY).unwrap();
    let b = seal(m.public_key(), &CTX, &KEY).unwrap();
    assert_ne!(a.to_bytes(), b.to_bytes());
    assert_eq!(*open(&m, &CTX, &a).unwrap(), *open(&m, &CTX, &b).unwrap());
}

#[test]
fn reseal_moves_to_new_master() {
    let old = MasterKeyPair::generate();
    let new = MasterKeyPair::generate();
    let s = seal(old.public_key(), &CTX, &KEY).unwrap();
    let r = reseal(&old, new.public_key(), &CTX, &s).unwrap();
    assert_eq!(r.recipient_fingerprint(), new.fingerprint());
    assert_eq!(*open(&new, &CTX, &r).unwrap(), KEY);
    assert!(open(&old, &CTX, &r).is_err());
    // Reseal also enforces the context.
    let wrong = KeyContext {
        video_id: "other",
        key_id: "k0001",
    };
    assert!(reseal(&old, new.public_key(), &wrong, &s).is_err());
}

#[test]
fn legacy_blob_opens_and_reseals_into_hpke() {
    let old = MasterKeyPair::generate();
    let new = MasterKeyPair::generate();
    let v1 = legacy_sealed(old.public_key(), &CTX, &KEY);
    assert_eq!(v1.format(), SealedFormat::LegacyV1);
    assert_eq!(v1.to_bytes().len(), LEGACY_SEALED_KEY_LEN);
    let text = v1.to_base64();
    assert_eq!(text.len(), 124);
    let stored: SealedKey = text.parse().unwrap();
    assert_eq!(*open(&old, &CTX, &stored).unwrap(), KEY);
    let v2 = reseal(&old, new.public_key(), &CTX, &stored).unwrap();
    assert_eq!(v2.format(), SealedFormat::HpkeV2);
    assert_eq!(*open(&new, &CTX, &v2).unwrap(), KEY);
    // Resealing to the same master migrates in place.
    let same = reseal(&old, old.public_key(), &CTX, &stored).unwrap();
    assert_eq!(same.format(), SealedFormat::HpkeV2);
    assert_eq!(*open(&old, &CTX, &same).unwrap(), KEY);
}

#[test]
fn low_order_public_key_rejected() {
    let zero = PublicKey::from([0u8; 32]);
    assert_eq!(
        seal(&zero, &CTX, &KEY).unwrap_err(),
        CustodyError::InvalidPublicKey
    );
}

/// A v1 row written by the pre-HPKE code, byte for byte: it must keep opening.
#[test]
fn stored_v1_row_from_before_hpke_opens() {
    const ROW: &str = "ARzF4_K4fdI1Xh1Z5D2RnuJe0iSrxicCSsL_KTr9JcLtMxt_n3b44V_5FiA3mmMRPApSIV7-MQN6HnZxHsoiw-ld0tHRSXjI7CQYE4X7e5I0tG1QrBeU5TZUVfgr";
    let master = MasterKeyPair::from_bytes([0x5a; 32]);
    let ctx = KeyContext {
        video_id: "vid-legacy",
        key_id: "k0007",
    };
    let sealed: SealedKey = ROW.parse().unwrap();
    assert_eq!(sealed.format(), SealedFormat::LegacyV1);
    assert_eq!(sealed.recipient_fingerprint(), master.fingerprint());
    assert_eq!(sealed.to_base64(), ROW);
    assert_eq!(*open(&master, &ctx, &sealed).unwrap(), *b"legacy-content-k");
    let migrated = reseal(&master, master.public_key(), &ctx, &sealed).unwrap();
    assert_eq!(migrated.format(), SealedFormat::HpkeV2);
    assert_eq!(
        *open(&master, &ctx, &migrated).unwrap(),
        *b"legacy-content-k"
    );
}
