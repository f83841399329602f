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
//! ```

mod bench;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Parser;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
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
    /// The detailed tables instead: presets, frozen-n training, LRN, decode.
    #[arg(long)]
    tables: bool,
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
    };
    bench::compare(&root, &o)?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        bail!("usage: cargo xtask sweep [ARGS...] | cargo xtask bench [--tables] [ARGS...]");
    };
    match cmd.as_str() {
        "sweep" => {
            let mut c = cargo();
            c.args(["run", "--quiet", "-p", "transferability-cli", "--bin", "transferability", "--", "sweep"]).args(rest);
            status(c)
        }
        "bench" => bench(rest),
        other => bail!("unknown task `{other}`; tasks: sweep, bench"),
    }
}
