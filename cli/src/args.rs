//! Command-line arguments (clap derive). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Measure how transferable the features of each layer of a deep network are
/// (Yosinski et al. 2014).
#[derive(Debug, Parser)]
#[command(name = "transferability", version, about)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Make class splits and write manifests.
    #[command(subcommand)]
    Split(SplitCmd),
    /// Inspect, pack and classify data sets.
    #[command(subcommand)]
    Data(DataCmd),
    /// Train one network (a job file or flags); resumes from its checkpoint.
    Train(TrainArgs),
    /// Run a whole experiment grid, then the analysis.
    Sweep(SweepArgs),
    /// Analyse run records and/or the authors' results.
    Analyze(AnalyzeArgs),
    /// Linear CKA per layer between two trained networks on a common probe set.
    Similarity(SimilarityArgs),
    /// Two sweeps of the same grid side by side: top-1 and CPU-seconds per cell.
    Compare(CompareArgs),
}

/// Arguments of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// First sweep (folder or records).
    pub a: PathBuf,
    /// Second sweep.
    pub b: PathBuf,
    /// Names of the two in the table.
    #[arg(long, value_delimiter = ',', default_value = "A,B")]
    pub names: Vec<String>,
}

/// Arguments of `similarity`.
#[derive(Debug, Args)]
pub struct SimilarityArgs {
    /// First checkpoint (`final.params`; its `mean.params` beside it).
    #[arg(long)]
    pub a: PathBuf,
    /// Second checkpoint.
    #[arg(long)]
    pub b: PathBuf,
    /// Split manifest folder (from `transferability split`).
    #[arg(long)]
    pub split: PathBuf,
    /// Data folder (the built-in synthetic data when absent).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Half whose test images are the probe set.
    #[arg(long, default_value = "B")]
    pub half: String,
    /// Probe images.
    #[arg(long, default_value_t = 500)]
    pub probe: usize,
    /// Write the rows as Parquet here too.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Where class names come from for a split.
#[derive(Debug, Args)]
pub struct ClassSource {
    /// Number of classes (names `class0`, `class1`, ...).
    #[arg(long, conflicts_with_all = ["data", "preset"])]
    pub classes: Option<usize>,
    /// A data set (its classes, and file lists in the manifest).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A class list preset.
    #[arg(long, conflicts_with = "data", value_parser = data_split::presets::NATMAN_PRESETS)]
    pub preset: Option<String>,
}

/// Split commands.
#[derive(Debug, Subcommand)]
pub enum SplitCmd {
    /// Random halves A and B.
    Random {
        /// Classes.
        #[command(flatten)]
        classes: ClassSource,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Fraction of classes in half A.
        #[arg(long, default_value_t = 0.5)]
        fraction: f64,
        /// numpy's legacy RandomState([seed]).permutation: the authors' halves bit for bit.
        #[arg(long)]
        numpy_compatible: bool,
        /// Print the sorted original indices of one half on one line, and nothing else.
        #[arg(long, value_parser = ["A", "B"])]
        print: Option<String>,
        /// Manifest folder to write.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Natural / man-made halves of a preset.
    Natman {
        /// The class list preset.
        #[arg(long, value_parser = data_split::presets::NATMAN_PRESETS)]
        preset: String,
        /// A data set with those classes (for file lists).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Manifest folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Halves from two index files (`half_*_idx.txt` format).
    Custom {
        /// Classes.
        #[command(flatten)]
        classes: ClassSource,
        /// Index file of half A.
        #[arg(long)]
        a: PathBuf,
        /// Index file of half B.
        #[arg(long)]
        b: PathBuf,
        /// Manifest folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Two groups of classes by name (a dissimilar split of your own
    /// classes): a JSON file `{"name": ..., "halves": [..], "a": [names] or
    /// "FILE", "b": ..., "left_out": [..]}`, the object a sweep
    /// configuration's `dissimilar` takes.
    Dissimilar {
        /// Classes.
        #[command(flatten)]
        classes: ClassSource,
        /// The split's JSON file.
        #[arg(long)]
        spec: PathBuf,
        /// Manifest folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// All classes, the first k training examples per class.
    Reduced {
        /// The data set.
        #[arg(long)]
        data: PathBuf,
        /// Examples per class.
        #[arg(long)]
        per_class: usize,
        /// Manifest folder.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Data commands.
#[derive(Debug, Subcommand)]
pub enum DataCmd {
    /// Classes, counts, image sizes, unreadable files.
    Inspect {
        /// Data folder (`train/` + `val/`|`test/`, or CIFAR binaries).
        path: PathBuf,
    },
    /// Decode a data set once into memory-mapped uint8 shards.
    Pack {
        /// Data folder.
        path: PathBuf,
        /// Output folder (`train/` and `test/` packs inside).
        #[arg(long)]
        out: PathBuf,
        /// Stored side in pixels (256 for caffenet).
        #[arg(long, default_value_t = 256)]
        size: usize,
        /// Images per shard.
        #[arg(long, default_value_t = 10_000)]
        shard: usize,
        /// Skip undecodable images (counted) instead of failing.
        #[arg(long)]
        skip_corrupt: bool,
    },
    /// The training data path's rate: batches assembled as training
    /// assembles them (order, crops, mirrors, mean subtraction, a CHW
    /// tensor), per thread count, in images per second.
    Feed {
        /// Data (a folder, CIFAR binaries or packed shards).
        path: PathBuf,
        /// Stored side (images are warped to it; packed shards keep theirs).
        #[arg(long, default_value_t = 256)]
        size: usize,
        /// Crop side.
        #[arg(long, default_value_t = 227)]
        crop: usize,
        /// Batch size.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Batches timed per thread count.
        #[arg(long, default_value_t = 20)]
        batches: usize,
        /// Thread counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        threads: Vec<usize>,
    },
    /// Classify ILSVRC-2012 classes natural/man-made by WordNet and compare with the authors' list.
    Wordnet {
        /// WordNet 3.0 `data.noun`.
        #[arg(long, default_value = "/usr/share/wordnet/data.noun")]
        data_noun: PathBuf,
        /// Man-made root synsets.
        #[arg(long, default_value = "n00021939")]
        root: Vec<String>,
    },
}

/// Progress output.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProgressArg {
    /// Bar on a terminal, lines otherwise.
    Auto,
    /// Periodic lines.
    Lines,
    /// Nothing.
    Quiet,
}

/// Arguments of `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A job file (see the `transfer` crate's `spec` docs); other job flags are ignored.
    #[arg(long)]
    pub job: Option<PathBuf>,
    /// Arm: base, selffer, transfer, nolearn, reduced.
    #[arg(long, default_value = "base")]
    pub arm: transfer::Arm,
    /// Data folder; the built-in synthetic data when absent.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Split: `random:SEED`, `natman:PRESET`, `whole`, a dissimilar split
    /// by class name (a `.json` file, as `split dissimilar --spec`), or a
    /// manifest folder.
    #[arg(long, default_value = "random:0")]
    pub split: String,
    /// Target half.
    #[arg(long, default_value = "A")]
    pub target: transfer::Half,
    /// Source half (transfer; a selffer network's is its target).
    #[arg(long)]
    pub source_half: Option<transfer::Half>,
    /// Source checkpoint (a base's `final.params`).
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// Layers copied or random-frozen: 1 to 7 (selffer, transfer, nolearn).
    #[arg(long, default_value_t = 0)]
    pub n: usize,
    /// Fine-tune the copied layers.
    #[arg(long)]
    pub fine_tune: bool,
    /// Examples per class (reduced).
    #[arg(long)]
    pub per_class: Option<usize>,
    /// Model preset.
    #[arg(long, default_value = "tiny", value_parser = model_preset())]
    pub model: model::ModelPreset,
    /// Iterations.
    #[arg(long, default_value_t = 600)]
    pub iters: u64,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Base learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder (job folder `OUT/jobs/<id>`, records `OUT/records`).
    #[arg(long, default_value = "runs/train")]
    pub out: PathBuf,
    /// Compute threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Progress output.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
    /// Backend: flex (default), tch / tch-cuda:N with `--features tch`, cuda:N with `--features cuda`.
    #[arg(long, default_value = "flex", value_parser = model::backend::Backend::parse)]
    pub backend: model::backend::Backend,
    /// Cache the frozen layers' output (frozen jobs): computed once per image and augmented pass.
    #[arg(long)]
    pub cache_prefix: bool,
    /// Augmented passes the prefix cache holds.
    #[arg(long, default_value_t = transfer::cache::DEFAULT_PASSES)]
    pub cache_passes: usize,
}

/// Executors.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExecutorArg {
    /// Subprocesses on this machine.
    Local,
    /// A Slurm cluster (sbatch/squeue must work here).
    Slurm,
}

/// Arguments of `sweep` (and `cargo xtask sweep`).
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Preset (`default`: the main job on built-in data).
    #[arg(long, conflicts_with = "config", value_parser = transfer::plan::PRESETS)]
    pub preset: Option<String>,
    /// A sweep configuration file (JSON; see `transfer::plan::SweepConfig`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data folder (the default and smoke presets use built-in synthetic
    /// data; the default preset on a folder finds its schedule from it).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Find the schedule from the data (see `transfer::plan::find`): a
    /// pilot base, the grid's first, drops the rate where its curve on a
    /// validation set carved from the training images flattens and stops
    /// when the last rate has flattened too; every network then trains
    /// that schedule without the validation images.
    #[arg(long)]
    pub find_schedule: bool,
    /// Executor.
    #[arg(long, value_enum, default_value_t = ExecutorArg::Local)]
    pub executor: ExecutorArg,
    /// Backend of every job: `flex`, `tch` (libtorch on the CPU), or
    /// `tch-cuda` / `cuda` (one job per GPU: locally on `--gpus` GPUs,
    /// on Slurm with `--gres=gpu:1` each). The `tch` and CUDA backends need
    /// a binary built with `--features tch` (or `cuda`).
    #[arg(long, default_value = "flex", value_parser = sweep_backend)]
    pub backend: String,
    /// GPUs of this machine a local CUDA grid places its jobs on.
    #[arg(long, default_value_t = 1)]
    pub gpus: usize,
    /// Jobs at once (local); threads are divided among them.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Total threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replicates of the whole grid.
    #[arg(long)]
    pub replicates: Option<usize>,
    /// Cache frozen prefixes (frozen jobs compute their frozen layers once per image and augmented pass).
    #[arg(long)]
    pub cache_prefix: bool,
    /// Augmented passes each prefix cache holds (with --cache-prefix).
    #[arg(long)]
    pub cache_passes: Option<usize>,
    /// Output folder.
    #[arg(long, default_value = "runs/sweep")]
    pub out: PathBuf,
    /// Print the graph, counts and a compute estimate; write plan.json; train nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace a different plan in the output folder.
    #[arg(long)]
    pub force: bool,
    /// Extra sbatch arguments, e.g. `--sbatch=--partition=gpu --sbatch=--time=8:00:00`.
    #[arg(long = "sbatch", allow_hyphen_values = true)]
    pub sbatch: Vec<String>,
    /// CPUs per Slurm job.
    #[arg(long, default_value_t = 1)]
    pub cpus_per_task: usize,
    /// Skip the analysis at the end.
    #[arg(long)]
    pub no_report: bool,
    /// Take the finished bases of an earlier sweep of the same grid from
    /// this folder instead of training them again (same data, split,
    /// model, solver and seeds, checked by the jobs' fingerprints).
    #[arg(long)]
    pub bases_from: Option<PathBuf>,
}

/// Arguments of `analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Run records: files or folders (a sweep folder, its records/, or runs/).
    #[arg(long, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Reference results to include (`paper`).
    #[arg(long, value_parser = ["paper"])]
    pub reference: Option<String>,
    /// Analyse the authors' results alone.
    #[arg(long, conflicts_with = "runs")]
    pub paper: bool,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Allow records of different data sets together.
    #[arg(long)]
    pub allow_mixed: bool,
}

/// A sweep's `--backend`: one this binary can train on (a CUDA one without
/// its index too: the executor places jobs on GPUs).
fn sweep_backend(s: &str) -> Result<String, String> {
    model::backend::Backend::parse(s).map(|_| s.to_string())
}

/// `--model`: the presets, listed by `--help` and parsed to their type.
fn model_preset() -> impl clap::builder::TypedValueParser<Value = model::ModelPreset> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(model::alexnet::PRESETS).map(|s| s.parse().expect("a listed preset parses"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
