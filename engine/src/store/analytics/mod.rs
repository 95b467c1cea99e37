//! The query log analytics, budgets and the drift read: one LMDB environment under the
//! data dir, beside the indexes. Queries are written behind (batched every half
//! second, so a request never waits on a commit) and survive restarts.
//!
//! The log is bounded ([`Limits`]): past `max_queries` the oldest queries are dropped
//! at each write, and only a sample of queries keeps its embedding (what drift reads),
//! so its size, and the pages it maps, stop growing. Each key's spend is summed per UTC
//! day apart from the queries ([`Usage`]), so budgets stay exact after a drop. Records
//! older than the retention are pruned hourly. The layout is in [`codec`].

mod codec;
mod migrate;
mod record;

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use heed::types::{Bytes, DecodeIgnore, SerdeJson, Str};
use heed::{CommitOrAbort, CommitToken, Database, Env, OnCommit, RwTxn, WithoutTls};

use self::codec::{decode_usage, decode_usage_key, decode_vector, encode_usage, encode_vector, query_key, usage_key};
pub use self::record::{Baseline, EvalRecord, Feedback, Limits, QueryRecord, Rating, Usage, VECTOR_BURST, WindowQuery};
use super::StoreError;

const MAP_SIZE_BYTES: usize = 16 << 30;
/// How often queued records are written.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
const DAY_MS: u64 = 86_400_000;
/// Days of usage kept beyond the retention, so this month's budgets are whole.
const USAGE_EXTRA_DAYS: u64 = 62;

/// A query to log, with its embedding (for drift) when one was made.
#[derive(Debug, Clone)]
pub struct Logged {
    pub record: QueryRecord,
    /// The embedder's id and the query's vector.
    pub vector: Option<(String, Vec<f32>)>,
}

/// The databases, while the transaction that opens them runs (`'e`) and after it.
struct Dbs<'e> {
    /// Query key → record.
    queries: Database<'e, Bytes, SerdeJson<QueryRecord>>,
    /// Answer id → query key.
    ids: Database<'e, Str, Bytes>,
    /// Query key → its pipeline, embedder and vector, for the sampled queries.
    vectors: Database<'e, Bytes, Bytes>,
    /// Usage key → cost and tokens of a key on a day.
    usage: Database<'e, Bytes, Bytes>,
    evals: Database<'e, Str, SerdeJson<EvalRecord>>,
    baselines: Database<'e, Str, SerdeJson<Baseline>>,
}

impl<'e> OnCommit for Dbs<'e> {
    type Committed = Dbs<'static>;

    fn on_commit(self, token: &CommitToken) -> Dbs<'static> {
        Dbs {
            queries: self.queries.on_commit(token),
            ids: self.ids.on_commit(token),
            vectors: self.vectors.on_commit(token),
            usage: self.usage.on_commit(token),
            evals: self.evals.on_commit(token),
            baselines: self.baselines.on_commit(token),
        }
    }
}

impl Dbs<'_> {
    /// Add `usd` and `tokens` to the usage at `key`.
    fn add_usage(&self, wtxn: &mut RwTxn, key: &[u8], usd: f64, tokens: u64) -> heed::Result<()> {
        let (old_usd, old_tokens) = self.usage.get(wtxn, key)?.and_then(decode_usage).unwrap_or_default();
        self.usage
            .put(wtxn, key, &encode_usage(old_usd + usd, old_tokens + tokens))
    }
}

/// Queued queries, and per pipeline the embeddings it may still keep (a token bucket).
#[derive(Default)]
struct Pending {
    queue: Vec<Logged>,
    /// Pipeline → (tokens, as of this time in ms).
    vector_tokens: HashMap<String, (f64, u64)>,
}

/// The query log.
pub struct QueryLog {
    env: Env<WithoutTls>,
    dbs: Dbs<'static>,
    limits: Limits,
    pending: Mutex<Pending>,
}

impl std::fmt::Debug for QueryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryLog")
    }
}

impl QueryLog {
    /// Open (creating) the log in `dir`, keeping what `limits` allow, and start writing
    /// queued records behind. A log of the earlier layout is converted.
    ///
    /// # Errors
    /// `Io` when the directory cannot be created, `Lmdb` when LMDB refuses to open it.
    pub fn open(dir: &Path, limits: Limits) -> Result<Arc<QueryLog>, StoreError> {
        let env = super::lmdb::open_env(dir, MAP_SIZE_BYTES, 6 + migrate::OLD_DATABASES)?;
        let wtxn = env.write_txn()?;
        let created = env.create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, heed::Error> {
            let dbs = Dbs {
                queries: opener.create_database(wtxn, Some("queries"))?,
                ids: opener.create_database(wtxn, Some("query_ids"))?,
                vectors: opener.create_database(wtxn, Some("query_vectors"))?,
                usage: opener.create_database(wtxn, Some("usage"))?,
                evals: opener.create_database(wtxn, Some("evals"))?,
                baselines: opener.create_database(wtxn, Some("baselines"))?,
            };
            migrate::convert(opener, wtxn, &dbs)?;
            Ok(CommitOrAbort::<_, ()>::Commit(dbs))
        })?;
        let CommitOrAbort::Commit(dbs) = created else {
            return Err(StoreError::Corrupt("creating the query log was aborted".to_owned()));
        };
        let log = Arc::new(QueryLog {
            env,
            dbs,
            limits,
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

    /// Queue a query; it is written within [`FLUSH_EVERY`]. Its embedding is kept only
    /// while its pipeline is within `vectors_per_minute`.
    pub fn record(&self, mut logged: Logged) {
        let Ok(mut pending) = self.pending.lock() else { return };
        if logged.vector.is_some() {
            let per_ms = f64::from(self.limits.vectors_per_minute) / 60_000.0;
            let burst = f64::from(VECTOR_BURST);
            let at = logged.record.at_ms;
            let (tokens, since) = pending
                .vector_tokens
                .entry(logged.record.pipeline.clone())
                .or_insert((burst, at));
            *tokens = (*tokens + at.saturating_sub(*since) as f64 * per_ms).min(burst);
            *since = (*since).max(at);
            if *tokens >= 1.0 {
                *tokens -= 1.0;
            } else {
                logged.vector = None;
            }
        }
        pending.queue.push(logged);
    }

    /// Write every queued query now, then drop the oldest past `max_queries`.
    ///
    /// # Errors
    /// `Lmdb` when the write fails; the batch is dropped (and logged by the caller).
    pub fn flush(&self) -> Result<usize, StoreError> {
        let batch = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut pending.queue),
            Err(_) => return Err(StoreError::Corrupt("query log queue lock poisoned".into())),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let mut wtxn = self.env.write_txn()?;
        let mut spent: HashMap<(u32, &str, &str), (f64, u64)> = HashMap::new();
        for Logged { record, vector } in &batch {
            let key = query_key(record.at_ms, &record.id);
            self.dbs.queries.put(&mut wtxn, &key, record)?;
            self.dbs.ids.put(&mut wtxn, &record.id, &key)?;
            if let Some((embedder, v)) = vector {
                let value = encode_vector(&record.pipeline, embedder, v);
                self.dbs.vectors.put(&mut wtxn, &key, &value)?;
            }
            if let (Some(key_id), Some(role)) = (&record.key_id, &record.role) {
                let day = u32::try_from(record.at_ms / DAY_MS).unwrap_or(u32::MAX);
                let s = spent.entry((day, key_id, role)).or_default();
                s.0 += record.cost_usd;
                s.1 += record.input_tokens + record.output_tokens + record.embedding_tokens;
            }
        }
        for ((day, key_id, role), (usd, tokens)) in spent {
            self.dbs
                .add_usage(&mut wtxn, &usage_key(day, key_id, role), usd, tokens)?;
        }
        let over = self.dbs.queries.len(&wtxn)?.saturating_sub(self.limits.max_queries);
        if over > 0 {
            let oldest = self
                .dbs
                .queries
                .iter(&wtxn)?
                .take(usize::try_from(over).unwrap_or(usize::MAX));
            let oldest: Vec<(Vec<u8>, String)> = oldest
                .map(|item| item.map(|(k, r)| (k.to_vec(), r.id)))
                .collect::<Result<_, _>>()?;
            self.delete(&mut wtxn, &oldest)?;
        }
        wtxn.commit()?;
        Ok(batch.len())
    }

    /// Delete the queries of `keys` (query key, answer id).
    fn delete(&self, wtxn: &mut RwTxn, keys: &[(Vec<u8>, String)]) -> Result<(), StoreError> {
        for (key, id) in keys {
            self.dbs.queries.delete(wtxn, key)?;
            self.dbs.vectors.delete(wtxn, key)?;
            self.dbs.ids.delete(wtxn, id)?;
        }
        Ok(())
    }

    /// How many queries the log holds.
    ///
    /// # Errors
    /// `Lmdb` when the read fails.
    pub fn count(&self) -> Result<u64, StoreError> {
        self.flush()?;
        let rtxn = self.env.read_txn()?;
        Ok(self.dbs.queries.len(&rtxn)?)
    }

    /// Attach `feedback` to `pipeline`'s answer `id` (replacing earlier feedback);
    /// `None` when that pipeline gave no answer with that id (or it was dropped).
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
        let Some(mut record) = self.dbs.queries.get(&wtxn, &key)?.filter(|r| r.pipeline == pipeline) else {
            return Ok(None);
        };
        record.feedback = Some(feedback);
        self.dbs.queries.put(&mut wtxn, &key, &record)?;
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
        let (lo, hi) = (query_key(since_ms, ""), query_key(until_ms, ""));
        let mut out = Vec::new();
        for item in self.dbs.queries.range(&rtxn, &between(&lo, &hi))? {
            let (_, r) = item?;
            if pipeline.is_none_or(|p| p == r.pipeline) {
                out.push(r);
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
        let (lo, hi) = (query_key(since_ms, ""), query_key(until_ms, ""));
        let mut out = Vec::new();
        for item in self.dbs.vectors.rev_range(&rtxn, &between(&lo, &hi))? {
            if out.len() >= limit {
                break;
            }
            let (key, bytes) = item?;
            let Some(v) = decode_vector(bytes).filter(|v| v.pipeline == pipeline && v.embedder == embedder) else {
                continue;
            };
            let Some(record) = self.dbs.queries.get(&rtxn, key)? else {
                continue;
            };
            out.push(WindowQuery {
                vector: v.floats(),
                top_domain: record.top_domain,
                best_similarity: record.best_similarity,
            });
        }
        Ok(out)
    }

    /// What each key and role spent per UTC day, from the day of `since_ms` on.
    ///
    /// # Errors
    /// `Lmdb` when the read fails.
    pub fn usage(&self, since_ms: u64) -> Result<Vec<Usage>, StoreError> {
        self.flush()?;
        let rtxn = self.env.read_txn()?;
        let day = u32::try_from(since_ms / DAY_MS).unwrap_or(u32::MAX);
        let lo = day.to_be_bytes();
        let mut out = Vec::new();
        for item in self
            .dbs
            .usage
            .range(&rtxn, &(Bound::Included(&lo[..]), Bound::Unbounded))?
        {
            let (key, value) = item?;
            let (Some((day, key_id, role)), Some((cost_usd, tokens))) = (decode_usage_key(key), decode_usage(value))
            else {
                return Err(StoreError::Corrupt(
                    "a usage entry of the query log is malformed".to_owned(),
                ));
            };
            out.push(Usage {
                day,
                key_id: key_id.to_owned(),
                role: role.to_owned(),
                cost_usd,
                tokens,
            });
        }
        Ok(out)
    }

    /// Delete every query answered before `before_ms`, and the usage of days more
    /// than [`USAGE_EXTRA_DAYS`] before it; returns how many queries.
    ///
    /// # Errors
    /// `Lmdb` when the write fails.
    pub fn prune(&self, before_ms: u64) -> Result<usize, StoreError> {
        self.flush()?;
        let mut wtxn = self.env.write_txn()?;
        let hi = query_key(before_ms, "");
        let old: Vec<(Vec<u8>, String)> = self
            .dbs
            .queries
            .range(&wtxn, &(Bound::Unbounded, Bound::Excluded(&hi[..])))?
            .map(|item| item.map(|(k, r)| (k.to_vec(), r.id)))
            .collect::<Result<_, _>>()?;
        self.delete(&mut wtxn, &old)?;
        let day = u32::try_from((before_ms / DAY_MS).saturating_sub(USAGE_EXTRA_DAYS)).unwrap_or(u32::MAX);
        let hi = day.to_be_bytes();
        self.dbs
            .usage
            .remap_data_type::<DecodeIgnore>()
            .delete_range(&mut wtxn, &(Bound::Unbounded, Bound::Excluded(&hi[..])))?;
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
        let log = QueryLog::open(dir.path(), Limits::default()).unwrap();
        log.record(logged(record("hr", "a", 1_000), &[1.0, 0.0]));
        log.record(logged(record("hr", "b", 2_000), &[0.0, 1.0]));
        log.record(logged(record("legal", "c", 1_500), &[0.5, 0.5]));
        drop(log);

        let log = QueryLog::open(dir.path(), Limits::default()).unwrap();
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
        let log = QueryLog::open(dir.path(), Limits::default()).unwrap();
        log.record(logged(record("hr", "a", 1_000), &[1.0]));
        std::thread::sleep(FLUSH_EVERY * 3);
        assert_eq!(log.flush().unwrap(), 0, "the background thread wrote it");
        assert_eq!(log.range(None, 0, u64::MAX).unwrap().len(), 1);
    }

    fn ids(records: Vec<QueryRecord>) -> Vec<String> {
        records.into_iter().map(|r| r.id).collect()
    }

    #[test]
    fn past_max_queries_the_oldest_are_dropped_and_usage_stays() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            max_queries: 3,
            ..Limits::default()
        };
        let log = QueryLog::open(dir.path(), limits).unwrap();
        for (i, id) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            let mut r = record("hr", id, 1_000 + i as u64);
            r.key_id = Some("k1".into());
            r.role = Some("hr-reader".into());
            log.record(logged(r, &[1.0]));
        }
        assert_eq!(log.count().unwrap(), 3);
        assert_eq!(ids(log.range(None, 0, u64::MAX).unwrap()), ["c", "d", "e"]);
        assert_eq!(log.window("hr", "local/x", 0, u64::MAX, 10).unwrap().len(), 3);
        let fb = Feedback {
            rating: Rating::Up,
            comment: None,
            at_ms: 9_000,
        };
        assert!(log.feedback("hr", "a", fb).unwrap().is_none(), "dropped");
        let usage = log.usage(0).unwrap();
        assert_eq!(usage.len(), 1);
        assert_eq!((usage[0].key_id.as_str(), usage[0].role.as_str()), ("k1", "hr-reader"));
        assert!((usage[0].cost_usd - 0.005).abs() < 1e-12, "all five queries: {usage:?}");
        assert_eq!(usage[0].tokens, 5 * 18);

        // Usage outlives the queries' retention by USAGE_EXTRA_DAYS.
        let later = (USAGE_EXTRA_DAYS + 1) * DAY_MS;
        log.prune(later - DAY_MS).unwrap();
        assert_eq!(log.count().unwrap(), 0);
        assert_eq!(log.usage(0).unwrap().len(), 1);
        log.prune(later + DAY_MS).unwrap();
        assert!(log.usage(0).unwrap().is_empty());
    }

    #[test]
    fn a_sample_of_queries_keeps_its_embedding() {
        let dir = tempfile::tempdir().unwrap();
        let log = QueryLog::open(dir.path(), Limits::default()).unwrap();
        let burst = VECTOR_BURST as usize;
        for i in 0..burst + 5 {
            log.record(logged(record("hr", &format!("q{i}"), 10_000), &[1.0]));
        }
        // Another pipeline has its own allowance.
        log.record(logged(record("legal", "l", 10_000), &[1.0]));
        // 60 a minute: one more a second later.
        log.record(logged(record("hr", "late", 11_000), &[1.0]));
        log.record(logged(record("hr", "later", 11_001), &[1.0]));
        assert_eq!(log.count().unwrap(), burst as u64 + 8, "every query is kept");
        assert_eq!(
            log.window("hr", "local/x", 0, u64::MAX, usize::MAX).unwrap().len(),
            burst + 1
        );
        assert_eq!(
            log.window("legal", "local/x", 0, u64::MAX, usize::MAX).unwrap().len(),
            1
        );
    }

    #[test]
    fn a_log_of_the_first_layout_is_converted() {
        let dir = tempfile::tempdir().unwrap();
        {
            let env = crate::store::lmdb::open_env(dir.path(), 1 << 24, 5).unwrap();
            type Old = (
                Database<'static, Bytes, SerdeJson<QueryRecord>>,
                Database<'static, Str, Bytes>,
                Database<'static, Bytes, Bytes>,
            );
            let created = env.create_databases_and_commit(env.write_txn().unwrap(), |opener, wtxn| {
                Ok::<_, heed::Error>(CommitOrAbort::<_, ()>::Commit((
                    opener.create_database(wtxn, Some("records"))?,
                    opener.create_database(wtxn, Some("ids"))?,
                    opener.create_database(wtxn, Some("vectors"))?,
                )))
            });
            let CommitOrAbort::Commit((records, old_ids, vectors)): CommitOrAbort<Old, ()> = created.unwrap() else {
                unreachable!()
            };
            let mut wtxn = env.write_txn().unwrap();
            for (pipeline, id, at) in [("legal", "x", 2_000), ("hr", "y", 1_000)] {
                let mut r = record(pipeline, id, at);
                r.key_id = Some("k".into());
                r.role = Some("admin".into());
                let key = [pipeline.as_bytes(), &[0], &at.to_be_bytes(), id.as_bytes()].concat();
                records.put(&mut wtxn, &key, &r).unwrap();
                old_ids.put(&mut wtxn, id, &key).unwrap();
                let v = [&[7u8][..], b"local/x", &2.5f32.to_le_bytes()].concat();
                vectors.put(&mut wtxn, &key, &v).unwrap();
            }
            wtxn.commit().unwrap();
        }
        let log = QueryLog::open(dir.path(), Limits::default()).unwrap();
        assert_eq!(ids(log.range(None, 0, u64::MAX).unwrap()), ["y", "x"]);
        let w = log.window("legal", "local/x", 0, u64::MAX, 10).unwrap();
        assert_eq!(w.iter().map(|q| q.vector.clone()).collect::<Vec<_>>(), [vec![2.5]]);
        assert_eq!(log.usage(0).unwrap()[0].tokens, 36);
        let fb = Feedback {
            rating: Rating::Down,
            comment: None,
            at_ms: 3_000,
        };
        assert!(log.feedback("hr", "y", fb).unwrap().is_some());
        drop(log);
        let log = QueryLog::open(dir.path(), Limits::default()).unwrap();
        assert_eq!(log.count().unwrap(), 2, "converted once");
    }
}
