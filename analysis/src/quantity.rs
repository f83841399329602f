//! What a decomposition row measures: one type for every quantity, with its
//! one spelling (its name in `decomposition.csv`). The analysis compares
//! and matches quantities as values of this type; the names are written,
//! never parsed back.

use std::fmt;

use records::{ArmLabel, Family};
use serde::{Serialize, Serializer};

/// A quantity of the decomposition. Differences are in top-1, each network
/// against the one it is defined against (paired rows: on its own target
/// half within its unit).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quantity {
    /// base − BnB: what chopping a network and retraining its top loses.
    Coadaptation,
    /// BnB − AnB: what features of the other half's task lose.
    Specificity,
    /// AnB − base.
    TransferDrop,
    /// BnB+ − BnB.
    FinetuneRecoverySelffer,
    /// AnB+ − AnB.
    FinetuneRecoveryTransfer,
    /// BnB+ − base.
    SelfferFtVsBase,
    /// AnB+ − base.
    LastingBoostVsBase,
    /// AnB+ − BnB+ (finding 4's control).
    LastingBoostVsSelfferFt,
    /// nolearn − whole-set base.
    NolearnDrop,
    /// Specificity at the top n minus at the bottom n, per unit.
    SpecificityGrowth,
    /// base A − base B of random halves (the negative control).
    RandomHalvesGap,
    /// An arm against its own target half's base (the authors' data,
    /// pooled over networks).
    VsOwnBase(ArmLabel),
    /// A dissimilar family's transfer drop (AnB − base).
    Drop(Family),
    /// A dissimilar family's transfer drop minus the random halves' (finding 5).
    MinusRandomDrop(Family),
    /// A dissimilar family's AnB relative to its base minus nolearn
    /// relative to the whole-set base (finding 6, the paper's Fig. 3).
    MinusNolearnRelative(Family),
}

impl Quantity {
    /// The dissimilar family a quantity is about, if it is one family's.
    pub fn family(&self) -> Option<&Family> {
        match self {
            Quantity::Drop(f) | Quantity::MinusRandomDrop(f) | Quantity::MinusNolearnRelative(f) => Some(f),
            _ => None,
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Quantity::Coadaptation => "coadaptation",
            Quantity::Specificity => "specificity",
            Quantity::TransferDrop => "transfer_drop",
            Quantity::FinetuneRecoverySelffer => "finetune_recovery_selffer",
            Quantity::FinetuneRecoveryTransfer => "finetune_recovery_transfer",
            Quantity::SelfferFtVsBase => "selffer_ft_vs_base",
            Quantity::LastingBoostVsBase => "lasting_boost_vs_base",
            Quantity::LastingBoostVsSelfferFt => "lasting_boost_vs_selffer_ft",
            Quantity::NolearnDrop => "nolearn_drop",
            Quantity::SpecificityGrowth => "specificity_growth",
            Quantity::RandomHalvesGap => "random_halves_gap",
            Quantity::VsOwnBase(arm) => return write!(f, "{arm}_vs_own_base"),
            Quantity::Drop(family) => return write!(f, "{family}_drop"),
            Quantity::MinusRandomDrop(family) => return write!(f, "{family}_minus_random_drop"),
            Quantity::MinusNolearnRelative(family) => return write!(f, "{family}_minus_nolearn_relative"),
        };
        f.write_str(name)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names `decomposition.csv` has always had, one per quantity.
    #[test]
    fn every_quantity_keeps_its_name() {
        let natman = Family::Natman;
        let mine = Family::dissimilar("indoor_vs_outdoor").expect("a name");
        let cases = [
            (Quantity::Coadaptation, "coadaptation"),
            (Quantity::TransferDrop, "transfer_drop"),
            (Quantity::LastingBoostVsSelfferFt, "lasting_boost_vs_selffer_ft"),
            (Quantity::RandomHalvesGap, "random_halves_gap"),
            (Quantity::VsOwnBase(ArmLabel::AnBPlus), "AnB+_vs_own_base"),
            (Quantity::Drop(natman.clone()), "natman_drop"),
            (Quantity::MinusRandomDrop(natman), "natman_minus_random_drop"),
            (Quantity::MinusNolearnRelative(mine.clone()), "indoor_vs_outdoor_minus_nolearn_relative"),
        ];
        for (q, name) in cases {
            assert_eq!(q.to_string(), name);
        }
        assert_eq!(Quantity::Drop(mine.clone()).family(), Some(&mine));
        assert_eq!(Quantity::Specificity.family(), None);
    }
}
