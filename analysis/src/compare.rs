//! Two sweeps of the same grid side by side: per cell (family, arm, target,
//! n, fine-tuned) the mean top-1 over replicates and the CPU-seconds per job
//! of each, their difference and ratio, and the totals. Used to check that a
//! cheaper way of running the grid (the frozen-prefix cache, another
//! backend) gives the same answers, and what it saves.
//!
//! Given the CPU-seconds B's jobs spent building a frozen-prefix cache (by
//! run id; the caller reads them, e.g. with `transfer::cache::sweep_cache_infos`,
//! so this crate still reads only run records), the table adds their mean per
//! cell and a **bound**: A's CPU-seconds over B's without the build, i.e. the
//! ratio a cache that cost nothing to build would reach. It is what the
//! layers above the cache (and the job's fixed costs) allow at most.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;

use crate::error::Result;
use crate::load;
use records::column;

/// One cell of the grid in both sweeps.
#[derive(Debug, Clone, PartialEq)]
pub struct CellPair {
    /// `family/arm/target/n` (with `+` for fine-tuned).
    pub cell: String,
    /// Finished networks in A and in B.
    pub count: [usize; 2],
    /// Mean top-1 (the authors' metric) in A and in B.
    pub top1: [f64; 2],
    /// Mean CPU-seconds per job in A and in B.
    pub cpu: [f64; 2],
    /// Mean CPU-seconds B's jobs spent building a prefix cache (NaN where
    /// none was built).
    pub cache_build: f64,
}

impl CellPair {
    /// B − A in percentage points.
    pub fn top1_diff_pp(&self) -> f64 {
        100.0 * (self.top1[1] - self.top1[0])
    }

    /// A's CPU-seconds over B's.
    pub fn cpu_ratio(&self) -> f64 {
        self.cpu[0] / self.cpu[1]
    }

    /// A's CPU-seconds over B's less B's cache build: the most any prefix
    /// cache could save in this cell (NaN without a cache).
    pub fn free_cache_bound(&self) -> f64 {
        self.cpu[0] / (self.cpu[1] - self.cache_build)
    }
}

/// The comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Cells present in both, in order.
    pub cells: Vec<CellPair>,
    /// Total CPU-seconds of every finished job in A and in B.
    pub total_cpu: [f64; 2],
}

/// What identifies a cell of the grid.
const KEYS: [&str; 5] = [column::FAMILY, column::ARM, column::TARGET_HALF, column::N, column::FINE_TUNED];

/// The column of a cell's mean CPU-seconds per job.
const CPU_MEAN: &str = "cpu_seconds_mean";

/// What the join appends to B's columns.
const B_SUFFIX: &str = "_b";

/// The column of each job's cache build CPU-seconds (B's only).
const CACHE_BUILD: &str = "cache_build";

/// Per cell of the usable runs under `path`: networks, mean top-1, mean
/// CPU-seconds and mean cache build CPU-seconds (from `builds`, by run id);
/// and the total CPU-seconds.
fn cells(path: &Path, builds: &BTreeMap<String, f64>) -> Result<(LazyFrame, f64)> {
    let all = load::runs(&load::record_files(path)?)?.collect()?;
    load::check_words(&all)?;
    let mut ok = crate::summary::usable(&all)?;
    let cpu = ok.column(column::CPU_SECONDS)?.f64()?;
    let total = (0..cpu.len()).filter_map(|i| cpu.get(i)).filter(|c| c.is_finite()).sum();
    let build: Float64Chunked = ok.column(column::RUN_ID)?.str()?.iter().map(|id| id.and_then(|id| builds.get(id).copied())).collect();
    ok.with_column(build.with_name(CACHE_BUILD.into()).into_column())?;
    let cells = ok.lazy().group_by(KEYS.map(col)).agg([
        col(column::TOP1).count().cast(DataType::UInt64).alias("count"),
        col(column::TOP1).mean().alias(column::TOP1),
        col(column::CPU_SECONDS).mean().alias(CPU_MEAN),
        col(CACHE_BUILD).mean().alias(CACHE_BUILD),
    ]);
    Ok((cells, total))
}

/// Compare the run records under `a` with those under `b` (files or folders,
/// as `analyze --runs` takes them); `b_cache_builds` holds the CPU-seconds
/// each of B's jobs spent building a prefix cache, by run id (empty: none).
pub fn compare_sweeps(a: &Path, b: &Path, b_cache_builds: &BTreeMap<String, f64>) -> Result<Comparison> {
    let (ca, ta) = cells(a, &BTreeMap::new())?;
    let (cb, tb) = cells(b, b_cache_builds)?;
    let both = ca
        .join(cb, KEYS.map(col), KEYS.map(col), JoinArgs::new(JoinType::Inner).with_suffix(Some(B_SUFFIX.into())))
        .sort(KEYS, SortMultipleOptions::default())
        .collect()?;
    let s = |c: &str| -> Result<StringChunked> { Ok(both.column(c)?.str()?.clone()) };
    let f = |c: &str| -> Result<Float64Chunked> { Ok(both.column(c)?.f64()?.clone()) };
    let u = |c: &str| -> Result<UInt64Chunked> { Ok(both.column(c)?.u64()?.clone()) };
    let (family, arm, target) = (s(column::FAMILY)?, s(column::ARM)?, s(column::TARGET_HALF)?);
    let (n, ft) = (both.column(column::N)?.i32()?.clone(), both.column(column::FINE_TUNED)?.bool()?.clone());
    let b = |c: &str| format!("{c}{B_SUFFIX}");
    let (count, count_b, top1, top1_b, cpu, cpu_b) = (u("count")?, u(&b("count"))?, f(column::TOP1)?, f(&b(column::TOP1))?, f(CPU_MEAN)?, f(&b(CPU_MEAN))?);
    let build_b = f(&b(CACHE_BUILD))?;
    let cells = (0..both.height())
        .map(|i| {
            let arm = arm.get(i).unwrap_or("");
            let plus = if ft.get(i).unwrap_or(false) && !arm.ends_with('+') { "+" } else { "" };
            CellPair {
                cell: format!("{}/{arm}{plus}/{}/n{}", family.get(i).unwrap_or(""), target.get(i).unwrap_or(""), n.get(i).unwrap_or(0)),
                count: [count.get(i).unwrap_or(0) as usize, count_b.get(i).unwrap_or(0) as usize],
                top1: [top1.get(i).unwrap_or(f64::NAN), top1_b.get(i).unwrap_or(f64::NAN)],
                cpu: [cpu.get(i).unwrap_or(f64::NAN), cpu_b.get(i).unwrap_or(f64::NAN)],
                cache_build: build_b.get(i).unwrap_or(f64::NAN),
            }
        })
        .collect();
    Ok(Comparison { cells, total_cpu: [ta, tb] })
}

impl Comparison {
    /// A plain-text table; the cache columns only where B built caches.
    pub fn render(&self, names: [&str; 2]) -> String {
        let mut s = String::new();
        let [a, b] = names;
        let cached = self.cells.iter().any(|c| c.cache_build.is_finite());
        let _ = write!(
            s,
            "{:<28} {:>5} {:>9} {:>9} {:>8} {:>11} {:>11} {:>7}",
            "cell",
            "nets",
            &format!("top1 {a}"),
            &format!("top1 {b}"),
            "diff pp",
            &format!("CPU-s {a}"),
            &format!("CPU-s {b}"),
            "ratio"
        );
        let _ = writeln!(s, "{}", if cached { format!(" {:>11} {:>7}", "cache build", "bound") } else { String::new() });
        for c in &self.cells {
            let _ = write!(
                s,
                "{:<28} {:>5} {:>9.4} {:>9.4} {:>+8.2} {:>11.1} {:>11.1} {:>6.2}x",
                c.cell,
                format!("{}/{}", c.count[0], c.count[1]),
                c.top1[0],
                c.top1[1],
                c.top1_diff_pp(),
                c.cpu[0],
                c.cpu[1],
                c.cpu_ratio()
            );
            let extra = match (cached, c.cache_build.is_finite()) {
                (true, true) => format!(" {:>11.2} {:>6.2}x", c.cache_build, c.free_cache_bound()),
                (true, false) => format!(" {:>11} {:>7}", "-", "-"),
                (false, _) => String::new(),
            };
            let _ = writeln!(s, "{extra}");
        }
        if cached {
            let _ = writeln!(s, "bound: the ratio with {b}'s cache build taken out, the most any prefix cache could save");
        }
        let _ = writeln!(s, "total CPU-seconds: {a} {:.1}, {b} {:.1} ({:.2}x)", self.total_cpu[0], self.total_cpu[1], self.total_cpu[0] / self.total_cpu[1]);
        s
    }
}
