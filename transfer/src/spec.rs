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
pub use records::{Arm, Family};
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
    /// The preprocessing a model preset is built for: the authors' (256-px
    /// stored images, 227-px crops) for `caffenet`, 32-px images with 28-px
    /// crops for the small presets; random mirrors in training for both.
    pub fn for_model(model: &str) -> Self {
        if model == "caffenet" { Preprocess { stored: 256, crop: 227, mirror: true } } else { Preprocess { stored: 32, crop: 28, mirror: true } }
    }
}

/// Where copied layers come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// The source half.
    pub half: String,
    /// The source base's final checkpoint.
    pub checkpoint: PathBuf,
}

/// One job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Stable id (also the record's `run_id`).
    pub id: String,
    /// Which network.
    pub arm: Arm,
    /// Analysis family: `random`, `natman`, `whole`, or a dissimilar split's name.
    pub family: Family,
    /// Split id within the family.
    pub split_id: String,
    /// The data.
    pub data: DataSpec,
    /// The class split.
    pub split: SplitSpec,
    /// Half trained and tested on.
    pub target_half: String,
    /// Source of copied layers (selffer / transfer).
    pub source: Option<SourceSpec>,
    /// Copied (or random-frozen) layers.
    pub n: usize,
    /// Fine-tune copied layers.
    pub fine_tune: bool,
    /// Examples per class (reduced).
    pub per_class: Option<usize>,
    /// Model preset.
    pub model: String,
    /// fc8 width.
    pub outputs: Outputs,
    /// Solver.
    pub schedule: Schedule,
    /// Preprocessing.
    pub preprocess: Preprocess,
    /// Seed of fresh layers, dropout and data order.
    pub seed: u64,
    /// Replicate index.
    pub replicate: usize,
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
    #[serde(default = "crate::cache::default_passes")]
    pub cache_passes: usize,
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
    /// path) and `keep_final`. A checkpoint or record of a job with another
    /// fingerprint (a changed configuration run into the same folder with
    /// `--force`, a stray process of an earlier sweep) is not this job's.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut v = serde_json::to_value(self).expect("a job serialises");
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

    /// The record's arm label (`base`, `BnB`, `BnB+`, `AnB`, `AnB+`, `nolearn`, `reduced`).
    pub fn arm_label(&self) -> &'static str {
        match (self.arm, self.fine_tune) {
            (Arm::Base, _) => "base",
            (Arm::Selffer, false) => "BnB",
            (Arm::Selffer, true) => "BnB+",
            (Arm::Transfer, false) => "AnB",
            (Arm::Transfer, true) => "AnB+",
            (Arm::Nolearn, _) => "nolearn",
            (Arm::Reduced, _) => "reduced",
        }
    }

    /// Layers frozen during training (0 when fine-tuning or for bases).
    pub fn frozen_layers(&self) -> usize {
        match self.arm {
            Arm::Selffer | Arm::Transfer | Arm::Nolearn if !self.fine_tune => self.n,
            _ => 0,
        }
    }

    /// Check the job is internally consistent.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::job(&self.id, m));
        match self.arm {
            Arm::Selffer | Arm::Transfer => {
                if self.source.is_none() {
                    return bad("selffer and transfer jobs need a source checkpoint");
                }
                model::layers::check_range(self.n, 1, 7).map_err(|e| Error::job(&self.id, e.to_string()))?;
            }
            Arm::Nolearn => model::layers::check_range(self.n, 1, 7).map_err(|e| Error::job(&self.id, e.to_string()))?,
            Arm::Reduced if self.per_class.is_none() => return bad("reduced jobs need per_class"),
            _ => {}
        }
        if self.preprocess.crop > self.preprocess.stored {
            return bad("crop is larger than the stored image size");
        }
        if self.schedule.batch_size == 0 || self.schedule.max_iter == 0 {
            return bad("batch_size and max_iter must be positive");
        }
        if self.cache_prefix && self.cache_passes == 0 {
            return bad("cache_passes must be at least 1 when cache_prefix is on");
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
        // a preset's classes are checked by name (or WNID), before its indices are applied
        let mine: Vec<String> = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"].map(String::from).to_vec();
        let e = check_preset_classes("cifar10", &mine).expect_err("not CIFAR-10").to_string();
        assert!(e.contains("class 0 is `t-shirt` here, `airplane` in cifar10") && e.contains("class 2 is `pullover`") && e.contains("\"natman\": null"), "{e}");
        let cifar: Vec<String> = data_split::presets::CIFAR10_CLASSES.map(String::from).to_vec();
        check_preset_classes("cifar10", &cifar).expect("CIFAR-10's own classes");
        check_preset_classes("ilsvrc12", &data_split::presets::ilsvrc12_wnids()).expect("ImageNet folders are named by WNID");
        assert_eq!((Preprocess::for_model("caffenet").crop, Preprocess::for_model("tiny").crop), (227, 28));
        let s = Schedule::single_job(600, 32, 0.01);
        assert_eq!((s.step_size, s.evals, s.checkpoint_every), (400, 20, 60));
    }
}
