//! Inputs as one canonical table of networks, one row each:
//!
//! | column | meaning |
//! |---|---|
//! | `origin` | `runs` (records of this tool) or `paper` (the authors') |
//! | `run_id`, `dataset`, `dataset_fingerprint` | identity |
//! | `family`, `arm`, `split`, `source_half`, `target_half`, `n`, `k`, `fine_tuned` | the protocol cell |
//! | `replicate` | replicate index (the unit: a random split, its replicates averaged; a fixed split's replicate) |
//! | `status`, `top1`, `test_loss`, `train_loss`, `failure`, `cpu_seconds` | the result |
//! | `converged` | whether the network had converged (`records::plateau`), judged again from its curve where the curve lies beside the record; null where unknown |
//! | `cached_prefix` | frozen layers came from the prefix cache (K augmented passes per image) |
//!
//! Run records are scanned lazily with Polars, file by file, each checked
//! against the schema of `docs/DATA_DICTIONARY.md` (columns, types,
//! `schema_version`) so that an error names the file and the column.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use records::{ArmLabel, Family, Half, Status, column};

use crate::error::{Error, Result};
use crate::vocab::{ORIGIN, Origin};

use records::READS;

/// The authors' per-network results (docs/PROTOCOL.md §g).
pub const PAPER_RESULTS: &str = include_str!("../data/paper_results.csv");
/// The authors' test curves.
pub const PAPER_CURVES: &str = include_str!("../data/paper_curves.csv");
/// The column of the authors' tables naming a network (their folder).
pub const NETWORK: &str = "network";

/// Columns a run record must have for the analysis; their types are the
/// ones the `records` crate writes ([`records::run_schema`]).
pub const REQUIRED: [&str; 17] = [
    column::SCHEMA_VERSION,
    column::RUN_ID,
    column::DATASET,
    column::DATASET_FINGERPRINT,
    column::FAMILY,
    column::ARM,
    column::SPLIT,
    column::TARGET_HALF,
    column::N,
    column::REPLICATE,
    column::FINE_TUNED,
    column::CONVERGED,
    column::CACHED_PREFIX,
    column::BACKEND,
    column::STATUS,
    column::TOP1,
    column::TEST_LOSS_LAST,
];

/// The Polars type of a column the `records` crate writes as `ty`.
fn polars_type(ty: &records::ArrowType) -> DataType {
    use records::ArrowType as A;
    match ty {
        A::Utf8 => DataType::String,
        A::Int32 => DataType::Int32,
        A::Int64 => DataType::Int64,
        A::Float64 => DataType::Float64,
        A::Boolean => DataType::Boolean,
        other => unreachable!("the records crate writes no {other:?} column"),
    }
}

/// The required columns with the types the records crate writes.
fn required() -> Vec<(&'static str, DataType)> {
    let schema = records::run_schema();
    REQUIRED
        .iter()
        .map(|name| {
            let (_, ty, _) = schema.iter().find(|(n, ..)| n == name).unwrap_or_else(|| panic!("`{name}` is not a run-record column"));
            (*name, polars_type(ty))
        })
        .collect()
}

fn canonical(lf: LazyFrame) -> LazyFrame {
    lf.select([
        col(ORIGIN),
        col(column::RUN_ID),
        col(column::DATASET),
        col(column::DATASET_FINGERPRINT),
        col(column::FAMILY),
        col(column::ARM),
        col(column::SPLIT).cast(DataType::String),
        col(column::SOURCE_HALF).cast(DataType::String),
        col(column::TARGET_HALF).cast(DataType::String),
        col(column::N).cast(DataType::Int32),
        col(column::REPLICATE).cast(DataType::Int32),
        col(column::K).cast(DataType::Int32),
        col(column::FINE_TUNED).cast(DataType::Boolean),
        col(column::STATUS),
        col(column::TOP1).cast(DataType::Float64),
        col(column::TEST_LOSS).cast(DataType::Float64),
        col(column::TRAIN_LOSS).cast(DataType::Float64),
        col(column::FAILURE).cast(DataType::String),
        col(column::CPU_SECONDS).cast(DataType::Float64),
        col(column::CONVERGED).cast(DataType::Boolean),
        col(column::CACHED_PREFIX).cast(DataType::Boolean),
        col(column::BACKEND).cast(DataType::String),
        col(column::ISA).cast(DataType::String),
    ])
}

/// The authors' results as the canonical table (every one of the 170
/// networks; those without a log are `failed`).
pub fn paper() -> Result<LazyFrame> {
    let raw = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(500))
        .into_reader_with_file_handle(Cursor::new(PAPER_RESULTS.as_bytes()))
        .finish()?;
    let converged = paper_convergence(&raw)?;
    let raw = raw.hstack(&[Column::new(column::CONVERGED.into(), converged)])?;
    // the authors' folders' families (their words) as the records' family and arm
    let fam = || col(column::FAMILY);
    let family = when(fam().eq(lit("natman_base")).or(fam().eq(lit("natman_transfer"))))
        .then(lit(Family::Natman.name()))
        .when(fam().eq(lit("netbase")).or(fam().eq(lit("nolearn"))).or(fam().eq(lit("reduced"))))
        .then(lit(Family::Whole.name()))
        .otherwise(lit(Family::Random.name()));
    let arm = when(fam().eq(lit("selffer")))
        .then(lit(ArmLabel::BnB.name()))
        .when(fam().eq(lit("selffer_ft")))
        .then(lit(ArmLabel::BnBPlus.name()))
        .when(fam().eq(lit("transfer")).or(fam().eq(lit("natman_transfer"))))
        .then(lit(ArmLabel::AnB.name()))
        .when(fam().eq(lit("transfer_ft")))
        .then(lit(ArmLabel::AnBPlus.name()))
        .when(fam().eq(lit("nolearn")))
        .then(lit(ArmLabel::Nolearn.name()))
        .when(fam().eq(lit("reduced")))
        .then(lit(ArmLabel::Reduced.name()))
        .otherwise(lit(ArmLabel::Base.name()));
    let lf = raw.lazy().with_columns([
        lit(Origin::Paper.name()).alias(ORIGIN),
        col(NETWORK).alias(column::RUN_ID),
        lit("ILSVRC-2012 (Yosinski et al. 2014)").alias(column::DATASET),
        lit(Origin::Paper.name()).alias(column::DATASET_FINGERPRINT),
        family.alias("family_out"),
        arm.alias(column::ARM),
        col(column::TARGET_HALF).cast(DataType::String).fill_null(lit(Half::whole().to_string())).alias(column::TARGET_HALF),
        col(column::N).cast(DataType::Int32).fill_null(lit(0)).alias(column::N),
        col("reduced_per_class").cast(DataType::Int32).alias(column::K),
        when(col("has_log")).then(lit(Status::Ok.name())).otherwise(lit(Status::Failed.name())).alias(column::STATUS),
        col("test_loss_mean_lowest10").alias(column::TEST_LOSS),
        col("train_loss_mean_lowest10").alias(column::TRAIN_LOSS),
        when(col("has_log"))
            .then(lit(NULL).cast(DataType::String))
            .otherwise(lit("no training log in the authors' folder (prototxt only)"))
            .alias(column::FAILURE),
        lit(f64::NAN).alias(column::CPU_SECONDS),
        lit(0i32).alias(column::REPLICATE),
        lit(false).alias(column::CACHED_PREFIX),
        lit("caffe").alias(column::BACKEND),
        lit(NULL).cast(DataType::String).alias(column::ISA),
    ]);
    let lf = lf.drop(cols([column::FAMILY])).rename(["family_out"], [column::FAMILY], true);
    Ok(canonical(lf))
}

/// The convergence verdict ([`records::plateau`]) of each of the authors'
/// networks that has a test curve, in `raw`'s row order, with the rates of
/// their step schedule
/// (docs/PROTOCOL.md §b: × 0.1 every 100,000 iterations; the reduced-data networks
/// every 64,000). Null for networks without a curve.
fn paper_convergence(raw: &DataFrame) -> Result<Vec<Option<bool>>> {
    let curves = paper_curves()?.sort([NETWORK, column::ITERATION], SortMultipleOptions::default())?;
    let (net, it, top1) = (curves.column(NETWORK)?.str()?, curves.column(column::ITERATION)?.cast(&DataType::Int64)?, curves.column(column::TOP1)?.f64()?);
    let it = it.i64()?;
    let mut by_net: std::collections::HashMap<&str, (Vec<i64>, Vec<f64>)> = std::collections::HashMap::new();
    for i in 0..curves.height() {
        if let (Some(n), Some(k), Some(t)) = (net.get(i), it.get(i), top1.get(i)) {
            let e = by_net.entry(n).or_default();
            e.0.push(k);
            e.1.push(t);
        }
    }
    let names = raw.column(NETWORK)?.str()?;
    let families = raw.column(column::FAMILY)?.str()?;
    Ok((0..raw.height())
        .map(|i| {
            let (its, top1) = by_net.get(names.get(i)?)?;
            let (base_lr, step) = if families.get(i) == Some("reduced") { (0.0125, 64_000) } else { (0.01, 100_000) };
            let lr = records::step_rates(its, base_lr, 0.1, step);
            let curve: Vec<records::Eval> = its.iter().zip(lr).zip(top1).map(|((&iteration, lr), &top1)| records::Eval { iteration, lr, top1 }).collect();
            Some(records::plateau(&curve).converged)
        })
        .collect())
}

/// Every `*.parquet` run record under `path`: a file, a folder of records,
/// a sweep's `records/` folder (its `runs/`), or a sweep folder.
pub fn record_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    for dir in [records::runs_dir(&records::SweepLayout::new(path).records()), records::runs_dir(path), path.to_path_buf()] {
        if !dir.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        if !files.is_empty() {
            files.sort();
            return Ok(files);
        }
    }
    Err(Error::Input(format!("{}: no run records (*.parquet) found", path.display())))
}

fn scan(path: &Path) -> Result<LazyFrame> {
    let p = PlRefPath::new(path.to_string_lossy().as_ref());
    Ok(LazyFrame::scan_parquet(p, ScanArgsParquet::default())?)
}

/// Scan and validate run records; one lazy frame in the canonical layout.
pub fn runs(files: &[PathBuf]) -> Result<LazyFrame> {
    let mut frames = Vec::with_capacity(files.len());
    for f in files {
        let bad = |m: String| Error::Schema { path: f.clone(), message: m };
        let mut lf = scan(f).map_err(|e| bad(format!("not a Parquet run record: {e}")))?;
        let schema = lf.collect_schema().map_err(|e| bad(e.to_string()))?;
        if schema.get(column::SCHEMA_VERSION) != Some(&DataType::Int32) {
            return Err(bad("column `schema_version` (Int32) missing: not a run record".into()));
        }
        // the version first: a record of another version is named as such
        let v = lf.clone().select([col(column::SCHEMA_VERSION).max()]).collect()?;
        let version = v.column(column::SCHEMA_VERSION)?.i32()?.get(0).unwrap_or(-1);
        if !READS.contains(&version) {
            return Err(bad(format!("schema version {version}, this build reads versions {READS:?}")));
        }
        for (name, ty) in &required() {
            match schema.get(name) {
                None => return Err(bad(format!("column `{name}` missing (schema version {version} requires it)"))),
                Some(t) if t != ty => return Err(bad(format!("column `{name}` is {t}, schema version {version} has {ty}"))),
                _ => {}
            }
        }
        let k = if schema.get(column::K).is_some() { col(column::K) } else { lit(NULL).cast(DataType::Int32).alias(column::K) };
        let src =
            if schema.get(column::SOURCE_HALF).is_some() { col(column::SOURCE_HALF) } else { lit(NULL).cast(DataType::String).alias(column::SOURCE_HALF) };
        let train = if schema.get(column::TRAIN_LOSS_LAST).is_some() { col(column::TRAIN_LOSS_LAST) } else { lit(f64::NAN) };
        let failure = if schema.get(column::FAILURE).is_some() { col(column::FAILURE) } else { lit(NULL).cast(DataType::String) };
        let cpu = if schema.get(column::CPU_SECONDS).is_some() { col(column::CPU_SECONDS) } else { lit(f64::NAN) };
        // the level the kernels ran at: since schema version 3
        let isa = if schema.get(column::ISA).is_some() { col(column::ISA) } else { lit(NULL).cast(DataType::String) };
        // convergence judged again from the curve beside the record, by this build's rule
        let converged = match rejudge(f)? {
            Some(Some(c)) => lit(c),
            Some(None) => lit(NULL).cast(DataType::Boolean),
            None => col(column::CONVERGED),
        };
        frames.push(canonical(lf.with_columns([
            converged.alias(column::CONVERGED),
            lit(Origin::Runs.name()).alias(ORIGIN),
            k,
            src,
            col(column::TEST_LOSS_LAST).alias(column::TEST_LOSS),
            train.alias(column::TRAIN_LOSS),
            failure.alias(column::FAILURE),
            cpu.alias(column::CPU_SECONDS),
            isa.alias(column::ISA),
        ])));
    }
    if frames.is_empty() {
        return Err(Error::Input("no run records given".into()));
    }
    Ok(concat(frames, UnionArgs::default())?)
}

/// The convergence verdict of `record`'s network by this build's rule
/// ([`records::plateau`]) from its curve (`../curves/<id>.parquet` beside
/// `runs/<id>.parquet`, as sweeps write them), so that records written
/// under an older rule are judged by the current one: `Some(None)` where
/// the rule cannot judge it (too few evaluations: unknown, not
/// unconverged). None where there is no curve, or an empty one: the
/// record's own verdict stands.
fn rejudge(record: &Path) -> Result<Option<Option<bool>>> {
    let curve = match (record.parent().and_then(Path::parent), record.file_name()) {
        (Some(dir), Some(name)) => records::curves_dir(dir).join(name),
        _ => return Ok(None),
    };
    if !curve.is_file() {
        return Ok(None);
    }
    let points = records::read_curve(&curve).map_err(|e| Error::Schema { path: curve.clone(), message: e.to_string() })?;
    let evals: Vec<records::Eval> = points.iter().map(records::Eval::from).collect();
    Ok((!evals.is_empty()).then(|| {
        let p = records::plateau(&evals);
        (p.why != Some(records::Why::CannotJudge)).then_some(p.converged)
    }))
}

/// Refuse rows whose protocol words (`arm`, `status`, `family`,
/// `target_half`, `source_half`) are not the protocol's, naming the run and
/// the column: a record written by another tool, or edited, must not be
/// analysed as some other cell. The words are `records`' types.
pub fn check_words(df: &DataFrame) -> Result<()> {
    let ids = df.column(column::RUN_ID)?.str()?;
    type Check = fn(&str) -> std::result::Result<(), String>;
    // (column, the word's check, whether every network has one: only bases lack a source half)
    let checks: [(&str, Check, bool); 5] = [
        (column::ARM, |v| v.parse::<records::ArmLabel>().map(drop), true),
        (column::STATUS, |v| v.parse::<records::Status>().map(drop), true),
        (column::FAMILY, |v| v.parse::<records::Family>().map(drop), true),
        (column::TARGET_HALF, |v| v.parse::<records::Half>().map(drop), true),
        (column::SOURCE_HALF, |v| v.parse::<records::Half>().map(drop), false),
    ];
    for (name, check, required) in checks {
        for (i, v) in df.column(name)?.str()?.iter().enumerate() {
            let bad = match v {
                Some(v) => check(v).err(),
                None if required => Some("missing (null)".to_string()),
                None => None,
            };
            if let Some(e) = bad {
                return Err(Error::Input(format!("run `{}`: column `{name}`: {e}", ids.get(i).unwrap_or("?"))));
            }
        }
    }
    Ok(())
}

/// Refuse records of different data sets unless `allow`.
pub fn check_single_dataset(df: &DataFrame, allow: bool) -> Result<()> {
    let runs = df
        .clone()
        .lazy()
        .filter(col(ORIGIN).eq(lit(Origin::Runs.name())))
        .select([col(column::DATASET_FINGERPRINT), col(column::DATASET)])
        .unique(None, UniqueKeepStrategy::First)
        .collect()?;
    if runs.height() > 1 && !allow {
        let ds = runs.column(column::DATASET)?.str()?;
        let names: Vec<String> = (0..ds.len()).filter_map(|i| ds.get(i)).map(str::to_string).collect();
        return Err(Error::Input(format!(
            "records come from {} different data sets ({}); analyse them separately or pass --allow-mixed",
            runs.height(),
            names.join("; ")
        )));
    }
    Ok(())
}

/// The authors' test curves: `network, iteration, top1, loss`.
pub fn paper_curves() -> Result<DataFrame> {
    Ok(CsvReadOptions::default().with_has_header(true).into_reader_with_file_handle(Cursor::new(PAPER_CURVES.as_bytes())).finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A network without an arm, status, family or target half (a record
    /// written by hand, say) is refused, naming it; only a base lacks a
    /// source half.
    #[test]
    fn a_missing_protocol_word_is_refused_naming_the_run() {
        let frame = |family: Option<&str>| {
            df!(
                column::RUN_ID => ["r0-base-A", "r0-transfer-B-A-n3"],
                column::ARM => ["base", "AnB"],
                column::STATUS => ["ok", "ok"],
                column::FAMILY => [Some("random"), family],
                column::TARGET_HALF => ["A", "A"],
                column::SOURCE_HALF => [None, Some("B")],
            )
            .expect("df")
        };
        check_words(&frame(Some("random"))).expect("a base without a source half is whole");
        let e = check_words(&frame(None)).expect_err("no family").to_string();
        assert!(e.contains("run `r0-transfer-B-A-n3`: column `family`: missing"), "{e}");
    }
}
