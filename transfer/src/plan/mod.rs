//! The sweep: a preset or a configuration file expanded into jobs with
//! stable ids, dependencies and output folders.
//!
//! The sweep's output folder is laid out by `records::SweepLayout` (the
//! plan, each job's folder, the records, the similarity table, the
//! report), its one spelling.
//!
//! Job ids follow one grammar, `records::JobId` (written and read there):
//! `r<seed>-base-<H>`, `r<seed>-transfer[-ft]-<S>-<T>-n<n>`,
//! `natman-base-<half>`, `whole-nolearn-n<n>`, ...; replicates beyond the
//! first add `-r<i>`. A job is built from its id: the arm, the halves, n
//! and the base it copies from are the id's.
//!
//! The module's parts: `config.rs` (the configuration file's schema),
//! `presets.rs` (the named configurations, each written out), `expand.rs`
//! ([`expand()`]: a configuration into jobs), `find.rs` ([`find`]: a
//! schedule found from the data by a pilot base) and `calibrate.rs`
//! ([`calibrate()`]: a machine's training speed, for `--dry-run` estimates).

mod calibrate;
mod config;
mod expand;
pub mod find;
mod presets;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::JobSpec;
use records::JobId;

pub use calibrate::calibrate;
pub use config::{DissimilarGrid, NatmanGrid, RandomGrid, SweepConfig, TwoGroupTransfers, WholeGrid};
pub use expand::expand;
pub use presets::{DEFAULT_LAYERS, DEFAULT_TEST_PER_CLASS, DEFAULT_UNITS, PRESETS, default_whole_schedule};

/// A job in the plan with the jobs it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedJob {
    /// The job.
    pub job: JobSpec,
    /// The jobs that must finish first.
    pub deps: Vec<JobId>,
}

/// A whole sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The configuration it was expanded from.
    pub config: SweepConfig,
    /// Output folder.
    pub out: PathBuf,
    /// Jobs in dependency order (every job after its dependencies).
    pub jobs: Vec<PlannedJob>,
}

impl Plan {
    /// Jobs per family and arm.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for j in &self.jobs {
            *m.entry(format!("{}/{}", j.job.family(), j.job.arm_label())).or_default() += 1;
        }
        m
    }

    /// Training image-steps (iterations × batch) of all jobs.
    pub fn image_steps(&self) -> u64 {
        self.jobs.iter().map(|j| j.job.schedule.max_iter * j.job.schedule.batch_size as u64).sum()
    }

    /// Write `OUT/plan.json`, refusing a folder that holds a different plan
    /// unless `force`.
    pub fn write(&self, force: bool) -> Result<()> {
        let path = records::SweepLayout::new(&self.out).plan();
        let json = serde_json::to_string_pretty(self).expect("plan serialises");
        if let Ok(existing) = std::fs::read_to_string(&path)
            && existing != json
            && !force
        {
            return Err(Error::Plan(format!(
                "{} holds a different plan; use another --out, or --force to replace it (finished jobs with the same id are kept)",
                path.display()
            )));
        }
        Ok(crate::record::atomic_write(&path, |f| std::io::Write::write_all(f, json.as_bytes()))?)
    }

    /// The plan as a dependency graph, one line per job.
    pub fn graph(&self) -> String {
        self.jobs
            .iter()
            .map(|j| {
                if j.deps.is_empty() {
                    format!("{}\n", j.job.id)
                } else {
                    format!("{} <- {}\n", j.job.id, j.deps.iter().map(JobId::to_string).collect::<Vec<_>>().join(", "))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::expand::stable_seed;
    use super::presets::default_schedule;
    use super::*;
    use crate::spec::{Half, Schedule, SplitSpec};

    /// Every example configuration the documentation points to reads and
    /// expands (a key renamed in the schema would otherwise break them
    /// silently); the schedule-finding one asks for a validation set.
    #[test]
    fn every_example_configuration_reads_and_expands() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).expect("docs/examples") {
            let path = e.expect("entry").path();
            if path.extension().is_some_and(|x| x == "json") {
                let cfg = SweepConfig::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let plan = expand(&cfg, std::path::Path::new("/tmp/x")).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(!plan.jobs.is_empty(), "{}", path.display());
                if path.ends_with("find-schedule-bases.json") {
                    assert!(cfg.find_schedule.is_some() && plan.jobs.iter().all(|j| j.job.validation == Some(0.1)));
                }
                n += 1;
            }
        }
        assert!(n >= 6, "{n} examples");
    }

    #[test]
    fn default_preset_has_four_units_for_every_finding_with_bases_first() {
        let plan = expand(&SweepConfig::preset("default", None).expect("preset"), Path::new("/tmp/x")).expect("plan");
        // 4 splits x (2 bases + 3 n x 4 arms) + 4 replicates x (natman (2 bases + 2 n x 2 directions) + whole (base + 3 nolearn))
        assert_eq!(plan.jobs.len(), 4 * (2 + 3 * 4) + 4 * ((2 + 2 * 2) + (1 + 3)));
        let c = plan.counts();
        assert_eq!(c["random/base"], 8);
        for arm in ["BnB", "BnB+", "AnB", "AnB+"] {
            assert_eq!(c[&format!("random/{arm}")], 12, "{arm}: 4 splits x 3 layers");
        }
        assert_eq!(c["natman/base"], 8);
        assert_eq!(c["natman/AnB"], 16);
        assert_eq!(c["whole/base"], 4);
        assert_eq!(c["whole/nolearn"], 12);
        // the fixed splits' replicates are their units; random splits are not replicated
        let reps = |family: &str| plan.jobs.iter().filter(|j| j.job.family() == family).map(|j| j.job.replicate()).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(reps("natman"), [0, 1, 2, 3].into_iter().collect());
        assert_eq!(reps("whole"), [0, 1, 2, 3].into_iter().collect());
        assert_eq!(reps("random"), [0].into_iter().collect());
        let t = plan.jobs.iter().find(|j| j.job.id == "natman-transfer-natural-manmade-n7-r2").expect("a replicate's transfer");
        assert_eq!(t.deps, vec!["natman-base-natural-r2".parse::<JobId>().expect("id")], "from its own replicate's base");
        let n: std::collections::BTreeSet<usize> = plan.jobs.iter().filter(|j| j.job.family() == "random").map(|j| j.job.n()).collect();
        assert_eq!(n, [0, 2, 4, 7].into_iter().collect());
        let pos: BTreeMap<&JobId, usize> = plan.jobs.iter().enumerate().map(|(i, j)| (&j.job.id, i)).collect();
        for j in &plan.jobs {
            for d in &j.deps {
                assert!(pos[d] < pos[&j.job.id], "{} before {d}", j.job.id);
            }
        }
        let t = plan.jobs.iter().find(|j| j.job.id == "r2-transfer-A-B-n4").expect("job");
        assert_eq!(t.deps, vec!["r2-base-A".parse::<JobId>().expect("id")]);
        assert!(t.job.source.as_ref().expect("source").ends_with("jobs/r2-base-A/final.params"));
        // the whole set (both halves' images) trains twice as long, every other network as the halves' bases
        for j in &plan.jobs {
            let want = if j.job.family() == "whole" { default_whole_schedule() } else { default_schedule() };
            assert_eq!(j.job.schedule, want, "{}", j.job.id);
        }
        assert_eq!((default_whole_schedule().max_iter, default_whole_schedule().step_size), (10_000, 4_000));
    }

    /// A configuration without a whole-set schedule trains the whole set
    /// under its `schedule`, as before the field existed.
    #[test]
    fn the_whole_set_takes_the_common_schedule_unless_given_its_own() {
        let mut cfg = SweepConfig::preset("smoke", None).expect("preset");
        let common = cfg.schedule.clone();
        let plan = expand(&cfg, Path::new("/tmp/x")).expect("plan");
        assert!(plan.jobs.iter().all(|j| j.job.schedule == common));
        let own = Schedule { max_iter: 2 * common.max_iter, ..common.clone() };
        cfg.whole.as_mut().expect("whole grid").schedule = Some(own.clone());
        let plan = expand(&cfg, Path::new("/tmp/x")).expect("plan");
        assert!(plan.jobs.iter().all(|j| j.job.schedule == if j.job.family() == "whole" { own.clone() } else { common.clone() }));
    }

    #[test]
    fn ids_and_seeds_are_stable() {
        let cfg = SweepConfig::preset("smoke", None).expect("preset");
        let a = expand(&cfg, Path::new("o")).expect("plan");
        let b = expand(&cfg, Path::new("o")).expect("plan");
        assert_eq!(a, b);
        // FNV-1a of the id, pinned: a change here changes every job's seed,
        // and so every record (computed independently in Python)
        assert_eq!(stable_seed(0, "r0-base-A"), 1_202_900_300_710_852_825);
        assert_eq!(stable_seed(0, "r0-base-B"), 1_202_897_002_175_968_192);
        assert_eq!(stable_seed(0, "r0-transfer-A-B-n3"), 5_530_163_367_414_382_208);
        assert_eq!(stable_seed(1, "r0-base-A-r1"), 1_679_223_933_943_595_624);
        let seed = |id: &str| a.jobs.iter().find(|j| j.job.id == id).expect("job").job.seed;
        assert_eq!(seed("r0-base-A"), 1_202_900_300_710_852_825, "the plan uses the pinned seed");
    }

    /// A job is what its id says: every planned id prints and parses back
    /// the same; its job file writes out the id's arm, family, target, n,
    /// variant and replicate and reads back the same job; it depends on
    /// the base its id names; and a job file whose facts contradict its id,
    /// or that lacks the source a copied job needs, is refused.
    #[test]
    fn every_job_is_its_id() {
        for preset in PRESETS {
            let mut cfg = SweepConfig::preset(preset, Some(Path::new("data"))).expect("preset");
            cfg.replicates = 2;
            for j in expand(&cfg, Path::new("o")).expect("plan").jobs {
                let id = &j.job.id;
                assert_eq!(&id.to_string().parse::<JobId>().unwrap_or_else(|e| panic!("{e}")), id);
                let file = serde_json::to_value(&j.job).expect("json");
                let k = &id.kind;
                assert_eq!(file["id"], id.to_string());
                assert_eq!(
                    (&file["arm"], &file["family"], &file["target_half"]),
                    (&k.arm().name().into(), &id.family.name().into(), &k.target().as_str().into())
                );
                assert_eq!((&file["n"], &file["fine_tune"], &file["replicate"]), (&k.n().into(), &k.fine_tune().into(), &id.replicate.into()), "{id}");
                assert_eq!(file["source"]["half"].as_str(), k.source().map(Half::as_str), "{id}");
                assert_eq!(serde_json::from_value::<JobSpec>(file).expect("reads back"), j.job, "{id}");
                assert_eq!(j.deps, id.source_base().into_iter().collect::<Vec<_>>(), "{id}");
            }
        }
        let plan = expand(&SweepConfig::preset("smoke", None).expect("preset"), Path::new("o")).expect("plan");
        let transfer = plan.jobs.iter().find(|j| j.job.arm() == crate::spec::Arm::Transfer).expect("a transfer");
        let file = serde_json::to_value(&transfer.job).expect("json");
        let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut f = file.clone();
            edit(&mut f);
            serde_json::from_value::<JobSpec>(f).expect_err("refused").to_string()
        };
        let e = refused(&|f| f["n"] = 5.into());
        assert!(e.contains("disagrees with its id: `n` is 5, the id says"), "{e}");
        let e = refused(&|f| f["target_half"] = "A".into());
        assert!(e.contains("`target_half` is A, the id says B"), "{e}");
        let e = refused(&|f| f["source"] = serde_json::Value::Null);
        assert!(e.contains("`source.half` is None"), "{e}");
        let e = refused(&|f| f["id"] = "r0-transfer-A-B-n9".into());
        assert!(e.contains("n must be 1 to 7, not 9"), "{e}");
        let e = refused(&|f| f["id"] = "r0-transfer-A-B".into());
        assert!(e.contains("not a job of the grid"), "{e}");
    }

    #[test]
    fn imagenet_paper_counts() {
        let plan = expand(&SweepConfig::preset("imagenet-paper", None).expect("preset"), Path::new("o")).expect("plan");
        let c = plan.counts();
        assert_eq!(c["random/base"], 8);
        assert_eq!(c["random/BnB"], 56);
        assert_eq!(c["random/AnB"], 56);
        assert_eq!(c["whole/reduced"], 12);
        assert_eq!(plan.jobs.len(), 8 + 56 * 4 + 16 + 1 + 7 + 12);
    }

    #[test]
    fn bad_config_keys_and_presets_are_named() {
        let e = SweepConfig::preset("huge", None).expect_err("error").to_string();
        assert!(e.contains("default, smoke, cifar10, cifar100, imagenet-paper"), "{e}");
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("c.json");
        let mut v = serde_json::to_value(SweepConfig::preset("smoke", None).expect("preset")).expect("json");
        v["layerz"] = serde_json::json!([1]);
        std::fs::write(&p, v.to_string()).expect("write");
        let e = SweepConfig::read(&p).expect_err("error").to_string();
        assert!(e.contains("layerz") && e.contains("expected one of"), "{e}");
    }

    #[test]
    fn a_different_plan_in_the_folder_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = expand(&SweepConfig::preset("smoke", None).expect("preset"), dir.path()).expect("plan");
        a.write(false).expect("first write");
        a.write(false).expect("same plan again");
        let mut cfg = SweepConfig::preset("smoke", None).expect("preset");
        cfg.seed = 5;
        let b = expand(&cfg, dir.path()).expect("plan");
        assert!(b.write(false).expect_err("error").to_string().contains("different plan"));
        b.write(true).expect("forced");
    }

    #[test]
    fn a_dissimilar_split_by_name_is_a_family_of_its_own() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("footwear.txt"), "sandal\nsneaker\nboot\n").expect("write");
        let mut v = serde_json::to_value(SweepConfig::preset("smoke", None).expect("preset")).expect("json");
        v["natman"] = serde_json::Value::Null;
        v["dissimilar"] = serde_json::json!({
            "name": "clothing_vs_footwear", "halves": ["clothing", "footwear"],
            "a": ["t-shirt", "trouser", "pullover", "dress", "coat", "shirt"], "b": "footwear.txt",
            "left_out": ["bag"], "layers": [4], "both_directions": false
        });
        let p = dir.path().join("c.json");
        std::fs::write(&p, v.to_string()).expect("write");
        let cfg = SweepConfig::read(&p).expect("config");
        // the file's names are in the plan, not its path
        assert_eq!(cfg.dissimilar[0].split.b, data_split::dissimilar::ClassNames::List(vec!["sandal".into(), "sneaker".into(), "boot".into()]));
        let plan = expand(&cfg, Path::new("o")).expect("plan");
        let ids: Vec<String> = plan.jobs.iter().filter(|j| j.job.family() == "clothing_vs_footwear").map(|j| j.job.name()).collect();
        assert_eq!(ids, ["clothing_vs_footwear-base-clothing", "clothing_vs_footwear-base-footwear", "clothing_vs_footwear-transfer-clothing-footwear-n4"]);
        let t = plan.jobs.iter().find(|j| j.job.id == ids[2].as_str()).expect("transfer");
        assert_eq!((t.job.target_half().as_str(), t.deps[0].to_string().as_str()), ("footwear", "clothing_vs_footwear-base-clothing"));
        assert!(matches!(&t.job.split, SplitSpec::Dissimilar(d) if d.left_out == ["bag"]));
        // a list of splits; typos inside the split, names that break ids, and repeats are refused
        v["dissimilar"] = serde_json::json!([{"name": "x", "a": ["a"], "b": ["b"]}, {"name": "y", "a": ["a"], "b": ["b"], "lef_out": []}]);
        std::fs::write(&p, v.to_string()).expect("write");
        let e = SweepConfig::read(&p).expect_err("typo").to_string();
        assert!(e.contains("lef_out"), "{e}");
        v["dissimilar"] = serde_json::json!([{"name": "x", "a": ["a"], "b": ["b"]}, {"name": "x", "a": ["a"], "b": ["b"]}]);
        std::fs::write(&p, v.to_string()).expect("write");
        let e = expand(&SweepConfig::read(&p).expect("config"), Path::new("o")).expect_err("twice").to_string();
        assert!(e.contains("two dissimilar splits are named `x`"), "{e}");
        // the natural/man-made grid's keys are checked the same way, and configurations round-trip
        let natman: NatmanGrid = serde_json::from_str(r#"{"preset": "cifar10", "layers": [4]}"#).expect("natman");
        assert_eq!((natman.transfers.layers, natman.transfers.both_directions), (Some(vec![4]), true));
        let e = serde_json::from_str::<NatmanGrid>(r#"{"preset": "cifar10", "both_direction": false}"#).expect_err("typo").to_string();
        assert!(e.contains("both_direction"), "{e}");
        let default = SweepConfig::preset("default", None).expect("preset");
        assert_eq!(serde_json::from_value::<SweepConfig>(serde_json::to_value(&default).expect("json")).expect("back"), default);
        v["dissimilar"] = serde_json::json!({"name": "indoor-outdoor", "a": ["a"], "b": ["b"]});
        std::fs::write(&p, v.to_string()).expect("write");
        let e = expand(&SweepConfig::read(&p).expect("config"), Path::new("o")).expect_err("dash").to_string();
        assert!(e.contains("`indoor-outdoor` must be one word"), "{e}");
    }
}
