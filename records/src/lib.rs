//! The run-record contract between training (`transfer`) and analysis:
//! [`RunRecord`] and [`CurvePoint`] as Parquet (one writer, one reader, the
//! schema version), the authors' metric [`mean_of_best`], the convergence
//! rule [`plateau`] every record states, and the one atomic file write the
//! workspace uses. arrow, parquet and serde only: no burn, no polars.

mod convergence;
mod error;
mod family;
mod half;
mod protocol;
mod record;

pub use arrow::datatypes::DataType as ArrowType;
pub use convergence::{Plateau, plateau};
pub use error::{Error, Result};
pub use family::{Family, check_id_word};
pub use half::Half;
pub use protocol::{Arm, ArmLabel, JobId, JobKind, MAX_N};
pub use record::*;
