//! Opening a data set from a path or the built-in synthetic generator, and
//! `data inspect`.
//!
//! Layouts recognised under `--data PATH`:
//! * CIFAR-10 / CIFAR-100 binaries (`data_batch_1.bin` / `train.bin`);
//! * image folders `PATH/train/<class>/*` with `PATH/{val,test}/<class>/*`;
//! * image folders `PATH/train/<class>/*` with a file list `PATH/val.txt`
//!   (`relative/path label`, relative to `PATH/val/`), ILSVRC's validation layout;
//! * packed data written by `transferability data pack` (`PATH/train/index.json`,
//!   `PATH/test/index.json`), memory-mapped.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cifar::{CifarSource, detect};
use crate::error::{Error, Result};
use crate::folder::FileSource;
use crate::source::Source;
use crate::synthetic::SyntheticConfig;

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DataSpec {
    /// The built-in generator.
    Synthetic(SyntheticConfig),
    /// A folder in one of the recognised layouts.
    Path {
        /// The folder.
        path: PathBuf,
        /// Skip undecodable images instead of failing.
        #[serde(default)]
        skip_corrupt: bool,
    },
}

/// A data set: training and test sources sharing one label space.
#[derive(Clone)]
pub struct DataSet {
    /// Layout kind (`synthetic`, `cifar-binary`, `image-folder`).
    pub kind: String,
    /// Root path or synthetic description.
    pub root: String,
    /// Training images.
    pub train: Arc<dyn Source>,
    /// Test (validation) images.
    pub test: Arc<dyn Source>,
}

impl DataSet {
    /// Open a data set.
    pub fn open(spec: &DataSpec) -> Result<Self> {
        match spec {
            DataSpec::Synthetic(cfg) => Ok(DataSet {
                kind: "synthetic".into(),
                root: format!("synthetic:classes={},size={},seed={}{}", cfg.classes, cfg.size, cfg.seed, cfg.design.root_suffix()),
                train: Arc::new(cfg.source(true)),
                test: Arc::new(cfg.source(false)),
            }),
            DataSpec::Path { path, skip_corrupt } => open_path(path, *skip_corrupt),
        }
    }
}

fn open_path(root: &Path, skip: bool) -> Result<DataSet> {
    if !root.exists() {
        return Err(Error::data(root, "data root does not exist"));
    }
    let name = root.display().to_string();
    if let Some(kind) = detect(root) {
        return Ok(DataSet {
            kind: "cifar-binary".into(),
            root: name,
            train: Arc::new(CifarSource::open(root, kind, true)?),
            test: Arc::new(CifarSource::open(root, kind, false)?),
        });
    }
    if root.join("train/index.json").is_file() && root.join("test/index.json").is_file() {
        return Ok(DataSet {
            kind: "packed".into(),
            root: name,
            train: Arc::new(crate::pack::PackedSource::open(&root.join("train"))?),
            test: Arc::new(crate::pack::PackedSource::open(&root.join("test"))?),
        });
    }
    let train_dir = root.join("train");
    if train_dir.is_dir() {
        let train = FileSource::folder(&train_dir)?.skip_corrupt(skip);
        let names = train.class_names().to_vec();
        let test = if let Some(d) = ["val", "test"].iter().map(|d| root.join(d)).find(|d| d.is_dir() && !root.join("val.txt").is_file()) {
            let test = FileSource::folder(&d)?.skip_corrupt(skip);
            if test.class_names() != names.as_slice() {
                return Err(Error::data(&d, "test classes differ from the training classes (folder names must match)"));
            }
            test
        } else if root.join("val.txt").is_file() {
            FileSource::file_list(&root.join("val.txt"), &root.join("val"), names)?.skip_corrupt(skip)
        } else {
            return Err(Error::data(root, "found train/ but neither val/ nor test/ class folders nor val.txt"));
        };
        return Ok(DataSet { kind: "image-folder".into(), root: name, train: Arc::new(train), test: Arc::new(test) });
    }
    Err(Error::data(
        root,
        "unrecognised layout: expected CIFAR binaries (data_batch_1.bin or train.bin), train/<class>/ with val/ or test/, or packed train/ and test/",
    ))
}

/// What `data inspect` reports.
#[derive(Debug, Clone, Default)]
pub struct InspectReport {
    /// Description of each part inspected.
    pub parts: Vec<(String, PartReport)>,
}

/// One part (train or test) of an inspected data set.
#[derive(Debug, Clone, Default)]
pub struct PartReport {
    /// Images per class name.
    pub counts: BTreeMap<String, usize>,
    /// Image sizes `(w, h)` and how often they occur.
    pub sizes: BTreeMap<(usize, usize), usize>,
    /// Unreadable images: id and error.
    pub unreadable: Vec<(String, String)>,
}

/// Decode every image of a data set and summarise it.
pub fn inspect(ds: &DataSet) -> InspectReport {
    use rayon::prelude::*;
    let mut report = InspectReport::default();
    for (name, src) in [("train", &ds.train), ("test", &ds.test)] {
        let results: Vec<_> = (0..src.len()).into_par_iter().map(|i| (i, src.load(i))).collect();
        let mut part = PartReport::default();
        for (i, r) in results {
            *part.counts.entry(src.class_names()[src.label(i)].clone()).or_default() += 1;
            match r {
                Ok(im) => *part.sizes.entry((im.width, im.height)).or_default() += 1,
                Err(e) => part.unreadable.push((src.id(i), e.to_string())),
            }
        }
        report.parts.push((format!("{name}: {}", src.describe()), part));
    }
    report
}

impl fmt::Display for InspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, p) in &self.parts {
            let total: usize = p.counts.values().sum();
            writeln!(f, "{name}")?;
            writeln!(f, "  {} images in {} classes", total, p.counts.len())?;
            for (c, n) in &p.counts {
                writeln!(f, "    {c:<30} {n}")?;
            }
            let sizes: Vec<String> = p.sizes.iter().take(8).map(|((w, h), n)| format!("{w}x{h}: {n}")).collect();
            writeln!(f, "  image sizes: {}{}", sizes.join(", "), if p.sizes.len() > 8 { ", ..." } else { "" })?;
            writeln!(f, "  unreadable: {}", p.unreadable.len())?;
            for (id, e) in &p.unreadable {
                writeln!(f, "    {id}: {e}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_layout_opens_and_inspects() {
        let dir = tempfile::tempdir().expect("tmp");
        for (part, class, v) in [("train", "cat", 1u8), ("train", "dog", 2), ("val", "cat", 3), ("val", "dog", 4)] {
            let d = dir.path().join(part).join(class);
            std::fs::create_dir_all(&d).expect("mkdir");
            image::RgbImage::from_pixel(5, 4, image::Rgb([v, v, v])).save(d.join("x.png")).expect("png");
        }
        std::fs::write(dir.path().join("val/dog/broken.jpg"), b"garbage").expect("write");
        let ds = DataSet::open(&DataSpec::Path { path: dir.path().into(), skip_corrupt: false }).expect("open");
        assert_eq!(ds.kind, "image-folder");
        assert_eq!(ds.train.class_names(), ["cat", "dog"]);
        let r = inspect(&ds);
        assert_eq!(r.parts[1].1.unreadable.len(), 1);
        assert_eq!(r.parts[0].1.sizes.get(&(5, 4)), Some(&2));
        assert!(r.to_string().contains("broken.jpg"));
    }

    #[test]
    fn packed_data_opens_like_the_original() {
        let cfg = crate::synthetic::SyntheticConfig { classes: 3, train_per_class: 4, test_per_class: 2, size: 8, seed: 1, ..Default::default() };
        let dir = tempfile::tempdir().expect("tmp");
        crate::pack::pack(&cfg.source(true), 8, &dir.path().join("train"), 5).expect("pack");
        crate::pack::pack(&cfg.source(false), 8, &dir.path().join("test"), 5).expect("pack");
        let ds = DataSet::open(&DataSpec::Path { path: dir.path().into(), skip_corrupt: false }).expect("open");
        assert_eq!((ds.kind.as_str(), ds.train.len(), ds.test.len()), ("packed", 12, 6));
        assert_eq!(ds.test.load(5).expect("img"), cfg.source(false).load(5).expect("img"));
        assert_eq!(ds.train.fingerprint(), cfg.source(true).fingerprint(), "packing keeps the identity");
    }

    #[test]
    fn wrong_layout_is_explained() {
        let dir = tempfile::tempdir().expect("tmp");
        // DataSet is not Debug: match instead of expect_err
        let Err(e) = DataSet::open(&DataSpec::Path { path: dir.path().into(), skip_corrupt: false }) else { panic!("an empty folder was accepted") };
        let e = e.to_string();
        assert!(e.contains("unrecognised layout"), "{e}");
    }
}
