//! Each command: turn arguments into library calls and report.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use data_split::manifest::DatasetIdentity;
use data_split::split::{self, Generator};
use data_split::{DataSet, DataSpec, Manifest};
use transfer::executor::{self, JobState, LocalOptions, SlurmOptions};
use transfer::plan::{SweepConfig, expand};
use transfer::progress::ProgressMode;
use transfer::spec::{Arm, JobId, JobKind, JobSpec, Outputs, Preprocess, Schedule, SplitSpec};

use crate::args::*;
use transferability_cli::sweep;

/// Dispatch a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Split(c) => split_cmd(c),
        Cmd::Data(c) => data_cmd(c),
        Cmd::Train(a) => train(a),
        Cmd::Sweep(a) => sweep(a),
        Cmd::Analyze(a) => analyze(a),
        Cmd::Similarity(a) => similarity(a),
        Cmd::Compare(a) => compare(a),
    }
}

fn set_threads(n: Option<usize>) -> usize {
    let n = n.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // a second call (tests in one process) keeps the first pool
    let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    n
}

fn open(path: &Path) -> Result<DataSet> {
    DataSet::open(&DataSpec::Path { path: path.to_path_buf(), skip_corrupt: false }).with_context(|| format!("opening data set {}", path.display()))
}

/// Class names and (if a data set was given) the data set.
fn classes(c: &ClassSource) -> Result<(Vec<String>, Option<DataSet>, String)> {
    if let Some(n) = c.classes {
        return Ok(((0..n).map(|i| format!("class{i}")).collect(), None, format!("classes:{n}")));
    }
    if let Some(p) = &c.preset {
        return Ok((data_split::presets::natman_preset(p)?.class_names, None, format!("preset:{p}")));
    }
    if let Some(d) = &c.data {
        let ds = open(d)?;
        return Ok((ds.train.class_names().to_vec(), Some(ds), d.display().to_string()));
    }
    bail!("give --classes N, --preset NAME or --data PATH")
}

fn write_manifest(split: data_split::ClassSplit, ds: Option<&DataSet>, root: &str, kind: &str, out: &Path) -> Result<()> {
    let identity = match ds {
        Some(ds) => DatasetIdentity::of(&ds.kind, &ds.root, ds.train.as_ref()),
        None => DatasetIdentity { kind: kind.into(), root: root.into(), fingerprint: String::new(), num_classes: split.halves.iter().map(|h| h.len()).sum() },
    };
    let m = Manifest::new(identity, split);
    m.write(out, ds.map(|d| d.train.as_ref()), ds.map(|d| d.test.as_ref()))?;
    eprintln!("wrote {} (content hash {})", out.join("manifest.json").display(), &m.content_hash[..12]);
    Ok(())
}

fn split_cmd(c: SplitCmd) -> Result<ExitCode> {
    match c {
        SplitCmd::Random { classes: cs, seed, fraction, numpy_compatible, print, out } => {
            let (names, ds, root) = classes(&cs)?;
            let g = if numpy_compatible { Generator::NumpyLegacy } else { Generator::StdRng };
            let s = split::random(&names, fraction, seed, g)?;
            if let Some(h) = print {
                let half = s.half(&h).expect("A and B exist");
                let line: Vec<String> = half.originals().iter().map(|i| i.to_string()).collect();
                println!("{}", line.join(" "));
            }
            if let Some(out) = out {
                write_manifest(s, ds.as_ref(), &root, "classes", &out)?;
            }
        }
        SplitCmd::Natman { preset, data, out } => {
            let ds = data.as_deref().map(open).transpose()?;
            // with data, the sweep's check: the class count and the classes' names (or WNIDs)
            let s = match (&ds, &data) {
                (Some(ds), Some(path)) => transfer::spec::resolve_split(
                    &SplitSpec::Natman { preset: preset.clone() },
                    &DataSpec::Path { path: path.clone(), skip_corrupt: false },
                    ds,
                )?,
                _ => split::natman(&preset)?,
            };
            write_manifest(s, ds.as_ref(), &format!("preset:{preset}"), "preset", &out)?;
        }
        SplitCmd::Custom { classes: cs, a, b, out } => {
            let (names, ds, root) = classes(&cs)?;
            let s = split::custom(&a, &b, &names)?;
            write_manifest(s, ds.as_ref(), &root, "classes", &out)?;
        }
        SplitCmd::Dissimilar { classes: cs, spec, out } => {
            let (names, ds, root) = classes(&cs)?;
            let s = transfer::plan::DissimilarGrid::read_split(&spec)?.resolve(&names)?;
            write_manifest(s, ds.as_ref(), &root, "classes", &out)?;
        }
        SplitCmd::Reduced { data, per_class, out } => {
            let ds = open(&data)?;
            let s = split::whole(ds.train.class_names(), Some(per_class));
            write_manifest(s, Some(&ds), "", "", &out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn data_cmd(c: DataCmd) -> Result<ExitCode> {
    match c {
        DataCmd::Inspect { path } => {
            let ds = open(&path)?;
            let report = data_split::dataset::inspect(&ds);
            print!("{report}");
            let bad: usize = report.parts.iter().map(|p| p.1.unreadable.len()).sum();
            return Ok(if bad > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS });
        }
        DataCmd::Pack { path, out, size, shard, skip_corrupt } => {
            let t = std::time::Instant::now();
            for part in data_split::pack::pack_dataset(&path, &out, size, shard, skip_corrupt)? {
                eprintln!(
                    "packed {} {} images at {size}x{size} into {} ({} corrupt images skipped; {:.1}s so far)",
                    part.images,
                    part.name,
                    part.dir.display(),
                    part.skipped,
                    t.elapsed().as_secs_f64()
                );
            }
        }
        DataCmd::Feed { path, size, crop, batch, batches, threads } => {
            let ds = open(&path)?;
            let store = transfer::batches::Store::open(ds.train.clone(), size)?;
            if crop > store.size() {
                bail!("--crop {crop} is larger than the stored images ({} px)", store.size());
            }
            eprintln!("{}: {} training images at {size} px; the mean image ...", ds.train.describe(), store.len());
            let mean = std::sync::Arc::new(store.mean()?);
            let asm = transfer::batches::Assembly { mean, crop, mirror: true, seed: 0 };
            println!("threads,images,assemble_img_s,tensor_img_s,img_s,img_s_per_thread");
            for t in threads {
                let r = transfer::batches::measure_feed(&store, &asm, batch, batches, t)?;
                println!("{},{},{:.0},{:.0},{:.0},{:.0}", r.threads, r.images, r.assemble_img_s, r.tensor_img_s, r.img_s, r.img_s / r.threads as f64);
            }
        }
        DataCmd::Wordnet { data_noun, root } => {
            let wn = data_split::wordnet::WordNet::open(&data_noun)?;
            let wnids = data_split::presets::ilsvrc12_wnids();
            let roots: Vec<&str> = root.iter().map(String::as_str).collect();
            let rule = wn.classify(&wnids, &roots)?;
            let preset = data_split::presets::natman_preset("ilsvrc12")?;
            let d = wn.compare(&wnids, &preset.manmade, &roots)?;
            println!(
                "WordNet rule ({}): {} of {} ILSVRC-2012 classes descend from the man-made root(s)",
                roots.join(", "),
                rule.iter().filter(|&&m| m).count(),
                wnids.len()
            );
            println!("authors' man-made list: {} classes", preset.manmade.len());
            println!("classes the authors added to man-made ({}):", d.added_to_manmade.len());
            for (i, w, l) in &d.added_to_manmade {
                println!("  {i:4} {w} {l}");
            }
            println!("classes the authors moved to natural ({}):", d.added_to_natural.len());
            for (i, w, l) in &d.added_to_natural {
                println!("  {i:4} {w} {l}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn progress(p: ProgressArg) -> ProgressMode {
    match p {
        ProgressArg::Auto => ProgressMode::Auto,
        ProgressArg::Lines => ProgressMode::Lines,
        ProgressArg::Quiet => ProgressMode::Quiet,
    }
}

fn job_from_flags(a: &TrainArgs) -> Result<JobSpec> {
    let data = match &a.data {
        Some(p) => DataSpec::Path { path: p.clone(), skip_corrupt: false },
        None => DataSpec::Synthetic(Default::default()),
    };
    let arg: data_split::split::SplitArg = a.split.parse().map_err(anyhow::Error::msg)?;
    let transfer::spec::ChosenSplit { split, family, id: split_id, seed: split_seed } = transfer::spec::ChosenSplit::of(&arg)?;
    let id = JobId { family, seed: split_seed, kind: job_kind(a)?, replicate: 0 };
    let pre = Preprocess::for_model(a.model);
    let name = id.to_string();
    let layout = transfer::record::SweepLayout::new(&a.out);
    Ok(JobSpec {
        dir: layout.job(&name),
        records: layout.records(),
        id,
        split_id,
        data,
        split,
        source: a.source.clone(),
        model: a.model,
        outputs: Outputs::Classes,
        schedule: Schedule::single_job(a.iters, a.batch, a.lr),
        preprocess: pre,
        seed: a.seed,
        keep_final: true,
        cache_prefix: a.cache_prefix,
        cache_passes: a.cache_passes,
        validation: None,
    })
}

/// What `train`'s flags ask for, as a job kind (`JobKind::new` says
/// which arm takes which); flags an arm cannot take are refused.
fn job_kind(a: &TrainArgs) -> Result<JobKind> {
    if matches!(a.arm, Arm::Selffer | Arm::Transfer) != a.source.is_some() {
        bail!("--source (a base's final.params) is for --arm selffer and transfer, and they need it; --arm is {}", a.arm);
    }
    JobKind::new(a.arm, a.target.clone(), a.source_half.clone(), a.n, a.fine_tune, a.per_class).map_err(|e| anyhow::anyhow!("--arm {}: {e}", a.arm))
}

fn train(a: TrainArgs) -> Result<ExitCode> {
    let threads = set_threads(a.threads);
    let job = match &a.job {
        Some(p) => JobSpec::read(p)?,
        None => job_from_flags(&a)?,
    };
    let opts = transfer::RunOptions { backend: a.backend, threads, progress: progress(a.progress), ..Default::default() };
    match transfer::run_job(&job, &opts)? {
        transfer::Outcome::Done(r) => {
            eprintln!(
                "{}: top-1 {:.4} (mean of 10 best evaluations; selects on the test set), last {:.4}, {:.0}s wall, {:.0} CPU-s, {:.1}s waiting for data",
                r.run_id, r.top1, r.top1_last, r.wall_seconds, r.cpu_seconds, r.data_wait_seconds
            );
            eprintln!("record: {}", transfer::record::run_path(&job.records, &job.name()).display());
        }
        transfer::Outcome::Stopped { iteration } => eprintln!("{}: stopped at iteration {iteration}", job.id),
    }
    Ok(ExitCode::SUCCESS)
}

/// The sweep's configuration: a file or a preset, with the flags that
/// override it.
fn sweep_config(a: &SweepArgs) -> Result<SweepConfig> {
    let mut cfg = match (&a.preset, &a.config) {
        (_, Some(c)) => SweepConfig::read(c)?,
        (p, None) => SweepConfig::preset(p.as_deref().unwrap_or("default"), a.data.as_deref())?,
    };
    if let (Some(d), Some(_)) = (&a.data, &a.config) {
        cfg.data = DataSpec::Path { path: d.clone(), skip_corrupt: false };
    }
    if let Some(r) = a.replicates {
        cfg.replicates = r;
    }
    if a.cache_prefix {
        cfg.cache_prefix = true;
    }
    if let Some(k) = a.cache_passes {
        cfg.cache_passes = k;
    }
    if a.find_schedule {
        cfg.find_schedule.get_or_insert_default();
    }
    Ok(cfg)
}

fn sweep(a: SweepArgs) -> Result<ExitCode> {
    let mut cfg = sweep_config(&a)?;
    let out = std::path::absolute(&a.out).with_context(|| format!("output folder {}", a.out.display()))?;
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let backend = executor::JobBackend(a.backend.clone());
    if cfg.natman.is_none() && cfg.dissimilar.is_empty() {
        eprintln!(
            "note: this grid has no dissimilar split (natural/man-made or `dissimilar` by class name): finding 5 and finding 6's \
             dissimilar comparison are not tested; a configuration file names one (`dissimilar`)"
        );
    }
    if cfg.find_schedule.is_some() {
        eprintln!(
            "finding the schedule: the grid's first base trains as a pilot, judged on a validation set carved from the training images (the sweep reuses it) ..."
        );
        let found = sweep::find_schedule(&cfg, &out, threads, &backend, a.force)?;
        println!("schedule{}: {}", if found.trained { " found" } else { " (found earlier)" }, found.found.describe());
        cfg = found.config;
    }
    let plan = expand(&cfg, &out)?;
    if a.dry_run {
        return dry_run(&cfg, &plan, &a);
    }
    let exe = std::env::current_exe()?;
    let executor = match a.executor {
        ExecutorArg::Local => sweep::Executor::Local(LocalOptions { exe, jobs: a.jobs, threads, backend: backend.clone(), gpus: a.gpus }),
        ExecutorArg::Slurm => sweep::Executor::Slurm(SlurmOptions {
            exe,
            cpus_per_task: a.cpus_per_task,
            sbatch_args: a.sbatch.clone(),
            poll_seconds: 1.0,
            backend: backend.clone(),
        }),
    };
    let command: Vec<String> = std::env::args().collect();
    let ready = sweep::prepare(&cfg, &plan, a.force, a.bases_from.as_deref(), &command)
        .with_context(|| "--data is not a data set this tool reads, or the grid does not fit it")?;
    eprintln!("data: {} ({} training images, {} classes)", ready.data.0, ready.data.1, ready.data.2);
    if let (Some(taken), Some(from)) = (&ready.adopted, &a.bases_from) {
        eprintln!("bases: {} taken from {}{}", taken.len(), from.display(), if taken.is_empty() { " (none there fit this grid)" } else { "" });
    }
    let done = sweep::run(&plan, &executor, !a.no_report)?;
    print_sweep(&done);
    Ok(if done.report.all_done() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// `sweep --dry-run`: the graph, the splits checked against the data, the
/// jobs per family and arm, and the grid's cost measured on this machine;
/// the plan written.
fn dry_run(cfg: &SweepConfig, plan: &transfer::plan::Plan, a: &SweepArgs) -> Result<ExitCode> {
    print!("{}", plan.graph());
    eprintln!("calibrating: a few training steps of `{}` on this machine ...", cfg.model);
    let est = sweep::estimate(cfg, plan)?;
    match &est.splits {
        Ok((n, classes)) => println!("\nsplits: all {n} fit the data's {classes} classes"),
        Err(e) => println!("\nsplits: not checked against the data, which did not open ({e}); they are checked before anything trains"),
    }
    println!("\njobs per family/arm:");
    for (k, v) in plan.counts() {
        println!("  {k:<20} {v}");
    }
    if est.outputs.1 {
        println!("estimate: fc8 taken {} wide, as the data did not open", est.outputs.0);
    }
    let (steps, speed, jobs) = (est.image_steps, est.speed, a.jobs.max(1) as f64);
    println!(
        "\n{} jobs, {steps:.3e} training image-steps; `{}` trains at {speed:.1} img/s per job thread here (measured just now), \
         so about {:.2} CPU-hours, {:.2} hours of wall time with {jobs} jobs at once (training only; evaluation adds about a tenth)",
        plan.jobs.len(),
        cfg.model,
        steps / speed / 3600.0,
        steps / speed / jobs / 3600.0
    );
    std::fs::create_dir_all(&plan.out)?;
    plan.write(a.force)?;
    println!("wrote {}", transfer::record::SweepLayout::new(&plan.out).plan().display());
    Ok(ExitCode::SUCCESS)
}

/// What a finished sweep did: jobs trained, found done, failed and not
/// run, each failure named; the similarity table and the report.
fn print_sweep(done: &sweep::Outcome) {
    let report = &done.report;
    eprintln!(
        "\nsweep: {} trained, {} already done, {} failed, {} not run ({:.0}s)",
        report.count(|s| matches!(s, JobState::Done)),
        report.count(|s| matches!(s, JobState::AlreadyDone)),
        report.count(|s| matches!(s, JobState::Failed(_))),
        report.count(|s| matches!(s, JobState::NotRun(_))),
        report.wall_seconds
    );
    for (id, s) in &report.jobs {
        if matches!(s, JobState::Failed(_) | JobState::NotRun(_)) {
            eprintln!("  {id}: {}", executor::describe(s));
        }
    }
    if let Some(p) = &done.similarity {
        eprintln!("layer similarity: {}", p.display());
    }
    if let Some(p) = &done.analysis {
        println!("report: {}", p.display());
    }
}

fn compare(a: CompareArgs) -> Result<ExitCode> {
    let builds = transfer::cache::sweep_cache_infos(&a.b).into_iter().map(|(id, info)| (id, info.build_cpu_seconds)).collect();
    let c = analysis::compare::compare_sweeps(&a.a, &a.b, &builds)?;
    if c.cells.is_empty() {
        bail!("{} and {} have no cell in common", a.a.display(), a.b.display());
    }
    let name = |i: usize| a.names.get(i).map(String::as_str).unwrap_or(["A", "B"][i]);
    print!("{}", c.render([name(0), name(1)]));
    Ok(ExitCode::SUCCESS)
}

fn analyze(a: AnalyzeArgs) -> Result<ExitCode> {
    let opts = analysis::AnalyzeOptions {
        runs: if a.paper { vec![] } else { a.runs.clone() },
        reference_paper: a.paper || a.reference.is_some(),
        out: a.out.clone(),
        allow_mixed: a.allow_mixed,
    };
    if !a.paper && a.runs.is_empty() {
        bail!("give --runs PATH... (and optionally --reference paper), or --paper");
    }
    let out = analysis::analyze(&opts)?;
    println!("{}", out.report.display());
    eprintln!(
        "{} summary cells, {} decomposition rows, {} figures, {} networks excluded",
        out.summary.len(),
        out.decomposition.len(),
        out.figures.len(),
        out.excluded.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn similarity(a: SimilarityArgs) -> Result<ExitCode> {
    let data = match &a.data {
        Some(p) => DataSpec::Path { path: p.clone(), skip_corrupt: false },
        None => DataSpec::Synthetic(Default::default()),
    };
    let (cfg, _) = model::checkpoint::read_model(&a.a)?;
    let stored = if cfg.image_size > 32 { 256 } else { 32 };
    let pre = Preprocess { stored, crop: cfg.image_size, mirror: false };
    let split = SplitSpec::Manifest { path: a.split.clone() };
    let cka = transfer::similarity::compare_on(&a.a, &a.b, &data, &split, &a.half, pre, a.probe)?;
    println!("layer  cka");
    for (k, v) in cka.iter().enumerate() {
        println!("{:<6} {v:.4}", model::LAYER_NAMES[k]);
    }
    if let Some(out) = &a.out {
        let pair = transfer::similarity::Compared {
            pair: "a-vs-b".into(),
            comparison: transfer::record::Comparison::Networks,
            unit: None,
            a: a.a.clone(),
            b: a.b.clone(),
            cka,
        };
        transfer::similarity::write_similarity(out, &[pair], a.probe)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
