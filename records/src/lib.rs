//! The run-record contract between training (`transfer`) and analysis:
//! [`RunRecord`] and [`CurvePoint`] as Parquet (one writer, one reader, the
//! schema version), the authors' metric [`mean_of_best`], the convergence
//! rule [`plateau`] every record states, and [`atomic_write`], the atomic
//! file write of records, plans and reports (model checkpoints have their
//! own in `model::checkpoint`, since the model does not depend on this
//! crate). arrow, parquet and serde only: no burn, no polars.

/// `Serialize` and `Deserialize` of protocol words as their one spelling:
/// written with `Display`, read with `FromStr` (whose error says what is
/// valid), so a job file, a record and a flag name a word the same way.
macro_rules! serde_by_name {
    ($($t:ty),* $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                <String as serde::Deserialize>::deserialize(d)?.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_by_name!(Family, Half, ArmLabel, JobId, record::Status, record::Comparison);

/// `Display` of a protocol word as its `name()`.
macro_rules! display_by_name {
    ($($t:ty),* $(,)?) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}

display_by_name!(Family, Arm, ArmLabel, record::Status, record::Comparison);

/// `FromStr` of a closed set of protocol words: the one of `ALL` whose
/// `name()` it is; the error names the word and lists the valid ones.
macro_rules! from_str_by_name {
    ($($t:ty => $what:literal),* $(,)?) => {$(
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
                <$t>::ALL
                    .into_iter()
                    .find(|w| w.name() == s)
                    .ok_or_else(|| format!("unknown {} `{s}`; valid: {}", $what, <$t>::ALL.map(<$t>::name).join(", ")))
            }
        }
    )*};
}

from_str_by_name!(Arm => "arm", ArmLabel => "arm label", record::Status => "status");

mod convergence;
mod error;
mod family;
mod half;
mod protocol;
mod record;

pub use arrow::datatypes::DataType as ArrowType;
pub use convergence::{Eval, MIN_EVALS, PRACTICAL, Plateau, Why, flattened, plateau, risen, stalled, step_rates};
pub use error::{Error, Result};
pub use family::{Family, check_id_word};
pub use half::Half;
pub use protocol::{Arm, ArmLabel, JobId, JobKind, MAX_N};
pub use record::*;
