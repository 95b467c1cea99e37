//! The query log analytics and drift read: one LMDB environment under the data dir,
//! beside the indexes. Queries are written behind (batched every half second, so a
//! request never waits on a commit) and survive restarts; records older than the
//! retention are pruned.
//!
//! Keys are `pipeline \0 at_ms (big-endian) id`, so one pipeline's queries are one
//! range in time order.

mod record;

use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use heed::types::{Bytes, SerdeJson, Str};
use heed::{CommitOrAbort, Database, Env, RoTxn, WithoutTls};

pub use self::record::{Baseline, EvalRecord, Feedback, QueryRecord, Rating, WindowQuery};
use super::StoreError;

const MAP_SIZE_BYTES: usize = 16 << 30;
/// How often queued records are written.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// A query to log, with its embedding (for drift) when one was made.
#[derive(Debug, Clone)]
pub struct Logged {
    pub record: QueryRecord,
    /// The embedder's id and the query's vector.
    pub vector: Option<(String, Vec<f32>)>,
}

struct Dbs {
    records: Database<'static, Bytes, SerdeJson<QueryRecord>>,
    /// Answer id → record key.
    ids: Database<'static, Str, Bytes>,
    /// Record key → embedder id length (1 byte), embedder id, `f32` little-endian.
    vectors: Database<'static, Bytes, Bytes>,
    evals: Database<'static, Str, SerdeJson<EvalRecord>>,
    baselines: Database<'static, Str, SerdeJson<Baseline>>,
}

/// The query log.
pub struct QueryLog {
    env: Env<WithoutTls>,
    dbs: Dbs,
    pending: Mutex<Vec<Logged>>,
}

impl std::fmt::Debug for QueryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryLog")
    }
}

impl QueryLog {
    /// Open (creating) the log in `dir`, and start writing queued records behind.
    ///
    /// # Errors
    /// `Io` when the directory cannot be created, `Lmdb` when LMDB refuses to open it.
    pub fn open(dir: &Path) -> Result<Arc<QueryLog>, StoreError> {
        let env = super::lmdb::open_env(dir, MAP_SIZE_BYTES, 5)?;
        let wtxn = env.write_txn()?;
        let created = env.create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, heed::Error> {
            Ok(CommitOrAbort::<_, ()>::Commit((
                opener.create_database(wtxn, Some("records"))?,
                opener.create_database(wtxn, Some("ids"))?,
                opener.create_database(wtxn, Some("vectors"))?,
                opener.create_database(wtxn, Some("evals"))?,
                opener.create_database(wtxn, Some("baselines"))?,
            )))
        })?;
        let CommitOrAbort::Commit((records, ids, vectors, evals, baselines)) = created else {
            return Err(StoreError::Corrupt("creating the query log was aborted".to_owned()));
        };
        let dbs = Dbs {
            records,
            ids,
            vectors,
            evals,
            baselines,
        };
        let log = Arc::new(QueryLog {
            env,
            dbs,
            pending: Mutex::default(),
        });
        let weak = Arc::downgrade(&log);
        std::thread::Builder::new()
            .name("ragline-query-log".to_owned())
            .spawn(move || flush_behind(&weak))
            .map_err(|source| StoreError::Io {
                path: dir.to_owned(),
                source,
            })?;
        Ok(log)
    }

    /// Queue a query; it is written within [`FLUSH_EVERY`].
    pub fn record(&self, logged: Logged) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.push(logged);
        }
    }

    /// Write every queued query now.
    ///
    /// # Errors
    /// `Lmdb` when the write fails; the batch is dropped (and logged by the caller).
    pub fn flush(&self) -> Result<usize, StoreError> {
        let batch = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Err(StoreError::Corrupt("query log queue lock poisoned".into())),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let mut wtxn = self.env.write_txn()?;
        for Logged { record, vector } in &batch {
            let key = key(&record.pipeline, record.at_ms, &record.id);
            self.dbs.records.put(&mut wtxn, &key, record)?;
            self.dbs.ids.put(&mut wtxn, &record.id, &key)?;
            if let Some((embedder, v)) = vector {
                self.dbs.vectors.put(&mut wtxn, &key, &encode_vector(embedder, v))?;
            }
        }
        wtxn.commit()?;
        Ok(batch.len())
    }

    /// Attach `feedback` to `pipeline`'s answer `id` (replacing earlier feedback);
    /// `None` when that pipeline gave no answer with that id.
    ///
    /// # Errors
    /// `Lmdb` when the read or write fails.
    pub fn feedback(&self, pipeline: &str, id: &str, feedback: Feedback) -> Result<Option<QueryRecord>, StoreError> {
        if !usable_key(id) {
            return Ok(None);
        }
        self.flush()?;
        let mut wtxn = self.env.write_txn()?;
        let Some(key) = self.dbs.ids.get(&wtxn, id)?.map(<[u8]>::to_vec) else {
            return Ok(None);
        };
        let Some(mut record) = self.dbs.records.get(&wtxn, &key)?.filter(|r| r.pipeline == pipeline) else {
            return Ok(None);
        };
        record.feedback = Some(feedback);
        self.dbs.records.put(&mut wtxn, &key, &record)?;
        wtxn.commit()?;
        Ok(Some(record))
    }

    /// The queries answered in `[since_ms, until_ms)`, of `pipeline` or of all, oldest
    /// first.
    ///
    /// # Errors
    /// `Lmdb` when the read fails.
    pub fn range(&self, pipeline: Option<&str>, since_ms: u64, until_ms: u64) -> Result<Vec<QueryRecord>, StoreError> {
        self.flush()?;
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        match pipeline {
            Some(p) => {
                let (lo, hi) = (key(p, since_ms, ""), key(p, until_ms, ""));
                for item in self.dbs.records.range(&rtxn, &between(&lo, &hi))? {
                    out.push(item?.1);
                }
            }
            None => {
                for item in self.dbs.records.iter(&rtxn)? {
                    let (_, r) = item?;
                    if (since_ms..until_ms).contains(&r.at_ms) {
                        out.push(r);
                    }
                }
                out.sort_by_key(|r| r.at_ms);
            }
        }
        Ok(out)
    }

    /// Up to `limit` of `pipeline`'s queries with a vector by `embedder`, in
    /// `[since_ms, until_ms)`, newest first.
    ///
    /// # Errors
    /// `Lmdb` when the read fails.
    pub fn window(
        &self,
        pipeline: &str,
        embedder: &str,
        since_ms: u64,
        until_ms: u64,
        limit: usize,
    ) -> Result<Vec<WindowQuery>, StoreError> {
        self.flush()?;
        let rtxn = self.env.read_txn()?;
        let (lo, hi) = (key(pipeline, since_ms, ""), key(pipeline, until_ms, ""));
        let mut out = Vec::new();
        for item in self.dbs.records.rev_range(&rtxn, &between(&lo, &hi))? {
            if out.len() >= limit {
                break;
            }
            let (key, record) = item?;
            if let Some(vector) = self.vector(&rtxn, key, embedder)? {
                out.push(WindowQuery {
                    vector,
                    top_domain: record.top_domain,
                    best_similarity: record.best_similarity,
                });
            }
        }
        Ok(out)
    }

    fn vector(&self, rtxn: &RoTxn<WithoutTls>, key: &[u8], embedder: &str) -> Result<Option<Vec<f32>>, StoreError> {
        let Some(bytes) = self.dbs.vectors.get(rtxn, key)? else {
            return Ok(None);
        };
        Ok(decode_vector(bytes).filter(|(id, _)| *id == embedder).map(|(_, v)| v))
    }

    /// Delete every query answered before `before_ms`; returns how many.
    ///
    /// # Errors
    /// `Lmdb` when the write fails.
    pub fn prune(&self, before_ms: u64) -> Result<usize, StoreError> {
        self.flush()?;
        let mut wtxn = self.env.write_txn()?;
        let old: Vec<(Vec<u8>, String)> = self
            .dbs
            .records
            .iter(&wtxn)?
            .filter_map(Result::ok)
            .filter(|(_, r)| r.at_ms < before_ms)
            .map(|(k, r)| (k.to_vec(), r.id))
            .collect();
        for (key, id) in &old {
            self.dbs.records.delete(&mut wtxn, key)?;
            self.dbs.vectors.delete(&mut wtxn, key)?;
            self.dbs.ids.delete(&mut wtxn, id)?;
        }
        wtxn.commit()?;
        Ok(old.len())
    }

    /// Keep `eval` as its pipeline's latest evaluation.
    ///
    /// # Errors
    /// `Lmdb` when the write fails.
    pub fn put_eval(&self, eval: &EvalRecord) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.dbs.evals.put(&mut wtxn, &eval.pipeline, eval)?;
        wtxn.commit()?;
        Ok(())
    }

    /// `pipeline`'s latest evaluation.
    ///
    /// # Errors
    /// `Lmdb` when the read fails.
    pub fn eval(&self, pipeline: &str) -> Result<Option<EvalRecord>, StoreError> {
        if !usable_key(pipeline) {
            return Ok(None);
        }
        let rtxn = self.env.read_txn()?;
        Ok(self.dbs.evals.get(&rtxn, pipeline)?)
    }

    /// Keep `baseline` as its pipeline's drift baseline.
    ///
    /// # Errors
    /// `Lmdb` when the write fails.
    pub fn put_baseline(&self, baseline: &Baseline) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.dbs.baselines.put(&mut wtxn, &baseline.pipeline, baseline)?;
        wtxn.commit()?;
        Ok(())
    }

    /// `pipeline`'s drift baseline, when one was taken.
    ///
    /// # Errors
    /// `Lmdb` when the read fails.
    pub fn baseline(&self, pipeline: &str) -> Result<Option<Baseline>, StoreError> {
        if !usable_key(pipeline) {
            return Ok(None);
        }
        let rtxn = self.env.read_txn()?;
        Ok(self.dbs.baselines.get(&rtxn, pipeline)?)
    }
}

impl Drop for QueryLog {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "queries not written to the query log");
        }
    }
}

fn flush_behind(log: &Weak<QueryLog>) {
    loop {
        std::thread::sleep(FLUSH_EVERY);
        let Some(log) = log.upgrade() else { return };
        if let Err(e) = log.flush() {
            tracing::warn!(error = %e, "queries not written to the query log");
        }
    }
}

/// Whether `key` can be an LMDB key (1 to 511 bytes); no record has another.
fn usable_key(key: &str) -> bool {
    (1..=511).contains(&key.len())
}

/// `[lo, hi)` over byte keys.
fn between<'a>(lo: &'a [u8], hi: &'a [u8]) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (Bound::Included(lo), Bound::Excluded(hi))
}

fn key(pipeline: &str, at_ms: u64, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(pipeline.len() + 9 + id.len());
    k.extend_from_slice(pipeline.as_bytes());
    k.push(0);
    k.extend_from_slice(&at_ms.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

fn encode_vector(embedder: &str, v: &[f32]) -> Vec<u8> {
    let id = &embedder.as_bytes()[..embedder.len().min(255)];
    let mut out = Vec::with_capacity(1 + id.len() + v.len() * 4);
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    out
}

fn decode_vector(bytes: &[u8]) -> Option<(&str, Vec<f32>)> {
    let (&len, rest) = bytes.split_first()?;
    let (id, floats) = rest.split_at_checked(usize::from(len))?;
    let id = std::str::from_utf8(id).ok()?;
    (floats.len() % 4 == 0).then(|| {
        let v = floats
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        (id, v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pipeline: &str, id: &str, at_ms: u64) -> QueryRecord {
        QueryRecord {
            id: id.to_owned(),
            at_ms,
            pipeline: pipeline.to_owned(),
            domains: vec!["hr".to_owned()],
            domain: "hr".to_owned(),
            top_domain: Some("hr".to_owned()),
            model: "lite".to_owned(),
            prompt_version: "hr/answer@v1#abc".to_owned(),
            input_tokens: 10,
            output_tokens: 5,
            embedding_tokens: 3,
            cost_usd: 0.001,
            latency_ms: 12.0,
            cache: "miss".to_owned(),
            guard: "none".to_owned(),
            best_similarity: Some(0.5),
            feedback: None,
            key_id: None,
            role: None,
        }
    }

    fn logged(r: QueryRecord, v: &[f32]) -> Logged {
        Logged {
            record: r,
            vector: Some(("local/x".to_owned(), v.to_vec())),
        }
    }

    #[test]
    fn records_survive_reopening_feedback_updates_and_prune_removes() {
        let dir = tempfile::tempdir().unwrap();
        let log = QueryLog::open(dir.path()).unwrap();
        log.record(logged(record("hr", "a", 1_000), &[1.0, 0.0]));
        log.record(logged(record("hr", "b", 2_000), &[0.0, 1.0]));
        log.record(logged(record("legal", "c", 1_500), &[0.5, 0.5]));
        drop(log);

        let log = QueryLog::open(dir.path()).unwrap();
        let all: Vec<String> = log
            .range(None, 0, u64::MAX)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(all, ["a", "c", "b"]);
        let hr: Vec<String> = log
            .range(Some("hr"), 1_500, 3_000)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(hr, ["b"]);

        let fb = Feedback {
            rating: Rating::Down,
            comment: Some("wrong year".into()),
            at_ms: 5_000,
        };
        assert_eq!(log.feedback("hr", "b", fb.clone()).unwrap().unwrap().id, "b");
        assert!(log.feedback("hr", "nope", fb.clone()).unwrap().is_none());
        assert!(
            log.feedback("legal", "b", fb.clone()).unwrap().is_none(),
            "another pipeline's answer"
        );
        assert_eq!(
            log.range(Some("hr"), 0, u64::MAX).unwrap()[1].feedback,
            Some(fb.clone())
        );

        let w = log.window("hr", "local/x", 0, u64::MAX, 10).unwrap();
        assert_eq!(
            w.iter().map(|q| q.vector.clone()).collect::<Vec<_>>(),
            [vec![0.0, 1.0], vec![1.0, 0.0]]
        );
        assert!(log.window("hr", "local/other", 0, u64::MAX, 10).unwrap().is_empty());

        assert_eq!(log.prune(1_600).unwrap(), 2);
        let left: Vec<String> = log
            .range(None, 0, u64::MAX)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(left, ["b"]);
        assert!(log.feedback("hr", "a", fb).unwrap().is_none());
    }

    #[test]
    fn queued_records_are_written_behind() {
        let dir = tempfile::tempdir().unwrap();
        let log = QueryLog::open(dir.path()).unwrap();
        log.record(logged(record("hr", "a", 1_000), &[1.0]));
        std::thread::sleep(FLUSH_EVERY * 3);
        assert_eq!(log.flush().unwrap(), 0, "the background thread wrote it");
        assert_eq!(log.range(None, 0, u64::MAX).unwrap().len(), 1);
    }
}
