//! The name of one half of a split: `A` and `B` for random halves,
//! `natural` and `manmade` for the paper's dissimilar split, a user's own
//! names for a split by name, `whole` for the whole set. One word of the
//! job-id grammar ([`check_id_word`]), so that ids that join halves with
//! `-` read back unambiguously.

use std::fmt;
use std::str::FromStr;

use crate::family::check_id_word;

/// A half's name (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Half(String);

/// Half A (an empty record's; a record always names its half).
impl Default for Half {
    fn default() -> Self {
        Half::a()
    }
}

impl Half {
    /// The one half of the whole-set family.
    pub fn whole() -> Half {
        Half("whole".into())
    }

    /// Half A of a random split.
    pub fn a() -> Half {
        Half("A".into())
    }

    /// Half B of a random split.
    pub fn b() -> Half {
        Half("B".into())
    }

    /// The natural half of the paper's dissimilar split.
    pub fn natural() -> Half {
        Half("natural".into())
    }

    /// The man-made half of the paper's dissimilar split.
    pub fn manmade() -> Half {
        Half("manmade".into())
    }

    /// A half named `name`, if it is one word of the id grammar.
    pub fn new(name: &str) -> Result<Half, String> {
        check_id_word(name).map_err(|e| format!("half {e}"))?;
        Ok(Half(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Half {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Half {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Half::new(s)
    }
}

impl PartialEq<str> for Half {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Half {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_is_one_word_of_the_id_grammar() {
        for ok in ["A", "B", "natural", "manmade", "whole", "r1", "foot_wear2"] {
            assert_eq!(ok.parse::<Half>().expect(ok).as_str(), ok);
        }
        for bad in ["", "a-b", "1st", "foot wear", "é"] {
            let e = bad.parse::<Half>().expect_err(bad);
            assert!(e.starts_with("half `"), "{e}");
        }
        let h: Half = serde_json::from_str("\"B\"").expect("json");
        assert_eq!(serde_json::to_string(&h).expect("json"), "\"B\"");
        assert!(serde_json::from_str::<Half>("\"A-B\"").is_err());
    }
}
