//! Run records written through the `records` crate (as `transfer` writes
//! them) read back by the analysis; bad records refused with the column or version named; and
//! the same files read by pyarrow where it is installed.

use records::ArmLabel;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use analysis::{AnalyzeOptions, Quantity, analyze};
use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use records::RunRecord;

struct Row<'a> {
    id: &'a str,
    arm: &'a str,
    target: &'a str,
    n: i32,
    top1: f64,
    status: &'a str,
    cpu: f64,
    cached: bool,
}

/// Each row as the run record `transfer` would write (through the
/// `records` crate, the one writer) under `dir/records`; returns the files.
fn write(dir: &Path, rows: &[Row<'_>], dataset: &str) -> Vec<PathBuf> {
    let records = dir.join("records");
    rows.iter()
        .map(|r| {
            let run = RunRecord {
                run_id: r.id.into(),
                dataset: dataset.into(),
                dataset_fingerprint: format!("fp-{dataset}"),
                family: records::Family::Random,
                arm: r.arm.parse().expect("an arm label"),
                split: "0".into(),
                target_half: r.target.parse().expect("a half"),
                n: r.n,
                fine_tuned: r.arm.ends_with('+'),
                status: r.status.parse().expect("a status"),
                top1: r.top1,
                test_loss_last: 1.0,
                cpu_seconds: r.cpu,
                cached_prefix: r.cached,
                converged: true,
                ..RunRecord::default()
            };
            records::write_run(&records, &run, &[], "{}").expect("write");
            records::run_path(&records, r.id)
        })
        .collect()
}

/// Rewrite a record file with one column dropped, its schema version
/// changed, or a text column set to a value.
fn tamper(path: &Path, drop: Option<&str>, version: Option<i32>) {
    retag(path, drop, version, None)
}

fn retag(path: &Path, drop: Option<&str>, version: Option<i32>, text: Option<(&str, &str)>) {
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).expect("open"))
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect();
    let mut batch = batches.into_iter().next().expect("one batch");
    if let Some(name) = drop {
        batch.remove_column(batch.schema().index_of(name).expect("column"));
    }
    if let Some(v) = version {
        let i = batch.schema().index_of("schema_version").expect("column");
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        cols[i] = Arc::new(Int32Array::from_iter_values(std::iter::repeat_n(v, batch.num_rows())));
        batch = RecordBatch::try_new(batch.schema(), cols).expect("batch");
    }
    if let Some((name, value)) = text {
        let i = batch.schema().index_of(name).expect("column");
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        cols[i] = Arc::new(StringArray::from(vec![value; batch.num_rows()]));
        batch = RecordBatch::try_new(batch.schema(), cols).expect("batch");
    }
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).expect("create"), batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

fn rows() -> Vec<Row<'static>> {
    vec![
        Row { id: "r0-base-A", arm: "base", target: "A", n: 0, top1: 0.80, status: "ok", cpu: 10.0, cached: false },
        Row { id: "r0-base-B", arm: "base", target: "B", n: 0, top1: 0.70, status: "ok", cpu: 10.0, cached: false },
        Row { id: "r0-selffer-B-n3", arm: "BnB", target: "B", n: 3, top1: 0.72, status: "ok", cpu: 6.0, cached: false },
        Row { id: "r0-transfer-A-B-n3", arm: "AnB", target: "B", n: 3, top1: 0.65, status: "ok", cpu: 6.0, cached: false },
        Row { id: "r0-transfer-A-B-n7", arm: "AnB", target: "B", n: 7, top1: f64::NAN, status: "failed", cpu: 1.0, cached: false },
    ]
}

fn opts(runs: Vec<std::path::PathBuf>, out: &Path) -> AnalyzeOptions {
    AnalyzeOptions { runs, reference_paper: false, out: out.to_path_buf(), allow_mixed: false }
}

#[test]
fn records_are_analysed_failed_ones_excluded_and_single_units_have_no_interval() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), &rows(), "synthetic");
    let out = analyze(&opts(vec![dir.path().into()], &dir.path().join("report"))).expect("analyze");
    assert_eq!(out.excluded.len(), 1);
    assert_eq!(out.excluded[0].run_id, "r0-transfer-A-B-n7");
    let base = out.summary.iter().find(|r| r.arm == ArmLabel::Base).expect("base");
    assert_eq!((base.count, base.units, (base.mean * 100.0).round()), (2, 1, 75.0));
    assert!(base.ci_low.is_none(), "two bases of one split are one unit: no interval");
    let bnb = out.summary.iter().find(|r| r.arm == ArmLabel::BnB).expect("BnB");
    assert_eq!(bnb.count, 1);
    assert!(bnb.ci_low.is_none() && bnb.sd.is_nan(), "a single network has no interval");
    let spec = out.decomposition.iter().find(|d| d.quantity == Quantity::Specificity && d.n_from == 3).expect("specificity");
    assert!((spec.value - 0.07).abs() < 1e-12);
    assert_eq!(spec.convention, analysis::summary::Convention::Paired);
    // BnB on B is measured against base B (0.70), not the mean of both bases (0.75)
    let co = out.decomposition.iter().find(|d| d.quantity == Quantity::Coadaptation && d.n_from == 3).expect("co-adaptation");
    assert!((co.value - (0.70 - 0.72)).abs() < 1e-12, "{co:?}");
    let report = std::fs::read_to_string(&out.report).expect("report");
    assert!(report.contains("1 excluded") && report.contains("single unit"), "{report}");
    assert!(report.contains("### Findings") && report.contains("**not testable (1 unit)**"), "{report}");
    // one unit: nothing is observed, so the figure claims no effect
    let svg = std::fs::read_to_string(dir.path().join("report/figures/runs_fig2_bottom.svg")).expect("svg");
    assert!(!svg.contains("co-adaptation") && !svg.contains("specificity"), "a label for an effect the data do not show");
}

#[test]
fn cells_with_cached_networks_are_flagged() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut rows = rows();
    for r in &mut rows {
        r.cached = r.arm == "AnB";
    }
    write(dir.path(), &rows, "synthetic");
    let out = analyze(&opts(vec![dir.path().into()], &dir.path().join("report"))).expect("analyze");
    let report = std::fs::read_to_string(&out.report).expect("report");
    assert!(report.contains("mix cached and uncached") && report.contains("random/AnB/n3"), "{report}");
    assert!(!report.contains("random/BnB/n3"), "BnB used no cache: {report}");
}

#[test]
fn missing_columns_other_versions_and_mixed_data_sets_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let files = write(&a, &rows(), "synthetic");
    tamper(&files[2], Some("top1"), None);
    let e = analyze(&opts(vec![a.clone()], dir.path())).expect_err("error").to_string();
    assert!(e.contains("r0-selffer-B-n3.parquet") && e.contains("column `top1` missing") && e.contains("schema version 3"), "{e}");
    write(&a, &rows(), "synthetic");
    tamper(&files[2], None, Some(1));
    let e = analyze(&opts(vec![a.clone()], dir.path())).expect_err("error").to_string();
    assert!(e.contains("schema version 1") && e.contains("reads versions [2, 3]"), "{e}");
    // a word the protocol does not have is not analysed as some cell
    for (column, value, why) in [("arm", "AnB++", "unknown arm label"), ("status", "done", "unknown status"), ("target_half", "B-2", "must be one word")] {
        write(&a, &rows(), "synthetic");
        retag(&files[2], None, None, Some((column, value)));
        let e = analyze(&opts(vec![a.clone()], dir.path())).expect_err("error").to_string();
        assert!(e.contains(&format!("run `r0-selffer-B-n3`: column `{column}`: ")) && e.contains(why), "{e}");
    }
    write(&a, &rows(), "synthetic");
    write(&b, &rows(), "cifar10");
    let (p, q) = (a, b);
    let e = analyze(&opts(vec![p.clone(), q.clone()], dir.path())).expect_err("error").to_string();
    assert!(e.contains("2 different data sets") && e.contains("--allow-mixed"), "{e}");
    let mut o = opts(vec![p, q], dir.path());
    o.allow_mixed = true;
    // allowed when asked, but two sweeps of one grid claim the same cells: refused, naming the runs
    let e = analyze(&o).expect_err("the same networks twice").to_string();
    assert!(e.contains("two networks claim one cell") && e.contains("`r0-base-A`"), "{e}");
}

#[test]
fn compare_gives_per_cell_ratios_and_the_bound_of_a_free_cache() {
    let dir = tempfile::tempdir().expect("tmp");
    // B: the transfer jobs took half the CPU-seconds and one more point of top-1
    let sweep = |name: &str, cheaper: bool| {
        let root = dir.path().join(name);
        let mut rows = rows();
        for r in rows.iter_mut().filter(|r| cheaper && r.arm == "AnB") {
            r.cpu /= 2.0;
            r.top1 += 0.01;
        }
        write(&root, &rows, "synthetic");
        root
    };
    let (a, b) = (sweep("uncached", false), sweep("cached", true));
    let builds = [("r0-transfer-A-B-n3".to_string(), 1.0)].into_iter().collect();
    let c = analysis::compare::compare_sweeps(&a, &b, &builds).expect("compare");
    let cell = |name: &str| c.cells.iter().find(|c| c.cell == name).unwrap_or_else(|| panic!("{name} in {:?}", c.cells));
    let anb = cell("random/AnB/B/n3");
    assert_eq!(anb.count, [1, 1]);
    assert!((anb.top1_diff_pp() - 1.0).abs() < 1e-9, "{anb:?}");
    assert_eq!((anb.cpu_ratio(), anb.cache_build, anb.free_cache_bound()), (2.0, 1.0, 3.0), "6 / (3 - 1)");
    assert!(cell("random/base/A/n0").cache_build.is_nan() && cell("random/BnB/B/n3").free_cache_bound().is_nan());
    assert!(!c.cells.iter().any(|c| c.cell.ends_with("n7")), "the failed job is in no cell");
    assert_eq!(c.total_cpu, [32.0, 29.0], "failed jobs left out of the totals");
    let table = c.render(["uncached", "cached"]);
    assert!(table.contains("cache build") && table.contains("3.00x") && table.contains("bound:"), "{table}");
    let plain = analysis::compare::compare_sweeps(&a, &a, &Default::default()).expect("compare").render(["a", "b"]);
    assert!(!plain.contains("bound"), "no cache columns without caches: {plain}");
}

#[test]
fn pyarrow_reads_our_parquet() {
    let has = std::process::Command::new("python3").args(["-c", "import pyarrow"]).status().is_ok_and(|s| s.success());
    let Some(()) = data_split_free_require("pyarrow", has.then_some(())) else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let out = analyze(&AnalyzeOptions { runs: vec![], reference_paper: true, out: dir.path().into(), allow_mixed: false }).expect("analyze");
    let script = "import pyarrow.parquet as pq, sys\nt = pq.read_table(sys.argv[1])\nprint(t.num_rows, ','.join(t.schema.names))\n";
    let o = std::process::Command::new("python3").args(["-c", script, &dir.path().join("summary.parquet").display().to_string()]).output().expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.trim(), format!("{} origin,family,arm,target,n,k,mean,sd,count,units,ci_low,ci_high", out.summary.len()));
}

/// The analysis crate does not depend on `data-split`; the same rule as
/// `data_split::optional::require`: skip with a reason, fail under CI=true.
fn data_split_free_require<T>(what: &str, found: Option<T>) -> Option<T> {
    if found.is_none() {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but {what} not found");
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIP: {what} not found (python3 -m pip install pyarrow)");
    }
    found
}

/// Records of a grid with three random splits (bases and AnB at n = 7) and
/// three natural/man-made replicates (bases, transfers both ways at
/// n = 7), on data named `dataset`; the natural/man-made transfers lose
/// `natman_loss`, the random ones 0.10 (± 0.01 across splits); with
/// `natman_converged` false, two replicates' natural bases had not converged.
fn control_grid(dir: &Path, dataset: &str, natman_loss: f64, natman_converged: bool) {
    let records = dir.join("records");
    let mut runs = Vec::new();
    let mut add = |id: String, family: records::Family, split: String, arm: &str, source: Option<&str>, target: &str, n: i32, replicate: i32, top1: f64| {
        runs.push(RunRecord {
            run_id: id,
            dataset: dataset.into(),
            dataset_fingerprint: "fp".into(),
            family,
            arm: arm.parse().expect("an arm label"),
            split,
            source_half: source.map(|s| s.parse().expect("a half")),
            target_half: target.parse().expect("a half"),
            n,
            replicate,
            status: "ok".parse().expect("a status"),
            top1,
            test_loss_last: 1.0,
            cpu_seconds: 1.0,
            converged: true,
            ..RunRecord::default()
        })
    };
    for s in 0..3 {
        let wobble = 0.01 * (s as f64 - 1.0);
        add(format!("r{s}-base-A"), records::Family::Random, s.to_string(), "base", None, "A", 0, 0, 0.90);
        add(format!("r{s}-base-B"), records::Family::Random, s.to_string(), "base", None, "B", 0, 0, 0.90);
        add(format!("r{s}-transfer-A-B-n7"), records::Family::Random, s.to_string(), "AnB", Some("A"), "B", 7, 0, 0.80 + wobble);
    }
    for r in 0..3 {
        let wobble = 0.01 * (r as f64 - 1.0);
        for (from, to) in [("natural", "manmade"), ("manmade", "natural")] {
            add(format!("natman-base-{to}-r{r}"), records::Family::Natman, "natman".into(), "base", None, to, 0, r, 0.90);
            add(
                format!("natman-transfer-{from}-{to}-n7-r{r}"),
                records::Family::Natman,
                "natman".into(),
                "AnB",
                Some(from),
                to,
                7,
                r,
                0.90 - natman_loss + wobble,
            );
        }
    }
    for run in &mut runs {
        run.converged = natman_converged || !(run.run_id.starts_with("natman-base-natural") && run.replicate > 0);
        records::write_run(&records, run, &[], "{}").expect("write");
    }
}

/// The positive known-answer control: where the records' data set carries
/// the declared-cues mark, the report checks that natural/man-made
/// transfer loses more at the top than random halves; elsewhere (real
/// data, where it is the paper's finding 5) it is no control.
#[test]
fn the_positive_control_is_checked_where_the_data_declare_it() {
    let report_of = |dataset: &str, loss: f64, converged: bool| {
        let dir = tempfile::tempdir().expect("tmp");
        control_grid(dir.path(), dataset, loss, converged);
        let out = analyze(&opts(vec![dir.path().into()], &dir.path().join("report"))).expect("analyze");
        std::fs::read_to_string(&out.report).expect("report")
    };
    let report = |dataset: &str, loss: f64| report_of(dataset, loss, true);
    let declared = format!("synthetic:synthetic:classes=20,size=32,seed=0{}", records::DECLARED_CUES_MARK);
    // natural/man-made loses 0.40, random halves 0.10: −0.30, interval below 0
    let found = report(&declared, 0.40);
    let line = found.lines().find(|l| l.starts_with("| positive |")).unwrap_or_else(|| panic!("no positive control in\n{found}"));
    assert!(line.contains("n = 7") && line.contains("-0.300") && line.contains("yes: below 0"), "{line}");
    assert!(found.contains("| negative | random halves"), "{found}");
    // the same loss on both: the control fails, and the report says so
    let missed = report(&declared, 0.10);
    let line = missed.lines().find(|l| l.starts_with("| positive |")).expect("a positive control");
    assert!(line.contains("**no**: the interval holds 0"), "{line}");
    // dissimilar transfer losing less than random halves: the opposite
    let reversed = report(&declared, 0.0);
    let line = reversed.lines().find(|l| l.starts_with("| positive |")).expect("a positive control");
    assert!(line.contains("+0.100") && line.contains("**no**: above 0"), "{line}");
    // units left out for unconverged bases: not meaningful, not "not testable"
    let voided = report_of(&declared, 0.40, false);
    let line = voided.lines().find(|l| l.starts_with("| positive |")).expect("a positive control");
    assert!(line.contains("2 left out: unconverged network") && line.contains("not meaningful"), "{line}");
    // data that declare nothing: no positive control
    assert!(!report("synthetic:synthetic:classes=20,size=32,seed=0", 0.40).contains("| positive |"));
}
