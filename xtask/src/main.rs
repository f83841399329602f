//! Project automation behind the `cargo xtask` alias. It only parses and
//! calls: `sweep` runs `transferability sweep` (the same build profile as the
//! tests, so nothing is built twice); `bench` runs the benchmarks.
//!
//! ```text
//! cargo xtask sweep [--preset NAME | --config FILE] [--data PATH] [--executor local|slurm]
//!                   [--jobs N] [--replicates R] [--out DIR] [--dry-run]
//! cargo xtask bench [PRESET...]
//! ```

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

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

fn main() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        bail!("usage: cargo xtask sweep [ARGS...] | cargo xtask bench [PRESET...]");
    };
    match cmd.as_str() {
        "sweep" => {
            let mut c = cargo();
            c.args(["run", "--quiet", "-p", "transferability-cli", "--bin", "transferability", "--", "sweep"]).args(rest);
            status(c)
        }
        "bench" => {
            // the dev profile: the same artifacts as the tests, dependencies optimised
            let mut c = cargo();
            c.args(["bench", "--profile", "dev", "-p", "transferability-model", "--bench", "throughput", "--"]).args(rest);
            let code = status(c)?;
            let mut d = cargo();
            d.args(["bench", "--profile", "dev", "-p", "transferability-data-split", "--bench", "decode"]);
            if std::env::var_os("TRANSFERABILITY_CIFAR10_JPG").is_some() {
                status(d)?;
            } else {
                eprintln!("decode bench skipped: set TRANSFERABILITY_CIFAR10_JPG to an unpacked cifar10/ folder");
            }
            Ok(code)
        }
        other => bail!("unknown task `{other}`; tasks: sweep, bench"),
    }
}
