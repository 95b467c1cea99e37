//! The Redis backend: one set of entries shared by every replica of a pipeline.
//!
//! Keys (the `{G}` hash tag keeps a pipeline's keys in one Redis Cluster slot):
//! - `ragline:cache:{G}:S`, a hash per slot (G: the group, S: the epoch and scope, in
//!   hex), field = question key, value = the entry as `entry::encode` wrote it;
//! - `ragline:cache:{G}:S:v`, the slot's version: a random number every write to it
//!   replaces (a counter would start again at 1 after a clear or an expiry, and meet a
//!   replica's copy of the slot's earlier life);
//! - `ragline:cache:{G}:ages`, a sorted set of the group's entries (member `S:Q`,
//!   score: creation time in ms), which `collect` trims by age and by count.
//!
//! Every key expires `ttl` after its last write, so the slots of an epoch no replica
//! writes to any more (after a reload or an ingest) go by themselves: `collect` never
//! deletes another epoch's slots, because during a rolling deploy another replica may
//! still be serving it.
//!
//! Redis 7 has no vector search without modules, so the semantic level compares the
//! vectors here. Each replica keeps a copy of the slots it scanned, with the version it
//! read them at; a scan reads the version (one `GET`) and reloads the slot (`HGETALL`,
//! in the same transaction as a fresh `GET`) only when another write moved it.
//! `docs/cache.md` gives the scale this holds.
//!
//! Connections are pooled and every command has a timeout. After a failure the backend
//! refuses at once for [`RETRY_AFTER_MS`], so a dead server costs each request nothing
//! rather than a timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::{Client, Connection, RedisError, cmd, pipe};

use super::config::{RedisSpec, RedisUrl, is_redis_url};
use super::entry::Stored;
use super::{Backend, CacheError};
use crate::store::{Collected, QuestionKey, Slot};

/// Idle connections kept per server.
const POOL: usize = 8;
/// Slots whose copy a backend keeps (any is dropped beyond this).
const MIRRORED_SLOTS: usize = 256;
/// How long a failed server is not tried again.
const RETRY_AFTER_MS: u64 = 1000;

/// The Redis servers pipelines use, connected on first use and kept across reloads.
#[derive(Default)]
pub struct RedisBackends {
    open: Mutex<HashMap<RedisSpec, Arc<RedisBackend>>>,
}

impl RedisBackends {
    /// The backend for `spec` (no connection is made yet).
    ///
    /// # Errors
    /// [`CacheError::Unavailable`] when the URL's variable is unset or the URL is invalid.
    pub fn get(&self, spec: &RedisSpec) -> Result<Arc<RedisBackend>, CacheError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(backend) = open.get(spec) {
            return Ok(backend.clone());
        }
        let url = match &spec.url {
            RedisUrl::Literal(url) => url.clone(),
            RedisUrl::Env(var) => {
                let url = std::env::var(var)
                    .map_err(|_| CacheError::Unavailable(format!("the cache's URL variable {var} is not set")))?;
                if !is_redis_url(&url) {
                    let msg = format!("the cache's URL variable {var} holds no redis:// URL");
                    return Err(CacheError::Unavailable(msg));
                }
                url
            }
        };
        let backend = Arc::new(RedisBackend::new(
            &url,
            Duration::from_millis(u64::from(spec.timeout_ms)),
        )?);
        open.insert(spec.clone(), backend.clone());
        Ok(backend)
    }
}

/// One Redis server.
pub struct RedisBackend {
    client: Client,
    /// The URL without its password, for messages.
    shown: String,
    timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    /// Unix ms before which the server is not tried (after a failure).
    down_until: AtomicU64,
    /// The slots scanned: their version and entries, as last read.
    mirror: Mutex<HashMap<Slot, Arc<Mirrored>>>,
}

/// A hash field and its value, as `HGETALL` gives them.
type Field = (Vec<u8>, Vec<u8>);

/// A slot as read at `version`.
struct Mirrored {
    version: u64,
    entries: Vec<Vec<u8>>,
}

impl RedisBackend {
    /// A backend for `url`; nothing is connected until the first command.
    ///
    /// # Errors
    /// [`CacheError::Unavailable`] when `url` is not a Redis URL.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, CacheError> {
        let shown = redact(url);
        let client = Client::open(url).map_err(|e| CacheError::Unavailable(format!("{shown}: {e}")))?;
        Ok(RedisBackend {
            client,
            shown,
            timeout,
            idle: Mutex::default(),
            down_until: AtomicU64::new(0),
            mirror: Mutex::default(),
        })
    }

    /// Run `f` on a pooled connection.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, RedisError>) -> Result<T, CacheError> {
        let now = unix_ms();
        let until = self.down_until.load(Ordering::Relaxed);
        if now < until {
            return Err(CacheError::Unavailable(format!(
                "{}: failed recently, next try in {} ms",
                self.shown,
                until - now
            )));
        }
        let pooled = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let result = match pooled {
            Some(mut conn) => f(&mut conn).map(|v| (v, conn)),
            None => self.connect().and_then(|mut conn| f(&mut conn).map(|v| (v, conn))),
        };
        match result {
            Ok((value, conn)) => {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                if idle.len() < POOL {
                    idle.push(conn);
                }
                Ok(value)
            }
            Err(e) => {
                // The connection is dropped; a server that cannot be reached is rested.
                if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
                    self.down_until.store(now + RETRY_AFTER_MS, Ordering::Relaxed);
                    self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
                }
                Err(CacheError::Unavailable(format!("{}: {e}", self.shown)))
            }
        }
    }

    fn connect(&self) -> Result<Connection, RedisError> {
        let conn = self.client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        Ok(conn)
    }
}

fn slot_key(slot: &Slot) -> String {
    format!(
        "ragline:cache:{{{}}}:{}",
        hex::encode(&slot[..8]),
        hex::encode(&slot[8..])
    )
}

fn version_key(slot: &Slot) -> String {
    format!("{}:v", slot_key(slot))
}

fn ages_key(group: &[u8; 8]) -> String {
    format!("ragline:cache:{{{}}}:ages", hex::encode(group))
}

/// The member of `ages` for an entry.
fn member(slot: &Slot, question: &QuestionKey) -> String {
    format!("{}:{}", hex::encode(&slot[8..]), hex::encode(question))
}

/// Remove the entries `members` name from their slots.
fn remove(conn: &mut Connection, group: &[u8; 8], members: &[String]) -> Result<(), RedisError> {
    if members.is_empty() {
        return Ok(());
    }
    let mut p = pipe();
    for m in members {
        let Some((slot, question)) = m.split_once(':') else {
            continue;
        };
        let Ok(question) = hex::decode(question) else { continue };
        let key = format!("ragline:cache:{{{}}}:{slot}", hex::encode(group));
        p.cmd("HDEL").arg(&key).arg(question).ignore();
        // XX: a slot that expired gets no version back (it would never expire).
        p.cmd("SET")
            .arg(format!("{key}:v"))
            .arg(rand::random::<u64>())
            .arg("XX")
            .arg("KEEPTTL")
            .ignore();
    }
    p.query::<()>(conn)
}

impl Backend for RedisBackend {
    fn get(&self, slot: &Slot, question: &QuestionKey) -> Result<Option<Vec<u8>>, CacheError> {
        self.with(|c| cmd("HGET").arg(slot_key(slot)).arg(&question[..]).query(c))
    }

    fn scan(&self, slot: &Slot, visit: &mut dyn FnMut(&[u8])) -> Result<(), CacheError> {
        let version: Option<u64> = self.with(|c| cmd("GET").arg(version_key(slot)).query(c))?;
        let kept = self
            .mirror
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(slot)
            .cloned();
        let mirrored = match kept {
            Some(m) if Some(m.version) == version => m,
            _ => self.reload(slot)?,
        };
        for value in &mirrored.entries {
            visit(value);
        }
        Ok(())
    }

    fn put(&self, slot: &Slot, question: &QuestionKey, value: &[u8], ttl_ms: u64) -> Result<(), CacheError> {
        let created = Stored::decode(value).map_or_else(unix_ms, |s| s.created_ms);
        let (key, ages) = (slot_key(slot), ages_key(&group_of(slot)));
        self.with(|c| {
            pipe()
                .atomic()
                .cmd("HSET")
                .arg(&key)
                .arg(&question[..])
                .arg(value)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(ttl_ms)
                .ignore()
                .cmd("SET")
                .arg(version_key(slot))
                .arg(rand::random::<u64>())
                .arg("PX")
                .arg(ttl_ms)
                .ignore()
                .cmd("ZADD")
                .arg(&ages)
                .arg(created)
                .arg(member(slot, question))
                .ignore()
                .cmd("PEXPIRE")
                .arg(&ages)
                .arg(ttl_ms)
                .ignore()
                .query::<()>(c)
        })
    }

    /// Entries past their TTL and the oldest beyond `max_entries` go. Other epochs'
    /// slots are left to expire (see the module comment), so `stale` counts only the
    /// expired.
    fn collect(
        &self,
        group: &[u8; 8],
        _live: &[u8; 8],
        expired_before_ms: u64,
        max_entries: usize,
    ) -> Result<Collected, CacheError> {
        let ages = ages_key(group);
        self.with(|c| {
            let cutoff = format!("({expired_before_ms}");
            let expired: Vec<String> = cmd("ZRANGEBYSCORE").arg(&ages).arg("-inf").arg(&cutoff).query(c)?;
            remove(c, group, &expired)?;
            if !expired.is_empty() {
                cmd("ZREMRANGEBYSCORE")
                    .arg(&ages)
                    .arg("-inf")
                    .arg(&cutoff)
                    .query::<()>(c)?;
            }
            let count: usize = cmd("ZCARD").arg(&ages).query(c)?;
            let excess = count.saturating_sub(max_entries);
            let mut evicted = 0;
            if excess > 0 {
                let popped: Vec<(String, f64)> = cmd("ZPOPMIN").arg(&ages).arg(excess).query(c)?;
                let members: Vec<String> = popped.into_iter().map(|(m, _)| m).collect();
                remove(c, group, &members)?;
                evicted = members.len();
            }
            Ok(Collected {
                stale: expired.len() as u64,
                evicted: evicted as u64,
                kept: (count - evicted) as u64,
            })
        })
    }

    /// Every key of the group, found with `SCAN` (an operator's action, not a request's).
    fn clear(&self, group: &[u8; 8]) -> Result<u64, CacheError> {
        let pattern = format!("ragline:cache:{{{}}}:*", hex::encode(group));
        self.with(|c| {
            let entries: u64 = cmd("ZCARD").arg(ages_key(group)).query(c)?;
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query(c)?;
                if !keys.is_empty() {
                    cmd("UNLINK").arg(&keys).query::<()>(c)?;
                }
                if next == 0 {
                    return Ok(entries);
                }
                cursor = next;
            }
        })
    }
}

impl RedisBackend {
    /// Read `slot` and its version in one transaction, and keep the copy.
    fn reload(&self, slot: &Slot) -> Result<Arc<Mirrored>, CacheError> {
        let (version, entries): (Option<u64>, Vec<Field>) = self.with(|c| {
            pipe()
                .atomic()
                .cmd("GET")
                .arg(version_key(slot))
                .cmd("HGETALL")
                .arg(slot_key(slot))
                .query(c)
        })?;
        let mirrored = Arc::new(Mirrored {
            // An absent version (an empty slot) is never equal to a kept one, so such a
            // slot is read again each time (which costs one round trip and nothing else).
            version: version.unwrap_or(0),
            entries: entries.into_iter().map(|(_, v)| v).collect(),
        });
        let mut mirror = self.mirror.lock().unwrap_or_else(PoisonError::into_inner);
        if mirror.len() >= MIRRORED_SLOTS && !mirror.contains_key(slot) {
            mirror.clear();
        }
        mirror.insert(*slot, mirrored.clone());
        Ok(mirrored)
    }
}

fn group_of(slot: &Slot) -> [u8; 8] {
    let mut g = [0; 8];
    g.copy_from_slice(&slot[..8]);
    g
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `url` with any password replaced by `***`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}***{}", &url[..scheme + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("redis://:hunter2@cache:6379/0"), "redis://***@cache:6379/0");
        assert_eq!(redact("redis://user:pw@h:1"), "redis://***@h:1");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[test]
    fn keys_of_a_group_share_a_hash_tag() {
        let mut slot = [7u8; 32];
        slot[..8].copy_from_slice(&[1; 8]);
        assert_eq!(
            slot_key(&slot),
            format!("ragline:cache:{{0101010101010101}}:{}", "07".repeat(24))
        );
        assert_eq!(ages_key(&[1; 8]), "ragline:cache:{0101010101010101}:ages");
        assert_eq!(
            member(&slot, &[2; 16]),
            format!("{}:{}", "07".repeat(24), "02".repeat(16))
        );
    }

    #[test]
    fn an_unset_url_variable_is_named() {
        let spec = RedisSpec {
            url: RedisUrl::Env("RAGLINE_TEST_UNSET_REDIS_URL".into()),
            timeout_ms: 100,
        };
        let err = RedisBackends::default().get(&spec).err().unwrap().to_string();
        assert!(err.contains("RAGLINE_TEST_UNSET_REDIS_URL is not set"), "{err}");
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        // Accepts connections and never replies, like a hung or blackholed server.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let held = std::thread::spawn(move || listener.accept().map(|(conn, _)| conn));
        let backend = RedisBackend::new(&url, Duration::from_millis(150)).unwrap();
        let started = std::time::Instant::now();
        let err = backend.get(&[0; 32], &[0; 16]).unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert!(err.contains(&url), "{err}");
        let again = backend.scan(&[0; 32], &mut |_| {}).unwrap_err().to_string();
        assert!(again.contains("failed recently"), "{again}");
        drop(held);
    }

    #[test]
    fn a_dead_server_is_unavailable_then_rested() {
        // Port 1 on loopback refuses at once.
        let backend = RedisBackend::new("redis://127.0.0.1:1", Duration::from_millis(200)).unwrap();
        let first = backend.get(&[0; 32], &[0; 16]).unwrap_err().to_string();
        assert!(first.contains("redis://127.0.0.1:1"), "{first}");
        let second = backend.get(&[0; 32], &[0; 16]).unwrap_err().to_string();
        assert!(second.contains("failed recently"), "{second}");
    }
}
