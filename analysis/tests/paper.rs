//! The analysis, fed the authors' own results, gives the authors' numbers.

use analysis::summary::{self, SummaryRow, cell};
use analysis::{AnalyzeOptions, Origin, Quantity, Target, analyze, figures, load};
use polars::prelude::*;
use records::{ArmLabel, Family};

fn paper_rows() -> (DataFrame, Vec<SummaryRow>) {
    let all = load::paper().expect("paper").collect().expect("collect");
    let ok = summary::usable(&all).expect("ok");
    let rows = summary::summarize(&ok).expect("summary");
    (ok, rows)
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() < 0.0005 + 1e-12, "{what}: {got:.4} vs the authors' {want}");
}

#[test]
fn per_n_means_match_the_paper() {
    let (_, rows) = paper_rows();
    let base = cell(&rows, Origin::Paper, &Family::Random, ArmLabel::Base, &Target::Pooled, 0).expect("base");
    close(base.mean, 0.625, "base");
    assert_eq!(base.count, 8);
    let bnb = [0.627, 0.624, 0.621, 0.605, 0.593, 0.619, 0.623];
    let anb = [0.628, 0.624, 0.619, 0.600, 0.578, 0.581, 0.542];
    for n in 1..=7 {
        close(cell(&rows, Origin::Paper, &Family::Random, ArmLabel::BnB, &Target::Pooled, n).expect("BnB").mean, bnb[n as usize - 1], &format!("BnB n={n}"));
        let a = cell(&rows, Origin::Paper, &Family::Random, ArmLabel::AnB, &Target::Pooled, n).expect("AnB");
        close(a.mean, anb[n as usize - 1], &format!("AnB n={n}"));
        assert_eq!(a.count, 8);
    }
    close(cell(&rows, Origin::Paper, &Family::Whole, ArmLabel::Nolearn, &Target::Pooled, 3).expect("nolearn").mean, 0.001, "nolearn n=3");
    let k1300 = rows.iter().find(|r| r.arm == ArmLabel::Reduced && r.k == Some(1300)).expect("reduced 1300");
    close(k1300.mean, 0.552, "reduced k=1300");
}

#[test]
fn decomposition_matches_table_1_and_fig_3() {
    let (ok, rows) = paper_rows();
    let dec = summary::decompose(&ok, &rows).expect("decompose");
    // the authors' own (pooled) convention reproduces their numbers
    let q = |quantity: Quantity, lo: i32, hi: i32| {
        dec.iter()
            .find(|d| d.convention == summary::Convention::Pooled && d.quantity == quantity && d.n_from == lo && d.n_to == hi)
            .unwrap_or_else(|| panic!("{quantity} {lo}-{hi}"))
    };
    for ((lo, hi), (boost, vs_ft, nets)) in [((1, 7), (0.016, 0.014, 10)), ((3, 7), (0.018, 0.014, 7)), ((5, 7), (0.021, 0.017, 3))] {
        close(q(Quantity::LastingBoostVsBase, lo, hi).value, boost, &format!("AnB+ - base {lo}-{hi}"));
        assert_eq!(q(Quantity::LastingBoostVsBase, lo, hi).count, nets);
        close(q(Quantity::LastingBoostVsSelfferFt, lo, hi).value, vs_ft, &format!("AnB+ - BnB+ {lo}-{hi}"));
    }
    // the caveat of docs/PROTOCOL.md §e: against their own target-half base both gain about the same
    close(q(Quantity::VsOwnBase(ArmLabel::AnBPlus), 1, 7).value, 0.010, "AnB+ vs own base");
    close(q(Quantity::VsOwnBase(ArmLabel::BnBPlus), 1, 7).value, 0.010, "BnB+ vs own base");
    close(q(Quantity::Drop(Family::Natman), 7, 7).value, -0.250, "natman drop n=7");
    close(q(Quantity::Coadaptation, 5, 5).value, 0.032, "co-adaptation n=5");
    close(q(Quantity::Specificity, 7, 7).value, 0.081, "specificity n=7");
    close(q(Quantity::NolearnDrop, 3, 3).value, -0.575, "nolearn n=3 relative");
}

#[test]
fn plotted_series_equal_the_summary() {
    let (ok, rows) = paper_rows();
    let m = |arm: &str, n: i32| cell(&rows, Origin::Paper, &Family::Random, arm.parse().expect("a label"), &Target::Pooled, n).expect("cell").mean;
    let bottom = figures::fig2_bottom("x", &rows, Origin::Paper, &[]);
    for (label, arm) in [("selffer BnB", "BnB"), ("transfer AnB", "AnB"), ("selffer BnB+", "BnB+"), ("transfer AnB+", "AnB+")] {
        let s = bottom.panels[0].series.iter().find(|s| s.label == label).expect("series");
        assert_eq!(s.points[0], (0.0, m("base", 0)), "{label} starts at the base");
        for n in 1..=7 {
            assert_eq!(s.points[n as usize], (n as f64, m(arm, n)), "{label} n={n}");
        }
    }
    let nets = analysis::report::networks(&ok, Origin::Paper).expect("networks");
    let top = figures::fig2_top("x", &nets);
    let anb = top.panels[0].series.iter().find(|s| s.label == "transfer AnB").expect("AnB");
    for n in 1..=7 {
        let pts: Vec<f64> = anb.points.iter().filter(|p| (p.0 - (n as f64 + 0.09)).abs() < 1e-9).map(|p| p.1).collect();
        assert_eq!(pts.len(), 8, "one marker per network");
        close(pts.iter().sum::<f64>() / 8.0, m("AnB", n), "scatter mean");
    }
    let f3 = figures::fig3("x", &rows, Origin::Paper);
    let rel = &f3.panels[2].series;
    let natman = rel.iter().find(|s| s.label == "natural/man-made split").expect("natman");
    close(natman.points[7].1, -0.250, "fig3 natman relative n=7");
    let random = rel.iter().find(|s| s.label == "random features").expect("nolearn");
    close(random.points[3].1, -0.575, "fig3 random features n=3");
    let red = figures::reduced("x", &rows, Origin::Paper);
    let lin = &red.panels[0].series[0].points;
    assert_eq!(lin.len(), 12);
    assert_eq!(lin.last().expect("k=1300").0, 1300.0);
    close(lin.last().expect("k=1300").1, 0.552, "reduced plot k=1300");
}

#[test]
fn analyze_paper_writes_tables_figures_and_report() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = analyze(&AnalyzeOptions { runs: vec![], reference_paper: true, out: dir.path().into(), allow_mixed: false }).expect("analyze");
    assert_eq!(out.excluded.len(), 22, "the 22 transfer-ft folders without logs");
    for f in ["summary.parquet", "summary.csv", "decomposition.parquet", "decomposition.csv", "report.md"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    for fig in ["paper_fig2_top", "paper_fig2_bottom", "paper_fig3", "paper_reduced", "paper_nolearn", "paper_curves_bases"] {
        for ext in ["png", "svg", "csv"] {
            assert!(dir.path().join("figures").join(format!("{fig}.{ext}")).is_file(), "{fig}.{ext}");
        }
    }
    // the summary Parquet reads back with the same schema and values
    let back = LazyFrame::scan_parquet(PlRefPath::new(dir.path().join("summary.parquet").to_string_lossy().as_ref()), Default::default())
        .expect("scan")
        .collect()
        .expect("read");
    let expect = summary::summary_frame(&out.summary).expect("frame");
    assert_eq!(back.schema(), expect.schema());
    assert!(back.equals_missing(&expect));
    let header = std::fs::read_to_string(dir.path().join("summary.csv")).expect("csv");
    assert!(header.starts_with("origin,family,arm,target,n,k,mean,sd,count,units,ci_low,ci_high"));
    let report = std::fs::read_to_string(&out.report).expect("report");
    assert!(report.contains("22 excluded") && report.contains("selects on the test set"));
    // layers are counted: tick labels 0..7, never 6.5 or 7.0
    let svg = std::fs::read_to_string(dir.path().join("figures/paper_fig2_bottom.svg")).expect("svg");
    let labels: Vec<&str> = svg.split("</text>").filter_map(|t| t.rsplit('>').next()).map(str::trim).collect();
    assert!(labels.contains(&"7") && !labels.contains(&"7.0") && !labels.contains(&"6.5"), "layer ticks: {labels:?}");
    // their networks show findings 1 and 2 (intervals over their 4 splits), so the figure names them
    for note in ["2: co-adaptation", "4: specificity"] {
        assert!(svg.contains(note), "{note}");
    }
    assert!(!svg.contains("5: transfer + fine-tuning"), "finding 4 is not observed on their data");
    let found = &out.findings.iter().find(|(o, _)| *o == Origin::Paper).expect("paper findings").1;
    let verdicts: Vec<String> = found.iter().map(|f| f.verdict.to_string()).collect();
    // 3: BnB+ − base is +0.010 [+0.009, +0.011] (90%): fine-tuned selffers gained about the
    // margin, so "≈ base" is not shown; 4: AnB+ − BnB+ is −0.000: selffers given the same
    // extra training gain as much as transfers, so the boost is not transfer's
    assert_eq!(verdicts[..4], ["observed", "observed", "inconclusive", "inconclusive"], "{found:?}");
    // one natural/man-made split and one whole set: findings 5 and 6 have one unit each
    assert_eq!(verdicts[4..6], ["not testable (1 unit)", "not testable (1 unit)"], "{found:?}");
}

/// The authors' metric, recomputed from their logged test curves, gives
/// their `top1` for every network that has a log (148 of 170).
#[test]
fn mean_of_best_on_the_authors_curves_gives_their_top1() {
    let curves = load::paper_curves().expect("curves");
    let (net, top1) = (curves.column("network").expect("network").str().expect("str"), curves.column("top1").expect("top1").f64().expect("f64"));
    let mut by_net: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for i in 0..curves.height() {
        by_net.entry(net.get(i).expect("name").to_string()).or_default().push(top1.get(i).expect("value"));
    }
    let results = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(500))
        .into_reader_with_file_handle(std::io::Cursor::new(load::PAPER_RESULTS.as_bytes()))
        .finish()
        .expect("results");
    let (name, want, logged) = (
        results.column("network").expect("c").str().expect("s"),
        results.column("top1").expect("c").f64().expect("f"),
        results.column("has_log").expect("c").bool().expect("b"),
    );
    let mut checked = 0;
    for i in 0..results.height() {
        if logged.get(i) != Some(true) {
            continue;
        }
        let n = name.get(i).expect("name");
        let curve = by_net.get(n).unwrap_or_else(|| panic!("{n}: logged but no curve"));
        let got = records::mean_of_best(curve, 10);
        let want = want.get(i).expect("top1");
        // the CSV prints 7 significant digits
        assert!((got - want).abs() < 1e-6, "{n}: mean of the 10 best {got} vs the authors' {want}");
        checked += 1;
    }
    assert_eq!(checked, 148);
}

/// Their bases' curves had flattened (450,000 iterations), and the report
/// on their data states no convergence warning.
#[test]
fn the_authors_bases_converged() {
    let (ok, _) = paper_rows();
    let df =
        ok.lazy().filter(col("arm").eq(lit("base")).and(col("family").eq(lit("random")))).select([col("run_id"), col("converged")]).collect().expect("bases");
    let conv = df.column("converged").expect("c").bool().expect("b");
    assert_eq!(df.height(), 8);
    assert!((0..df.height()).all(|i| conv.get(i) == Some(true)), "{df}");
}
