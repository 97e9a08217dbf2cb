//! Errors of marsadm, each with an actionable message and a stable exit code.

use std::path::PathBuf;

/// Everything that can make a marsadm command fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode JSON output: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0} is not a regular file")]
    NotAFile(PathBuf),
    #[error("{0}: damaged or out-of-sequence record (see the report above)")]
    LogBad(String),
    #[error("{0}: the last record is incomplete (being written or fetched, or cut off by a crash)")]
    LogIncomplete(String),
}

impl Error {
    /// Exit status for this error. 2 is reserved for command-line errors (clap's own).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Read { .. } | Error::Json(_) | Error::NotAFile(_) | Error::LogBad(_) => 1,
            Error::LogIncomplete(_) => 3,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
