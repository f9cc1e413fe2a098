//! The server's secrets: the URL-signing secret, the custody master key and
//! the token signing keys.
//!
//! On first start they are generated into `<data dir>/secrets/` (directory
//! 0700, files 0600). An operator can supply any of them as a file instead
//! (`SEALCAST_*_FILE`); such a file must not be readable by group or others,
//! or the server refuses to start, the way garage treats its rpc secret.
//! Secret values never implement `Display`/`Debug` and never reach a log.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::config::Config;

/// Secret bytes that wipe themselves on drop and never print.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBytes([redacted])")
    }
}

/// One Ed25519 token signing key as PKCS#8 PEM, with its key id.
pub struct SigningKeyPem {
    pub kid: String,
    pub pem: Zeroizing<String>,
}

impl std::fmt::Debug for SigningKeyPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SigningKeyPem {{ kid: {:?}, pem: [redacted] }}",
            self.kid
        )
    }
}

/// Everything secret the server needs, loaded once at start.
#[derive(Debug)]
pub struct ServerSecrets {
    /// HMAC key for signed playback URLs (≥ 32 bytes).
    pub url_signing: SecretBytes,
    /// X25519 secret of the key server's custody key (32 bytes); only loaded
    /// by a process with the `keyserver` role.
    pub master_key: Option<SecretBytes>,
    /// The custody public key (what workers seal new content keys to).
    pub master_public: [u8; 32],
    /// Token signing keys from the file, or this node's data dir (oldest
    /// first). With no file, these only seed the database keyring that every
    /// node shares (`crate::keyring`), which also makes the first key.
    pub signing_keys: Vec<SigningKeyPem>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "secret file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    TooOpen { path: String, mode: u32 },
    #[error("cannot read secret file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write secret file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("secret file {path} is malformed: {reason}")]
    Malformed { path: String, reason: String },
}

const URL_SIGNING_FILE: &str = "url-signing.key";
const MASTER_KEY_FILE: &str = "master.key";
const MASTER_PUBLIC_FILE: &str = "master.pub";
const SIGNING_KEYS_DIR: &str = "signing-keys";

/// Loads operator-supplied secrets, generating any missing ones into the data dir.
pub fn load_or_generate(config: &Config) -> Result<ServerSecrets, SecretError> {
    let dir = config.secrets_dir();
    ensure_private_dir(&dir)?;
    let url_signing = match &config.secrets.url_signing_secret_file {
        Some(path) => read_b64_secret(path, 32)?,
        None => load_or_create_b64(&url_signing_secret_path(config), 32)?,
    };
    let (master_key, master_public) = if config.roles.keyserver {
        let key = match &config.secrets.master_key_file {
            Some(path) => read_b64_secret(path, 32)?,
            None => load_or_create_b64(&dir.join(MASTER_KEY_FILE), 32)?,
        };
        let key = exact_len(key, 32, config.secrets.master_key_file.as_deref())?;
        let public = master_public_of(&key)?;
        // Publish the public half for edge and worker processes.
        write_master_public(&master_public_path(config), &public)?;
        (Some(key), public)
    } else {
        (None, read_master_public(&master_public_path(config))?)
    };
    let signing_keys = match &config.secrets.signing_key_file {
        Some(path) => vec![read_signing_key(path)?],
        None => {
            let keys_dir = dir.join(SIGNING_KEYS_DIR);
            ensure_private_dir(&keys_dir)?;
            read_signing_keys_dir(&keys_dir)?
        }
    };
    Ok(ServerSecrets {
        url_signing,
        master_key,
        master_public,
        signing_keys,
    })
}

/// Where the URL-signing secret lives (operator file or the data dir); it is
/// also the root the shared keyring is sealed with.
pub fn url_signing_secret_path(config: &Config) -> PathBuf {
    config
        .secrets
        .url_signing_secret_file
        .clone()
        .unwrap_or_else(|| config.secrets_dir().join(URL_SIGNING_FILE))
}

/// Where the custody private key lives (operator file or the data dir).
pub fn master_key_path(config: &Config) -> PathBuf {
    config
        .secrets
        .master_key_file
        .clone()
        .unwrap_or_else(|| config.secrets_dir().join(MASTER_KEY_FILE))
}

/// Where the custody public key is published for edges and workers.
pub fn master_public_path(config: &Config) -> PathBuf {
    config
        .secrets
        .master_public_key_file
        .clone()
        .unwrap_or_else(|| config.secrets_dir().join(MASTER_PUBLIC_FILE))
}

fn master_public_of(secret: &SecretBytes) -> Result<[u8; 32], SecretError> {
    sealcast_keyserver::MasterKeyPair::from_slice(secret.expose())
        .map(|pair| pair.public_key().to_bytes())
        .map_err(|e| malformed(Path::new(MASTER_KEY_FILE), &e.to_string()))
}

/// Writes the base64 public key (not secret: mode 0644), atomically, if it changed.
pub fn write_master_public(path: &Path, public: &[u8; 32]) -> Result<(), SecretError> {
    let text = B64.encode(public) + "\n";
    if fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    let err = |source| SecretError::Write {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("pub.tmp");
    fs::write(&tmp, text.as_bytes()).map_err(err)?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

fn read_master_public(path: &Path) -> Result<[u8; 32], SecretError> {
    let text = fs::read_to_string(path).map_err(|source| SecretError::Read {
        path: format!(
            "{} (the custody public key, written by a process with the keyserver role)",
            path.display()
        ),
        source,
    })?;
    let raw = B64
        .decode(text.trim())
        .map_err(|_| malformed(path, "not base64"))?;
    raw.as_slice()
        .try_into()
        .map_err(|_| malformed(path, "expected a 32-byte X25519 public key"))
}

/// Generates a token signing key in the data dir: the first node's first key,
/// which it also puts in the shared keyring (`crate::keyring`).
pub fn add_signing_key(keys_dir: &Path) -> Result<SigningKeyPem, SecretError> {
    ensure_private_dir(keys_dir)?;
    let key = SigningKey::generate(&mut OsRng);
    let kid = kid_for(&key);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| SecretError::Malformed {
            path: keys_dir.display().to_string(),
            reason: e.to_string(),
        })?;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let path = keys_dir.join(format!("{created:024}-{kid}.pem"));
    write_new_private_file(&path, pem.as_bytes())?;
    Ok(SigningKeyPem {
        kid,
        pem: Zeroizing::new(pem.to_string()),
    })
}

/// The directory generated signing keys live in.
pub fn signing_keys_dir(config: &Config) -> PathBuf {
    config.secrets_dir().join(SIGNING_KEYS_DIR)
}

fn kid_for(key: &SigningKey) -> String {
    hex::encode(&key.verifying_key().to_bytes()[..8])
}

fn read_signing_keys_dir(dir: &Path) -> Result<Vec<SigningKeyPem>, SecretError> {
    let entries = fs::read_dir(dir).map_err(|source| SecretError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "pem"))
        .collect();
    paths.sort();
    paths.iter().map(|p| read_signing_key(p)).collect()
}

fn read_signing_key(path: &Path) -> Result<SigningKeyPem, SecretError> {
    let bytes = read_private_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| malformed(path, "not UTF-8 PEM"))?;
    let key = SigningKey::from_pkcs8_pem(text)
        .map_err(|_| malformed(path, "not an Ed25519 PKCS#8 PEM private key"))?;
    Ok(SigningKeyPem {
        kid: kid_for(&key),
        pem: Zeroizing::new(text.to_string()),
    })
}

fn malformed(path: &Path, reason: &str) -> SecretError {
    SecretError::Malformed {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn exact_len(
    secret: SecretBytes,
    len: usize,
    path: Option<&Path>,
) -> Result<SecretBytes, SecretError> {
    if secret.expose().len() == len {
        Ok(secret)
    } else {
        Err(malformed(
            path.unwrap_or_else(|| Path::new(MASTER_KEY_FILE)),
            &format!("expected exactly {len} bytes after base64 decoding"),
        ))
    }
}

fn load_or_create_b64(path: &Path, len: usize) -> Result<SecretBytes, SecretError> {
    if path.exists() {
        return read_b64_secret(path, len);
    }
    let mut raw = Zeroizing::new(vec![0u8; len]);
    OsRng.fill_bytes(&mut raw);
    let text = Zeroizing::new(B64.encode(&*raw) + "\n");
    write_new_private_file(path, text.as_bytes())?;
    Ok(SecretBytes(raw))
}

/// Writes a new base64 secret file (mode 0600); refuses to overwrite.
pub fn write_b64_secret(path: &Path, raw: &[u8]) -> Result<(), SecretError> {
    let text = Zeroizing::new(B64.encode(raw) + "\n");
    write_new_private_file(path, text.as_bytes())
}

/// Reads a base64 secret of at least `min_len` bytes from a 0600 file.
pub fn read_b64_secret(path: &Path, min_len: usize) -> Result<SecretBytes, SecretError> {
    let bytes = read_private_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| malformed(path, "not base64 text"))?;
    let raw = Zeroizing::new(
        B64.decode(text.trim())
            .map_err(|_| malformed(path, "not base64 (try `openssl rand -base64 32`)"))?,
    );
    if raw.len() < min_len {
        return Err(malformed(path, &format!("needs at least {min_len} bytes")));
    }
    Ok(SecretBytes(raw))
}

/// Refuses a secret file that group or others may read (or that is missing).
pub fn check_private_file(path: &Path) -> Result<(), SecretError> {
    let meta = fs::metadata(path).map_err(|source| SecretError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::TooOpen {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

/// Reads a secret file after checking no one but the owner can read it.
pub fn read_private_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    check_private_file(path)?;
    fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| SecretError::Read {
            path: path.display().to_string(),
            source,
        })
}

pub(crate) fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<(), SecretError> {
    let err = |source| SecretError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)
}

fn ensure_private_dir(dir: &Path) -> Result<(), SecretError> {
    let err = |source| SecretError::Write {
        path: dir.display().to_string(),
        source,
    };
    fs::create_dir_all(dir).map_err(err)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServeArgs;

    fn config(dir: &Path) -> Config {
        Config::load(&ServeArgs {
            data_dir: Some(dir.to_path_buf()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn generates_private_files_once_and_reloads_them() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path());
        let first = load_or_generate(&cfg).unwrap();
        for name in [URL_SIGNING_FILE, MASTER_KEY_FILE] {
            let mode = fs::metadata(cfg.secrets_dir().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let second = load_or_generate(&cfg).unwrap();
        assert_eq!(first.url_signing.expose(), second.url_signing.expose());
        assert_eq!(
            first.master_key.as_ref().unwrap().expose(),
            second.master_key.as_ref().unwrap().expose()
        );
        assert_eq!(first.master_public, second.master_public);
        // An edge-only process gets the public key and never the private one.
        let mut edge = cfg.clone();
        edge.roles.keyserver = false;
        let e = load_or_generate(&edge).unwrap();
        assert!(e.master_key.is_none());
        assert_eq!(e.master_public, first.master_public);
        // The first signing key is the shared keyring's to make (crate::keyring).
        assert!(first.signing_keys.is_empty());
        assert!(!format!("{first:?}").contains(&B64.encode(first.url_signing.expose())));
    }

    #[test]
    fn refuses_group_readable_secret_files() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("url.key");
        fs::write(&path, B64.encode([7u8; 32])).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_b64_secret(&path, 32).unwrap_err();
        assert!(matches!(err, SecretError::TooOpen { .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_b64_secret(&path, 32).unwrap().expose(), &[7u8; 32]);
    }

    #[test]
    fn short_secrets_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("short.key");
        write_new_private_file(&path, B64.encode([1u8; 8]).as_bytes()).unwrap();
        assert!(matches!(
            read_b64_secret(&path, 32),
            Err(SecretError::Malformed { .. })
        ));
    }

    #[test]
    fn rotation_adds_a_newer_signing_key() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path());
        load_or_generate(&cfg).unwrap();
        let first = add_signing_key(&signing_keys_dir(&cfg)).unwrap();
        let added = add_signing_key(&signing_keys_dir(&cfg)).unwrap();
        let after = load_or_generate(&cfg).unwrap();
        assert_eq!(after.signing_keys.len(), 2);
        assert_eq!(after.signing_keys[0].kid, first.kid);
        assert_eq!(after.signing_keys[1].kid, added.kid);
    }
}
