//! Why a file was not indexed: one closed set of kinds for every sub-stage's failure
//! (read, parse, tag, the document store), each with a stable code.

use serde::{Serialize, Serializer};

use super::parse::ParseError;
use super::tag::TagError;
use crate::providers::docstore::DocStoreError;

/// Why one file was not indexed. Its [`code`](FileError::code) is stable and is what
/// reports and API responses show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileError {
    /// No parser reads the file's type.
    UnsupportedType,
    /// Over `ingest.max_file_bytes`.
    TooLarge,
    /// Encrypted, and no password is known.
    Encrypted,
    /// A PDF without a text layer (scanned?).
    NoText,
    /// The document holds no text.
    Empty,
    /// The file is damaged, or its bytes do not match their recorded hash.
    Corrupt,
    /// Text stored in a way the reader cannot decode.
    UnsupportedContent,
    /// Reading it would pass a parse limit (bombs, absurd nesting, time).
    LimitExceeded,
    /// The tag script failed.
    TagScript,
    /// The metadata is invalid: a required field is empty, or a value has the wrong shape.
    InvalidMetadata,
    /// A metadata value the pipeline may not hold (outside its `retrieve.filter`).
    ForbiddenMetadata,
    /// The stored original disappeared before it was read.
    NotFound,
    /// The document store could not be reached.
    StoreUnavailable,
    /// The document store refused the credentials.
    StoreDenied,
    /// The document store refused the request.
    StoreRejected,
    /// Reading the file failed.
    Io,
    /// The index could not be read for this file.
    Index,
}

impl FileError {
    /// The stable code, e.g. `encrypted`, `no_text`, `forbidden_metadata`.
    pub fn code(self) -> &'static str {
        match self {
            Self::UnsupportedType => "unsupported_type",
            Self::TooLarge => "too_large",
            Self::Encrypted => "encrypted",
            Self::NoText => "no_text",
            Self::Empty => "empty",
            Self::Corrupt => "corrupt",
            Self::UnsupportedContent => "unsupported_content",
            Self::LimitExceeded => "limit_exceeded",
            Self::TagScript => "tag_script",
            Self::InvalidMetadata => "invalid_metadata",
            Self::ForbiddenMetadata => "forbidden_metadata",
            Self::NotFound => "not_found",
            Self::StoreUnavailable => "store_unavailable",
            Self::StoreDenied => "store_denied",
            Self::StoreRejected => "store_rejected",
            Self::Io => "io",
            Self::Index => "store",
        }
    }
}

impl Serialize for FileError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl From<&ParseError> for FileError {
    fn from(e: &ParseError) -> Self {
        match e {
            ParseError::Unsupported(_) => Self::UnsupportedType,
            ParseError::TooLarge { .. } => Self::TooLarge,
            ParseError::Encrypted => Self::Encrypted,
            ParseError::NoText(_) => Self::NoText,
            ParseError::Empty => Self::Empty,
            ParseError::Corrupt(_) => Self::Corrupt,
            ParseError::UnsupportedContent(_) => Self::UnsupportedContent,
            ParseError::LimitExceeded(_) => Self::LimitExceeded,
        }
    }
}

impl From<&TagError> for FileError {
    fn from(e: &TagError) -> Self {
        match e {
            TagError::Script { .. } => Self::TagScript,
            TagError::Field { .. } => Self::InvalidMetadata,
            TagError::Forbidden { .. } => Self::ForbiddenMetadata,
        }
    }
}

impl From<&DocStoreError> for FileError {
    fn from(e: &DocStoreError) -> Self {
        match e {
            DocStoreError::Unavailable { .. } => Self::StoreUnavailable,
            DocStoreError::AccessDenied { .. } => Self::StoreDenied,
            DocStoreError::Rejected { .. } => Self::StoreRejected,
            DocStoreError::NotFound { .. } => Self::NotFound,
            DocStoreError::TooLarge { .. } => Self::TooLarge,
            DocStoreError::HashMismatch { .. } => Self::Corrupt,
            DocStoreError::Io { .. } => Self::Io,
        }
    }
}
