//! Two sweeps of the same grid side by side: per cell (family, arm, target,
//! n, fine-tuned) the mean top-1 over replicates and the CPU-seconds per job
//! of each, their difference and ratio, and the totals. Used to check that a
//! cheaper way of running the grid (the frozen-prefix cache, another
//! backend) gives the same answers, and what it saves.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;


use crate::error::Result;
use crate::load;

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
}

/// The comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Cells present in both, in order.
    pub cells: Vec<CellPair>,
    /// Total CPU-seconds of every finished job in A and in B.
    pub total_cpu: [f64; 2],
}

type Cells = BTreeMap<(String, String, String, i32, bool), (usize, f64, f64)>;

fn cells(path: &Path) -> Result<(Cells, f64)> {
    let all = load::runs(&load::record_files(path)?)?.collect()?;
    let ok = crate::summary::usable(&all)?;
    let h = ok.height();
    let s = |c: &str| -> Result<Vec<String>> {
        let ca = ok.column(c)?.str()?;
        Ok((0..h).map(|i| ca.get(i).unwrap_or("").to_string()).collect())
    };
    let f = |c: &str| -> Result<Vec<f64>> {
        let ca = ok.column(c)?.f64()?;
        Ok((0..h).map(|i| ca.get(i).unwrap_or(f64::NAN)).collect())
    };
    let (family, arm, target) = (s("family")?, s("arm")?, s("target_half")?);
    let (nc, fc) = (ok.column("n")?.i32()?, ok.column("fine_tuned")?.bool()?);
    let n: Vec<i32> = (0..h).map(|i| nc.get(i).unwrap_or(0)).collect();
    let ft: Vec<bool> = (0..h).map(|i| fc.get(i).unwrap_or(false)).collect();
    let (top1, cpu) = (f("top1")?, f("cpu_seconds")?);
    let mut out = Cells::new();
    for i in 0..ok.height() {
        let e = out.entry((family[i].clone(), arm[i].clone(), target[i].clone(), n[i], ft[i])).or_insert((0, 0.0, 0.0));
        e.0 += 1;
        e.1 += top1[i];
        e.2 += cpu[i];
    }
    let total = cpu.iter().filter(|c| c.is_finite()).sum();
    Ok((out, total))
}

/// Compare the run records under `a` with those under `b` (files or folders,
/// as `analyze --runs` takes them).
pub fn compare_sweeps(a: &Path, b: &Path) -> Result<Comparison> {
    let (ca, ta) = cells(a)?;
    let (cb, tb) = cells(b)?;
    let cells = ca
        .iter()
        .filter_map(|(key, &(na, sa, ca_))| {
            let &(nb, sb, cb_) = cb.get(key)?;
            let (family, arm, target, n, ft) = key;
            Some(CellPair {
                cell: format!("{family}/{arm}{}/{target}/n{n}", if *ft && !arm.ends_with('+') { "+" } else { "" }),
                count: [na, nb],
                top1: [sa / na as f64, sb / nb as f64],
                cpu: [ca_ / na as f64, cb_ / nb as f64],
            })
        })
        .collect();
    Ok(Comparison { cells, total_cpu: [ta, tb] })
}

impl Comparison {
    /// A plain-text table.
    pub fn render(&self, names: [&str; 2]) -> String {
        let mut s = String::new();
        let [a, b] = names;
        let _ = writeln!(
            s,
            "{:<28} {:>5} {:>9} {:>9} {:>8} {:>11} {:>11} {:>7}",
            "cell", "nets", &format!("top1 {a}"), &format!("top1 {b}"), "diff pp", &format!("CPU-s {a}"), &format!("CPU-s {b}"), "ratio"
        );
        for c in &self.cells {
            let _ = writeln!(
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
        }
        let _ = writeln!(
            s,
            "total CPU-seconds: {a} {:.1}, {b} {:.1} ({:.2}x)",
            self.total_cpu[0],
            self.total_cpu[1],
            self.total_cpu[0] / self.total_cpu[1]
        );
        s
    }
}
