//! Per-cell statistics of top-1 and the decomposition of the transfer curve.
//!
//! Cells: `random` pools both target halves and every split (the authors'
//! lines: the n = 0 point is the mean of all bases); `natman` keeps the
//! target (`natural`, `manmade`); `whole` has the whole-set base, `nolearn`
//! by n and `reduced` by k. For each cell: mean, sd, count and a 95%
//! Student-t interval (none for a single network). Failed networks and NaN
//! metrics are excluded and counted.
//!
//! The decomposition (Yosinski et al. 2014, §4.1 and Table 1):
//! co-adaptation loss = base − BnB, specificity = BnB − AnB, fine-tuning
//! recovery BnB+ − BnB and AnB+ − AnB, lasting boost AnB+ − base and
//! AnB+ − BnB+ pooled over *networks* in layers 1–7, 3–7 and 5–7 (as the
//! authors' Table 1), and the same relative to each network's own
//! target-half base.

use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::stats::ci95;

/// One cell of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// `runs` or `paper`.
    pub origin: String,
    /// `random`, `natman`, `whole`.
    pub family: String,
    /// Arm.
    pub arm: String,
    /// `all` (pooled), `natural`, `manmade`.
    pub target: String,
    /// Layers copied (0 for bases).
    pub n: i32,
    /// Examples per class (reduced).
    pub k: Option<i32>,
    /// Mean top-1.
    pub mean: f64,
    /// Sample standard deviation (NaN for one network).
    pub sd: f64,
    /// Networks.
    pub count: usize,
    /// 95% interval, low end (None for one network).
    pub ci_low: Option<f64>,
    /// 95% interval, high end.
    pub ci_high: Option<f64>,
}

/// Networks excluded from the analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    /// `runs` or `paper`.
    pub origin: String,
    /// The network.
    pub run_id: String,
    /// Why.
    pub reason: String,
}

/// Rows usable for statistics.
pub fn usable(all: &DataFrame) -> Result<DataFrame> {
    Ok(all
        .clone()
        .lazy()
        .filter(col("status").eq(lit("ok")).and(col("top1").is_not_null()).and(col("top1").is_not_nan()))
        .collect()?)
}

/// The excluded networks and why.
pub fn excluded(all: &DataFrame) -> Result<Vec<Excluded>> {
    let df = all
        .clone()
        .lazy()
        .filter(col("status").neq(lit("ok")).or(col("top1").is_null()).or(col("top1").is_nan()))
        .select([col("origin"), col("run_id"), col("status"), col("failure")])
        .collect()?;
    let (o, r, s, f) = (df.column("origin")?.str()?, df.column("run_id")?.str()?, df.column("status")?.str()?, df.column("failure")?.str()?);
    Ok((0..df.height())
        .map(|i| Excluded {
            origin: o.get(i).unwrap_or("").into(),
            run_id: r.get(i).unwrap_or("").into(),
            reason: match (s.get(i), f.get(i)) {
                (Some("ok"), _) => "metric is NaN".into(),
                (_, Some(why)) => why.into(),
                (status, None) => format!("status {}", status.unwrap_or("unknown")),
            },
        })
        .collect())
}

fn target_expr() -> Expr {
    when(col("family").eq(lit("natman"))).then(col("target_half")).otherwise(lit("all"))
}

/// The summary table.
pub fn summarize(ok: &DataFrame) -> Result<Vec<SummaryRow>> {
    let df = ok
        .clone()
        .lazy()
        .with_column(target_expr().alias("target"))
        .group_by([col("origin"), col("family"), col("arm"), col("target"), col("n"), col("k")])
        .agg([
            col("top1").mean().alias("mean"),
            col("top1").std(1).alias("sd"),
            col("top1").count().cast(DataType::UInt64).alias("count"),
        ])
        .sort(["origin", "family", "arm", "target", "n", "k"], SortMultipleOptions::default())
        .collect()?;
    let s = |c: &str| -> Result<StringChunked> { Ok(df.column(c)?.str()?.clone()) };
    let (origin, family, arm, target) = (s("origin")?, s("family")?, s("arm")?, s("target")?);
    let n = df.column("n")?.i32()?.clone();
    let k = df.column("k")?.i32()?.clone();
    let mean = df.column("mean")?.f64()?.clone();
    let sd = df.column("sd")?.f64()?.clone();
    let count = df.column("count")?.u64()?.clone();
    Ok((0..df.height())
        .map(|i| {
            let (m, sdv, c) = (mean.get(i).unwrap_or(f64::NAN), sd.get(i).unwrap_or(f64::NAN), count.get(i).unwrap_or(0) as usize);
            let ci = ci95(m, sdv, c);
            SummaryRow {
                origin: origin.get(i).unwrap_or("").into(),
                family: family.get(i).unwrap_or("").into(),
                arm: arm.get(i).unwrap_or("").into(),
                target: target.get(i).unwrap_or("").into(),
                n: n.get(i).unwrap_or(0),
                k: k.get(i),
                mean: m,
                sd: if c < 2 { f64::NAN } else { sdv },
                count: c,
                ci_low: ci.map(|x| x.0),
                ci_high: ci.map(|x| x.1),
            }
        })
        .collect())
}

/// Look a cell up.
pub fn cell<'a>(rows: &'a [SummaryRow], origin: &str, family: &str, arm: &str, target: &str, n: i32) -> Option<&'a SummaryRow> {
    rows.iter().find(|r| r.origin == origin && r.family == family && r.arm == arm && r.target == target && r.n == n)
}

/// One quantity of the decomposition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecompRow {
    /// `runs` or `paper`.
    pub origin: String,
    /// What is measured, e.g. `coadaptation` (base − BnB).
    pub quantity: String,
    /// First layer n of the range (equal to `n_to` for per-n quantities).
    pub n_from: i32,
    /// Last layer n of the range.
    pub n_to: i32,
    /// The difference in top-1 (absolute).
    pub value: f64,
    /// `value` divided by the base it is measured against.
    pub relative: f64,
    /// Networks behind the value (of the arm measured).
    pub count: usize,
}

fn mean_count(lf: LazyFrame) -> Result<(f64, usize)> {
    let df = lf.select([col("x").mean().alias("m"), col("x").count().cast(DataType::UInt64).alias("c")]).collect()?;
    Ok((df.column("m")?.f64()?.get(0).unwrap_or(f64::NAN), df.column("c")?.u64()?.get(0).unwrap_or(0) as usize))
}

/// The decomposition of every origin present.
pub fn decompose(ok: &DataFrame, rows: &[SummaryRow]) -> Result<Vec<DecompRow>> {
    let mut out = Vec::new();
    let origins: Vec<String> = {
        let mut v: Vec<String> = rows.iter().map(|r| r.origin.clone()).collect();
        v.dedup();
        v.sort();
        v.dedup();
        v
    };
    for origin in &origins {
        let o = origin.as_str();
        let get = |family: &str, arm: &str, target: &str, n: i32| cell(rows, o, family, arm, target, n).map(|r| (r.mean, r.count));
        let mut push = |quantity: &str, n_from: i32, n_to: i32, value: f64, base: f64, count: usize| {
            out.push(DecompRow { origin: o.into(), quantity: quantity.into(), n_from, n_to, value, relative: value / base, count });
        };
        // random-split decomposition per n
        if let Some((base, _)) = get("random", "base", "all", 0) {
            for n in 1..=7 {
                let bnb = get("random", "BnB", "all", n);
                let anb = get("random", "AnB", "all", n);
                let bnbp = get("random", "BnB+", "all", n);
                let anbp = get("random", "AnB+", "all", n);
                if let Some((b, c)) = bnb {
                    push("coadaptation", n, n, base - b, base, c);
                }
                if let (Some((b, _)), Some((a, c))) = (bnb, anb) {
                    push("specificity", n, n, b - a, base, c);
                }
                if let Some((a, c)) = anb {
                    push("transfer_drop", n, n, a - base, base, c);
                }
                if let (Some((b, _)), Some((bp, c))) = (bnb, bnbp) {
                    push("finetune_recovery_selffer", n, n, bp - b, base, c);
                }
                if let (Some((a, _)), Some((ap, c))) = (anb, anbp) {
                    push("finetune_recovery_transfer", n, n, ap - a, base, c);
                }
            }
            // pooled over networks, and against each network's own target-half base
            let random = ok.clone().lazy().filter(col("origin").eq(lit(o)).and(col("family").eq(lit("random"))));
            let bases = random
                .clone()
                .filter(col("arm").eq(lit("base")))
                .select([col("split"), col("target_half"), col("top1").alias("own_base")]);
            let with_own = random.clone().join(
                bases,
                [col("split"), col("target_half")],
                [col("split"), col("target_half")],
                JoinArgs::new(JoinType::Left),
            );
            for (lo, hi) in [(1, 7), (3, 7), (5, 7)] {
                let arm_in = |arm: &str| {
                    with_own.clone().filter(col("arm").eq(lit(arm)).and(col("n").gt_eq(lit(lo))).and(col("n").lt_eq(lit(hi))))
                };
                let (ap, ca) = mean_count(arm_in("AnB+").select([col("top1").alias("x")]))?;
                let (bp, _) = mean_count(arm_in("BnB+").select([col("top1").alias("x")]))?;
                if ca > 0 {
                    push("lasting_boost_vs_base", lo, hi, ap - base, base, ca);
                    push("lasting_boost_vs_selffer_ft", lo, hi, ap - bp, base, ca);
                }
                for arm in ["AnB+", "BnB+", "AnB", "BnB"] {
                    let (d, c) = mean_count(arm_in(arm).select([(col("top1") - col("own_base")).alias("x")]))?;
                    let (own, _) = mean_count(arm_in(arm).select([col("own_base").alias("x")]))?;
                    if c > 0 {
                        push(&format!("{arm}_vs_own_base"), lo, hi, d, own, c);
                    }
                }
            }
        }
        // natural / man-made: mean of both targets minus mean of both bases
        if let (Some((bn, _)), Some((bm, _))) = (get("natman", "base", "natural", 0), get("natman", "base", "manmade", 0)) {
            let base = (bn + bm) / 2.0;
            for n in 1..=7 {
                if let (Some((an, c1)), Some((am, c2))) = (get("natman", "AnB", "natural", n), get("natman", "AnB", "manmade", n)) {
                    push("natman_drop", n, n, (an + am) / 2.0 - base, base, c1 + c2);
                }
            }
        }
        // random frozen features relative to the whole-set base
        if let Some((base, _)) = get("whole", "base", "all", 0) {
            for n in 1..=7 {
                if let Some((v, c)) = get("whole", "nolearn", "all", n) {
                    push("nolearn_drop", n, n, v - base, base, c);
                }
            }
        }
    }
    Ok(out)
}

/// The summary as a DataFrame (columns of `summary.csv`).
pub fn summary_frame(rows: &[SummaryRow]) -> Result<DataFrame> {
    Ok(df!(
        "origin" => rows.iter().map(|r| r.origin.clone()).collect::<Vec<_>>(),
        "family" => rows.iter().map(|r| r.family.clone()).collect::<Vec<_>>(),
        "arm" => rows.iter().map(|r| r.arm.clone()).collect::<Vec<_>>(),
        "target" => rows.iter().map(|r| r.target.clone()).collect::<Vec<_>>(),
        "n" => rows.iter().map(|r| r.n).collect::<Vec<_>>(),
        "k" => rows.iter().map(|r| r.k).collect::<Vec<_>>(),
        "mean" => rows.iter().map(|r| r.mean).collect::<Vec<_>>(),
        "sd" => rows.iter().map(|r| r.sd).collect::<Vec<_>>(),
        "count" => rows.iter().map(|r| r.count as u64).collect::<Vec<_>>(),
        "ci_low" => rows.iter().map(|r| r.ci_low).collect::<Vec<_>>(),
        "ci_high" => rows.iter().map(|r| r.ci_high).collect::<Vec<_>>(),
    )?)
}

/// The decomposition as a DataFrame (columns of `decomposition.csv`).
pub fn decomposition_frame(rows: &[DecompRow]) -> Result<DataFrame> {
    Ok(df!(
        "origin" => rows.iter().map(|r| r.origin.clone()).collect::<Vec<_>>(),
        "quantity" => rows.iter().map(|r| r.quantity.clone()).collect::<Vec<_>>(),
        "n_from" => rows.iter().map(|r| r.n_from).collect::<Vec<_>>(),
        "n_to" => rows.iter().map(|r| r.n_to).collect::<Vec<_>>(),
        "value" => rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        "relative" => rows.iter().map(|r| r.relative).collect::<Vec<_>>(),
        "count" => rows.iter().map(|r| r.count as u64).collect::<Vec<_>>(),
    )?)
}
