//! Decode throughput of an image folder (default: the shared CIFAR-10 JPEGs,
//! `TRANSFERABILITY_CIFAR10_JPG`), and the packed loader against decoding
//! 256-px JPEGs, both with the training augmentation (random 227 crop,
//! mirror, mean subtraction).
//!
//! `cargo bench -p transferability-data-split --bench decode [-- FOLDER]`

use std::path::PathBuf;
use std::time::Instant;

use data_split::preprocess::{Crop, crop_into, resize};
use data_split::{DataSet, DataSpec, Source};
use rayon::prelude::*;

fn main() {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let root = arg.map(PathBuf::from).or_else(|| std::env::var_os("TRANSFERABILITY_CIFAR10_JPG").map(PathBuf::from));
    let Some(root) = root else {
        eprintln!("give a data folder or set TRANSFERABILITY_CIFAR10_JPG");
        return;
    };
    let threads = rayon::current_num_threads();
    let ds = DataSet::open(&DataSpec::Path { path: root.clone(), skip_corrupt: false }).expect("data set");
    for (name, src) in [("train", &ds.train), ("test", &ds.test)] {
        let t = Instant::now();
        let px: usize = (0..src.len()).into_par_iter().map(|i| src.load(i).expect("decodes").pixels.len()).sum();
        let s = t.elapsed().as_secs_f64();
        println!("{name}: decoded {} images ({} MB of pixels) in {s:.2}s = {:.0} img/s with {threads} threads", src.len(), px >> 20, src.len() as f64 / s);
    }
    // 256-px JPEGs (CIFAR images warped up) vs the same images packed
    let n = 2000.min(ds.train.len());
    let dir = tempfile::tempdir().expect("tmp");
    let jpg_dir = dir.path().join("jpg/train/all");
    std::fs::create_dir_all(&jpg_dir).expect("mkdir");
    (0..n).into_par_iter().for_each(|i| {
        let im = resize(&ds.train.load(i).expect("img"), 256, 256);
        image::RgbImage::from_raw(256, 256, im.pixels).expect("buffer").save(jpg_dir.join(format!("{i:05}.jpg"))).expect("save");
    });
    let jpgs = data_split::folder::FileSource::folder(&dir.path().join("jpg/train")).expect("folder");
    let mean = vec![120f32; 256 * 256 * 3];
    let augment = |px: &[u8], i: usize, out: &mut [f32]| {
        let c = Crop::random(256, 227, [(i as u32).wrapping_mul(2_654_435_761), (i as u32).wrapping_mul(40_503), i as u32]);
        crop_into(px, 256, &mean, 227, c, out);
    };
    let t = Instant::now();
    // one output buffer per thread, as batch assembly fills one batch buffer
    let buffer = || vec![0f32; 3 * 227 * 227];
    (0..n).into_par_iter().for_each_init(buffer, |out, i| {
        augment(&jpgs.load(i).expect("decode").pixels, i, out);
    });
    let jpeg_rate = n as f64 / t.elapsed().as_secs_f64();
    let packed = dir.path().join("packed");
    data_split::pack::pack(&jpgs, 256, &packed, 1000).expect("pack");
    let p = data_split::pack::PackedSource::open(&packed).expect("open");
    let t = Instant::now();
    // five passes: one pass over the packed images takes a fraction of a second
    (0..5 * n).into_par_iter().for_each_init(buffer, |out, j| {
        augment(p.bytes(j % n), j, out);
    });
    let packed_rate = (5 * n) as f64 / t.elapsed().as_secs_f64();
    println!(
        "256-px JPEG decode + augment: {jpeg_rate:.0} img/s; packed + augment: {packed_rate:.0} img/s ({:.1}x), {threads} threads",
        packed_rate / jpeg_rate
    );
}
