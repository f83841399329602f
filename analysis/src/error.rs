//! The error type of `analysis`.

use std::path::PathBuf;

/// Errors of the analysis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From polars.
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),
    /// I/O on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A run record that does not fit the schema.
    #[error("{path}: {message}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What differs (column, version).
        message: String,
    },
    /// Input that cannot be analysed together.
    #[error("{0}")]
    Input(String),
    /// Drawing a figure failed.
    #[error("figure {name}: {message}")]
    Figure {
        /// Figure name.
        name: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
