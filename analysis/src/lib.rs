//! Analysis of transfer-learning run records with Polars: the decomposition
//! of the transfer curve into co-adaptation loss and specificity (Yosinski et
//! al. 2014), the authors' figures as PNG and SVG, summary tables as Parquet
//! and CSV, and a Markdown report. Fed the authors' own results (shipped in
//! `data/`, see NOTICE) it reproduces their numbers.
//!
//! This crate does not link burn: it reads only Parquet run records
//! (`docs/DATA_DICTIONARY.md`) and the authors' CSV.
//!
//! ```no_run
//! let out = analysis::analyze(&analysis::AnalyzeOptions {
//!     runs: vec![],
//!     reference_paper: true,
//!     out: "paper-report".into(),
//!     allow_mixed: false,
//! }).unwrap();
//! println!("{}", out.report.display());
//! ```

pub mod compare;
mod error;
pub mod figures;
pub mod findings;
pub mod load;
pub mod paired;
pub mod quantity;
pub mod report;
pub mod summary;
pub mod vocab;

pub use error::{Error, Result};
pub use quantity::Quantity;
pub use report::{AnalyzeOptions, Outputs, analyze};
pub use vocab::{Origin, Target};
