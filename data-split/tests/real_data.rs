//! Checks against the real components where they are installed: WordNet 3.0
//! from Debian's `wordnet-base`, and the shared CIFAR-10 JPEG folders
//! (`TRANSFERABILITY_CIFAR10_JPG` = the unpacked `cifar10/` folder).

use std::path::{Path, PathBuf};

use data_split::optional::require;
use data_split::presets::{ilsvrc12_wnids, natman_preset};
use data_split::wordnet::{ARTIFACT, DEBIAN_DATA_NOUN, WordNet};
use data_split::{DataSet, DataSpec};

#[test]
fn wordnet_rule_on_the_real_database() {
    let Some(path) = require("WordNet 3.0", Some(Path::new(DEBIAN_DATA_NOUN)).filter(|p| p.is_file()), "apt-get install wordnet-base") else {
        return;
    };
    let wn = WordNet::open(path).expect("data.noun parses");
    let wnids = ilsvrc12_wnids();
    let rule = wn.classify(&wnids, &[ARTIFACT]).expect("every ILSVRC WNID is a noun synset");
    assert_eq!(rule.iter().filter(|&&m| m).count(), 522, "artifact descendants among the 1000 synsets");
    let preset = natman_preset("ilsvrc12").expect("preset");
    let d = wn.compare(&wnids, &preset.manmade, &[ARTIFACT]).expect("compare");
    assert_eq!(d.added_to_manmade.len(), 29, "classes the authors added to man-made");
    assert!(d.added_to_natural.is_empty(), "no artifact was called natural: {:?}", d.added_to_natural);
    let lemmas: Vec<&str> = d.added_to_manmade.iter().map(|x| x.2.as_str()).collect();
    for food_or_sign in ["pizza", "guacamole", "espresso", "street_sign", "traffic_light", "menu"] {
        assert!(lemmas.contains(&food_or_sign), "{food_or_sign} missing from {lemmas:?}");
    }
    let e = wn.descends_from("n00000001", &[ARTIFACT]).expect_err("unknown WNID").to_string();
    assert!(e.contains("unknown WNID"), "{e}");
}

fn cifar10_jpg() -> Option<PathBuf> {
    let p = std::env::var_os("TRANSFERABILITY_CIFAR10_JPG").map(PathBuf::from)?;
    p.join("train").is_dir().then_some(p)
}

#[test]
fn shared_cifar10_jpegs_read_completely() {
    let Some(root) = require(
        "the shared CIFAR-10 JPEGs",
        cifar10_jpg(),
        "unpack ../shared/data/cifar10-jpg.tar.gz and set TRANSFERABILITY_CIFAR10_JPG to its cifar10/ folder",
    ) else {
        return;
    };
    let ds = DataSet::open(&DataSpec::Path { path: root, skip_corrupt: false }).expect("layout");
    assert_eq!(ds.kind, "image-folder");
    assert_eq!(ds.train.len(), 50_000);
    assert_eq!(ds.test.len(), 10_000);
    assert_eq!(ds.train.class_names().len(), 10);
    assert_eq!(ds.train.class_names()[0], "airplane");
    // decode a sample of each part: 32x32 RGB
    for src in [&ds.train, &ds.test] {
        for i in (0..src.len()).step_by(2_501) {
            let im = src.load(i).expect("decodes");
            assert_eq!((im.width, im.height), (32, 32));
        }
    }
}
