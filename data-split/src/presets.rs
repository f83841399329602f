//! Natural / man-made class partitions shipped with the crate.
//!
//! * `ilsvrc12`: the authors' own lists (`half_nat_idx.txt`, 449 classes;
//!   `half_man_idx.txt`, 551 classes) from yosinski/convnet_transfer, see NOTICE.
//!   Their repository calls natural "A" and man-made "B"; the paper swaps the
//!   letters. We never use letters for these halves: they are `natural` and
//!   `manmade` everywhere.
//! * `cifar10`: natural = bird cat deer dog frog horse, man-made = airplane
//!   automobile ship truck.
//! * `cifar100`: by superclass; 14 natural superclasses (70 classes) and 6
//!   man-made ones (30 classes).

use crate::error::{Error, Result};

/// ILSVRC-2012 WNIDs in label order (label i = line i).
pub const ILSVRC12_SYNSETS: &str = include_str!("../data/synsets.txt");
/// ILSVRC-2012 `WNID words` lines in label order.
pub const ILSVRC12_SYNSET_WORDS: &str = include_str!("../data/synset_words.txt");
const ILSVRC12_NATURAL: &str = include_str!("../data/half_nat_idx.txt");
const ILSVRC12_MANMADE: &str = include_str!("../data/half_man_idx.txt");

/// CIFAR-10 class names in label order.
pub const CIFAR10_CLASSES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// CIFAR-100 fine class names in label order (as in `fine_label_names.txt`).
pub const CIFAR100_CLASSES: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// CIFAR-100 superclasses: (name, natural?, fine classes).
pub const CIFAR100_SUPERCLASSES: [(&str, bool, [&str; 5]); 20] = [
    ("aquatic_mammals", true, ["beaver", "dolphin", "otter", "seal", "whale"]),
    ("fish", true, ["aquarium_fish", "flatfish", "ray", "shark", "trout"]),
    ("flowers", true, ["orchid", "poppy", "rose", "sunflower", "tulip"]),
    ("food_containers", false, ["bottle", "bowl", "can", "cup", "plate"]),
    ("fruit_and_vegetables", true, ["apple", "mushroom", "orange", "pear", "sweet_pepper"]),
    ("household_electrical_devices", false, ["clock", "keyboard", "lamp", "telephone", "television"]),
    ("household_furniture", false, ["bed", "chair", "couch", "table", "wardrobe"]),
    ("insects", true, ["bee", "beetle", "butterfly", "caterpillar", "cockroach"]),
    ("large_carnivores", true, ["bear", "leopard", "lion", "tiger", "wolf"]),
    ("large_man-made_outdoor_things", false, ["bridge", "castle", "house", "road", "skyscraper"]),
    ("large_natural_outdoor_scenes", true, ["cloud", "forest", "mountain", "plain", "sea"]),
    ("large_omnivores_and_herbivores", true, ["camel", "cattle", "chimpanzee", "elephant", "kangaroo"]),
    ("medium_mammals", true, ["fox", "porcupine", "possum", "raccoon", "skunk"]),
    ("non-insect_invertebrates", true, ["crab", "lobster", "snail", "spider", "worm"]),
    ("people", true, ["baby", "boy", "girl", "man", "woman"]),
    ("reptiles", true, ["crocodile", "dinosaur", "lizard", "snake", "turtle"]),
    ("small_mammals", true, ["hamster", "mouse", "rabbit", "shrew", "squirrel"]),
    ("trees", true, ["maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"]),
    ("vehicles_1", false, ["bicycle", "bus", "motorcycle", "pickup_truck", "train"]),
    ("vehicles_2", false, ["lawn_mower", "rocket", "streetcar", "tank", "tractor"]),
];

/// A natural / man-made preset: class names in label order and the natural
/// and man-made label sets (sorted, disjoint, covering every class).
#[derive(Debug, Clone, PartialEq)]
pub struct NatManPreset {
    /// Preset name.
    pub name: &'static str,
    /// Class names in label order.
    pub class_names: Vec<String>,
    /// Labels of natural classes, sorted.
    pub natural: Vec<usize>,
    /// Labels of man-made classes, sorted.
    pub manmade: Vec<usize>,
}

/// Names of the natural / man-made presets.
pub const NATMAN_PRESETS: [&str; 3] = ["ilsvrc12", "cifar10", "cifar100"];

fn index_lines(text: &str, what: &str) -> Vec<usize> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.trim().parse().unwrap_or_else(|_| panic!("shipped list {what} is corrupt"))).collect()
}

/// ILSVRC-2012 class names (`WNID words`) in label order.
pub fn ilsvrc12_class_names() -> Vec<String> {
    ILSVRC12_SYNSET_WORDS.lines().map(str::to_string).collect()
}

/// ILSVRC-2012 WNIDs in label order.
pub fn ilsvrc12_wnids() -> Vec<String> {
    ILSVRC12_SYNSETS.lines().map(|l| l.trim().to_string()).collect()
}

/// Look a natural / man-made preset up by name.
pub fn natman_preset(name: &str) -> Result<NatManPreset> {
    match name {
        "ilsvrc12" => Ok(NatManPreset {
            name: "ilsvrc12",
            class_names: ilsvrc12_class_names(),
            natural: index_lines(ILSVRC12_NATURAL, "half_nat_idx.txt"),
            manmade: index_lines(ILSVRC12_MANMADE, "half_man_idx.txt"),
        }),
        "cifar10" => Ok(NatManPreset {
            name: "cifar10",
            class_names: CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
            natural: vec![2, 3, 4, 5, 6, 7],
            manmade: vec![0, 1, 8, 9],
        }),
        "cifar100" => {
            let index = |n: &str| CIFAR100_CLASSES.iter().position(|c| *c == n).expect("superclass table names a CIFAR-100 class");
            let (mut natural, mut manmade) = (Vec::new(), Vec::new());
            for (_, is_natural, members) in CIFAR100_SUPERCLASSES {
                let dst = if is_natural { &mut natural } else { &mut manmade };
                dst.extend(members.iter().map(|m| index(m)));
            }
            natural.sort_unstable();
            manmade.sort_unstable();
            Ok(NatManPreset { name: "cifar100", class_names: CIFAR100_CLASSES.iter().map(|s| s.to_string()).collect(), natural, manmade })
        }
        other => Err(Error::UnknownPreset { name: other.to_string(), valid: NATMAN_PRESETS.join(", ") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, natural: usize, manmade: usize) {
        let p = natman_preset(name).expect("preset exists");
        assert_eq!((p.natural.len(), p.manmade.len()), (natural, manmade), "{name}");
        let mut all: Vec<usize> = p.natural.iter().chain(&p.manmade).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..p.class_names.len()).collect::<Vec<_>>(), "{name}: disjoint and covering");
    }

    #[test]
    fn presets_have_the_documented_sizes_and_never_overlap() {
        check("ilsvrc12", 449, 551);
        check("cifar10", 6, 4);
        check("cifar100", 70, 30);
    }

    #[test]
    fn ilsvrc12_natural_ranges_match_protocol() {
        let p = natman_preset("ilsvrc12").expect("preset");
        assert!(p.natural.contains(&0) && p.natural.contains(&397) && p.natural.contains(&970));
        assert!(p.manmade.contains(&398) && p.manmade.contains(&971) && p.manmade.contains(&999));
    }

    #[test]
    fn unknown_preset_lists_valid_ones() {
        let e = natman_preset("mnist").unwrap_err().to_string();
        assert!(e.contains("ilsvrc12, cifar10, cifar100"), "{e}");
    }
}
