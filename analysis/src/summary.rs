//! Per-cell statistics of top-1 and the decomposition of the transfer curve.
//!
//! Cells: `random` pools both target halves and every split (the authors'
//! lines: the n = 0 point is the mean of all bases); a dissimilar family
//! (`natman`, or a split by class name, named by its user) keeps the
//! target (`natural`, `manmade`; the user's halves); `whole` has the
//! whole-set base, `nolearn` by n and `reduced` by k. For each cell: mean and sd over networks,
//! count, and a 95% interval over independent units ([`crate::paired`]:
//! the networks of one unit are averaged first), clipped to
//! [0, 1]; none with fewer than 2 units. Failed networks and NaN metrics
//! are excluded and counted.
//!
//! The decomposition (Yosinski et al. 2014, §4.1 and Table 1) in two
//! conventions, each row labelled:
//! * `paired` (every origin; the default for user runs): each network
//!   against the network it is defined against on its own target half,
//!   averaged within a unit, a t interval over units ([`crate::paired`]);
//! * `pooled` (the authors' data only, `analyze --paper`): the authors'
//!   convention: cell means, every arm against the mean of *all* bases,
//!   Table 1 pooled over networks in layers 1–7, 3–7 and 5–7; it
//!   reproduces their numbers exactly and has no interval.

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::paired::{Estimate, Lookup, Net, Pair, Units, arm_label, nets};
use crate::quantity::Quantity;
use crate::vocab::{ORIGIN, Origin, TARGET, Target};
use records::{ArmLabel, Family, Half, Status, column};

/// One cell of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// Where its networks come from.
    pub origin: Origin,
    /// `random`, `natman`, `whole`, or a dissimilar split by name.
    pub family: Family,
    /// Arm.
    pub arm: ArmLabel,
    /// Both target halves (random halves, the whole set), or a dissimilar split's half.
    pub target: Target,
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
    /// Independent units the networks come from (random splits; a fixed split's replicates).
    pub units: usize,
    /// 95% interval over units, clipped to [0, 1] (None for fewer than 2 units).
    pub ci_low: Option<f64>,
    /// 95% interval, high end.
    pub ci_high: Option<f64>,
}

/// Networks excluded from the analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    /// Where it comes from.
    pub origin: Origin,
    /// The network.
    pub run_id: String,
    /// Why.
    pub reason: String,
}

/// Rows usable for statistics.
pub fn usable(all: &DataFrame) -> Result<DataFrame> {
    let ok = col(column::STATUS).eq(lit(Status::Ok.name())).and(col(column::TOP1).is_not_null()).and(col(column::TOP1).is_not_nan());
    Ok(all.clone().lazy().filter(ok).collect()?)
}

/// The excluded networks and why.
pub fn excluded(all: &DataFrame) -> Result<Vec<Excluded>> {
    let df = all
        .clone()
        .lazy()
        .filter(col(column::STATUS).neq(lit(Status::Ok.name())).or(col(column::TOP1).is_null()).or(col(column::TOP1).is_nan()))
        .select([col(ORIGIN), col(column::RUN_ID), col(column::STATUS), col(column::FAILURE)])
        .collect()?;
    let s = |c: &str| -> Result<StringChunked> { Ok(df.column(c)?.str()?.clone()) };
    let (o, r, s, f) = (s(ORIGIN)?, s(column::RUN_ID)?, s(column::STATUS)?, s(column::FAILURE)?);
    (0..df.height())
        .map(|i| {
            Ok(Excluded {
                origin: o.get(i).unwrap_or("").parse().map_err(Error::Input)?,
                run_id: r.get(i).unwrap_or("").into(),
                reason: match (s.get(i), f.get(i)) {
                    (Some(ok), _) if ok == Status::Ok.name() => "metric is NaN".into(),
                    (_, Some(why)) => why.into(),
                    (status, None) => format!("status {}", status.unwrap_or("unknown")),
                },
            })
        })
        .collect()
}

/// The dissimilar families of one origin's summary, each with its halves
/// (natural before man-made, as the paper; others by name).
pub fn dissimilar_families(rows: &[SummaryRow], origin: Origin) -> Vec<(Family, Vec<Half>)> {
    let mut out: Vec<(Family, Vec<Half>)> = Vec::new();
    for r in rows.iter().filter(|r| r.origin == origin) {
        let Target::Half(half) = &r.target else { continue };
        match out.iter_mut().find(|(f, _)| *f == r.family) {
            Some((_, halves)) if !halves.contains(half) => halves.push(half.clone()),
            Some(_) => {}
            None => out.push((r.family.clone(), vec![half.clone()])),
        }
    }
    for (_, halves) in &mut out {
        halves.sort_by_key(|h| (*h != Half::natural(), h.clone()));
    }
    out.sort_by(|a, b| a.0.name().cmp(b.0.name()));
    out
}

/// The summary's target column, by [`Target::of`]'s one rule: for the
/// families of `ok` that pool their targets (random halves, the whole
/// set: not [`Family::is_dissimilar`]) [`Target::POOLED`], the network's
/// target half otherwise.
fn target_expr(ok: &DataFrame) -> Result<Expr> {
    let mut pooled = Vec::new();
    for name in ok.column(column::FAMILY)?.str()?.unique()?.iter().flatten() {
        if !name.parse::<Family>().map_err(Error::Input)?.is_dissimilar() {
            pooled.push(col(column::FAMILY).eq(lit(name.to_string())));
        }
    }
    let pooled = pooled.into_iter().reduce(|a, b| a.or(b)).unwrap_or(lit(false));
    Ok(when(pooled).then(lit(Target::POOLED)).otherwise(col(column::TARGET_HALF)))
}

/// The summary table. Two networks claiming one cell of one unit are an
/// error naming both ([`Units::new`]).
pub fn summarize(ok: &DataFrame) -> Result<Vec<SummaryRow>> {
    let df = ok
        .clone()
        .lazy()
        .with_column(target_expr(ok)?.alias(TARGET))
        .group_by([col(ORIGIN), col(column::FAMILY), col(column::ARM), col(TARGET), col(column::N), col(column::K)])
        .agg([col(column::TOP1).mean().alias("mean"), col(column::TOP1).std(1).alias("sd"), col(column::TOP1).count().cast(DataType::UInt64).alias("count")])
        .sort([ORIGIN, column::FAMILY, column::ARM, TARGET, column::N, column::K], SortMultipleOptions::default())
        .collect()?;
    let s = |c: &str| -> Result<StringChunked> { Ok(df.column(c)?.str()?.clone()) };
    let (origin, family, arm, target) = (s(ORIGIN)?, s(column::FAMILY)?, s(column::ARM)?, s(TARGET)?);
    let n = df.column(column::N)?.i32()?.clone();
    let k = df.column(column::K)?.i32()?.clone();
    let mean = df.column("mean")?.f64()?.clone();
    let sd = df.column("sd")?.f64()?.clone();
    let count = df.column("count")?.u64()?.clone();
    let all = nets(ok)?;
    let by_origin = units_by_origin(&all)?;
    (0..df.height())
        .map(|i| {
            let (m, sdv, c) = (mean.get(i).unwrap_or(f64::NAN), sd.get(i).unwrap_or(f64::NAN), count.get(i).unwrap_or(0) as usize);
            let o: Origin = origin.get(i).unwrap_or("").parse().map_err(Error::Input)?;
            let f: Family = family.get(i).unwrap_or("").parse().map_err(Error::Input)?;
            let (a, nn, kk) = (arm_label(arm.get(i))?, n.get(i).unwrap_or(0), k.get(i));
            let half = || target.get(i).unwrap_or("").parse::<Half>().map_err(Error::Input);
            let t = if f.is_dissimilar() { Target::Half(half()?) } else { Target::Pooled };
            // reduced cells differ by k, which the unit lookup does not key: their networks are their units
            let est = if a == ArmLabel::Reduced {
                Estimate { mean: m, se: f64::NAN, df: f64::NAN, units: c, ci_low: None, ci_high: None }
            } else {
                let units = &by_origin.iter().find(|(name, _)| *name == o).expect("every cell's origin has networks").1;
                Estimate::over_units(&units.cell_values(&f, a, nn, |x| t.covers(x))).clipped(0.0, 1.0)
            };
            Ok(SummaryRow {
                origin: o,
                family: f,
                arm: a,
                target: t,
                n: nn,
                k: kk,
                mean: m,
                sd: if c < 2 { f64::NAN } else { sdv },
                count: c,
                units: est.units,
                ci_low: est.ci_low,
                ci_high: est.ci_high,
            })
        })
        .collect()
}

/// Look a cell up.
pub fn cell<'a>(rows: &'a [SummaryRow], origin: Origin, family: &Family, arm: ArmLabel, target: &Target, n: i32) -> Option<&'a SummaryRow> {
    rows.iter().find(|r| r.origin == origin && r.family == *family && r.arm == arm && r.target == *target && r.n == n)
}

/// How a decomposition row compares networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Convention {
    /// Each network against its own target half's base (or selffer) within
    /// a unit; mean and t interval over units.
    Paired,
    /// The authors': cell means against the mean of all bases, pooled over
    /// networks; no interval.
    Pooled,
}

impl Convention {
    /// The label in tables.
    pub fn name(self) -> &'static str {
        match self {
            Convention::Paired => "paired",
            Convention::Pooled => "pooled",
        }
    }
}

/// One quantity of the decomposition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecompRow {
    /// Where its networks come from.
    pub origin: Origin,
    /// How networks are compared.
    pub convention: Convention,
    /// What is measured, e.g. [`Quantity::Coadaptation`] (base − BnB).
    pub quantity: Quantity,
    /// First layer n of the range (equal to `n_to` for per-n quantities).
    pub n_from: i32,
    /// Last layer n of the range.
    pub n_to: i32,
    /// The difference in top-1 (absolute).
    pub value: f64,
    /// `value` divided by the base it is measured against.
    pub relative: f64,
    /// Networks behind the value (of the arm measured; pooled rows), or
    /// units (paired rows).
    pub count: usize,
    /// Independent units (paired rows; 0 for pooled ones).
    pub units: usize,
    /// 95% interval over units, low end (paired rows with ≥ 2 units).
    pub ci_low: Option<f64>,
    /// 95% interval, high end.
    pub ci_high: Option<f64>,
    /// Units whose value rests on a network that had not converged: their comparisons are not meaningful.
    pub unconverged: usize,
    /// Standard error of `value` (paired rows with ≥ 2 units; NaN otherwise).
    pub se: f64,
    /// Degrees of freedom of its t interval (NaN without one).
    pub df: f64,
    /// The layers n the value pools (one for a per-n row; those of the
    /// grid within `n_from..=n_to` for a range row).
    pub layers: Vec<i32>,
}

impl DecompRow {
    /// The row as an estimate (its interval's side of zero: [`Estimate::sign`]).
    pub fn estimate(&self) -> Estimate {
        Estimate { mean: self.value, se: self.se, df: self.df, units: self.units, ci_low: self.ci_low, ci_high: self.ci_high }
    }

    /// `n4`, or `n1–7 (n = 2, 4, 7)` for a range row: the layers it pools.
    pub fn layers_label(&self) -> String {
        if self.n_from == self.n_to {
            return format!("n{}", self.n_from);
        }
        let pooled: Vec<String> = self.layers.iter().map(i32::to_string).collect();
        format!("n{}–{} (n = {})", self.n_from, self.n_to, pooled.join(", "))
    }

    /// `3 units`, with `; 1 left out: unconverged network` where units
    /// were left out for a network that had not converged.
    pub fn units_label(&self) -> String {
        let units = plural(self.units, "unit");
        if self.unconverged > 0 { format!("{units}; {} left out: unconverged network", self.unconverged) } else { units }
    }

    /// `+0.012 [-0.003, +0.027]`, or the value alone where there is no interval.
    pub fn value_and_interval(&self) -> String {
        match (self.ci_low, self.ci_high) {
            (Some(lo), Some(hi)) => format!("{:+.3} [{lo:+.3}, {hi:+.3}]", self.value),
            _ => format!("{:+.3}", self.value),
        }
    }
}

/// The row of `quantity` over layers `lo..=hi` in one origin's
/// decomposition under `convention`, if there is one.
pub fn decomp_row<'a>(dec: &'a [DecompRow], origin: Origin, convention: Convention, quantity: &Quantity, lo: i32, hi: i32) -> Option<&'a DecompRow> {
    dec.iter().find(|d| d.origin == origin && d.convention == convention && &d.quantity == quantity && d.n_from == lo && d.n_to == hi)
}

/// `1 unit`, `3 units`.
pub fn plural(k: usize, what: &str) -> String {
    format!("{k} {what}{}", if k == 1 { "" } else { "s" })
}

/// The column of each network's own target-half base (the authors' pooled rows).
const OWN_BASE: &str = "own_base";

/// The one column [`mean_count`] averages.
const X: &str = "x";

/// The mean and count of column [`X`].
fn mean_count(lf: LazyFrame) -> Result<(f64, usize)> {
    let df = lf.select([col(X).mean().alias("m"), col(X).count().cast(DataType::UInt64).alias("c")]).collect()?;
    Ok((df.column("m")?.f64()?.get(0).unwrap_or(f64::NAN), df.column("c")?.u64()?.get(0).unwrap_or(0) as usize))
}

/// The decomposition of every origin present: paired rows for every
/// origin, and the authors' pooled rows for their own data.
pub fn decompose(ok: &DataFrame, rows: &[SummaryRow]) -> Result<Vec<DecompRow>> {
    let mut out = pooled(ok, rows)?;
    let all = nets(ok)?;
    for (o, units) in units_by_origin(&all)? {
        out.extend(paired_rows(&all, o, &units));
    }
    Ok(out)
}

/// The networks of each origin (in order) grouped into units; two
/// networks claiming one cell of one unit are an error ([`Units::new`]).
fn units_by_origin(all: &[Net]) -> Result<Vec<(Origin, Units<'_>)>> {
    let mut origins: Vec<Origin> = all.iter().map(|n| n.origin).collect();
    origins.sort_unstable();
    origins.dedup();
    origins.into_iter().map(|o| Ok((o, Units::new(all, o)?))).collect()
}

/// The authors' convention (their data only): user runs get the paired
/// convention alone.
fn pooled(ok: &DataFrame, rows: &[SummaryRow]) -> Result<Vec<DecompRow>> {
    if !rows.iter().any(|r| r.origin == Origin::Paper) {
        return Ok(Vec::new());
    }
    let mut p = PooledRows { rows, out: Vec::new() };
    if let Some((base, _)) = p.get(&Family::Random, ArmLabel::Base, &Target::Pooled, 0) {
        p.per_n(base);
        p.table1(ok, base)?;
    }
    p.natman();
    p.nolearn();
    Ok(p.out)
}

/// The authors' pooled rows, section by section: cell means against the
/// mean of all bases.
struct PooledRows<'a> {
    rows: &'a [SummaryRow],
    out: Vec<DecompRow>,
}

impl PooledRows<'_> {
    const ORIGIN: Origin = Origin::Paper;

    /// A cell's mean top-1 and its networks.
    fn get(&self, family: &Family, arm: ArmLabel, target: &Target, n: i32) -> Option<(f64, usize)> {
        cell(self.rows, Self::ORIGIN, family, arm, target, n).map(|r| (r.mean, r.count))
    }

    /// A row of `quantity` over layers `n_from..=n_to`.
    fn push(&mut self, quantity: Quantity, (n_from, n_to): (i32, i32), value: f64, base: f64, count: usize) {
        self.out.push(DecompRow {
            origin: Self::ORIGIN,
            convention: Convention::Pooled,
            quantity,
            n_from,
            n_to,
            value,
            relative: value / base,
            count,
            units: 0,
            ci_low: None,
            ci_high: None,
            unconverged: 0,
            se: f64::NAN,
            df: f64::NAN,
            layers: (n_from..=n_to).collect(),
        });
    }

    /// The random halves' decomposition per n, against the mean of all bases.
    fn per_n(&mut self, base: f64) {
        let (random, all) = (&Family::Random, &Target::Pooled);
        for n in ALL_N {
            let [bnb, anb, bnbp, anbp] = [ArmLabel::BnB, ArmLabel::AnB, ArmLabel::BnBPlus, ArmLabel::AnBPlus].map(|arm| self.get(random, arm, all, n));
            if let Some((b, c)) = bnb {
                self.push(Quantity::Coadaptation, (n, n), base - b, base, c);
            }
            if let (Some((b, _)), Some((a, c))) = (bnb, anb) {
                self.push(Quantity::Specificity, (n, n), b - a, base, c);
            }
            if let Some((a, c)) = anb {
                self.push(Quantity::TransferDrop, (n, n), a - base, base, c);
            }
            if let (Some((b, _)), Some((bp, c))) = (bnb, bnbp) {
                self.push(Quantity::FinetuneRecoverySelffer, (n, n), bp - b, base, c);
            }
            if let (Some((a, _)), Some((ap, c))) = (anb, anbp) {
                self.push(Quantity::FinetuneRecoveryTransfer, (n, n), ap - a, base, c);
            }
        }
    }

    /// Table 1: the fine-tuned arms pooled over networks in layers 1–7,
    /// 3–7 and 5–7, against the mean of all bases and against each
    /// network's own target-half base.
    fn table1(&mut self, ok: &DataFrame, base: f64) -> Result<()> {
        let networks = ok.clone().lazy().filter(col(ORIGIN).eq(lit(Self::ORIGIN.name())).and(col(column::FAMILY).eq(lit(Family::Random.name()))));
        let bases = networks.clone().filter(col(column::ARM).eq(lit(ArmLabel::Base.name()))).select([
            col(column::SPLIT),
            col(column::REPLICATE),
            col(column::TARGET_HALF),
            col(column::TOP1).alias(OWN_BASE),
        ]);
        // one base per (split, replicate, target): a replicate's networks meet their own replicate's base
        let unit_cell = || [col(column::SPLIT), col(column::REPLICATE), col(column::TARGET_HALF)];
        let with_own = networks.clone().join(bases, unit_cell(), unit_cell(), JoinArgs::new(JoinType::Left));
        for (lo, hi) in BOOST_RANGES {
            let arm_in = |arm: ArmLabel| {
                with_own.clone().filter(col(column::ARM).eq(lit(arm.name())).and(col(column::N).gt_eq(lit(lo))).and(col(column::N).lt_eq(lit(hi))))
            };
            let (ap, ca) = mean_count(arm_in(ArmLabel::AnBPlus).select([col(column::TOP1).alias(X)]))?;
            let (bp, _) = mean_count(arm_in(ArmLabel::BnBPlus).select([col(column::TOP1).alias(X)]))?;
            if ca > 0 {
                self.push(Quantity::LastingBoostVsBase, (lo, hi), ap - base, base, ca);
                self.push(Quantity::LastingBoostVsSelfferFt, (lo, hi), ap - bp, base, ca);
            }
            for arm in [ArmLabel::AnBPlus, ArmLabel::BnBPlus, ArmLabel::AnB, ArmLabel::BnB] {
                let (d, c) = mean_count(arm_in(arm).select([(col(column::TOP1) - col(OWN_BASE)).alias(X)]))?;
                let (own, _) = mean_count(arm_in(arm).select([col(OWN_BASE).alias(X)]))?;
                if c > 0 {
                    self.push(Quantity::VsOwnBase(arm), (lo, hi), d, own, c);
                }
            }
        }
        Ok(())
    }

    /// Natural / man-made: the mean of both targets minus the mean of both bases.
    fn natman(&mut self) {
        let (natman, natural, manmade) = (&Family::Natman, &Target::Half(Half::natural()), &Target::Half(Half::manmade()));
        let (Some((bn, _)), Some((bm, _))) = (self.get(natman, ArmLabel::Base, natural, 0), self.get(natman, ArmLabel::Base, manmade, 0)) else { return };
        let base = (bn + bm) / 2.0;
        for n in ALL_N {
            if let (Some((an, c1)), Some((am, c2))) = (self.get(natman, ArmLabel::AnB, natural, n), self.get(natman, ArmLabel::AnB, manmade, n)) {
                self.push(Quantity::Drop(Family::Natman), (n, n), (an + am) / 2.0 - base, base, c1 + c2);
            }
        }
    }

    /// Random frozen features relative to the whole-set base.
    fn nolearn(&mut self) {
        let (whole, all) = (&Family::Whole, &Target::Pooled);
        let Some((base, _)) = self.get(whole, ArmLabel::Base, all, 0) else { return };
        for n in ALL_N {
            if let Some((v, c)) = self.get(whole, ArmLabel::Nolearn, all, n) {
                self.push(Quantity::NolearnDrop, (n, n), v - base, base, c);
            }
        }
    }
}

/// The layers n (> 0) present in `family` among one origin's networks.
fn layers_of(nets: &[Net], origin: Origin, family: &Family) -> Vec<i32> {
    let mut ns: Vec<i32> = nets.iter().filter(|n| n.origin == origin && n.family == *family && n.n > 0).map(|n| n.n).collect();
    ns.sort_unstable();
    ns.dedup();
    ns
}

/// The ranges of layers the lasting boost is pooled over (the authors'
/// Table 1), where the grid has layers in them.
pub const BOOST_RANGES: [(i32, i32); 3] = [(1, TOP), (3, TOP), (5, TOP)];

/// The top n a grid may copy or freeze ([`records::MAX_N`]).
pub const TOP: i32 = records::MAX_N as i32;

/// Units lacking networks that other units of their family have, per
/// origin ([`Units::incomplete`]).
pub fn incomplete_units(ok: &DataFrame) -> Result<Vec<(Origin, crate::paired::UnitKey, Vec<String>)>> {
    let all = nets(ok)?;
    let mut out = Vec::new();
    for (o, units) in units_by_origin(&all)? {
        out.extend(units.incomplete().into_iter().map(|(k, cells)| (o, k, cells)));
    }
    Ok(out)
}

/// Every n a grid may copy or freeze: layers 1..n, n from 1 to
/// [`records::MAX_N`].
pub const ALL_N: std::ops::RangeInclusive<i32> = 1..=records::MAX_N as i32;

/// The middle layers (finding 1's co-adaptation, finding 6's random
/// features): neither the first layer nor the top one.
pub const MIDDLE: std::ops::RangeInclusive<i32> = 2..=records::MAX_N as i32 - 1;

/// A pair of networks on target `t` at layer n within a unit, as a value.
type PairOf = fn(&Lookup<'_, '_>, &Half, i32) -> Option<Pair>;

// each pair written once: an arm at n on target t against another arm (bases at n = 0)
fn transfer_drop(u: &Lookup<'_, '_>, t: &Half, n: i32) -> Option<Pair> {
    u.diff((ArmLabel::AnB, t, n), (ArmLabel::Base, t, 0))
}
fn specificity(u: &Lookup<'_, '_>, t: &Half, n: i32) -> Option<Pair> {
    u.diff((ArmLabel::BnB, t, n), (ArmLabel::AnB, t, n))
}
fn boost(u: &Lookup<'_, '_>, t: &Half, n: i32) -> Option<Pair> {
    u.diff((ArmLabel::AnBPlus, t, n), (ArmLabel::Base, t, 0))
}
fn selffer_ft(u: &Lookup<'_, '_>, t: &Half, n: i32) -> Option<Pair> {
    u.diff((ArmLabel::BnBPlus, t, n), (ArmLabel::Base, t, 0))
}

/// The values of keyed unit values, with their count of left-out units.
fn unkeyed(keyed: &(Vec<(crate::paired::UnitKey, f64)>, usize)) -> (Vec<f64>, usize) {
    (keyed.0.iter().map(|(_, x)| *x).collect(), keyed.1)
}

/// An estimate over units' values, with the count of units left out.
fn one((values, stale): (Vec<f64>, usize)) -> (Estimate, usize) {
    (Estimate::over_units(&values), stale)
}

/// The paired rows of one origin, section by section.
struct PairedRows<'a, 'u> {
    all: &'a [Net],
    o: Origin,
    units: &'a Units<'u>,
    out: Vec<DecompRow>,
}

impl PairedRows<'_, '_> {
    /// The mean top-1 of a family's bases.
    fn base_mean(&self, family: &Family) -> f64 {
        let v: Vec<f64> = self.all.iter().filter(|n| n.origin == self.o && n.family == *family && n.arm == ArmLabel::Base).map(|n| n.top1).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    }

    /// A row of `quantity` pooling `layers`, labelled with the range `span` (None: the layers' own).
    fn push(&mut self, quantity: Quantity, span: Option<(i32, i32)>, layers: &[i32], (e, stale): (Estimate, usize), base: f64) {
        // a quantity whose every unit was left out (unconverged networks) is still a row: its finding must say so
        if e.units == 0 && stale == 0 {
            return;
        }
        let (n_from, n_to) = span.unwrap_or((layers.first().copied().unwrap_or(0), layers.last().copied().unwrap_or(0)));
        self.out.push(DecompRow {
            origin: self.o,
            convention: Convention::Paired,
            quantity,
            n_from,
            n_to,
            value: e.mean,
            relative: e.mean / base,
            count: e.units,
            units: e.units,
            ci_low: e.ci_low,
            ci_high: e.ci_high,
            unconverged: stale,
            se: e.se,
            df: e.df,
            layers: layers.to_vec(),
        });
    }

    /// Every per-n quantity of the random halves, and nolearn's of the whole set.
    fn per_n(&mut self) {
        let (random, whole) = (Family::Random, Family::Whole);
        let per_n: [(Quantity, &Family, PairOf); 8] = [
            (Quantity::Coadaptation, &random, |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::BnB, t, n))),
            (Quantity::Specificity, &random, specificity),
            (Quantity::TransferDrop, &random, transfer_drop),
            (Quantity::FinetuneRecoverySelffer, &random, |u, t, n| u.diff((ArmLabel::BnBPlus, t, n), (ArmLabel::BnB, t, n))),
            (Quantity::FinetuneRecoveryTransfer, &random, |u, t, n| u.diff((ArmLabel::AnBPlus, t, n), (ArmLabel::AnB, t, n))),
            (Quantity::SelfferFtVsBase, &random, selffer_ft),
            (Quantity::LastingBoostVsBase, &random, boost),
            (Quantity::NolearnDrop, &whole, |u, t, n| u.diff((ArmLabel::Nolearn, t, n), (ArmLabel::Base, t, 0))),
        ];
        for (quantity, family, pair) in per_n {
            let base = self.base_mean(family);
            for n in layers_of(self.all, self.o, family) {
                let e = one(self.units.paired(family, &[n], pair));
                self.push(quantity.clone(), None, &[n], e, base);
            }
        }
    }

    /// The fine-tuned arms pooled over ranges of n within each unit, and
    /// finding 4's control: does transfer add anything beyond the same
    /// extra training without it? Per unit, AnB+ − BnB+ on each target
    /// that has both; where no target has both (the authors trained BnB+
    /// on A and AnB+ on B), each arm against its own target's base within
    /// the split: mean(AnB+ − base_T) − mean(BnB+ − base_T').
    fn ranged(&mut self, ns: &[i32], base: f64) {
        let ranged: [(Quantity, PairOf); 2] = [(Quantity::LastingBoostVsBase, boost), (Quantity::SelfferFtVsBase, selffer_ft)];
        for (lo, hi) in BOOST_RANGES {
            let in_range: Vec<i32> = ns.iter().copied().filter(|n| (lo..=hi).contains(n)).collect();
            if in_range.is_empty() {
                continue;
            }
            for (quantity, pair) in &ranged {
                let e = one(self.units.paired(&Family::Random, &in_range, *pair));
                self.push(quantity.clone(), Some((lo, hi)), &in_range, e, base);
            }
            let control = self.units.per_unit(&Family::Random, |u| {
                let same: Vec<Pair> = u
                    .targets()
                    .into_iter()
                    .flat_map(|t| in_range.iter().filter_map(move |&n| u.diff((ArmLabel::AnBPlus, t, n), (ArmLabel::BnBPlus, t, n))))
                    .collect();
                if !same.is_empty() {
                    return Pair::mean(&same);
                }
                let of = |q: PairOf| Pair::mean(&u.targets().into_iter().flat_map(|t| in_range.iter().filter_map(move |&n| q(u, t, n))).collect::<Vec<_>>());
                let (a, b) = (of(boost)?, of(selffer_ft)?);
                Some(Pair { value: a.value - b.value, converged: a.converged && b.converged })
            });
            self.push(Quantity::LastingBoostVsSelfferFt, Some((lo, hi)), &in_range, one(unkeyed(&control)), base);
        }
    }

    /// Specificity grows with n: its value at the top layer minus at the bottom one, per unit.
    fn growth(&mut self, ns: &[i32], base: f64) {
        if let (Some(&lo), Some(&hi)) = (ns.first(), ns.last())
            && lo < hi
        {
            let growth = self.units.paired(&Family::Random, &[lo], |u, t, _| {
                let (top, bottom) = (specificity(u, t, hi)?, specificity(u, t, lo)?);
                Some(Pair { value: top.value - bottom.value, converged: top.converged && bottom.converged })
            });
            self.push(Quantity::SpecificityGrowth, None, &[lo, hi], one(growth), base);
        }
    }

    /// The negative control: random halves are exchangeable, so base A −
    /// base B (first half against second, by name) has a known zero.
    fn gap(&mut self, base: f64) {
        let gap = self.units.per_unit(&Family::Random, |u| {
            let t = u.targets();
            (t.len() == 2).then(|| u.diff((ArmLabel::Base, t[0], 0), (ArmLabel::Base, t[1], 0))).flatten()
        });
        self.push(Quantity::RandomHalvesGap, None, &[0], one(unkeyed(&gap)), base);
    }

    /// Each dissimilar family (natman, or a split by class name): its
    /// transfer drop; that drop against the random-split drop (finding 5),
    /// and its transfer relative to its own bases against random frozen
    /// features relative to the whole-set base (finding 6, the paper's
    /// Fig. 3). Its units (replicates of a fixed split) and the random
    /// splits', or the whole set's, are two independent sets: Welch's interval.
    fn dissimilar(&mut self, ns: &[i32], base: f64) {
        let mut families: Vec<Family> = self.all.iter().filter(|n| n.origin == self.o && n.family.is_dissimilar()).map(|n| n.family.clone()).collect();
        families.sort_unstable_by(|a, b| a.name().cmp(b.name()));
        families.dedup();
        let relative = |arm: ArmLabel| {
            move |u: &Lookup<'_, '_>, t: &Half, n: i32| {
                let (x, b) = (u.get(arm, t, n)?, u.get(ArmLabel::Base, t, 0)?);
                Some(Pair { value: x.value / b.value, converged: x.converged && b.converged })
            }
        };
        let whole_ns = layers_of(self.all, self.o, &Family::Whole);
        for family in &families {
            let family_base = self.base_mean(family);
            let dis_ns = layers_of(self.all, self.o, family);
            for &n in &dis_ns {
                let e = one(self.units.paired(family, &[n], transfer_drop));
                self.push(Quantity::Drop(family.clone()), None, &[n], e, family_base);
            }
            for n in dis_ns.iter().copied().filter(|n| ns.contains(n)) {
                let (dis, rnd) = (self.units.paired_by_unit(family, &[n], transfer_drop), self.units.paired_by_unit(&Family::Random, &[n], transfer_drop));
                let e = (Estimate::difference(&unkeyed(&dis).0, &unkeyed(&rnd).0), dis.1 + rnd.1);
                self.push(Quantity::MinusRandomDrop(family.clone()), None, &[n], e, base);
            }
            for n in dis_ns.iter().copied().filter(|n| whole_ns.contains(n)) {
                let (dis, rnd) = (
                    self.units.paired_by_unit(family, &[n], relative(ArmLabel::AnB)),
                    self.units.paired_by_unit(&Family::Whole, &[n], relative(ArmLabel::Nolearn)),
                );
                let e = (Estimate::difference(&unkeyed(&dis).0, &unkeyed(&rnd).0), dis.1 + rnd.1);
                self.push(Quantity::MinusNolearnRelative(family.clone()), None, &[n], e, 1.0);
            }
        }
    }
}

/// The paired convention of one origin ([`crate::paired`]).
fn paired_rows(all: &[Net], o: Origin, units: &Units<'_>) -> Vec<DecompRow> {
    let mut rows = PairedRows { all, o, units, out: Vec::new() };
    rows.per_n();
    let (ns, base) = (layers_of(all, o, &Family::Random), rows.base_mean(&Family::Random));
    rows.ranged(&ns, base);
    rows.growth(&ns, base);
    rows.gap(base);
    rows.dissimilar(&ns, base);
    rows.out
}

/// The summary as a DataFrame (columns of `summary.csv`).
pub fn summary_frame(rows: &[SummaryRow]) -> Result<DataFrame> {
    Ok(df!(
        ORIGIN => rows.iter().map(|r| r.origin.name()).collect::<Vec<_>>(),
        column::FAMILY => rows.iter().map(|r| r.family.name()).collect::<Vec<_>>(),
        column::ARM => rows.iter().map(|r| r.arm.name()).collect::<Vec<_>>(),
        TARGET => rows.iter().map(|r| r.target.to_string()).collect::<Vec<_>>(),
        column::N => rows.iter().map(|r| r.n).collect::<Vec<_>>(),
        column::K => rows.iter().map(|r| r.k).collect::<Vec<_>>(),
        "mean" => rows.iter().map(|r| r.mean).collect::<Vec<_>>(),
        "sd" => rows.iter().map(|r| r.sd).collect::<Vec<_>>(),
        "count" => rows.iter().map(|r| r.count as u64).collect::<Vec<_>>(),
        "units" => rows.iter().map(|r| r.units as u64).collect::<Vec<_>>(),
        "ci_low" => rows.iter().map(|r| r.ci_low).collect::<Vec<_>>(),
        "ci_high" => rows.iter().map(|r| r.ci_high).collect::<Vec<_>>(),
    )?)
}

/// The decomposition as a DataFrame (columns of `decomposition.csv`).
pub fn decomposition_frame(rows: &[DecompRow]) -> Result<DataFrame> {
    Ok(df!(
        ORIGIN => rows.iter().map(|r| r.origin.name()).collect::<Vec<_>>(),
        "convention" => rows.iter().map(|r| r.convention.name()).collect::<Vec<_>>(),
        "quantity" => rows.iter().map(|r| r.quantity.to_string()).collect::<Vec<_>>(),
        "n_from" => rows.iter().map(|r| r.n_from).collect::<Vec<_>>(),
        "n_to" => rows.iter().map(|r| r.n_to).collect::<Vec<_>>(),
        "value" => rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        "relative" => rows.iter().map(|r| r.relative).collect::<Vec<_>>(),
        "count" => rows.iter().map(|r| r.count as u64).collect::<Vec<_>>(),
        "units" => rows.iter().map(|r| r.units as u64).collect::<Vec<_>>(),
        "ci_low" => rows.iter().map(|r| r.ci_low).collect::<Vec<_>>(),
        "ci_high" => rows.iter().map(|r| r.ci_high).collect::<Vec<_>>(),
        "unconverged" => rows.iter().map(|r| r.unconverged as u64).collect::<Vec<_>>(),
        "se" => rows.iter().map(|r| r.se).collect::<Vec<_>>(),
        "df" => rows.iter().map(|r| r.df).collect::<Vec<_>>(),
        "layers" => rows.iter().map(|r| r.layers.iter().map(i32::to_string).collect::<Vec<_>>().join(",")).collect::<Vec<_>>(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random halves and the whole set pool their targets; every
    /// dissimilar split keeps its halves, and the report lists those
    /// splits by name (natural before man-made within natman).
    #[test]
    fn dissimilar_families_keep_their_halves_in_name_order() {
        let row = |family: &str, target: &str| {
            let family: Family = family.parse().expect("a family");
            let half: Half = target.parse().expect("a half");
            SummaryRow {
                origin: Origin::Runs,
                target: Target::of(&family, &half),
                family,
                arm: ArmLabel::Base,
                n: 0,
                k: None,
                mean: 0.5,
                sd: f64::NAN,
                count: 1,
                units: 1,
                ci_low: None,
                ci_high: None,
            }
        };
        let rows = [
            row("random", "A"),
            row("whole", "whole"),
            row("rooms", "outdoor"),
            row("natman", "manmade"),
            row("natman", "natural"),
            row("rooms", "indoor"),
            row("clothing_vs_footwear", "footwear"),
            row("clothing_vs_footwear", "clothing"),
        ];
        assert_eq!((&rows[0].target, &rows[1].target), (&Target::Pooled, &Target::Pooled), "random halves and the whole set pool their targets");
        let fams = dissimilar_families(&rows, Origin::Runs);
        let names: Vec<(String, Vec<String>)> = fams.iter().map(|(f, h)| (f.to_string(), h.iter().map(Half::to_string).collect())).collect();
        let want = [("clothing_vs_footwear", ["clothing", "footwear"]), ("natman", ["natural", "manmade"]), ("rooms", ["indoor", "outdoor"])];
        assert_eq!(names, want.map(|(f, h)| (f.to_string(), h.map(str::to_string).to_vec())).to_vec());
        assert!(dissimilar_families(&rows, Origin::Paper).is_empty());
    }
}
