//! Run records written with arrow-rs (as `transfer` writes them) read back by
//! the analysis; bad records refused with the column or version named; and
//! the same files read by pyarrow where it is installed.

use std::path::Path;
use std::sync::Arc;

use analysis::{AnalyzeOptions, analyze};
use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

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

fn write(path: &Path, rows: &[Row<'_>], version: i32, dataset: &str, drop: Option<&str>) {
    let s = |f: &dyn Fn(&Row<'_>) -> String| -> ArrayRef { Arc::new(StringArray::from_iter_values(rows.iter().map(f))) };
    let cols: Vec<(&str, DataType, ArrayRef)> = vec![
        ("schema_version", DataType::Int32, Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| version)))),
        ("run_id", DataType::Utf8, s(&|r| r.id.into())),
        ("dataset", DataType::Utf8, s(&|_| dataset.into())),
        ("dataset_fingerprint", DataType::Utf8, s(&|_| format!("fp-{dataset}"))),
        ("family", DataType::Utf8, s(&|_| "random".into())),
        ("arm", DataType::Utf8, s(&|r| r.arm.into())),
        ("split", DataType::Utf8, s(&|_| "0".into())),
        ("target_half", DataType::Utf8, s(&|r| r.target.into())),
        ("n", DataType::Int32, Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.n)))),
        ("replicate", DataType::Int32, Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| 0)))),
        ("converged", DataType::Boolean, Arc::new(rows.iter().map(|_| Some(true)).collect::<BooleanArray>())),
        ("cached_prefix", DataType::Boolean, Arc::new(rows.iter().map(|r| Some(r.cached)).collect::<BooleanArray>())),
        ("fine_tuned", DataType::Boolean, Arc::new(rows.iter().map(|r| Some(r.arm.ends_with('+'))).collect::<BooleanArray>())),
        ("status", DataType::Utf8, s(&|r| r.status.into())),
        ("top1", DataType::Float64, Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.top1)))),
        ("test_loss_last", DataType::Float64, Arc::new(Float64Array::from_iter_values(rows.iter().map(|_| 1.0)))),
        ("cpu_seconds", DataType::Float64, Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.cpu)))),
    ];
    let cols: Vec<_> = cols.into_iter().filter(|c| Some(c.0) != drop).collect();
    let schema = Arc::new(Schema::new(cols.iter().map(|c| Field::new(c.0, c.1.clone(), false)).collect::<Vec<_>>()));
    let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|c| c.2).collect()).expect("batch");
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).expect("create"), schema, None).expect("writer");
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
    let runs = dir.path().join("records/runs");
    std::fs::create_dir_all(&runs).expect("mkdir");
    for (i, r) in rows().into_iter().enumerate() {
        write(&runs.join(format!("{i}.parquet")), &[r], 2, "synthetic", None);
    }
    let out = analyze(&opts(vec![dir.path().into()], &dir.path().join("report"))).expect("analyze");
    assert_eq!(out.excluded.len(), 1);
    assert_eq!(out.excluded[0].run_id, "r0-transfer-A-B-n7");
    let base = out.summary.iter().find(|r| r.arm == "base").expect("base");
    assert_eq!((base.count, base.units, (base.mean * 100.0).round()), (2, 1, 75.0));
    assert!(base.ci_low.is_none(), "two bases of one split are one unit: no interval");
    let bnb = out.summary.iter().find(|r| r.arm == "BnB").expect("BnB");
    assert_eq!(bnb.count, 1);
    assert!(bnb.ci_low.is_none() && bnb.sd.is_nan(), "a single network has no interval");
    let spec = out.decomposition.iter().find(|d| d.quantity == "specificity" && d.n_from == 3).expect("specificity");
    assert!((spec.value - 0.07).abs() < 1e-12);
    assert_eq!(spec.convention, analysis::summary::Convention::Paired);
    // BnB on B is measured against base B (0.70), not the mean of both bases (0.75)
    let co = out.decomposition.iter().find(|d| d.quantity == "coadaptation" && d.n_from == 3).expect("co-adaptation");
    assert!((co.value - (0.70 - 0.72)).abs() < 1e-12, "{co:?}");
    let report = std::fs::read_to_string(&out.report).expect("report");
    assert!(report.contains("1 excluded") && report.contains("single unit"), "{report}");
    assert!(report.contains("### Findings") && report.contains("**inconclusive**"), "{report}");
    // one unit: nothing is observed, so the figure claims no effect
    let svg = std::fs::read_to_string(dir.path().join("report/figures/runs_fig2_bottom.svg")).expect("svg");
    assert!(!svg.contains("co-adaptation") && !svg.contains("specificity"), "a label for an effect the data do not show");
}

#[test]
fn cells_with_cached_networks_are_flagged() {
    let dir = tempfile::tempdir().expect("tmp");
    let runs = dir.path().join("records/runs");
    std::fs::create_dir_all(&runs).expect("mkdir");
    for (i, mut r) in rows().into_iter().enumerate() {
        r.cached = r.arm == "AnB";
        write(&runs.join(format!("{i}.parquet")), &[r], 2, "synthetic", None);
    }
    let out = analyze(&opts(vec![dir.path().into()], &dir.path().join("report"))).expect("analyze");
    let report = std::fs::read_to_string(&out.report).expect("report");
    assert!(report.contains("mix cached and uncached") && report.contains("random/AnB/n3"), "{report}");
    assert!(!report.contains("random/BnB/n3"), "BnB used no cache: {report}");
}

#[test]
fn missing_columns_other_versions_and_mixed_data_sets_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("bad.parquet");
    write(&p, &rows(), 2, "synthetic", Some("top1"));
    let e = analyze(&opts(vec![p.clone()], dir.path())).expect_err("error").to_string();
    assert!(e.contains("bad.parquet") && e.contains("column `top1` missing") && e.contains("schema version 2"), "{e}");
    write(&p, &rows(), 1, "synthetic", None);
    let e = analyze(&opts(vec![p.clone()], dir.path())).expect_err("error").to_string();
    assert!(e.contains("schema version 1") && e.contains("reads version 2"), "{e}");
    let q = dir.path().join("other.parquet");
    write(&p, &rows(), 2, "synthetic", None);
    write(&q, &rows(), 2, "cifar10", None);
    let e = analyze(&opts(vec![p.clone(), q.clone()], dir.path())).expect_err("error").to_string();
    assert!(e.contains("2 different data sets") && e.contains("--allow-mixed"), "{e}");
    let mut o = opts(vec![p, q], dir.path());
    o.allow_mixed = true;
    analyze(&o).expect("allowed when asked");
}

#[test]
fn compare_gives_per_cell_ratios_and_the_bound_of_a_free_cache() {
    let dir = tempfile::tempdir().expect("tmp");
    // B: the transfer jobs took half the CPU-seconds and one more point of top-1
    let sweep = |name: &str, cheaper: bool| {
        let root = dir.path().join(name);
        let runs = root.join("records/runs");
        std::fs::create_dir_all(&runs).expect("mkdir");
        for (i, mut r) in rows().into_iter().enumerate() {
            if cheaper && r.arm == "AnB" {
                r.cpu /= 2.0;
                r.top1 += 0.01;
            }
            write(&runs.join(format!("{i}.parquet")), &[r], 2, "synthetic", None);
        }
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
