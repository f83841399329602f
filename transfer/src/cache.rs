//! Frozen-prefix caching: a frozen job's layers 1..n never change, so their
//! output for a given image and augmentation is computed once, and training
//! runs only the layers above.
//!
//! **Augmentation.** The cache holds `passes` augmented copies of every
//! training image: pass `k` of image `i` is cropped and mirrored as sample
//! number `k·N + i` would be (the same draw as uncached training, see
//! `batches`). Epoch `e` reads pass `e mod passes`, in that epoch's order.
//! Every cached activation is therefore the exact activation of a real
//! augmented image through the real frozen layers; what caching changes is
//! only how many distinct augmentations each image gets (`passes` instead of
//! one per epoch). We chose this over cropping cached feature maps at
//! stride-aligned offsets because the small presets' cumulative strides
//! (2 after layer 1, 4 after 2–4, 8 after 5) leave only one or two of the
//! crop offsets of a 28-of-32 crop, zero padding makes border features of a
//! crop differ from those of the whole image, and layers 6–7 have no spatial
//! structure to crop at all.
//!
//! **Dropout.** Caffe keeps dropout active above frozen layers, and fc6's
//! dropout lies *inside* a frozen prefix of 7 layers. The cache therefore
//! holds the output of layer `min(n, 6)` without dropout; each step applies
//! that layer's dropout with the step's seed, runs any frozen layer between
//! it and n (fc7 for n = 7) on the plain backend, and trains the rest. For
//! n ≤ 6 the cached layer is layer n.
//!
//! **Evaluation** uses the same centre crop every time, so the test set's
//! prefix output is cached exactly and evaluations equal uncached ones.
//!
//! **Storage.** In memory up to [`MEMORY_LIMIT`] bytes, otherwise in a file
//! in the job's folder, memory-mapped (deleted when the job finishes).

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use data_split::preprocess::Crop;
use model::{Act, AlexNet, AlexNetConfig};

use crate::batches::{Assembly, Store, index_chunks};
use crate::error::{Error, Result};
use crate::progress::process_cpu_seconds;

/// Passes when a job asks for caching without saying how many.
pub const DEFAULT_PASSES: usize = 2;

/// [`DEFAULT_PASSES`], as serde's `default` for job and sweep files.
pub fn default_passes() -> usize {
    DEFAULT_PASSES
}

/// File name of a cached job's [`CacheInfo`], in its folder.
pub const CACHE_INFO: &str = "cache.json";

/// The [`CacheInfo`] of every job under the sweep folder `sweep` that built
/// a prefix cache (`jobs/<run_id>/cache.json`), by run id. Unreadable or
/// malformed files are left out: they describe no usable cache.
pub fn sweep_cache_infos(sweep: &Path) -> std::collections::BTreeMap<String, CacheInfo> {
    let Ok(entries) = std::fs::read_dir(crate::record::SweepLayout::new(sweep).jobs()) else { return Default::default() };
    entries
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join(CACHE_INFO)).ok()?;
            let info = serde_json::from_str::<CacheInfo>(&text).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), info))
        })
        .collect()
}

/// Caches larger than this go to a memory-mapped file.
pub const MEMORY_LIMIT: usize = 2 << 30;

/// The layer whose output is cached for a frozen prefix of `n` layers: the
/// last frozen layer before any dropout (see the module comment).
pub fn cached_layer(n: usize) -> usize {
    n.min(6)
}

enum Rows {
    Memory(Vec<f32>),
    Mapped { map: memmap2::Mmap, path: PathBuf },
}

impl Rows {
    fn as_slice(&self) -> &[f32] {
        match self {
            Rows::Memory(v) => v,
            Rows::Mapped { map, .. } => bytemuck::cast_slice(&map[..]),
        }
    }
}

/// Where the training rows go while the cache is built.
enum Sink {
    Memory(Vec<f32>),
    File(std::io::BufWriter<std::fs::File>),
}

impl Drop for Rows {
    fn drop(&mut self) {
        if let Rows::Mapped { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What a built cache holds and what building it cost: written as
/// `cache.json` in the job's folder, so a researcher can see where a cached
/// job's time went (and `cargo xtask cache-check` what the layers above the
/// cache cost on their own).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CacheInfo {
    /// Frozen layers.
    pub n: usize,
    /// Layer whose output is held.
    pub layer: usize,
    /// Augmented passes of the training set.
    pub passes: usize,
    /// Training images (each held once per pass).
    pub train_images: usize,
    /// Test images (centre crops, held once).
    pub test_images: usize,
    /// Floats per image: the cached layer's output size.
    pub floats_per_image: usize,
    /// Bytes held, training and test rows together.
    pub bytes: usize,
    /// `memory`, or `file` (memory-mapped) above [`MEMORY_LIMIT`].
    pub storage: String,
    /// Process CPU-seconds spent building it (frozen layers over every pass
    /// and the test set).
    pub build_cpu_seconds: f64,
    /// Wall seconds spent building it.
    pub build_wall_seconds: f64,
}

/// Cached activations of a frozen prefix.
pub struct PrefixCache {
    /// Frozen layers.
    pub n: usize,
    /// Layer whose output is held.
    pub layer: usize,
    /// Augmented passes of the training set.
    pub passes: usize,
    shape: Vec<usize>,
    per: usize,
    train_len: usize,
    train: Rows,
    train_labels: Vec<i64>,
    test: Vec<f32>,
    test_labels: Vec<i64>,
    test_batch: usize,
    /// What [`PrefixCache::build`] took: process CPU-seconds and wall seconds.
    build_seconds: [f64; 2],
}

/// Prefix output of `idx` with `crops`, as rows of `per` floats.
fn prefix_rows(fnet: &AlexNet, layer: usize, store: &Store, asm: &Assembly, idx: &[usize], crops: &[Crop], device: &Device) -> Result<Vec<f32>> {
    let (x, _) = asm.assemble(store, idx, crops)?.into_tensor(asm.crop, device);
    let out = fnet.forward_range(Act::Map(x), 0, layer, None).flat();
    let data = out.into_data().convert::<f32>();
    Ok(data.as_slice::<f32>().expect("f32 activations").to_vec())
}

/// The images a prefix cache is built from, and how they are cut.
#[derive(Clone, Copy)]
pub struct CacheImages<'a> {
    /// Training images (augmented passes).
    pub train: &'a Store,
    /// Test images (centre crops).
    pub test: &'a Store,
    /// Crop, mirror and mean subtraction.
    pub asm: &'a Assembly,
    /// The training and the test batch sizes.
    pub batches: [usize; 2],
}

impl PrefixCache {
    /// Run the frozen prefix of `fnet` over `passes` augmented passes of
    /// `train` (in chunks of the training batch size) and once over `test`
    /// (centre crops, in `test_batch` chunks as evaluation uses): the same
    /// matrix shapes as uncached training and evaluation, so the cached rows
    /// are bit for bit what those compute. Files, when needed, go into `dir`.
    pub fn build(fnet: &AlexNet, cfg: &AlexNetConfig, n: usize, passes: usize, images: CacheImages<'_>, dir: &Path, device: &Device) -> Result<Self> {
        let CacheImages { train, test, asm, batches } = images;
        let [train_batch, test_batch] = batches.map(|b| b.max(1));
        if passes == 0 {
            return Err(Error::Executor("a prefix cache needs at least one pass".into()));
        }
        let (t0, cpu0) = (std::time::Instant::now(), process_cpu_seconds().unwrap_or(0.0));
        let layer = cached_layer(n);
        let shape = cfg.output_shape(layer);
        let per: usize = shape.iter().product();
        let (len, stored) = (train.len(), train.size());
        let path = dir.join("prefix-cache.f32");
        let mut sink = if passes * len * per * 4 <= MEMORY_LIMIT {
            Sink::Memory(Vec::with_capacity(passes * len * per))
        } else {
            Sink::File(std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?))
        };
        for k in 0..passes {
            for range in index_chunks(len, train_batch) {
                let idx: Vec<usize> = range.collect();
                let crops: Vec<Crop> = idx.iter().map(|&i| asm.train_crop(stored, (k * len + i) as u64)).collect();
                let out = prefix_rows(fnet, layer, train, asm, &idx, &crops, device)?;
                match &mut sink {
                    Sink::Memory(v) => v.extend_from_slice(&out),
                    Sink::File(f) => f.write_all(bytemuck::cast_slice(&out)).map_err(|e| Error::io(&path, e))?,
                }
            }
        }
        let train_rows = match sink {
            Sink::Memory(v) => Rows::Memory(v),
            Sink::File(f) => {
                let f = f.into_inner().map_err(|e| Error::io(&path, e.into_error()))?;
                f.sync_all().map_err(|e| Error::io(&path, e))?;
                let f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
                let map = map_readonly(&f).map_err(|e| Error::io(&path, e))?;
                Rows::Mapped { map, path }
            }
        };
        let mut test_rows = Vec::with_capacity(test.len() * per);
        let centre = Crop::centre(test.size(), asm.crop);
        for range in index_chunks(test.len(), test_batch) {
            let idx: Vec<usize> = range.collect();
            test_rows.extend(prefix_rows(fnet, layer, test, asm, &idx, &vec![centre; idx.len()], device)?);
        }
        Ok(PrefixCache {
            n,
            layer,
            passes,
            shape,
            per,
            train_len: len,
            train: train_rows,
            train_labels: (0..len).map(|i| train.label(i) as i64).collect(),
            test: test_rows,
            test_labels: (0..test.len()).map(|i| test.label(i) as i64).collect(),
            test_batch,
            build_seconds: [process_cpu_seconds().unwrap_or(0.0) - cpu0, t0.elapsed().as_secs_f64()],
        })
    }

    fn act(&self, rows: Vec<f32>, count: usize, device: &Device) -> Act {
        if self.shape.len() == 3 {
            let [c, h, w] = [self.shape[0], self.shape[1], self.shape[2]];
            Act::Map(Tensor::from_data(TensorData::new(rows, [count, c, h, w]), device))
        } else {
            Act::Flat(Tensor::from_data(TensorData::new(rows, [count, self.per]), device))
        }
    }

    /// Training images the cache holds (each in every pass).
    pub fn train_images(&self) -> usize {
        self.train_len
    }

    /// What the cache holds and what building it cost.
    pub fn info(&self) -> CacheInfo {
        let train = self.train.as_slice().len();
        CacheInfo {
            n: self.n,
            layer: self.layer,
            passes: self.passes,
            train_images: self.train_len,
            test_images: self.test_labels.len(),
            floats_per_image: self.per,
            bytes: (train + self.test.len()) * 4,
            storage: match self.train {
                Rows::Memory(_) => "memory",
                Rows::Mapped { .. } => "file",
            }
            .into(),
            build_cpu_seconds: self.build_seconds[0],
            build_wall_seconds: self.build_seconds[1],
        }
    }

    /// The cached rows of training samples `gs` (sample numbers) of images
    /// `idx`, as layer `layer`'s output, and their labels.
    pub fn train_batch(&self, idx: &[usize], gs: &[u64], device: &Device) -> (Act, Vec<i64>) {
        let all = self.train.as_slice();
        let mut rows = Vec::with_capacity(idx.len() * self.per);
        for (&i, &g) in idx.iter().zip(gs) {
            let pass = ((g / self.train_len as u64) % self.passes as u64) as usize;
            let at = (pass * self.train_len + i) * self.per;
            rows.extend_from_slice(&all[at..at + self.per]);
        }
        (self.act(rows, idx.len(), device), idx.iter().map(|&i| self.train_labels[i]).collect())
    }

    /// Layers n+1..8's training input for a cached batch: the cached layer's
    /// dropout, then the frozen layers above it (plain backend).
    pub fn frozen_rest(&self, fnet: &AlexNet, act: Act, dropout_seed: u64) -> Act {
        let act = fnet.dropout_after(self.layer, act, Some(dropout_seed));
        fnet.forward_range(act, self.layer, self.n, Some(dropout_seed))
    }

    /// Test batches in evaluation order: (the cached layer's output, labels).
    pub fn test_batches<'a>(&'a self, device: &'a Device) -> impl Iterator<Item = (Act, Vec<i64>)> + 'a {
        index_chunks(self.test_labels.len(), self.test_batch).map(move |r| {
            let rows = self.test[r.start * self.per..r.end * self.per].to_vec();
            (self.act(rows, r.len(), device), self.test_labels[r].to_vec())
        })
    }
}

#[allow(unsafe_code)]
fn map_readonly(f: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the file is private to this job and not modified while mapped.
    unsafe { memmap2::Mmap::map(f) }
}
