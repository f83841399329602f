//! The named configurations (`--preset`): the main job (`default`), a
//! seconds-long `smoke` grid, CIFAR and the authors' ImageNet grid, with
//! the default's measured schedule and why it is what it is.

use std::path::{Path, PathBuf};

use data_split::DataSpec;
use data_split::synthetic::SyntheticConfig;
use model::ModelPreset;

use super::config::*;
use super::find::FindSchedule;
use crate::error::{Error, Result};
use crate::spec::{Half, Outputs, Preprocess, Schedule};

/// Names of the sweep presets.
pub const PRESETS: [&str; 5] = ["default", "smoke", "cifar10", "cifar100", "imagenet-paper"];

fn small_schedule(max_iter: u64, batch: usize, evals: u64) -> Schedule {
    Schedule {
        base_lr: 0.01,
        gamma: 0.1,
        step_size: max_iter * 2 / 3,
        max_iter,
        batch_size: batch,
        evals,
        test_batch: 200,
        momentum: 0.9,
        weight_decay: 5e-4,
        checkpoint_every: (max_iter / 4).max(1),
    }
}

/// Layers of the `default` preset: low, middle and top (the paper's
/// co-adaptation shows in the middle, specificity at the top).
pub const DEFAULT_LAYERS: [usize; 3] = [2, 4, 7];

/// Units of every part of the `default` preset: random split draws (seeds
/// 0..4), and replicates of its fixed splits (natural/man-made and the
/// whole set). Every finding must be judged from at least 3 units, and a
/// unit whose comparison involves a network that has not converged is
/// left out: of the 72 networks of the 3-unit default (`default-v3.json`),
/// 8 failed the convergence rule (natural-family bases still rising,
/// near-chance frozen transfers drifting up by 0.01, whole-set networks
/// still climbing), so 3 units left 2 or fewer in findings 5 and 6. One
/// spare unit per part (the 96-job default still left 11 of 96; see
/// `default_schedule`).
pub const DEFAULT_UNITS: usize = 4;

/// Test images per class of the `default` preset: 900 per half, so one
/// evaluation's standard error is at most 0.01 at the bases' accuracy
/// (√(0.9 · 0.1 / 900) = 0.010; 0.007 at their measured 0.95).
pub const DEFAULT_TEST_PER_CLASS: usize = 90;

/// The `default` preset's solver: the authors' rule (momentum 0.9, weight
/// decay 5e-4, rate × 0.1 every step) at half their rate, 5,000 iterations
/// at batch 32, the rate dropping at 2,000 and 4,000, 20 evaluations: the
/// schedule under which the bases of the declared-cues data converge by
/// [`records::plateau`], whose rule 2 then judges the second rate (5e-4),
/// where they finish their climb. Measured 2026-12-06 on a 2-core AMD EPYC
/// (Zen 3):
/// * the previous default (lr 0.01, 2,100 iterations, drops every 525):
///   the 20-class whole-set base 0.21–0.24, annealed flat while still
///   climbing (its third rate holds any curve flat); the natural-family
///   base 0.42;
/// * lr 0.01, 3,000 iterations, drops every 1,000: the whole-set base
///   0.39–0.46, at chance for its first 450 iterations and still rising at
///   1e-3; lr 0.01, 4,500 (every 1,500): 0.55, still rising; lr 0.02:
///   stuck at chance (0.05);
/// * lr 0.005, 3,000 (every 1,000): the whole-set base 0.59, still rising
///   at 5e-4 by 0.037; 4,500 (every 1,500): a random half's base 0.935,
///   still rising at 5e-4 by 0.029 (selffers restarted from its layers
///   reached 0.967).
///
/// This schedule is not yet long enough for every network. Under the rule
/// as it stands (its noise estimate refined 2026-12-06), the 96-job
/// default (12,595 CPU-seconds on that machine; the whole set under
/// [`default_whole_schedule`]) left 11 networks unconverged: two of four
/// natural-family bases (still rising at 5e-4; one by 0.017 beyond its
/// tolerance), two of four whole-set bases and five whole-set nolearn
/// networks (seven of the eleven by less than 0.0025), a near-chance
/// frozen transfer and one fine-tuned selffer. The natural family (classes
/// told apart by shape alone) learns slowest: at 8,000 iterations (drops
/// every 3,000) its bases still rose through 5e-4 (0.90 → 0.95). The
/// random halves' bases pass the rule, yet networks restarted from their
/// layers and trained again gain on them (BnB+ − base +0.020 over n = 2,
/// 4, 7): a comparison of 2 evaluations with 2 sees a slow rise only
/// when it is large. The direct check, the same job stretched 2× (10,000
/// iterations, drops at 4,000 and 8,000; unit 0, measured 2026-12-06):
/// man-made base +0.001 (converged), natural base +0.054, random bases A
/// and B +0.033 and +0.023 (both passed the rule at 5,000, with
/// tolerances 0.010 and 0.020), BnB at n = 7 +0.005, AnB at n = 7
/// +0.012. So the halves' networks need about twice this schedule, the
/// natural family more, and the rule's verdict of "converged" on a
/// 20-evaluation curve is necessary, not sufficient.
///
/// Two drops, not three: rule 2 of [`records::plateau`] judges the rate
/// just before the final drop, and after three drops that rate (1/100 of
/// the first) holds almost any curve flat. Judging every lower rate instead
/// was tried and not adopted: it flags 28 of the authors' 148 logged
/// networks, whose curves still rose 0.007–0.013 between the last two
/// quarters of their 1e-3 phase (100,000–200,000 iterations).
pub(super) fn default_schedule() -> Schedule {
    Schedule { base_lr: 0.005, step_size: 2000, checkpoint_every: 1250, ..small_schedule(5000, 32, 20) }
}

/// The `default` preset's solver for its whole-set jobs: [`default_schedule`]
/// stretched 2× (10,000 iterations, drops at 4,000 and 8,000, 20
/// evaluations), so that the whole set's 6,000 training images are seen as
/// many times (53 epochs) as a half's 3,000 under the 5,000-iteration
/// schedule. Under that schedule the 20-class whole-set bases were still
/// rising at 5e-4 (0.77–0.79, by about 0.013 over the segment's last half)
/// and 4 of the 12 whole-set networks failed the convergence rule.
pub fn default_whole_schedule() -> Schedule {
    let s = default_schedule();
    Schedule { step_size: 2 * s.step_size, max_iter: 2 * s.max_iter, checkpoint_every: 2 * s.checkpoint_every, ..s }
}

/// The grid of the smoke and CIFAR presets: one random split (baseA,
/// baseB, BnB, BnB+, AnB, AnB+ for every n), natural/man-made (both bases,
/// frozen transfers both ways), whole-set base and nolearn, one unit each.
/// The natural/man-made preset of the `default` and `smoke` grids: the
/// built-in data's own, CIFAR-10's on a folder whose classes are CIFAR-10's
/// (by name, in label order), none on any other folder (or one that does
/// not open: the sweep says why before anything trains). A grid without it
/// says so when it runs; a configuration file names a dissimilar split.
fn natman_preset(data: &DataSpec) -> Option<&'static str> {
    match data {
        DataSpec::Synthetic(_) => Some("synthetic"),
        _ => {
            let ds = data_split::DataSet::open(data).ok()?;
            crate::spec::check_preset_classes("cifar10", ds.train.class_names()).ok().map(|_| "cifar10")
        }
    }
}

fn paper_like(name: &str, data: DataSpec, model: ModelPreset, natman: Option<&str>, schedule: Schedule, layers: Vec<usize>) -> SweepConfig {
    SweepConfig {
        name: name.into(),
        data,
        model,
        outputs: Outputs::Classes,
        preprocess: Preprocess { stored: 32, crop: 28, mirror: true },
        schedule,
        reduced_schedule: None,
        layers,
        random: Some(RandomGrid::paper(vec![0])),
        natman: natman.map(|preset| NatmanGrid { preset: preset.into(), transfers: TwoGroupTransfers::default() }),
        dissimilar: vec![],
        whole: Some(WholeGrid { nolearn: true, reduced: vec![], layers: None, replicates: None, schedule: None }),
        replicates: 1,
        seed: 0,
        keep_final: true,
        cache_prefix: false,
        cache_passes: crate::cache::DEFAULT_PASSES,
        validation: None,
        find_schedule: None,
    }
}

/// The main job (`cargo xtask sweep`): [`DEFAULT_UNITS`] random splits
/// (baseA, baseB, BnB, BnB+, AnB, AnB+ at [`DEFAULT_LAYERS`]), as many
/// replicates of the natural/man-made split (both bases, frozen transfers
/// both ways at n = 4 and 7) and of the whole set (base, nolearn at
/// [`DEFAULT_LAYERS`], under [`default_whole_schedule`]), on the built-in
/// data's declared cues or on `data`.
fn default_preset(data: Option<&Path>) -> SweepConfig {
    let on_folder = data.is_some();
    let data = match data {
        Some(p) => DataSpec::Path { path: p.to_path_buf(), skip_corrupt: false },
        None => DataSpec::Synthetic(SyntheticConfig {
            classes: 20,
            train_per_class: 300,
            test_per_class: DEFAULT_TEST_PER_CLASS,
            size: 32,
            seed: 0,
            ..Default::default()
        }),
    };
    let natman = natman_preset(&data);
    SweepConfig {
        name: "default".into(),
        data,
        model: ModelPreset::Tiny,
        outputs: Outputs::Classes,
        preprocess: Preprocess { stored: 32, crop: 28, mirror: true },
        schedule: default_schedule(),
        reduced_schedule: None,
        layers: DEFAULT_LAYERS.to_vec(),
        random: Some(RandomGrid::paper((0..DEFAULT_UNITS as u64).collect())),
        natman: natman.map(|preset| NatmanGrid {
            preset: preset.into(),
            transfers: TwoGroupTransfers { both_directions: true, fine_tune: false, layers: Some(vec![4, 7]), replicates: Some(DEFAULT_UNITS) },
        }),
        dissimilar: vec![],
        whole: Some(WholeGrid {
            nolearn: true,
            reduced: vec![],
            layers: Some(DEFAULT_LAYERS.to_vec()),
            replicates: Some(DEFAULT_UNITS),
            schedule: Some(default_whole_schedule()),
        }),
        replicates: 1,
        seed: 0,
        keep_final: true,
        cache_prefix: false,
        cache_passes: crate::cache::DEFAULT_PASSES,
        validation: on_folder.then_some(0.1),
        find_schedule: on_folder.then(FindSchedule::default),
    }
}

impl SweepConfig {
    /// A named preset. `data` is required by the presets on real data.
    pub fn preset(name: &str, data: Option<&Path>) -> Result<Self> {
        let need_data = || {
            data.map(|p| DataSpec::Path { path: p.to_path_buf(), skip_corrupt: false }).ok_or_else(|| Error::Plan(format!("preset `{name}` needs --data PATH")))
        };
        let layers: Vec<usize> = (1..=records::MAX_N).collect();
        let cfg = match name {
            "smoke" => {
                let data = match data {
                    Some(p) => DataSpec::Path { path: p.to_path_buf(), skip_corrupt: false },
                    None => {
                        DataSpec::Synthetic(SyntheticConfig { classes: 20, train_per_class: 40, test_per_class: 10, size: 32, seed: 0, ..Default::default() })
                    }
                };
                let natman = natman_preset(&data);
                paper_like(name, data, ModelPreset::Tiny, natman, small_schedule(16, 16, 4), vec![1, 4, 7])
            }
            "default" => default_preset(data),
            // about 10 epochs of a 25,000-image half at batch 128
            "cifar10" | "cifar100" => paper_like(
                name,
                need_data()?,
                ModelPreset::Cifar,
                Some(name),
                Schedule { test_batch: 500, checkpoint_every: 200, ..small_schedule(2000, 128, 20) },
                layers,
            ),
            "imagenet-paper" => SweepConfig {
                name: name.into(),
                data: data
                    .map(|p| DataSpec::Path { path: p.to_path_buf(), skip_corrupt: false })
                    .unwrap_or(DataSpec::Path { path: PathBuf::from("ILSVRC2012"), skip_corrupt: false }),
                model: ModelPreset::Caffenet,
                outputs: Outputs::Fixed(1000),
                preprocess: Preprocess { stored: 256, crop: 227, mirror: true },
                schedule: Schedule::authors(),
                reduced_schedule: Some(Schedule { base_lr: 0.0125, step_size: 64_000, max_iter: 200_000, evals: 200, ..Schedule::authors() }),
                layers,
                random: Some(RandomGrid {
                    seeds: vec![0, 1, 2, 3],
                    fraction: 0.5,
                    numpy: true,
                    selffer: vec![Half::a(), Half::b()],
                    transfer: vec![[Half::a(), Half::b()], [Half::b(), Half::a()]],
                    frozen: true,
                    fine_tune: true,
                }),
                natman: Some(NatmanGrid { preset: "ilsvrc12".into(), transfers: TwoGroupTransfers::default() }),
                dissimilar: vec![],
                whole: Some(WholeGrid {
                    nolearn: true,
                    reduced: vec![1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 1300],
                    layers: None,
                    replicates: None,
                    schedule: None,
                }),
                replicates: 1,
                seed: 0,
                keep_final: false,
                cache_prefix: false,
                cache_passes: crate::cache::DEFAULT_PASSES,
                validation: None,
                find_schedule: None,
            },
            other => return Err(Error::Plan(format!("unknown preset `{other}`; valid presets: {}", PRESETS.join(", ")))),
        };
        Ok(cfg)
    }
}
