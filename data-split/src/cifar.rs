//! CIFAR-10 and CIFAR-100 in their binary formats.
//!
//! * CIFAR-10: `data_batch_{1..5}.bin`, `test_batch.bin`, 3073-byte records
//!   (label, then 1024 R, 1024 G, 1024 B), names in `batches.meta.txt`.
//! * CIFAR-100: `train.bin`, `test.bin`, 3074-byte records (coarse label,
//!   fine label, pixels), names in `fine_label_names.txt` and
//!   `coarse_label_names.txt`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::presets::{CIFAR10_CLASSES, CIFAR100_CLASSES};
use crate::source::{Image, Source};

const PIXELS: usize = 32 * 32 * 3;

/// Which CIFAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarKind {
    /// 10 classes.
    Cifar10,
    /// 100 fine classes (20 coarse).
    Cifar100,
}

/// One CIFAR split (train or test) held in memory.
#[derive(Debug, Clone)]
pub struct CifarSource {
    root: PathBuf,
    /// HWC pixels of every record.
    pixels: Vec<u8>,
    labels: Vec<usize>,
    coarse: Vec<usize>,
    names: Vec<String>,
    ids: Vec<(usize, usize)>,
    files: Vec<(String, u64)>,
}

/// Detect a CIFAR binary folder: which kind it is, if any.
pub fn detect(root: &Path) -> Option<CifarKind> {
    if root.join("data_batch_1.bin").is_file() {
        Some(CifarKind::Cifar10)
    } else if root.join("train.bin").is_file() {
        Some(CifarKind::Cifar100)
    } else {
        None
    }
}

fn read_names(path: &Path, fallback: &[&str]) -> Result<Vec<String>> {
    if !path.exists() {
        return Ok(fallback.iter().map(|s| s.to_string()).collect());
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
}

impl CifarSource {
    /// Open the training (`train = true`) or test records under `root`.
    pub fn open(root: &Path, kind: CifarKind, train: bool) -> Result<Self> {
        let (files, record, names): (Vec<String>, usize, Vec<String>) = match kind {
            CifarKind::Cifar10 => (
                if train { (1..=5).map(|i| format!("data_batch_{i}.bin")).collect() } else { vec!["test_batch.bin".into()] },
                PIXELS + 1,
                read_names(&root.join("batches.meta.txt"), &CIFAR10_CLASSES)?,
            ),
            CifarKind::Cifar100 => {
                (vec![if train { "train.bin" } else { "test.bin" }.into()], PIXELS + 2, read_names(&root.join("fine_label_names.txt"), &CIFAR100_CLASSES)?)
            }
        };
        let mut src =
            CifarSource { root: root.to_path_buf(), pixels: Vec::new(), labels: Vec::new(), coarse: Vec::new(), names, ids: Vec::new(), files: Vec::new() };
        for (fi, f) in files.iter().enumerate() {
            let path = root.join(f);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            if bytes.is_empty() || bytes.len() % record != 0 {
                return Err(Error::data(&path, format!("length {} is not a multiple of the {record}-byte CIFAR record", bytes.len())));
            }
            src.files.push((f.clone(), bytes.len() as u64));
            for (ri, rec) in bytes.chunks_exact(record).enumerate() {
                let (label, coarse) = match kind {
                    CifarKind::Cifar10 => (rec[0] as usize, rec[0] as usize),
                    CifarKind::Cifar100 => (rec[1] as usize, rec[0] as usize),
                };
                if label >= src.names.len() {
                    return Err(Error::data(&path, format!("record {ri} has label {label}, expected < {}", src.names.len())));
                }
                let planes = &rec[record - PIXELS..];
                for p in 0..1024 {
                    src.pixels.extend_from_slice(&[planes[p], planes[1024 + p], planes[2048 + p]]);
                }
                src.labels.push(label);
                src.coarse.push(coarse);
                src.ids.push((fi, ri));
            }
        }
        Ok(src)
    }

    /// Coarse (superclass) label of record `i` (CIFAR-100; equals the label for CIFAR-10).
    pub fn coarse_label(&self, i: usize) -> usize {
        self.coarse[i]
    }
}

/// Write records in the CIFAR-10 binary layout (label byte + planar RGB);
/// used by tests and by `data pack --format cifar`.
pub fn write_cifar10(path: &Path, images: &[(usize, Image)]) -> Result<()> {
    let mut out = Vec::with_capacity(images.len() * (PIXELS + 1));
    for (label, im) in images {
        if im.width != 32 || im.height != 32 {
            return Err(Error::data(path, "CIFAR records are 32x32"));
        }
        out.push(*label as u8);
        for c in 0..3 {
            out.extend(im.pixels.iter().skip(c).step_by(3));
        }
    }
    std::fs::write(path, out).map_err(|e| Error::io(path, e))
}

impl Source for CifarSource {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn class_names(&self) -> &[String] {
        &self.names
    }
    fn label(&self, i: usize) -> usize {
        self.labels[i]
    }
    fn id(&self, i: usize) -> String {
        let (f, r) = self.ids[i];
        format!("{}#{r}", self.files[f].0)
    }
    fn load(&self, i: usize) -> Result<Image> {
        Ok(Image { width: 32, height: 32, pixels: self.pixels[i * PIXELS..(i + 1) * PIXELS].to_vec() })
    }
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for (f, size) in &self.files {
            h.update(format!("{f}\t{size}\n"));
        }
        format!("{:x}", h.finalize())
    }
    fn describe(&self) -> String {
        format!("cifar-binary {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: u8) -> Image {
        Image { width: 32, height: 32, pixels: (0..PIXELS).map(|i| (i as u8).wrapping_mul(seed)).collect() }
    }

    #[test]
    fn cifar10_round_trips_a_written_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let imgs: Vec<(usize, Image)> = (0..7).map(|i| (i % 10, image(i as u8 + 1))).collect();
        for i in 1..=5 {
            write_cifar10(&dir.path().join(format!("data_batch_{i}.bin")), &imgs[..(i % 3 + 1)]).expect("write");
        }
        write_cifar10(&dir.path().join("test_batch.bin"), &imgs).expect("write");
        assert_eq!(detect(dir.path()), Some(CifarKind::Cifar10));
        let test = CifarSource::open(dir.path(), CifarKind::Cifar10, false).expect("open");
        assert_eq!(test.len(), 7);
        for (i, (label, im)) in imgs.iter().enumerate() {
            assert_eq!(test.label(i), *label);
            assert_eq!(&test.load(i).expect("load"), im);
        }
        assert_eq!(test.class_names()[0], "airplane");
        assert_eq!(test.id(3), "test_batch.bin#3");
    }

    #[test]
    fn cifar100_reads_fine_and_coarse_labels() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut bytes = Vec::new();
        for (coarse, fine) in [(4u8, 0u8), (1, 1)] {
            bytes.extend([coarse, fine]);
            bytes.extend(std::iter::repeat_n(fine, PIXELS));
        }
        std::fs::write(dir.path().join("train.bin"), &bytes).expect("write");
        let s = CifarSource::open(dir.path(), CifarKind::Cifar100, true).expect("open");
        assert_eq!((s.label(1), s.coarse_label(1)), (1, 1));
        assert_eq!((s.label(0), s.coarse_label(0)), (0, 4));
        assert_eq!(s.class_names()[1], "aquarium_fish");
    }

    #[test]
    fn wrong_length_is_refused_with_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("test_batch.bin"), vec![0u8; 3073 * 2 + 5]).expect("write");
        let e = CifarSource::open(dir.path(), CifarKind::Cifar10, false).unwrap_err().to_string();
        assert!(e.contains("test_batch.bin") && e.contains("3073-byte"), "{e}");
    }
}
