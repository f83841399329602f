//! `analyze`: inputs → summary and decomposition tables (Parquet + CSV),
//! figures (PNG + SVG + their data as CSV) and `report.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::figures::{self, Figure, NamedSeries, NolearnPoint, render};
use crate::findings::{self, Finding, RECOVERY_MARGIN};
use crate::load;
use crate::quantity::Quantity;
use crate::summary::{self, BOOST_RANGES, Convention, DecompRow, Excluded, SummaryRow, TOP, cell, decomp_row, dissimilar_families, plural};
use crate::vocab::{ORIGIN, Origin, Target, half_label};
use records::{ArmLabel, Family, column};

/// What to analyse.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Run-record files or folders (a sweep folder, its `records/`, or `runs/`).
    pub runs: Vec<PathBuf>,
    /// Include the authors' results as a reference (always, when `runs` is empty).
    pub reference_paper: bool,
    /// Output folder.
    pub out: PathBuf,
    /// Analyse records of different data sets together.
    pub allow_mixed: bool,
}

/// What `analyze` produced.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// The summary rows.
    pub summary: Vec<SummaryRow>,
    /// The decomposition.
    pub decomposition: Vec<DecompRow>,
    /// Networks left out, and why.
    pub excluded: Vec<Excluded>,
    /// The paper's findings judged for each origin (`runs`, `paper`).
    pub findings: Vec<(Origin, Vec<Finding>)>,
    /// Networks that had not converged (origin, run id).
    pub unconverged: Vec<(Origin, String)>,
    /// Figure files (PNG and SVG).
    pub figures: Vec<PathBuf>,
    /// `report.md`.
    pub report: PathBuf,
}

fn write_frame(df: &mut DataFrame, dir: &Path, stem: &str) -> Result<()> {
    let pq = dir.join(format!("{stem}.parquet"));
    let f = std::fs::File::create(&pq).map_err(|e| Error::io(&pq, e))?;
    ParquetWriter::new(f).finish(df)?;
    let csv = dir.join(format!("{stem}.csv"));
    let f = std::fs::File::create(&csv).map_err(|e| Error::io(&csv, e))?;
    CsvWriter::new(f).finish(df)?;
    Ok(())
}

/// Network-level points of one origin: (family, arm, n, top1).
pub fn networks(ok: &DataFrame, origin: Origin) -> Result<Vec<(String, String, i32, f64)>> {
    let df = of_origin(ok, origin).select([col(column::FAMILY), col(column::ARM), col(column::N), col(column::TOP1)]).collect()?;
    let (f, a, n, t) = (df.column(column::FAMILY)?.str()?, df.column(column::ARM)?.str()?, df.column(column::N)?.i32()?, df.column(column::TOP1)?.f64()?);
    Ok((0..df.height()).map(|i| (f.get(i).unwrap_or("").into(), a.get(i).unwrap_or("").into(), n.get(i).unwrap_or(0), t.get(i).unwrap_or(f64::NAN))).collect())
}

/// The networks of one origin.
fn of_origin(ok: &DataFrame, origin: Origin) -> LazyFrame {
    ok.clone().lazy().filter(col(ORIGIN).eq(lit(origin.name())))
}

fn nolearn_points(ok: &DataFrame, origin: Origin) -> Result<Vec<NolearnPoint>> {
    let arm = |a: ArmLabel| col(column::ARM).eq(lit(a.name()));
    let df = of_origin(ok, origin)
        .filter(col(column::FAMILY).eq(lit(Family::Whole.name())).and(arm(ArmLabel::Nolearn).or(arm(ArmLabel::Base))))
        .group_by([col(column::N), col(column::ARM)])
        .agg([col(column::TOP1).mean(), col(column::TEST_LOSS).mean(), col(column::TRAIN_LOSS).mean()])
        .collect()?;
    let (n, a, t, tl, tr) = (
        df.column(column::N)?.i32()?,
        df.column(column::ARM)?.str()?,
        df.column(column::TOP1)?.f64()?,
        df.column(column::TEST_LOSS)?.f64()?,
        df.column(column::TRAIN_LOSS)?.f64()?,
    );
    Ok((0..df.height())
        .map(|i| {
            (n.get(i).unwrap_or(0), a.get(i).unwrap_or("").into(), t.get(i).unwrap_or(f64::NAN), tl.get(i).unwrap_or(f64::NAN), tr.get(i).unwrap_or(f64::NAN))
        })
        .collect())
}

fn curve_series(opts: &AnalyzeOptions, ok: &DataFrame, origin: Origin) -> Result<Vec<NamedSeries>> {
    // the bases of these runs, by their records' arm (not by reading ids)
    let bases = of_origin(ok, origin).filter(col(column::ARM).eq(lit(ArmLabel::Base.name()))).select([col(column::RUN_ID)]).collect()?;
    let ids = bases.column(column::RUN_ID)?.str()?;
    let bases: std::collections::BTreeSet<String> = (0..ids.len()).filter_map(|i| ids.get(i)).map(str::to_string).collect();
    let point = || [col(column::ITERATION).cast(DataType::Float64), col(column::TOP1)];
    let df = if origin == Origin::Paper {
        load::paper_curves()?.lazy().select([&[col(load::NETWORK).alias(column::RUN_ID)][..], &point()].concat()).collect()?
    } else {
        let mut frames = Vec::new();
        for p in &opts.runs {
            let dir =
                [records::curves_dir(&records::SweepLayout::new(p).records()), records::curves_dir(p), p.parent().map(records::curves_dir).unwrap_or_default()]
                    .into_iter()
                    .find(|d| d.is_dir());
            if let Some(d) = dir {
                let glob = d.join("*.parquet");
                let lf = LazyFrame::scan_parquet(PlRefPath::new(glob.to_string_lossy().as_ref()), ScanArgsParquet::default())?;
                frames.push(lf.select([&[col(column::RUN_ID)][..], &point()].concat()));
            }
        }
        if frames.is_empty() {
            return Ok(vec![]);
        }
        concat(frames, UnionArgs::default())?.collect()?
    };
    let df = df.sort([column::RUN_ID, column::ITERATION], SortMultipleOptions::default())?;
    let (id, it, t) = (df.column(column::RUN_ID)?.str()?, df.column(column::ITERATION)?.f64()?, df.column(column::TOP1)?.f64()?);
    let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    // learning curves of the bases (the authors' half bases, their `half*` folders)
    let is_base = |name: &str| if origin == Origin::Paper { name.starts_with("half") } else { bases.contains(name) };
    for i in 0..df.height() {
        let name = id.get(i).unwrap_or("").to_string();
        if !is_base(&name) {
            continue;
        }
        if out.last().is_none_or(|l| l.0 != name) {
            out.push((name, Vec::new()));
        }
        if let (Some(x), Some(y)) = (it.get(i), t.get(i)) {
            out.last_mut().expect("pushed").1.push((x, y));
        }
    }
    Ok(out)
}

/// CKA per layer of the base pairs (`comparison` = `bases`) from a sweep's
/// similarity table (`records::similarity_path`; `docs/DATA_DICTIONARY.md`),
/// if any, with their family, read from the typed columns. A table without
/// them (written before schema version 3) is refused, naming how to
/// rewrite it.
pub fn cka_pairs(opts: &AnalyzeOptions) -> Result<Vec<(Family, NamedSeries)>> {
    let mut out: Vec<(Family, NamedSeries)> = Vec::new();
    for p in &opts.runs {
        let f = records::similarity_path(p);
        if !f.is_file() {
            continue;
        }
        let df = LazyFrame::scan_parquet(PlRefPath::new(f.to_string_lossy().as_ref()), ScanArgsParquet::default())?
            .filter(col(column::COMPARISON).eq(lit(records::Comparison::Bases.name())))
            .select([col(column::PAIR), col(column::FAMILY), col(column::LAYER), col(column::CKA)])
            .sort([column::PAIR, column::LAYER], SortMultipleOptions::default())
            .collect()
            .map_err(|e| Error::Schema {
                path: f.clone(),
                message: format!(
                    "not a similarity table of schema version {} ({e}); run the sweep again into the same --out to rewrite it (finished jobs are kept), or remove the file",
                    records::SIMILARITY_SCHEMA_VERSION
                ),
            })?;
        let (pair, family, layer, cka) =
            (df.column(column::PAIR)?.str()?, df.column(column::FAMILY)?.str()?, df.column(column::LAYER)?.i32()?, df.column(column::CKA)?.f64()?);
        for i in 0..df.height() {
            let name = pair.get(i).unwrap_or("").to_string();
            let family: Family = family
                .get(i)
                .unwrap_or("")
                .parse()
                .map_err(|e: String| Error::Schema { path: f.clone(), message: format!("row {i}: a base pair's family: {e}") })?;
            if out.last().is_none_or(|l| l.1.0 != name) {
                out.push((family, (name, Vec::new())));
            }
            if let (Some(l), Some(c)) = (layer.get(i), cka.get(i)) {
                out.last_mut().expect("pushed").1.1.push((l as f64, c));
            }
        }
    }
    Ok(out)
}

/// The figures of one origin, built from the summary and the networks.
pub fn figures_for(opts: &AnalyzeOptions, ok: &DataFrame, rows: &[SummaryRow], found: &[Finding], origin: Origin) -> Result<Vec<Figure>> {
    let nets = networks(ok, origin)?;
    let p = |s: &str| format!("{origin}_{s}");
    let mut figs =
        vec![figures::fig2_top(&p("fig2_top"), &nets), figures::fig2_bottom(&p("fig2_bottom"), rows, origin, found), figures::fig3(&p("fig3"), rows, origin)];
    if rows.iter().any(|r| r.origin == origin && r.arm == ArmLabel::Reduced) {
        figs.push(figures::reduced(&p("reduced"), rows, origin));
    }
    let nl = nolearn_points(ok, origin)?;
    if nl.iter().any(|r| r.1 == ArmLabel::Nolearn.name()) {
        figs.push(figures::nolearn(&p("nolearn"), &nl));
    }
    if origin == Origin::Runs {
        let pairs = cka_pairs(opts)?;
        if !pairs.is_empty() {
            figs.push(figures::cka_vs_transfer(&p("cka_vs_transfer"), &pairs, rows, origin));
        }
    }
    let curves = curve_series(opts, ok, origin)?;
    if !curves.is_empty() {
        figs.push(figures::curves(&p("curves_bases"), &curves));
    }
    Ok(figs)
}

/// Run the analysis.
pub fn analyze(opts: &AnalyzeOptions) -> Result<Outputs> {
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let mut frames = Vec::new();
    if !opts.runs.is_empty() {
        let mut files = Vec::new();
        for p in &opts.runs {
            files.extend(load::record_files(p)?);
        }
        frames.push(load::runs(&files)?);
    }
    if opts.reference_paper || opts.runs.is_empty() {
        frames.push(load::paper()?);
    }
    let all = concat(frames, UnionArgs::default())?.collect()?;
    load::check_words(&all)?;
    load::check_single_dataset(&all, opts.allow_mixed)?;
    let ok = summary::usable(&all)?;
    let excluded = summary::excluded(&all)?;
    let rows = summary::summarize(&ok)?;
    let decomposition = summary::decompose(&ok, &rows)?;
    let unconverged = unconverged_networks(&ok)?;
    let declared = declared_origins(&ok)?;
    let incomplete = summary::incomplete_units(&ok)?;
    let cached = cached_cells(&ok)?;
    write_frame(&mut summary::summary_frame(&rows)?, &opts.out, "summary")?;
    write_frame(&mut summary::decomposition_frame(&decomposition)?, &opts.out, "decomposition")?;
    let origins: Vec<Origin> = Origin::ALL.into_iter().filter(|o| rows.iter().any(|r| r.origin == *o)).collect();
    let fig_dir = opts.out.join("figures");
    let found: Vec<(Origin, Vec<Finding>)> = origins.iter().map(|&o| (o, findings::judge_all(&decomposition, o))).collect();
    let mut figs = Vec::new();
    for (o, f) in &found {
        figs.extend(figures_for(opts, &ok, &rows, f, *o)?);
    }
    if origins.len() == 2 {
        figs.push(figures::overlay("overlay_runs_on_paper", &rows));
    }
    let mut files = Vec::new();
    for f in &figs {
        files.extend(render(f, &fig_dir)?);
    }
    let report = opts.out.join("report.md");
    let unjudged = of_origin(&ok, Origin::Runs).filter(col(column::CONVERGED).is_null()).collect()?.height();
    let notes: Vec<String> =
        [unjudged_note(unjudged), incomplete_note(&incomplete), cached_note(&cached), backends_note(&backends(&ok)?)].into_iter().flatten().collect();
    let mut text = report_md(&ReportParts {
        rows: &rows,
        dec: &decomposition,
        excluded: &excluded,
        figs: &figs,
        found: &found,
        unconverged: &unconverged,
        declared: &declared,
        notes: &notes,
    });
    text.push_str(&similarity_section(&cka_pairs(opts)?));
    if !opts.runs.is_empty() {
        text.push_str(&compute_section(opts, &ok)?);
    }
    text.push_str(&filters_section(opts));
    std::fs::write(&report, text).map_err(|e| Error::io(&report, e))?;
    Ok(Outputs { summary: rows, decomposition, excluded, findings: found, unconverged, figures: files, report })
}

/// The report's layer-similarity table: CKA per layer of each base pair.
fn similarity_section(pairs: &[(Family, NamedSeries)]) -> String {
    let mut text = String::new();
    if pairs.is_empty() {
        return text;
    }
    let _ = writeln!(
        text,
        "\n## Layer similarity (linear CKA, debiased)\n\n| pair | {} |\n|---|{}",
        (1..=model_layers()).map(|k| format!("L{k}")).collect::<Vec<_>>().join(" | "),
        "---|".repeat(model_layers())
    );
    for (_, (p, pts)) in pairs {
        let _ = writeln!(text, "| {p} | {} |", pts.iter().map(|(_, c)| format!("{c:.3}")).collect::<Vec<_>>().join(" | "));
    }
    text
}

/// The report's compute section: the runs' CPU-seconds, each sweep's
/// command to reproduce it, and the schedule its pilot found.
fn compute_section(opts: &AnalyzeOptions, ok: &DataFrame) -> Result<String> {
    let mut text = String::new();
    let cpu = of_origin(ok, Origin::Runs).select([col(column::CPU_SECONDS).sum()]).collect()?;
    let cpu = cpu.column(column::CPU_SECONDS)?.f64()?.get(0).unwrap_or(f64::NAN);
    let _ = writeln!(
        text,
        "\n## Compute\n\n{cpu:.0} CPU-seconds over the {} networks analysed ({:.2} CPU-hours).",
        of_origin(ok, Origin::Runs).collect()?.height(),
        cpu / 3600.0
    );
    for p in &opts.runs {
        if let Ok(cmd) = std::fs::read_to_string(records::SweepLayout::new(p).command()) {
            let _ = writeln!(text, "\nReproduce with:\n\n```sh\n{}\n```", cmd.trim());
        }
        if let Some(line) = found_schedule(p) {
            let _ = writeln!(text, "\n## Schedule found from the data\n\n{line}");
        }
    }
    Ok(text)
}

/// The report's pictures of the bases' conv1 filters, where the sweeps drew them.
fn filters_section(opts: &AnalyzeOptions) -> String {
    let mut text = String::new();
    for p in &opts.runs {
        let dir = records::SweepLayout::new(p).filters();
        let mut pngs: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        pngs.sort();
        if !pngs.is_empty() {
            let _ = writeln!(text, "\n## conv1 filters of the bases\n");
            for f in pngs {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let _ = writeln!(text, "![{name}](filters/{name})");
            }
        }
    }
    text
}

/// What a sweep's pilot found (`schedule.json`, written by
/// `transfer::plan::find`), in words: None when the sweep had a fixed
/// schedule. Read as plain JSON (the analysis does not link the trainer).
fn found_schedule(sweep: &std::path::Path) -> Option<String> {
    let file = records::SweepLayout::new(sweep).found_schedule();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    let s = &v["schedule"];
    let (end, step, evals) = (s["max_iter"].as_u64()?, s["step_size"].as_u64()?.max(1), s["evals"].as_u64()?.max(1));
    let drops: Vec<String> = (1..).map(|k| k * step).take_while(|&i| i < end).map(|i| i.to_string()).collect();
    let whole = v["whole"]["max_iter"].as_u64().map(|w| format!(" The whole set trains as many epochs: {w} iterations.")).unwrap_or_default();
    Some(format!(
        "Every half's network trained {end} iterations at batch {}, the rate {} × {} at {}, evaluated every {} iterations.{whole} \
         Found by the pilot `{}` (the grid's first base, {:.0} CPU-s) on {} validation images held out of the training set ({} trained), \
         no network of the grid trained on them{}; its validation curve is in `{}`.",
        s["batch_size"],
        s["base_lr"],
        s["gamma"],
        if drops.is_empty() { "no iteration".into() } else { drops.join(", ") },
        end / evals,
        v["pilot"].as_str()?,
        v["cost"][0].as_f64()?,
        v["images"][1],
        v["images"][0],
        if v["flat_at_end"].as_bool() == Some(false) {
            ". It stopped at the most rates allowed, before the segments around its last drop were both flat"
        } else {
            ""
        },
        file.display()
    ))
}

/// The network's layers, fc8 included: one more than the n a grid may copy.
fn model_layers() -> usize {
    records::MAX_N + 1
}

/// The note on networks whose convergence could not be judged.
fn unjudged_note(unjudged: usize) -> Option<String> {
    if unjudged == 0 {
        return None;
    }
    let note = format!(
        "## Note: {} whose convergence could not be judged\n\nTheir curves have fewer than {} evaluations, or fewer than 4 at the rate before the final drop \
         (`records::plateau`): whether they had converged is unknown, and the findings do not count them as unconverged. \
         Give the schedule more evaluations (`schedule.evals`) to have them judged.\n\n",
        plural(unjudged, "network"),
        records::MIN_EVALS
    );
    Some(note)
}

/// The note on units that lack networks other units of their family have.
fn incomplete_note(incomplete: &[(Origin, crate::paired::UnitKey, Vec<String>)]) -> Option<String> {
    if incomplete.is_empty() {
        return None;
    }
    let mut note = String::from(
        "## Note: units missing networks

Each of these units lacks networks that other units of its family have (failed, excluded or not planned): \
         its quantities rest on fewer pairs than the grid planned.\n\n",
    );
    for (o, (family, split, replicate), cells) in incomplete {
        let unit = if *family == Family::Random { format!("random split {split}") } else { format!("{family} replicate {replicate}") };
        let _ = writeln!(note, "- {o} {unit}: {}", cells.join("; "));
    }
    note.push('\n');
    Some(note)
}

/// The note on cells that mix cached and uncached networks.
fn cached_note(cached: &[String]) -> Option<String> {
    if cached.is_empty() {
        return None;
    }
    let note = format!(
        "## Note: cells that mix cached and uncached networks\n\n\
         These cells hold networks whose frozen layers came from the prefix cache (`--cache-prefix`): they saw K augmented passes of each image \
         (`cache.json`), while the bases and fine-tuned networks they are compared with saw a fresh augmentation every epoch. \
         Their differences from those networks include that difference in augmentation: {}.\n\n",
        cached.join(", ")
    );
    Some(note)
}

/// The backends the runs trained on, with the CPU path (`isa`, records of
/// schema version 3) of the CPU ones, and how many networks each; one
/// backend on several GPUs is one arithmetic (`tch-cuda:0` and
/// `tch-cuda:1` are `tch-cuda`).
fn backends(ok: &DataFrame) -> Result<Vec<(String, usize)>> {
    let df = of_origin(ok, Origin::Runs).select([col(column::BACKEND), col(column::ISA)]).collect()?;
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let (backend, isa) = (df.column(column::BACKEND)?.str()?, df.column(column::ISA)?.str()?);
    for i in 0..df.height() {
        let b = backend.get(i).unwrap_or("");
        let b = b.split(':').next().unwrap_or(b);
        // the CPU path matters where the CPU computes: flex and tch on the CPU
        let name = match isa.get(i).filter(|s| !s.is_empty() && !b.contains("cuda")) {
            Some(level) => format!("{b} ({level})"),
            None => b.to_string(),
        };
        *counts.entry(name).or_default() += 1;
    }
    // a record without a level (schema version 2) is no other path than its backend's known ones
    let known: Vec<String> = counts.keys().filter(|k| k.contains(" (")).map(|k| k.split(" (").next().unwrap_or("").to_string()).collect();
    Ok(counts.into_iter().filter(|(k, _)| k.contains(" (") || !known.contains(k)).collect())
}

/// The note on a grid whose networks trained on more than one backend.
fn backends_note(backends: &[(String, usize)]) -> Option<String> {
    if backends.len() < 2 {
        return None;
    }
    let list: Vec<String> = backends.iter().map(|(b, n)| format!("`{b}` ({n} networks)")).collect();
    Some(format!(
        "## Note: networks trained on different backends or CPU paths\n\n\
         These runs mix backends or CPU kernel levels: {}. Each follows the same protocol with different arithmetic (summation order, kernels), \
         which moves a network about as much as another seed; a difference between cells trained on different backends includes it.\n\n",
        list.join(", ")
    ))
}

/// Cells (family/arm/n) of these runs with a network that used the prefix
/// cache: each is compared with uncached bases and fine-tuned arms.
fn cached_cells(ok: &DataFrame) -> Result<Vec<String>> {
    let df = of_origin(ok, Origin::Runs)
        .filter(col(column::CACHED_PREFIX).eq(lit(true)))
        .group_by([col(column::FAMILY), col(column::ARM), col(column::N)])
        .agg([col(column::RUN_ID).count().alias("networks")])
        .sort([column::FAMILY, column::ARM, column::N], SortMultipleOptions::default())
        .collect()?;
    let (f, a, n) = (df.column(column::FAMILY)?.str()?, df.column(column::ARM)?.str()?, df.column(column::N)?.i32()?);
    Ok((0..df.height()).map(|i| format!("{}/{}/n{}", f.get(i).unwrap_or(""), a.get(i).unwrap_or(""), n.get(i).unwrap_or(0))).collect())
}

/// The known-answer controls of one origin: quantities whose true value
/// the design fixes, so that the instrument's interval can be checked
/// against it.
/// * Negative: random halves are exchangeable by construction (a uniform
///   random choice of classes), so base A − base B is 0 in expectation on
///   any data: its interval must hold 0 in about 19 grids of 20.
/// * Positive, where the data declare it (`declared`: records whose
///   `dataset` carries [`records::DECLARED_CUES_MARK`]): the natural
///   family's classes are told apart by shape alone, the man-made
///   family's by colour alone, so frozen transfer between them must lose
///   more at the top layer than between random halves:
///   `natman_minus_random_drop` at the largest n the grid has, below 0
///   with its interval excluding 0.
/// * Trained enough: BnB+ at the top n is the base's own layers trained
///   again for a whole schedule (only fc8 fresh), so a base at its plateau
///   gains nothing: `selffer_ft_vs_base` there within ±[`RECOVERY_MARGIN`]
///   (90% interval, as finding 3's equivalence). A gain says the bases
///   sat below their plateau, whatever the convergence rule said of their
///   curves, and every comparison with a base inherits it.
fn controls(s: &mut String, dec: &[DecompRow], o: Origin, declared: bool) {
    let paired = |q: Quantity| dec.iter().filter(move |d| d.origin == o && d.convention == Convention::Paired && d.quantity == q);
    let negative = paired(Quantity::RandomHalvesGap).next();
    let positive = if declared { paired(Quantity::MinusRandomDrop(Family::Natman)).filter(|d| d.n_from == d.n_to).max_by_key(|d| d.n_to) } else { None };
    let retrained = paired(Quantity::SelfferFtVsBase).filter(|d| d.n_from == d.n_to).max_by_key(|d| d.n_to);
    if negative.is_none() && positive.is_none() && retrained.is_none() {
        return;
    }
    let _ = writeln!(
        s,
        "### Known-answer controls

| control | quantity | known answer | measured (95% interval) | as the design says |
|---|---|---|---|---|"
    );
    if let Some(d) = negative {
        let verdict = match d.estimate().sign() {
            None if d.ci_low.is_some() => "yes: the interval holds 0",
            None if d.unconverged > 0 => "not meaningful: units left out for unconverged networks",
            None => "not testable: no interval",
            Some(_) => "**no**: the interval excludes 0",
        };
        let _ = writeln!(
            s,
            "| negative | random halves: base A − base B | 0 (exchangeable halves) | {} ({}) | {verdict} |",
            d.value_and_interval(),
            d.units_label(),
        );
    }
    if let Some(d) = positive {
        let verdict = match d.estimate().sign() {
            Some(false) => "yes: below 0, the interval excludes 0",
            Some(true) => "**no**: above 0",
            None if d.ci_low.is_some() => "**no**: the interval holds 0",
            None if d.unconverged > 0 => "not meaningful: units left out for unconverged networks",
            None => "not testable: no interval",
        };
        let _ = writeln!(
            s,
            "| positive | natural/man-made − random-halves transfer drop at n = {} | below 0 (declared cues: shape vs colour) | {} (Welch, {}) | {verdict} |",
            d.n_to,
            d.value_and_interval(),
            d.units_label(),
        );
    }
    if let Some(d) = retrained {
        let e = d.estimate().with_level(findings::EQUIVALENCE_LEVEL);
        let interval = match (e.ci_low, e.ci_high) {
            (Some(lo), Some(hi)) => format!("{:+.3} [{lo:+.3}, {hi:+.3}] (90%, {})", d.value, d.units_label()),
            _ => format!("{:+.3} ({})", d.value, d.units_label()),
        };
        let _ = writeln!(
            s,
            "| trained enough | BnB+ − base at n = {} (the base trained again, fc8 fresh) | 0 within ±{RECOVERY_MARGIN} (bases at their plateau) | {interval} | {} |",
            d.n_to,
            retrained_verdict(&e, d.unconverged)
        );
    }
    let _ = writeln!(s);
}

/// The "trained enough" control's verdict from BnB+ − base at the top n,
/// its interval at 90%: inside ±[`RECOVERY_MARGIN`] the bases were at
/// their plateau; a gain beyond the margin says they were not.
fn retrained_verdict(e: &crate::paired::Estimate, unconverged: usize) -> &'static str {
    match (e.ci_low, e.ci_high) {
        _ if findings::within_margin(e) => "yes: within the margin",
        (Some(lo), _) if lo > 0.0 => "**no**: the bases gain from more training (below their plateau); findings that compare with them inherit it",
        (Some(_), _) => "inconclusive: the interval reaches past the margin",
        _ if unconverged > 0 => "not meaningful: units left out for unconverged networks",
        _ => "not testable: no interval",
    }
}

/// Origins whose natural/man-made networks were all trained on data that
/// declares the split a known-answer control: their `dataset` ends in
/// [`records::DECLARED_CUES_MARK`] (a grid mixing such data with other
/// data, analysed with `--allow-mixed`, declares nothing).
fn declared_origins(ok: &DataFrame) -> Result<Vec<Origin>> {
    let df = ok.clone().lazy().filter(col(column::FAMILY).eq(lit(Family::Natman.name()))).select([col(ORIGIN), col(column::DATASET)]).collect()?;
    let (o, d) = (df.column(ORIGIN)?.str()?, df.column(column::DATASET)?.str()?);
    let mut all_marked: std::collections::BTreeMap<Origin, bool> = std::collections::BTreeMap::new();
    for i in 0..df.height() {
        let marked = d.get(i).is_some_and(|d| d.ends_with(records::DECLARED_CUES_MARK));
        *all_marked.entry(o.get(i).unwrap_or("").parse().map_err(Error::Input)?).or_insert(true) &= marked;
    }
    Ok(all_marked.into_iter().filter_map(|(o, all)| all.then_some(o)).collect())
}

/// Networks whose record says they had not converged (`records::plateau`).
fn unconverged_networks(ok: &DataFrame) -> Result<Vec<(Origin, String)>> {
    let df = ok
        .clone()
        .lazy()
        .filter(col(column::CONVERGED).eq(lit(false)))
        .select([col(ORIGIN), col(column::RUN_ID)])
        .sort([ORIGIN, column::RUN_ID], SortMultipleOptions::default())
        .collect()?;
    let (o, r) = (df.column(ORIGIN)?.str()?, df.column(column::RUN_ID)?.str()?);
    (0..df.height()).map(|i| Ok((o.get(i).unwrap_or("").parse().map_err(Error::Input)?, r.get(i).unwrap_or("").to_string()))).collect()
}

/// The authors' own convention on their data: every arm against the mean
/// of all bases, Table 1 pooled over networks. It reproduces their numbers.
fn pooled_tables(s: &mut String, rows: &[SummaryRow], dec: &[DecompRow], o: Origin) {
    let pooled = |q: &Quantity, lo: i32, hi: i32| decomp_row(dec, o, Convention::Pooled, q, lo, hi);
    let _ = writeln!(s, "### The authors' convention (pooled: every arm against the mean of all bases; no intervals)\n");
    let _ = writeln!(s, "| n | co-adaptation (base − BnB) | specificity (BnB − AnB) | AnB − base |\n|---|---|---|---|");
    for n in crate::summary::ALL_N {
        let v = |q: Quantity| pooled(&q, n, n).map_or("–".into(), |d| format!("{:+.3}", d.value));
        if cell(rows, o, &Family::Random, ArmLabel::AnB, &Target::Pooled, n).is_some() {
            let _ = writeln!(s, "| {n} | {} | {} | {} |", v(Quantity::Coadaptation), v(Quantity::Specificity), v(Quantity::TransferDrop));
        }
    }
    let _ = writeln!(s, "\n| pooled over networks (Table 1) | layers 1–7 | 3–7 | 5–7 |\n|---|---|---|---|");
    for (q, label) in [
        (Quantity::LastingBoostVsBase, "AnB+ − base"),
        (Quantity::LastingBoostVsSelfferFt, "AnB+ − BnB+"),
        (Quantity::VsOwnBase(ArmLabel::AnBPlus), "AnB+ − own target-half base"),
        (Quantity::VsOwnBase(ArmLabel::BnBPlus), "BnB+ − own target-half base"),
    ] {
        let v = |lo: i32| pooled(&q, lo, TOP).map_or("–".into(), |d| format!("{:+.3} ({})", d.value, d.count));
        let _ = writeln!(s, "| {label} | {} | {} | {} |", v(1), v(3), v(5));
    }
    let nat: Vec<String> =
        crate::summary::ALL_N.filter_map(|n| pooled(&Quantity::Drop(Family::Natman), n, n).map(|d| format!("n{n} {:+.3}", d.value))).collect();
    if !nat.is_empty() {
        let _ = writeln!(s, "\nNatural / man-made, mean of both targets minus mean of both bases: {}.", nat.join(", "));
    }
    let _ = writeln!(s);
}

fn fmt(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map_or("–".into(), |x| format!("{x:.3}"))
}

/// What the report's text is made of.
struct ReportParts<'a> {
    rows: &'a [SummaryRow],
    dec: &'a [DecompRow],
    excluded: &'a [Excluded],
    figs: &'a [Figure],
    found: &'a [(Origin, Vec<Finding>)],
    unconverged: &'a [(Origin, String)],
    declared: &'a [Origin],
    /// Notes after the title and the warnings, in order.
    notes: &'a [String],
}

fn report_md(parts: &ReportParts<'_>) -> String {
    let ReportParts { rows, dec, excluded, figs, found, unconverged, declared, notes } = *parts;
    let mut s = String::new();
    let _ = writeln!(s, "# Transferability report\n");
    if !unconverged.is_empty() {
        let _ = writeln!(s, "## Warning: {} had not converged\n", plural(unconverged.len(), "network"));
        let _ = writeln!(
            s,
            "By the rule of `records::plateau`, their test curves were still rising before the final rate drop, ended below their best \
             or fell, collapsed or scattered at the end (`plateau_gain` > 0 in their records). Every comparison with them \
             is **not meaningful**: their units are left out of the quantities that compare them (`unconverged` in `decomposition.csv`), \
             each finding's numbers say how many were, and a finding left with fewer than 2 units is marked not meaningful. \
             Train longer: raise `schedule.max_iter` (with `schedule.step_size`, the rate drop) in the sweep configuration (`--config FILE`) and run it into a new `--out`.\n"
        );
        for (o, id) in unconverged {
            let _ = writeln!(s, "- {o} `{id}`");
        }
        let _ = writeln!(s);
    }
    // after the title and the warnings, the notes: the next things a reader must know
    for note in notes {
        s.push_str(note);
    }
    let _ = writeln!(
        s,
        "Top-1 per network is the authors' metric: the mean of the 10 best test evaluations (all of them if fewer). \
         It selects on the test set, as the authors' notebook did; `top1_last` in the run records is the unselected alternative.\n\n\
         **Units and intervals.** Networks of one split share their bases, so they are not independent. For random halves the independent unit \
         is the split draw (replicates of one split are averaged within it), and intervals speak about other random splits. For a fixed split \
         (natural/man-made, a dissimilar split by name, the whole set) the unit is a replicate with its own training seeds, and intervals speak \
         about training seeds, not about other ways to split the classes. \
         Differences are *paired*: each network is compared with the network it is defined against on its own target half within its unit, \
         averaged within the unit; the interval is a 95% Student-t interval over units (none with fewer than 2: *not testable*). \
         A fixed split against random splits, or against the whole set, compares two independent sets of units: Welch's interval. \
         A difference is a finding only when its interval excludes 0, by the rules of `analysis/src/findings.rs`; \
         a comparison with any network that had not converged is not meaningful.\n"
    );
    for (o, found) in found {
        let o = *o;
        let label = if o == Origin::Paper { "The authors' networks (Yosinski et al. 2014, ILSVRC-2012)" } else { "These runs" };
        let _ = writeln!(s, "## {label}\n");
        findings_table(&mut s, found, o);
        controls(&mut s, dec, o, declared.contains(&o));
        random_decomposition(&mut s, rows, dec, o);
        dissimilar_tables(&mut s, rows, dec, o);
        other_arms(&mut s, rows, o);
        for f in figs.iter().filter(|f| f.name.starts_with(&format!("{o}_"))) {
            let _ = writeln!(s, "![{}](figures/{}.png) ([SVG](figures/{}.svg), [data](figures/{}.csv))\n", f.name, f.name, f.name, f.name);
        }
    }
    if figs.iter().any(|f| f.name == "overlay_runs_on_paper") {
        let _ = writeln!(s, "## Overlay\n\n![overlay](figures/overlay_runs_on_paper.png)\n");
    }
    let _ = writeln!(s, "## Excluded networks\n\n{} excluded (failed or without a result).\n", excluded.len());
    for e in excluded.iter().take(50) {
        let _ = writeln!(s, "- {} `{}`: {}", e.origin, e.run_id, e.reason);
    }
    let single: Vec<String> =
        rows.iter().filter(|r| r.origin == Origin::Runs && r.units < 2).map(|r| format!("{}/{}/{}/n{}", r.family, r.arm, r.target, r.n)).collect();
    if !single.is_empty() {
        let _ = writeln!(s, "\nCells of these runs from a single unit (no interval): {}.", single.join(", "));
    }
    let _ = writeln!(
        s,
        "\nTables: `summary.csv`/`.parquet` (family, arm, target, n, k, mean, sd, count, units, ci_low, ci_high), `decomposition.csv`/`.parquet` (convention `paired` or `pooled`, quantity, n_from, n_to, value, relative, count, units, ci_low, ci_high, unconverged: units left out for an unconverged network, se, df, layers: the n a row pools)."
    );
    s
}

/// The findings table of one origin.
fn findings_table(s: &mut String, found: &[Finding], o: Origin) {
    let _ = writeln!(
        s,
        "### Findings\n\n| # | the paper's finding | paper | {} | numbers (paired; value [interval at the level given]) |\n|---|---|---|---|---|",
        if o == Origin::Paper { "their networks, by split" } else { "these runs" }
    );
    for f in found {
        let _ = writeln!(
            s,
            "| {} | {} | {} | **{}** | {} |",
            f.number,
            f.claim,
            f.paper,
            f.verdict,
            if f.evidence.is_empty() { "–".into() } else { f.evidence.clone() }
        );
    }
    let _ = writeln!(s);
}

/// The random halves' decomposition, paired (and the authors' pooled one on their data).
fn random_decomposition(s: &mut String, rows: &[SummaryRow], dec: &[DecompRow], o: Origin) {
    let get = |a: ArmLabel, n: i32| cell(rows, o, &Family::Random, a, &Target::Pooled, n);
    let paired = |q: &Quantity, lo: i32, hi: i32| decomp_row(dec, o, Convention::Paired, q, lo, hi);
    if let Some(base) = get(ArmLabel::Base, 0) {
        let interval = match (base.ci_low, base.ci_high) {
            (Some(lo), Some(hi)) => format!("95% interval over units {lo:.3}–{hi:.3}"),
            _ => "no interval: fewer than 2 units".into(),
        };
        let _ = writeln!(s, "Random halves: bases {:.3} ({} networks, {}; {interval}).\n", base.mean, base.count, plural(base.units, "unit"));
        let units = dec
            .iter()
            .filter(|d| d.origin == o && d.convention == Convention::Paired && d.quantity == Quantity::Coadaptation)
            .map(|d| d.units)
            .max()
            .unwrap_or(0);
        let _ = writeln!(s, "### Decomposition (paired with each network's own target-half base; {})\n", plural(units, "unit"));
        let _ = writeln!(s, "| n | BnB | BnB+ | AnB | AnB+ | co-adaptation (base − BnB) | specificity (BnB − AnB) | AnB − base | AnB+ − base |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
        for n in crate::summary::ALL_N {
            let m = |a: ArmLabel| get(a, n).map(|r| r.mean);
            let c = |a: ArmLabel| get(a, n).map_or(0, |r| r.count);
            let q = |q: Quantity| paired(&q, n, n).map_or("–".into(), DecompRow::value_and_interval);
            if [ArmLabel::BnB, ArmLabel::BnBPlus, ArmLabel::AnB, ArmLabel::AnBPlus].into_iter().all(|a| m(a).is_none()) {
                continue;
            }
            let _ = writeln!(
                s,
                "| {n} | {} ({}) | {} ({}) | {} ({}) | {} ({}) | {} | {} | {} | {} |",
                fmt(m(ArmLabel::BnB)),
                c(ArmLabel::BnB),
                fmt(m(ArmLabel::BnBPlus)),
                c(ArmLabel::BnBPlus),
                fmt(m(ArmLabel::AnB)),
                c(ArmLabel::AnB),
                fmt(m(ArmLabel::AnBPlus)),
                c(ArmLabel::AnBPlus),
                q(Quantity::Coadaptation),
                q(Quantity::Specificity),
                q(Quantity::TransferDrop),
                q(Quantity::LastingBoostVsBase)
            );
        }
        let _ = writeln!(s, "\n(arm columns: mean top-1 over networks, networks in brackets)\n");
        let ranged = [
            (Quantity::LastingBoostVsBase, "AnB+ − own base"),
            (Quantity::LastingBoostVsSelfferFt, "AnB+ − BnB+"),
            (Quantity::SelfferFtVsBase, "BnB+ − own base"),
        ];
        // only where the grid has fine-tuned arms
        if ranged.iter().any(|(q, _)| BOOST_RANGES.iter().any(|&(lo, hi)| paired(q, lo, hi).is_some())) {
            let _ = writeln!(s, "| pooled over layers, paired within units | 1–7 | 3–7 | 5–7 |\n|---|---|---|---|");
            for (q, label) in ranged {
                let v = |lo: i32| paired(&q, lo, TOP).map_or("–".into(), DecompRow::value_and_interval);
                let _ = writeln!(s, "| {label} | {} | {} | {} |", v(1), v(3), v(5));
            }
            let _ = writeln!(s);
        }
        if o == Origin::Paper {
            pooled_tables(s, rows, dec, o);
        }
    }
}

/// A table per dissimilar split: its targets, its drop and that against the random halves'.
fn dissimilar_tables(s: &mut String, rows: &[SummaryRow], dec: &[DecompRow], o: Origin) {
    let paired = |q: &Quantity, lo: i32, hi: i32| decomp_row(dec, o, Convention::Paired, q, lo, hi);
    for (family, halves) in dissimilar_families(rows, o) {
        let (drop, worse) = (Quantity::Drop(family.clone()), Quantity::MinusRandomDrop(family.clone()));
        let names: Vec<String> = halves.iter().map(half_label).collect();
        let _ = writeln!(s, "### Dissimilar split `{family}` ({})\n", names.join(" / "));
        let heads: Vec<String> = names.iter().map(|h| format!("target {h}")).collect();
        let _ = writeln!(
            s,
            "| n | {} | AnB − own target base (paired) | that − the random-split drop |\n|---|{}---|---|",
            heads.join(" | "),
            "---|".repeat(heads.len())
        );
        let mut ns: Vec<i32> = rows.iter().filter(|r| r.origin == o && r.family == family).map(|r| r.n).collect();
        ns.sort_unstable();
        ns.dedup();
        for n in ns {
            let arm = if n == 0 { ArmLabel::Base } else { ArmLabel::AnB };
            let cells: Vec<String> = halves
                .iter()
                .map(|h| cell(rows, o, &family, arm, &Target::Half(h.clone()), n).map_or("–".into(), |r| format!("{:.3} ({})", r.mean, r.count)))
                .collect();
            let q = |q: &Quantity| paired(q, n, n).map_or("–".into(), DecompRow::value_and_interval);
            let label = if n == 0 { "0 (bases)".to_string() } else { n.to_string() };
            let _ = writeln!(s, "| {label} | {} | {} | {} |", cells.join(" | "), q(&drop), q(&worse));
        }
        let _ =
            writeln!(s, "\n(target columns: mean top-1 of the networks trained on that half, networks in brackets; AnB copies from the other half's base)\n");
    }
}

/// Random frozen layers and reduced data, as lines.
fn other_arms(s: &mut String, rows: &[SummaryRow], o: Origin) {
    let get = |a: ArmLabel, n: i32| cell(rows, o, &Family::Whole, a, &Target::Pooled, n);
    let nl: Vec<String> = crate::summary::ALL_N.filter_map(|n| get(ArmLabel::Nolearn, n).map(|r| format!("n{n} {:.3}", r.mean))).collect();
    if !nl.is_empty() {
        let _ = writeln!(s, "Random frozen layers (nolearn), whole-set base {}: {}.\n", fmt(get(ArmLabel::Base, 0).map(|r| r.mean)), nl.join(", "));
    }
    let red: Vec<String> =
        rows.iter().filter(|r| r.origin == o && r.arm == ArmLabel::Reduced).filter_map(|r| r.k.map(|k| format!("k={k} {:.3}", r.mean))).collect();
    if !red.is_empty() {
        let _ = writeln!(s, "Reduced data: {}.\n", red.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paired::Estimate;

    fn est(mean: f64, se: f64) -> Estimate {
        Estimate { mean, se, df: 3.0, units: 4, ci_low: None, ci_high: None }.with_level(0.90)
    }

    /// CKA pairs are read by their typed columns: a dissimilar split whose
    /// name begins like another family's (`random_walks`) is its own family,
    /// transfers against their source are not base pairs, and a table
    /// without the typed columns is refused rather than guessed from labels.
    #[test]
    fn cka_pairs_come_from_typed_columns() {
        let dir = tempfile::tempdir().expect("tmp");
        let row = |pair: &str, comparison, family: Family, layer: i32, cka: f64| records::SimilarityRow {
            pair: pair.into(),
            comparison,
            family: Some(family),
            split: Some("0".into()),
            replicate: Some(0),
            a: "a".into(),
            b: "b".into(),
            layer,
            layer_name: format!("L{layer}"),
            cka,
            probe: 10,
        };
        let walks = Family::dissimilar("random_walks").expect("a name");
        let rows = vec![
            row("random_walks:a-vs-b", records::Comparison::Bases, walks.clone(), 1, 0.9),
            row("random_walks:a-vs-b", records::Comparison::Bases, walks.clone(), 2, 0.8),
            row("random/0:A-vs-B", records::Comparison::Bases, Family::Random, 1, 0.7),
            row("random:source-vs-r0-transfer-A-B-n1", records::Comparison::SourceVsTransfer, Family::Random, 1, 0.99),
        ];
        records::write_similarity(&records::similarity_path(dir.path()), &rows).expect("write");
        let opts = AnalyzeOptions { runs: vec![dir.path().to_path_buf()], reference_paper: false, out: dir.path().join("out"), allow_mixed: false };
        let pairs = cka_pairs(&opts).expect("pairs");
        let got: Vec<(Family, &str, usize)> = pairs.iter().map(|(f, (p, pts))| (f.clone(), p.as_str(), pts.len())).collect();
        assert_eq!(got, vec![(Family::Random, "random/0:A-vs-B", 1), (walks, "random_walks:a-vs-b", 2)]);
        // a table of schema version 2 (no typed columns) is refused, naming the file
        let old = tempfile::tempdir().expect("tmp");
        let path = records::similarity_path(old.path());
        std::fs::create_dir_all(path.parent().expect("folder")).expect("dir");
        let mut df = polars::df!("schema_version" => [2i32], "pair" => ["random/0:A-vs-B"], "layer" => [1i32], "cka" => [0.5f64]).expect("df");
        polars::prelude::ParquetWriter::new(std::fs::File::create(&path).expect("file")).finish(&mut df).expect("parquet");
        let e = cka_pairs(&AnalyzeOptions { runs: vec![old.path().to_path_buf()], ..opts }).expect_err("an old table");
        assert!(e.to_string().contains("cka.parquet") && e.to_string().contains("schema version 3"), "{e}");
    }

    /// The trained-enough control: a gain whose interval is above 0 says
    /// the bases were below their plateau; a small one inside the margin
    /// says they were at it; a wide one says neither.
    #[test]
    fn the_trained_enough_control_reads_a_gain_as_bases_below_their_plateau() {
        assert!(retrained_verdict(&est(0.017, 0.004), 0).starts_with("**no**"), "the default's +0.017 at n = 7");
        assert!(retrained_verdict(&est(0.001, 0.002), 0).starts_with("yes"));
        assert!(retrained_verdict(&est(0.0, 0.02), 0).starts_with("inconclusive"));
        assert!(
            retrained_verdict(&Estimate { mean: 0.02, se: f64::NAN, df: f64::NAN, units: 1, ci_low: None, ci_high: None }, 2).starts_with("not meaningful")
        );
    }

    /// Runs on two backends get the note naming both with their networks;
    /// one backend, or the authors' networks beside one, get none.
    #[test]
    fn a_grid_mixing_backends_is_flagged() {
        let df = polars::df!(
            "origin" => ["runs", "runs", "runs", "paper"],
            "run_id" => ["a", "b", "c", "p"],
            "backend" => ["flex", "tch-cuda:0", "flex", "caffe"],
            "isa" => [Some("avx2"), Some("avx512"), Some("avx2"), None]
        )
        .expect("df");
        let b = backends(&df).expect("backends");
        assert_eq!(b, vec![("flex (avx2)".to_string(), 2), ("tch-cuda".to_string(), 1)]);
        let note = backends_note(&b).expect("a note");
        assert!(note.contains("`flex (avx2)` (2 networks), `tch-cuda` (1 networks)"), "{note}");
        let one = backends(&df.slice(0, 1).vstack(&df.slice(3, 1)).expect("rows")).expect("backends");
        assert!(backends_note(&one).is_none(), "{one:?}");
        // one backend on two GPUs is one backend; one CPU backend on two kernel levels is two paths
        let gpus = polars::df!("origin" => ["runs", "runs"], "run_id" => ["a", "b"], "backend" => ["tch-cuda:0", "tch-cuda:1"], "isa" => ["avx2", "avx512"])
            .expect("df");
        assert!(backends_note(&backends(&gpus).expect("backends")).is_none());
        // records of schema version 2 (no level) beside version 3's of one level: one path
        let resumed =
            polars::df!("origin" => ["runs", "runs"], "run_id" => ["a", "b"], "backend" => ["flex", "flex"], "isa" => [None, Some("avx2")]).expect("df");
        assert!(backends_note(&backends(&resumed).expect("backends")).is_none());
        let cpus = polars::df!("origin" => ["runs", "runs"], "run_id" => ["a", "b"], "backend" => ["flex", "flex"], "isa" => ["avx2", "avx512"]).expect("df");
        assert!(backends_note(&backends(&cpus).expect("backends")).expect("a note").contains("`flex (avx2)` (1 networks), `flex (avx512)`"));
    }
}
