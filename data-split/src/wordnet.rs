//! The WordNet 3.0 rule for natural vs man-made: a class is man-made when the
//! hypernym closure of its synset reaches a root (default `n00021939`,
//! artifact). Parses `data.noun` directly, indexed by the offset field; an
//! ILSVRC WNID is `n` followed by the 8-digit offset.
//!
//! The authors' man-made list is not this rule: it adds 29 foods, drinks,
//! signs and the like (ecosystem notes §5), which [`WordNet::compare`] reports.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{Error, Result};

/// The default man-made root: `artifact, artefact`.
pub const ARTIFACT: &str = "n00021939";
/// Where Debian's `wordnet-base` installs the noun database.
pub const DEBIAN_DATA_NOUN: &str = "/usr/share/wordnet/data.noun";

/// Noun synsets with their hypernyms.
#[derive(Debug, Clone, Default)]
pub struct WordNet {
    synsets: HashMap<u32, (String, Vec<u32>)>,
}

/// How a class list disagrees with the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// Classes the list calls man-made that the rule calls natural: (index, WNID, first lemma).
    pub added_to_manmade: Vec<(usize, String, String)>,
    /// Classes the rule calls man-made that the list calls natural.
    pub added_to_natural: Vec<(usize, String, String)>,
}

fn parse_wnid(wnid: &str) -> Option<u32> {
    wnid.strip_prefix('n').and_then(|d| d.parse().ok())
}

impl WordNet {
    /// Parse a `data.noun` file.
    pub fn open(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parse `data.noun` text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut synsets = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with("  ") || line.trim().is_empty() {
                continue;
            }
            let bad = |what: &str| Error::parse(path, i + 1, format!("expected a WordNet data line: {what}"));
            let head = line.split(" | ").next().unwrap_or(line);
            let f: Vec<&str> = head.split_whitespace().collect();
            let offset: u32 = f.first().and_then(|s| s.parse().ok()).ok_or_else(|| bad("8-digit offset first"))?;
            let w_cnt = f.get(3).and_then(|s| usize::from_str_radix(s, 16).ok()).ok_or_else(|| bad("hex word count in field 4"))?;
            let lemma = f.get(4).ok_or_else(|| bad("a word"))?.to_string();
            let p_at = 4 + 2 * w_cnt;
            let p_cnt: usize = f.get(p_at).and_then(|s| s.parse().ok()).ok_or_else(|| bad("pointer count after the words"))?;
            let mut hypernyms = Vec::new();
            for k in 0..p_cnt {
                let sym = f.get(p_at + 1 + 4 * k).ok_or_else(|| bad("4 fields per pointer"))?;
                let target = f.get(p_at + 2 + 4 * k).and_then(|s| s.parse().ok()).ok_or_else(|| bad("pointer offset"))?;
                if *sym == "@" || *sym == "@i" {
                    hypernyms.push(target);
                }
            }
            synsets.insert(offset, (lemma, hypernyms));
        }
        Ok(WordNet { synsets })
    }

    /// Number of synsets read.
    pub fn len(&self) -> usize {
        self.synsets.len()
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.synsets.is_empty()
    }

    /// First lemma of a synset.
    pub fn lemma(&self, wnid: &str) -> Option<&str> {
        parse_wnid(wnid).and_then(|o| self.synsets.get(&o)).map(|(l, _)| l.as_str())
    }

    /// Whether the hypernym closure of `wnid` (itself included) reaches any root.
    pub fn descends_from(&self, wnid: &str, roots: &[&str]) -> Result<bool> {
        let start = parse_wnid(wnid)
            .filter(|o| self.synsets.contains_key(o))
            .ok_or_else(|| Error::InvalidSplit(format!("unknown WNID `{wnid}`: not a noun synset of this WordNet")))?;
        let roots: HashSet<u32> = roots.iter().filter_map(|r| parse_wnid(r)).collect();
        let mut stack = vec![start];
        let mut seen = HashSet::new();
        while let Some(o) = stack.pop() {
            if roots.contains(&o) {
                return Ok(true);
            }
            if seen.insert(o)
                && let Some((_, h)) = self.synsets.get(&o)
            {
                stack.extend(h);
            }
        }
        Ok(false)
    }

    /// Classify each WNID: `true` = man-made by the rule.
    pub fn classify(&self, wnids: &[String], roots: &[&str]) -> Result<Vec<bool>> {
        wnids.iter().map(|w| self.descends_from(w, roots)).collect()
    }

    /// Compare the rule with a given man-made index list.
    pub fn compare(&self, wnids: &[String], manmade: &[usize], roots: &[&str]) -> Result<Disagreement> {
        let rule = self.classify(wnids, roots)?;
        let listed: HashSet<usize> = manmade.iter().copied().collect();
        let mut d = Disagreement { added_to_manmade: Vec::new(), added_to_natural: Vec::new() };
        for (i, (&is_man, w)) in rule.iter().zip(wnids).enumerate() {
            let entry = || (i, w.clone(), self.lemma(w).unwrap_or("").to_string());
            match (is_man, listed.contains(&i)) {
                (false, true) => d.added_to_manmade.push(entry()),
                (true, false) => d.added_to_natural.push(entry()),
                _ => {}
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A hand-written fixture in data.noun's format: entity <- artifact <- cup;
    // entity <- food <- pizza; entity <- organism <- dog.
    const FIXTURE: &str = "  1 This software and database is being provided\n\
00001740 03 n 01 entity 0 000 | that which exists\n\
00021939 03 n 02 artifact 0 artefact 0 001 @ 00001740 n 0000 | a man-made object\n\
00021265 03 n 01 food 0 001 @ 00001740 n 0000 | nutrients\n\
00004475 03 n 01 organism 0 001 @ 00001740 n 0000 | a living thing\n\
03147509 06 n 01 cup 0 001 @ 00021939 n 0000 | a small open container\n\
07873807 13 n 01 pizza 0 001 @ 00021265 n 0000 | Italian open pie\n\
02084071 05 n 01 dog 0 002 @ 00004475 n 0000 @i 00021265 n 0000 | a domestic animal\n";

    fn wn() -> WordNet {
        WordNet::parse(FIXTURE, Path::new("fixture")).expect("fixture parses")
    }

    #[test]
    fn closure_reaches_artifact_only_for_artifacts() {
        let wn = wn();
        assert_eq!(wn.len(), 7);
        assert!(wn.descends_from("n03147509", &[ARTIFACT]).expect("known"));
        assert!(!wn.descends_from("n07873807", &[ARTIFACT]).expect("known"));
        assert!(wn.descends_from("n02084071", &["n00021265"]).expect("instance hypernym followed"));
        let e = wn.descends_from("n99999999", &[ARTIFACT]).unwrap_err().to_string();
        assert!(e.contains("unknown WNID `n99999999`"), "{e}");
    }

    #[test]
    fn compare_reports_foods_added_to_manmade() {
        let wn = wn();
        let wnids: Vec<String> = ["n02084071", "n03147509", "n07873807"].map(String::from).to_vec();
        let d = wn.compare(&wnids, &[1, 2], &[ARTIFACT]).expect("compare");
        assert_eq!(d.added_to_manmade, vec![(2, "n07873807".into(), "pizza".into())]);
        assert!(d.added_to_natural.is_empty());
    }

    #[test]
    fn malformed_line_is_named() {
        let e = WordNet::parse("00001740 03 n zz entity\n", Path::new("data.noun")).unwrap_err().to_string();
        assert!(e.contains("data.noun:1"), "{e}");
    }
}
