//! From images to training batches: the stored images of one half (in memory
//! where they fit, decoded on demand otherwise), a deterministic order, the
//! authors' augmentation, and a bounded prefetch queue filled by a
//! background thread.
//!
//! Everything random here is a pure function of `(seed, sample number)`:
//! sample `g = iteration · batch + j` is position `g mod N` of the epoch
//! `g div N` permutation, and its crop and mirror are drawn from `(seed, g)`.
//! A resumed job therefore sees exactly the batches an uninterrupted one sees.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::prelude::*;
use crossbeam_channel::{Receiver, bounded};
use data_split::preprocess::{Crop, crop_into, mean_image, resize};
use data_split::synthetic::SplitMix64;
use data_split::{InMemory, Source};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Images held in memory when they take less than this.
pub const MEMORY_LIMIT: usize = 6 << 30;

/// The stored images of one half at the stored size.
#[derive(Clone)]
pub enum Store {
    /// Decoded once.
    Memory(InMemory),
    /// Decoded (and warped) on every access.
    Files {
        /// The source.
        src: Arc<dyn Source>,
        /// Stored side.
        size: usize,
    },
}

impl Store {
    /// Hold `src` at `size × size`, in memory when it fits.
    pub fn open(src: Arc<dyn Source>, size: usize) -> Result<Self> {
        if src.len() * size * size * 3 <= MEMORY_LIMIT { Ok(Store::Memory(InMemory::load(src.as_ref(), Some(size))?)) } else { Ok(Store::Files { src, size }) }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        match self {
            Store::Memory(m) => m.len(),
            Store::Files { src, .. } => src.len(),
        }
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Label of image i.
    pub fn label(&self, i: usize) -> usize {
        match self {
            Store::Memory(m) => m.labels[i],
            Store::Files { src, .. } => src.label(i),
        }
    }

    /// Stored side.
    pub fn size(&self) -> usize {
        match self {
            Store::Memory(m) => m.width,
            Store::Files { size, .. } => *size,
        }
    }

    /// HWC bytes of image i at the stored size.
    pub fn pixels(&self, i: usize) -> Result<Cow<'_, [u8]>> {
        match self {
            Store::Memory(m) => Ok(Cow::Borrowed(m.image(i))),
            Store::Files { src, size } => Ok(Cow::Owned(resize(&src.load(i)?, *size, *size).pixels)),
        }
    }

    /// The mean image (HWC f32).
    pub fn mean(&self) -> Result<Vec<f32>> {
        let size = self.size();
        match self {
            Store::Memory(m) => Ok(mean_image((0..m.len()).map(|i| m.image(i)), size)),
            Store::Files { .. } => {
                let mut acc = vec![0f64; size * size * 3];
                for i in 0..self.len() {
                    for (a, p) in acc.iter_mut().zip(self.pixels(i)?.iter()) {
                        *a += *p as f64;
                    }
                }
                Ok(acc.iter().map(|a| (a / self.len().max(1) as f64) as f32).collect())
            }
        }
    }
}

/// A batch ready for the network: CHW floats and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `n × 3 × crop × crop`.
    pub images: Vec<f32>,
    /// `n` labels.
    pub labels: Vec<i64>,
}

impl Batch {
    /// The images as a `[n, 3, crop, crop]` tensor on `device`, and the labels.
    pub fn into_tensor(self, crop: usize, device: &Device) -> (Tensor<4>, Vec<i64>) {
        let n = self.labels.len();
        (Tensor::from_data(TensorData::new(self.images, [n, 3, crop, crop]), device), self.labels)
    }
}

/// `0..len` in consecutive ranges of `size` indices (the last may be shorter).
pub fn index_chunks(len: usize, size: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let size = size.max(1);
    (0..len).step_by(size).map(move |start| start..(start + size).min(len))
}

/// The permutation of `0..n` for one epoch.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        v.swap(i, rng.below(i + 1));
    }
    v
}

/// How to assemble batches.
#[derive(Debug, Clone)]
pub struct Assembly {
    /// Mean image at the stored size.
    pub mean: Arc<Vec<f32>>,
    /// Crop side.
    pub crop: usize,
    /// Mirror in training.
    pub mirror: bool,
    /// Seed of order and augmentation.
    pub seed: u64,
}

impl Assembly {
    /// The training crop of sample number `g` of image `i`.
    pub fn train_crop(&self, stored: usize, g: u64) -> Crop {
        let mut rng = SplitMix64::new(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ g);
        let draws = [rng.next_u64() as u32, rng.next_u64() as u32, rng.next_u64() as u32];
        let c = Crop::random(stored, self.crop, draws);
        Crop { mirror: self.mirror && c.mirror, ..c }
    }

    /// Assemble images `idx` with their crops.
    pub fn assemble(&self, store: &Store, idx: &[usize], crops: &[Crop]) -> Result<Batch> {
        self.assemble_on(store, idx, crops, true)
    }

    /// [`Assembly::assemble`], its images cropped in parallel on the
    /// current rayon pool or, without `parallel`, one after another on
    /// this thread (the same batch either way).
    pub fn assemble_on(&self, store: &Store, idx: &[usize], crops: &[Crop], parallel: bool) -> Result<Batch> {
        let per = 3 * self.crop * self.crop;
        let mut images = vec![0f32; idx.len() * per];
        let stored = store.size();
        let one = |(out, (&i, &c)): (&mut [f32], (&usize, &Crop))| -> Result<()> {
            crop_into(&store.pixels(i)?, stored, &self.mean, self.crop, c, out);
            Ok(())
        };
        if parallel {
            images.par_chunks_mut(per).zip(idx.par_iter().zip(crops.par_iter())).try_for_each(one)?;
        } else {
            images.chunks_mut(per).zip(idx.iter().zip(crops)).try_for_each(one)?;
        }
        Ok(Batch { images, labels: idx.iter().map(|&i| store.label(i) as i64).collect() })
    }

    /// Image indices and sample numbers of training iteration `it` at batch
    /// size `bs` over `n` images; `order` caches the current epoch's permutation.
    pub fn train_plan(&self, n: usize, bs: usize, it: u64, order: &mut Option<(u64, Vec<usize>)>) -> (Vec<usize>, Vec<u64>) {
        let mut idx = Vec::with_capacity(bs);
        let mut gs = Vec::with_capacity(bs);
        for j in 0..bs as u64 {
            let g = it * bs as u64 + j;
            let (epoch, pos) = (g / n as u64, (g % n as u64) as usize);
            if order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                *order = Some((epoch, epoch_order(n, self.seed, epoch)));
            }
            idx.push(order.as_ref().expect("set above").1[pos]);
            gs.push(g);
        }
        (idx, gs)
    }
}

/// Training batches for iterations `start..end`, produced ahead by a
/// background thread into a bounded queue. Its images are cropped on the
/// global rayon pool where `parallel` (a GPU job, whose CPU threads are
/// free for it), else on the prefetch thread alone: a CPU job computes on
/// its own pool of its `--threads` threads (`crate::train`), and the crops
/// (about 1% of a step) must not take as many again.
pub struct Prefetcher {
    rx: Receiver<Result<Batch>>,
    waited: Duration,
}

impl Prefetcher {
    /// Start producing.
    pub fn start(store: Store, asm: Assembly, bs: usize, (start, end): (u64, u64), depth: usize, parallel: bool) -> Self {
        let (tx, rx) = bounded(depth.max(1));
        std::thread::Builder::new()
            .name("prefetch".into())
            .spawn(move || {
                let stored = store.size();
                let mut order = None;
                for it in start..end {
                    let (idx, gs) = asm.train_plan(store.len(), bs, it, &mut order);
                    let crops: Vec<Crop> = gs.iter().map(|&g| asm.train_crop(stored, g)).collect();
                    if tx.send(asm.assemble_on(&store, &idx, &crops, parallel)).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn the prefetch thread");
        Prefetcher { rx, waited: Duration::ZERO }
    }

    /// The next batch; time spent waiting is counted.
    pub fn next_batch(&mut self) -> Result<Batch> {
        let t = Instant::now();
        let b = self.rx.recv().map_err(|_| Error::Executor("the prefetch thread stopped".into()))?;
        self.waited += t.elapsed();
        b
    }

    /// Total time spent waiting for batches.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

/// The training data path's rate on this machine: what the prefetch
/// thread does for every step (the epoch's order, the crops' draws, then
/// reading, cropping, mirroring and mean-subtracting each image into a
/// CHW batch), and the batch made a tensor of the plain CPU backend (the
/// copy a GPU upload starts from).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedRate {
    /// Threads of the pool the batches were assembled on (as the pool reports them).
    pub threads: usize,
    /// Images assembled.
    pub images: usize,
    /// Images per second assembling batches (order, crops, pixels).
    pub assemble_img_s: f64,
    /// Images per second making the batches tensors.
    pub tensor_img_s: f64,
    /// Both, one after the other: what one producer feeds a step.
    pub img_s: f64,
}

/// Assemble `batches` training batches of `batch` images from `store` as
/// training does (iterations 0, 1, …; [`Assembly::train_plan`],
/// [`Assembly::train_crop`], [`Assembly::assemble`]) on a pool of
/// `threads`, and time them: [`FeedRate`].
pub fn measure_feed(store: &Store, asm: &Assembly, batch: usize, batches: usize, threads: usize) -> Result<FeedRate> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|e| Error::Executor(format!("a pool of {threads} threads: {e}")))?;
    let device = model::backend::Backend::Flex.device(false);
    pool.install(|| {
        let threads = rayon::current_num_threads();
        let stored = store.size();
        let mut order = None;
        let (mut assemble, mut tensor) = (Duration::ZERO, Duration::ZERO);
        let mut images = 0;
        for it in 0..batches as u64 {
            let t = Instant::now();
            let (idx, gs) = asm.train_plan(store.len(), batch, it, &mut order);
            let crops: Vec<Crop> = gs.iter().map(|&g| asm.train_crop(stored, g)).collect();
            let b = asm.assemble(store, &idx, &crops)?;
            assemble += t.elapsed();
            images += b.labels.len();
            let t = Instant::now();
            let (x, _) = b.into_tensor(asm.crop, &device);
            std::hint::black_box(x);
            tensor += t.elapsed();
        }
        let rate = |d: Duration| images as f64 / d.as_secs_f64().max(1e-9);
        Ok(FeedRate { threads, images, assemble_img_s: rate(assemble), tensor_img_s: rate(tensor), img_s: rate(assemble + tensor) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use data_split::synthetic::SyntheticConfig;

    /// The measurement assembles what training assembles: as many images
    /// as asked, at a finite rate.
    #[test]
    fn the_feed_is_measured_over_the_batches_asked_for() {
        let st = store();
        let asm = Assembly { mean: Arc::new(st.mean().expect("mean")), crop: 6, mirror: true, seed: 9 };
        let r = measure_feed(&st, &asm, 5, 7, 2).expect("measured");
        assert_eq!((r.threads, r.images), (2, 35));
        assert!(r.img_s.is_finite() && r.img_s > 0.0, "{r:?}");
        assert_eq!(measure_feed(&st, &asm, 5, 1, 3).expect("measured").threads, 3, "on a pool of the threads asked for");
    }

    fn store() -> Store {
        let cfg = SyntheticConfig { classes: 3, train_per_class: 4, test_per_class: 1, size: 8, seed: 1, ..Default::default() };
        Store::open(Arc::new(cfg.source(true)), 8).expect("store")
    }

    #[test]
    fn order_is_a_permutation_and_depends_on_epoch() {
        let a = epoch_order(50, 3, 0);
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
        assert_ne!(a, epoch_order(50, 3, 1));
        assert_eq!(a, epoch_order(50, 3, 0));
    }

    #[test]
    fn prefetched_batches_equal_direct_ones_from_any_start() {
        let st = store();
        let mean = Arc::new(st.mean().expect("mean"));
        let asm = Assembly { mean, crop: 6, mirror: true, seed: 9 };
        let mut full = Prefetcher::start(st.clone(), asm.clone(), 5, (0, 6), 2, true);
        let all: Vec<Batch> = (0..6).map(|_| full.next_batch().expect("batch")).collect();
        let mut resumed = Prefetcher::start(st, asm, 5, (3, 6), 2, false);
        for b in &all[3..] {
            assert_eq!(&resumed.next_batch().expect("batch"), b);
        }
        assert_eq!(all[0].images.len(), 5 * 3 * 36);
    }
}
