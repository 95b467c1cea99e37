//! The parts of a BEIR-layout dataset the benchmark reads: `corpus.jsonl`
//! (`{"_id", "title", "text"}`) and `queries.jsonl` (`{"_id", "text"}`).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::BenchError;

/// One corpus document.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Doc {
    #[serde(rename = "_id", deserialize_with = "id_string")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
}

/// One query.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Query {
    #[serde(rename = "_id", deserialize_with = "id_string")]
    pub id: String,
    pub text: String,
}

/// A corpus and its queries.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub docs: Vec<Doc>,
    pub queries: Vec<Query>,
}

impl Dataset {
    /// Read `dir/corpus.jsonl` and `dir/queries.jsonl`; blank lines are skipped.
    ///
    /// # Errors
    /// [`BenchError::Io`] when a file cannot be read, [`BenchError::Dataset`] for a
    /// line that is not a valid record (with its file and line number).
    pub fn load(dir: &Path) -> Result<Dataset, BenchError> {
        Ok(Dataset {
            docs: read_jsonl(&dir.join("corpus.jsonl"))?,
            queries: read_jsonl(&dir.join("queries.jsonl"))?,
        })
    }
}

/// BEIR ids are strings, but some exports write numbers: keep either as text.
fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, BenchError> {
    let io = |source| BenchError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|source| BenchError::Dataset {
            path: PathBuf::from(path),
            line: i + 1,
            source,
        })?;
        out.push(record);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_beir_records_and_points_at_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("corpus.jsonl"),
            "{\"_id\":\"1\",\"title\":\"T\",\"text\":\"body\"}\n\n{\"_id\":2,\"text\":\"untitled\"}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("queries.jsonl"), "{\"_id\":\"q\",\"text\":\"what?\"}\n").unwrap();
        let d = Dataset::load(dir.path()).unwrap();
        assert_eq!(d.docs.len(), 2);
        assert_eq!((d.docs[1].id.as_str(), d.docs[1].title.as_str()), ("2", ""));
        assert_eq!(d.queries[0].text, "what?");

        std::fs::write(
            dir.path().join("queries.jsonl"),
            "{\"_id\":\"q\",\"text\":\"a\"}\n{\"_id\":\"r\"}\n",
        )
        .unwrap();
        let err = Dataset::load(dir.path()).unwrap_err();
        assert!(matches!(err, BenchError::Dataset { line: 2, .. }), "{err}");
    }
}
