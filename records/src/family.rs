//! The family of a network: which kind of split its task comes from. The
//! paper's vocabulary as a type, shared by the jobs (`transfer`), the
//! records' `family` column and the analysis.

use std::str::FromStr;

/// Which kind of split a network's task comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Family {
    /// Random halves A and B (similar tasks).
    #[default]
    Random,
    /// Natural vs man-made halves of a preset (dissimilar tasks).
    Natman,
    /// All classes (whole-set base, nolearn, reduced).
    Whole,
    /// A dissimilar split of a data set's own classes, by its user's name
    /// (one word of ASCII letters, digits and `_`, not a reserved name).
    Dissimilar(String),
}

impl Family {
    /// The families with fixed names, and `r<seed>`, which random-split job ids begin with.
    pub const RESERVED: [&'static str; 4] = ["random", "natman", "whole", "paper"];

    /// The name in job files, records and tables.
    pub fn name(&self) -> &str {
        match self {
            Family::Random => "random",
            Family::Natman => "natman",
            Family::Whole => "whole",
            Family::Dissimilar(name) => name,
        }
    }

    /// Whether its cells keep their target halves apart: a dissimilar
    /// split (natural/man-made or by name), as against random halves and
    /// the whole set, whose cells pool their targets.
    pub fn is_dissimilar(&self) -> bool {
        matches!(self, Family::Natman | Family::Dissimilar(_))
    }

    /// The family a dissimilar split by name makes, if `name` can be one
    /// (a [`check_id_word`]; not reserved; not `r` followed by digits).
    pub fn dissimilar(name: &str) -> Result<Family, String> {
        check_id_word(name)?;
        let seed_like = name.starts_with('r') && name[1..].chars().all(|c| c.is_ascii_digit());
        if Self::RESERVED.contains(&name) || seed_like {
            return Err(format!("`{name}` is taken: {} and r<seed> name the tool's own grids", Self::RESERVED.join(", ")));
        }
        Ok(Family::Dissimilar(name.to_string()))
    }
}

/// Check that `name` can be a part of a job id, which joins its parts
/// with `-`: one word of ASCII letters, digits and `_`, starting with a
/// letter. The error suggests the nearest such word.
pub fn check_id_word(name: &str) -> Result<(), String> {
    let word = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if word {
        return Ok(());
    }
    let hint = name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    Err(format!("`{name}` must be one word of letters, digits and `_` starting with a letter (job ids join their parts with `-`): e.g. `{hint}`"))
}

impl FromStr for Family {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "random" => Ok(Family::Random),
            "natman" => Ok(Family::Natman),
            "whole" => Ok(Family::Whole),
            other => Family::dissimilar(other),
        }
    }
}

impl PartialEq<str> for Family {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl PartialEq<&str> for Family {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_print_parse_and_serialise_by_name() {
        for f in [Family::Random, Family::Natman, Family::Whole, Family::Dissimilar("clothing_vs_footwear".into())] {
            assert_eq!(f.to_string().parse::<Family>(), Ok(f.clone()));
            assert_eq!(serde_json::to_string(&f).expect("json"), format!("\"{f}\""));
            assert_eq!(serde_json::from_str::<Family>(&format!("\"{f}\"")).expect("back"), f);
        }
        assert!(Family::Natman.is_dissimilar() && Family::Dissimilar("x".into()).is_dissimilar());
        assert!(!Family::Random.is_dissimilar() && !Family::Whole.is_dissimilar());
        let e = "indoor-outdoor".parse::<Family>().expect_err("dash");
        assert!(e.contains("e.g. `indoor_outdoor`"), "{e}");
        for taken in ["paper", "r0", "r12"] {
            assert!(taken.parse::<Family>().is_err(), "{taken}");
        }
        assert_eq!("rooms".parse::<Family>(), Ok(Family::Dissimilar("rooms".into())));
        assert!(serde_json::from_str::<Family>("\"a b\"").is_err(), "job files are checked too");
    }
}
