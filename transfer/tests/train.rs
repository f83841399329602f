//! Training end to end on the tiny preset and synthetic data (seconds each).

use std::path::Path;

use model::checkpoint::{ParamStore, read_model};
use model::layers::layer_of_path;
use transfer::plan::{SweepConfig, expand};
use transfer::progress::ProgressMode;
use transfer::record::{curve_path, read_curve};
use transfer::{JobSpec, Outcome, RunOptions, run_job};

fn opts() -> RunOptions {
    RunOptions { progress: ProgressMode::Quiet, ..Default::default() }
}

/// A small grid's configuration: 10 synthetic classes, 60 training
/// images per class, batch 32.
fn small() -> SweepConfig {
    let mut cfg = SweepConfig::preset("smoke", None).expect("preset");
    if let data_split::DataSpec::Synthetic(s) = &mut cfg.data {
        s.classes = 10;
        s.train_per_class = 60;
        s.test_per_class = 20;
        // the first design: these tests are about training's mechanics, and
        // its classes are learnt in a few hundred steps (the declared cues'
        // natural family needs thousands)
        s.design = data_split::synthetic::Design::Parts;
    }
    cfg.schedule.batch_size = 32;
    cfg
}

/// Jobs of the small grid trained `iters` iterations.
fn jobs(out: &Path, iters: u64) -> Vec<JobSpec> {
    let mut cfg = small();
    cfg.schedule.max_iter = iters;
    cfg.schedule.evals = 10;
    cfg.schedule.step_size = iters;
    cfg.schedule.checkpoint_every = iters / 4;
    cfg.layers = vec![3, 7];
    expand(&cfg, out).expect("plan").jobs.into_iter().map(|j| j.job).collect()
}

fn job<'a>(jobs: &'a [JobSpec], id: &str) -> &'a JobSpec {
    jobs.iter().find(|j| j.id == id).unwrap_or_else(|| panic!("no job {id}"))
}

fn done(o: Outcome) -> transfer::RunRecord {
    match o {
        Outcome::Done(r) => *r,
        other => panic!("not done: {other:?}"),
    }
}

#[test]
fn base_learns_and_frozen_transfer_keeps_copied_layers() {
    let dir = tempfile::tempdir().expect("tmp");
    let js = jobs(dir.path(), 160);
    let base = done(run_job(job(&js, "r0-base-A"), &opts()).expect("base"));
    // 5 classes: chance is 0.2
    assert!(base.top1_max > 0.5 && base.top1_last > 0.45, "base top-1 max {} last {}: not well above chance", base.top1_max, base.top1_last);
    assert_eq!(base.n_evals, 10);
    assert_eq!(read_curve(&curve_path(&js[0].records, "r0-base-A")).expect("curve").len(), 10);
    let (_, base_w) = read_model(&job(&js, "r0-base-A").dir.join("final.params")).expect("base weights");

    for (id, n) in [("r0-transfer-A-B-n3", 3usize), ("r0-selffer-B-n7", 7)] {
        let spec = job(&js, id);
        if n == 7 {
            done(run_job(job(&js, "r0-base-B"), &opts()).expect("base B"));
        }
        let r = done(run_job(spec, &opts()).expect("transfer"));
        assert_eq!((r.arm.name(), r.n), (if n == 3 { "AnB" } else { "BnB" }, n as i32));
        let (_, after) = read_model(&spec.dir.join("final.params")).expect("weights");
        let src = if n == 3 { base_w.clone() } else { read_model(&job(&js, "r0-base-B").dir.join("final.params")).expect("w").1 };
        let fresh = model::AlexNetConfig::preset(model::ModelPreset::Tiny, 5).init(&burn::prelude::Device::flex(), spec.seed);
        let fresh = ParamStore::from_module(&fresh);
        for (path, t) in &after.tensors {
            let k = layer_of_path(path).expect("layer");
            if k <= n {
                assert_eq!(t, &src.tensors[path], "{id}: frozen {path} differs from the source base");
            } else {
                assert_ne!(t, &fresh.tensors[path], "{id}: {path} did not train");
            }
        }
    }
}

#[test]
fn killed_and_resumed_job_equals_an_uninterrupted_one() {
    isa::announce();
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let (ja, jb) = (jobs(a.path(), 60), jobs(b.path(), 60));
    let whole = done(run_job(job(&ja, "whole-base"), &opts()).expect("run"));
    let spec = job(&jb, "whole-base");
    // stop after 22 iterations (checkpoint written then), then again after 20 more
    let stop = RunOptions { stop_after: Some(22), ..opts() };
    assert_eq!(run_job(spec, &stop).expect("part"), Outcome::Stopped { iteration: 22 });
    assert_eq!(run_job(spec, &stop).expect("part"), Outcome::Stopped { iteration: 44 });
    let resumed = done(run_job(spec, &opts()).expect("rest"));
    assert_eq!(resumed.weights_sha256, whole.weights_sha256);
    assert_eq!(resumed.top1, whole.top1);
    let ca = read_curve(&curve_path(&ja[0].records, "whole-base")).expect("curve");
    let cb = read_curve(&curve_path(&jb[0].records, "whole-base")).expect("curve");
    let strip = |c: Vec<transfer::CurvePoint>| {
        c.into_iter().map(|p| (p.iteration, p.top1.to_bits(), p.test_loss.to_bits(), p.train_loss.to_bits())).collect::<Vec<_>>()
    };
    assert_eq!(strip(ca), strip(cb));
    assert!(!spec.dir.join("checkpoint.json").exists(), "intermediate checkpoints pruned");
    // a finished job is found done, not retrained
    assert_eq!(done(run_job(spec, &opts()).expect("again")).weights_sha256, whole.weights_sha256);
}

/// A checkpoint or record left in a job's folder by another job under the
/// same id (the configuration changed, or a stray process of an earlier
/// sweep wrote there) is never taken for this job's: the checkpoint is
/// refused with what to do, and the record does not make the job done.
#[test]
fn another_jobs_checkpoint_or_record_is_not_this_jobs() {
    let dir = tempfile::tempdir().expect("tmp");
    let (short, long) = (jobs(dir.path(), 40), jobs(dir.path(), 60));
    let (a, b) = (job(&short, "whole-base"), job(&long, "whole-base"));
    assert_ne!(a.fingerprint(), b.fingerprint());
    let mut moved = b.clone();
    moved.dir = dir.path().join("elsewhere");
    assert_eq!(moved.fingerprint(), b.fingerprint(), "where a job lives is not what it is");
    let stop = RunOptions { stop_after: Some(11), ..opts() };
    assert_eq!(run_job(a, &stop).expect("part"), Outcome::Stopped { iteration: 11 });
    let e = run_job(b, &opts()).expect_err("another job's checkpoint").to_string();
    assert!(e.contains("is the checkpoint of another job") && e.contains("remove"), "{e}");
    // the 40-iteration job finished: its record is not the 60-iteration job's
    let done40 = done(run_job(a, &opts()).expect("rest"));
    assert_eq!(done40.iterations, 40);
    let done60 = done(run_job(b, &opts()).expect("retrained, not found done"));
    assert_eq!(done60.iterations, 60);
    assert!(b.wrote(&transfer::record::run_path(&b.records, &b.name())) && !a.wrote(&transfer::record::run_path(&a.records, &a.name())));
}

/// `sweep --bases-from`: a grid run again with the prefix cache takes the
/// first run's finished bases (caching does not change a base, so their
/// fingerprints agree), and a grid with another solver takes none.
#[test]
fn a_sweep_takes_the_finished_bases_of_another_run_of_its_grid() {
    let dir = tempfile::tempdir().expect("tmp");
    let plan = |out: &Path, iters: u64, cached: bool| {
        let mut p = expand(&SweepConfig::preset("smoke", None).expect("preset"), out).expect("plan");
        let js = jobs(out, iters);
        for (pj, mut j) in p.jobs.iter_mut().zip(js) {
            j.cache_prefix = cached;
            pj.job = j;
        }
        p
    };
    let (first, cached, other) =
        (plan(&dir.path().join("first"), 40, false), plan(&dir.path().join("cached"), 40, true), plan(&dir.path().join("other"), 60, true));
    let base = |p: &transfer::plan::Plan, id: &str| p.jobs.iter().find(|j| j.job.id == id).expect("job").job.clone();
    let trained = done(run_job(&base(&first, "r0-base-A"), &opts()).expect("base"));
    assert_eq!(base(&first, "r0-base-A").fingerprint(), base(&cached, "r0-base-A").fingerprint(), "the cache does not change a base");
    assert_ne!(base(&first, "r0-transfer-A-B-n3").fingerprint(), base(&cached, "r0-transfer-A-B-n3").fingerprint(), "it changes a frozen job");
    let taken = transfer::executor::adopt_bases(&cached, &dir.path().join("first")).expect("adopt");
    assert_eq!(taken.iter().map(ToString::to_string).collect::<Vec<_>>(), ["r0-base-A"], "only the base that finished");
    // found done, not trained again: the same record
    let again = done(run_job(&base(&cached, "r0-base-A"), &opts()).expect("done"));
    assert_eq!((again.weights_sha256, again.cpu_seconds), (trained.weights_sha256, trained.cpu_seconds));
    assert!(base(&cached, "r0-base-A").dir.join("final.params").is_file(), "its transfers need its weights");
    assert!(transfer::executor::adopt_bases(&cached, &dir.path().join("first")).expect("adopt").is_empty(), "taken once");
    assert!(transfer::executor::adopt_bases(&other, &dir.path().join("first")).expect("adopt").is_empty(), "another solver's base is another network");
}

#[test]
fn nan_loss_gives_a_failed_record() {
    let dir = tempfile::tempdir().expect("tmp");
    let js = jobs(dir.path(), 20);
    let spec = job(&js, "whole-nolearn-n3");
    let e = run_job(spec, &RunOptions { inject_nan_at: Some(5), ..opts() }).expect_err("diverged").to_string();
    assert!(e.contains("loss became NaN at iteration 5"), "{e}");
    let r = transfer::record::read_run(&transfer::record::run_path(&spec.records, &spec.name())).expect("failed record");
    assert_eq!(r.status, transfer::record::Status::Failed);
    assert_eq!(r.iterations, 5, "the record stands at the diverging step");
    assert!(r.top1.is_nan());
    assert!(r.failure.expect("reason").contains("NaN"));
}

#[test]
fn missing_source_and_too_many_classes_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let js = jobs(dir.path(), 8);
    let e = run_job(job(&js, "r0-transfer-A-B-n3"), &opts()).expect_err("no base yet").to_string();
    assert!(e.contains("r0-base-A") && e.contains("missing"), "{e}");
    let mut spec = job(&js, "r0-base-A").clone();
    spec.outputs = transfer::Outputs::Fixed(3);
    let e = run_job(&spec, &opts()).expect_err("too many classes").to_string();
    assert!(e.contains("5 classes, more than fc8's 3"), "{e}");
}

#[test]
fn trained_bases_share_conv1_more_than_untrained_nets_share_fc7() {
    use transfer::similarity::compare_checkpoints;
    let dir = tempfile::tempdir().expect("tmp");
    let js = jobs(dir.path(), 160);
    for id in ["r0-base-A", "r0-base-B"] {
        done(run_job(job(&js, id), &opts()).expect("base"));
    }
    let probe_job = job(&js, "r0-base-B");
    let (a, b) = (job(&js, "r0-base-A").dir.join("final.params"), probe_job.dir.join("final.params"));
    let trained = compare_checkpoints(&a, &b, probe_job, 100).expect("cka");
    // two independently initialised, untrained networks with the bases' mean images
    let cfg = model::AlexNetConfig::preset(model::ModelPreset::Tiny, 5);
    let mut untrained = Vec::new();
    for (seed, base) in [(11u64, &a), (12, &b)] {
        let d = dir.path().join(format!("untrained-{seed}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::copy(base.with_file_name("mean.params"), d.join("mean.params")).expect("mean");
        model::checkpoint::save_model(&cfg.init(&burn::prelude::Device::flex(), seed), &cfg, &d.join("final.params")).expect("save");
        untrained.push(d.join("final.params"));
    }
    let random = compare_checkpoints(&untrained[0], &untrained[1], probe_job, 100).expect("cka");
    assert!((compare_checkpoints(&a, &a, probe_job, 100).expect("cka")[4] - 1.0).abs() < 1e-6, "a network with itself");
    assert!(random[6] < trained[0], "untrained fc7 CKA {} should be below trained conv1 CKA {}", random[6], trained[0]);
}

/// Without augmentation every cached pass holds the image itself, so a
/// cached frozen job must train exactly as the uncached one: same
/// evaluations, same final weights. n = 7 also checks that fc6's dropout,
/// inside the frozen prefix, is applied to the cached activations as the
/// uncached forward pass applies it. The cached job is also killed and
/// resumed on the way.
#[test]
fn cached_prefix_trains_as_uncached_when_nothing_is_augmented() {
    let dirs = [tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp")];
    let plans: Vec<Vec<JobSpec>> = dirs
        .iter()
        .map(|d| {
            jobs(d.path(), 40)
                .into_iter()
                .map(|mut j| {
                    j.preprocess.stored = 28; // crop = stored side, no mirror: one augmentation only
                    j.preprocess.mirror = false;
                    j
                })
                .collect()
        })
        .collect();
    for js in &plans {
        done(run_job(job(js, "r0-base-A"), &opts()).expect("base A"));
        done(run_job(job(js, "r0-base-B"), &opts()).expect("base B"));
    }
    for id in ["r0-transfer-A-B-n3", "r0-selffer-B-n7"] {
        let plain = done(run_job(job(&plans[0], id), &opts()).expect("uncached"));
        assert!(!plain.cached_prefix);
        let mut spec = job(&plans[1], id).clone();
        spec.cache_prefix = true;
        spec.cache_passes = 3;
        let stop = RunOptions { stop_after: Some(17), ..opts() };
        assert_eq!(run_job(&spec, &stop).expect("part"), Outcome::Stopped { iteration: 17 });
        let cached = done(run_job(&spec, &opts()).expect("cached"));
        assert!(cached.cached_prefix, "{id}: recorded as cached");
        let curve = |js: &[JobSpec]| read_curve(&curve_path(&js[0].records, id)).expect("curve");
        assert_eq!(cached.weights_sha256, plain.weights_sha256, "{id}: final weights differ");
        // the same evaluations; the test loss may differ in the last bits (the
        // cached layer's rows are laid out afresh, so a later matrix product
        // can sum in another order)
        for (a, b) in curve(&plans[0]).iter().zip(curve(&plans[1]).iter()) {
            assert_eq!((a.iteration, a.top1, a.top5), (b.iteration, b.top1, b.top5), "{id}: evaluations differ");
            assert!((a.test_loss - b.test_loss).abs() < 1e-9, "{id}: test loss {} vs {}", a.test_loss, b.test_loss);
        }
        assert_eq!(curve(&plans[0]).len(), curve(&plans[1]).len());
        assert!(!spec.dir.join("prefix-cache.f32").exists());
    }
    // each cached job says what it held and what building it cost
    let infos = transfer::cache::sweep_cache_infos(dirs[1].path());
    assert_eq!(infos.keys().map(String::as_str).collect::<Vec<_>>(), ["r0-selffer-B-n7", "r0-transfer-A-B-n3"]);
    let n3 = &infos["r0-transfer-A-B-n3"];
    assert_eq!((n3.n, n3.layer, n3.passes, n3.storage.as_str()), (3, 3, 3, "memory"));
    assert_eq!(n3.bytes, (n3.passes * n3.train_images + n3.test_images) * n3.floats_per_image * 4);
    assert!(n3.build_cpu_seconds >= 0.0 && n3.build_wall_seconds > 0.0, "{n3:?}");
    assert_eq!((infos["r0-selffer-B-n7"].n, infos["r0-selffer-B-n7"].layer), (7, 6), "fc7 is cached before its dropout");
    assert!(transfer::cache::sweep_cache_infos(dirs[0].path()).is_empty(), "uncached jobs write none");
}

/// Kill-and-resume again under every instruction-set level below this CPU's
/// best (`TRANSFERABILITY_ISA`, in a child process): CPUs without AVX-512
/// run the `gemm` crate and the plain loops, and resume must be bit-exact
/// there too.
#[test]
fn resume_is_bit_exact_on_every_lower_isa() {
    for level in isa::below_detected() {
        let out = isa::rerun_under(level, "killed_and_resumed_job_equals_an_uninterrupted_one").unwrap_or_else(|e| panic!("{e}"));
        println!("under TRANSFERABILITY_ISA={level}: {}", out.lines().find(|l| l.contains("test result")).unwrap_or("?"));
    }
}

/// Kill-and-resume again on an emulated CPU without AVX-512 (where this one
/// has it): there burn-flex's vector code and the `gemm` crate take their
/// AVX2 paths too, which `TRANSFERABILITY_ISA` cannot make them do.
#[test]
fn resume_is_bit_exact_on_an_emulated_avx2_cpu() {
    isa::check_emulated("killed_and_resumed_job_equals_an_uninterrupted_one");
}

/// Upper layers of a transfer job are re-initialised by the path training
/// takes (`build_model`): not the source's values, not another seed's, and
/// with the filler's statistics (zero mean, the configured std).
#[test]
fn transfer_jobs_reinitialise_the_upper_layers_from_their_own_seed() {
    let dir = tempfile::tempdir().expect("tmp");
    let js = jobs(dir.path(), 20);
    done(run_job(job(&js, "r0-base-A"), &opts()).expect("base"));
    let spec = job(&js, "r0-transfer-A-B-n3").clone();
    let cfg = model::AlexNetConfig::preset(model::ModelPreset::Tiny, 5);
    let device = burn::prelude::Device::flex();
    let (_, src) = read_model(&job(&js, "r0-base-A").dir.join("final.params")).expect("source");
    let a = ParamStore::from_module(&transfer::train::build_model(&spec, &cfg, &device).expect("model"));
    let mut other = spec.clone();
    other.seed ^= 0x5eed;
    let b = ParamStore::from_module(&transfer::train::build_model(&other, &cfg, &device).expect("model"));
    for (path, t) in &a.tensors {
        let k = layer_of_path(path).expect("layer");
        if k <= 3 {
            assert_eq!(t, &src.tensors[path], "{path}: copied from the source");
            assert_eq!(t, &b.tensors[path], "{path}: copied whatever the seed");
        } else if path.ends_with("bias") {
            // Caffe's constant bias filler: the same for every seed, not the source's
            let (_, want) = cfg.filler(k);
            assert!(t.1.iter().all(|&x| (x as f64 - want).abs() < 1e-7), "{path}: not the filler's constant {want}");
            assert_ne!(t, &src.tensors[path], "{path}: still the source's");
        } else {
            assert_ne!(t, &src.tensors[path], "{path}: still the source's");
            assert_ne!(t, &b.tensors[path], "{path}: the same for another seed");
            {
                let v = &t.1;
                let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
                let sd = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
                let (want, _) = cfg.filler(k);
                assert!(mean.abs() < 4.0 * want / (v.len() as f64).sqrt() + 1e-9, "{path}: mean {mean} vs std {want}");
                assert!((sd / want - 1.0).abs() < 0.1, "{path}: sd {sd}, filler std {want}");
            }
        }
    }
}

/// A fine-tuned (`+`) job end to end: every layer trains, the copied ones
/// from the source's values, and its record says so.
#[test]
fn a_fine_tuned_transfer_trains_its_copied_layers_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let js = jobs(dir.path(), 160);
    done(run_job(job(&js, "r0-base-A"), &opts()).expect("base"));
    let (_, src) = read_model(&job(&js, "r0-base-A").dir.join("final.params")).expect("source");
    let spec = job(&js, "r0-transfer-ft-A-B-n3");
    let r = done(run_job(spec, &opts()).expect("AnB+"));
    assert_eq!(
        (r.arm.name(), r.n, r.fine_tuned, r.source_half.as_ref().map(transfer::Half::as_str), r.target_half.as_str()),
        ("AnB+", 3, true, Some("A"), "B")
    );
    assert!(r.top1_max > 0.4, "well above chance (0.2): {}", r.top1_max);
    let (_, after) = read_model(&spec.dir.join("final.params")).expect("weights");
    for (path, t) in &after.tensors {
        assert_ne!(t, &src.tensors[path], "{path}: a fine-tuned job trains every layer");
    }
    // fine-tuned from the copy: conv1 ends nearer the source's than the
    // fresh layer the job's seed would have drawn
    let fresh = ParamStore::from_module(&model::AlexNetConfig::preset(model::ModelPreset::Tiny, 5).init(&burn::prelude::Device::flex(), spec.seed));
    let w = "conv1.weight";
    let dist = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>().sqrt();
    let (to_src, to_fresh) = (dist(&after.tensors[w].1, &src.tensors[w].1), dist(&after.tensors[w].1, &fresh.tensors[w].1));
    assert!(to_src < to_fresh, "conv1 is {to_src} from the source and {to_fresh} from a fresh start");
}

/// The schedule finder's pilot is the grid's first base under the schedule
/// it found: that job, planned afresh and trained from scratch in another
/// folder, has the pilot's weights bit for bit; in the pilot's own folder
/// it is found done; and a second look at the folder reads the schedule
/// instead of training the pilot again.
#[test]
fn a_pilot_is_the_grid_job_of_the_schedule_it_found() {
    use transfer::plan::find::{FindSchedule, resolve};
    isa::announce();
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let mut cfg = small();
    cfg.schedule.checkpoint_every = 25;
    cfg.validation = Some(0.2);
    cfg.find_schedule = Some(FindSchedule { evals_per_epoch: 2.0, min_evals: 6, patience: 1, window: 8, max_epochs: 60.0, max_rates: 2 });
    let found = resolve(&cfg, a.path(), &opts(), false).expect("pilot");
    assert!(found.trained);
    let s = &found.found.schedule;
    assert!(s.step_size < s.max_iter && s.max_iter.is_multiple_of(s.step_size), "{s:?}");
    assert_eq!(found.found.images, (240, 60), "a fifth of each of the 5 target classes' 60 images held out");
    assert!(found.found.validation.iter().all(|v| v.iteration as u64 <= s.max_iter));
    // the resolved grid trains every network without the validation images
    let plan_a = expand(&found.config, a.path()).expect("plan");
    assert!(plan_a.jobs.iter().all(|j| j.job.validation == Some(0.2)));
    assert!(found.config.find_schedule.is_none() && found.config.schedule == *s);
    let pilot_a = plan_a.jobs.iter().find(|j| j.job.name() == found.found.pilot).expect("the pilot is in the grid");
    let rec_a = done(run_job(&pilot_a.job, &opts()).expect("found done"));
    assert_eq!(rec_a.iterations as u64, s.max_iter);
    // the same job trained from scratch elsewhere: the same bits
    let plan_b = expand(&found.config, b.path()).expect("plan");
    let pilot_b = plan_b.jobs.iter().find(|j| j.job.name() == found.found.pilot).expect("pilot");
    assert_eq!(pilot_b.job.fingerprint(), pilot_a.job.fingerprint());
    let rec_b = done(run_job(&pilot_b.job, &opts()).expect("trained again"));
    assert_eq!(rec_b.weights_sha256, rec_a.weights_sha256);
    assert!(rec_b.cpu_seconds > 0.0 && rec_a.top1 == rec_b.top1);
    // read, not trained, the second time
    let again = resolve(&cfg, a.path(), &opts(), false).expect("again");
    assert!(!again.trained);
    assert_eq!(again.found, found.found);
    // a pilot killed and resumed again and again finds the same schedule and bits
    let c = tempfile::tempdir().expect("tmp");
    let stop = RunOptions { stop_after: Some(37), ..opts() };
    let mut tries = 0;
    let resumed = loop {
        tries += 1;
        match resolve(&cfg, c.path(), &stop, false) {
            Ok(r) => break r,
            Err(e) => assert!(e.to_string().contains("stopped at iteration") && tries < 100, "{e}"),
        }
    };
    assert!(tries > 2, "{tries}");
    assert_eq!((resumed.found.schedule.clone(), resumed.found.validation.len()), (s.clone(), found.found.validation.len()));
    let pilot_c = expand(&resumed.config, c.path()).expect("plan").jobs.into_iter().find(|j| j.job.name() == found.found.pilot).expect("pilot");
    assert_eq!(done(run_job(&pilot_c.job, &opts()).expect("done")).weights_sha256, rec_a.weights_sha256);
    // another grid's folder is refused before anything trains there
    let other = FindSchedule { patience: 2, ..cfg.find_schedule.clone().expect("rule") };
    let e = resolve(&SweepConfig { find_schedule: Some(other), ..cfg.clone() }, a.path(), &opts(), false).expect_err("another rule");
    assert!(e.to_string().contains("holds another sweep"), "{e}");
}
