//! A BEIR-layout dataset: `corpus.jsonl` (`{"_id", "title", "text"}` per line),
//! `queries.jsonl` (`{"_id", "text"}`) and `qrels/test.tsv` (`query-id`, `corpus-id`,
//! `score`, tab-separated, after a header line).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use super::EvalError;
use super::metrics::Judgments;

/// One corpus document.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusDoc {
    pub id: String,
    pub title: String,
    pub text: String,
}

impl CorpusDoc {
    /// This document as ingest input (its id is the source; pipeline metadata defaults).
    pub fn to_input(&self) -> crate::stages::ingest::sources::IngestInput {
        crate::stages::ingest::sources::IngestInput::Text {
            source: self.id.clone(),
            title: self.title.clone(),
            text: self.text.clone(),
            metadata: None,
        }
    }
}

/// One judged query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub id: String,
    pub text: String,
}

/// A loaded dataset: the corpus, the queries that have judgments (in file order) and
/// the judgments by query id.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub corpus: Vec<CorpusDoc>,
    pub queries: Vec<Query>,
    pub qrels: HashMap<String, Judgments>,
}

/// BEIR ids are strings, but some exports write them as numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(u64),
}

impl Id {
    fn into_string(self) -> String {
        match self {
            Id::Text(s) => s,
            Id::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct RawDoc {
    #[serde(rename = "_id")]
    id: Id,
    #[serde(default)]
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct RawQuery {
    #[serde(rename = "_id")]
    id: Id,
    text: String,
}

impl Dataset {
    /// Load the dataset in `dir`, keeping only the queries that have judgments.
    ///
    /// # Errors
    /// [`EvalError::Read`] for a missing or unreadable file, [`EvalError::Json`] for a bad
    /// JSON line, [`EvalError::Qrels`] for a bad qrels line, [`EvalError::DuplicateId`],
    /// [`EvalError::UnknownDocument`] / [`EvalError::UnknownQuery`] for a judgment naming
    /// a document or query the dataset lacks, and [`EvalError::NoJudgments`].
    pub fn load(dir: &Path) -> Result<Dataset, EvalError> {
        let (corpus, queries) = load_texts(dir)?;
        let qrels_path = dir.join("qrels").join("test.tsv");
        let doc_ids: HashSet<&str> = corpus.iter().map(|d| d.id.as_str()).collect();
        let query_ids: HashSet<&str> = queries.iter().map(|q| q.id.as_str()).collect();
        let qrels = read_qrels(&qrels_path, &doc_ids, &query_ids)?;
        if qrels.is_empty() {
            return Err(EvalError::NoJudgments { path: qrels_path });
        }
        let queries = queries.into_iter().filter(|q| qrels.contains_key(&q.id)).collect();
        Ok(Dataset { corpus, queries, qrels })
    }
}

/// The corpus and every query of the dataset in `dir`, without judgments.
///
/// # Errors
/// [`EvalError::Read`], [`EvalError::Json`] and [`EvalError::DuplicateId`], as [`Dataset::load`].
pub fn load_texts(dir: &Path) -> Result<(Vec<CorpusDoc>, Vec<Query>), EvalError> {
    let corpus = read_jsonl(&dir.join("corpus.jsonl"), |r: RawDoc| CorpusDoc {
        id: r.id.into_string(),
        title: r.title,
        text: r.text,
    })?;
    let queries = read_jsonl(&dir.join("queries.jsonl"), |r: RawQuery| Query {
        id: r.id.into_string(),
        text: r.text,
    })?;
    Ok((corpus, queries))
}

fn read(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(|source| EvalError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parse every non-blank line of `path` as an `R` and convert it with `f`; ids must be unique.
fn read_jsonl<R, T>(path: &Path, f: impl Fn(R) -> T) -> Result<Vec<T>, EvalError>
where
    R: for<'de> Deserialize<'de>,
    T: HasId,
{
    let text = read(path)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let raw: R = serde_json::from_str(line).map_err(|source| EvalError::Json {
            path: path.to_owned(),
            line: i + 1,
            source,
        })?;
        let item = f(raw);
        if !seen.insert(item.id().to_owned()) {
            return Err(EvalError::DuplicateId {
                path: path.to_owned(),
                line: i + 1,
                id: item.id().to_owned(),
            });
        }
        out.push(item);
    }
    Ok(out)
}

/// Parse the qrels, checking every id against the corpus and the queries.
fn read_qrels(
    path: &Path,
    doc_ids: &HashSet<&str>,
    query_ids: &HashSet<&str>,
) -> Result<HashMap<String, Judgments>, EvalError> {
    let text = read(path)?;
    let mut qrels: HashMap<String, Judgments> = HashMap::new();
    let bad = |line: usize, message: String| EvalError::Qrels {
        path: path.to_owned(),
        line,
        message,
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || (n == 1 && line.starts_with("query-id")) {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [query, doc, grade] = fields[..] else {
            return Err(bad(
                n,
                format!("expected 3 tab-separated fields, found {}", fields.len()),
            ));
        };
        let grade: i32 = grade
            .parse()
            .map_err(|_| bad(n, format!("score `{grade}` is not an integer")))?;
        if !doc_ids.contains(doc) {
            return Err(EvalError::UnknownDocument {
                path: path.to_owned(),
                line: n,
                id: doc.to_owned(),
            });
        }
        if !query_ids.contains(query) {
            return Err(EvalError::UnknownQuery {
                path: path.to_owned(),
                line: n,
                id: query.to_owned(),
            });
        }
        qrels.entry(query.to_owned()).or_default().insert(doc.to_owned(), grade);
    }
    Ok(qrels)
}

/// Records with an id.
trait HasId {
    fn id(&self) -> &str;
}

impl HasId for CorpusDoc {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Query {
    fn id(&self) -> &str {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS: &str = "{\"_id\": \"d1\", \"title\": \"One\", \"text\": \"first\"}\n\n{\"_id\": 2, \"text\": \"second\", \"metadata\": {}}\n";
    const QUERIES: &str = "{\"_id\": \"q1\", \"text\": \"judged\"}\n{\"_id\": \"q2\", \"text\": \"not judged\"}\n";

    fn write(dir: &Path, corpus: &str, queries: &str, qrels: &str) {
        std::fs::create_dir_all(dir.join("qrels")).unwrap();
        std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
        std::fs::write(dir.join("queries.jsonl"), queries).unwrap();
        std::fs::write(dir.join("qrels/test.tsv"), qrels).unwrap();
    }

    #[test]
    fn loads_graded_judgments_and_keeps_judged_queries() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            CORPUS,
            QUERIES,
            "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\t2\t0\n",
        );
        let d = Dataset::load(dir.path()).unwrap();
        assert_eq!(d.corpus.len(), 2);
        // A numeric id becomes a string; a missing title is empty.
        assert_eq!(d.corpus[1].id, "2");
        assert_eq!(d.corpus[1].title, "");
        assert_eq!(d.queries.len(), 1);
        assert_eq!(d.queries[0].id, "q1");
        assert_eq!(d.qrels["q1"]["d1"], 2);
        assert_eq!(d.qrels["q1"]["2"], 0);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let load = |corpus: &str, queries: &str, qrels: &str| {
            write(dir.path(), corpus, queries, qrels);
            Dataset::load(dir.path()).unwrap_err().to_string()
        };
        let ok_qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\n";
        let e = load(
            "{\"_id\": \"d1\", \"text\": \"x\"}\n{\"_id\": \"d2\"\n",
            QUERIES,
            ok_qrels,
        );
        assert!(e.contains("corpus.jsonl:2: bad record"), "{e}");
        let e = load(
            CORPUS,
            "{\"_id\": \"q1\", \"text\": \"a\"}\n{\"_id\": \"q1\", \"text\": \"b\"}\n",
            ok_qrels,
        );
        assert!(e.contains("queries.jsonl:2: duplicate _id `q1`"), "{e}");
        let e = load(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\tnope\t1\n");
        assert!(
            e.ends_with("test.tsv:2: corpus-id `nope` is not in corpus.jsonl"),
            "{e}"
        );
        let e = load(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq9\td1\t1\n");
        assert!(e.ends_with("test.tsv:2: query-id `q9` is not in queries.jsonl"), "{e}");
        let e = load(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\thigh\n");
        assert!(e.ends_with("test.tsv:2: score `high` is not an integer"), "{e}");
        let e = load(CORPUS, QUERIES, "q1 d1 1\n");
        assert!(
            e.ends_with("test.tsv:1: expected 3 tab-separated fields, found 1"),
            "{e}"
        );
        let e = load(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\n");
        assert!(e.ends_with("test.tsv: no judgments"), "{e}");
        std::fs::remove_file(dir.path().join("queries.jsonl")).unwrap();
        let e = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(e.starts_with("cannot read ") && e.contains("queries.jsonl"), "{e}");
    }
}
