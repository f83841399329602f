//! The one error type of `data-split`: every variant names the file, the line
//! or the value that was wrong and what was expected.

use std::path::PathBuf;

/// Everything that can go wrong while building splits or reading data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A text file whose line does not parse.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was expected.
        message: String,
    },
    /// Inputs that are individually valid but do not make a split.
    #[error("invalid split: {0}")]
    InvalidSplit(String),
    /// An unknown preset name.
    #[error("unknown preset `{name}`; valid presets: {valid}")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The valid names, comma separated.
        valid: String,
    },
    /// A manifest already exists at the output path and differs.
    #[error("{path} already holds a different manifest (content hash {existing}, new {new}); choose another output or remove it")]
    ManifestExists {
        /// Manifest path.
        path: PathBuf,
        /// Hash of the existing manifest.
        existing: String,
        /// Hash of the one we would write.
        new: String,
    },
    /// A manifest of an unsupported version or malformed JSON.
    #[error("{path}: {message}")]
    Manifest {
        /// Manifest path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A data set whose layout or content is not what the reader expects.
    #[error("{path}: {message}")]
    Data {
        /// The offending file or folder.
        path: PathBuf,
        /// What was expected.
        message: String,
    },
    /// An image that does not decode.
    #[error("{path}: cannot decode image: {message}")]
    Decode {
        /// The image file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub(crate) fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Data { path: path.into(), message: message.into() }
    }
    pub(crate) fn parse(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::Parse { path: path.into(), line, message: message.into() }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
