//! `cargo xtask bench --schedule`: how the main job's grid should spend
//! this machine's cores. Two of its first networks (`r0-base-A` and
//! `r0-base-B` of `docs/examples/default-v2.json`, the 52-job grid, cut to
//! `--iters` iterations) trained two ways, in alternating order each round:
//! both at once on half the threads each, and one after the other on all
//! the threads. The local executor gives ready jobs a thread each before it
//! gives any job two (`transfer::executor`); this is the measurement that
//! rule stands on.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::bench::median;

/// What to run.
pub struct Options {
    /// Alternating rounds.
    pub rounds: usize,
    /// Iterations of each network.
    pub iters: u64,
    /// Threads of the machine to share (2: the two jobs at once, or one job of two threads).
    pub threads: usize,
    /// Scratch folder.
    pub out: PathBuf,
}

/// The two job files, cut to `iters` iterations, training into `run`.
fn jobs(exe: &Path, root: &Path, o: &Options, run: &Path) -> Result<Vec<PathBuf>> {
    let cfg = root.join("docs/examples/default-v2.json");
    let dry = Command::new(exe)
        .args(["sweep", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(o.out.join("plan"))
        .arg("--dry-run")
        .output()
        .context("running transferability sweep --dry-run")?;
    if !dry.status.success() {
        bail!("transferability sweep --config {} --dry-run failed: {}", cfg.display(), String::from_utf8_lossy(&dry.stderr));
    }
    // the plan file where the dry run says it wrote it (the sweep layout is `records::SweepLayout`'s)
    let said = String::from_utf8_lossy(&dry.stdout);
    let plan_file = said
        .lines()
        .find_map(|l| l.strip_prefix("wrote "))
        .map(|p| PathBuf::from(p.trim()))
        .with_context(|| format!("transferability sweep --dry-run did not say where it wrote its plan: {said}"))?;
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).with_context(|| format!("reading {}", plan_file.display()))?)
        .with_context(|| format!("parsing {}", plan_file.display()))?;
    let mut files = Vec::new();
    for id in ["r0-base-A", "r0-base-B"] {
        // the plan's one list: its jobs, each `{"job": {...}, "deps": [...]}`
        let mut job = plan
            .as_object()
            .and_then(|top| top.values().find_map(|v| v.as_array()))
            .and_then(|jobs| jobs.iter().find(|j| j["job"]["id"] == id))
            .map(|j| j["job"].clone())
            .with_context(|| format!("{}: no job {id}", plan_file.display()))?;
        job["schedule"]["max_iter"] = o.iters.into();
        job["schedule"]["checkpoint_every"] = o.iters.into();
        job["dir"] = run.join(id).to_string_lossy().into_owned().into();
        job["records"] = run.join("out").to_string_lossy().into_owned().into();
        let file = o.out.join(format!("{id}.json"));
        std::fs::write(&file, serde_json::to_string_pretty(&job)?).with_context(|| format!("writing {}", file.display()))?;
        files.push(file);
    }
    Ok(files)
}

fn start(exe: &Path, job: &Path, threads: usize) -> Result<Child> {
    Command::new(exe)
        .args(["train", "--job"])
        .arg(job)
        .args(["--threads", &threads.to_string(), "--progress", "lines"])
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))
}

fn wait(mut c: Child) -> Result<()> {
    let s = c.wait()?;
    if !s.success() {
        bail!("a training job failed ({s})");
    }
    Ok(())
}

/// Wall seconds of both jobs at once on half the threads each
/// (`together`), or one after the other on all the threads.
fn measure(exe: &Path, files: &[PathBuf], run: &Path, threads: usize, together: bool) -> Result<f64> {
    if run.exists() {
        std::fs::remove_dir_all(run).with_context(|| format!("emptying {}", run.display()))?;
    }
    let t = Instant::now();
    if together {
        let children = files.iter().map(|f| start(exe, f, (threads / 2).max(1))).collect::<Result<Vec<_>>>()?;
        for c in children {
            wait(c)?;
        }
    } else {
        for f in files {
            wait(start(exe, f, threads)?)?;
        }
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Run the comparison with the `transferability` binary `exe`.
pub fn schedule(exe: &Path, root: &Path, o: &Options) -> Result<()> {
    if o.rounds == 0 || o.threads < 2 {
        bail!("--schedule needs at least one round and two threads (--rounds {}, --threads {})", o.rounds, o.threads);
    }
    std::fs::create_dir_all(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    let run = o.out.join("run");
    let files = jobs(exe, root, o, &run)?;
    let (mut apart, mut together) = (Vec::new(), Vec::new());
    for round in 0..o.rounds {
        for at_once in if round % 2 == 0 { [true, false] } else { [false, true] } {
            let wall = measure(exe, &files, &run, o.threads, at_once)?;
            let how = if at_once {
                format!("2 jobs x {} thread(s) at once", (o.threads / 2).max(1))
            } else {
                format!("1 job x {} threads, one after the other", o.threads)
            };
            println!("round {round}: {how} {wall:.1} s");
            if at_once { &mut together } else { &mut apart }.push(wall);
        }
    }
    let (t, a) = (median(together), median(apart));
    println!(
        "two `tiny` networks of the main job, {} iterations each, {} rounds (medians): 2 jobs x {} thread(s) at once {t:.1} s; 1 job x {} threads one after the other {a:.1} s; jobs first is {:.2}x as fast",
        o.iters,
        o.rounds,
        (o.threads / 2).max(1),
        o.threads,
        a / t
    );
    Ok(())
}
