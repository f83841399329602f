//! Run records: the contract between `transfer` (which writes them) and
//! `analysis` (which reads only them).
//!
//! Each job writes two Parquet files (arrow-rs, ZSTD), atomically (temporary
//! file + rename), so a crash never leaves a half-written record:
//!
//! * `records/runs/<run_id>.parquet`: one row, the result ([`RunRecord`]);
//! * `records/curves/<run_id>.parquet`: one row per evaluation ([`CurvePoint`]);
//!
//! and a sweep's layer similarities, `similarity/cka.parquet`
//! ([`SimilarityRow`]).
//!
//! Every file carries the `schema_version` column and key-value metadata
//! (`transferability.schema_version`, `transferability.job` = the job JSON).
//! The columns are documented in `docs/DATA_DICTIONARY.md`; a test checks
//! that the dictionary names every column written here. A job is done only
//! when its run record exists and [`read_run`] validates it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::family::Family;
use crate::half::Half;
use crate::protocol::ArmLabel;

/// Version of the run-record schema. Bump on any change of columns or meaning.
///
/// Version 2 added `test_images`, `plateau_gain`, `plateau_tolerance` and
/// `converged` (whether the network's test curve had flattened,
/// [`plateau`]); version 3 added `cpu` and `isa` (the machine a network
/// trained on, and the level its kernels ran at).
pub const SCHEMA_VERSION: i32 = 3;

/// The run-record versions this build reads: version 2's records lack
/// `cpu` and `isa`, read as empty.
pub const READS: [i32; 2] = [2, 3];

/// The columns version 3 added.
const SINCE_3: [&str; 2] = [column::CPU, column::ISA];

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Trained to the end.
    #[default]
    Ok,
    /// Stopped by an error (`failure` says which).
    Failed,
}

impl Status {
    /// Both.
    pub const ALL: [Status; 2] = [Status::Ok, Status::Failed];

    /// The `status` column's value.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
        }
    }
}

/// The mark a data set whose natural/man-made split is a known-answer
/// control carries in its identity (the records' `dataset`): the built-in
/// synthetic data's declared cues (`data_split::synthetic::Design::Cues`),
/// where dissimilar transfer must lose more at the top than random halves.
pub const DECLARED_CUES_MARK: &str = ",design=cues";

/// One trained network's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Stable job id.
    pub run_id: String,
    /// Data set identity, `kind:root`.
    pub dataset: String,
    /// Fingerprint of the training files (names and sizes).
    pub dataset_fingerprint: String,
    /// Analysis family: `random`, `natman`, `whole`, or a dissimilar split's name.
    pub family: Family,
    /// Arm: `base`, `BnB`, `BnB+`, `AnB`, `AnB+`, `nolearn`, `reduced`.
    pub arm: ArmLabel,
    /// Split id within the family (`0` for random seed 0, `natman`, `whole`).
    pub split: String,
    /// Half the copied layers came from (none for bases).
    pub source_half: Option<Half>,
    /// Half the network was trained and tested on.
    pub target_half: Half,
    /// Copied (or random-frozen) layers; 0 for bases.
    pub n: i32,
    /// Examples per class for reduced-data runs.
    pub k: Option<i32>,
    /// Copied layers fine-tuned (`+` arms).
    pub fine_tuned: bool,
    /// Model preset.
    pub model: String,
    /// Classes of the target half.
    pub num_classes: i32,
    /// Width of fc8.
    pub num_outputs: i32,
    /// Seed of the fresh layers and the data order.
    pub seed: i64,
    /// Replicate index.
    pub replicate: i32,
    /// `ok` or `failed`.
    pub status: Status,
    /// Why it failed.
    pub failure: Option<String>,
    /// The authors' metric: mean of the 10 best test top-1 evaluations (selects on the test set).
    pub top1: f64,
    /// Top-1 of the last evaluation.
    pub top1_last: f64,
    /// Best top-1 evaluation.
    pub top1_max: f64,
    /// Mean of the 10 best top-5 evaluations.
    pub top5: f64,
    /// Top-5 of the last evaluation.
    pub top5_last: f64,
    /// Test loss of the last evaluation.
    pub test_loss_last: f64,
    /// Mean training loss over the last evaluation interval.
    pub train_loss_last: f64,
    /// Number of evaluations.
    pub n_evals: i32,
    /// Iterations trained.
    pub iterations: i64,
    /// Training batch size.
    pub batch_size: i32,
    /// Wall seconds of this job (all attempts).
    pub wall_seconds: f64,
    /// CPU seconds of this job's process (all attempts).
    pub cpu_seconds: f64,
    /// Seconds the training loop waited for data.
    pub data_wait_seconds: f64,
    /// Threads the job used.
    pub threads: i32,
    /// Backend name.
    pub backend: String,
    /// The CPU the job ran on: model and family (`isa::cpu`); empty in
    /// records of schema version 2.
    pub cpu: String,
    /// The level the workspace's CPU kernels ran at (`plain`, `avx2`,
    /// `avx512`: `isa::active`); empty in records of schema version 2.
    pub isa: String,
    /// SHA-256 of the final weights.
    pub weights_sha256: String,
    /// Frozen-prefix cache used.
    pub cached_prefix: bool,
    /// Test images of the target half (one evaluation's sample size).
    pub test_images: i32,
    /// The largest excess of a compared quantity over its tolerance
    /// ([`plateau`]'s rules 2–5): ≤ 0 when converged; NaN when the curve
    /// cannot be judged.
    pub plateau_gain: f64,
    /// Rule 2's tolerance: 2.5 standard errors of the difference between
    /// the last quarter's mean and the quarter before's, in the segment
    /// before the final rate drop (at least 0.005).
    pub plateau_tolerance: f64,
    /// Every rule of [`plateau`] holds: flat before the final rate drop,
    /// not below its best, not still rising at the end, quiet at the end.
    pub converged: bool,
}

/// One evaluation during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Job id.
    pub run_id: String,
    /// Iterations done when evaluated.
    pub iteration: i64,
    /// Learning rate at that iteration.
    pub lr: f64,
    /// Mean training loss since the previous evaluation.
    pub train_loss: f64,
    /// Mean test loss.
    pub test_loss: f64,
    /// Test top-1 accuracy.
    pub top1: f64,
    /// Test top-5 accuracy.
    pub top5: f64,
}

fn s(v: impl IntoIterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}
fn so(v: impl IntoIterator<Item = Option<String>>) -> ArrayRef {
    Arc::new(v.into_iter().collect::<StringArray>())
}
fn f(v: impl IntoIterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(v))
}
fn i32s(v: impl IntoIterator<Item = i32>) -> ArrayRef {
    Arc::new(Int32Array::from_iter_values(v))
}
fn i32o(v: impl IntoIterator<Item = Option<i32>>) -> ArrayRef {
    Arc::new(v.into_iter().collect::<Int32Array>())
}
fn i64s(v: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(v))
}
fn b(v: impl IntoIterator<Item = bool>) -> ArrayRef {
    Arc::new(v.into_iter().map(Some).collect::<BooleanArray>())
}

/// The name of every column the records write, one constant each: readers
/// (the analysis) name columns through these, never by spelling them.
pub mod column {
    /// `a`.
    pub const A: &str = "a";
    /// `arm`.
    pub const ARM: &str = "arm";
    /// `b`.
    pub const B: &str = "b";
    /// `backend`.
    pub const BACKEND: &str = "backend";
    /// `batch_size`.
    pub const BATCH_SIZE: &str = "batch_size";
    /// `cached_prefix`.
    pub const CACHED_PREFIX: &str = "cached_prefix";
    /// `cka`.
    pub const CKA: &str = "cka";
    /// `cpu`.
    pub const CPU: &str = "cpu";
    /// `isa`.
    pub const ISA: &str = "isa";
    /// `comparison`.
    pub const COMPARISON: &str = "comparison";
    /// `converged`.
    pub const CONVERGED: &str = "converged";
    /// `cpu_seconds`.
    pub const CPU_SECONDS: &str = "cpu_seconds";
    /// `data_wait_seconds`.
    pub const DATA_WAIT_SECONDS: &str = "data_wait_seconds";
    /// `dataset`.
    pub const DATASET: &str = "dataset";
    /// `dataset_fingerprint`.
    pub const DATASET_FINGERPRINT: &str = "dataset_fingerprint";
    /// `failure`.
    pub const FAILURE: &str = "failure";
    /// `family`.
    pub const FAMILY: &str = "family";
    /// `fine_tuned`.
    pub const FINE_TUNED: &str = "fine_tuned";
    /// `iteration`.
    pub const ITERATION: &str = "iteration";
    /// `iterations`.
    pub const ITERATIONS: &str = "iterations";
    /// `k`.
    pub const K: &str = "k";
    /// `layer`.
    pub const LAYER: &str = "layer";
    /// `layer_name`.
    pub const LAYER_NAME: &str = "layer_name";
    /// `lr`.
    pub const LR: &str = "lr";
    /// `model`.
    pub const MODEL: &str = "model";
    /// `n`.
    pub const N: &str = "n";
    /// `n_evals`.
    pub const N_EVALS: &str = "n_evals";
    /// `num_classes`.
    pub const NUM_CLASSES: &str = "num_classes";
    /// `num_outputs`.
    pub const NUM_OUTPUTS: &str = "num_outputs";
    /// `pair`.
    pub const PAIR: &str = "pair";
    /// `plateau_gain`.
    pub const PLATEAU_GAIN: &str = "plateau_gain";
    /// `plateau_tolerance`.
    pub const PLATEAU_TOLERANCE: &str = "plateau_tolerance";
    /// `probe`.
    pub const PROBE: &str = "probe";
    /// `replicate`.
    pub const REPLICATE: &str = "replicate";
    /// `run_id`.
    pub const RUN_ID: &str = "run_id";
    /// `schema_version`.
    pub const SCHEMA_VERSION: &str = "schema_version";
    /// `seed`.
    pub const SEED: &str = "seed";
    /// `source_half`.
    pub const SOURCE_HALF: &str = "source_half";
    /// `split`.
    pub const SPLIT: &str = "split";
    /// `status`.
    pub const STATUS: &str = "status";
    /// `target_half`.
    pub const TARGET_HALF: &str = "target_half";
    /// `test_images`.
    pub const TEST_IMAGES: &str = "test_images";
    /// `test_loss`.
    pub const TEST_LOSS: &str = "test_loss";
    /// `test_loss_last`.
    pub const TEST_LOSS_LAST: &str = "test_loss_last";
    /// `threads`.
    pub const THREADS: &str = "threads";
    /// `top1`.
    pub const TOP1: &str = "top1";
    /// `top1_last`.
    pub const TOP1_LAST: &str = "top1_last";
    /// `top1_max`.
    pub const TOP1_MAX: &str = "top1_max";
    /// `top5`.
    pub const TOP5: &str = "top5";
    /// `top5_last`.
    pub const TOP5_LAST: &str = "top5_last";
    /// `train_loss`.
    pub const TRAIN_LOSS: &str = "train_loss";
    /// `train_loss_last`.
    pub const TRAIN_LOSS_LAST: &str = "train_loss_last";
    /// `wall_seconds`.
    pub const WALL_SECONDS: &str = "wall_seconds";
    /// `weights_sha256`.
    pub const WEIGHTS_SHA256: &str = "weights_sha256";
}

/// The run-record columns: name, type, nullable, array.
pub fn run_columns(rows: &[RunRecord]) -> Vec<(&'static str, DataType, bool, ArrayRef)> {
    use DataType::*;
    let m = |g: fn(&RunRecord) -> String| s(rows.iter().map(g));
    let fl = |g: fn(&RunRecord) -> f64| f(rows.iter().map(g));
    vec![
        (column::SCHEMA_VERSION, Int32, false, i32s(rows.iter().map(|_| SCHEMA_VERSION))),
        (column::RUN_ID, Utf8, false, m(|r| r.run_id.clone())),
        (column::DATASET, Utf8, false, m(|r| r.dataset.clone())),
        (column::DATASET_FINGERPRINT, Utf8, false, m(|r| r.dataset_fingerprint.clone())),
        (column::FAMILY, Utf8, false, m(|r| r.family.to_string())),
        (column::ARM, Utf8, false, m(|r| r.arm.to_string())),
        (column::SPLIT, Utf8, false, m(|r| r.split.clone())),
        (column::SOURCE_HALF, Utf8, true, so(rows.iter().map(|r| r.source_half.as_ref().map(Half::to_string)))),
        (column::TARGET_HALF, Utf8, false, m(|r| r.target_half.to_string())),
        (column::N, Int32, false, i32s(rows.iter().map(|r| r.n))),
        (column::K, Int32, true, i32o(rows.iter().map(|r| r.k))),
        (column::FINE_TUNED, Boolean, false, b(rows.iter().map(|r| r.fine_tuned))),
        (column::MODEL, Utf8, false, m(|r| r.model.clone())),
        (column::NUM_CLASSES, Int32, false, i32s(rows.iter().map(|r| r.num_classes))),
        (column::NUM_OUTPUTS, Int32, false, i32s(rows.iter().map(|r| r.num_outputs))),
        (column::SEED, Int64, false, i64s(rows.iter().map(|r| r.seed))),
        (column::REPLICATE, Int32, false, i32s(rows.iter().map(|r| r.replicate))),
        (column::STATUS, Utf8, false, m(|r| r.status.to_string())),
        (column::FAILURE, Utf8, true, so(rows.iter().map(|r| r.failure.clone()))),
        (column::TOP1, Float64, false, fl(|r| r.top1)),
        (column::TOP1_LAST, Float64, false, fl(|r| r.top1_last)),
        (column::TOP1_MAX, Float64, false, fl(|r| r.top1_max)),
        (column::TOP5, Float64, false, fl(|r| r.top5)),
        (column::TOP5_LAST, Float64, false, fl(|r| r.top5_last)),
        (column::TEST_LOSS_LAST, Float64, false, fl(|r| r.test_loss_last)),
        (column::TRAIN_LOSS_LAST, Float64, false, fl(|r| r.train_loss_last)),
        (column::N_EVALS, Int32, false, i32s(rows.iter().map(|r| r.n_evals))),
        (column::ITERATIONS, Int64, false, i64s(rows.iter().map(|r| r.iterations))),
        (column::BATCH_SIZE, Int32, false, i32s(rows.iter().map(|r| r.batch_size))),
        (column::WALL_SECONDS, Float64, false, fl(|r| r.wall_seconds)),
        (column::CPU_SECONDS, Float64, false, fl(|r| r.cpu_seconds)),
        (column::DATA_WAIT_SECONDS, Float64, false, fl(|r| r.data_wait_seconds)),
        (column::THREADS, Int32, false, i32s(rows.iter().map(|r| r.threads))),
        (column::BACKEND, Utf8, false, m(|r| r.backend.clone())),
        (column::CPU, Utf8, false, m(|r| r.cpu.clone())),
        (column::ISA, Utf8, false, m(|r| r.isa.clone())),
        (column::WEIGHTS_SHA256, Utf8, false, m(|r| r.weights_sha256.clone())),
        (column::CACHED_PREFIX, Boolean, false, b(rows.iter().map(|r| r.cached_prefix))),
        (column::TEST_IMAGES, Int32, false, i32s(rows.iter().map(|r| r.test_images))),
        (column::PLATEAU_GAIN, Float64, false, fl(|r| r.plateau_gain)),
        (column::PLATEAU_TOLERANCE, Float64, false, fl(|r| r.plateau_tolerance)),
        (column::CONVERGED, Boolean, false, b(rows.iter().map(|r| r.converged))),
    ]
}

/// The similarity table's schema version (3 added the typed columns
/// `comparison`, `family`, `split` and `replicate`; readers refuse tables
/// without them rather than parse the `pair` label).
pub const SIMILARITY_SCHEMA_VERSION: i32 = 3;

/// What a similarity row compares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Comparison {
    /// The two bases of one unit (a split's halves, independently trained).
    #[default]
    Bases,
    /// A transferred network against the base it copied layers from.
    SourceVsTransfer,
    /// Two checkpoints named by hand (`transferability similarity`).
    Networks,
}

impl Comparison {
    /// Every comparison.
    pub const ALL: [Comparison; 3] = [Comparison::Bases, Comparison::SourceVsTransfer, Comparison::Networks];

    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Comparison::Bases => "bases",
            Comparison::SourceVsTransfer => "source-vs-transfer",
            Comparison::Networks => "networks",
        }
    }
}

impl std::str::FromStr for Comparison {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Comparison::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| format!("`{s}` is not a comparison: bases, source-vs-transfer, networks"))
    }
}

/// One row of a layer-similarity table (`similarity/cka.parquet` of a
/// sweep, `transferability similarity --out`): linear CKA between two
/// networks at one layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimilarityRow {
    /// A label for people, e.g. `random/0:A-vs-B`; written, never parsed
    /// (the typed columns say what it names).
    pub pair: String,
    /// What is compared.
    pub comparison: Comparison,
    /// The family of the networks' unit (none for a hand-named pair).
    pub family: Option<Family>,
    /// Their split's id (`0` for random split 0, `natman`, ...).
    pub split: Option<String>,
    /// Their replicate.
    pub replicate: Option<i32>,
    /// First network's checkpoint.
    pub a: String,
    /// Second network's checkpoint.
    pub b: String,
    /// Layer 1..8.
    pub layer: i32,
    /// `conv1`..`fc8`.
    pub layer_name: String,
    /// Debiased linear CKA of the two networks' activations after the layer.
    pub cka: f64,
    /// Probe images.
    pub probe: i32,
}

/// The similarity-table columns.
pub fn similarity_columns(rows: &[SimilarityRow]) -> Vec<(&'static str, DataType, bool, ArrayRef)> {
    use DataType::*;
    let m = |g: fn(&SimilarityRow) -> String| s(rows.iter().map(g));
    vec![
        (column::SCHEMA_VERSION, Int32, false, i32s(rows.iter().map(|_| SIMILARITY_SCHEMA_VERSION))),
        (column::PAIR, Utf8, false, m(|r| r.pair.clone())),
        (column::COMPARISON, Utf8, false, m(|r| r.comparison.name().to_string())),
        (column::FAMILY, Utf8, true, so(rows.iter().map(|r| r.family.as_ref().map(Family::to_string)))),
        (column::SPLIT, Utf8, true, so(rows.iter().map(|r| r.split.clone()))),
        (column::REPLICATE, Int32, true, i32o(rows.iter().map(|r| r.replicate))),
        (column::A, Utf8, false, m(|r| r.a.clone())),
        (column::B, Utf8, false, m(|r| r.b.clone())),
        (column::LAYER, Int32, false, i32s(rows.iter().map(|r| r.layer))),
        (column::LAYER_NAME, Utf8, false, m(|r| r.layer_name.clone())),
        (column::CKA, Float64, false, f(rows.iter().map(|r| r.cka))),
        (column::PROBE, Int32, false, i32s(rows.iter().map(|r| r.probe))),
    ]
}

/// A sweep's output folder, the one place its layout is spelled:
///
/// ```text
/// OUT/plan.json                  the plan; a re-run must match it
/// OUT/command.txt                the command that made the sweep
/// OUT/jobs/<id>/                 a job: job.json, checkpoints, log, final.params
/// OUT/records/runs/<id>.parquet  its run record; OUT/records/curves/<id>.parquet its curve
/// OUT/schedule.json              the schedule a pilot found (find_schedule grids)
/// OUT/similarity/cka.parquet     layer similarity between networks
/// OUT/report/                    the analysis; report/filters/<id>.png the bases' conv1 filters
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepLayout {
    /// The sweep's folder.
    pub out: PathBuf,
}

/// A job's final weights, in its folder.
pub const FINAL_PARAMS: &str = "final.params";

impl SweepLayout {
    /// The layout of the sweep folder `out`.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        SweepLayout { out: out.into() }
    }
    /// The plan.
    pub fn plan(&self) -> PathBuf {
        self.out.join("plan.json")
    }
    /// The schedule found from the data by the grid's pilot, with the
    /// pilot's validation curve and cost (`find_schedule` grids only).
    pub fn found_schedule(&self) -> PathBuf {
        self.out.join("schedule.json")
    }
    /// The command that made the sweep.
    pub fn command(&self) -> PathBuf {
        self.out.join("command.txt")
    }
    /// The folder of every job's folder.
    pub fn jobs(&self) -> PathBuf {
        self.out.join("jobs")
    }
    /// A job's folder.
    pub fn job(&self, id: &str) -> PathBuf {
        self.jobs().join(id)
    }
    /// A job's final weights.
    pub fn final_params(&self, id: &str) -> PathBuf {
        self.job(id).join(FINAL_PARAMS)
    }
    /// The records folder ([`run_path`], [`curve_path`] inside it).
    pub fn records(&self) -> PathBuf {
        self.out.join("records")
    }
    /// The similarity table.
    pub fn similarity(&self) -> PathBuf {
        self.out.join("similarity").join("cka.parquet")
    }
    /// The analysis folder.
    pub fn report(&self) -> PathBuf {
        self.out.join("report")
    }
    /// The bases' conv1 filter pictures.
    pub fn filters(&self) -> PathBuf {
        self.report().join("filters")
    }
}

/// Where a sweep's similarity table lives.
pub fn similarity_path(sweep: &Path) -> PathBuf {
    SweepLayout::new(sweep).similarity()
}

/// Write a similarity table (atomically).
pub fn write_similarity(path: &Path, rows: &[SimilarityRow]) -> Result<()> {
    write_parquet(path, batch(similarity_columns(rows)), "{}")
}

/// The run-record schema: each column's name, Arrow type and nullability,
/// in file order (what [`write_run`] writes and [`read_run`] checks).
pub fn run_schema() -> Vec<(&'static str, DataType, bool)> {
    run_columns(&[]).into_iter().map(|(name, ty, nullable, _)| (name, ty, nullable)).collect()
}

/// The curve columns.
pub fn curve_columns(rows: &[CurvePoint]) -> Vec<(&'static str, DataType, bool, ArrayRef)> {
    use DataType::*;
    let fl = |g: fn(&CurvePoint) -> f64| f(rows.iter().map(g));
    vec![
        (column::SCHEMA_VERSION, Int32, false, i32s(rows.iter().map(|_| SCHEMA_VERSION))),
        (column::RUN_ID, Utf8, false, s(rows.iter().map(|r| r.run_id.clone()))),
        (column::ITERATION, Int64, false, i64s(rows.iter().map(|r| r.iteration))),
        (column::LR, Float64, false, fl(|r| r.lr)),
        (column::TRAIN_LOSS, Float64, false, fl(|r| r.train_loss)),
        (column::TEST_LOSS, Float64, false, fl(|r| r.test_loss)),
        (column::TOP1, Float64, false, fl(|r| r.top1)),
        (column::TOP5, Float64, false, fl(|r| r.top5)),
    ]
}

fn batch(cols: Vec<(&'static str, DataType, bool, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols.iter().map(|(n, t, nullable, _)| Field::new(*n, t.clone(), *nullable)).collect();
    let arrays = cols.into_iter().map(|c| c.3).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("columns agree with the schema")
}

/// Write `contents` to `path` through a temporary file in the same folder,
/// renamed into place only when everything was written and synced. On any
/// error the temporary file is removed and `path` is untouched.
pub fn atomic_write(path: &Path, contents: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        contents(&mut f)?;
        f.flush()?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

fn write_parquet(path: &Path, batch: RecordBatch, job_json: &str) -> Result<()> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_key_value_metadata(Some(vec![
            KeyValue::new("transferability.schema_version".into(), SCHEMA_VERSION.to_string()),
            KeyValue::new("transferability.job".into(), job_json.to_string()),
        ]))
        .build();
    atomic_write(path, |f| {
        let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props)).map_err(std::io::Error::other)?;
        w.write(&batch).map_err(std::io::Error::other)?;
        w.close().map_err(std::io::Error::other)?;
        Ok(())
    })
}

/// The run records' folder under a records folder.
pub fn runs_dir(records: &Path) -> PathBuf {
    records.join("runs")
}

/// The curves' folder under a records folder.
pub fn curves_dir(records: &Path) -> PathBuf {
    records.join("curves")
}

/// Where a run's records live under a records folder.
pub fn run_path(records: &Path, run_id: &str) -> PathBuf {
    runs_dir(records).join(format!("{run_id}.parquet"))
}

/// Where a run's curve lives under a records folder.
pub fn curve_path(records: &Path, run_id: &str) -> PathBuf {
    curves_dir(records).join(format!("{run_id}.parquet"))
}

/// Write a run's curve, then its result (the result last: it marks the job done).
pub fn write_run(records: &Path, run: &RunRecord, curve: &[CurvePoint], job_json: &str) -> Result<()> {
    write_parquet(&curve_path(records, &run.run_id), batch(curve_columns(curve)), job_json)?;
    write_parquet(&run_path(records, &run.run_id), batch(run_columns(std::slice::from_ref(run))), job_json)
}

/// The job a record was written for: its `transferability.job` metadata
/// (the job file's JSON), `None` where the file has none.
pub fn read_job_json(path: &Path) -> Result<Option<String>> {
    let bad = |m: String| Error::Record { path: path.to_path_buf(), message: m };
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| bad(format!("not Parquet: {e}")))?;
    let kv = builder.metadata().file_metadata().key_value_metadata();
    Ok(kv.and_then(|kv| kv.iter().find(|k| k.key == "transferability.job")).and_then(|k| k.value.clone()))
}

fn read_batches(path: &Path) -> Result<Vec<RecordBatch>> {
    let bad = |m: String| Error::Record { path: path.to_path_buf(), message: m };
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| bad(format!("not Parquet: {e}")))?.build().map_err(|e| bad(e.to_string()))?;
    reader.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))
}

/// Read and validate a run record: schema version, every column, one row.
pub fn read_run(path: &Path) -> Result<RunRecord> {
    let bad = |m: String| Error::Record { path: path.to_path_buf(), message: m };
    let batches = read_batches(path)?;
    let b = batches.first().ok_or_else(|| bad("no rows".into()))?;
    // the version first: a record of another version is named as such, not
    // by the first column that differs
    if let Some(v) = b.column_by_name("schema_version").and_then(|c| c.as_any().downcast_ref::<Int32Array>().filter(|a| !a.is_empty()).map(|a| a.value(0)))
        && !READS.contains(&v)
    {
        return Err(bad(format!("schema version {v}, this build reads {READS:?}")));
    }
    let version = b.column_by_name("schema_version").and_then(|c| c.as_any().downcast_ref::<Int32Array>().map(|a| a.value(0))).unwrap_or(-1);
    for (name, ty, _, _) in run_columns(&[]) {
        if version < 3 && SINCE_3.contains(&name) {
            continue;
        }
        let col = b.column_by_name(name).ok_or_else(|| bad(format!("column `{name}` missing (schema version {version} expects it)")))?;
        if col.data_type() != &ty {
            return Err(bad(format!("column `{name}` is {}, expected {ty}", col.data_type())));
        }
    }
    let get = |n: &str| b.column_by_name(n).expect("checked above").clone();
    let st = |n: &str| get(n).as_any().downcast_ref::<StringArray>().map(|a| a.value(0).to_string()).unwrap_or_default();
    let since3 = |n: &str| if version >= 3 { st(n) } else { String::new() };
    let sto = |n: &str| get(n).as_any().downcast_ref::<StringArray>().and_then(|a| (!a.is_null(0)).then(|| a.value(0).to_string()));
    let fl = |n: &str| get(n).as_any().downcast_ref::<Float64Array>().map_or(f64::NAN, |a| a.value(0));
    let i3 = |n: &str| get(n).as_any().downcast_ref::<Int32Array>().map_or(0, |a| a.value(0));
    let i3o = |n: &str| get(n).as_any().downcast_ref::<Int32Array>().and_then(|a| (!a.is_null(0)).then(|| a.value(0)));
    let i6 = |n: &str| get(n).as_any().downcast_ref::<Int64Array>().map_or(0, |a| a.value(0));
    let bo = |n: &str| get(n).as_any().downcast_ref::<BooleanArray>().is_some_and(|a| a.value(0));
    if !READS.contains(&version) {
        return Err(bad(format!("schema version {version}, this build reads {READS:?}")));
    }
    if b.num_rows() != 1 {
        return Err(bad(format!("expected one row, found {}", b.num_rows())));
    }
    // a value the protocol has no word for is an error naming its column, not a silently odd record
    fn word<T: std::str::FromStr<Err = String>>(path: &Path, name: &str, v: String) -> Result<T> {
        v.parse().map_err(|e: String| Error::Record { path: path.to_path_buf(), message: format!("column `{name}`: {e}") })
    }
    Ok(RunRecord {
        run_id: st("run_id"),
        dataset: st("dataset"),
        dataset_fingerprint: st("dataset_fingerprint"),
        family: word(path, "family", st("family"))?,
        arm: word(path, "arm", st("arm"))?,
        split: st("split"),
        source_half: sto("source_half").map(|h| word(path, "source_half", h)).transpose()?,
        target_half: word(path, "target_half", st("target_half"))?,
        n: i3("n"),
        k: i3o("k"),
        fine_tuned: bo("fine_tuned"),
        model: st("model"),
        num_classes: i3("num_classes"),
        num_outputs: i3("num_outputs"),
        seed: i6("seed"),
        replicate: i3("replicate"),
        status: word(path, "status", st("status"))?,
        failure: sto("failure"),
        top1: fl("top1"),
        top1_last: fl("top1_last"),
        top1_max: fl("top1_max"),
        top5: fl("top5"),
        top5_last: fl("top5_last"),
        test_loss_last: fl("test_loss_last"),
        train_loss_last: fl("train_loss_last"),
        n_evals: i3("n_evals"),
        iterations: i6("iterations"),
        batch_size: i3("batch_size"),
        wall_seconds: fl("wall_seconds"),
        cpu_seconds: fl("cpu_seconds"),
        data_wait_seconds: fl("data_wait_seconds"),
        threads: i3("threads"),
        backend: st("backend"),
        cpu: since3(column::CPU),
        isa: since3(column::ISA),
        weights_sha256: st("weights_sha256"),
        cached_prefix: bo("cached_prefix"),
        test_images: i3("test_images"),
        plateau_gain: fl("plateau_gain"),
        plateau_tolerance: fl("plateau_tolerance"),
        converged: bo("converged"),
    })
}

/// Read a curve file.
pub fn read_curve(path: &Path) -> Result<Vec<CurvePoint>> {
    let mut out = Vec::new();
    for b in read_batches(path)? {
        let col = |n: &str| b.column_by_name(n).cloned().ok_or_else(|| Error::Record { path: path.to_path_buf(), message: format!("column `{n}` missing") });
        let (id, it) = (col("run_id")?, col("iteration")?);
        let (id, it) = (id.as_any().downcast_ref::<StringArray>(), it.as_any().downcast_ref::<Int64Array>());
        let fls: Vec<ArrayRef> = ["lr", "train_loss", "test_loss", "top1", "top5"].iter().map(|n| col(n)).collect::<Result<_>>()?;
        let fv = |k: usize, i: usize| fls[k].as_any().downcast_ref::<Float64Array>().map_or(f64::NAN, |a| a.value(i));
        let (Some(id), Some(it)) = (id, it) else {
            return Err(Error::Record { path: path.to_path_buf(), message: "run_id/iteration of the wrong type".into() });
        };
        for i in 0..b.num_rows() {
            out.push(CurvePoint {
                run_id: id.value(i).to_string(),
                iteration: it.value(i),
                lr: fv(0, i),
                train_loss: fv(1, i),
                test_loss: fv(2, i),
                top1: fv(3, i),
                top5: fv(4, i),
            });
        }
    }
    Ok(out)
}

/// Mean of the `k` largest values (all of them if fewer): the authors' metric with k = 10.
pub fn mean_of_best(values: &[f64], k: usize) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| b.total_cmp(a));
    let top = &v[..k.min(v.len())];
    top.iter().sum::<f64>() / top.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(run_id: &str) -> RunRecord {
        RunRecord {
            run_id: run_id.into(),
            dataset: "synthetic:x".into(),
            dataset_fingerprint: "abc".into(),
            family: Family::Random,
            arm: ArmLabel::AnB,
            split: "0".into(),
            source_half: Some(Half::a()),
            target_half: Half::b(),
            n: 3,
            k: None,
            fine_tuned: false,
            model: "tiny".into(),
            num_classes: 10,
            num_outputs: 10,
            seed: 7,
            replicate: 0,
            status: Status::Ok,
            failure: None,
            top1: 0.5,
            top1_last: 0.49,
            top1_max: 0.52,
            top5: 0.9,
            top5_last: 0.9,
            test_loss_last: 1.2,
            train_loss_last: 1.0,
            n_evals: 20,
            iterations: 400,
            batch_size: 32,
            wall_seconds: 10.0,
            cpu_seconds: 15.0,
            data_wait_seconds: 0.1,
            threads: 1,
            backend: "flex".into(),
            cpu: "AMD EPYC 7B13 64-Core Processor, family 25".into(),
            isa: "avx2".into(),
            weights_sha256: "ff".into(),
            cached_prefix: false,
            test_images: 300,
            plateau_gain: 0.002,
            plateau_tolerance: 0.029,
            converged: true,
        }
    }

    #[test]
    fn run_and_curve_round_trip() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = sample("r0-transfer-A-B-n3");
        let curve = vec![CurvePoint { run_id: r.run_id.clone(), iteration: 20, lr: 0.01, train_loss: 2.0, test_loss: 2.1, top1: 0.3, top5: 0.7 }];
        write_run(dir.path(), &r, &curve, "{}").expect("write");
        assert_eq!(read_run(&run_path(dir.path(), &r.run_id)).expect("read"), r);
        assert_eq!(read_curve(&curve_path(dir.path(), &r.run_id)).expect("read"), curve);
    }

    /// A record of schema version 2 (no `cpu`, no `isa`) is still read,
    /// those two empty; one of version 1 is refused by its version.
    #[test]
    fn a_version_2_record_is_read_without_its_machine() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = sample("r0-transfer-A-B-n3");
        let write = |version: i32| {
            let cols: Vec<(&str, DataType, bool, ArrayRef)> = run_columns(std::slice::from_ref(&r))
                .into_iter()
                .filter(|(name, ..)| !SINCE_3.contains(name))
                .map(|(name, ty, null, a)| if name == column::SCHEMA_VERSION { (name, ty, null, i32s([version])) } else { (name, ty, null, a) })
                .collect();
            let path = run_path(dir.path(), &r.run_id);
            write_parquet(&path, batch(cols), "{}").expect("write");
            read_run(&path)
        };
        let old = write(2).expect("a version 2 record");
        assert_eq!(old, RunRecord { cpu: String::new(), isa: String::new(), ..r.clone() });
        let e = write(1).expect_err("version 1").to_string();
        assert!(e.contains("schema version 1, this build reads [2, 3]"), "{e}");
    }

    /// A value the protocol has no word for (an arm label, a half that
    /// breaks ids, a status) is refused by the reader, naming its column.
    #[test]
    fn a_record_with_an_unknown_word_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = sample("r0-transfer-A-B-n3");
        for (column, value, why) in
            [("arm", "AnB++", "unknown arm label `AnB++`"), ("target_half", "B-2", "half `B-2` must be one word"), ("status", "done", "unknown status")]
        {
            let cols: Vec<(&str, DataType, bool, ArrayRef)> = run_columns(std::slice::from_ref(&r))
                .into_iter()
                .map(|(name, ty, null, a)| if name == column { (name, ty, null, s([value.to_string()])) } else { (name, ty, null, a) })
                .collect();
            let path = run_path(dir.path(), &r.run_id);
            write_parquet(&path, batch(cols), "{}").expect("write");
            let e = read_run(&path).expect_err("refused").to_string();
            assert!(e.contains(&format!("column `{column}`: ")) && e.contains(why), "{e}");
        }
    }

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("runs/x.parquet");
        let e = atomic_write(&p, |f| {
            f.write_all(b"partial")?;
            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device"))
        });
        assert!(e.expect_err("error").to_string().contains("No space left"));
        assert!(!p.exists());
        assert_eq!(std::fs::read_dir(dir.path().join("runs")).expect("dir").count(), 0, "no temporary file remains");
    }

    #[test]
    fn dictionary_documents_every_column() {
        let dict = include_str!("../../docs/DATA_DICTIONARY.md");
        let section = |title: &str| dict.split("\n## ").find(|s| s.starts_with(title)).unwrap_or_else(|| panic!("a section {title}")).to_string();
        let tables =
            [("`runs/*.parquet`", run_columns(&[])), ("`curves/*.parquet`", curve_columns(&[])), ("`similarity/cka.parquet`", similarity_columns(&[]))];
        for (title, columns) in tables {
            let section = section(title);
            let documented: Vec<&str> = section.lines().filter_map(|l| l.strip_prefix("| `")?.split('`').next()).collect();
            let written: Vec<&str> = columns.iter().map(|c| c.0).collect();
            assert_eq!(documented, written, "the columns of {title} in DATA_DICTIONARY.md, in order");
            for (name, ty, nullable, _) in &columns {
                let row = format!("| `{name}` | {ty:?} | {} |", if *nullable { "yes" } else { "no" });
                assert!(section.contains(&row), "DATA_DICTIONARY.md should document {row}");
            }
        }
        assert!(dict.contains(&format!("Schema version: {SCHEMA_VERSION}")));
    }

    #[test]
    fn authors_metric_is_mean_of_ten_best() {
        let v: Vec<f64> = (0..30).map(f64::from).collect();
        assert_eq!(mean_of_best(&v, 10), 24.5);
        assert_eq!(mean_of_best(&[0.2, 0.4], 10), 0.30000000000000004);
        assert!(mean_of_best(&[f64::NAN], 10).is_nan());
    }
}
