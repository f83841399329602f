//! Dissimilar splits by class name: the paper's second experiment (two
//! groups of classes chosen because they differ, natural vs man-made in
//! ImageNet) on anyone's data set: clothing vs footwear, indoor vs outdoor.
//!
//! A [`DissimilarSpec`] names the split (the *family* of its networks in
//! job ids, records and the report), its two halves, and the classes of
//! each, as a list or a file of names (one per line; blank lines and `#`
//! comments ignored):
//!
//! ```json
//! { "name": "clothing_vs_footwear", "halves": ["clothing", "footwear"],
//!   "a": ["t-shirt", "trouser", "pullover", "dress", "coat", "shirt"],
//!   "b": "footwear.txt",
//!   "left_out": ["bag"] }
//! ```
//!
//! [`DissimilarSpec::resolve`] checks the names against a data set's
//! classes and refuses, in one error that lists them all: names that are
//! not classes of the data set, names given twice (in one half, in both,
//! or in a half and `left_out`), and classes in neither half. Leaving
//! classes out must be asked for by naming them in `left_out`.
//!
//! Names become parts of job ids, which join their parts with `-`
//! (`clothing_vs_footwear-transfer-clothing-footwear-n4`), so the split's
//! and the halves' names are one word each: letters, digits and `_`
//! ([`check_word`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::split::{ClassSplit, Half, SplitMode};

/// The classes of one half: the names themselves, or a file of names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClassNames {
    /// The class names.
    List(Vec<String>),
    /// A file with one class name per line (relative paths: to the
    /// configuration file that names it).
    File(PathBuf),
}

/// A dissimilar split by class name (the `dissimilar` part of a sweep
/// configuration, the JSON file `train --split` and `split names` take).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DissimilarSpec {
    /// The split's name: its networks' family in ids, records and the report.
    pub name: String,
    /// Names of the two halves (default `A` and `B`).
    #[serde(default = "default_halves")]
    pub halves: [records::Half; 2],
    /// Classes of the first half.
    pub a: ClassNames,
    /// Classes of the second half.
    pub b: ClassNames,
    /// Classes deliberately in neither half.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

fn default_halves() -> [records::Half; 2] {
    [records::Half::a(), records::Half::b()]
}

/// Check that `s` can be a part of a job id ([`records::check_id_word`]);
/// `what` says what the name is, for the error.
pub fn check_word(what: &str, s: &str) -> Result<()> {
    records::check_id_word(s).map_err(|e| Error::InvalidSplit(format!("{what} {e}")))
}

/// Levenshtein distance in characters (for "did you mean").
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// One name and where it was given, for errors.
struct Given {
    name: String,
    at: String,
}

fn read_names(what: &str, names: &ClassNames) -> Result<Vec<Given>> {
    match names {
        ClassNames::List(v) => Ok(v.iter().enumerate().map(|(i, n)| Given { name: n.trim().to_string(), at: format!("{what}[{i}]") }).collect()),
        ClassNames::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let out: Vec<Given> = text
                .lines()
                .enumerate()
                .filter_map(|(i, line)| {
                    let t = line.split('#').next().unwrap_or("").trim();
                    (!t.is_empty()).then(|| Given { name: t.to_string(), at: format!("{}:{}", path.display(), i + 1) })
                })
                .collect();
            if out.is_empty() {
                return Err(Error::parse(path, 1, format!("expected class names of {what}, one per line; the file has none")));
            }
            Ok(out)
        }
    }
}

impl DissimilarSpec {
    /// The same split with files of names read into lists, relative paths
    /// taken from `base` (the folder of the file that names them): what a
    /// plan and a job file store, so that a sweep does not change under
    /// an edited file.
    pub fn inlined(&self, base: &Path) -> Result<DissimilarSpec> {
        let inline = |what: &str, names: &ClassNames| -> Result<ClassNames> {
            let names = match names {
                ClassNames::File(p) => ClassNames::File(base.join(p)),
                list => list.clone(),
            };
            Ok(ClassNames::List(read_names(what, &names)?.into_iter().map(|g| g.name).collect()))
        };
        Ok(DissimilarSpec { a: inline("a", &self.a)?, b: inline("b", &self.b)?, ..self.clone() })
    }

    /// Check the names (of the split and its halves) without a data set,
    /// by the grammar of ids; the family the split's networks belong to.
    pub fn check_names(&self) -> Result<records::Family> {
        let family = records::Family::dissimilar(&self.name).map_err(|e| Error::InvalidSplit(format!("the dissimilar split's name {e}")))?;
        if self.halves[0] == self.halves[1] || self.halves.iter().any(|h| h == "whole") {
            return Err(Error::InvalidSplit(format!("the halves of `{}` need two different names other than `whole`, got {:?}", self.name, self.halves)));
        }
        Ok(family)
    }

    /// The split of `class_names` (a data set's classes, in label order).
    /// Every problem is reported at once.
    pub fn resolve(&self, class_names: &[String]) -> Result<ClassSplit> {
        self.check_names()?;
        let index: BTreeMap<&str, usize> = class_names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let left_out = ClassNames::List(self.left_out.clone());
        let groups = [
            (self.halves[0].as_str(), read_names("a", &self.a)?),
            (self.halves[1].as_str(), read_names("b", &self.b)?),
            ("left_out", read_names("left_out", &left_out)?),
        ];
        let mut problems = Vec::new();
        let mut first: BTreeMap<usize, String> = BTreeMap::new();
        let mut members: [Vec<usize>; 3] = Default::default();
        for (g, (group, names)) in groups.iter().enumerate() {
            for given in names {
                let Some(&i) = index.get(given.name.as_str()) else {
                    let near = class_names.iter().filter(|c| edit_distance(c, &given.name) <= 2).min_by_key(|c| edit_distance(c, &given.name));
                    let hint = near.map_or(String::new(), |c| format!(" (did you mean `{c}`?)"));
                    problems.push(format!("`{}` ({}, in {group}) is not a class of this data set{hint}", given.name, given.at));
                    continue;
                };
                if let Some(before) = first.get(&i) {
                    problems.push(format!("`{}` is given twice: {before} and {} (in {group})", given.name, given.at));
                    continue;
                }
                first.insert(i, format!("{} (in {group})", given.at));
                members[g].push(i);
            }
        }
        for (g, half) in self.halves.iter().enumerate() {
            if members[g].is_empty() {
                problems.push(format!("half `{half}` has no class of this data set"));
            }
        }
        let missing: Vec<&str> = class_names.iter().enumerate().filter(|(i, _)| !first.contains_key(i)).map(|(_, n)| n.as_str()).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{} of this data set's classes are in neither half: {}; name them in `left_out` to leave them out on purpose",
                missing.len(),
                missing.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        if !problems.is_empty() {
            let shown: Vec<String> = class_names.iter().take(30).map(|n| format!("`{n}`")).collect();
            let more = if class_names.len() > 30 { format!(", … ({} in all)", class_names.len()) } else { String::new() };
            return Err(Error::InvalidSplit(format!(
                "dissimilar split `{}`:\n  - {}\n  (this data set's classes: {}{more})",
                self.name,
                problems.join("\n  - "),
                shown.join(", ")
            )));
        }
        let left_out = members[2].iter().map(|&i| class_names[i].clone()).collect();
        Ok(ClassSplit {
            mode: SplitMode::Dissimilar { name: self.name.clone(), left_out },
            halves: vec![Half::new(self.halves[0].as_str(), &members[0], class_names), Half::new(self.halves[1].as_str(), &members[1], class_names)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes() -> Vec<String> {
        ["bag", "boot", "coat", "dress", "pullover", "sandal", "shirt", "sneaker", "t-shirt", "trouser"].map(String::from).to_vec()
    }

    fn spec(a: &[&str], b: &[&str], left_out: &[&str]) -> DissimilarSpec {
        let list = |v: &[&str]| ClassNames::List(v.iter().map(|s| s.to_string()).collect());
        DissimilarSpec {
            name: "clothing_vs_footwear".into(),
            halves: ["clothing", "footwear"].map(|h| h.parse().expect("a word")),
            a: list(a),
            b: list(b),
            left_out: left_out.iter().map(|s| s.to_string()).collect(),
        }
    }

    const CLOTHING: [&str; 6] = ["t-shirt", "trouser", "pullover", "dress", "coat", "shirt"];
    const FOOTWEAR: [&str; 3] = ["sandal", "sneaker", "boot"];

    #[test]
    fn names_become_halves_relabelled_by_rank() {
        let s = spec(&CLOTHING, &FOOTWEAR, &["bag"]).resolve(&classes()).expect("valid");
        assert_eq!(s.halves[0].name, "clothing");
        // sorted by original index, relabelled 0..: coat(2) dress(3) pullover(4) shirt(6) t-shirt(8) trouser(9)
        assert_eq!(s.halves[0].originals(), vec![2, 3, 4, 6, 8, 9]);
        assert_eq!(s.halves[1].originals(), vec![1, 5, 7]);
        assert_eq!(s.halves[1].label_of(7), Some(2));
        assert_eq!(s.mode, SplitMode::Dissimilar { name: "clothing_vs_footwear".into(), left_out: vec!["bag".into()] });
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let e = spec(&["t-shirt", "trousers", "coat", "coat"], &["sandal", "coat"], &[]).resolve(&classes()).expect_err("bad").to_string();
        assert!(e.contains("`trousers` (a[1], in clothing) is not a class of this data set (did you mean `trouser`?)"), "{e}");
        assert!(e.contains("`coat` is given twice: a[2] (in clothing) and a[3] (in clothing)"), "{e}");
        assert!(e.contains("`coat` is given twice: a[2] (in clothing) and b[1] (in footwear)"), "{e}");
        assert!(e.contains("7 of this data set's classes are in neither half: `bag`, `boot`, `dress`, `pullover`, `shirt`, `sneaker`, `trouser`"), "{e}");
        assert!(e.contains("`left_out`"), "{e}");
        // leaving out is explicit, and a left-out class cannot also be in a half
        let e = spec(&CLOTHING, &FOOTWEAR, &["bag", "boot"]).resolve(&classes()).expect_err("boot twice").to_string();
        assert!(e.contains("`boot` is given twice: b[2] (in footwear) and left_out[1] (in left_out)"), "{e}");
    }

    #[test]
    fn names_files_are_read_with_their_lines() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("footwear.txt"), "# shoes\nsandal\n\nsneaker  # low\nbot\n").expect("write");
        let mut s = spec(&CLOTHING, &[], &["bag"]);
        s.b = ClassNames::File("footwear.txt".into());
        let inlined = s.inlined(dir.path()).expect("read");
        assert_eq!(inlined.b, ClassNames::List(vec!["sandal".into(), "sneaker".into(), "bot".into()]));
        // unknown names in a file are named with their line
        let mut direct = s.clone();
        direct.b = ClassNames::File(dir.path().join("footwear.txt"));
        let e = direct.resolve(&classes()).expect_err("bot").to_string();
        assert!(e.contains("`bot` (") && e.contains("footwear.txt:5, in footwear) is not a class") && e.contains("did you mean `boot`?"), "{e}");
        assert_eq!((edit_distance("boot", "bot"), edit_distance("", "abc"), edit_distance("sandal", "sandal")), (1, 3, 0));
        std::fs::write(dir.path().join("footwear.txt"), "# nothing\n").expect("write");
        let e = s.inlined(dir.path()).expect_err("empty").to_string();
        assert!(e.contains("footwear.txt:1") && e.contains("the file has none"), "{e}");
    }

    #[test]
    fn names_fit_the_job_id_grammar() {
        let mut s = spec(&CLOTHING, &FOOTWEAR, &["bag"]);
        s.name = "clothing-vs-footwear".into();
        let e = s.resolve(&classes()).expect_err("dash").to_string();
        assert!(e.contains("`clothing-vs-footwear` must be one word") && e.contains("e.g. `clothing_vs_footwear`"), "{e}");
        for taken in ["natman", "random", "r0", "r12", "whole"] {
            s.name = taken.into();
            assert!(s.check_names().is_err(), "{taken}");
        }
        s.name = "rooms".into();
        s.check_names().expect("`r` followed by letters is free");
        s.halves = [records::Half::a(), records::Half::a()];
        assert!(s.check_names().is_err());
        // the defaults
        let j: DissimilarSpec = serde_json::from_str(r#"{"name": "x", "a": ["bag"], "b": "f.txt"}"#).expect("json");
        assert_eq!(j.halves, [records::Half::a(), records::Half::b()]);
        assert_eq!(j.b, ClassNames::File("f.txt".into()));
        assert!(serde_json::from_str::<DissimilarSpec>(r#"{"name": "x", "a": [], "b": [], "lefT_out": []}"#).is_err(), "typos are refused");
    }
}
