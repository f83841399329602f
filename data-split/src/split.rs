//! Class splits: which original classes go into which half, and how each
//! half relabels them.
//!
//! The authors relabelled each half 0..N−1 by the rank of the original index
//! within the half's sorted list (`make_reduced_dataset.py`); [`Half`] keeps
//! that map both ways.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::numpy_rng::Mt19937;
use crate::presets::natman_preset;

/// A split as a command line names it: `random:SEED`, `natman:PRESET`,
/// `whole`, a dissimilar split's `.json` file (as `split dissimilar
/// --spec`), or a manifest folder written by `transferability split`. The
/// one grammar for it; the files are read where the split is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitArg {
    /// Random halves drawn with this seed.
    Random {
        /// The seed.
        seed: u64,
    },
    /// Natural / man-made by a preset (`ilsvrc12`, `cifar10`, `cifar100`, `synthetic`).
    Natman {
        /// The preset.
        preset: String,
    },
    /// Every class in one half.
    Whole,
    /// Two groups of classes by name, from a `.json` file.
    Dissimilar {
        /// The file.
        path: PathBuf,
    },
    /// A manifest folder.
    Manifest {
        /// The folder (or its file).
        path: PathBuf,
    },
}

impl std::str::FromStr for SplitArg {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let path = Path::new(s);
        match s.split_once(':') {
            Some(("random", seed)) => {
                seed.parse().map(|seed| SplitArg::Random { seed }).map_err(|e| format!("random:SEED needs a whole number, not `{seed}`: {e}"))
            }
            Some(("natman", preset)) if !preset.is_empty() => Ok(SplitArg::Natman { preset: preset.into() }),
            None if s == "whole" => Ok(SplitArg::Whole),
            _ if path.is_file() && path.extension().is_some_and(|e| e == "json") => Ok(SplitArg::Dissimilar { path: path.into() }),
            _ if path.exists() => Ok(SplitArg::Manifest { path: path.into() }),
            _ => Err(format!("a split is random:SEED, natman:PRESET, whole, a dissimilar split's .json file or a manifest folder, not `{s}`")),
        }
    }
}

/// One class of a half: its original label and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassEntry {
    /// The label inside the half (rank of `original` among the half's classes).
    pub label: usize,
    /// The label in the whole data set.
    pub original: usize,
    /// Class name.
    pub name: String,
}

/// One half of a split, classes sorted by original index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Half {
    /// `A`/`B` for random and custom splits, `natural`/`manmade` for natman
    /// splits, `whole` for the whole set.
    pub name: String,
    /// The classes, in new-label order.
    pub classes: Vec<ClassEntry>,
}

impl Half {
    /// Build a half from original indices (any order, no duplicates).
    pub fn new(name: &str, originals: &[usize], class_names: &[String]) -> Self {
        let mut sorted = originals.to_vec();
        sorted.sort_unstable();
        let classes = sorted.iter().enumerate().map(|(label, &original)| ClassEntry { label, original, name: class_names[original].clone() }).collect();
        Half { name: name.to_string(), classes }
    }

    /// Original indices in new-label order (sorted).
    pub fn originals(&self) -> Vec<usize> {
        self.classes.iter().map(|c| c.original).collect()
    }

    /// The new label of an original class, if it belongs to this half.
    pub fn label_of(&self, original: usize) -> Option<usize> {
        self.classes.binary_search_by_key(&original, |c| c.original).ok()
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether the half has no class.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }
}

/// Which generator draws a random split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Generator {
    /// numpy's legacy `RandomState([seed]).permutation(N)`: the authors' halves.
    NumpyLegacy,
    /// `rand`'s `StdRng::seed_from_u64(seed)` shuffle.
    StdRng,
}

/// How a split was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SplitMode {
    /// Random halves.
    Random {
        /// Seed.
        seed: u64,
        /// Fraction of classes in half A.
        fraction: f64,
        /// Generator.
        generator: Generator,
    },
    /// Natural / man-made by a preset.
    Natman {
        /// Preset name.
        preset: String,
    },
    /// Two index files.
    Custom {
        /// File of half A.
        a: String,
        /// File of half B.
        b: String,
    },
    /// Two groups of classes by name ([`crate::dissimilar`]).
    Dissimilar {
        /// The split's name (its networks' family).
        name: String,
        /// Classes deliberately in neither half.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        left_out: Vec<String>,
    },
    /// All classes, examples reduced to the first `per_class` of each class.
    Reduced {
        /// Examples kept per class.
        per_class: usize,
    },
    /// All classes, all examples.
    Whole,
}

impl SplitMode {
    /// The family its networks belong to, and the seed a random split's
    /// job ids begin with (none for halves read from index files).
    pub fn family(&self) -> std::result::Result<(records::Family, Option<u64>), String> {
        use records::Family;
        Ok(match self {
            SplitMode::Dissimilar { name, .. } => (Family::dissimilar(name)?, None),
            SplitMode::Natman { .. } => (Family::Natman, None),
            SplitMode::Whole | SplitMode::Reduced { .. } => (Family::Whole, None),
            SplitMode::Random { seed, .. } => (Family::Random, Some(*seed)),
            SplitMode::Custom { .. } => (Family::Random, None),
        })
    }
}

/// A split of a data set's classes into named halves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassSplit {
    /// How it was made.
    pub mode: SplitMode,
    /// The halves (one for `whole`/`reduced`, two otherwise).
    pub halves: Vec<Half>,
}

impl ClassSplit {
    /// The half with this name.
    pub fn half(&self, name: &str) -> Option<&Half> {
        self.halves.iter().find(|h| h.name == name)
    }
}

/// Number of classes in half A: `round(n · fraction)` with ties to even, as
/// Python's `round`, so `fraction` means what it means in numpy scripts.
pub fn half_size(n: usize, fraction: f64) -> Result<usize> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::InvalidSplit(format!("fraction must lie in (0, 1), got {fraction}")));
    }
    let k = (n as f64 * fraction).round_ties_even() as usize;
    if k == 0 || k >= n {
        return Err(Error::InvalidSplit(format!("fraction {fraction} of {n} classes leaves an empty half (A would get {k})")));
    }
    Ok(k)
}

/// Original indices of half A of a random split (sorted).
pub fn random_half_a(n: usize, fraction: f64, seed: u64, generator: Generator) -> Result<Vec<usize>> {
    let k = half_size(n, fraction)?;
    let perm = match generator {
        Generator::NumpyLegacy => {
            let seed = u32::try_from(seed).map_err(|_| Error::InvalidSplit(format!("numpy-compatible seeds are 32-bit, got {seed}")))?;
            Mt19937::init_by_array(&[seed]).permutation(n)
        }
        Generator::StdRng => {
            let mut v: Vec<usize> = (0..n).collect();
            v.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
            v
        }
    };
    let mut a = perm[..k].to_vec();
    a.sort_unstable();
    Ok(a)
}

/// Random halves A and B of `class_names`.
pub fn random(class_names: &[String], fraction: f64, seed: u64, generator: Generator) -> Result<ClassSplit> {
    let n = class_names.len();
    let a = random_half_a(n, fraction, seed, generator)?;
    let b = complement(n, &a);
    Ok(ClassSplit { mode: SplitMode::Random { seed, fraction, generator }, halves: vec![Half::new("A", &a, class_names), Half::new("B", &b, class_names)] })
}

/// The sorted complement of `a` in `0..n`.
pub fn complement(n: usize, a: &[usize]) -> Vec<usize> {
    let set: BTreeSet<usize> = a.iter().copied().collect();
    (0..n).filter(|i| !set.contains(i)).collect()
}

/// Natural / man-made halves of a preset.
pub fn natman(preset: &str) -> Result<ClassSplit> {
    let p = natman_preset(preset)?;
    Ok(ClassSplit {
        mode: SplitMode::Natman { preset: preset.to_string() },
        halves: vec![Half::new("natural", &p.natural, &p.class_names), Half::new("manmade", &p.manmade, &p.class_names)],
    })
}

/// One half holding every class (whole-set and reduced-data jobs).
pub fn whole(class_names: &[String], per_class: Option<usize>) -> ClassSplit {
    let all: Vec<usize> = (0..class_names.len()).collect();
    let mode = match per_class {
        Some(per_class) => SplitMode::Reduced { per_class },
        None => SplitMode::Whole,
    };
    ClassSplit { mode, halves: vec![Half::new("whole", &all, class_names)] }
}

/// Read an index file in the authors' `half_*_idx.txt` format: one 0-based
/// class index per line.
pub fn read_index_file(path: &Path, num_classes: usize) -> Result<Vec<usize>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let v: usize = t.parse().map_err(|_| Error::parse(path, i + 1, format!("expected a class index (a whole number), found `{t}`")))?;
        if v >= num_classes {
            return Err(Error::parse(path, i + 1, format!("class index {v} out of range 0..{num_classes}")));
        }
        if !seen.insert(v) {
            return Err(Error::parse(path, i + 1, format!("class index {v} appears twice")));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(Error::parse(path, 1, "expected at least one class index, the file is empty"));
    }
    Ok(out)
}

/// A custom partition from two index files; they must not overlap.
pub fn custom(a_path: &Path, b_path: &Path, class_names: &[String]) -> Result<ClassSplit> {
    let n = class_names.len();
    let a = read_index_file(a_path, n)?;
    let b = read_index_file(b_path, n)?;
    let a_set: BTreeSet<usize> = a.iter().copied().collect();
    if let Some(dup) = b.iter().find(|i| a_set.contains(i)) {
        return Err(Error::InvalidSplit(format!("class {dup} is in both {} and {}", a_path.display(), b_path.display())));
    }
    Ok(ClassSplit {
        mode: SplitMode::Custom { a: a_path.display().to_string(), b: b_path.display().to_string() },
        halves: vec![Half::new("A", &a, class_names), Half::new("B", &b, class_names)],
    })
}

#[cfg(test)]
mod tests {
    /// The command line's split grammar: each form, files told apart from
    /// folders, and a typo named with what is valid.
    #[test]
    fn split_arguments_parse_by_their_grammar() {
        assert_eq!("random:3".parse(), Ok(SplitArg::Random { seed: 3 }));
        assert_eq!("natman:cifar10".parse(), Ok(SplitArg::Natman { preset: "cifar10".into() }));
        assert_eq!("whole".parse(), Ok(SplitArg::Whole));
        let dir = tempfile::tempdir().expect("tmp");
        let json = dir.path().join("animals.json");
        std::fs::write(&json, "{}").expect("write");
        let s = |p: &Path| p.to_str().expect("utf-8").to_string();
        assert_eq!(s(&json).parse(), Ok(SplitArg::Dissimilar { path: json.clone() }));
        assert_eq!(s(dir.path()).parse(), Ok(SplitArg::Manifest { path: dir.path().to_path_buf() }));
        let e = "random:x".parse::<SplitArg>().expect_err("not a seed");
        assert!(e.contains("random:SEED"), "{e}");
        let e = "rnadom:1".parse::<SplitArg>().expect_err("a typo");
        assert!(e.contains("random:SEED, natman:PRESET, whole") && e.contains("`rnadom:1`"), "{e}");
        assert!("natman:".parse::<SplitArg>().is_err(), "a preset is needed");
    }

    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    /// docs/PROTOCOL.md §c: the authors' halves of ILSVRC-2012 for seeds 0..3.
    #[test]
    fn numpy_halves_match_protocol_vectors() {
        let vectors: [(u64, [usize; 12], usize); 4] = [
            (0, [0, 1, 2, 5, 9, 10, 15, 16, 17, 19, 20, 22], 249_620),
            (1, [1, 5, 7, 9, 15, 16, 17, 19, 20, 21, 22, 23], 249_563),
            (2, [0, 2, 4, 5, 8, 9, 10, 13, 15, 17, 22, 23], 248_099),
            (3, [0, 5, 6, 7, 8, 10, 12, 14, 18, 24, 25, 29], 249_823),
        ];
        for (seed, first, sum) in vectors {
            let a = random_half_a(1000, 0.5, seed, Generator::NumpyLegacy).expect("split");
            assert_eq!(a.len(), 500);
            assert_eq!(&a[..12], &first, "seed {seed}");
            assert_eq!(a.iter().sum::<usize>(), sum, "seed {seed}");
        }
    }

    /// Expected values computed with numpy 2.x itself:
    /// `k = round(N*f); a = sorted(np.random.RandomState([s]).permutation(N)[:k])`,
    /// printing `a[:8]` and `sum(a)`.
    #[test]
    fn numpy_halves_match_numpy_for_other_sizes() {
        let check = |n: usize, f: f64, s: u64, k: usize, first: &[usize], sum: usize| {
            let a = random_half_a(n, f, s, Generator::NumpyLegacy).expect("split");
            assert_eq!(a.len(), k, "N={n} f={f} s={s}");
            assert_eq!(&a[..first.len()], first, "N={n} f={f} s={s}");
            assert_eq!(a.iter().sum::<usize>(), sum, "N={n} f={f} s={s}");
        };
        check(10, 0.5, 0, 5, &[0, 1, 3, 7, 8], 19);
        check(10, 0.5, 7, 5, &[1, 2, 3, 5, 9], 20);
        check(100, 0.5, 1, 50, &[1, 3, 4, 8, 11, 14, 16, 17], 2723);
        check(100, 0.3, 2, 30, &[2, 5, 7, 8, 11, 13, 17, 22], 1304);
        check(37, 0.25, 5, 9, &[3, 4, 6, 11, 12, 16, 17, 28], 130);
        check(1000, 0.1, 3, 100, &[18, 30, 31, 45, 46, 47, 62, 72], 49488);
        check(2, 0.5, 0, 1, &[0], 0);
        check(50, 0.8, 11, 40, &[0, 3, 4, 6, 7, 8, 9, 10], 1008);
    }

    #[test]
    fn bad_fractions_are_refused() {
        for f in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(random_half_a(10, f, 0, Generator::NumpyLegacy).is_err(), "{f}");
        }
        assert!(random_half_a(10, 0.01, 0, Generator::NumpyLegacy).is_err(), "empty half");
    }

    #[test]
    fn stdrng_split_is_deterministic_and_disjoint() {
        let s1 = random(&names(20), 0.5, 9, Generator::StdRng).expect("split");
        let s2 = random(&names(20), 0.5, 9, Generator::StdRng).expect("split");
        assert_eq!(s1, s2);
        let a = s1.halves[0].originals();
        let b = s1.halves[1].originals();
        assert_eq!(a.len() + b.len(), 20);
        assert!(a.iter().all(|x| !b.contains(x)));
    }

    #[test]
    fn remap_is_rank_within_half() {
        let s = random(&names(10), 0.5, 0, Generator::NumpyLegacy).expect("split");
        let a = &s.halves[0];
        assert_eq!(a.originals(), vec![0, 1, 3, 7, 8]);
        assert_eq!(a.label_of(7), Some(3));
        assert_eq!(a.label_of(2), None);
        for c in &a.classes {
            assert_eq!(a.label_of(c.original), Some(c.label));
            assert_eq!(c.name, format!("c{}", c.original));
        }
    }

    #[test]
    fn custom_split_errors_name_the_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.txt");
        std::fs::write(&a, "0\n1\n2\n").expect("write");
        std::fs::write(&b, "3\n4\n").expect("write");
        let s = custom(&a, &b, &names(5)).expect("valid split");
        assert_eq!(s.halves[1].originals(), vec![3, 4]);

        std::fs::write(&b, "3\n2\n").expect("write");
        let e = custom(&a, &b, &names(5)).unwrap_err().to_string();
        assert!(e.contains("class 2 is in both"), "{e}");

        std::fs::write(&b, "3\n3\n").expect("write");
        let e = custom(&a, &b, &names(5)).unwrap_err().to_string();
        assert!(e.contains("b.txt:2") && e.contains("appears twice"), "{e}");

        std::fs::write(&b, "3\n9\n").expect("write");
        let e = custom(&a, &b, &names(5)).unwrap_err().to_string();
        assert!(e.contains("b.txt:2") && e.contains("out of range"), "{e}");

        std::fs::write(&b, "3\nx\n").expect("write");
        let e = custom(&a, &b, &names(5)).unwrap_err().to_string();
        assert!(e.contains("b.txt:2") && e.contains("whole number"), "{e}");
    }
}
