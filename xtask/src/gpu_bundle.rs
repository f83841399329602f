//! `cargo xtask gpu-bundle --libtorch DIR`: what a GPU machine without a
//! Rust toolchain needs to run our side against PyTorch on its GPU, in one
//! folder of at most 64 MiB.
//!
//! It builds the `transferability` binary and `model`'s `throughput` bench
//! with the `tch` feature against the libtorch in `DIR` (a folder with
//! `include/` and `lib/`, e.g. the `torch/` folder of a pip-installed torch;
//! burn-tch's 2.9.0 pin bypassed, so the GPU machine's torch 2.11 serves),
//! in their own target folder (`target/tch`, so the default build is not
//! touched), strips and xz-compresses them with this xtask binary, and
//! writes `run.sh`, the one script the GPU machine runs (within [`MINUTES`]):
//! `caffenet` and the pinned network, ours (burn-tch on CUDA) and PyTorch
//! alternately, then a small sweep on the GPU with its report. Built
//! against one libtorch and run against another (torch 2.11 there), the
//! binaries may lack symbols: the script checks with `ldd -r` first. libtorch itself is not carried:
//! the script finds the machine's torch through `python3` and puts its
//! `lib/` on `LD_LIBRARY_PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The most a run may carry to the GPU machine.
pub const LIMIT: u64 = 64 << 20;

/// The minutes `run.sh` may take: one device command may run 10, and a
/// session's device time (15 minutes, start-up included) should leave room
/// to run it again.
pub const MINUTES: u64 = 7;

/// What to build and where.
pub struct Options {
    /// A libtorch: a folder with `include/` and `lib/`.
    pub libtorch: PathBuf,
    /// The bundle's folder (emptied first).
    pub out: PathBuf,
}

/// The binaries the bundle carries, by name in `bin/`.
const BINARIES: [&str; 3] = ["transferability", "throughput", "xtask"];

/// The networks the comparison runs (`xtask bench` has our side print each
/// as JSON for the PyTorch side).
const PRESETS: [&str; 2] = ["caffenet", "bench"];

/// `run.sh`: unpack, find the machine's torch, compare ours and PyTorch's
/// training on the GPU for the same steps (`caffenet`, the pinned network),
/// then a small sweep on the GPU; everything it prints and writes goes
/// under `$OUT` (default `out/`). Each part has its own time limit, so the
/// whole stays within `minutes` even where a part hangs.
pub fn run_script(minutes: u64) -> String {
    // a minute for unpacking and the checks; the rest split between the comparison and the grid
    let bench = (minutes * 60 - 60) / 2;
    let sweep = minutes * 60 - 60 - bench;
    format!(
        r#"#!/usr/bin/env bash
# Written by `cargo xtask gpu-bundle`: the GPU run, within {minutes} minutes.
# Usage: bash run.sh   (OUT=DIR to choose where results go; default out/)
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
mkdir -p "${{OUT:-out}}" bin
out=$(cd "${{OUT:-out}}" && pwd)
unxz() {{ xz -dc "$1" 2>/dev/null || python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; }}
for b in {binaries}; do
    if [ ! "bin/$b" -nt "$b.xz" ]; then
        unxz "$b.xz" > "bin/$b" && chmod +x "bin/$b" || {{ echo "cannot unpack $b.xz" >&2; exit 1; }}
    fi
done
torchlib=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') || {{ echo "no torch for python3" >&2; exit 1; }}
export LD_LIBRARY_PATH="$torchlib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))' | tee -a "$out/gpu.txt"
# a libtorch other than the one built against may lack symbols the binaries need: stop before the timed parts
if ldd -r bin/transferability 2>&1 | grep -m5 'undefined symbol' | tee -a "$out/gpu.txt" | grep -q .; then
    echo "the machine's libtorch lacks symbols the binaries need (see $out/gpu.txt)" >&2; exit 1
fi
echo "== caffenet and the pinned network: burn-tch on CUDA against PyTorch, alternating"
TRANSFERABILITY_TORCH_PYTHON=python3 timeout -k 10 {bench} bin/xtask bench --exe bin/throughput --backends tch-cuda:0 \
    --torch-device cuda --presets {presets} --rounds 2 --steps 20 --warmup 5 --out "$out/bench" 2>&1 | tee "$out/bench.txt"
echo "== a small grid on the GPU"
timeout -k 10 {sweep} bin/transferability sweep --preset smoke --backend tch-cuda:0 --jobs 1 --out "$out/sweep" 2>&1 | tail -60 | tee "$out/sweep.txt"
cp "$out"/sweep/report/report.md "$out/report.md" 2>/dev/null || echo "no report: see $out/sweep.txt"
"#,
        binaries = BINARIES.join(" "),
        presets = PRESETS.join(","),
    )
}

/// A `cargo` command building against `o.libtorch` into `target/tch`.
fn tch_cargo(root: &Path, o: &Options) -> Command {
    let mut c = crate::cargo();
    c.env("LIBTORCH", &o.libtorch).env("LIBTORCH_BYPASS_VERSION_CHECK", "1").env("CARGO_TARGET_DIR", root.join("target/tch"));
    c
}

/// The newest executable `throughput-*` cargo wrote under `deps`.
fn bench_executable(deps: &Path) -> Result<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(deps)
        .with_context(|| format!("reading {}", deps.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("throughput-")) && p.extension().is_none())
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).with_context(|| format!("no throughput bench under {}", deps.display()))
}

/// `strip` a copy of `bin` and compress it to `dest` with xz; its size.
fn pack(bin: &Path, dest: &Path) -> Result<u64> {
    let stripped = dest.with_extension("stripped");
    let s = Command::new("strip").arg("-o").arg(&stripped).arg(bin).status().context("running strip")?;
    if !s.success() {
        bail!("strip {} failed", bin.display());
    }
    let xz = Command::new("xz").args(["-6", "-T0", "-c"]).arg(&stripped).output().context("running xz")?;
    if !xz.status.success() {
        bail!("xz {} failed", stripped.display());
    }
    std::fs::write(dest, &xz.stdout).with_context(|| format!("writing {}", dest.display()))?;
    std::fs::remove_file(&stripped).ok();
    Ok(xz.stdout.len() as u64)
}

/// Build, pack and write the bundle; prints each part's size and the total.
pub fn bundle(root: &Path, o: &Options) -> Result<u64> {
    if !o.libtorch.join("lib").is_dir() || !o.libtorch.join("include").is_dir() {
        bail!("--libtorch {}: not a libtorch (no include/ and lib/ in it)", o.libtorch.display());
    }
    let link = ["--", "-C", "link-arg=-Wl,--allow-shlib-undefined"];
    eprintln!("gpu-bundle: building the tch binaries against {} into target/tch (a first build takes 20-30 minutes on 2 cores)", o.libtorch.display());
    let mut cli = tch_cargo(root, o);
    cli.args(["rustc", "-p", "transferability-cli", "--features", "tch", "--bin", "transferability"]).args(link);
    crate::must(cli, "building transferability with tch")?;
    let mut bench = tch_cargo(root, o);
    bench.args(["rustc", "--profile", "dev", "-p", "transferability-model", "--features", "tch", "--bench", "throughput"]).args(link);
    crate::must(bench, "building the throughput bench with tch")?;
    let debug = root.join("target/tch/debug");
    let sources = [debug.join("transferability"), bench_executable(&debug.join("deps"))?, std::env::current_exe().context("this xtask")?];
    if o.out.exists() {
        // only an earlier bundle (or an empty folder) is emptied
        let empty = std::fs::read_dir(&o.out).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty && !o.out.join("run.sh").is_file() {
            bail!("--out {} holds something other than a bundle: choose an empty or new folder", o.out.display());
        }
        std::fs::remove_dir_all(&o.out).with_context(|| format!("emptying {}", o.out.display()))?;
    }
    let scripts = o.out.join("xtask/bench");
    std::fs::create_dir_all(&scripts).with_context(|| format!("creating {}", scripts.display()))?;
    for (name, bin) in BINARIES.iter().zip(&sources) {
        let size = pack(bin, &o.out.join(format!("{name}.xz")))?;
        eprintln!("  {name}.xz {:.1} MiB", size as f64 / (1 << 20) as f64);
    }
    std::fs::copy(root.join("xtask/bench/torch_alexnet.py"), scripts.join("torch_alexnet.py")).context("copying torch_alexnet.py")?;
    std::fs::write(o.out.join("run.sh"), run_script(MINUTES)).context("writing run.sh")?;
    let total = dir_size(&o.out)?;
    eprintln!(
        "gpu-bundle: {} ({:.1} MiB of the {} MiB a run may carry); on the GPU machine: bash run.sh",
        o.out.display(),
        total as f64 / (1 << 20) as f64,
        LIMIT >> 20
    );
    if total > LIMIT {
        bail!("the bundle is {total} bytes, over the {LIMIT} a run may carry");
    }
    Ok(total)
}

/// Bytes of every file under `dir`.
fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.flatten() {
        let m = e.metadata()?;
        total += if m.is_dir() { dir_size(&e.path())? } else { m.len() };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script unpacks every binary it runs, puts the machine's torch on
    /// the library path, and keeps each part within its time so the whole
    /// fits the minutes asked for.
    #[test]
    fn the_script_runs_both_sides_and_a_small_grid_within_its_minutes() {
        let s = run_script(MINUTES);
        for b in BINARIES {
            assert!(s.contains(b), "{b}");
        }
        assert!(s.contains("export LD_LIBRARY_PATH=\"$torchlib"));
        assert!(s.contains("--backends tch-cuda:0") && s.contains("--torch-device cuda") && s.contains("--presets caffenet,bench"));
        assert!(s.contains("sweep --preset smoke --backend tch-cuda:0"));
        let limits: u64 = s.lines().filter_map(|l| l.split("timeout -k 10 ").nth(1)?.split_whitespace().next()?.parse::<u64>().ok()).sum();
        assert!(limits > 0 && limits + 60 <= MINUTES * 60, "{limits} s and a minute to unpack within {MINUTES} minutes");
        assert!(s.contains("ldd -r bin/transferability"), "a libtorch that lacks symbols is found before the timed parts");
        // and bash reads it
        let file = std::env::temp_dir().join(format!("gpu-run-{}.sh", std::process::id()));
        std::fs::write(&file, &s).expect("write");
        let check = Command::new("bash").arg("-n").arg(&file).output().expect("bash");
        std::fs::remove_file(&file).ok();
        assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    }
}
