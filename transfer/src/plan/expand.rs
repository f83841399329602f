//! A configuration expanded into a plan: every job with its stable id,
//! seed, output folder and the jobs it depends on, bases first.

use std::path::Path;

use super::config::*;
use super::{Plan, PlannedJob};
use crate::error::{Error, Result};
use crate::spec::{Family, Half, JobSpec, Schedule, SplitSpec};
use records::{JobId, JobKind};

/// A dissimilar split's part of the grid, whatever named it (a
/// natural/man-made preset or class names): two bases and the transfers
/// between them.
struct TwoGroups<'a> {
    family: Family,
    split: SplitSpec,
    halves: [Half; 2],
    transfers: &'a TwoGroupTransfers,
}

pub(super) fn stable_seed(base: u64, id: &str) -> u64 {
    // FNV-1a: stable across platforms and releases
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ base;
    for b in id.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h & 0x7fff_ffff_ffff_ffff
}

/// A job the grid wants in one replicate, before it is placed: its id (the
/// replicate set later), split and solver.
struct Wanted<'a> {
    id: JobId,
    split_id: String,
    split: SplitSpec,
    schedule: &'a Schedule,
}

/// Every n the configuration names is one a network can copy.
fn check_layers(cfg: &SweepConfig) -> Result<()> {
    let mut family_layers = vec![cfg.natman.as_ref().and_then(|g| g.transfers.layers.as_ref()), cfg.whole.as_ref().and_then(|g| g.layers.as_ref())];
    family_layers.extend(cfg.dissimilar.iter().map(|g| g.transfers.layers.as_ref()));
    for &n in cfg.layers.iter().chain(family_layers.into_iter().flatten().flatten()) {
        model::layers::check_range(n, 1, records::MAX_N).map_err(|e| Error::Plan(format!("layers: {e}")))?;
    }
    Ok(())
}

/// The dissimilar splits: natural/man-made by preset, then the user's by name.
fn two_groups(cfg: &SweepConfig) -> Result<Vec<TwoGroups<'_>>> {
    let mut two_groups: Vec<TwoGroups> = Vec::new();
    if let Some(g) = &cfg.natman {
        let split = SplitSpec::Natman { preset: g.preset.clone() };
        let halves = [Half::natural(), Half::manmade()];
        two_groups.push(TwoGroups { family: Family::Natman, split, halves, transfers: &g.transfers });
    }
    for g in &cfg.dissimilar {
        let family = g.split.check_names()?;
        if two_groups.iter().any(|t| t.family == family) {
            return Err(Error::Plan(format!("two dissimilar splits are named `{}`", g.split.name)));
        }
        two_groups.push(TwoGroups { family, split: SplitSpec::Dissimilar(g.split.clone()), halves: g.split.halves.clone(), transfers: &g.transfers });
    }
    Ok(two_groups)
}

/// The random halves' jobs: per split, the bases the arms need, then every
/// n's selffers and transfers, frozen and fine-tuned as asked.
fn random_jobs<'a>(cfg: &'a SweepConfig, g: &RandomGrid) -> Vec<Wanted<'a>> {
    let mut out = Vec::new();
    for &s in &g.seeds {
        let split = SplitSpec::Random { seed: s, fraction: g.fraction, numpy: g.numpy };
        let want = |kind: JobKind| Wanted {
            id: JobId { family: Family::Random, seed: Some(s), kind, replicate: 0 },
            split_id: s.to_string(),
            split: split.clone(),
            schedule: &cfg.schedule,
        };
        let mut halves: Vec<&Half> = g.selffer.iter().collect();
        halves.extend(g.transfer.iter().flatten());
        halves.sort_unstable();
        halves.dedup();
        for &h in &halves {
            out.push(want(JobKind::Base { half: h.clone() }));
        }
        let variants: Vec<bool> = [(g.frozen, false), (g.fine_tune, true)].iter().filter(|v| v.0).map(|v| v.1).collect();
        for &n in &cfg.layers {
            for &fine_tune in &variants {
                for h in &g.selffer {
                    out.push(want(JobKind::Selffer { half: h.clone(), n, fine_tune }));
                }
                for [a, b] in &g.transfer {
                    out.push(want(JobKind::Transfer { source: a.clone(), target: b.clone(), n, fine_tune }));
                }
            }
        }
    }
    out
}

/// A dissimilar split's jobs: both bases, then transfers one way or both.
fn two_group_jobs<'a>(cfg: &'a SweepConfig, g: &TwoGroups<'_>) -> Vec<Wanted<'a>> {
    let want = |kind: JobKind| Wanted {
        id: JobId { family: g.family.clone(), seed: None, kind, replicate: 0 },
        split_id: g.family.name().to_string(),
        split: g.split.clone(),
        schedule: &cfg.schedule,
    };
    let mut out: Vec<Wanted> = g.halves.iter().map(|h| want(JobKind::Base { half: h.clone() })).collect();
    let [first, second] = &g.halves;
    let mut pairs = vec![(first, second)];
    if g.transfers.both_directions {
        pairs.push((second, first));
    }
    let variants: &[bool] = if g.transfers.fine_tune { &[false, true] } else { &[false] };
    for &n in g.transfers.layers.as_ref().unwrap_or(&cfg.layers) {
        for &fine_tune in variants {
            for (a, b) in &pairs {
                out.push(want(JobKind::Transfer { source: (*a).clone(), target: (*b).clone(), n, fine_tune }));
            }
        }
    }
    out
}

/// The whole set's jobs: its base, nolearn at every n, reduced data.
fn whole_jobs<'a>(cfg: &'a SweepConfig, g: &'a WholeGrid) -> Vec<Wanted<'a>> {
    let want = |kind: JobKind, schedule: &'a Schedule| Wanted {
        id: JobId { family: Family::Whole, seed: None, kind, replicate: 0 },
        split_id: "whole".into(),
        split: SplitSpec::Whole,
        schedule,
    };
    let ws = g.schedule.as_ref().unwrap_or(&cfg.schedule);
    let mut out = vec![want(JobKind::Base { half: Half::whole() }, ws)];
    if g.nolearn {
        out.extend(g.layers.as_ref().unwrap_or(&cfg.layers).iter().map(|&n| want(JobKind::Nolearn { n }, ws)));
    }
    let rs = cfg.reduced_schedule.as_ref().unwrap_or(&cfg.schedule);
    out.extend(g.reduced.iter().map(|&k| want(JobKind::Reduced { k }, rs)));
    out
}

/// A wanted job of replicate `r` placed in the sweep folder: its seed from
/// its id, its folder, the base it copies from as its dependency.
fn place(cfg: &SweepConfig, layout: &records::SweepLayout, r: usize, w: Wanted<'_>) -> PlannedJob {
    let id = JobId { replicate: r, ..w.id };
    let name = id.to_string();
    let base = id.source_base();
    let source = base.as_ref().map(|base| layout.final_params(&base.to_string()));
    PlannedJob {
        job: JobSpec {
            seed: stable_seed(cfg.seed ^ r as u64, &name),
            dir: layout.job(&name),
            id,
            split_id: w.split_id,
            data: cfg.data.clone(),
            split: w.split,
            source,
            model: cfg.model,
            outputs: cfg.outputs,
            schedule: w.schedule.clone(),
            preprocess: cfg.preprocess,
            records: layout.records(),
            keep_final: cfg.keep_final,
            cache_prefix: cfg.cache_prefix,
            cache_passes: cfg.cache_passes,
            validation: cfg.validation,
        },
        deps: base.into_iter().collect(),
    }
}

/// Expand a configuration into a plan under `out`: every job from its id
/// (the arm, halves, n, source base and examples per class are the id's),
/// replicate by replicate, each part up to its own number of replicates.
pub fn expand(cfg: &SweepConfig, out: &Path) -> Result<Plan> {
    check_layers(cfg)?;
    let two_groups = two_groups(cfg)?;
    if cfg.replicates == 0 {
        return Err(Error::Plan("replicates must be at least 1".into()));
    }
    // each part's own replicates, or the configuration's
    let reps = |own: Option<usize>| own.unwrap_or(cfg.replicates);
    let most = two_groups.iter().map(|g| reps(g.transfers.replicates)).chain(cfg.whole.as_ref().map(|w| reps(w.replicates))).fold(cfg.replicates, usize::max);
    if two_groups.iter().any(|g| g.transfers.replicates == Some(0)) || cfg.whole.as_ref().is_some_and(|w| w.replicates == Some(0)) {
        return Err(Error::Plan("a part's replicates must be at least 1".into()));
    }
    let layout = records::SweepLayout::new(out);
    let mut jobs: Vec<PlannedJob> = Vec::new();
    for r in 0..most {
        let mut wanted = Vec::new();
        if let Some(g) = cfg.random.as_ref().filter(|_| r < cfg.replicates) {
            wanted.extend(random_jobs(cfg, g));
        }
        for g in two_groups.iter().filter(|g| r < reps(g.transfers.replicates)) {
            wanted.extend(two_group_jobs(cfg, g));
        }
        if let Some(g) = cfg.whole.as_ref().filter(|w| r < reps(w.replicates)) {
            wanted.extend(whole_jobs(cfg, g));
        }
        jobs.extend(wanted.into_iter().map(|w| place(cfg, &layout, r, w)));
    }
    let mut seen = std::collections::HashSet::new();
    for j in &jobs {
        if !seen.insert(j.job.id.clone()) {
            return Err(Error::Plan(format!("job id `{}` appears twice: the grid repeats itself", j.job.id)));
        }
        // held to the rule an id read back is (a transfer between a half and itself, say)
        j.job.id.kind.check().map_err(|e| Error::Plan(format!("job `{}`: {e}", j.job.id)))?;
    }
    Ok(Plan { config: cfg.clone(), out: out.to_path_buf(), jobs })
}
