//! The sweep configuration file's schema (JSON): the grid's parts (random
//! halves, natural/man-made, dissimilar splits by name, the whole set), the
//! solver, and reading a file with its errors named by line and column.

use std::path::Path;

use data_split::DataSpec;
use data_split::dissimilar::DissimilarSpec;
use model::ModelPreset;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::{Half, Outputs, Preprocess, Schedule};

/// Random-halves part of a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomGrid {
    /// Split seeds (one split each).
    pub seeds: Vec<u64>,
    /// Fraction of classes in half A.
    #[serde(default = "half")]
    pub fraction: f64,
    /// numpy-compatible halves.
    #[serde(default = "yes")]
    pub numpy: bool,
    /// Halves to train selffer networks on (`["B"]`: BnB; `["A", "B"]`: both).
    pub selffer: Vec<Half>,
    /// Transfers as `[source, target]` pairs (`[["A", "B"]]`: AnB).
    pub transfer: Vec<[Half; 2]>,
    /// Frozen variants.
    #[serde(default = "yes")]
    pub frozen: bool,
    /// Fine-tuned (`+`) variants.
    #[serde(default = "yes")]
    pub fine_tune: bool,
}

impl RandomGrid {
    /// The paper's random-halves grid on the numpy-drawn splits of `seeds`:
    /// halves of half the classes, selffer BnB on B and transfer AnB from A
    /// to B, each frozen and fine-tuned.
    pub fn paper(seeds: Vec<u64>) -> Self {
        RandomGrid { seeds, fraction: 0.5, numpy: true, selffer: vec![Half::b()], transfer: vec![[Half::a(), Half::b()]], frozen: true, fine_tune: true }
    }
}

/// How a dissimilar split's transfers are trained, whatever named its
/// classes (a natural/man-made preset or class names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoGroupTransfers {
    /// Transfer both ways (first half to second and back).
    #[serde(default = "yes")]
    pub both_directions: bool,
    /// Also fine-tuned transfers.
    #[serde(default)]
    pub fine_tune: bool,
    /// Layers n of its transfers (default: the configuration's `layers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<usize>>,
    /// Replicates of this fixed split (default: the configuration's
    /// `replicates`). A fixed split's units are its replicates, so
    /// finding 5 needs at least 2 (the default has `DEFAULT_UNITS`, 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicates: Option<usize>,
}

impl Default for TwoGroupTransfers {
    fn default() -> Self {
        TwoGroupTransfers { both_directions: true, fine_tune: false, layers: None, replicates: None }
    }
}

/// Read a JSON object as the transfers' keys ([`TwoGroupTransfers`]) and
/// the rest as `T`; both refuse unknown keys (serde's `flatten` would let
/// typos through).
fn with_transfers<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> std::result::Result<(T, TwoGroupTransfers), D::Error> {
    use serde::de::Error as _;
    let mut map = serde_json::Map::deserialize(d)?;
    let own: serde_json::Map<String, serde_json::Value> =
        ["both_directions", "fine_tune", "layers", "replicates"].into_iter().filter_map(|k| map.remove(k).map(|v| (k.to_string(), v))).collect();
    let transfers = serde_json::from_value(serde_json::Value::Object(own)).map_err(D::Error::custom)?;
    let rest = serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| D::Error::custom(format!("{e} (or one of the transfers' keys: both_directions, fine_tune, layers, replicates)")))?;
    Ok((rest, transfers))
}

/// Natural / man-made part of a grid: `{"preset": "cifar10"}` and the
/// transfers' keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NatmanGrid {
    /// Preset (`ilsvrc12`, `cifar10`, `cifar100`, `synthetic`).
    pub preset: String,
    /// Its transfers.
    #[serde(flatten)]
    pub transfers: TwoGroupTransfers,
}

impl<'de> Deserialize<'de> for NatmanGrid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Preset {
            preset: String,
        }
        let (p, transfers): (Preset, _) = with_transfers(d)?;
        Ok(NatmanGrid { preset: p.preset, transfers })
    }
}

/// A dissimilar split of the data set's own classes, by name: the paper's
/// natural/man-made experiment for any data set. The split's fields
/// (`name`, `halves`, `a`, `b`, `left_out`: [`DissimilarSpec`]) and the
/// transfers' keys ([`TwoGroupTransfers`]), in one object:
///
/// ```json
/// "dissimilar": { "name": "clothing_vs_footwear", "halves": ["clothing", "footwear"],
///                 "a": ["t-shirt", "trouser", "pullover", "dress", "coat", "shirt"],
///                 "b": "footwear.txt", "left_out": ["bag"], "layers": [4, 7] }
/// ```
///
/// A list of such objects gives several dissimilar splits. Unknown keys
/// are refused, as everywhere in a configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DissimilarGrid {
    /// The split.
    #[serde(flatten)]
    pub split: DissimilarSpec,
    /// Its transfers.
    #[serde(flatten)]
    pub transfers: TwoGroupTransfers,
}

impl DissimilarGrid {
    /// The split of a file holding one dissimilar grid (as `split
    /// dissimilar --spec` takes; its transfers' keys are allowed and
    /// unused), its class files read relative to the file's folder.
    pub fn read_split(path: &Path) -> Result<DissimilarSpec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let grid: DissimilarGrid = serde_json::from_str(&text).map_err(|e| {
            Error::Plan(format!(
                "{}:{}:{}: not a dissimilar split (name, halves, a, b, left_out; both_directions, fine_tune, layers): {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        Ok(grid.split.inlined(path.parent().unwrap_or(Path::new(".")))?)
    }
}

impl<'de> Deserialize<'de> for DissimilarGrid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (split, transfers) = with_transfers(d)?;
        Ok(DissimilarGrid { split, transfers })
    }
}

/// One object or a list of them.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<DissimilarGrid>, D::Error> {
    // by the value's shape, so that an error is the grid's own, not serde's "no variant matched"
    let v = serde_json::Value::deserialize(d)?;
    let grids = if v.is_array() { serde_json::from_value(v) } else { serde_json::from_value(v).map(|g| vec![g]) };
    grids.map_err(serde::de::Error::custom)
}

/// Whole-set part of a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WholeGrid {
    /// Random-frozen controls for every n in `layers` (needs no base; the base is trained too).
    #[serde(default = "yes")]
    pub nolearn: bool,
    /// Reduced-data runs: examples per class.
    #[serde(default)]
    pub reduced: Vec<usize>,
    /// Layers n of the nolearn controls (default: the configuration's `layers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<usize>>,
    /// Replicates of the whole-set part (default: the configuration's
    /// `replicates`); finding 6 needs at least 2 (the default has 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicates: Option<usize>,
    /// Solver for the whole-set base and nolearn jobs (default: the
    /// configuration's `schedule`; reduced-data jobs keep
    /// `reduced_schedule`, else `schedule`). The whole set holds both
    /// halves' classes and images: the `default` preset gives it its
    /// schedule stretched 2×, as many epochs as a half's networks (see
    /// [`default_whole_schedule`](super::default_whole_schedule)). Finding 6 compares nolearn with the
    /// whole-set base, both under this one schedule, and relative
    /// accuracies across families.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
}

/// A sweep configuration: the documented config file format (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Name.
    pub name: String,
    /// The data.
    pub data: DataSpec,
    /// Model preset.
    pub model: ModelPreset,
    /// fc8 width.
    pub outputs: Outputs,
    /// Preprocessing.
    pub preprocess: Preprocess,
    /// Solver for every job.
    pub schedule: Schedule,
    /// Solver for reduced-data jobs (the authors used a shorter one).
    #[serde(default)]
    pub reduced_schedule: Option<Schedule>,
    /// Layers n for selffer/transfer/nolearn jobs.
    pub layers: Vec<usize>,
    /// Random halves.
    #[serde(default)]
    pub random: Option<RandomGrid>,
    /// Natural / man-made.
    #[serde(default)]
    pub natman: Option<NatmanGrid>,
    /// Dissimilar splits of the data set's own classes, by name.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub dissimilar: Vec<DissimilarGrid>,
    /// Whole set.
    #[serde(default)]
    pub whole: Option<WholeGrid>,
    /// Independent replicates of the whole grid (a part's own
    /// `replicates` overrides it for that part). Replicates of a random
    /// split train its halves again with other seeds: the analysis averages
    /// them within the split, so more random-split units need more `seeds`.
    #[serde(default = "one")]
    pub replicates: usize,
    /// Seed mixed into every job's seed.
    #[serde(default)]
    pub seed: u64,
    /// Keep final weights of every job (bases always keep theirs).
    #[serde(default)]
    pub keep_final: bool,
    /// Cache frozen prefixes (frozen jobs only; see `cache`).
    #[serde(default)]
    pub cache_prefix: bool,
    /// Augmented passes each prefix cache holds.
    #[serde(default = "crate::cache::default_passes")]
    pub cache_passes: usize,
    /// The fraction of each class's training images held out as a
    /// validation set ([`data_split::validation`]): no network of the grid
    /// trains on them. `find_schedule` judges its pilot there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<f64>,
    /// Find the schedule from the data ([`super::find`]): a pilot base
    /// drops the rate when its validation curve flattens and stops when the
    /// curve after its last drop is flat too; `schedule` then gives the
    /// solver (rate, batch, momentum, decay, evaluation batch, checkpoint
    /// cadence) and the found iterations replace its own. Needs
    /// `validation` (0.1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find_schedule: Option<super::find::FindSchedule>,
}

fn half() -> f64 {
    0.5
}
fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}

impl SweepConfig {
    /// Read a configuration file (JSON). Unknown keys are refused, naming
    /// the valid ones. Files of class names (`dissimilar`) are read now,
    /// relative to the configuration's folder, so the plan holds the names.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut cfg: SweepConfig = serde_json::from_str(&text).map_err(|e| Error::Plan(format!("{}:{}:{}: {e}", path.display(), e.line(), e.column())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for g in &mut cfg.dissimilar {
            g.split = g.split.inlined(base)?;
        }
        Ok(cfg)
    }
}
