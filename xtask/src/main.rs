//! Project automation behind the `cargo xtask` alias. It only parses and
//! calls: `sweep` runs `transferability sweep` (the same build profile as the
//! tests, so nothing is built twice); `bench` runs the benchmarks.
//!
//! ```text
//! cargo xtask sweep [--preset NAME | --config FILE] [--data PATH] [--executor local|slurm]
//!                   [--jobs N] [--replicates R] [--out DIR] [--dry-run]
//! cargo xtask bench [--rounds 2] [--threads 2] [--presets bench,caffenet] [--backends flex]
//!                   [--torch-device cpu|cuda] [--setup-torch] [--no-torch] [--exe PATH] [--out DIR]
//! cargo xtask bench --tables [PRESET...]     per-preset, frozen-n and LRN tables, decode
//! cargo xtask bench --breakdown [--presets bench]   milliseconds per layer block, ours and PyTorch's
//! cargo xtask bench --schedule [--iters 600] [--rounds 2]   two main-job networks: 2 jobs x 1 thread vs 1 x 2
//! cargo xtask cache-check [--out runs/cache-check] [--passes 2] [--jobs 2]
//! cargo xtask gpu-bundle --libtorch DIR [--out target/gpu-bundle]
//! ```
//!
//! `cache-check` runs the grid of `docs/examples/cache-check.json` (the
//! first default's data and 600-iteration schedule, kept fixed so that its
//! measured speed-ups stay comparable; transfers AnB frozen at n = 1, 3, 5,
//! 7; three replicates) without and with the frozen-prefix cache, the bases trained
//! once and shared (they are identical: caching touches frozen jobs only),
//! and prints `transferability compare` of the two.

mod bench;
mod gpu_bundle;
mod schedule;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Parser;

/// The workspace: the current folder when it holds the bench scripts (a
/// checkout, or a bundle carried to a machine without Rust), else where
/// this xtask was built.
fn root() -> PathBuf {
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf();
    match std::env::current_dir() {
        Ok(cwd) if cwd.join("xtask/bench/torch_alexnet.py").is_file() => cwd,
        _ => built,
    }
}

/// A `cargo` command for the workspace, without the variables `cargo run`
/// set for this process (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...). Build
/// scripts that read them (ring's declares `rerun-if-env-changed` for
/// `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME` and the version parts) would see
/// xtask's values instead of none, and cargo would rebuild them and all
/// that depends on them (polars, through object_store): every `cargo xtask
/// sweep` after a plain `cargo build` recompiled the analysis stack.
fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if set_by_cargo_run(&k) {
            c.env_remove(&key);
        }
    }
    c
}

/// Whether `cargo run` sets `key` for the program it runs (and a plain
/// shell has it unset).
fn set_by_cargo_run(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR" | "CARGO_MANIFEST_PATH" | "CARGO_MANIFEST_LINKS" | "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR"
        )
}

fn status(mut c: Command) -> Result<ExitCode> {
    let s = c.status().context("running cargo")?;
    Ok(ExitCode::from(s.code().unwrap_or(1).clamp(0, 255) as u8))
}

/// `cargo xtask bench`.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask bench")]
struct BenchArgs {
    /// Alternating rounds of each engine.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Threads of each engine on the CPU.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Presets to compare (`bench` is the pinned network).
    #[arg(long, value_delimiter = ',', default_value = "bench,caffenet")]
    presets: Vec<String>,
    /// Our backends: flex, tch (needs --features tch), cuda:N (needs --features cuda).
    #[arg(long, value_delimiter = ',', default_value = "flex")]
    backends: Vec<String>,
    /// PyTorch's device.
    #[arg(long, default_value = "cpu")]
    torch_device: String,
    /// Create target/bench/torch-venv with the pinned torch first.
    #[arg(long)]
    setup_torch: bool,
    /// Measure our side only.
    #[arg(long)]
    no_torch: bool,
    /// A prebuilt `throughput` bench executable instead of `cargo bench`.
    #[arg(long)]
    exe: Option<PathBuf>,
    /// Where the CSV goes.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Timed steps per measurement (default 20 at batch 128, 5 for caffenet;
    /// at another batch as many images, e.g. 80 steps at batch 32).
    #[arg(long)]
    steps: Option<usize>,
    /// Untimed warm-up steps (default 3).
    #[arg(long)]
    warmup: Option<usize>,
    /// Images per step of both engines (default 128; the main job trains
    /// `tiny` at `--batch 32 --threads 1`).
    #[arg(long)]
    batch: Option<usize>,
    /// The detailed tables instead: presets, frozen-n training, LRN, decode.
    #[arg(long)]
    tables: bool,
    /// Milliseconds per layer block, ours and PyTorch's, on the first preset.
    #[arg(long)]
    breakdown: bool,
    /// Two of the main job's networks at once on half the threads each
    /// against one after the other on `--threads` threads (wall time).
    #[arg(long)]
    schedule: bool,
    /// Iterations of each network of `--schedule`.
    #[arg(long, default_value_t = 600)]
    iters: u64,
    /// Presets for --tables.
    rest: Vec<String>,
}

fn bench(args: &[String]) -> Result<ExitCode> {
    let a = BenchArgs::parse_from(std::iter::once("bench".to_string()).chain(args.iter().cloned()));
    let root = root();
    if a.tables {
        // the dev profile: the same artifacts as the tests, dependencies optimised
        let mut c = cargo();
        c.args(["bench", "--profile", "dev", "-p", "transferability-model", "--bench", "throughput", "--"]).args(&a.rest);
        let code = status(c)?;
        let mut d = cargo();
        d.args(["bench", "--profile", "dev", "-p", "transferability-data-split", "--bench", "decode"]);
        if std::env::var_os("TRANSFERABILITY_CIFAR10_JPG").is_some() {
            status(d)?;
        } else {
            eprintln!("decode bench skipped: set TRANSFERABILITY_CIFAR10_JPG to an unpacked cifar10/ folder");
        }
        return Ok(code);
    }
    if a.schedule {
        // the binary the sweep runs, in the tests' profile
        let mut c = cargo();
        c.args(["build", "-p", "transferability-cli", "--bin", "transferability"]);
        must(c, "building transferability")?;
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        let out = if a.out.is_absolute() { a.out } else { root.join(a.out) }.join("schedule");
        let o = schedule::Options { rounds: a.rounds, iters: a.iters, threads: a.threads, out };
        schedule::schedule(&target.join("debug/transferability"), &root, &o)?;
        return Ok(ExitCode::SUCCESS);
    }
    let python = if a.no_torch {
        None
    } else if a.setup_torch {
        Some(bench::setup_torch(&root)?)
    } else {
        bench::find_python(&root)
    };
    let out = if a.out.is_absolute() { a.out } else { root.join(a.out) };
    let o = bench::Options {
        rounds: a.rounds,
        threads: a.threads,
        presets: a.presets,
        backends: a.backends,
        torch_device: a.torch_device,
        python,
        out,
        exe: a.exe,
        steps: a.steps,
        warmup: a.warmup,
        batch: a.batch,
    };
    if a.breakdown {
        bench::breakdown(&root, &o)?;
    } else {
        bench::compare(&root, &o)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask cache-check`.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask cache-check")]
struct CacheCheckArgs {
    /// Output folder (`uncached/` and `cached/` inside).
    #[arg(long, default_value = "runs/cache-check")]
    out: PathBuf,
    /// Augmented passes the caches hold.
    #[arg(long, default_value_t = 2)]
    passes: usize,
    /// Jobs at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// The uncached sweep's folder (default OUT/uncached): point it at an
    /// earlier check's to compare another number of passes against it.
    #[arg(long)]
    uncached: Option<PathBuf>,
}

/// `cargo run` of the `transferability` binary, with cargo's own progress
/// shown: a first build takes many minutes on a small machine, and a
/// silent terminal looks hung.
fn transferability(args: &[&str]) -> Command {
    eprintln!(
        "xtask: building the `transferability` binary if needed (a first build takes 15-35 minutes on 2 cores; cargo's progress follows), then running it"
    );
    let mut c = cargo();
    c.args(["run", "-p", "transferability-cli", "--bin", "transferability", "--"]).args(args);
    c
}

fn must(c: Command, what: &str) -> Result<()> {
    if status(c)? != ExitCode::SUCCESS {
        bail!("{what} failed");
    }
    Ok(())
}

fn cache_check(args: &[String]) -> Result<ExitCode> {
    let a = CacheCheckArgs::parse_from(std::iter::once("cache-check".to_string()).chain(args.iter().cloned()));
    let root = root();
    let out = if a.out.is_absolute() { a.out } else { root.join(a.out) };
    let cfg = root.join("docs/examples/cache-check.json");
    let plain = a.uncached.map(|u| if u.is_absolute() { u } else { root.join(u) }).unwrap_or_else(|| out.join("uncached"));
    let cached = out.join("cached");
    let jobs = a.jobs.to_string();
    let sweep = |dir: &PathBuf, extra: &[&str]| {
        let d = dir.to_string_lossy().into_owned();
        let mut args = vec!["sweep", "--config", cfg.to_str().expect("utf-8 path"), "--out", &d, "--jobs", &jobs, "--no-report"];
        args.extend_from_slice(extra);
        transferability(&args)
    };
    must(sweep(&plain, &[]), "the uncached sweep")?;
    // the same bases (same ids, seeds and data, so the same networks): taken, not trained again
    let (passes, from) = (a.passes.to_string(), plain.to_string_lossy().into_owned());
    must(sweep(&cached, &["--cache-prefix", "--cache-passes", &passes, "--bases-from", &from]), "the cached sweep")?;
    let (p, c) = (plain.to_string_lossy().into_owned(), cached.to_string_lossy().into_owned());
    must(transferability(&["compare", &p, &c, "--names", "uncached,cached"]), "compare")?;
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask gpu-bundle`.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask gpu-bundle")]
struct GpuBundleArgs {
    /// A libtorch to build against: a folder with include/ and lib/ (e.g. a
    /// pip-installed torch's `torch/` folder).
    #[arg(long)]
    libtorch: PathBuf,
    /// The bundle's folder (emptied first).
    #[arg(long, default_value = "target/gpu-bundle")]
    out: PathBuf,
}

fn gpu_bundle(args: &[String]) -> Result<ExitCode> {
    let a = GpuBundleArgs::parse_from(std::iter::once("gpu-bundle".to_string()).chain(args.iter().cloned()));
    let root = root();
    let out = if a.out.is_absolute() { a.out } else { root.join(a.out) };
    let libtorch = std::path::absolute(&a.libtorch).with_context(|| format!("--libtorch {}", a.libtorch.display()))?;
    gpu_bundle::bundle(&root, &gpu_bundle::Options { libtorch, out })?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        bail!(
            "usage: cargo xtask sweep [ARGS...] | cargo xtask bench [--tables] [ARGS...] | cargo xtask cache-check [ARGS...] | cargo xtask gpu-bundle --libtorch DIR"
        );
    };
    match cmd.as_str() {
        "sweep" => {
            let mut c = transferability(&["sweep"]);
            c.args(rest);
            status(c)
        }
        "bench" => bench(rest),
        "cache-check" => cache_check(rest),
        "gpu-bundle" => gpu_bundle(rest),
        other => bail!("unknown task `{other}`; tasks: sweep, bench, cache-check, gpu-bundle"),
    }
}
