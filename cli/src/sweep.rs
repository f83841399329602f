//! A sweep as two library calls: [`estimate`] (what `--dry-run` says: the
//! splits checked against the data, the jobs and their measured cost) and
//! [`prepare`] and [`run`] (check the data, write the plan and the
//! command; then train through an executor, then layer similarity and the
//! analysis).

use std::path::{Path, PathBuf};

use data_split::{DataSet, DataSpec};
use transfer::executor::{self, LocalOptions, SlurmOptions, SweepReport};
use transfer::plan::{Plan, SweepConfig};
use transfer::record::SweepLayout;

/// What a sweep can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Training side.
    #[error(transparent)]
    Transfer(#[from] transfer::Error),
    /// Analysis side.
    #[error(transparent)]
    Analysis(#[from] analysis::Error),
    /// The data.
    #[error(transparent)]
    Data(#[from] data_split::Error),
    /// A file of the sweep folder.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A split of the grid that does not fit the data.
    #[error("the grid's split `{split}` does not fit --data: {source}")]
    Split {
        /// The split's id.
        split: String,
        /// Why.
        source: transfer::Error,
    },
}

/// This module's results.
pub type Result<T> = std::result::Result<T, Error>;

/// Every split of the grid resolved on the data (class names checked):
/// the number of distinct splits.
pub fn check_splits(plan: &Plan, data: &DataSpec, ds: &DataSet) -> Result<usize> {
    let mut checked = Vec::new();
    for j in &plan.jobs {
        if !checked.contains(&j.job.split) {
            transfer::spec::resolve_split(&j.job.split, data, ds).map_err(|source| Error::Split { split: j.job.split_id.clone(), source })?;
            checked.push(j.job.split.clone());
        }
    }
    Ok(checked.len())
}

/// What `--dry-run` reports of a plan.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// The splits checked and the data's classes, or why the data did not open.
    pub splits: std::result::Result<(usize, usize), String>,
    /// Training image-steps of every job.
    pub image_steps: f64,
    /// fc8's width the estimate assumed, and whether it had to guess it.
    pub outputs: (usize, bool),
    /// Training images per CPU-second of one job thread, measured now.
    pub speed: f64,
}

/// The dry run's numbers: the splits checked against the data where the
/// data open, and the grid's cost from a few training steps measured on
/// this machine ([`transfer::plan::calibrate`]).
pub fn estimate(cfg: &SweepConfig, plan: &Plan) -> Result<Estimate> {
    let splits = match DataSet::open(&cfg.data) {
        Ok(ds) => Ok((check_splits(plan, &cfg.data, &ds)?, ds.train.class_names().len())),
        Err(e) => Err(e.to_string()),
    };
    // fc8's width: the data's classes where they opened (a half has fewer: the estimate errs high)
    let outputs = match (cfg.outputs, &splits) {
        (transfer::Outputs::Fixed(n), _) => (n, false),
        (transfer::Outputs::Classes, Ok((_, classes))) => (*classes, false),
        (transfer::Outputs::Classes, Err(_)) => (10, true),
    };
    let speed = transfer::plan::calibrate(cfg.model, outputs.0, cfg.schedule.batch_size)?;
    Ok(Estimate { splits, image_steps: plan.image_steps() as f64, outputs, speed })
}

/// Find a configuration's schedule from the data
/// ([`transfer::plan::find::resolve`]): the pilot trains here (where the
/// sweep command runs, whatever the executor), on `threads` threads and
/// the grid's backend (its first GPU for a CUDA one), unless the sweep
/// folder `out` holds its result; another sweep's folder is refused unless
/// `force`.
pub fn find_schedule(cfg: &SweepConfig, out: &Path, threads: usize, backend: &executor::JobBackend, force: bool) -> Result<transfer::plan::find::Resolved> {
    let backend = model::backend::Backend::parse(&backend.on_gpu(0)).map_err(|e| transfer::Error::Plan(format!("--backend: {e}")))?;
    let opts = transfer::train::RunOptions { threads, backend, ..Default::default() };
    Ok(transfer::plan::find::resolve(cfg, out, &opts, force)?)
}

/// How the jobs are run.
#[derive(Debug, Clone)]
pub enum Executor {
    /// Subprocesses on this machine.
    Local(LocalOptions),
    /// A real Slurm.
    Slurm(SlurmOptions),
}

/// What [`prepare`] found and did before anything trains.
#[derive(Debug)]
pub struct Prepared {
    /// The data, as opened: description, training images, classes.
    pub data: (String, usize, usize),
    /// Bases taken from an earlier run of the grid (`bases_from`).
    pub adopted: Option<Vec<transfer::spec::JobId>>,
}

/// Before anything trains: the data must open and fit every split; then
/// the plan (refusing a different one unless `force`) and the command line
/// are written into the sweep folder, and finished bases are taken from
/// `bases_from`.
pub fn prepare(cfg: &SweepConfig, plan: &Plan, force: bool, bases_from: Option<&Path>, command: &[String]) -> Result<Prepared> {
    let ds = DataSet::open(&cfg.data)?;
    let data = (ds.train.describe(), ds.train.len(), ds.train.class_names().len());
    check_splits(plan, &cfg.data, &ds)?;
    std::fs::create_dir_all(&plan.out).map_err(|source| Error::Io { path: plan.out.clone(), source })?;
    plan.write(force)?;
    let adopted = match bases_from {
        Some(from) => Some(executor::adopt_bases(plan, from)?),
        None => None,
    };
    let file = SweepLayout::new(&plan.out).command();
    std::fs::write(&file, format!("{}\n", command.join(" "))).map_err(|source| Error::Io { path: file.clone(), source })?;
    Ok(Prepared { data, adopted })
}

/// What [`run`] did.
#[derive(Debug)]
pub struct Outcome {
    /// Every job's state.
    pub report: SweepReport,
    /// The similarity table written, if any.
    pub similarity: Option<PathBuf>,
    /// The report written, if any.
    pub analysis: Option<PathBuf>,
}

/// Train a prepared sweep's jobs through `executor`; then, where any
/// finished and `report` asks for it, layer similarity and the analysis
/// into the sweep folder.
pub fn run(plan: &Plan, executor: &Executor, report: bool) -> Result<Outcome> {
    let states = match executor {
        Executor::Local(o) => executor::run_local(plan, o)?,
        Executor::Slurm(o) => executor::run_slurm(plan, o)?,
    };
    let (mut similarity, mut analysis) = (None, None);
    if report && states.jobs.iter().any(|(_, s)| matches!(s, executor::JobState::Done | executor::JobState::AlreadyDone)) {
        similarity = transfer::similarity::sweep_similarity(plan, 500)?;
        let out = analysis::analyze(&analysis::AnalyzeOptions {
            runs: vec![plan.out.clone()],
            reference_paper: false,
            out: SweepLayout::new(&plan.out).report(),
            allow_mixed: false,
        })?;
        analysis = Some(out.report);
    }
    Ok(Outcome { report: states, similarity, analysis })
}
