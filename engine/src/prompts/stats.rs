//! What each prompt version served: requests, tokens, cost and latency, per pipeline.
//!
//! The server keeps the counts in memory (they outlive reloads) and writes them to
//! `<data-dir>/prompt-stats.json` every few seconds and on shutdown, replacing the
//! file atomically (write a temporary file, then rename). It reads the file back at
//! start, so counts add up across restarts. `ragline prompts report` reads the file.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::PromptVersion;

/// File name of the stats file in the data dir.
pub const STATS_FILE: &str = "prompt-stats.json";

/// Latency buckets grow by this factor, so a percentile is off by at most 10%.
const BUCKET_GROWTH: f64 = 1.1;

/// Counts for one prompt version (one content hash) in one pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionStats {
    pub prompt: PromptVersion,
    /// Answers served.
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub embedding_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms_sum: f64,
    pub latency_ms_max: f64,
    /// Latency histogram: bucket `i` counts latencies in `[1.1^(i-1), 1.1^i)` ms.
    pub latency_buckets: BTreeMap<u32, u64>,
    /// Unix seconds of the first and the latest answer.
    pub first_at: u64,
    pub last_at: u64,
}

impl VersionStats {
    /// Mean latency in ms.
    pub fn mean_latency_ms(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.latency_ms_sum / self.requests as f64
        }
    }

    /// Latency at quantile `q` (0..=1), in ms: the upper bound of its histogram bucket.
    pub fn latency_quantile_ms(&self, q: f64) -> f64 {
        let total: u64 = self.latency_buckets.values().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (&bucket, &count) in &self.latency_buckets {
            seen += count;
            if seen >= rank {
                return BUCKET_GROWTH.powi(bucket as i32).min(self.latency_ms_max);
            }
        }
        self.latency_ms_max
    }

    fn add(&mut self, answer: &Served, now: u64) {
        if self.requests == 0 {
            self.first_at = now;
        }
        self.requests += 1;
        self.input_tokens += answer.input_tokens;
        self.output_tokens += answer.output_tokens;
        self.embedding_tokens += answer.embedding_tokens;
        self.cost_usd += answer.cost_usd;
        self.latency_ms_sum += answer.latency_ms;
        self.latency_ms_max = self.latency_ms_max.max(answer.latency_ms);
        *self.latency_buckets.entry(bucket_of(answer.latency_ms)).or_default() += 1;
        self.last_at = now;
    }
}

fn bucket_of(ms: f64) -> u32 {
    if ms <= 1.0 {
        0
    } else {
        (ms.ln() / BUCKET_GROWTH.ln()).ceil() as u32
    }
}

/// One served answer, as the stats count it.
#[derive(Debug, Clone, Default)]
pub struct Served {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub embedding_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: f64,
}

/// The stats file: pipeline → prompt version id (`hr/answer@v2#hash`) → counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatsFile {
    pub pipelines: BTreeMap<String, BTreeMap<String, VersionStats>>,
}

/// Why the stats file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a prompt stats file: {source}")]
    Format { path: PathBuf, source: serde_json::Error },
}

/// Per-version counts of a running server.
#[derive(Debug, Default)]
pub struct PromptStats {
    data: Mutex<StatsFile>,
    dirty: AtomicBool,
    /// Held for a whole save, so an older save cannot rename its file over a newer one
    /// (the periodic flush and the one at shutdown can overlap).
    saving: Mutex<()>,
}

impl PromptStats {
    /// Count one answer of `pipeline` by `prompt`.
    pub fn record(&self, pipeline: &str, prompt: &PromptVersion, answer: &Served) {
        let now = unix_now();
        if let Ok(mut data) = self.data.lock() {
            data.pipelines
                .entry(pipeline.to_owned())
                .or_default()
                .entry(prompt.to_string())
                .or_insert_with(|| VersionStats {
                    prompt: prompt.clone(),
                    ..VersionStats::default()
                })
                .add(answer, now);
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// The counts of `pipeline`, one entry per version and hash.
    pub fn of(&self, pipeline: &str) -> Vec<VersionStats> {
        self.data
            .lock()
            .map(|d| {
                d.pipelines
                    .get(pipeline)
                    .map(|m| m.values().cloned().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Add the counts saved in `path` (a missing file adds nothing).
    ///
    /// # Errors
    /// [`StatsError`] when the file exists but cannot be read or parsed.
    pub fn restore(&self, path: &Path) -> Result<(), StatsError> {
        let saved = read(path)?;
        if let Ok(mut data) = self.data.lock() {
            for (pipeline, versions) in saved.pipelines {
                let mine = data.pipelines.entry(pipeline).or_default();
                for (id, v) in versions {
                    mine.entry(id).or_insert(v);
                }
            }
        }
        Ok(())
    }

    /// Write the counts to `path` if anything changed since the last save: a
    /// temporary file beside it, then a rename, so readers never see half a file.
    ///
    /// # Errors
    /// [`StatsError::Io`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<bool, StatsError> {
        let _saving = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        let json = match self.data.lock() {
            Ok(d) => serde_json::to_vec_pretty(&*d).map_err(|source| StatsError::Format {
                path: path.to_path_buf(),
                source,
            })?,
            Err(_) => return Ok(false),
        };
        let result = write_atomic(path, &json);
        if result.is_err() {
            self.dirty.store(true, Ordering::Release);
        }
        result.map(|()| true)
    }
}

/// Read a stats file; a missing file is empty.
///
/// # Errors
/// [`StatsError`] when it cannot be read or parsed.
pub fn read(path: &Path) -> Result<StatsFile, StatsError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StatsFile::default()),
        Err(source) => {
            return Err(StatsError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes).map_err(|source| StatsError::Format {
        path: path.to_path_buf(),
        source,
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StatsError> {
    let io = |source| StatsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(v: &str) -> PromptVersion {
        PromptVersion {
            name: "hr/answer".into(),
            version: Some(v.into()),
            hash: "abcdefabcdef".into(),
        }
    }

    fn answer(ms: f64) -> Served {
        Served {
            input_tokens: 10,
            output_tokens: 5,
            embedding_tokens: 3,
            cost_usd: 0.001,
            latency_ms: ms,
        }
    }

    #[test]
    fn counts_per_version_and_percentiles() {
        let s = PromptStats::default();
        for i in 1..=100 {
            s.record("hr", &version("v1"), &answer(f64::from(i)));
        }
        s.record("hr", &version("v2"), &answer(5.0));
        s.record("legal", &version("v1"), &answer(5.0));
        let hr = s.of("hr");
        assert_eq!(hr.len(), 2);
        let v1 = hr.iter().find(|v| v.prompt.version.as_deref() == Some("v1")).unwrap();
        assert_eq!(v1.requests, 100);
        assert_eq!(v1.input_tokens, 1000);
        assert!((v1.cost_usd - 0.1).abs() < 1e-9);
        assert!((v1.mean_latency_ms() - 50.5).abs() < 1e-9);
        let p95 = v1.latency_quantile_ms(0.95);
        assert!((95.0..=105.0).contains(&p95), "{p95}");
        assert!((v1.latency_quantile_ms(0.5) - 50.0).abs() <= 5.0);
        assert_eq!(v1.latency_quantile_ms(1.0), 100.0);
    }

    #[test]
    fn saves_atomically_only_when_changed_and_restores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(STATS_FILE);
        let s = PromptStats::default();
        assert!(!s.save(&path).unwrap(), "nothing to save yet");
        s.record("hr", &version("v1"), &answer(3.0));
        assert!(s.save(&path).unwrap());
        assert!(!s.save(&path).unwrap());

        let restored = PromptStats::default();
        restored.restore(&path).unwrap();
        assert_eq!(restored.of("hr"), s.of("hr"));
        restored.record("hr", &version("v1"), &answer(3.0));
        assert_eq!(restored.of("hr")[0].requests, 2);

        let missing = PromptStats::default();
        missing.restore(&dir.path().join("none.json")).unwrap();
        std::fs::write(dir.path().join("bad.json"), "{").unwrap();
        assert!(missing.restore(&dir.path().join("bad.json")).is_err());
    }
}
