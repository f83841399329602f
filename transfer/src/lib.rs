//! The protocol of Yosinski, Clune, Bengio and Lipson (2014), "How
//! transferable are features in deep neural networks?": jobs (bases, selffer
//! BnB, transfer AnB, their fine-tuned `+` variants, random-frozen `nolearn`
//! controls, reduced-data runs), Caffe's SGD, training with resumable
//! checkpoints, run records as Parquet, and the sweep plan with its local and
//! Slurm executors.
//!
//! This crate never links polars: its output is Parquet on disk
//! (`docs/DATA_DICTIONARY.md`), which `analysis` reads.

pub mod batches;
pub mod cache;
mod error;
pub mod executor;
pub mod plan;
pub mod progress;
pub mod record;
pub mod sgd;
pub mod similarity;
pub mod spec;
pub mod train;

pub use error::{Error, Result};
pub use record::{CurvePoint, RunRecord, SCHEMA_VERSION};
pub use spec::{Arm, Family, Half, JobId, JobKind, JobSpec, Outputs, Preprocess, Schedule, SplitSpec};
pub use train::{Outcome, RunOptions, run_job};
