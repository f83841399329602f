//! Job descriptions: the documented job file format (`job.json`).
//!
//! A job is one network of the protocol:
//!
//! | arm | what is trained | layers 1..n |
//! |---|---|---|
//! | `base` | all 8 layers from Caffe's fillers on the target half | — |
//! | `selffer` | layers n+1..8 fresh, on the same half as the source base (BnB) | copied from that base |
//! | `transfer` | layers n+1..8 fresh, on the other half (AnB) | copied from the other half's base |
//! | `nolearn` | layers n+1..8, on the whole set | random (Caffe's fillers), frozen |
//! | `reduced` | all layers, on the first k examples per class | — |
//!
//! `fine_tune: true` makes the `+` arms: copied layers train at the same rate
//! as the rest. Transferred jobs restart the schedule, as the authors did.
//!
//! What a job trains is its id ([`JobId`], `records::protocol`'s grammar):
//! a [`JobSpec`] holds the id and how to train it, nothing that could
//! contradict it. The job file writes the id's facts (`arm`, `family`,
//! `target_half`, `source.half`, `n`, `fine_tune`, `per_class`,
//! `replicate`) out beside it for its readers, and reading a file whose
//! facts disagree with its id, or a copied job without its source
//! checkpoint, is an error that names them.
//!
//! Example (`transferability train --job job.json`):
//!
//! ```json
//! { "id": "r0-transfer-A-B-n3", "arm": "transfer", "family": "random", "split_id": "0",
//!   "data": {"kind": "synthetic", "classes": 20, "train_per_class": 300, "test_per_class": 50, "size": 32, "seed": 0},
//!   "split": {"kind": "random", "seed": 0, "fraction": 0.5, "numpy": true},
//!   "target_half": "B", "source": {"half": "A", "checkpoint": "out/jobs/r0-base-A/final.params"},
//!   "n": 3, "fine_tune": false, "per_class": null, "model": "tiny", "outputs": "classes",
//!   "schedule": {"base_lr": 0.01, "gamma": 0.1, "step_size": 400, "max_iter": 1000, "batch_size": 32,
//!                "evals": 20, "test_batch": 100, "momentum": 0.9, "weight_decay": 0.0005, "checkpoint_every": 200},
//!   "preprocess": {"stored": 32, "crop": 28, "mirror": true},
//!   "seed": 1, "replicate": 0, "dir": "out/jobs/r0-transfer-A-B-n3", "records": "out/records",
//!   "keep_final": false, "cache_prefix": false, "cache_passes": 2 }
//! ```

use std::path::{Path, PathBuf};

use data_split::dissimilar::DissimilarSpec;
use data_split::split::{ClassSplit, Generator};
use data_split::{DataSet, DataSpec, Manifest};
use model::ModelPreset;
pub use records::{Arm, ArmLabel, Family, Half, JobId, JobKind};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How to make the class split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SplitSpec {
    /// Random halves.
    Random {
        /// Seed.
        seed: u64,
        /// Fraction in half A.
        fraction: f64,
        /// numpy-compatible generator (the authors' halves).
        numpy: bool,
    },
    /// Natural / man-made (`synthetic` uses the generator's families).
    Natman {
        /// Preset: `ilsvrc12`, `cifar10`, `cifar100`, `synthetic`.
        preset: String,
    },
    /// Two groups of classes chosen by name (`data_split::dissimilar`);
    /// its networks' family is the split's name.
    Dissimilar(DissimilarSpec),
    /// All classes in one half named `whole`.
    Whole,
    /// A manifest written by `transferability split`.
    Manifest {
        /// Manifest folder or file.
        path: PathBuf,
    },
}

/// A split named on a command line ([`data_split::split::SplitArg`]),
/// resolved: the job's split, the family its networks belong to, the
/// split's id in job folders, and the seed a random split's job ids begin
/// with.
#[derive(Debug, Clone, PartialEq)]
pub struct ChosenSplit {
    /// The job's split.
    pub split: SplitSpec,
    /// The family of its networks.
    pub family: Family,
    /// The split's id.
    pub id: String,
    /// A random split's seed (job ids begin with it), or a manifest's.
    pub seed: Option<u64>,
}

impl ChosenSplit {
    /// Resolve a command line's split, reading its file where it names one.
    pub fn of(arg: &data_split::split::SplitArg) -> Result<Self> {
        use data_split::split::SplitArg;
        Ok(match arg {
            SplitArg::Random { seed } => ChosenSplit {
                split: SplitSpec::Random { seed: *seed, fraction: 0.5, numpy: true },
                family: Family::Random,
                id: seed.to_string(),
                seed: Some(*seed),
            },
            SplitArg::Natman { preset } => {
                ChosenSplit { split: SplitSpec::Natman { preset: preset.clone() }, family: Family::Natman, id: "natman".into(), seed: None }
            }
            SplitArg::Whole => ChosenSplit { split: SplitSpec::Whole, family: Family::Whole, id: "whole".into(), seed: None },
            SplitArg::Dissimilar { path } => {
                let d = crate::plan::DissimilarGrid::read_split(path)?;
                ChosenSplit { family: d.check_names()?, id: d.name.clone(), split: SplitSpec::Dissimilar(d), seed: None }
            }
            SplitArg::Manifest { path } => {
                let (family, seed) = Manifest::read(path)?.split.mode.family().map_err(|e| Error::Plan(format!("{}: {e}", path.display())))?;
                ChosenSplit { split: SplitSpec::Manifest { path: path.clone() }, family, id: "manifest".into(), seed }
            }
        })
    }
}

/// fc8 width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outputs {
    /// As many as the target half has classes.
    Classes,
    /// A fixed width (the authors: 1000 for every task).
    Fixed(usize),
}

/// Caffe's solver settings plus evaluation cadence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Base learning rate (authors: 0.01).
    pub base_lr: f64,
    /// Step policy factor (0.1).
    pub gamma: f64,
    /// Iterations between rate drops (authors: 100,000).
    pub step_size: u64,
    /// Iterations (authors: 450,000).
    pub max_iter: u64,
    /// Training batch (authors: 256).
    pub batch_size: usize,
    /// Evaluations over the run (evenly spaced; the last at `max_iter`).
    pub evals: u64,
    /// Evaluation batch size.
    pub test_batch: usize,
    /// Momentum (0.9).
    pub momentum: f64,
    /// Weight decay (5e-4).
    pub weight_decay: f64,
    /// Iterations between resumable checkpoints.
    pub checkpoint_every: u64,
}

impl Schedule {
    /// The solver of one job trained from flags (`transferability train`):
    /// the authors' rule (momentum 0.9, weight decay 5e-4, rate × 0.1) at
    /// `base_lr`, the drop at 2/3 of `max_iter`, 20 evaluations, a
    /// checkpoint every tenth of the run.
    pub fn single_job(max_iter: u64, batch_size: usize, base_lr: f64) -> Self {
        Schedule {
            base_lr,
            gamma: 0.1,
            step_size: max_iter * 2 / 3,
            max_iter,
            batch_size,
            evals: 20.min(max_iter),
            test_batch: 200,
            momentum: 0.9,
            weight_decay: 5e-4,
            checkpoint_every: (max_iter / 10).max(1),
        }
    }

    /// The authors' solver (`imagenet-paper`): 450k iterations at batch 256,
    /// lr 0.01 ×0.1 every 100k, evaluated every 1000 iterations.
    pub fn authors() -> Self {
        Schedule {
            base_lr: 0.01,
            gamma: 0.1,
            step_size: 100_000,
            max_iter: 450_000,
            batch_size: 256,
            evals: 450,
            test_batch: 50,
            momentum: 0.9,
            weight_decay: 5e-4,
            checkpoint_every: 10_000,
        }
    }

    /// Iterations between evaluations.
    pub fn eval_every(&self) -> u64 {
        (self.max_iter / self.evals.max(1)).max(1)
    }
}

/// Image preprocessing of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preprocess {
    /// Stored side (images are warped to it): 256 for `caffenet`.
    pub stored: usize,
    /// Crop side = network input: 227 for `caffenet`.
    pub crop: usize,
    /// Random horizontal mirror in training.
    pub mirror: bool,
}

impl Preprocess {
    /// The preprocessing a model preset is built for, from its input size:
    /// the crop is the network's input; the authors' 256-px stored images
    /// for `caffenet`'s 227-px crops, 32-px images for the small presets
    /// (28-px crops for `cifar` and `tiny`, the whole image for `bench`);
    /// random mirrors in training for all.
    pub fn for_model(model: ModelPreset) -> Self {
        let crop = model::AlexNetConfig::preset(model, 1).image_size;
        let stored = if crop == 227 { 256 } else { crop.max(32) };
        Preprocess { stored, crop, mirror: true }
    }
}

/// Where copied layers come from, as a job file writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SourceFile {
    /// The source half (the id's).
    half: Half,
    /// The source base's final checkpoint.
    checkpoint: PathBuf,
}

/// One job: what it trains is its [`JobId`] (the arm, family, halves, n,
/// fine-tuning, examples per class and replicate are the id's and nowhere
/// else), the rest says how. Read and written as the job file
/// ([`JobFile`]), whose copies of the id's facts must agree with the id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "JobFile", into = "JobFile")]
pub struct JobSpec {
    /// What the job trains; its printed form is the record's `run_id`.
    pub id: JobId,
    /// Split id within the family.
    pub split_id: String,
    /// The data.
    pub data: DataSpec,
    /// The class split.
    pub split: SplitSpec,
    /// The source base's final checkpoint (selffer and transfer jobs, and only they).
    pub source: Option<PathBuf>,
    /// Model preset.
    pub model: ModelPreset,
    /// fc8 width.
    pub outputs: Outputs,
    /// Solver.
    pub schedule: Schedule,
    /// Preprocessing.
    pub preprocess: Preprocess,
    /// Seed of fresh layers, dropout and data order.
    pub seed: u64,
    /// Working folder (checkpoints, final weights, mean image, log).
    pub dir: PathBuf,
    /// Records folder.
    pub records: PathBuf,
    /// Keep the final weights (bases always do: transfers need them).
    pub keep_final: bool,
    /// Compute frozen layers once per image and augmented pass (frozen
    /// jobs only; see `cache`). Recorded as `cached_prefix`.
    pub cache_prefix: bool,
    /// Augmented passes the prefix cache holds (epoch e reads pass e mod passes).
    pub cache_passes: usize,
    /// The fraction of each class's training images held out as the
    /// validation set of a found schedule ([`data_split::validation`]):
    /// the job trains without them. `None`: every training image trains
    /// (and the job file, and so its fingerprint, has no such key).
    pub validation: Option<f64>,
}

/// The job file (`job.json`, the module docs' example): a [`JobSpec`] with
/// the id's facts written out beside it for readers of the file, in the
/// order job files have always had (their bytes, and so the jobs'
/// fingerprints, are unchanged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct JobFile {
    id: String,
    arm: Arm,
    family: Family,
    split_id: String,
    data: DataSpec,
    split: SplitSpec,
    target_half: Half,
    source: Option<SourceFile>,
    n: usize,
    fine_tune: bool,
    per_class: Option<usize>,
    model: ModelPreset,
    outputs: Outputs,
    schedule: Schedule,
    preprocess: Preprocess,
    seed: u64,
    replicate: usize,
    dir: PathBuf,
    records: PathBuf,
    keep_final: bool,
    cache_prefix: bool,
    #[serde(default = "crate::cache::default_passes")]
    cache_passes: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    validation: Option<f64>,
}

impl From<JobSpec> for JobFile {
    fn from(j: JobSpec) -> Self {
        let per_class = j.per_class();
        let k = &j.id.kind;
        JobFile {
            id: j.id.to_string(),
            arm: k.arm(),
            family: j.id.family.clone(),
            split_id: j.split_id,
            data: j.data,
            split: j.split,
            target_half: k.target(),
            source: k.source().cloned().zip(j.source).map(|(half, checkpoint)| SourceFile { half, checkpoint }),
            n: k.n(),
            fine_tune: k.fine_tune(),
            per_class,
            model: j.model,
            outputs: j.outputs,
            schedule: j.schedule,
            preprocess: j.preprocess,
            seed: j.seed,
            replicate: j.id.replicate,
            dir: j.dir,
            records: j.records,
            keep_final: j.keep_final,
            cache_prefix: j.cache_prefix,
            cache_passes: j.cache_passes,
            validation: j.validation,
        }
    }
}

impl TryFrom<JobFile> for JobSpec {
    type Error = Error;
    fn try_from(f: JobFile) -> Result<Self> {
        let id: JobId = f.id.parse().map_err(|e: String| Error::job(&f.id, e))?;
        let k = &id.kind;
        // each fact the file repeats must be the id's
        let mut differ = Vec::new();
        let mut check = |field: &str, file: String, ids: String| {
            if file != ids {
                differ.push(format!("`{field}` is {file}, the id says {ids}"));
            }
        };
        check("arm", f.arm.to_string(), k.arm().to_string());
        check("family", f.family.to_string(), id.family.to_string());
        check("target_half", f.target_half.to_string(), k.target().to_string());
        check("source.half", format!("{:?}", f.source.as_ref().map(|s| s.half.as_str())), format!("{:?}", k.source().map(Half::as_str)));
        check("n", f.n.to_string(), k.n().to_string());
        check("fine_tune", f.fine_tune.to_string(), k.fine_tune().to_string());
        check("per_class", format!("{:?}", f.per_class), format!("{:?}", k.k()));
        check("replicate", f.replicate.to_string(), id.replicate.to_string());
        if !differ.is_empty() {
            return Err(Error::job(&f.id, format!("the job file disagrees with its id: {}", differ.join("; "))));
        }
        let job = JobSpec {
            id,
            split_id: f.split_id,
            data: f.data,
            split: f.split,
            source: f.source.map(|s| s.checkpoint),
            model: f.model,
            outputs: f.outputs,
            schedule: f.schedule,
            preprocess: f.preprocess,
            seed: f.seed,
            dir: f.dir,
            records: f.records,
            keep_final: f.keep_final,
            cache_prefix: f.cache_prefix,
            cache_passes: f.cache_passes,
            validation: f.validation,
        };
        job.validate()?;
        Ok(job)
    }
}

impl JobSpec {
    /// Read a job file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Job { job: path.display().to_string(), message: format!("line {} column {}: {e}", e.line(), e.column()) })
    }

    /// What determines the job's result, as a SHA-256: the job file
    /// without where it lives (`dir`, `records`, the source checkpoint's
    /// path) and `keep_final`, and, for a job with nothing frozen, without
    /// the prefix cache's settings (which only frozen layers use). A
    /// checkpoint or record of a job with another fingerprint (a changed
    /// configuration run into the same folder with `--force`, a stray
    /// process of an earlier sweep) is not this job's.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut job = self.clone();
        if job.frozen_layers() == 0 {
            // as an uncached job's file says, so its fingerprint is unchanged
            (job.cache_prefix, job.cache_passes) = (false, crate::cache::default_passes());
        }
        let mut v = serde_json::to_value(&job).expect("a job serialises");
        if let Some(o) = v.as_object_mut() {
            for k in ["dir", "records", "keep_final"] {
                o.remove(k);
            }
            if let Some(src) = o.get_mut("source").and_then(|s| s.as_object_mut()) {
                src.remove("checkpoint");
            }
        }
        format!("{:x}", sha2::Sha256::digest(v.to_string().as_bytes()))
    }

    /// Whether the record file at `path` was written for this job (its job
    /// metadata has this job's [`fingerprint`](Self::fingerprint)).
    pub fn wrote(&self, path: &Path) -> bool {
        let recorded = crate::record::read_job_json(path).ok().flatten().and_then(|j| serde_json::from_str::<JobSpec>(&j).ok());
        recorded.is_some_and(|r| r.fingerprint() == self.fingerprint())
    }

    /// The run record at `path`, if this job wrote it ([`wrote`](Self::wrote))
    /// and it reads back valid: what "done" means for a job wherever it is
    /// asked (training, the executors, `sweep --bases-from`).
    pub fn own_record(&self, path: &Path) -> Option<crate::record::RunRecord> {
        if !self.wrote(path) {
            return None;
        }
        crate::record::read_run(path).ok().filter(|r| self.id == r.run_id.as_str())
    }

    /// The id as records and folders name it.
    pub fn name(&self) -> String {
        self.id.to_string()
    }

    /// Which network.
    pub fn arm(&self) -> Arm {
        self.id.kind.arm()
    }

    /// Analysis family: `random`, `natman`, `whole`, or a dissimilar split's name.
    pub fn family(&self) -> &Family {
        &self.id.family
    }

    /// Half trained and tested on.
    pub fn target_half(&self) -> Half {
        self.id.kind.target()
    }

    /// Half the copied layers come from (selffer, transfer).
    pub fn source_half(&self) -> Option<&Half> {
        self.id.kind.source()
    }

    /// Copied (or random-frozen) layers; 0 for bases and reduced jobs.
    pub fn n(&self) -> usize {
        self.id.kind.n()
    }

    /// The `+` arms: copied layers are fine-tuned.
    pub fn fine_tune(&self) -> bool {
        self.id.kind.fine_tune()
    }

    /// Examples per class (reduced jobs).
    pub fn per_class(&self) -> Option<usize> {
        self.id.kind.k()
    }

    /// Replicate index.
    pub fn replicate(&self) -> usize {
        self.id.replicate
    }

    /// The record's arm label (`base`, `BnB`, `BnB+`, `AnB`, `AnB+`, `nolearn`, `reduced`).
    pub fn arm_label(&self) -> ArmLabel {
        self.id.kind.label()
    }

    /// Layers frozen during training (0 when fine-tuning or for bases).
    pub fn frozen_layers(&self) -> usize {
        match self.arm() {
            Arm::Selffer | Arm::Transfer | Arm::Nolearn if !self.fine_tune() => self.n(),
            _ => 0,
        }
    }

    /// Check the job is internally consistent: a source checkpoint
    /// exactly when the id copies layers, sane solver and cache settings.
    /// What the id trains can be trained (`JobKind::check`).
    pub fn validate(&self) -> Result<()> {
        let name = self.name();
        let bad = |m: &str| Err(Error::job(&name, m));
        match (self.id.kind.source(), &self.source) {
            (Some(_), None) => return bad("selffer and transfer jobs need a source checkpoint"),
            (None, Some(_)) => return bad("only selffer and transfer jobs copy layers from a source checkpoint"),
            _ => {}
        }
        self.id.kind.check().map_err(|e| Error::job(&name, e))?;
        if self.preprocess.crop > self.preprocess.stored {
            return bad("crop is larger than the stored image size");
        }
        if self.schedule.batch_size == 0 || self.schedule.max_iter == 0 {
            return bad("batch_size and max_iter must be positive");
        }
        if self.cache_prefix && self.cache_passes == 0 {
            return bad("cache_passes must be at least 1 when cache_prefix is on");
        }
        if self.validation.is_some_and(|f| !(f > 0.0 && f <= 0.5)) {
            return bad("validation must hold out a fraction in (0, 0.5] of each class's training images");
        }
        Ok(())
    }
}

/// A natural/man-made preset assigns classes by their index in its own
/// class list: refuse a data set whose classes are not that list (in label
/// order), naming the first that differ, instead of splitting someone
/// else's classes by CIFAR's or ImageNet's indices. A class matches by its
/// name or, for ILSVRC-2012, by its WNID (the first word of the preset's
/// `WNID words` line, as ImageNet's folders are named).
pub fn check_preset_classes(preset: &str, names: &[String]) -> Result<()> {
    let want = data_split::presets::natman_preset(preset)?.class_names;
    let same = |have: &str, want: &str| have == want || want.split_whitespace().next() == Some(have);
    let differ: Vec<String> = names
        .iter()
        .zip(&want)
        .enumerate()
        .filter(|(_, (h, w))| !same(h, w))
        .take(3)
        .map(|(i, (h, w))| format!("class {i} is `{h}` here, `{}` in {preset}", w.split_whitespace().next().unwrap_or(w)))
        .collect();
    if differ.is_empty() {
        return Ok(());
    }
    Err(Error::Plan(format!(
        "the natural/man-made preset `{preset}` splits {preset}'s own classes by index, and this data set's classes are not {preset}'s ({}); \
         name a dissimilar split of your own classes instead (`\"natman\": null, \"dissimilar\": {{\"name\": ..., \"a\": [class names], \"b\": [class names]}}` in a --config file; \
         `train --split FILE.json` and `split dissimilar` take the same object)",
        differ.join("; ")
    )))
}

/// Build the split a job names on an opened data set (`data` is the spec
/// it was opened from: the `synthetic` natural/man-made split needs it).
pub fn resolve_split(spec: &SplitSpec, data: &DataSpec, ds: &DataSet) -> Result<ClassSplit> {
    let names = ds.train.class_names();
    Ok(match spec {
        SplitSpec::Random { seed, fraction, numpy } => {
            let g = if *numpy { Generator::NumpyLegacy } else { Generator::StdRng };
            data_split::split::random(names, *fraction, *seed, g)?
        }
        SplitSpec::Natman { preset } if preset == "synthetic" => match data {
            DataSpec::Synthetic(cfg) => cfg.natman_split(),
            _ => return Err(Error::Plan("the `synthetic` natural/man-made preset needs the synthetic data set".into())),
        },
        SplitSpec::Natman { preset } => {
            let split = data_split::split::natman(preset)?;
            let want = split.halves.iter().map(|h| h.len()).sum::<usize>();
            if want != names.len() {
                return Err(Error::Plan(format!("natural/man-made preset `{preset}` covers {want} classes, the data set has {}", names.len())));
            }
            check_preset_classes(preset, names)?;
            split
        }
        SplitSpec::Dissimilar(d) => d.resolve(names)?,
        SplitSpec::Whole => data_split::split::whole(names, None),
        SplitSpec::Manifest { path } => {
            let m = Manifest::read(path)?;
            m.check_source(ds.train.as_ref())?;
            m.split
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arms_print_and_parse_as_job_files_name_them() {
        for arm in Arm::ALL {
            assert_eq!(arm.to_string().parse::<Arm>(), Ok(arm));
            // the name in job files (serde) is the name flags and ids use
            assert_eq!(serde_json::to_string(&arm).expect("json"), format!("\"{arm}\""));
        }
        let e = "BnB".parse::<Arm>().expect_err("a label, not an arm");
        assert!(e.contains("base, selffer, transfer, nolearn, reduced"), "{e}");
    }

    /// A preset's classes are checked by name (or WNID) before its indices
    /// are applied, and a mismatch names the first classes that differ.
    #[test]
    fn a_natman_preset_applies_only_to_its_own_classes() {
        let mine: Vec<String> = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"].map(String::from).to_vec();
        let e = check_preset_classes("cifar10", &mine).expect_err("not CIFAR-10").to_string();
        assert!(e.contains("class 0 is `t-shirt` here, `airplane` in cifar10") && e.contains("class 2 is `pullover`") && e.contains("\"natman\": null"), "{e}");
        let cifar: Vec<String> = data_split::presets::CIFAR10_CLASSES.map(String::from).to_vec();
        check_preset_classes("cifar10", &cifar).expect("CIFAR-10's own classes");
        check_preset_classes("ilsvrc12", &data_split::presets::ilsvrc12_wnids()).expect("ImageNet folders are named by WNID");
    }

    /// The crop follows the network's input size, so every preset `train
    /// --model` offers takes its own preprocessing.
    #[test]
    fn preprocessing_follows_the_model() {
        assert_eq!((Preprocess::for_model(ModelPreset::Caffenet).crop, Preprocess::for_model(ModelPreset::Tiny).crop), (227, 28));
        assert_eq!((Preprocess::for_model(ModelPreset::Caffenet).stored, Preprocess::for_model(ModelPreset::Cifar).stored), (256, 32));
        for name in ModelPreset::ALL {
            let cfg = model::AlexNetConfig::preset(name, 10);
            let p = Preprocess::for_model(name);
            assert_eq!(p.crop, cfg.image_size, "{name}");
            assert!(p.stored >= p.crop, "{name}");
        }
    }

    /// A single job's schedule drops its rate at two thirds, evaluates 20
    /// times and checkpoints every tenth.
    #[test]
    fn a_single_jobs_schedule_drops_at_two_thirds() {
        let s = Schedule::single_job(600, 32, 0.01);
        assert_eq!((s.step_size, s.evals, s.checkpoint_every), (400, 20, 60));
    }
}
