//! A document store in S3 (or an S3-compatible server): `s3://<bucket>/<prefix><key>`.
//!
//! The client is built on first use from the standard AWS chain (credentials are never
//! configured here), with the pipeline's region and endpoint; an endpoint implies
//! path-style addressing. The SDK retries transient failures a few times itself.
//! Reads stream the body and stop at the size limit. Each write records the content's
//! sha256 in the object's metadata.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::{DocStoreError, Fetched, ObjectInfo, ObjectMeta, S3Location, Stored};
use crate::providers::aws::sdk_config;

/// Attempts per request, the first included.
const MAX_ATTEMPTS: u32 = 3;
/// First backoff between attempts (then exponential, jittered).
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);

/// An S3 store.
#[derive(Debug)]
pub struct S3Store {
    location: S3Location,
    client: OnceCell<Client>,
}

impl S3Store {
    /// A store at `location`; no client is built until the first request.
    pub fn new(location: S3Location) -> Self {
        Self {
            location,
            client: OnceCell::new(),
        }
    }

    pub fn describe(&self) -> String {
        self.location.url()
    }

    pub fn source(&self, key: &str) -> String {
        format!("s3://{}/{}", self.location.bucket, self.full_key(key))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>, meta: &ObjectMeta) -> Result<Stored, DocStoreError> {
        let client = self.client().await?;
        let out = client
            .put_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .set_metadata(Some(meta.to_headers()))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| self.error(&e, key))?;
        Ok(Stored {
            key: key.to_owned(),
            version: etag(out.e_tag()),
        })
    }

    pub async fn delete(&self, key: &str) -> Result<(), DocStoreError> {
        let client = self.client().await?;
        client
            .delete_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .send()
            .await
            .map_err(|e| self.error(&e, key))?;
        Ok(())
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, DocStoreError> {
        let client = self.client().await?;
        let base = &self.location.prefix;
        let mut pages = client
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(format!("{base}{prefix}"))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error(&e, prefix))?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| k.strip_prefix(base.as_str())) else {
                    continue;
                };
                // "Folder" placeholder objects hold no document.
                if key.is_empty() || key.ends_with('/') {
                    continue;
                }
                out.push(ObjectInfo {
                    key: key.to_owned(),
                    version: etag(object.e_tag()),
                    size: object.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                });
            }
        }
        Ok(out)
    }

    pub async fn get(&self, key: &str, max_bytes: u64) -> Result<Fetched, DocStoreError> {
        let client = self.client().await?;
        let out = client
            .get_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .send()
            .await
            .map_err(|e| self.error(&e, key))?;
        let length = out.content_length().and_then(|l| u64::try_from(l).ok());
        if let Some(size) = length.filter(|&l| l > max_bytes) {
            return Err(DocStoreError::TooLarge { size, limit: max_bytes });
        }
        let version = etag(out.e_tag());
        let meta = ObjectMeta::from_headers(out.metadata().unwrap_or(&HashMap::new()));
        let mut body = out.body;
        let capacity = length.map_or(0, |l| usize::try_from(l).unwrap_or(0));
        let mut bytes = Vec::with_capacity(capacity);
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| DocStoreError::Unavailable {
                store: self.describe(),
                message: format!("{key}: reading the object failed: {}", DisplayErrorContext(&e)),
            })?;
            let size = bytes.len() as u64 + chunk.len() as u64;
            if size > max_bytes {
                return Err(DocStoreError::TooLarge { size, limit: max_bytes });
            }
            hasher.update(&chunk);
            bytes.extend_from_slice(&chunk);
        }
        let actual = hex::encode(hasher.finalize());
        if let Some(recorded) = &meta.sha256
            && !recorded.eq_ignore_ascii_case(&actual)
        {
            return Err(DocStoreError::HashMismatch {
                recorded: recorded.clone(),
                actual,
            });
        }
        Ok(Fetched {
            key: key.to_owned(),
            bytes,
            version,
            meta,
        })
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.location.prefix)
    }

    async fn client(&self) -> Result<&Client, DocStoreError> {
        self.client
            .get_or_try_init(|| async {
                let l = &self.location;
                let shared = sdk_config(l.aws.region.as_deref(), l.aws.endpoint_url.as_deref()).await;
                if shared.region().is_none() {
                    return Err(DocStoreError::Unavailable {
                        store: self.describe(),
                        message: "no AWS region: set `aws.region` in ingest.store.s3, or AWS_REGION".to_owned(),
                    });
                }
                let config = aws_sdk_s3::config::Builder::from(&shared)
                    .force_path_style(l.aws.endpoint_url.is_some())
                    .retry_config(
                        RetryConfig::standard()
                            .with_max_attempts(MAX_ATTEMPTS)
                            .with_initial_backoff(INITIAL_BACKOFF),
                    )
                    .build();
                Ok(Client::from_conf(config))
            })
            .await
    }

    /// An SDK error as a [`DocStoreError`], classed by HTTP status and error code.
    fn error<E>(&self, err: &SdkError<E, HttpResponse>, key: &str) -> DocStoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let store = self.describe();
        let status = err.raw_response().map(|r| r.status().as_u16());
        let detail = DisplayErrorContext(err).to_string();
        match err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let message = e.message().map_or_else(|| detail.clone(), |m| format!("{m} ({key})"));
                match (e.code(), status) {
                    (Some("NoSuchKey"), _) | (None, Some(404)) if !key.is_empty() && !key.ends_with('/') => {
                        DocStoreError::NotFound {
                            store,
                            key: key.to_owned(),
                        }
                    }
                    (Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken"), _)
                    | (_, Some(401 | 403)) => DocStoreError::AccessDenied { store, message },
                    (_, Some(s)) if s >= 500 => DocStoreError::Unavailable { store, message },
                    _ => DocStoreError::Rejected { store, message },
                }
            }
            // Connection refused, timeouts, unreadable responses, missing credentials.
            _ => DocStoreError::Unavailable { store, message: detail },
        }
    }
}

/// An ETag without its quotes.
fn etag(tag: Option<&str>) -> String {
    tag.unwrap_or_default().trim_matches('"').to_owned()
}
