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

/// Expand a configuration into a plan under `out`.
pub fn expand(cfg: &SweepConfig, out: &Path) -> Result<Plan> {
    let mut family_layers = vec![cfg.natman.as_ref().and_then(|g| g.transfers.layers.as_ref()), cfg.whole.as_ref().and_then(|g| g.layers.as_ref())];
    family_layers.extend(cfg.dissimilar.iter().map(|g| g.transfers.layers.as_ref()));
    for &n in cfg.layers.iter().chain(family_layers.into_iter().flatten().flatten()) {
        model::layers::check_range(n, 1, records::MAX_N).map_err(|e| Error::Plan(format!("layers: {e}")))?;
    }
    // the dissimilar splits: natural/man-made by preset, then the user's by name
    let mut two_groups: Vec<TwoGroups> = Vec::new();
    if let Some(g) = &cfg.natman {
        let split = SplitSpec::Natman { preset: g.preset.clone() };
        let halves = [Half::new("natural"), Half::new("manmade")].map(|h| h.expect("the paper's halves are words"));
        two_groups.push(TwoGroups { family: Family::Natman, split, halves, transfers: &g.transfers });
    }
    for g in &cfg.dissimilar {
        let family = g.split.check_names()?;
        if two_groups.iter().any(|t| t.family == family) {
            return Err(Error::Plan(format!("two dissimilar splits are named `{}`", g.split.name)));
        }
        two_groups.push(TwoGroups { family, split: SplitSpec::Dissimilar(g.split.clone()), halves: g.split.halves.clone(), transfers: &g.transfers });
    }
    if cfg.replicates == 0 {
        return Err(Error::Plan("replicates must be at least 1".into()));
    }
    let mut jobs: Vec<PlannedJob> = Vec::new();
    let layout = records::SweepLayout::new(out);
    // each part's own replicates, or the configuration's
    let reps = |own: Option<usize>| own.unwrap_or(cfg.replicates);
    let most = two_groups.iter().map(|g| reps(g.transfers.replicates)).chain(cfg.whole.as_ref().map(|w| reps(w.replicates))).fold(cfg.replicates, usize::max);
    if two_groups.iter().any(|g| g.transfers.replicates == Some(0)) || cfg.whole.as_ref().is_some_and(|w| w.replicates == Some(0)) {
        return Err(Error::Plan("a part's replicates must be at least 1".into()));
    }
    for r in 0..most {
        // every job from its id: the arm, halves, n, source base and examples per class are the id's
        let mut add = |id: JobId, split_id: &str, split: SplitSpec, schedule: &Schedule| {
            let id = JobId { replicate: r, ..id };
            let name = id.to_string();
            let base = id.source_base();
            let source = base.as_ref().map(|base| layout.final_params(&base.to_string()));
            jobs.push(PlannedJob {
                job: JobSpec {
                    seed: stable_seed(cfg.seed ^ r as u64, &name),
                    dir: layout.job(&name),
                    id,
                    split_id: split_id.into(),
                    data: cfg.data.clone(),
                    split,
                    source,
                    model: cfg.model.clone(),
                    outputs: cfg.outputs,
                    schedule: schedule.clone(),
                    preprocess: cfg.preprocess,
                    records: layout.records(),
                    keep_final: cfg.keep_final,
                    cache_prefix: cfg.cache_prefix,
                    cache_passes: cfg.cache_passes,
                },
                deps: base.into_iter().collect(),
            });
        };
        let sch = &cfg.schedule;
        if let Some(g) = cfg.random.as_ref().filter(|_| r < cfg.replicates) {
            for &s in &g.seeds {
                let split = SplitSpec::Random { seed: s, fraction: g.fraction, numpy: g.numpy };
                let sid = s.to_string();
                let id = |kind: JobKind| JobId { family: Family::Random, seed: Some(s), kind, replicate: 0 };
                let mut halves: Vec<&Half> = g.selffer.iter().collect();
                halves.extend(g.transfer.iter().flatten());
                halves.sort_unstable();
                halves.dedup();
                for &h in &halves {
                    add(id(JobKind::Base { half: h.clone() }), &sid, split.clone(), sch);
                }
                let variants: Vec<bool> = [(g.frozen, false), (g.fine_tune, true)].iter().filter(|v| v.0).map(|v| v.1).collect();
                for &n in &cfg.layers {
                    for &fine_tune in &variants {
                        for h in &g.selffer {
                            add(id(JobKind::Selffer { half: h.clone(), n, fine_tune }), &sid, split.clone(), sch);
                        }
                        for [a, b] in &g.transfer {
                            add(id(JobKind::Transfer { source: a.clone(), target: b.clone(), n, fine_tune }), &sid, split.clone(), sch);
                        }
                    }
                }
            }
        }
        for g in two_groups.iter().filter(|g| r < reps(g.transfers.replicates)) {
            let id = |kind: JobKind| JobId { family: g.family.clone(), seed: None, kind, replicate: 0 };
            let split_id = g.family.name();
            for h in &g.halves {
                add(id(JobKind::Base { half: h.clone() }), split_id, g.split.clone(), sch);
            }
            let [first, second] = &g.halves;
            let mut pairs = vec![(first, second)];
            if g.transfers.both_directions {
                pairs.push((second, first));
            }
            let variants: &[bool] = if g.transfers.fine_tune { &[false, true] } else { &[false] };
            for &n in g.transfers.layers.as_ref().unwrap_or(&cfg.layers) {
                for &fine_tune in variants {
                    for (a, b) in &pairs {
                        let kind = JobKind::Transfer { source: (*a).clone(), target: (*b).clone(), n, fine_tune };
                        add(id(kind), split_id, g.split.clone(), sch);
                    }
                }
            }
        }
        if let Some(g) = cfg.whole.as_ref().filter(|w| r < reps(w.replicates)) {
            let id = |kind: JobKind| JobId { family: Family::Whole, seed: None, kind, replicate: 0 };
            let ws = g.schedule.as_ref().unwrap_or(sch);
            add(id(JobKind::Base { half: Half::whole() }), "whole", SplitSpec::Whole, ws);
            if g.nolearn {
                for &n in g.layers.as_ref().unwrap_or(&cfg.layers) {
                    add(id(JobKind::Nolearn { n }), "whole", SplitSpec::Whole, ws);
                }
            }
            let rs = cfg.reduced_schedule.as_ref().unwrap_or(sch);
            for &k in &g.reduced {
                add(id(JobKind::Reduced { k }), "whole", SplitSpec::Whole, rs);
            }
        }
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
