//! Packed data: a data set decoded once and warped to a fixed size, stored as
//! fixed-size `u8` shards (HWC records, like the authors' pre-resized
//! database) with an `index.json`, and read back memory-mapped.
//!
//! ```text
//! DIR/index.json        { version, size, classes, labels, ids, shard_len }
//! DIR/shard-00000.u8    shard_len records of size*size*3 bytes
//! ```

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::preprocess::resize;
use crate::source::{Image, Source};

/// Version of the packed layout.
pub const PACK_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Index {
    version: u32,
    size: usize,
    shard_len: usize,
    classes: Vec<String>,
    labels: Vec<usize>,
    ids: Vec<String>,
    source: String,
    fingerprint: String,
}

/// Decode `src`, warp every image to `size × size` and write shards into
/// `dir` (atomically: a temporary folder renamed into place). Returns the
/// number of images packed.
pub fn pack(src: &dyn Source, size: usize, dir: &Path, shard_len: usize) -> Result<usize> {
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let rec = size * size * 3;
    let n = src.len();
    for (s, start) in (0..n).step_by(shard_len.max(1)).enumerate() {
        let end = (start + shard_len).min(n);
        let imgs: Vec<Vec<u8>> = (start..end).into_par_iter().map(|i| Ok(resize(&src.load(i)?, size, size).pixels)).collect::<Result<_>>()?;
        let mut buf = Vec::with_capacity(imgs.len() * rec);
        imgs.iter().for_each(|p| buf.extend_from_slice(p));
        let p = tmp.join(format!("shard-{s:05}.u8"));
        std::fs::write(&p, buf).map_err(|e| Error::io(&p, e))?;
    }
    let index = Index {
        version: PACK_VERSION,
        size,
        shard_len: shard_len.max(1),
        classes: src.class_names().to_vec(),
        labels: (0..n).map(|i| src.label(i)).collect(),
        ids: (0..n).map(|i| src.id(i)).collect(),
        source: src.describe(),
        fingerprint: src.fingerprint(),
    };
    let p = tmp.join("index.json");
    std::fs::write(&p, serde_json::to_vec(&index).expect("index serialises")).map_err(|e| Error::io(&p, e))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
    Ok(n)
}

/// One part of a data set packed by [`pack_dataset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedPart {
    /// `train` or `test`.
    pub name: &'static str,
    /// Its packed folder.
    pub dir: std::path::PathBuf,
    /// Images packed.
    pub images: usize,
    /// Undecodable images skipped (`skip_corrupt`).
    pub skipped: usize,
}

/// Pack a data set's training and test parts into `out/train` and
/// `out/test` (see [`pack`]): a part that is a folder of class folders is
/// read as its own folder, so undecodable images are counted (and skipped
/// with `skip_corrupt`); anything else (CIFAR binaries, file lists such as
/// ILSVRC's `val.txt`) is opened as the data set it is. The test part is
/// `test/`, or `val/` where there is no `test/`.
pub fn pack_dataset(path: &Path, out: &Path, size: usize, shard_len: usize, skip_corrupt: bool) -> Result<Vec<PackedPart>> {
    let mut parts = Vec::new();
    for name in ["train", "test"] {
        let dir = if name == "test" && !path.join("test").is_dir() { path.join("val") } else { path.join(name) };
        let target = out.join(name);
        let (images, skipped) = if dir.is_dir() && !(name == "test" && path.join("val.txt").is_file()) {
            let src = crate::folder::FileSource::folder(&dir)?.skip_corrupt(skip_corrupt);
            (pack(&src, size, &target, shard_len)?, src.skipped())
        } else {
            let ds = crate::DataSet::open(&crate::DataSpec::Path { path: path.to_path_buf(), skip_corrupt })?;
            let src = if name == "train" { ds.train } else { ds.test };
            (pack(src.as_ref(), size, &target, shard_len)?, 0)
        };
        parts.push(PackedPart { name, dir: target, images, skipped });
    }
    Ok(parts)
}

/// A packed data set, memory-mapped.
pub struct PackedSource {
    dir: PathBuf,
    index: Index,
    shards: Vec<memmap2::Mmap>,
}

impl PackedSource {
    /// Open a folder written by [`pack`].
    pub fn open(dir: &Path) -> Result<Self> {
        let p = dir.join("index.json");
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        let index: Index = serde_json::from_slice(&bytes).map_err(|e| Error::Manifest { path: p.clone(), message: format!("not a pack index: {e}") })?;
        if index.version != PACK_VERSION {
            return Err(Error::Manifest { path: p, message: format!("pack version {}, expected {PACK_VERSION}", index.version) });
        }
        let rec = index.size * index.size * 3;
        let n_shards = index.labels.len().div_ceil(index.shard_len);
        let mut shards = Vec::with_capacity(n_shards);
        for s in 0..n_shards {
            let sp = dir.join(format!("shard-{s:05}.u8"));
            let f = std::fs::File::open(&sp).map_err(|e| Error::io(&sp, e))?;
            // SAFETY: shards are written once by `pack` and never modified in place;
            // a concurrent writer would replace the folder by rename, not mutate the file.
            #[allow(unsafe_code)]
            let m = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io(&sp, e))?;
            let expect = (index.labels.len() - s * index.shard_len).min(index.shard_len) * rec;
            if m.len() != expect {
                return Err(Error::data(&sp, format!("shard holds {} bytes, expected {expect}", m.len())));
            }
            shards.push(m);
        }
        Ok(PackedSource { dir: dir.to_path_buf(), index, shards })
    }

    /// Side of the stored images.
    pub fn size(&self) -> usize {
        self.index.size
    }

    /// The raw HWC bytes of image `i`, without copying.
    pub fn bytes(&self, i: usize) -> &[u8] {
        let rec = self.index.size * self.index.size * 3;
        let (s, k) = (i / self.index.shard_len, i % self.index.shard_len);
        &self.shards[s][k * rec..(k + 1) * rec]
    }
}

impl Source for PackedSource {
    fn len(&self) -> usize {
        self.index.labels.len()
    }
    fn class_names(&self) -> &[String] {
        &self.index.classes
    }
    fn label(&self, i: usize) -> usize {
        self.index.labels[i]
    }
    fn id(&self, i: usize) -> String {
        self.index.ids[i].clone()
    }
    fn load(&self, i: usize) -> Result<Image> {
        Ok(Image { width: self.index.size, height: self.index.size, pixels: self.bytes(i).to_vec() })
    }
    fn fingerprint(&self) -> String {
        // the packed data keeps the identity of the data it was made from
        self.index.fingerprint.clone()
    }
    fn describe(&self) -> String {
        format!("packed {} (from {})", self.dir.display(), self.index.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SyntheticConfig;

    /// A folder data set packs into `train/` and `test/` (from `val/` where
    /// there is no `test/`), its undecodable images counted and skipped
    /// when asked, refused otherwise.
    #[test]
    fn a_folder_data_set_packs_both_parts_counting_corrupt_images() {
        let dir = tempfile::tempdir().expect("tmp");
        let png = |rel: &str, v: u8| {
            let p = dir.path().join("data").join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            image::RgbImage::from_pixel(4, 4, image::Rgb([v, v, v])).save(p).expect("png");
        };
        for (i, c) in ["cat", "dog"].iter().enumerate() {
            png(&format!("train/{c}/a.png"), 10 * i as u8);
            png(&format!("train/{c}/b.png"), 20 * i as u8);
            png(&format!("val/{c}/a.png"), 30 * i as u8);
        }
        std::fs::write(dir.path().join("data/train/dog/c.png"), b"not an image").expect("write");
        let out = dir.path().join("packed");
        let parts = pack_dataset(&dir.path().join("data"), &out, 8, 3, true).expect("pack");
        let got: Vec<(&str, usize, usize)> = parts.iter().map(|p| (p.name, p.images, p.skipped)).collect();
        assert_eq!(got, [("train", 5, 1), ("test", 2, 0)]);
        assert_eq!(PackedSource::open(&out.join("test")).expect("test part").len(), 2);
        let e = pack_dataset(&dir.path().join("data"), &dir.path().join("strict"), 8, 3, false).map(|_| ()).expect_err("refused").to_string();
        assert!(e.contains("c.png"), "{e}");
    }

    #[test]
    fn pack_round_trips_and_keeps_identity() {
        let cfg = SyntheticConfig { classes: 3, train_per_class: 5, test_per_class: 1, size: 16, seed: 2, ..Default::default() };
        let src = cfg.source(true);
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("packed");
        assert_eq!(pack(&src, 16, &out, 4).expect("pack"), 15);
        let p = PackedSource::open(&out).expect("open");
        assert_eq!(p.len(), 15);
        for i in 0..15 {
            assert_eq!(p.load(i).expect("img"), src.load(i).expect("img"));
            assert_eq!((p.label(i), p.id(i)), (src.label(i), src.id(i)));
        }
        assert_eq!(p.fingerprint(), src.fingerprint());
        std::fs::write(out.join("shard-00001.u8"), b"short").expect("write");
        // PackedSource is not Debug: match instead of expect_err
        let Err(e) = PackedSource::open(&out) else { panic!("a missing shard was accepted") };
        assert!(e.to_string().contains("shard-00001.u8"));
    }
}
