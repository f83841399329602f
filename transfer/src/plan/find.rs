//! A schedule found from the data (the configuration's `find_schedule`):
//! one pilot base chooses the iterations and rate drops that every network
//! of the grid then trains with, as the authors fixed one schedule (450,000
//! iterations, the rate × 0.1 every 100,000) for all of theirs.
//!
//! **The pilot** is the grid's first base (by plan order: random split
//! 0's baseA when there is one). It trains with the configuration's solver
//! and Caffe's step policy, evaluating every `eval_every` iterations on the
//! test set, as every network does, and on the **validation set** carved
//! from the training images ([`data_split::validation`]), which no network
//! of the grid trains on. The pilot is judged on the validation set only:
//! 1. at the first rate, once it has [`FindSchedule::min_evals`]
//!    evaluations, the first evaluation at which the curve has risen from
//!    its start ([`records::risen`]: not a curve still at chance) and has
//!    been flat over its last [`FindSchedule::window`] evaluations at
//!    [`FindSchedule::patience`] evaluations in a row fixes
//!    the step `s`: the rate drops × `gamma` at `s`, `2s`, `3s`, … as the
//!    step policy drops it. Flat is the convergence rule's comparison of a
//!    segment's end ([`records::flattened`]) **and** a stall
//!    ([`records::stalled`]): the last quarter's mean no more than
//!    [`records::PRACTICAL`] above the best mean of as many consecutive
//!    evaluations before it. The
//!    rule's comparison alone is built not to call a noisy end rising, so
//!    it calls a noisy climb flat: on the built-in data it dropped the
//!    rate at 0.23 → 0.31 (σ ≈ 0.04 between evaluations early on, a
//!    tolerance of 0.09). A curve still climbing makes new bests, noise or
//!    not; a levelled one does not. Over a window, not the whole curve:
//!    a curve creeping up like log t rises by as much from one quarter of
//!    its length to the next however long it runs (the built-in data's,
//!    by 0.02 at 2,500 iterations and 0.007 at 5,000), so quarters of the
//!    whole curve would never call it flat, while a fixed stretch sees the
//!    creep slow down;
//! 2. at the end of each later segment (`ks`, k ≥ 2) it stops if that
//!    segment and the one before it have flattened, each judged over the
//!    whole segment as the convergence rule judges the segment before a
//!    schedule's final drop and the one after it (rules 2 and 4), or once
//!    it has trained [`FindSchedule::max_rates`] rates. The first drop
//!    anneals a curve that has stalled over the recent window; the rule
//!    compares quarters of the whole segment, and a first-rate curve
//!    creeping up like log t rarely passes that: on the built-in data, a
//!    finder that stopped after two rates (the second flat) left all 8 of
//!    its random-split bases rising before their final drop by the rule
//!    (the pilot's own test top-1 0.73 → 0.81 between the first segment's
//!    last two quarters), so a third rate is the usual outcome.
//!
//! The found schedule is the configuration's with `step_size = s`,
//! `max_iter` = where the pilot stopped and one evaluation every
//! `eval_every`. The pilot's own run is the grid's job with that schedule:
//! nothing it did depended on iterations it had not reached yet, and its
//! extra evaluations touch no weights, so the job planned with the found
//! schedule has the pilot's bits and its fingerprint, and the sweep finds
//! it done (a test trains that job again from scratch and compares the
//! weights' SHA-256).
//!
//! **Decisions.** Every network trains without the validation images, so
//! the pilot is an ordinary job and the comparisons stay between networks
//! that saw the same images. One schedule in iterations serves every half
//! (a dissimilar split's halves may differ in size, as the authors' did:
//! their one schedule covered 449 and 551 classes); the whole set, which
//! holds both halves' images, trains as many epochs: its schedule is the
//! found one scaled by its training images over the pilot's. Reduced-data
//! jobs keep `reduced_schedule` when the configuration gives one.

use std::path::Path;

use data_split::DataSet;
use data_split::validation::held_out;
use records::{CurvePoint, Eval, flattened, risen, stalled};
use serde::{Deserialize, Serialize};

use super::{SweepConfig, expand};
use crate::error::{Error, Result};
use crate::spec::{JobSpec, Schedule, resolve_split};
use crate::train::{RunOptions, run_pilot};

/// How the pilot runs and is judged (the configuration's `find_schedule`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindSchedule {
    /// Evaluations per epoch of the pilot's training set: the cadence of
    /// every network of the grid.
    #[serde(default = "evals_per_epoch")]
    pub evals_per_epoch: f64,
    /// Evaluations at the first rate before its curve is judged.
    #[serde(default = "min_evals")]
    pub min_evals: usize,
    /// Evaluations in a row at which the first rate's curve must be flat:
    /// one judgment compares a quarter of the evaluations with the quarter
    /// before, and a noisy stretch passes it by chance now and then.
    #[serde(default = "patience")]
    pub patience: usize,
    /// Evaluations the first rate's flatness is judged over (the most
    /// recent ones).
    #[serde(default = "window")]
    pub window: usize,
    /// The most epochs the pilot may train at the first rate: a curve
    /// still rising then is an error naming it (raise it, or the rate).
    #[serde(default = "max_epochs")]
    pub max_epochs: f64,
    /// The most rates the found schedule has (the authors' had 5).
    #[serde(default = "max_rates")]
    pub max_rates: usize,
}

fn evals_per_epoch() -> f64 {
    4.0
}
fn min_evals() -> usize {
    12
}
fn patience() -> usize {
    3
}
fn window() -> usize {
    24
}
fn max_epochs() -> f64 {
    60.0
}
fn max_rates() -> usize {
    4
}

impl FindSchedule {
    /// Settings the finder can work with: evaluations and epochs above 0,
    /// at least 2 rates, and at least 4 evaluations judged (a comparison
    /// of quarters needs them).
    pub fn check(&self) -> Result<()> {
        let ok = self.evals_per_epoch > 0.0 && self.max_epochs > 0.0 && self.max_rates >= 2 && self.min_evals >= 4 && self.window >= 4 && self.patience >= 1;
        if ok {
            Ok(())
        } else {
            Err(Error::Plan(format!(
                "find_schedule {self:?}: evals_per_epoch and max_epochs must be above 0, max_rates at least 2, min_evals and window at least 4, patience at least 1"
            )))
        }
    }
}

impl Default for FindSchedule {
    fn default() -> Self {
        FindSchedule {
            evals_per_epoch: evals_per_epoch(),
            min_evals: min_evals(),
            patience: patience(),
            window: window(),
            max_epochs: max_epochs(),
            max_rates: max_rates(),
        }
    }
}

/// What the pilot does after an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Train on.
    Continue,
    /// The first rate has flattened: drop the rate here, and every as many
    /// iterations after.
    Drop,
    /// Stop here: the segments before and after the last drop have
    /// flattened (`converged`), or the last rate allowed has been trained.
    Stop {
        /// Both segments flat (false: stopped at `max_rates`).
        converged: bool,
    },
}

/// The pilot's decision after its evaluation at `iteration`, from its
/// validation curve so far and the step found, if any.
pub fn decide(rule: &FindSchedule, validation: &[Eval], step: Option<u64>, iteration: u64) -> Decision {
    match step {
        None => {
            let judged = validation.len() >= rule.min_evals.max(rule.patience);
            let recent = |d: usize| {
                let end = validation.len() - d;
                &validation[end.saturating_sub(rule.window.max(4))..end]
            };
            let steady = |d: usize| flattened(recent(d)) && stalled(recent(d));
            if judged && risen(validation) && (0..rule.patience.max(1)).all(steady) { Decision::Drop } else { Decision::Continue }
        }
        Some(s) if iteration.is_multiple_of(s) && iteration / s >= 2 => {
            let segment =
                |k: u64| -> Vec<Eval> { validation.iter().filter(|e| e.iteration > ((k - 1) * s) as i64 && e.iteration <= (k * s) as i64).copied().collect() };
            let k = iteration / s;
            // the convergence rule's rules 2 and 4 on the schedule ending here
            let converged = flattened(&segment(k - 1)) && flattened(&segment(k));
            if converged || k >= rule.max_rates as u64 { Decision::Stop { converged } } else { Decision::Continue }
        }
        Some(_) => Decision::Continue,
    }
}

/// The pilot's bounds: evaluations every `eval_every` iterations, the
/// first rate for at most `first_cap` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PilotBounds {
    /// Iterations between evaluations.
    pub eval_every: u64,
    /// The most iterations at the first rate.
    pub first_cap: u64,
}

impl PilotBounds {
    /// The bounds for a training set of `images` at `batch`.
    pub fn new(rule: &FindSchedule, images: usize, batch: usize) -> Self {
        let epoch = images as f64 / batch.max(1) as f64;
        let eval_every = ((epoch / rule.evals_per_epoch).round() as u64).max(1);
        let first_cap = ((rule.max_epochs * epoch / eval_every as f64).ceil() as u64).max(rule.min_evals as u64) * eval_every;
        PilotBounds { eval_every, first_cap }
    }

    /// The pilot's own schedule: the solver of `base`, no drop before the
    /// finder asks for one, room for `max_rates` segments as long as the
    /// first may be, an evaluation every `eval_every`.
    pub fn pilot_schedule(&self, base: &Schedule, rule: &FindSchedule) -> Schedule {
        let max_iter = self.first_cap * rule.max_rates.max(1) as u64;
        Schedule { step_size: max_iter, max_iter, evals: max_iter / self.eval_every, ..base.clone() }
    }
}

/// The found schedule: `base`'s solver, the rate × gamma every `step`,
/// `end` iterations, an evaluation every `eval_every`.
pub fn found_schedule(base: &Schedule, step: u64, end: u64, eval_every: u64) -> Schedule {
    Schedule { step_size: step, max_iter: end, evals: end / eval_every, ..base.clone() }
}

/// `s` for a training set `ratio` times the pilot's: as many epochs, the
/// same evaluations, drops at the same fractions of the run.
pub fn scaled(s: &Schedule, ratio: f64) -> Schedule {
    let every = ((s.eval_every() as f64 * ratio).round() as u64).max(1);
    let evals_per_step = s.step_size / s.eval_every();
    Schedule {
        step_size: evals_per_step * every,
        max_iter: s.evals * every,
        checkpoint_every: ((s.checkpoint_every as f64 * ratio).round() as u64).max(1),
        ..s.clone()
    }
}

/// The finder's decision rule's version: a `schedule.json` of another
/// version is not reused (its settings may read the same).
pub const RULE_VERSION: u32 = 2;

/// What the pilot found (`schedule.json` in the sweep folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Found {
    /// The rule it was found by.
    #[serde(default)]
    pub rule: FindSchedule,
    /// [`RULE_VERSION`] when it was found.
    #[serde(default)]
    pub rule_version: u32,
    /// The schedule every half's network trains with.
    pub schedule: Schedule,
    /// The whole set's (the same epochs), when the grid has one.
    pub whole: Option<Schedule>,
    /// The pilot: the grid's job it is.
    pub pilot: String,
    /// The pilot's job fingerprint before the schedule was found (a
    /// re-run of the sweep with this pilot reads this file instead of
    /// training it again).
    pub pilot_fingerprint: String,
    /// Its bounds.
    pub bounds: PilotBounds,
    /// Its training images (the validation set held out) and validation
    /// images (its half's share of the data set's validation set).
    pub images: (usize, usize),
    /// Whether the segments before and after the last drop had flattened
    /// (false: it stopped at `max_rates`).
    pub flat_at_end: bool,
    /// The pilot's validation curve (the record holds its test curve).
    pub validation: Vec<CurvePoint>,
    /// The pilot's CPU-seconds and wall seconds.
    pub cost: (f64, f64),
}

impl Found {
    /// One line: the iterations, drops and cadence, and what the pilot cost.
    pub fn describe(&self) -> String {
        let s = &self.schedule;
        let drops: Vec<String> = (1..).map(|k| k * s.step_size).take_while(|&i| i < s.max_iter).map(|i| i.to_string()).collect();
        format!(
            "{} iterations at batch {}, rate {} × {} at {}, an evaluation every {} ({} evaluations){}; found by pilot {} in {:.0} CPU-s{}",
            s.max_iter,
            s.batch_size,
            s.base_lr,
            s.gamma,
            if drops.is_empty() { "none".into() } else { drops.join(", ") },
            s.eval_every(),
            s.evals,
            self.whole.as_ref().map(|w| format!("; the whole set {} iterations, drops every {}", w.max_iter, w.step_size)).unwrap_or_default(),
            self.pilot,
            self.cost.0,
            if self.flat_at_end { "" } else { " (stopped at the most rates allowed, not flat)" }
        )
    }
}

/// A configuration with its schedule found: the configuration the grid
/// runs (its `schedule` and whole-set schedule the found ones,
/// `find_schedule` gone, `validation` kept) and what the pilot found.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The configuration to expand.
    pub config: SweepConfig,
    /// What the pilot found.
    pub found: Found,
    /// Whether the pilot trained now (false: read from `schedule.json`).
    pub trained: bool,
}

/// Training and validation images of `job`'s target half.
fn half_images(job: &JobSpec, ds: &DataSet, held: &[bool]) -> Result<(usize, usize)> {
    let split = resolve_split(&job.split, &job.data, ds)?;
    let half = split.half(job.target_half().as_str()).ok_or_else(|| Error::job(&job.id, "target half not in its split"))?;
    let mine: Vec<usize> = (0..ds.train.len()).filter(|&i| half.label_of(ds.train.label(i)).is_some()).collect();
    let valid = mine.iter().filter(|&&i| held[i]).count();
    Ok((mine.len() - valid, valid))
}

/// Find `cfg`'s schedule (a configuration without `find_schedule` is
/// returned as it is): read it from the sweep folder `out` when its pilot
/// already ran there, else train the pilot (resuming it if interrupted).
pub fn resolve(cfg: &SweepConfig, out: &Path, opts: &RunOptions, force: bool) -> Result<Resolved> {
    let Some(rule) = cfg.find_schedule.clone() else {
        return Err(Error::Plan("the configuration has no find_schedule".into()));
    };
    rule.check()?;
    let mut cfg = cfg.clone();
    let fraction = *cfg.validation.get_or_insert(0.1);
    let ds = DataSet::open(&cfg.data)?;
    let held = held_out(&*ds.train, fraction);
    // the pilot: the grid's first base, planned with its bounds
    let base = |j: &JobSpec| j.arm() == records::Arm::Base && j.per_class().is_none();
    let no_base = || Error::Plan("find_schedule needs a base in the grid to pilot".into());
    let first = |c: &SweepConfig| -> Result<JobSpec> { expand(c, out)?.jobs.into_iter().map(|j| j.job).find(base).ok_or_else(no_base) };
    let jobs: Vec<JobSpec> = expand(&cfg, out)?.jobs.into_iter().map(|j| j.job).collect();
    let first_base = jobs.iter().find(|j| base(j)).ok_or_else(no_base)?;
    let (images, validation_images) = half_images(first_base, &ds, &held)?;
    let bounds = PilotBounds::new(&rule, images, cfg.schedule.batch_size);
    let mut pilot_cfg = cfg.clone();
    pilot_cfg.schedule = bounds.pilot_schedule(&cfg.schedule, &rule);
    // a grid of the whole set alone pilots its whole-set base under the pilot's schedule
    if let Some(w) = pilot_cfg.whole.as_mut() {
        w.schedule = None;
    }
    let pilot = first(&pilot_cfg)?;
    let pilot_is_whole = *pilot.family() == records::Family::Whole;
    let fingerprint = pilot.fingerprint();
    let layout = records::SweepLayout::new(out);
    let file = layout.found_schedule();
    let earlier: Option<Found> = std::fs::read(&file).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let ours = |f: &Found| f.pilot_fingerprint == fingerprint && f.rule == rule && f.rule_version == RULE_VERSION;
    // another grid's sweep folder is refused before its pilot's folder is touched
    if !force && (earlier.as_ref().is_some_and(|f| !ours(f)) || (earlier.is_none() && layout.plan().exists())) {
        return Err(Error::Plan(format!(
            "{} holds another sweep ({}): pass --force to find this grid's schedule there, or choose another --out",
            out.display(),
            match &earlier {
                Some(f) if f.rule_version != RULE_VERSION => "a schedule found by an earlier version of the finder",
                Some(_) => "the pilot of another grid, or of another find_schedule rule",
                None => "one with a fixed schedule",
            }
        )));
    }
    let (found, trained) = match earlier.filter(ours) {
        Some(f) => (f, false),
        None => {
            let t0 = std::time::Instant::now();
            let run = run_pilot(&pilot, &rule, &bounds, opts)?;
            let whole = match &cfg.whole {
                Some(_) if !pilot_is_whole => {
                    let n = match jobs.iter().find(|j| *j.family() == records::Family::Whole && base(j)) {
                        Some(j) => half_images(j, &ds, &held)?.0,
                        None => images,
                    };
                    Some(scaled(&run.job.schedule, n as f64 / images as f64))
                }
                _ => None,
            };
            let f = Found {
                rule: rule.clone(),
                rule_version: RULE_VERSION,
                schedule: run.job.schedule.clone(),
                whole,
                pilot: run.job.name(),
                pilot_fingerprint: fingerprint,
                bounds,
                images: (images, validation_images),
                flat_at_end: run.flat_at_end,
                validation: run.validation,
                cost: (run.cpu_seconds, t0.elapsed().as_secs_f64()),
            };
            std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
            let bytes = serde_json::to_vec_pretty(&f).expect("serialisable");
            crate::record::atomic_write(&file, |w| std::io::Write::write_all(w, &bytes))?;
            (f, true)
        }
    };
    cfg.schedule = found.schedule.clone();
    if let Some(w) = cfg.whole.as_mut() {
        w.schedule = found.whole.clone();
    }
    cfg.find_schedule = None;
    // the pilot is the grid's job with the found schedule
    let again = first(&cfg)?;
    if again.fingerprint() != (JobSpec { schedule: found.schedule.clone(), ..pilot }).fingerprint() {
        return Err(Error::Plan(format!("internal: the grid's first base {} is not the pilot {} under the found schedule", again.name(), found.pilot)));
    }
    Ok(Resolved { config: cfg, found, trained })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A validation curve evaluated every 100 iterations.
    fn curve(top1: &[f64], step: Option<u64>) -> Vec<Eval> {
        top1.iter()
            .enumerate()
            .map(|(k, &t)| {
                let it = (k as i64 + 1) * 100;
                let lr = step.map_or(0.01, |s| 0.01 * 0.1f64.powi(((it - 1) as u64 / s) as i32));
                Eval { iteration: it, lr, top1: t }
            })
            .collect()
    }

    /// The first rate drops once its curve has risen and been flat at
    /// `patience` evaluations in a row, with `min_evals` of them, not
    /// before; a curve flat at chance does not drop.
    #[test]
    fn the_first_drop_waits_for_a_flat_curve() {
        let rule = FindSchedule { min_evals: 8, patience: 2, ..FindSchedule::default() };
        let rising: Vec<f64> = (0..10).map(|k| 0.3 + 0.05 * k as f64).collect();
        assert_eq!(decide(&rule, &curve(&rising, None), None, 1000), Decision::Continue);
        let levelled = [0.3, 0.5, 0.6, 0.66, 0.70, 0.71, 0.70, 0.71, 0.71, 0.70];
        assert_eq!(decide(&rule, &curve(&levelled, None), None, 1000), Decision::Drop);
        assert_eq!(decide(&rule, &curve(&levelled[..6], None), None, 600), Decision::Continue, "fewer than min_evals");
        let chance = [0.10, 0.11, 0.10, 0.10, 0.12, 0.10, 0.11, 0.10, 0.10, 0.11];
        assert_eq!(decide(&rule, &curve(&chance, None), None, 1000), Decision::Continue, "flat, but at chance");
        // the built-in data's pilot at 252 iterations: a noisy climb the
        // rule's comparison alone calls flat; it still makes new bests
        let noisy = [0.10, 0.10, 0.10, 0.11, 0.10, 0.12, 0.24, 0.177, 0.177, 0.183, 0.227, 0.307];
        let rule = FindSchedule { min_evals: 8, patience: 1, ..FindSchedule::default() };
        assert!(flattened(&curve(&noisy, None)), "the rule's comparison: flat");
        assert_eq!(decide(&rule, &curve(&noisy, None), None, 1200), Decision::Continue, "a new best: not stalled");
    }

    /// After the first drop the pilot stops only at a segment's end, when
    /// that segment has flattened or the last rate has been trained.
    #[test]
    fn the_pilot_stops_at_a_flat_segment_end() {
        let rule = FindSchedule { max_rates: 3, ..FindSchedule::default() };
        let mut top1 = vec![0.3, 0.5, 0.6, 0.66, 0.70, 0.71, 0.70, 0.71, 0.71, 0.70];
        // the second rate: a step up, then flat
        top1.extend([0.76, 0.78, 0.79, 0.79, 0.80, 0.79, 0.80, 0.79, 0.80, 0.80]);
        let c = curve(&top1, Some(1000));
        assert_eq!(decide(&rule, &c[..15], Some(1000), 1500), Decision::Continue, "not at a segment's end");
        assert_eq!(decide(&rule, &c, Some(1000), 2000), Decision::Stop { converged: true }, "both segments flat");
        // a first segment still creeping by quarters (0.70 → 0.75) needs a third rate, however flat the second
        let mut creeping = vec![0.3, 0.5, 0.6, 0.66, 0.68, 0.70, 0.71, 0.73, 0.74, 0.75];
        creeping.extend([0.80, 0.81, 0.81, 0.82, 0.81, 0.82, 0.81, 0.82, 0.82, 0.81]);
        assert_eq!(decide(&rule, &curve(&creeping, Some(1000)), Some(1000), 2000), Decision::Continue);
        let mut third = creeping.clone();
        third.extend([0.82, 0.83, 0.82, 0.83, 0.82, 0.83, 0.83, 0.82, 0.83, 0.83]);
        let four = FindSchedule { max_rates: 4, ..rule.clone() };
        assert_eq!(decide(&four, &curve(&third, Some(1000)), Some(1000), 3000), Decision::Stop { converged: true }, "the second and third rates flat");
        let mut rising_third = creeping.clone();
        rising_third.extend((0..10).map(|k| 0.82 + 0.01 * k as f64));
        assert_eq!(decide(&four, &curve(&rising_third, Some(1000)), Some(1000), 3000), Decision::Continue, "the third still rising");
        // still climbing at the second rate: on to a third
        let mut climbing = top1[..10].to_vec();
        climbing.extend((0..10).map(|k| 0.72 + 0.01 * k as f64));
        assert_eq!(decide(&rule, &curve(&climbing, Some(1000)), Some(1000), 2000), Decision::Continue);
        // at the last rate allowed it stops whatever the curve does
        let mut third = climbing.clone();
        third.extend((0..10).map(|k| 0.82 + 0.01 * k as f64));
        assert_eq!(decide(&rule, &curve(&third, Some(1000)), Some(1000), 3000), Decision::Stop { converged: false });
    }

    /// The whole set's schedule has as many epochs: twice the images, twice
    /// the iterations, the drops at the same fractions, as many evaluations.
    #[test]
    fn a_larger_set_trains_as_many_epochs() {
        let s = found_schedule(&Schedule::single_job(100, 32, 0.01), 1200, 2400, 150);
        assert_eq!((s.eval_every(), s.evals), (150, 16));
        let w = scaled(&s, 2.0);
        assert_eq!((w.step_size, w.max_iter, w.evals, w.eval_every()), (2400, 4800, 16, 300));
        let b = PilotBounds::new(&FindSchedule::default(), 4800, 32);
        assert_eq!(b.eval_every, 38, "150 iterations an epoch, 4 evaluations");
        assert!(b.first_cap.is_multiple_of(b.eval_every) && b.first_cap >= 60 * 150);
    }
}
