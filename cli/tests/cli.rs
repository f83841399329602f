//! Black-box tests of the `transferability` binary (the test-profile build,
//! `CARGO_BIN_EXE_transferability`): splits, the smoke sweep end to end,
//! kill and resume, failures, dry runs, Slurm.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use data_split::optional::require;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_transferability"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf-8")
}

fn err(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "{args:?} should fail");
    String::from_utf8(o.stderr).expect("utf-8")
}

#[test]
fn split_print_gives_the_authors_half_on_one_line() {
    let out = ok(&["split", "random", "--classes", "1000", "--seed", "0", "--numpy-compatible", "--print", "A"]);
    assert_eq!(out.lines().count(), 1, "exactly one line on stdout");
    let v: Vec<usize> = out.trim().split(' ').map(|x| x.parse().expect("number")).collect();
    assert_eq!(v.len(), 500);
    assert_eq!(&v[..12], &[0, 1, 2, 5, 9, 10, 15, 16, 17, 19, 20, 22]);
    assert_eq!(v.iter().sum::<usize>(), 249_620);
    let b = ok(&["split", "random", "--classes", "1000", "--seed", "3", "--numpy-compatible", "--print", "B"]);
    assert_eq!(b.split(' ').count(), 500);
}

#[test]
fn split_bad_input_is_refused_without_partial_output() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    assert!(err(&["split", "random", "--classes", "10", "--fraction", "1.5", "--print", "A"]).contains("fraction must lie in (0, 1)"));
    assert!(
        err(&["split", "natman", "--preset", "mnist", "--out", &d.join("x").display().to_string()]).contains("possible values: ilsvrc12, cifar10, cifar100")
    );
    std::fs::write(d.join("a.txt"), "0\n1\n").expect("write");
    std::fs::write(d.join("b.txt"), "1\n2\n").expect("write");
    let out = d.join("custom");
    let (a, b, o) = (d.join("a.txt").display().to_string(), d.join("b.txt").display().to_string(), out.display().to_string());
    let custom = || err(&["split", "custom", "--classes", "4", "--a", &a, "--b", &b, "--out", &o]);
    let e = custom();
    assert!(e.contains("class 1 is in both"), "{e}");
    assert!(!out.exists(), "no partial manifest");
    std::fs::write(d.join("b.txt"), "2\n12\n").expect("write");
    let e = custom();
    assert!(e.contains("b.txt:2") && e.contains("out of range"), "{e}");
    // an output holding a different manifest is refused and kept
    let m = d.join("m");
    ok(&["split", "random", "--classes", "10", "--seed", "1", "--out", &m.display().to_string()]);
    let before = std::fs::read_to_string(m.join("manifest.json")).expect("manifest");
    let e = err(&["split", "random", "--classes", "10", "--seed", "2", "--out", &m.display().to_string()]);
    assert!(e.contains("different manifest"), "{e}");
    assert_eq!(std::fs::read_to_string(m.join("manifest.json")).expect("manifest"), before);
}

fn records(out: &Path) -> BTreeMap<String, (String, u64, std::time::SystemTime)> {
    let mut m = BTreeMap::new();
    let dir = out.join("records/runs");
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if e.path().extension().is_none_or(|x| x != "parquet") {
            continue; // a record being written (temporary name)
        }
        let r = transfer::record::read_run(&e.path()).expect("valid record");
        let mtime = e.metadata().and_then(|x| x.modified()).expect("mtime");
        m.insert(r.run_id.clone(), (r.weights_sha256.clone(), r.top1.to_bits(), mtime));
    }
    m
}

fn smoke(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["sweep", "--preset", "smoke", "--out"];
    let o = out.display().to_string();
    args.push(&o);
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn smoke_sweep_end_to_end_then_killed_and_resumed() {
    let dir = tempfile::tempdir().expect("tmp");
    let full = dir.path().join("full");
    let o = smoke(&full, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = records(&full);
    assert_eq!(want.len(), 26);
    let report = full.join("report");
    assert!(report.join("report.md").is_file() && report.join("summary.csv").is_file() && report.join("decomposition.parquet").is_file());
    assert!(report.join("figures/runs_fig2_bottom.png").is_file() && report.join("figures/runs_fig3.svg").is_file());

    // kill the whole sweep (and its jobs) with SIGKILL partway, then run it again
    let part = dir.path().join("part");
    let mut child = {
        use std::os::unix::process::CommandExt;
        let mut c = bin();
        c.args(["sweep", "--preset", "smoke", "--jobs", "1", "--out", &part.display().to_string()]);
        c.process_group(0).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        c.spawn().expect("start")
    };
    let t = Instant::now();
    while records(&part).len() < 6 && t.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pgid = child.id().to_string();
    let killed = Command::new("kill").args(["-s", "KILL", "--", &format!("-{pgid}")]).status().expect("kill");
    assert!(killed.success(), "kill -s KILL -- -{pgid}");
    let _ = child.wait();
    let before = records(&part);
    assert!(before.len() >= 6 && before.len() < 26, "killed partway: {} records", before.len());
    let o = smoke(&part, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = records(&part);
    for (id, (hash, top1, mtime)) in &before {
        assert_eq!(after[id].2, *mtime, "{id} was retrained");
        assert_eq!((&after[id].0, after[id].1), (hash, *top1));
    }
    for (id, (hash, top1, _)) in &want {
        assert_eq!((&after[id].0, after[id].1), (hash, *top1), "{id} differs from the uninterrupted sweep");
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(&format!("{} already done", before.len())), "{stderr}");
    // the two sweeps side by side: same top-1 in every cell
    let (f, p) = (full.display().to_string(), part.display().to_string());
    let table = ok(&["compare", &f, &p, "--names", "full,resumed"]);
    let cells: Vec<&str> = table.lines().filter(|l| l.contains("/n")).collect();
    assert!(cells.len() >= 10, "{table}");
    assert!(cells.iter().all(|l| l.contains(" +0.00 ")), "top-1 differs somewhere:\n{table}");
    assert!(table.contains("total CPU-seconds: full"), "{table}");
}

#[test]
fn dependents_of_a_failed_base_are_not_run_and_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("o");
    std::fs::create_dir_all(&out).expect("mkdir");
    // a configuration whose rate makes every network diverge
    ok(&["sweep", "--preset", "smoke", "--dry-run", "--out", &out.display().to_string()]);
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).expect("plan")).expect("json");
    let mut cfg = plan["config"].clone();
    cfg["schedule"]["base_lr"] = serde_json::json!(1.0e6);
    cfg["natman"] = serde_json::Value::Null;
    cfg["whole"] = serde_json::Value::Null;
    let cfg_path = dir.path().join("diverge.json");
    std::fs::write(&cfg_path, cfg.to_string()).expect("write");
    let o = run(&["sweep", "--config", &cfg_path.display().to_string(), "--out", &dir.path().join("d").display().to_string(), "--no-report"]);
    assert_eq!(o.status.code(), Some(2), "a sweep with failures exits 2");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("r0-base-A: FAILED") && stderr.contains("loss became"), "{stderr}");
    assert!(stderr.contains("r0-transfer-A-B-n1: not run: dependency r0-base-A did not finish"), "{stderr}");
}

#[test]
fn dry_run_of_the_authors_grid_needs_no_images() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = ok(&["sweep", "--preset", "imagenet-paper", "--dry-run", "--out", &dir.path().display().to_string()]);
    assert!(out.contains("r0-transfer-ft-B-A-n7 <- r0-base-B"), "graph lists dependencies");
    assert!(out.contains("random/AnB+") && out.contains("268 jobs"), "{out}");
    assert!(out.contains("splits: not checked against the data, which did not open"), "without images it says it could not check: {out}");
    // the estimate comes from a speed measured just now: CPU-hours = image-steps / img/s
    let num_after = |key: &str| -> f64 {
        let rest = &out[out.find(key).unwrap_or_else(|| panic!("`{key}` in {out}")) + key.len()..];
        rest.trim_start().split(|c: char| c.is_whitespace() || c == ';').next().expect("number").parse().expect("a number")
    };
    let (steps, speed, cpu_h) = (num_after("268 jobs,"), num_after("trains at"), num_after("so about"));
    assert!(speed > 0.5 && speed < 1e4, "caffenet at {speed} img/s per thread");
    assert!((cpu_h - steps / speed / 3600.0).abs() < 0.01 * cpu_h, "{out}");
    assert!(dir.path().join("plan.json").is_file());
    let e = err(&["sweep", "--preset", "nonsense", "--dry-run"]);
    assert!(e.contains("possible values: default, smoke, cifar10, cifar100, imagenet-paper"), "clap lists the presets: {e}");
    let e = err(&["sweep", "--preset", "cifar10", "--data", &dir.path().display().to_string(), "--out", &dir.path().join("c").display().to_string()]);
    assert!(e.contains("unrecognised layout"), "{e}");
}

#[test]
fn analyze_paper_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = ok(&["analyze", "--paper", "--out", &dir.path().display().to_string()]);
    assert!(out.trim().ends_with("report.md"));
    let summary = std::fs::read_to_string(dir.path().join("summary.csv")).expect("summary");
    assert!(summary.lines().any(|l| l.starts_with("paper,random,base,all,0,,0.62")), "{summary}");
}

fn slurm_up() -> Option<PathBuf> {
    let conf = std::env::var_os("SLURM_CONF").map(PathBuf::from)?;
    let ok = Command::new("sinfo").arg("-h").output().ok()?.status.success();
    ok.then_some(conf)
}

#[test]
fn smoke_on_slurm_equals_the_local_executor() {
    let Some(_) = require("a running Slurm", slurm_up(), "bash ../shared/tools/slurm-local.sh start; eval \"$(bash ../shared/tools/slurm-local.sh env)\"")
    else {
        return;
    };
    let dir = tempfile::tempdir_in("/tmp").expect("tmp");
    let local = dir.path().join("local");
    let slurm = dir.path().join("slurm");
    assert!(smoke(&local, &["--no-report"]).status.success());
    let t = Instant::now();
    let o = smoke(&slurm, &["--executor", "slurm", "--no-report"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(t.elapsed() < Duration::from_secs(300), "within the 5-minute budget");
    let (a, b) = (records(&local), records(&slurm));
    assert_eq!(a.len(), 26);
    for (id, (hash, top1, _)) in &a {
        assert_eq!((&b[id].0, b[id].1), (hash, *top1), "{id}: Slurm and local differ");
    }
}

#[test]
fn unreachable_slurm_fails_before_submitting_anything() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = bin()
        .args(["sweep", "--preset", "smoke", "--executor", "slurm", "--out", &dir.path().display().to_string()])
        .env("SLURM_CONF", dir.path().join("no-such-slurm.conf"))
        .output()
        .expect("runs");
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("sinfo"), "{e}");
    assert!(!dir.path().join("jobs").exists() || std::fs::read_dir(dir.path().join("jobs")).expect("dir").count() == 0, "nothing was written for submission");
}

fn python_with(modules: &str) -> Option<()> {
    let probe = format!("import {modules}");
    Command::new("python3").args(["-c", &probe]).output().ok().filter(|o| o.status.success()).map(|_| ())
}

/// The notebook example (`docs/notebooks/records.py`, and the same code in
/// `records.ipynb`) on a smoke sweep with two replicates: its Polars cell
/// means and its pandas paired decomposition with t intervals equal the
/// Rust analysis's `summary.csv` and `decomposition.csv` to 1e-9, and its
/// plot is written. Where nbclient is installed the notebook itself runs too.
#[test]
fn the_notebook_script_reproduces_the_rust_analysis() {
    let Some(()) = require(
        "python3 with polars, pandas, pyarrow, scipy and matplotlib",
        python_with("polars, pandas, pyarrow, scipy, matplotlib"),
        "python3 -m pip install polars pandas pyarrow scipy matplotlib",
    ) else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf();
    let script = root.join("docs/notebooks/records.py");
    // the notebook holds the script's code, section by section
    let text = std::fs::read_to_string(&script).expect("script");
    let nb: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root.join("docs/notebooks/records.ipynb")).expect("notebook")).expect("json");
    let code: Vec<String> = nb["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .filter(|c| c["cell_type"] == "code")
        .map(|c| c["source"].as_array().expect("source").iter().map(|l| l.as_str().expect("line")).collect())
        .collect();
    let sections: Vec<String> = text.split("# %%").skip(1).map(|s| s.split_once('\n').expect("title").1.trim_matches('\n').to_string()).collect();
    assert_eq!(code, sections, "records.ipynb and records.py have drifted apart");

    let dir = tempfile::tempdir().expect("tmp");
    let sweep = dir.path().join("sweep");
    assert!(smoke(&sweep, &["--replicates", "2"]).status.success());
    let plot = dir.path().join("curve.png");
    let o = Command::new("python3").arg(&script).arg(&sweep).arg("--plot").arg(&plot).output().expect("python3");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("equal to summary.csv") && out.contains("equal to decomposition.csv"), "{out}");
    assert!(std::fs::metadata(&plot).expect("plot").len() > 1000, "a PNG was drawn");
    println!("{}", out.lines().filter(|l| l.contains("equal to")).collect::<Vec<_>>().join("\n"));

    if python_with("nbclient, nbformat, ipykernel").is_some() {
        let run_nb = "import nbformat, nbclient, sys\nnb = nbformat.read(sys.argv[1], as_version=4)\nnbclient.NotebookClient(nb, timeout=300).execute()\nprint('notebook ran')";
        let o = Command::new("python3")
            .args(["-c", run_nb])
            .arg(root.join("docs/notebooks/records.ipynb"))
            .env("TRANSFERABILITY_SWEEP", &sweep)
            .output()
            .expect("python3");
        assert!(o.status.success(), "the notebook failed: {}", String::from_utf8_lossy(&o.stderr));
    }
}

/// The classes of the folder [`own_folder`] makes (Fashion-MNIST's, in its label order).
const OWN_CLASSES: [&str; 10] = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"];

/// A data set of your own under `root/data`: `train/<class>/*.png` and
/// `test/<class>/*.png`, 10 classes of 28×28 grayscale PNGs, each class
/// its own stripe frequency and direction under per-image noise (learnable,
/// not trivially).
fn own_folder(root: &Path, train: u32, test: u32) -> PathBuf {
    let data = root.join("data");
    for (split, n) in [("train", train), ("test", test)] {
        for (c, name) in OWN_CLASSES.iter().enumerate() {
            let d = data.join(split).join(name);
            std::fs::create_dir_all(&d).expect("mkdir");
            let c = c as u32;
            for i in 0..n {
                let seed = i * 7919 + c * 104_729 + u32::from(split == "test") * 15_485_863;
                image::GrayImage::from_fn(28, 28, |x, y| {
                    let along = if c.is_multiple_of(2) { x } else { y };
                    let stripe = if (along * (c / 2 + 1) / 4).is_multiple_of(2) { 180 } else { 60 };
                    let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ seed).wrapping_mul(2_246_822_519) >> 26;
                    image::Luma([(stripe + noise) as u8])
                })
                .save(d.join(format!("{i}.png")))
                .expect("png");
            }
        }
    }
    data
}

/// A folder of your own given to the `cifar10` preset: refused before
/// anything trains, naming the first classes that differ.
#[test]
fn a_named_class_preset_refuses_other_classes() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = own_folder(dir.path(), 3, 1);
    let out = dir.path().join("run");
    let e = err(&["sweep", "--preset", "cifar10", "--data", &data.display().to_string(), "--out", &out.display().to_string()]);
    assert!(e.contains("class 0 is `bag` here, `airplane` in cifar10") && e.contains("\"natman\": null") && e.contains("\"dissimilar\""), "{e}");
    assert!(!out.join("jobs").exists(), "nothing was trained");
    // and `split natman` with those data refuses the same way, writing nothing
    let man = dir.path().join("manifest");
    let e = err(&["split", "natman", "--preset", "cifar10", "--data", &data.display().to_string(), "--out", &man.display().to_string()]);
    assert!(e.contains("class 0 is `bag` here, `airplane` in cifar10"), "{e}");
    assert!(!man.exists(), "no manifest");
}

/// Your own data end to end: a configuration with a random split and a
/// dissimilar split by class name (clothing vs footwear, `bag` left out;
/// footwear from a file of names) on the folder above. A misspelt class is
/// refused before anything trains; the dry run estimates from a measured
/// speed; the sweep's records, tables and report carry the split under its
/// own name; `split dissimilar` and `train --split FILE.json` take the same
/// object.
#[test]
fn your_own_data_with_a_dissimilar_split_by_class_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = own_folder(dir.path(), 12, 4);
    std::fs::write(dir.path().join("footwear.txt"), "# footwear\nsandal\nsneaker\nboot\n").expect("write");
    let config = |a: &[&str]| {
        serde_json::json!({
            "name": "mine",
            "data": {"kind": "path", "path": data},
            "model": "tiny", "outputs": "classes",
            "preprocess": {"stored": 32, "crop": 28, "mirror": true},
            "schedule": {"base_lr": 0.01, "gamma": 0.1, "step_size": 12, "max_iter": 16, "batch_size": 16, "evals": 4,
                         "test_batch": 200, "momentum": 0.9, "weight_decay": 0.0005, "checkpoint_every": 8},
            "layers": [4],
            "random": {"seeds": [0], "selffer": ["B"], "transfer": [["A", "B"]], "fine_tune": false},
            "natman": null,
            "dissimilar": {"name": "clothing_vs_footwear", "halves": ["clothing", "footwear"], "a": a, "b": "footwear.txt", "left_out": ["bag"], "layers": [4]},
            "whole": null
        })
    };
    let cfg = dir.path().join("mine.json");
    let out = dir.path().join("sweep");
    let (cfg_s, out_s) = (cfg.display().to_string(), out.display().to_string());
    let clothing = ["t-shirt", "trouser", "pullover", "dress", "coat", "shirt"];

    // a misspelt class: refused before anything trains, every problem named
    let mut typo = clothing.to_vec();
    typo[1] = "trousers";
    std::fs::write(&cfg, config(&typo).to_string()).expect("write");
    let e = err(&["sweep", "--config", &cfg_s, "--out", &out_s]);
    assert!(e.contains("`trousers` (a[1], in clothing) is not a class of this data set (did you mean `trouser`?)"), "{e}");
    assert!(e.contains("1 of this data set's classes are in neither half: `trouser`"), "{e}");
    assert!(!out.join("jobs").exists(), "nothing was trained");

    std::fs::write(&cfg, config(&clothing).to_string()).expect("write");
    let dry = ok(&["sweep", "--config", &cfg_s, "--out", &out_s, "--dry-run"]);
    assert!(dry.contains("clothing_vs_footwear/base") && dry.contains("clothing_vs_footwear/AnB"), "{dry}");
    assert!(dry.contains("img/s per job thread here (measured just now)"), "{dry}");
    assert!(dry.contains("splits: all 2 fit the data's 10 classes"), "{dry}");

    let o = run(&["sweep", "--config", &cfg_s, "--out", &out_s, "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // the family keeps the user's name in the records, with the halves' names
    let run_ids: Vec<String> =
        std::fs::read_dir(out.join("records/runs")).expect("records").map(|e| e.expect("entry").file_name().to_string_lossy().into()).collect();
    for id in ["clothing_vs_footwear-base-clothing", "clothing_vs_footwear-transfer-footwear-clothing-n4", "r0-transfer-A-B-n4"] {
        assert!(run_ids.contains(&format!("{id}.parquet")), "{id} in {run_ids:?}");
    }
    let summary = std::fs::read_to_string(out.join("report/summary.csv")).expect("summary");
    for cell in ["runs,clothing_vs_footwear,base,clothing,0,", "runs,clothing_vs_footwear,AnB,footwear,4,", "runs,random,AnB,all,4,"] {
        assert!(summary.contains(cell), "{cell} in\n{summary}");
    }
    let dec = std::fs::read_to_string(out.join("report/decomposition.csv")).expect("decomposition");
    assert!(dec.contains("runs,paired,clothing_vs_footwear_drop,4,4,") && dec.contains("runs,paired,clothing_vs_footwear_minus_random_drop,4,4,"), "{dec}");
    let report = std::fs::read_to_string(out.join("report/report.md")).expect("report");
    assert!(report.contains("### Dissimilar split `clothing_vs_footwear` (clothing / footwear)"), "{report}");
    assert!(report.contains("| target clothing | target footwear |") && report.contains("| 0 (bases) |"), "{report}");
    assert!(report.contains("clothing vs footwear drop more negative than the random-split drop"), "{report}");

    // the same object as a split of its own, and one job trained from it
    let spec = dir.path().join("split.json");
    let object = &config(&clothing)["dissimilar"];
    std::fs::write(&spec, object.to_string()).expect("write");
    let manifest = dir.path().join("manifest");
    ok(&["split", "dissimilar", "--data", &data.display().to_string(), "--spec", &spec.display().to_string(), "--out", &manifest.display().to_string()]);
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(manifest.join("manifest.json")).expect("manifest")).expect("json");
    assert_eq!(m["split"]["mode"], serde_json::json!({"kind": "dissimilar", "name": "clothing_vs_footwear", "left_out": ["bag"]}));
    assert_eq!(m["split"]["halves"][1]["classes"].as_array().expect("classes").len(), 3, "sandal, sneaker, boot");
    let one = dir.path().join("one");
    let args =
        ["train", "--data", &data.display().to_string(), "--split", &spec.display().to_string(), "--target", "footwear", "--iters", "4", "--progress", "quiet"];
    ok(&[&args[..], &["--out", &one.display().to_string()]].concat());
    let trained = std::fs::read_dir(one.join("jobs")).expect("jobs").next().expect("a job").expect("entry").path();
    let job: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(trained.join("job.json")).expect("job")).expect("json");
    assert_eq!(job["family"], "clothing_vs_footwear");
    // named by the sweep's id grammar
    assert!(trained.ends_with("clothing_vs_footwear-base-footwear"), "{}", trained.display());
    // flags the arm cannot take, and transfers without their source half, are refused before anything trains
    let e = err(&[&args[..], &["--n", "3", "--out", &one.display().to_string()]].concat());
    assert!(e.contains("--arm base: n is for selffer, transfer and nolearn networks, not base"), "{e}");
    let src = trained.join("final.params").display().to_string();
    let e = err(&[&args[..], &["--arm", "transfer", "--n", "3", "--source", &src, "--out", &one.display().to_string()]].concat());
    assert!(e.contains("name its source half"), "{e}");
    let e = err(&[&args[..], &["--arm", "transfer", "--n", "9", "--source", &src, "--source-half", "clothing"]].concat());
    assert!(e.contains("n must be 1 to 7, not 9"), "{e}");
    // and from its manifest: the family is the manifest's split's name
    let two = dir.path().join("two");
    ok(&[
        "train",
        "--data",
        &data.display().to_string(),
        "--split",
        &manifest.display().to_string(),
        "--target",
        "clothing",
        "--iters",
        "4",
        "--progress",
        "quiet",
        "--out",
        &two.display().to_string(),
    ]);
    let trained = std::fs::read_dir(two.join("jobs")).expect("jobs").next().expect("a job").expect("entry").path();
    let job: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(trained.join("job.json")).expect("job")).expect("json");
    assert_eq!(job["family"], "clothing_vs_footwear");
}

/// Every network `train --help` offers trains on the built-in data with
/// the preprocessing its input size gives it (`bench` was once offered and
/// then refused for its 32-px input).
#[test]
fn every_model_the_help_offers_trains() {
    let help = ok(&["train", "--help"]);
    let at = help.find("--model <MODEL>").expect("--model in the help");
    // the --model entry alone: up to the next option
    let entry = &help[at..];
    let entry = entry[1..].find("\n  -").map_or(entry, |end| &entry[..end + 1]);
    let (_, values) = entry.split_once("[possible values:").expect("the presets listed");
    let offered: Vec<&str> = values.split(']').next().expect("the list").split(',').map(str::trim).collect();
    assert_eq!(offered.len(), model::alexnet::PRESETS.len(), "{entry}");
    let dir = tempfile::tempdir().expect("tempdir");
    for m in offered {
        let out = dir.path().join(m);
        ok(&["train", "--model", m, "--iters", "1", "--batch", "2", "--progress", "quiet", "--out", &out.display().to_string()]);
        assert!(out.join("records/runs/r0-base-A.parquet").is_file(), "{m}: no record");
    }
}

/// The main job on a folder of your own whose classes are not CIFAR-10's:
/// `--preset default --data DIR` runs without a natural/man-made split,
/// saying so, finds its schedule with a pilot (the grid's first base,
/// judged on a validation set carved from the training images), trains
/// every network with it and without those images, and ends in a report.
#[test]
fn the_default_preset_finds_its_schedule_on_any_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = own_folder(dir.path(), 20, 4);
    let out = dir.path().join("sweep");
    let o = run(&["sweep", "--preset", "default", "--data", &data.display().to_string(), "--out", &out.display().to_string()]);
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("this grid has no dissimilar split"), "{stderr}");
    assert!(stdout.contains("schedule found: ") && stdout.contains("found by pilot r0-base-A"), "{stdout}");
    let found: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("schedule.json")).expect("schedule.json")).expect("json");
    let (step, end) = (found["schedule"]["step_size"].as_u64().expect("step"), found["schedule"]["max_iter"].as_u64().expect("end"));
    assert!(step > 0 && end >= 2 * step && end.is_multiple_of(step), "{found}");
    assert!(found["validation"].as_array().expect("curve").len() as u64 >= end / found["bounds"]["eval_every"].as_u64().expect("every"));
    // every job: the found schedule (the whole set's as many epochs), the validation images held out
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).expect("plan")).expect("json");
    let jobs = plan["jobs"].as_array().expect("jobs");
    assert!(jobs.iter().all(|j| j["job"]["validation"] == 0.1), "validation held out everywhere");
    assert!(!jobs.iter().any(|j| j["job"]["family"] == "natman"), "no natural/man-made split on these classes");
    for j in jobs {
        let whole = j["job"]["family"] == "whole";
        assert_eq!(j["job"]["schedule"], if whole { found["whole"].clone() } else { found["schedule"].clone() }, "{}", j["job"]["id"]);
    }
    assert_eq!(found["whole"]["max_iter"].as_u64().expect("whole"), 2 * end, "twice a half's images, as many epochs");
    let runs = std::fs::read_dir(out.join("records/runs")).expect("records").count();
    assert_eq!(runs, jobs.len(), "every job has its record");
    let report = std::fs::read_to_string(out.join("report/report.md")).expect("report");
    assert!(report.contains("Top-1 per network is"), "{report}");
    assert!(report.contains("## Schedule found from the data") && report.contains(&format!("trained {end} iterations")), "{report}");
}
