//! The authors' figures, drawn with plotters into PNG and SVG, from data
//! structures built out of the summary (so a test can check that what is
//! drawn is what was computed). Each figure also writes its plotted series
//! as `<name>.csv`.
//!
//! The text font comes from the system (`fonts-dejavu-core` or any TTF
//! found under `/usr/share/fonts`), never from a committed file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{Error, Result};
use crate::findings::{Finding, observed};
use crate::summary::{SummaryRow, cell, dissimilar_families};
use crate::vocab::{Origin, Target, family_label, half_label};
use records::{ArmLabel, Family, Half};

/// Marker shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// Circle.
    Circle,
    /// Diamond.
    Diamond,
    /// Triangle.
    Triangle,
    /// Square.
    Square,
    /// Hexagon.
    Hexagon,
    /// No marker.
    None,
}

/// A plotted series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label (empty: not in the legend).
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Marker.
    pub marker: Marker,
    /// Filled marker (else white with a coloured edge).
    pub filled: bool,
    /// A black `+` over the marker (fine-tuned arms).
    pub plus: bool,
    /// Joined by a line.
    pub line: bool,
    /// Dashed line.
    pub dashed: bool,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    fn new(label: &str, color: RGBColor, marker: Marker, points: Vec<(f64, f64)>) -> Self {
        Series { label: label.into(), color, marker, filled: true, plus: false, line: true, dashed: false, points }
    }
    fn scatter(mut self) -> Self {
        self.line = false;
        self
    }
}

/// A shaded region (polygon).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Fill colour.
    pub color: RGBColor,
    /// Opacity.
    pub alpha: f64,
    /// Polygon vertices.
    pub points: Vec<(f64, f64)>,
}

/// One panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Title.
    pub title: String,
    /// x label.
    pub x_label: String,
    /// y label.
    pub y_label: String,
    /// x range.
    pub x: (f64, f64),
    /// y range.
    pub y: (f64, f64),
    /// Shaded regions (drawn first).
    pub bands: Vec<Band>,
    /// Series.
    pub series: Vec<Series>,
    /// Text notes at data coordinates.
    pub notes: Vec<(f64, f64, String)>,
    /// The x axis counts something (layers, iterations): ticks only at whole numbers.
    pub integer_x: bool,
}

impl Panel {
    /// A panel whose y range fits its series.
    pub fn new(title: &str, x_label: &str, y_label: &str, x: (f64, f64), series: Vec<Series>) -> Self {
        Panel {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x,
            y: y_range(&series),
            bands: vec![],
            series,
            notes: vec![],
            integer_x: false,
        }
    }

    /// The same panel with a counted x axis (layers, iterations): ticks
    /// labelled only at whole numbers, without decimals.
    pub fn integer_ticks(self) -> Self {
        Panel { integer_x: true, ..self }
    }
}

/// A figure of one or more panels.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File stem.
    pub name: String,
    /// Panels, row-major.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub cols: usize,
    /// Size in SVG pixels (PNG is drawn at twice this).
    pub size: (u32, u32),
}

impl Figure {
    /// A figure of one panel.
    pub fn single(name: &str, panel: Panel) -> Self {
        Figure { name: name.into(), panels: vec![panel], cols: 1, size: (900, 560) }
    }
}

const DARK_BLUE: RGBColor = RGBColor(0, 0, 160);
const LIGHT_BLUE: RGBColor = RGBColor(110, 160, 255);
const DARK_RED: RGBColor = RGBColor(200, 0, 0);
const LIGHT_RED: RGBColor = RGBColor(255, 120, 120);
const ORANGE: RGBColor = RGBColor(255, 140, 0);
const YELLOW: RGBColor = RGBColor(220, 190, 0);

fn range_of(points: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = points.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(1e-3);
    (lo - pad * span, hi + pad * span)
}

fn y_range(series: &[Series]) -> (f64, f64) {
    range_of(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 0.08)
}

/// Network-level points: (n, top1) per network of an arm.
pub type Networks<'a> = &'a [(String, String, i32, f64)];

/// Named series of (x, y) points: a training curve per run, or CKA per
/// layer per network pair.
pub type NamedSeries = (String, Vec<(f64, f64)>);

/// One cell of the random-frozen (`nolearn`) control: n, arm, and mean
/// top-1, test loss and training loss.
pub type NolearnPoint = (i32, String, f64, f64, f64);

/// Paper Fig. 2 top: one marker per network at the authors' offsets.
pub fn fig2_top(name: &str, nets: Networks<'_>) -> Figure {
    let pts = |arm: &str, dx: f64| -> Vec<(f64, f64)> {
        nets.iter().filter(|(f, a, _, _)| f == "random" && a == arm).map(|(_, _, n, v)| (*n as f64 + if arm == "base" { 0.0 } else { dx }, *v)).collect()
    };
    let mut base = Series::new("baseB", BLACK, Marker::Circle, pts("base", 0.0)).scatter();
    base.filled = false;
    let bnb = Series::new("selffer BnB", DARK_BLUE, Marker::Circle, pts("BnB", -0.25)).scatter();
    let mut bnbp = Series::new("selffer BnB+", LIGHT_BLUE, Marker::Circle, pts("BnB+", -0.09)).scatter();
    bnbp.plus = true;
    let anb = Series::new("transfer AnB", DARK_RED, Marker::Diamond, pts("AnB", 0.09)).scatter();
    let mut anbp = Series::new("transfer AnB+", LIGHT_RED, Marker::Diamond, pts("AnB+", 0.27)).scatter();
    anbp.plus = true;
    let series = vec![base, bnb, bnbp, anb, anbp];
    Figure::single(name, Panel::new("Every network (paper Fig. 2, top)", CHOPPED, TOP1_HIGHER, (-0.5, 7.5), series).integer_ticks())
}

const CHOPPED: &str = "Layer n at which network is chopped and retrained";
const TOP1_HIGHER: &str = "Top-1 accuracy (higher is better)";

fn line(rows: &[SummaryRow], origin: Origin, family: &Family, arm: ArmLabel, target: &Target, base: Option<f64>) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = base.map(|b| vec![(0.0, b)]).unwrap_or_default();
    pts.extend(crate::summary::ALL_N.filter_map(|n| cell(rows, origin, family, arm, target, n).map(|r| (n as f64, r.mean))));
    pts
}

/// The mean top-1 of a pooled family's bases (random halves, the whole set).
fn pooled_base(rows: &[SummaryRow], origin: Origin, family: &Family) -> Option<f64> {
    cell(rows, origin, family, ArmLabel::Base, &Target::Pooled, 0).map(|r| r.mean)
}

/// A pooled family's line of `arm`, from `base` at n = 0.
fn pooled_line(rows: &[SummaryRow], origin: Origin, family: &Family, arm: ArmLabel, base: Option<f64>) -> Vec<(f64, f64)> {
    line(rows, origin, family, arm, &Target::Pooled, base)
}

fn band_between(a: &[(f64, f64)], b: &[(f64, f64)], color: RGBColor, alpha: f64) -> Band {
    let mut points = a.to_vec();
    points.extend(b.iter().rev());
    Band { color, alpha, points }
}

/// Paper Fig. 2 bottom: mean lines, the three shaded regions, and the
/// authors' numbered notes, each only where `found` says its effect is
/// observed in these networks (a label never claims what the data do not
/// show).
pub fn fig2_bottom(name: &str, rows: &[SummaryRow], origin: Origin, found: &[Finding]) -> Figure {
    let base = pooled_base(rows, origin, &Family::Random);
    let b = base.unwrap_or(f64::NAN);
    let [bnb, anb, bnbp, anbp] =
        [ArmLabel::BnB, ArmLabel::AnB, ArmLabel::BnBPlus, ArmLabel::AnBPlus].map(|a| pooled_line(rows, origin, &Family::Random, a, base));
    let base_line = vec![(0.0, b), (7.0, b)];
    let bands =
        vec![band_between(&base_line, &anbp, LIGHT_RED, 0.25), band_between(&base_line, &bnb, LIGHT_BLUE, 0.35), band_between(&bnb, &anb, LIGHT_RED, 0.45)];
    let mut base_s = Series::new("", BLACK, Marker::None, base_line);
    base_s.dashed = true;
    let mut base_pt = Series::new("base", BLACK, Marker::Circle, vec![(0.0, b)]).scatter();
    base_pt.filled = false;
    let series = vec![
        base_s,
        Series::new("selffer BnB", DARK_BLUE, Marker::Circle, bnb.clone()),
        Series::new("transfer AnB", DARK_RED, Marker::Diamond, anb.clone()),
        Series::new("selffer BnB+", LIGHT_BLUE, Marker::Circle, bnbp),
        Series::new("transfer AnB+", LIGHT_RED, Marker::Diamond, anbp.clone()),
        base_pt,
    ];
    let y = y_range(&series);
    let at = |pts: &[(f64, f64)], n: f64| pts.iter().find(|p| p.0 == n).map_or(b, |p| p.1);
    let notes = [
        (1, (4.6, at(&bnb, 5.0) - 0.02 * (y.1 - y.0), "2: co-adaptation")),
        (3, (4.6, at(&bnb, 5.0) + 0.06 * (y.1 - y.0), "3: fine-tuning restores")),
        (2, (6.2, at(&anb, 7.0) + 0.02 * (y.1 - y.0), "4: specificity")),
        (4, (3.0, at(&anbp, 3.0) + 0.03 * (y.1 - y.0), "5: transfer + fine-tuning")),
    ]
    .into_iter()
    .filter(|(finding, _)| observed(found, *finding))
    .map(|(_, (x, y, text))| (x, y, text.to_string()))
    .collect();
    Figure::single(
        name,
        Panel { bands, notes, ..Panel::new("Mean of each arm (paper Fig. 2, bottom)", CHOPPED, TOP1_HIGHER, (-0.3, 7.3), series).integer_ticks() },
    )
}

/// Colour of the `i`-th dissimilar family in Fig. 3 and the CKA figure:
/// the paper's orange for the first (natural/man-made when present).
const DISSIMILAR: [RGBColor; 3] = [ORANGE, RGBColor(0, 140, 0), RGBColor(140, 60, 170)];

/// One dissimilar family's transfer curves: per target half, the AnB line
/// from that half's base (n = 0) up; and their mean.
struct TwoGroupCurves {
    family: Family,
    color: RGBColor,
    per_target: Vec<(Half, Vec<(f64, f64)>)>,
    mean: Vec<(f64, f64)>,
}

fn two_group_curves(rows: &[SummaryRow], origin: Origin) -> Vec<TwoGroupCurves> {
    dissimilar_families(rows, origin)
        .into_iter()
        .enumerate()
        .map(|(i, (family, halves))| {
            let per_target: Vec<(Half, Vec<(f64, f64)>)> = halves
                .into_iter()
                .map(|h| {
                    let t = Target::Half(h.clone());
                    let base = cell(rows, origin, &family, ArmLabel::Base, &t, 0).map(|r| r.mean);
                    (h, line(rows, origin, &family, ArmLabel::AnB, &t, base))
                })
                .collect();
            let mean = match per_target.as_slice() {
                [(_, a), (_, b)] => a.iter().filter_map(|&(x, ya)| b.iter().find(|p| p.0 == x).map(|&(_, yb)| (x, (ya + yb) / 2.0))).collect(),
                _ => vec![],
            };
            TwoGroupCurves { family, color: DISSIMILAR[i % DISSIMILAR.len()], per_target, mean }
        })
        .collect()
}

/// Paper Fig. 3: the dissimilar split absolute (natural/man-made, or each
/// split by class name), random frozen features absolute, and both
/// relative to their n = 0 value with the random-split AnB.
pub fn fig3(name: &str, rows: &[SummaryRow], origin: Origin) -> Figure {
    let dissimilar = two_group_curves(rows, origin);
    let nolearn = pooled_line(rows, origin, &Family::Whole, ArmLabel::Nolearn, pooled_base(rows, origin, &Family::Whole));
    let anb = pooled_line(rows, origin, &Family::Random, ArmLabel::AnB, pooled_base(rows, origin, &Family::Random));
    let rel = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        let b = pts.iter().find(|p| p.0 == 0.0).map_or(f64::NAN, |p| p.1);
        pts.iter().map(|&(x, y)| (x, y - b)).collect()
    };
    let markers = [Marker::Hexagon, Marker::Square];
    let mut p1 = Vec::new();
    for d in &dissimilar {
        for (i, (target, pts)) in d.per_target.iter().enumerate() {
            let other = d.per_target.iter().find(|(t, _)| t != target).map_or(String::new(), |(t, _)| format!("{} → ", half_label(t)));
            p1.push(Series::new(&format!("target {} ({other}{})", half_label(target), half_label(target)), d.color, markers[i % 2], pts.clone()));
        }
    }
    let p2 = vec![Series::new("random frozen layers 1..n (nolearn)", YELLOW, Marker::Triangle, nolearn.clone())];
    let mut zero = Series::new("", BLACK, Marker::Circle, vec![(0.0, 0.0)]).scatter();
    zero.filled = false;
    let mut p3 = vec![Series::new("random features", YELLOW, Marker::Triangle, rel(&nolearn))];
    p3.extend(dissimilar.iter().map(|d| Series::new(&format!("{} split", family_label(&d.family)), d.color, Marker::Hexagon, rel(&d.mean))));
    p3.extend([Series::new("random split AnB", DARK_RED, Marker::Diamond, rel(&anb)), zero]);
    let title = match dissimilar.as_slice() {
        [one] => format!("Dissimilar split: {}", family_label(&one.family)),
        _ => "Dissimilar splits".into(),
    };
    let panel = |title: &str, y_label: &str, series: Vec<Series>| Panel::new(title, "Layer n", y_label, (-0.2, 7.3), series).integer_ticks();
    // a grid without a dissimilar split or nolearn controls draws no empty panel
    let all = [
        panel(&title, "Top-1 accuracy", p1),
        panel("Random, untrained filters", "Top-1 accuracy", p2),
        panel("Relative to n = 0", "Relative top-1 (difference)", p3),
    ];
    let drawn = |p: &Panel| p.series.iter().any(|s| !s.label.is_empty() && !s.points.is_empty());
    let mut panels: Vec<Panel> = all.iter().filter(|p| drawn(p)).cloned().collect();
    if panels.is_empty() {
        panels.push(all[2].clone());
    }
    let cols = panels.len().max(1);
    Figure { name: name.into(), panels, cols, size: (500 * cols as u32, 500) }
}

/// Reduced data: top-1 against examples per class, linear and log–log (log10).
pub fn reduced(name: &str, rows: &[SummaryRow], origin: Origin) -> Figure {
    let mut pts: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.origin == origin && r.family == Family::Whole && r.arm == ArmLabel::Reduced)
        .filter_map(|r| r.k.map(|k| (k as f64, r.mean)))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let logs: Vec<(f64, f64)> = pts.iter().filter(|p| p.0 > 0.0 && p.1 > 0.0).map(|&(x, y)| (x.log10(), y.log10())).collect();
    let lin = vec![Series::new("reduced data", DARK_BLUE, Marker::Circle, pts.clone())];
    let log = vec![Series::new("reduced data (log10, log10)", DARK_BLUE, Marker::Circle, logs)];
    Figure {
        name: name.into(),
        panels: vec![
            Panel::new("Reduced training data", "Examples per class", "Top-1 accuracy", range_of(pts.iter().map(|p| p.0), 0.05), lin),
            Panel::new(
                "Reduced training data, log–log",
                "log10 examples per class",
                "log10 top-1 accuracy",
                range_of(log[0].points.iter().map(|p| p.0), 0.05),
                log,
            ),
        ],
        cols: 2,
        size: (1200, 480),
    }
}

/// The nolearn panel: test and train loss (mean of the authors' lowest 10
/// for the paper; last values for runs) and top-1 error against n, n = 0
/// being the whole-set base.
pub fn nolearn(name: &str, nets: &[NolearnPoint]) -> Figure {
    // (n, arm, top1, test_loss, train_loss)
    let mut rows: Vec<_> = nets.to_vec();
    rows.sort_by_key(|r| r.0);
    let pick = |f: fn(&(i32, String, f64, f64, f64)) -> f64| rows.iter().map(|r| (r.0 as f64, f(r))).collect::<Vec<_>>();
    let losses = vec![Series::new("test loss", DARK_RED, Marker::Triangle, pick(|r| r.3)), Series::new("train loss", DARK_BLUE, Marker::Circle, pick(|r| r.4))];
    let err = vec![Series::new("top-1 error", YELLOW, Marker::Triangle, pick(|r| 1.0 - r.2))];
    let panel = |title: &str, y: &str, s: Vec<Series>| Panel::new(title, "Layers 1..n random and frozen", y, (-0.2, 7.3), s).integer_ticks();
    Figure { name: name.into(), panels: vec![panel("Losses", "Loss", losses), panel("Errors", "Top-1 error", err)], cols: 2, size: (1200, 480) }
}

/// Learning curves: test top-1 against iteration, one line per run.
pub fn curves(name: &str, runs: &[NamedSeries]) -> Figure {
    let palette = [DARK_BLUE, DARK_RED, ORANGE, LIGHT_BLUE, LIGHT_RED, YELLOW, BLACK, RGBColor(0, 140, 0)];
    let series: Vec<Series> = runs
        .iter()
        .enumerate()
        .map(|(i, (id, pts))| Series::new(if runs.len() <= 10 { id } else { "" }, palette[i % palette.len()], Marker::None, pts.clone()))
        .collect();
    let x = range_of(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), 0.02);
    Figure::single(name, Panel::new("Learning curves", "Iteration", "Test top-1", x, series).integer_ticks())
}

/// A user's runs over the authors', each normalised to its own random-split base.
pub fn overlay(name: &str, rows: &[SummaryRow]) -> Figure {
    let mut series = Vec::new();
    for (origin, style) in [(Origin::Paper, (LIGHT_BLUE, LIGHT_RED)), (Origin::Runs, (DARK_BLUE, DARK_RED))] {
        let Some(base) = pooled_base(rows, origin, &Family::Random) else { continue };
        for (arm, color, marker) in [(ArmLabel::BnB, style.0, Marker::Circle), (ArmLabel::AnB, style.1, Marker::Diamond)] {
            let pts = pooled_line(rows, origin, &Family::Random, arm, Some(base)).into_iter().map(|(x, y)| (x, y / base)).collect();
            series.push(Series::new(&format!("{origin} {arm} / base"), color, marker, pts));
        }
    }
    Figure::single(
        name,
        Panel::new("Your runs over the authors' (each relative to its own base)", "Layer n", "Top-1 / base top-1", (-0.2, 7.3), series).integer_ticks(),
    )
}

fn font() -> std::result::Result<(), String> {
    static FONT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let mut candidates = vec![
            PathBuf::from("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
            PathBuf::from("/usr/share/fonts/TTF/DejaVuSans.ttf"),
            PathBuf::from("/Library/Fonts/Arial.ttf"),
        ];
        if let Ok(p) = std::env::var("TRANSFERABILITY_FONT") {
            candidates.insert(0, PathBuf::from(p));
        }
        let find_any = || -> Option<PathBuf> {
            let mut stack = vec![PathBuf::from("/usr/share/fonts")];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).ok()?.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|x| x == "ttf") {
                        return Some(p);
                    }
                }
            }
            None
        };
        let path = candidates
            .into_iter()
            .find(|p| p.is_file())
            .or_else(find_any)
            .ok_or_else(|| "no TrueType font found: install fonts-dejavu-core (Debian) or set TRANSFERABILITY_FONT".to_string())?;
        let bytes: &'static [u8] = Box::leak(std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?.into_boxed_slice());
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font("sans-serif", style, bytes).map_err(|_| format!("{}: not a usable font", path.display()))?;
        }
        Ok(())
    })
    .clone()
}

fn draw_marker<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    s: &Series,
    scale: f64,
) -> std::result::Result<(), String>
where
    DB::ErrorType: 'static,
{
    let r = (5.0 * scale) as i32;
    let fill: ShapeStyle = if s.filled { s.color.filled() } else { WHITE.filled() };
    let edge = s.color.stroke_width(scale as u32);
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    for &(x, y) in &s.points {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let poly = |k: usize, rot: f64| -> Vec<(i32, i32)> {
            (0..k)
                .map(|i| {
                    let a = rot + i as f64 * std::f64::consts::TAU / k as f64;
                    ((r as f64 * 1.2 * a.cos()) as i32, (r as f64 * 1.2 * a.sin()) as i32)
                })
                .collect()
        };
        let shape = match s.marker {
            Marker::None => continue,
            Marker::Circle => None,
            Marker::Diamond => Some(poly(4, 0.0)),
            Marker::Triangle => Some(poly(3, -std::f64::consts::FRAC_PI_2)),
            Marker::Square => Some(poly(4, std::f64::consts::FRAC_PI_4)),
            Marker::Hexagon => Some(poly(6, 0.0)),
        };
        match shape {
            None => {
                chart.draw_series(std::iter::once(Circle::new((x, y), r, fill))).map_err(err)?;
                chart.draw_series(std::iter::once(Circle::new((x, y), r, edge))).map_err(err)?;
            }
            Some(pts) => {
                let mut closed = pts.clone();
                closed.push(pts[0]);
                chart.draw_series(std::iter::once(EmptyElement::at((x, y)) + Polygon::new(pts, fill))).map_err(err)?;
                chart.draw_series(std::iter::once(EmptyElement::at((x, y)) + PathElement::new(closed, edge))).map_err(err)?;
            }
        }
        if s.plus {
            let p = r * 2 / 3;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(-p, 0), (p, 0)], BLACK.stroke_width(scale as u32))
                        + PathElement::new(vec![(0, -p), (0, p)], BLACK.stroke_width(scale as u32)),
                ))
                .map_err(err)?;
        }
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel, scale: f64) -> std::result::Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let fs = |s: f64| ("sans-serif", s * scale).into_font();
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, fs(17.0))
        .margin((10.0 * scale) as u32)
        .x_label_area_size((40.0 * scale) as u32)
        .y_label_area_size((60.0 * scale) as u32)
        .build_cartesian_2d(p.x.0..p.x.1, p.y.0..p.y.1)
        .map_err(err)?;
    let whole = |x: &f64| if (x - x.round()).abs() < 1e-9 { format!("{}", x.round() as i64) } else { String::new() };
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh().x_desc(&p.x_label).y_desc(&p.y_label).label_style(fs(12.0)).axis_desc_style(fs(13.0));
    if p.integer_x {
        // layers are counted: no tick at 0.5
        mesh.x_label_formatter(&whole);
    }
    mesh.draw().map_err(err)?;
    for b in &p.bands {
        let pts: Vec<(f64, f64)> = b.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
        if pts.len() >= 3 {
            chart.draw_series(std::iter::once(Polygon::new(pts, b.color.mix(b.alpha).filled()))).map_err(err)?;
        }
    }
    for s in &p.series {
        let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
        let width = (2.0 * scale) as u32;
        if s.line && pts.len() > 1 {
            if s.dashed {
                chart.draw_series(DashedLineSeries::new(pts.clone(), (6.0 * scale) as u32, (4.0 * scale) as u32, s.color.stroke_width(width))).map_err(err)?;
            } else {
                chart.draw_series(LineSeries::new(pts.clone(), s.color.stroke_width(width))).map_err(err)?;
            }
        }
        draw_marker(&mut chart, s, scale)?;
        if !s.label.is_empty() {
            let c = s.color;
            let r = (4.0 * scale) as i32;
            chart
                .draw_series(std::iter::once(Circle::new((f64::NAN, f64::NAN), 0, c.filled())))
                .map_err(err)?
                .label(&s.label)
                .legend(move |(x, y)| Circle::new((x, y), r, c.filled()));
        }
    }
    for (x, y, t) in &p.notes {
        chart.draw_series(std::iter::once(Text::new(t.clone(), (*x, *y), fs(12.0)))).map_err(err)?;
    }
    if p.series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(fs(12.0))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, fig: &Figure, scale: f64) -> std::result::Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let rows = fig.panels.len().div_ceil(fig.cols.max(1));
    let areas = root.split_evenly((rows, fig.cols.max(1)));
    for (p, a) in fig.panels.iter().zip(areas.iter()) {
        draw_panel(a, p, scale)?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Draw a figure to `dir/<name>.png` (2×), `dir/<name>.svg` and its data to
/// `dir/<name>.csv`; returns the PNG and SVG paths.
pub fn render(fig: &Figure, dir: &Path) -> Result<Vec<PathBuf>> {
    let fail = |m: String| Error::Figure { name: fig.name.clone(), message: m };
    font().map_err(fail)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let svg = dir.join(format!("{}.svg", fig.name));
    draw(SVGBackend::new(&svg, fig.size).into_drawing_area(), fig, 1.0).map_err(fail)?;
    let (w, h) = (fig.size.0 * 2, fig.size.1 * 2);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    draw(BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area(), fig, 2.0).map_err(fail)?;
    let png = dir.join(format!("{}.png", fig.name));
    image::RgbImage::from_raw(w, h, buf).ok_or_else(|| fail("pixel buffer size".into()))?.save(&png).map_err(|e| fail(format!("{}: {e}", png.display())))?;
    let mut csv = String::from("panel,series,x,y\n");
    for p in &fig.panels {
        for s in &p.series {
            for (x, y) in &s.points {
                csv.push_str(&format!("\"{}\",\"{}\",{x},{y}\n", p.title, s.label));
            }
        }
    }
    let data = dir.join(format!("{}.csv", fig.name));
    std::fs::write(&data, csv).map_err(|e| Error::io(&data, e))?;
    Ok(vec![png, svg])
}

/// CKA per layer between independently trained bases, next to the
/// normalised transfer curve of the same splits (AnB / base by n).
pub fn cka_vs_transfer(name: &str, pairs: &[(Family, NamedSeries)], rows: &[SummaryRow], origin: Origin) -> Figure {
    // colours as in the right panel and Fig. 3: random split red, natural/man-made orange
    let palette = [DARK_BLUE, LIGHT_BLUE, LIGHT_RED, BLACK];
    let families = dissimilar_families(rows, origin);
    let cka: Vec<Series> = pairs
        .iter()
        .enumerate()
        .map(|(i, (family, (p, pts)))| {
            let (color, marker) = if *family == Family::Random {
                (DARK_RED, Marker::Diamond)
            } else if let Some(i) = families.iter().position(|(f, _)| f == family) {
                (DISSIMILAR[i % DISSIMILAR.len()], Marker::Hexagon)
            } else {
                (palette[i % palette.len()], Marker::Circle)
            };
            Series::new(p, color, marker, pts.clone())
        })
        .collect();
    let mut curves = Vec::new();
    if let Some(base) = pooled_base(rows, origin, &Family::Random) {
        let pts = pooled_line(rows, origin, &Family::Random, ArmLabel::AnB, Some(base)).into_iter().map(|(x, y)| (x, y / base)).collect();
        curves.push(Series::new("random split AnB / base", DARK_RED, Marker::Diamond, pts));
    }
    for d in two_group_curves(rows, origin) {
        // the mean of both targets over the mean of both bases
        let Some(&(_, base)) = d.mean.iter().find(|p| p.0 == 0.0) else { continue };
        let pts = d.mean.iter().map(|&(x, y)| (x, y / base)).collect();
        curves.push(Series::new(&format!("{} AnB / base", family_label(&d.family)), d.color, Marker::Hexagon, pts));
    }
    let panel = |title: &str, x: &str, y: &str, s: Vec<Series>| Panel::new(title, x, y, (-0.2, 8.3), s).integer_ticks();
    Figure {
        name: name.into(),
        panels: vec![
            panel("Linear CKA between independently trained bases", "Layer", "CKA (debiased)", cka),
            panel("Transfer, relative to the base", "Layer n copied", "Top-1 / base", curves),
        ],
        cols: 2,
        size: (1300, 500),
    }
}
