//! The error type of `transfer`, with the failing job, file or layer.

use std::path::PathBuf;

/// Errors of the protocol, training, records and sweeps.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the data crate.
    #[error(transparent)]
    Data(#[from] data_split::Error),
    /// From the model crate.
    #[error(transparent)]
    Model(#[from] model::Error),
    /// I/O on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A job description that cannot run.
    #[error("job {job}: {message}")]
    Job {
        /// Job id.
        job: String,
        /// What is wrong.
        message: String,
    },
    /// A source checkpoint that is missing or of another architecture.
    #[error("job {job}: source checkpoint {path}: {message}")]
    Source {
        /// Job id.
        job: String,
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Training diverged.
    #[error("job {job}: loss became {value} at iteration {iteration}")]
    Diverged {
        /// Job id.
        job: String,
        /// Iteration.
        iteration: u64,
        /// The non-finite value.
        value: f64,
    },
    /// A run record that is unreadable or of another schema, or a file
    /// that could not be written atomically.
    #[error(transparent)]
    Records(#[from] records::Error),
    /// A file (checkpoint, picture) that lacks what it should hold.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A sweep configuration or plan problem.
    #[error("{0}")]
    Plan(String),
    /// An executor problem (Slurm unreachable, a job that could not start).
    #[error("{0}")]
    Executor(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub(crate) fn job(job: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::Job { job: job.to_string(), message: message.into() }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
