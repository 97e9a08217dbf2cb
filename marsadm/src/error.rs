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
}

impl Error {
    /// Exit status for this error. 2 is reserved for command-line errors (clap's own).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Read { .. } | Error::Json(_) => 1,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
