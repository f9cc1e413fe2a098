//! The URL-signing secrets by version, so the secret can rotate while URLs
//! signed with the previous one are still out there.
//!
//! Version 0 is the secret file's own key: URLs without `kv=` are version 0,
//! which keeps every URL issued before versioning valid. The newest version
//! signs; every version held verifies. Which versions exist is the shared
//! keyring's business (the root crate loads them from the database).

use super::SignatureError;
use super::{SignedQuery, UrlSigner, UrlSignerError, MIN_SECRET_LEN};
use zeroize::Zeroizing;

/// The secrets one signer holds, oldest first; the last one signs.
pub(super) struct UrlKeys {
    secrets: Vec<(u32, Zeroizing<Vec<u8>>)>,
}

impl UrlKeys {
    pub(super) fn single(secret: &[u8]) -> Result<Self, UrlSignerError> {
        Self::new(vec![(0, Zeroizing::new(secret.to_vec()))])
    }

    fn new(secrets: Vec<(u32, Zeroizing<Vec<u8>>)>) -> Result<Self, UrlSignerError> {
        if secrets.is_empty() {
            return Err(UrlSignerError::InvalidInput("no url-signing key"));
        }
        if let Some((_, short)) = secrets.iter().find(|(_, s)| s.len() < MIN_SECRET_LEN) {
            return Err(UrlSignerError::SecretTooShort(short.len()));
        }
        let mut seen: Vec<u32> = secrets.iter().map(|(v, _)| *v).collect();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != secrets.len() {
            return Err(UrlSignerError::InvalidInput(
                "url-signing key versions repeat",
            ));
        }
        Ok(Self { secrets })
    }

    /// The signing version and its secret.
    pub(super) fn active(&self) -> (u32, &[u8]) {
        let (v, s) = self.secrets.last().expect("never empty");
        (*v, s)
    }

    pub(super) fn get(&self, version: u32) -> Option<&[u8]> {
        self.secrets
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, s)| s.as_slice())
    }
}

impl UrlSigner {
    /// Replace the secrets (oldest → newest; the newest signs) after a rotation.
    /// On error the current ones stay.
    pub fn set_versions(
        &self,
        secrets: Vec<(u32, Zeroizing<Vec<u8>>)>,
    ) -> Result<(), UrlSignerError> {
        let keys = UrlKeys::new(secrets)?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(())
    }

    /// The versions held, oldest → newest.
    pub fn versions(&self) -> Vec<u32> {
        self.read().secrets.iter().map(|(v, _)| *v).collect()
    }

    /// The version new URLs are signed with.
    pub fn active_version(&self) -> u32 {
        self.read().active().0
    }

    /// Whether `version` is held: an unknown one may be newer than this node's
    /// last reload, so the caller can reload before refusing.
    pub fn knows_version(&self, version: u32) -> bool {
        self.read().get(version).is_some()
    }

    /// Verify a request for `path` with the `exp`/`sig`/`kv` of its query.
    pub fn verify_query(
        &self,
        path: &str,
        session_id: &str,
        query: &SignedQuery,
        now: u64,
    ) -> Result<(), SignatureError> {
        self.verify_version(path, session_id, query.kv, query.exp, &query.sig, now)
    }

    pub(super) fn verify_version(
        &self,
        path: &str,
        session_id: &str,
        version: u32,
        expires: u64,
        sig: &str,
        now: u64,
    ) -> Result<(), SignatureError> {
        // `check` checks the ids and paths.
        let needle = format!("/{session_id}/");
        let end = path.find(&needle).ok_or(SignatureError::Bad)? + needle.len();
        self.check(version, &path[..end], path, session_id, expires, sig, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn key(b: u8) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(vec![b; 32])
    }

    fn verify(s: &UrlSigner, query: &str) -> Result<(), SignatureError> {
        let q = SignedQuery::parse(query).unwrap();
        s.verify_query("/hls/s/a.ts", "s", &q, NOW)
    }

    #[test]
    fn the_newest_version_signs_and_older_ones_verify_until_dropped() {
        let s = UrlSigner::new(&[0u8; 32]).unwrap();
        let v0 = s.query("/hls/s/", "s", NOW + 60).unwrap();
        assert!(!v0.contains("kv="), "version 0 URLs look as before: {v0}");
        s.set_versions(vec![(0, key(0)), (1, key(1))]).unwrap();
        assert_eq!((s.versions(), s.active_version()), (vec![0, 1], 1));
        let v1 = s.query("/hls/s/", "s", NOW + 60).unwrap();
        assert!(v1.ends_with("&kv=1"), "{v1}");
        assert_eq!(verify(&s, &v0), Ok(()));
        assert_eq!(verify(&s, &v1), Ok(()));
        // Claiming another version than the one that signed fails.
        assert_eq!(
            verify(&s, &v1.replace("kv=1", "kv=0")),
            Err(SignatureError::Bad)
        );
        assert_eq!(verify(&s, &format!("{v0}&kv=1")), Err(SignatureError::Bad));
        // Version 0 dropped: its URLs stop working, unknown versions are refused.
        s.set_versions(vec![(1, key(1))]).unwrap();
        assert!(!s.knows_version(0));
        assert_eq!(verify(&s, &v0), Err(SignatureError::Bad));
        assert_eq!(verify(&s, &v1), Ok(()));
        assert_eq!(
            verify(&s, &v1.replace("kv=1", "kv=7")),
            Err(SignatureError::Bad)
        );
    }

    #[test]
    fn bad_version_sets_are_refused_and_leave_the_signer_as_it_was() {
        let s = UrlSigner::new(&[0u8; 32]).unwrap();
        assert!(s.set_versions(Vec::new()).is_err());
        assert_eq!(
            s.set_versions(vec![(1, Zeroizing::new(vec![1; 31]))]),
            Err(UrlSignerError::SecretTooShort(31))
        );
        assert!(s.set_versions(vec![(1, key(1)), (1, key(2))]).is_err());
        assert_eq!(s.versions(), vec![0]);
    }
}
