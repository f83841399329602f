//! The common shape of every data source: an indexed list of labelled RGB
//! images (u8, height × width × 3) with stable ids, plus helpers to restrict a
//! source to one half of a split and to hold it in memory.

use std::sync::Arc;

use rayon::prelude::*;

use crate::error::Result;
use crate::split::Half;

/// A decoded RGB image, pixels row-major HWC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` bytes, RGB.
    pub pixels: Vec<u8>,
}

impl Image {
    /// A black image.
    pub fn zeros(width: usize, height: usize) -> Self {
        Image { width, height, pixels: vec![0; width * height * 3] }
    }
}

/// A labelled image collection. Implementations: image folders, file lists,
/// CIFAR binaries, the synthetic generator, packed shards.
pub trait Source: Send + Sync {
    /// Number of images.
    fn len(&self) -> usize;
    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Class names in label order.
    fn class_names(&self) -> &[String];
    /// Label of image `i` (no decoding).
    fn label(&self, i: usize) -> usize;
    /// A stable id of image `i` (a relative path, `file#record`, ...).
    fn id(&self, i: usize) -> String;
    /// Decode image `i`.
    fn load(&self, i: usize) -> Result<Image>;
    /// A fingerprint of the source's identity: file names and sizes, not contents.
    fn fingerprint(&self) -> String;
    /// Short description, e.g. `image-folder /data/train`.
    fn describe(&self) -> String;
}

/// A source restricted to the classes of one half, relabelled 0..N−1, and
/// optionally to the first `k` images per class.
pub struct HalfView {
    inner: Arc<dyn Source>,
    indices: Vec<usize>,
    labels: Vec<usize>,
    names: Vec<String>,
}

impl HalfView {
    /// Restrict `inner` to `half`, keeping the inner order.
    pub fn new(inner: Arc<dyn Source>, half: &Half, per_class: Option<usize>) -> Self {
        Self::select(inner, half, per_class, |_| true)
    }

    /// Restrict `inner` to the images of `half` that `keep` takes (by their
    /// index in `inner`; a validation carve, see [`crate::validation`]),
    /// keeping the inner order; `per_class` counts kept images only.
    pub fn select(inner: Arc<dyn Source>, half: &Half, per_class: Option<usize>, keep: impl Fn(usize) -> bool) -> Self {
        let mut indices = Vec::new();
        let mut labels = Vec::new();
        let mut counts = vec![0usize; half.len()];
        for i in 0..inner.len() {
            if !keep(i) {
                continue;
            }
            if let Some(l) = half.label_of(inner.label(i)) {
                if per_class.is_some_and(|k| counts[l] >= k) {
                    continue;
                }
                counts[l] += 1;
                indices.push(i);
                labels.push(l);
            }
        }
        let names = half.classes.iter().map(|c| c.name.clone()).collect();
        HalfView { inner, indices, labels, names }
    }
}

impl Source for HalfView {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn class_names(&self) -> &[String] {
        &self.names
    }
    fn label(&self, i: usize) -> usize {
        self.labels[i]
    }
    fn id(&self, i: usize) -> String {
        self.inner.id(self.indices[i])
    }
    fn load(&self, i: usize) -> Result<Image> {
        self.inner.load(self.indices[i])
    }
    fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }
    fn describe(&self) -> String {
        format!("{} ({} classes)", self.inner.describe(), self.names.len())
    }
}

/// Every image of a source decoded once into one contiguous buffer of equal
/// sized images (CIFAR, synthetic, packed data).
#[derive(Clone)]
pub struct InMemory {
    /// Image width.
    pub width: usize,
    /// Image height.
    pub height: usize,
    /// `len * height * width * 3` bytes.
    pub pixels: Arc<Vec<u8>>,
    /// Labels.
    pub labels: Arc<Vec<usize>>,
    /// Class names.
    pub names: Arc<Vec<String>>,
}

impl InMemory {
    /// Decode every image of `src` in parallel; all must share one size
    /// (resize first for folders of mixed sizes).
    pub fn load(src: &dyn Source, resize: Option<usize>) -> Result<Self> {
        let images: Vec<Image> = (0..src.len())
            .into_par_iter()
            .map(|i| {
                let im = src.load(i)?;
                Ok(match resize {
                    Some(s) if im.width != s || im.height != s => crate::preprocess::resize(&im, s, s),
                    _ => im,
                })
            })
            .collect::<Result<_>>()?;
        let (width, height) = images.first().map_or((0, 0), |im| (im.width, im.height));
        let mut pixels = Vec::with_capacity(images.len() * width * height * 3);
        for (i, im) in images.iter().enumerate() {
            if im.width != width || im.height != height {
                return Err(crate::Error::data(
                    src.id(i),
                    format!("image is {}x{}, expected {width}x{height} like the first image; give a resize", im.width, im.height),
                ));
            }
            pixels.extend_from_slice(&im.pixels);
        }
        Ok(InMemory {
            width,
            height,
            pixels: Arc::new(pixels),
            labels: Arc::new((0..src.len()).map(|i| src.label(i)).collect()),
            names: Arc::new(src.class_names().to_vec()),
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether it holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of image `i` (HWC).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.width * self.height * 3;
        &self.pixels[i * n..(i + 1) * n]
    }
}
