//! Run records: this crate writes them through the `records` crate (the
//! contract with `analysis`); re-exported here so jobs and executors name
//! one module.

pub use records::{
    Comparison, CurvePoint, Eval, FINAL_PARAMS, Plateau, RunRecord, SCHEMA_VERSION, SimilarityRow, Status, SweepLayout, atomic_write, curve_columns,
    curve_path, flattened, mean_of_best, plateau, read_curve, read_job_json, read_run, risen, run_columns, run_path, similarity_path, write_run,
    write_similarity,
};
