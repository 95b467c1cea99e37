//! A document store in a local directory: `<root>/<key>`. Writes go to a hidden
//! temporary file renamed into place, so a reader never sees half a file. Metadata an
//! upload set is kept beside the file in a hidden sidecar, `.<name>.meta.json`.
//! Hidden files are not documents.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use super::{DocStoreError, Fetched, ObjectInfo, ObjectMeta, Stored};

/// A local directory store.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    source_prefix: String,
}

impl LocalStore {
    /// A store at `root` (created on first write) whose files are named `<source_prefix><key>`.
    pub fn new(root: PathBuf, source_prefix: String) -> Self {
        Self { root, source_prefix }
    }

    pub fn describe(&self) -> String {
        self.root.display().to_string()
    }

    pub fn source(&self, key: &str) -> String {
        format!("{}{key}", self.source_prefix)
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>, meta: &ObjectMeta) -> Result<Stored, DocStoreError> {
        let path = self.path(key)?;
        let (key, meta) = (key.to_owned(), meta.clone());
        blocking(move || {
            let parent = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent).map_err(io(parent))?;
            let name = file_name(&path);
            // Unique per write: two writes of one key at once must not share a temp file.
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let tmp = parent.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
            std::fs::write(&tmp, &bytes).map_err(io(&tmp))?;
            let sidecar = sidecar(&path);
            match &meta.metadata {
                Some(_) => {
                    let json = serde_json::to_vec(&ObjectMeta { sha256: None, ..meta }).unwrap_or_default();
                    std::fs::write(&sidecar, json).map_err(io(&sidecar))?;
                }
                None => match std::fs::remove_file(&sidecar) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&sidecar)(e)),
                    _ => {}
                },
            }
            std::fs::rename(&tmp, &path).map_err(io(&path))?;
            let version = version(&std::fs::metadata(&path).map_err(io(&path))?);
            Ok(Stored { key, version })
        })
        .await
    }

    pub async fn delete(&self, key: &str) -> Result<(), DocStoreError> {
        let path = self.path(key)?;
        blocking(move || {
            for file in [sidecar(&path), path.clone()] {
                match std::fs::remove_file(&file) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&file)(e)),
                    _ => {}
                }
            }
            Ok(())
        })
        .await
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, DocStoreError> {
        let (root, prefix) = (self.root.clone(), prefix.to_owned());
        blocking(move || {
            let mut out = Vec::new();
            if !root.exists() {
                return Ok(out);
            }
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                    let entry = entry.map_err(io(&dir))?;
                    let path = entry.path();
                    if file_name(&path).starts_with('.') {
                        continue;
                    }
                    let kind = entry.file_type().map_err(io(&path))?;
                    let meta = std::fs::metadata(&path).map_err(io(&path))?;
                    if meta.is_dir() {
                        // Symlinked directories are not followed (no loops).
                        if !kind.is_symlink() {
                            stack.push(path);
                        }
                        continue;
                    }
                    let Ok(rel) = path.strip_prefix(&root) else { continue };
                    let key = rel.to_string_lossy().replace('\\', "/");
                    if key.starts_with(&prefix) {
                        out.push(ObjectInfo {
                            key,
                            version: version(&meta),
                            size: meta.len(),
                        });
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    pub async fn get(&self, key: &str, max_bytes: u64) -> Result<Fetched, DocStoreError> {
        let path = self.path(key)?;
        let key = key.to_owned();
        blocking(move || {
            let file = std::fs::File::open(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => DocStoreError::NotFound {
                    store: path.display().to_string(),
                    key: key.clone(),
                },
                _ => io(&path)(e),
            })?;
            let meta = file.metadata().map_err(io(&path))?;
            if meta.len() > max_bytes {
                return Err(DocStoreError::TooLarge {
                    size: meta.len(),
                    limit: max_bytes,
                });
            }
            let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
            file.take(max_bytes.saturating_add(1))
                .read_to_end(&mut bytes)
                .map_err(io(&path))?;
            if bytes.len() as u64 > max_bytes {
                return Err(DocStoreError::TooLarge {
                    size: bytes.len() as u64,
                    limit: max_bytes,
                });
            }
            let object_meta = std::fs::read(sidecar(&path))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            Ok(Fetched {
                key,
                bytes,
                version: version(&meta),
                meta: object_meta,
            })
        })
        .await
    }

    /// `<root>/<key>`, refusing keys that would leave the root.
    fn path(&self, key: &str) -> Result<PathBuf, DocStoreError> {
        let rel = Path::new(key);
        let inside = rel.components().all(|c| matches!(c, Component::Normal(_)));
        if key.is_empty() || !inside {
            return Err(DocStoreError::Rejected {
                store: self.describe(),
                message: format!("`{key}` is not a relative key inside the store"),
            });
        }
        Ok(self.root.join(rel))
    }
}

/// Size and modification time: changes whenever a write does.
fn version(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}-{mtime}", meta.len())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The hidden file holding an object's metadata.
fn sidecar(path: &Path) -> PathBuf {
    path.with_file_name(format!(".{}.meta.json", file_name(path)))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DocStoreError + '_ {
    move |source| DocStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Run file-system work off the async executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DocStoreError> + Send + 'static,
) -> Result<T, DocStoreError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(DocStoreError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Metadata;

    #[tokio::test]
    async fn put_list_get_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("docs"), "docs/".to_owned());
        assert_eq!(store.list("").await.unwrap(), vec![]);
        let meta = ObjectMeta {
            sha256: None,
            metadata: Some(Metadata {
                domain: "hr".to_owned(),
                ..Metadata::default()
            }),
        };
        let stored = store.put("hr/a.md", b"# A\n\ntext".to_vec(), &meta).await.unwrap();
        store
            .put("legal/b.txt", b"b".to_vec(), &ObjectMeta::default())
            .await
            .unwrap();
        let all = store.list("").await.unwrap();
        assert_eq!(all.len(), 2, "sidecars and temp files are not listed: {all:?}");
        let hr = store.list("hr/").await.unwrap();
        assert_eq!(hr.len(), 1);
        assert_eq!((hr[0].key.as_str(), hr[0].size), ("hr/a.md", 9));
        assert_eq!(hr[0].version, stored.version);
        assert_eq!(store.source("hr/a.md"), "docs/hr/a.md");

        let got = store.get("hr/a.md", 100).await.unwrap();
        assert_eq!(got.bytes, b"# A\n\ntext");
        assert_eq!(got.meta.metadata, meta.metadata);
        assert!(matches!(
            store.get("hr/a.md", 5).await,
            Err(DocStoreError::TooLarge { size: 9, limit: 5 })
        ));
        assert!(matches!(
            store.get("hr/none.md", 5).await,
            Err(DocStoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.get("../x", 5).await,
            Err(DocStoreError::Rejected { .. })
        ));

        // Written again without metadata: the sidecar goes, the version changes.
        let again = store
            .put("hr/a.md", b"# A\n\nnew text".to_vec(), &ObjectMeta::default())
            .await
            .unwrap();
        assert_ne!(again.version, stored.version);
        assert_eq!(store.get("hr/a.md", 100).await.unwrap().meta, ObjectMeta::default());

        let as_store = crate::providers::docstore::DocStore::Local(store.clone());
        assert_eq!(as_store.key_of("docs/hr/a.md").as_deref(), Some("hr/a.md"));
        assert_eq!(as_store.key_of("other/hr/a.md"), None);
        store.delete("hr/a.md").await.unwrap();
        store.delete("hr/a.md").await.unwrap();
        assert_eq!(store.list("hr/").await.unwrap(), vec![]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_of_one_key_all_succeed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf(), String::new());
        let writes = (0..32u8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.put("hr/a.md", vec![i; 4096], &ObjectMeta::default()).await })
        });
        for w in futures_util::future::join_all(writes).await {
            w.unwrap().unwrap();
        }
        let got = store.get("hr/a.md", 1 << 20).await.unwrap().bytes;
        assert_eq!(got.len(), 4096);
        assert!(got.iter().all(|b| *b == got[0]), "one write's bytes, whole");
        assert_eq!(store.list("").await.unwrap().len(), 1, "no temp files left");
    }
}
