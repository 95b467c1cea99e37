//! The embedded answer cache: answers served again, in the index's LMDB environment
//! (the `answers` database), written in their own transactions so the index
//! generation never moves.
//!
//! The store knows only bytes and the layout of keys. A key is a [`Slot`] (the
//! pipeline's group, the epoch and the scope, 32 bytes) followed by the question's
//! 16-byte hash, so one slot's entries are one prefix: looked up by key (the exact
//! level) or scanned (the semantic level). A value starts with its creation time in
//! Unix milliseconds (u64 little-endian); the rest belongs to the cache stage.

use heed::types::Bytes;

use super::StoreError;
use super::lmdb::Env;

/// Which pipeline, epoch and scope an entry belongs to: group (8 bytes) | epoch (8) |
/// scope (16).
pub type Slot = [u8; 32];
/// The hash of a normalized question.
pub type QuestionKey = [u8; 16];

/// The answer cache of one index.
pub struct AnswerStore<'a> {
    pub(super) env: &'a Env,
    pub(super) db: heed::Database<'static, Bytes, Bytes>,
}

/// What a [`AnswerStore::collect`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Entries of an older epoch or past their TTL.
    pub stale: u64,
    /// The oldest live entries beyond `max_entries`.
    pub evicted: u64,
    /// Entries kept.
    pub kept: u64,
}

fn key(slot: &Slot, question: &QuestionKey) -> [u8; 48] {
    let mut k = [0; 48];
    k[..32].copy_from_slice(slot);
    k[32..].copy_from_slice(question);
    k
}

/// The creation time a value starts with (0 when it is too short to have one).
pub fn created_ms(value: &[u8]) -> u64 {
    value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

impl AnswerStore<'_> {
    /// The entry for `question` in `slot`.
    ///
    /// Errors: `Lmdb` on read failure.
    pub fn get(&self, slot: &Slot, question: &QuestionKey) -> Result<Option<Vec<u8>>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.db.get(&rtxn, &key(slot, question))?.map(<[u8]>::to_vec))
    }

    /// Every entry of `slot`, in key order, each passed to `visit` in place (no copy).
    ///
    /// Errors: `Lmdb` on read failure.
    pub fn scan(&self, slot: &Slot, visit: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        let rtxn = self.env.read_txn()?;
        for entry in self.db.prefix_iter(&rtxn, slot)? {
            visit(entry?.1);
        }
        Ok(())
    }

    /// Store (or replace) the entry for `question` in `slot`.
    ///
    /// Errors: `Lmdb` on write failure (e.g. the map is full).
    pub fn put(&self, slot: &Slot, question: &QuestionKey, value: &[u8]) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.db.put(&mut wtxn, &key(slot, question), value)?;
        wtxn.commit()?;
        Ok(())
    }

    /// Garbage-collect the entries of `group` (a slot's first 8 bytes): those of
    /// another epoch than `live_epoch` or created before `expired_before_ms` go, then
    /// the oldest beyond `max_entries`.
    ///
    /// Errors: `Lmdb` on read or write failure.
    pub fn collect(
        &self,
        group: &[u8; 8],
        live_epoch: &[u8; 8],
        expired_before_ms: u64,
        max_entries: usize,
    ) -> Result<Collected, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let mut stale = Vec::new();
        let mut live = Vec::new();
        for entry in self.db.prefix_iter(&wtxn, group)? {
            let (k, v) = entry?;
            let created = created_ms(v);
            if k.get(8..16) != Some(live_epoch.as_slice()) || created < expired_before_ms {
                stale.push(k.to_vec());
            } else {
                live.push((created, k.to_vec()));
            }
        }
        let excess = live.len().saturating_sub(max_entries);
        live.sort_unstable();
        let evicted: Vec<Vec<u8>> = live.drain(..excess).map(|(_, k)| k).collect();
        for k in stale.iter().chain(&evicted) {
            self.db.delete(&mut wtxn, k)?;
        }
        wtxn.commit()?;
        Ok(Collected {
            stale: stale.len() as u64,
            evicted: evicted.len() as u64,
            kept: live.len() as u64,
        })
    }

    /// Remove every entry of `group`; how many there were.
    ///
    /// Errors: `Lmdb` on read or write failure.
    pub fn clear(&self, group: &[u8; 8]) -> Result<u64, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let keys: Vec<Vec<u8>> = self
            .db
            .prefix_iter(&wtxn, group)?
            .map(|e| e.map(|(k, _)| k.to_vec()))
            .collect::<Result<_, _>>()?;
        for k in &keys {
            self.db.delete(&mut wtxn, k)?;
        }
        wtxn.commit()?;
        Ok(keys.len() as u64)
    }

    /// Entries of `group`.
    ///
    /// Errors: `Lmdb` on read failure.
    pub fn count(&self, group: &[u8; 8]) -> Result<u64, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut n = 0;
        for entry in self.db.prefix_iter(&rtxn, group)? {
            entry?;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Index, IndexOptions};

    fn slot(group: u8, epoch: u8, scope: u8) -> Slot {
        let mut s = [0; 32];
        s[..8].fill(group);
        s[8..16].fill(epoch);
        s[16..].fill(scope);
        s
    }

    fn value(created: u64, body: &[u8]) -> Vec<u8> {
        [created.to_le_bytes().as_slice(), body].concat()
    }

    #[test]
    fn slots_partition_lookups_scans_and_collection() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(dir.path(), &IndexOptions::default()).unwrap();
        let store = index.answers();
        let (a, b) = (slot(1, 1, 1), slot(1, 1, 2));
        store.put(&a, &[7; 16], &value(100, b"a7")).unwrap();
        store.put(&a, &[8; 16], &value(200, b"a8")).unwrap();
        store.put(&b, &[7; 16], &value(300, b"b7")).unwrap();
        store.put(&slot(2, 1, 1), &[7; 16], &value(300, b"other")).unwrap();
        assert_eq!(store.get(&a, &[7; 16]).unwrap(), Some(value(100, b"a7")));
        assert_eq!(store.get(&slot(1, 2, 1), &[7; 16]).unwrap(), None);
        let mut seen = Vec::new();
        store.scan(&a, &mut |v| seen.push(v[8..].to_vec())).unwrap();
        assert_eq!(seen, [b"a7".to_vec(), b"a8".to_vec()]);
        assert_eq!(
            index.generation().unwrap(),
            0,
            "cache writes leave the generation alone"
        );

        // An entry of an older epoch, one expired, then one over the cap.
        store.put(&slot(1, 0, 1), &[9; 16], &value(400, b"old epoch")).unwrap();
        let got = store.collect(&[1; 8], &[1; 8], 150, 1).unwrap();
        assert_eq!(
            got,
            Collected {
                stale: 2,
                evicted: 1,
                kept: 1
            }
        );
        assert_eq!(
            store.get(&b, &[7; 16]).unwrap(),
            Some(value(300, b"b7")),
            "the newest stays"
        );
        assert_eq!(store.count(&[2; 8]).unwrap(), 1, "another group is untouched");
        assert_eq!(store.clear(&[1; 8]).unwrap(), 1);
        assert_eq!(store.count(&[1; 8]).unwrap(), 0);
        assert_eq!(store.count(&[2; 8]).unwrap(), 1);
    }
}
