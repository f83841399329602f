//! `cargo xtask bench`: the pinned benchmark network and `caffenet`, ours
//! against PyTorch with the identical network, alternating in one run.
//!
//! Our side is `model`'s `throughput` bench in `--compare` mode; the PyTorch
//! side is `xtask/bench/torch_alexnet.py`, which builds its network from the
//! JSON our side prints, so the two cannot drift apart. Both print `RESULT
//! key=value ...` lines; this module runs them in alternating order for a
//! number of rounds, takes medians and prints img/s, CPU-seconds per image
//! (stable on a loaded machine), GFLOP/s, the ratio to PyTorch and the
//! thread count, and writes every round to a CSV.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The torch the PyTorch side is pinned to (the version burn-tch 0.22 links).
pub const TORCH_VERSION: &str = "2.9.0";

/// What to run.
pub struct Options {
    /// Alternating rounds.
    pub rounds: usize,
    /// Threads of each engine on the CPU.
    pub threads: usize,
    /// Presets to compare.
    pub presets: Vec<String>,
    /// Our backends (`flex`, `tch`, `cuda:0`).
    pub backends: Vec<String>,
    /// PyTorch's device (`cpu` or `cuda`).
    pub torch_device: String,
    /// A Python with torch, or none to measure our side only.
    pub python: Option<PathBuf>,
    /// Where the CSV and the network JSON go.
    pub out: PathBuf,
    /// A prebuilt `throughput` executable instead of `cargo bench` (for
    /// machines that only carry the binary, e.g. a GPU box).
    pub exe: Option<PathBuf>,
    /// Timed steps per measurement (default: 20 at batch 128, 5 for
    /// caffenet; at another batch as many images: 80 steps at batch 32).
    pub steps: Option<usize>,
    /// Untimed warm-up steps (default 3).
    pub warmup: Option<usize>,
    /// Images per step of both engines (default: each side's 128; the
    /// main job trains `tiny` at 32).
    pub batch: Option<usize>,
}

impl Options {
    /// `--steps`/`--warmup` (and `--batch`) for both sides.
    fn step_args(&self, preset: &str) -> Vec<String> {
        // the same images per measurement at any batch: 20 steps of 32 images
        // were 0.3 s of `tiny`, where a moment of another tenant's load moved
        // a round's ratio from 2.0x to 1.6x on the shared Zen 3
        let at_128 = if preset == "caffenet" { 5 } else { 20 };
        let steps = self.steps.unwrap_or_else(|| (at_128 * 128 / self.batch.unwrap_or(128).max(1)).max(1));
        let mut args = vec!["--steps".into(), steps.to_string(), "--warmup".into(), self.warmup.unwrap_or(3).to_string()];
        if let Some(b) = self.batch {
            args.extend(["--batch".into(), b.to_string()]);
        }
        args
    }
}

/// One measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub round: usize,
    pub engine: String,
    pub preset: String,
    pub mode: String,
    pub threads: usize,
    pub img_s: f64,
    pub cpu_s_per_img: f64,
    pub flop_per_img: f64,
}

/// The `key=value` fields of each line of `text` that starts with `tag`
/// (`RESULT`, `BLOCK`), with the line.
fn tagged<'a>(text: &'a str, tag: &'a str) -> impl Iterator<Item = (BTreeMap<&'a str, &'a str>, &'a str)> + 'a {
    text.lines().filter_map(move |line| {
        let rest = line.strip_prefix(tag)?.strip_prefix(' ')?;
        Some((rest.split_whitespace().filter_map(|t| t.split_once('=')).collect(), line))
    })
}

/// Parse the `RESULT` lines of either side.
pub fn parse_results(text: &str, round: usize) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (kv, line) in tagged(text, "RESULT") {
        let get = |k: &str| kv.get(k).copied().with_context(|| format!("RESULT line without `{k}`: {line}"));
        let num = |k: &str| -> Result<f64> { get(k)?.parse().with_context(|| format!("`{k}` is not a number in: {line}")) };
        rows.push(Row {
            round,
            engine: get("engine")?.into(),
            preset: get("preset")?.into(),
            mode: get("mode")?.into(),
            threads: num("threads")? as usize,
            img_s: num("img_s")?,
            cpu_s_per_img: num("cpu_s_per_img")?,
            flop_per_img: num("flop_per_img")?,
        });
    }
    Ok(rows)
}

/// The median (of an even count, the mean of the middle two).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The `PEAK` line of our side: the level our kernels ran at and the
/// machine's measured multiply-add peak at that level on the bench's threads.
#[derive(Debug, Clone, PartialEq)]
pub struct Peak {
    /// `avx512`, `avx2` or `plain` (`TRANSFERABILITY_ISA` may lower it).
    pub isa: String,
    /// Threads measured at once.
    pub threads: usize,
    /// GFLOP/s.
    pub gflops: f64,
}

/// Parse our side's `PEAK` line.
pub fn parse_peak(text: &str) -> Result<Peak> {
    let (kv, line) = tagged(text, "PEAK").next().context("no PEAK line in the bench's output")?;
    let get = |k: &str| kv.get(k).copied().with_context(|| format!("PEAK line without `{k}`: {line}"));
    Ok(Peak { isa: get("isa")?.to_string(), threads: get("threads")?.parse()?, gflops: get("gflops")?.parse()? })
}

/// Medians over rounds, one per (preset, mode, engine).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub preset: String,
    pub mode: String,
    pub engine: String,
    pub threads: usize,
    pub img_s: f64,
    pub cpu_s_per_img: f64,
    pub gflop_s: f64,
    /// img/s over PyTorch's (None without a PyTorch row).
    pub ratio: Option<f64>,
    /// PyTorch's CPU-seconds per image over ours (None without one).
    pub cpu_ratio: Option<f64>,
}

/// Summarise rows; PyTorch is the engine whose name starts with `pytorch`.
pub fn summarise(rows: &[Row]) -> Vec<Summary> {
    let mut groups: BTreeMap<(String, String, String), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        groups.entry((r.preset.clone(), r.mode.clone(), r.engine.clone())).or_default().push(r);
    }
    let mut out: Vec<Summary> = groups
        .iter()
        .map(|((preset, mode, engine), rs)| {
            let img_s = median(rs.iter().map(|r| r.img_s).collect());
            Summary {
                preset: preset.clone(),
                mode: mode.clone(),
                engine: engine.clone(),
                threads: rs[0].threads,
                img_s,
                cpu_s_per_img: median(rs.iter().map(|r| r.cpu_s_per_img).collect()),
                gflop_s: img_s * rs[0].flop_per_img / 1e9,
                ratio: None,
                cpu_ratio: None,
            }
        })
        .collect();
    let torch: Vec<Summary> = out.iter().filter(|s| s.engine.starts_with("pytorch")).cloned().collect();
    for s in &mut out {
        // against strict-fp32 PyTorch where both exist (the TF32 row is extra)
        let t = torch.iter().filter(|t| t.preset == s.preset && t.mode == s.mode).min_by_key(|t| t.engine.contains("tf32"));
        if let Some(t) = t {
            s.ratio = Some(s.img_s / t.img_s);
            s.cpu_ratio = (s.cpu_s_per_img > 0.0).then(|| t.cpu_s_per_img / s.cpu_s_per_img);
        }
    }
    out
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

fn run_capture(mut c: Command, what: &str) -> Result<String> {
    let out = c.output().with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!("{what} failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Build our `throughput` bench for every backend asked for, with cargo's
/// own progress on the terminal (the runs that follow are `--quiet`): on a
/// clone where `cargo xtask sweep` or the tests have built the workspace
/// this compiles the bench target alone (the `workspace-hack` crate keeps
/// one feature set, so burn is not compiled again).
fn build_ours(root: &Path, o: &Options) -> Result<()> {
    if o.exe.is_some() {
        return Ok(());
    }
    for backend in &o.backends {
        let status = cargo_bench(root, backend).arg("--no-run").status().with_context(|| "running cargo bench --no-run")?;
        if !status.success() {
            bail!("building the throughput bench failed ({status})");
        }
    }
    Ok(())
}

/// `cargo bench` of our `throughput` bench in the dev profile, with the
/// features `backend` needs.
fn cargo_bench(root: &Path, backend: &str) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root).args(["bench", "--profile", "dev", "-p", "transferability-model", "--bench", "throughput"]);
    if backend.starts_with("cuda") {
        c.args(["--features", "cuda"]);
    } else if backend.starts_with("tch") {
        c.args(["--features", "tch"]);
    }
    c
}

/// The command that runs our `throughput` bench with `args`.
fn ours(root: &Path, o: &Options, backend: &str, args: &[&str]) -> Command {
    let mut c = match &o.exe {
        Some(exe) => Command::new(exe),
        None => {
            let mut c = cargo_bench(root, backend);
            c.args(["--quiet", "--"]);
            c
        }
    };
    c.args(args).args(["--backend", backend]).env("RAYON_NUM_THREADS", o.threads.to_string());
    c
}

/// Find a Python with torch: `TRANSFERABILITY_TORCH_PYTHON`, then the venv
/// `cargo xtask bench --setup-torch` makes.
pub fn find_python(root: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TRANSFERABILITY_TORCH_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = venv_dir(root).join("bin/python");
    venv.is_file().then_some(venv)
}

/// Where `--setup-torch` installs torch.
pub fn venv_dir(root: &Path) -> PathBuf {
    root.join("target/bench/torch-venv")
}

/// Create the venv with the pinned torch (the full wheel from the package
/// index: ~3.8 GB to download, ~6.8 GB installed).
pub fn setup_torch(root: &Path) -> Result<PathBuf> {
    let venv = venv_dir(root);
    let py = venv.join("bin/python");
    if !py.is_file() {
        let s = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().context("python3 -m venv")?;
        if !s.success() {
            bail!("python3 -m venv {} failed", venv.display());
        }
    }
    let s = Command::new(&py)
        .args(["-m", "pip", "install", "--no-cache-dir", &format!("torch=={TORCH_VERSION}"), "numpy"])
        .status()
        .context("pip install torch")?;
    if !s.success() {
        bail!("pip install torch=={TORCH_VERSION} failed");
    }
    Ok(py)
}

/// `OUT/PRESET.json`: the network as our side prints it, for the PyTorch side.
fn write_config(root: &Path, o: &Options, preset: &str) -> Result<PathBuf> {
    let json = o.out.join(format!("{preset}.json"));
    let cfg = run_capture(ours(root, o, &o.backends[0], &["--config-json", preset]), "throughput --config-json")?;
    std::fs::write(&json, cfg.trim()).with_context(|| format!("writing {}", json.display()))?;
    Ok(json)
}

/// The PyTorch side on the network in `json`, with `extra` arguments and
/// the measurement's steps.
fn torch(root: &Path, o: &Options, py: &Path, json: &Path, preset: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(py);
    c.arg(root.join("xtask/bench/torch_alexnet.py")).arg(json).args(["--device", &o.torch_device]).args(extra);
    c.args(o.step_args(preset));
    c
}

/// Run the comparison; returns the rows.
pub fn compare(root: &Path, o: &Options) -> Result<Vec<Row>> {
    std::fs::create_dir_all(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    build_ours(root, o)?;
    let python = match &o.python {
        Some(py) => {
            let v = run_capture(
                {
                    let mut c = Command::new(py);
                    c.args(["-c", "import torch; print(torch.__version__)"]);
                    c
                },
                "python -c 'import torch'",
            )?;
            let v = v.trim().to_string();
            if !v.starts_with(TORCH_VERSION) {
                eprintln!("note: torch {v} found; the pinned comparison uses {TORCH_VERSION}");
            }
            eprintln!("PyTorch {v} from {}", py.display());
            Some(py.clone())
        }
        None => {
            eprintln!(
                "PyTorch not found: measuring our side only. To compare, run `cargo xtask bench --setup-torch` \
                 (creates {} with torch=={TORCH_VERSION}, ~3.8 GB download) or set TRANSFERABILITY_TORCH_PYTHON.",
                venv_dir(root).display()
            );
            None
        }
    };
    // the level our kernels run at and the peak a CPU engine's GFLOP/s is a fraction of
    let peak = match o.backends.iter().any(|b| b == "flex") {
        true => Some(parse_peak(&run_capture(ours(root, o, "flex", &["--peak"]), "the peak")?)?),
        false => None,
    };
    if let Some(p) = &peak {
        let forced = std::env::var("TRANSFERABILITY_ISA").map(|v| format!(", TRANSFERABILITY_ISA={v}")).unwrap_or_default();
        eprintln!("ISA: {} (our kernels{forced}); measured multiply-add peak at that level: {:.1} GFLOP/s on {} threads", p.isa, p.gflops, p.threads);
    }
    eprintln!("load average before: {}", load());
    let mut rows = Vec::new();
    for preset in &o.presets {
        let json = write_config(root, o, preset)?;
        for round in 1..=o.rounds {
            let mut sides: Vec<(String, Command)> = o
                .backends
                .iter()
                .map(|b| {
                    let mut c = ours(root, o, b, &["--compare", preset]);
                    c.args(o.step_args(preset));
                    (format!("burn-{b}"), c)
                })
                .collect();
            if let Some(py) = &python {
                sides.push(("pytorch".into(), torch(root, o, py, &json, preset, &["--threads", &o.threads.to_string()])));
                if o.torch_device.starts_with("cuda") {
                    sides.push(("pytorch-tf32".into(), torch(root, o, py, &json, preset, &["--tf32"])));
                }
            }
            if round % 2 == 0 {
                sides.reverse(); // alternate who goes first
            }
            for (name, c) in sides {
                eprintln!("round {round}/{}: {preset} on {name} ...", o.rounds);
                let text = run_capture(c, &name)?;
                let got = parse_results(&text, round)?;
                for r in &got {
                    eprintln!("  {} {:<7} {:>9.1} img/s  {:.5} CPU-s/img", r.engine, r.mode, r.img_s, r.cpu_s_per_img);
                }
                rows.extend(got);
            }
        }
    }
    eprintln!("load average after: {}", load());
    let csv = o.out.join("compare.csv");
    let mut text = String::from("round,engine,preset,mode,threads,img_s,cpu_s_per_img,flop_per_img\n");
    for r in &rows {
        text.push_str(&format!("{},{},{},{},{},{:.3},{:.6},{}\n", r.round, r.engine, r.preset, r.mode, r.threads, r.img_s, r.cpu_s_per_img, r.flop_per_img));
    }
    std::fs::write(&csv, text).with_context(|| format!("writing {}", csv.display()))?;
    if let Some(p) = &peak {
        println!("ISA {}; measured peak {:.1} GFLOP/s on {} threads (`of peak`: a CPU engine's GFLOP/s over it)", p.isa, p.gflops, p.threads);
    }
    print_summary(&summarise(&rows), peak.as_ref());
    println!("\nevery round: {}", csv.display());
    Ok(rows)
}

/// Per layer block, milliseconds forward and forward + backward of each
/// engine on the first preset (`--breakdown`): where the step's time goes
/// and where we lose against PyTorch.
pub fn breakdown(root: &Path, o: &Options) -> Result<()> {
    let preset = &o.presets[0];
    std::fs::create_dir_all(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    build_ours(root, o)?;
    let json = write_config(root, o, preset)?;
    let mut c = ours(root, o, &o.backends[0], &["--breakdown", preset]);
    c.args(o.step_args(preset));
    let mut text = run_capture(c, "throughput --breakdown")?;
    if let Some(py) = &o.python {
        let c = torch(root, o, py, &json, preset, &["--breakdown", "--threads", &o.threads.to_string()]);
        text.push_str(&run_capture(c, "torch_alexnet.py --breakdown")?);
    }
    // layer -> engine -> (fwd, fwd+bwd, conv fwd, conv fwd+bwd)
    let mut t: BTreeMap<String, BTreeMap<String, [f64; 4]>> = BTreeMap::new();
    for (kv, _) in tagged(&text, "BLOCK") {
        let num = |k: &str| kv.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
        let engine = if kv.get("engine").is_some_and(|e| e.starts_with("pytorch")) { "pytorch" } else { "ours" };
        let v = [num("fwd_ms"), num("fwdbwd_ms"), num("conv_fwd_ms"), num("conv_fwdbwd_ms")];
        t.entry(kv.get("layer").copied().unwrap_or("?").to_string()).or_default().insert(engine.into(), v);
    }
    println!(
        "{preset}, batch {}, {} threads: milliseconds per layer block (conv+ReLU+pool+LRN or fc+ReLU+dropout), and of its convolution alone",
        o.batch.unwrap_or(128),
        o.threads
    );
    println!(
        "{:<6} {:>9} {:>9} {:>6} {:>11} {:>11} {:>6} {:>13} {:>13} {:>6}",
        "layer", "fwd ours", "fwd torch", "ratio", "f+b ours", "f+b torch", "ratio", "conv f+b ours", "conv f+b torch", "ratio"
    );
    let none = [f64::NAN; 4];
    for (layer, e) in &t {
        let (a, p) = (e.get("ours").unwrap_or(&none), e.get("pytorch").unwrap_or(&none));
        println!(
            "{layer:<6} {:>9.2} {:>9.2} {:>5.2}x {:>11.2} {:>11.2} {:>5.2}x {:>13.2} {:>13.2} {:>5.2}x",
            a[0],
            p[0],
            a[0] / p[0],
            a[1],
            p[1],
            a[1] / p[1],
            a[3],
            p[3],
            a[3] / p[3]
        );
    }
    Ok(())
}

fn print_summary(s: &[Summary], peak: Option<&Peak>) {
    println!(
        "{:<9} {:<8} {:<22} {:>7} {:>10} {:>11} {:>9} {:>8} {:>12} {:>14}",
        "preset", "mode", "engine", "threads", "img/s", "CPU-s/img", "GFLOP/s", "of peak", "vs PyTorch", "CPU vs PyTorch"
    );
    for r in s {
        let f = |x: Option<f64>| x.map(|v| format!("{v:.2}x")).unwrap_or_else(|| "-".into());
        let of_peak = peak.filter(|p| r.threads == p.threads).map_or("-".to_string(), |p| format!("{:.0}%", 100.0 * r.gflop_s / p.gflops));
        println!(
            "{:<9} {:<8} {:<22} {:>7} {:>10.1} {:>11.5} {:>9.1} {:>8} {:>12} {:>14}",
            r.preset,
            r.mode,
            r.engine,
            if r.threads == 0 { "gpu".to_string() } else { r.threads.to_string() },
            r.img_s,
            r.cpu_s_per_img,
            r.gflop_s,
            of_peak,
            f(r.ratio),
            f(r.cpu_ratio)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_steps_time_the_same_images_at_any_batch() {
        let o = |batch: Option<usize>, steps: Option<usize>| Options {
            rounds: 1,
            threads: 1,
            presets: vec![],
            backends: vec![],
            torch_device: "cpu".into(),
            python: None,
            out: PathBuf::new(),
            exe: None,
            steps,
            warmup: None,
            batch,
        };
        let steps = |o: Options, preset: &str| o.step_args(preset)[1].clone();
        assert_eq!(steps(o(None, None), "tiny"), "20");
        assert_eq!(steps(o(Some(32), None), "tiny"), "80");
        assert_eq!(steps(o(Some(32), None), "caffenet"), "20");
        assert_eq!(steps(o(Some(4096), None), "caffenet"), "1");
        assert_eq!(steps(o(Some(32), Some(7)), "tiny"), "7", "--steps wins");
        assert_eq!(o(Some(32), None).step_args("tiny")[4..], ["--batch".to_string(), "32".into()]);
    }

    const OURS: &str =
        "noise\nRESULT engine=burn-flex preset=bench mode=train threads=2 batch=128 steps=20 img_s=100.0 cpu_s_per_img=0.020000 flop_per_img=825000000\n";
    const TORCH: &str =
        "RESULT engine=pytorch-2.9.0 preset=bench mode=train threads=2 batch=128 steps=20 img_s=200.0 cpu_s_per_img=0.010000 flop_per_img=825000000\n";

    #[test]
    fn parses_and_compares_against_pytorch() {
        let mut rows = parse_results(OURS, 1).expect("present");
        rows.extend(parse_results(TORCH, 1).expect("parses"));
        rows.extend(parse_results(&OURS.replace("img_s=100.0", "img_s=120.0"), 2).expect("parses"));
        rows.extend(parse_results(&OURS.replace("img_s=100.0", "img_s=90.0"), 3).expect("parses"));
        let s = summarise(&rows);
        let ours = s.iter().find(|r| r.engine == "burn-flex").expect("present");
        assert_eq!(ours.img_s, 100.0, "median of 90, 100, 120");
        assert_eq!(ours.ratio, Some(0.5));
        assert_eq!(ours.cpu_ratio, Some(0.5));
        assert!((ours.gflop_s - 82.5).abs() < 1e-9);
        let torch = s.iter().find(|r| r.engine.starts_with("pytorch")).expect("present");
        assert_eq!(torch.ratio, Some(1.0));
    }

    #[test]
    fn the_peak_line_is_read_and_a_broken_one_named() {
        let p = parse_peak("noise\nPEAK isa=avx2 threads=2 gflops=261.6\n").expect("peak");
        assert_eq!(p, Peak { isa: "avx2".into(), threads: 2, gflops: 261.6 });
        let e = parse_peak("PEAK isa=avx2 threads=2").unwrap_err().to_string();
        assert!(e.contains("without `gflops`"), "{e}");
        assert!(parse_peak("RESULT engine=x").unwrap_err().to_string().contains("no PEAK line"));
    }

    #[test]
    fn a_broken_result_line_names_the_missing_key() {
        let e = parse_results("RESULT engine=x preset=bench mode=train threads=2 img_s=1", 1).unwrap_err();
        assert!(e.to_string().contains("cpu_s_per_img"), "{e}");
    }
}
