//! API keys, in their own LMDB environment under the data dir (`keys/`). A key is
//! shown once, when it is created; only its SHA-256 is stored (a key has 256 random
//! bits, so a plain hash is enough: there is nothing to guess), with the role it
//! names, a name, and when it was created, expires or was revoked.

use std::path::Path;

use heed::types::{SerdeJson, Str};
use heed::{CommitOrAbort, Database, Env, WithoutTls};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;

const MAP_SIZE_BYTES: usize = 64 << 20;
/// Every key starts with this, so a leaked one is easy to recognise and scan for.
pub const KEY_PREFIX: &str = "rgl_";

/// What is stored of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Public handle for listing and revoking (not part of the key).
    pub id: String,
    pub name: String,
    /// The `access.yaml` role the key has.
    pub role: String,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    pub revoked_ms: Option<u64>,
}

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Expired { id: String, at_ms: u64 },
    Revoked { id: String },
}

/// What `revoke` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    Key(KeyRecord),
    NotFound,
    /// The name is on several keys: these ids.
    Ambiguous(Vec<String>),
}

/// The key store.
pub struct KeyStore {
    env: Env<WithoutTls>,
    /// SHA-256 of the key (hex) → its record.
    keys: Database<'static, Str, SerdeJson<KeyRecord>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyStore")
    }
}

impl KeyStore {
    /// Open (creating) the store in `dir`.
    ///
    /// # Errors
    /// [`StoreError`] when the directory or LMDB cannot be opened.
    pub fn open(dir: &Path) -> Result<KeyStore, StoreError> {
        let env = super::lmdb::open_env(dir, MAP_SIZE_BYTES, 1)?;
        let wtxn = env.write_txn()?;
        let created = env.create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, heed::Error> {
            Ok(CommitOrAbort::<_, ()>::Commit(
                opener.create_database(wtxn, Some("keys"))?,
            ))
        })?;
        let CommitOrAbort::Commit(keys) = created else {
            return Err(StoreError::Corrupt("creating the key store was aborted".to_owned()));
        };
        Ok(KeyStore { env, keys })
    }

    /// Make a key with `role`: the key (shown once, never stored) and its record.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be written.
    pub fn create(
        &self,
        role: &str,
        name: Option<&str>,
        expires_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<(String, KeyRecord), StoreError> {
        let key = format!("{KEY_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
        let id = hex::encode(rand::random::<[u8; 6]>());
        let record = KeyRecord {
            name: name.map_or_else(|| id.clone(), str::to_owned),
            id,
            role: role.to_owned(),
            created_ms: now_ms,
            expires_ms,
            revoked_ms: None,
        };
        let mut wtxn = self.env.write_txn()?;
        self.keys.put(&mut wtxn, &digest(&key), &record)?;
        wtxn.commit()?;
        Ok((key, record))
    }

    /// Every key's record, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] when LMDB cannot be read.
    pub fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut records = self
            .keys
            .iter(&rtxn)?
            .map(|entry| entry.map(|(_, record)| record))
            .collect::<Result<Vec<_>, _>>()?;
        records.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(records)
    }

    /// Revoke the key whose id (or name, when only one key has it) is `which`.
    /// Revoking twice keeps the first time.
    ///
    /// # Errors
    /// [`StoreError`] when LMDB cannot be read or written.
    pub fn revoke(&self, which: &str, now_ms: u64) -> Result<Revoked, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let matches = self
            .keys
            .iter(&wtxn)?
            .filter_map(|entry| {
                entry
                    .map(|(hash, record)| {
                        (record.id == which || record.name == which).then(|| (hash.to_owned(), record))
                    })
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (hash, mut record) = match matches.as_slice() {
            [] => return Ok(Revoked::NotFound),
            [one] => one.clone(),
            many => return Ok(Revoked::Ambiguous(many.iter().map(|(_, r)| r.id.clone()).collect())),
        };
        record.revoked_ms.get_or_insert(now_ms);
        self.keys.put(&mut wtxn, &hash, &record)?;
        wtxn.commit()?;
        Ok(Revoked::Key(record))
    }

    /// The record of `key` when it may be used at `now_ms`, or why not.
    ///
    /// # Errors
    /// [`StoreError`] when LMDB cannot be read.
    pub fn check(&self, key: &str, now_ms: u64) -> Result<Result<KeyRecord, Refusal>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let Some(record) = self.keys.get(&rtxn, &digest(key))? else {
            return Ok(Err(Refusal::Unknown));
        };
        if record.revoked_ms.is_some() {
            return Ok(Err(Refusal::Revoked { id: record.id }));
        }
        if let Some(at_ms) = record.expires_ms.filter(|&at| at <= now_ms) {
            return Ok(Err(Refusal::Expired { id: record.id, at_ms }));
        }
        Ok(Ok(record))
    }
}

/// The stored form of a key.
fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_checked_by_its_hash_and_refused_once_expired_or_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(dir.path()).unwrap();
        let (key, record) = store.create("hr-reader", Some("hr app"), Some(2_000), 1_000).unwrap();
        assert!(
            key.starts_with(KEY_PREFIX) && key.len() == KEY_PREFIX.len() + 64,
            "{key}"
        );
        assert_eq!(store.check(&key, 1_500).unwrap(), Ok(record.clone()));
        let expired = Refusal::Expired {
            id: record.id.clone(),
            at_ms: 2_000,
        };
        assert_eq!(store.check(&key, 2_000).unwrap(), Err(expired));
        assert_eq!(store.check("rgl_guess", 1_500).unwrap(), Err(Refusal::Unknown));

        // Nothing on disk holds the key itself.
        drop(store);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()));
        }

        let store = KeyStore::open(dir.path()).unwrap();
        let (other, _) = store.create("admin", None, None, 1_100).unwrap();
        assert_ne!(other, key);
        let Revoked::Key(revoked) = store.revoke("hr app", 1_600).unwrap() else {
            panic!("not revoked")
        };
        assert_eq!(revoked.revoked_ms, Some(1_600));
        assert_eq!(
            store.check(&key, 1_700).unwrap(),
            Err(Refusal::Revoked { id: record.id.clone() })
        );
        assert!(store.check(&other, 1_700).unwrap().is_ok());
        let listed: Vec<_> = store.list().unwrap().into_iter().map(|r| r.role).collect();
        assert_eq!(listed, ["hr-reader", "admin"]);
        assert_eq!(store.revoke("nobody", 1_800).unwrap(), Revoked::NotFound);
        store.create("admin", Some("ci"), None, 1_900).unwrap();
        store.create("admin", Some("ci"), None, 1_901).unwrap();
        assert!(matches!(store.revoke("ci", 2_000).unwrap(), Revoked::Ambiguous(ids) if ids.len() == 2));
    }
}
