//! Forward and training throughput of each preset on the default backend, and
//! the two LRN implementations on each preset's LRN shapes.
//!
//! `cargo bench -p transferability-model [-- PRESET...]`; `BATCH` (default
//! 128) and `STEPS` (default 3; 1 for caffenet) change the work per preset;
//! `RAYON_NUM_THREADS` the threads.

use std::time::Instant;

use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use model::lrn::{LrnConfig, burn_lrn, lrn_slices};
use model::{AlexNetConfig, backend::Backend};

fn secs<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    f(); // warm-up
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let presets: Vec<&str> = if args.is_empty() { vec!["tiny", "cifar", "caffenet"] } else { args.iter().map(String::as_str).collect() };
    let batch: usize = std::env::var("BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(128);
    println!("backend flex, {} threads, batch {batch}", rayon::current_num_threads());
    println!("{:<9} {:>10} {:>12} {:>12} {:>12} {:>12}", "preset", "GFLOP/img", "fwd img/s", "fwd GFLOP/s", "train img/s", "train GFLOP/s");
    for p in &presets {
        let cfg = AlexNetConfig::preset(p, if *p == "caffenet" { 1000 } else { 10 }).expect("preset");
        let steps: usize = std::env::var("STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(if *p == "caffenet" { 1 } else { 3 });
        let gflop = cfg.flops_per_image() as f64 / 1e9;
        let s = cfg.image_size;
        let dev = Backend::Flex.device(false);
        let net = cfg.init(&dev, 0);
        let x = Tensor::<4>::random([batch, 3, s, s], burn::tensor::Distribution::Normal(0.0, 50.0), &dev);
        let fwd = secs(steps, || {
            let _ = net.forward(x.clone()).into_data();
        });
        let adev = Backend::Flex.device(true);
        let mut tnet = cfg.init(&adev, 0);
        let xa = Tensor::<4>::random([batch, 3, s, s], burn::tensor::Distribution::Normal(0.0, 50.0), &adev);
        let y = Tensor::<1, Int>::from_data(TensorData::new((0..batch as i64).map(|i| i % 10).collect::<Vec<_>>(), [batch]), &adev);
        let mut opt = SgdConfig::new().init();
        let loss_fn = burn::nn::loss::CrossEntropyLossConfig::new().init(&adev);
        let train = secs(steps, || {
            let loss = loss_fn.forward(tnet.forward_train(xa.clone(), 1), y.clone());
            let g = GradientsParams::from_grads(loss.backward(), &tnet);
            tnet = opt.step(0.001, tnet.clone(), g);
        });
        let (fi, ti) = (batch as f64 / fwd, batch as f64 / train);
        println!("{p:<9} {gflop:>10.3} {fi:>12.1} {:>12.1} {ti:>12.1} {:>12.1}", fi * gflop, ti * 3.0 * gflop);
    }
    println!("\nTraining img/s with layers 1..n frozen (the frozen prefix runs on the plain backend, as in `transfer`):");
    for p in presets.iter().filter(|p| **p != "caffenet") {
        let cfg = AlexNetConfig::preset(p, 10).expect("preset");
        let s = cfg.image_size;
        let adev = Backend::Flex.device(true);
        let inner = Backend::Flex.device(false);
        let x = Tensor::<4>::random([batch, 3, s, s], burn::tensor::Distribution::Normal(0.0, 50.0), &inner);
        let y = Tensor::<1, Int>::from_data(TensorData::new((0..batch as i64).map(|i| i % 10).collect::<Vec<_>>(), [batch]), &adev);
        let loss_fn = burn::nn::loss::CrossEntropyLossConfig::new().init(&adev);
        let mut line = format!("  {p:<9}");
        for n in [0usize, 3, 5, 7] {
            let mut net = cfg.init(&adev, 0).freeze_first(n).expect("n");
            let prefix = net.valid();
            let mut opt = SgdConfig::new().init();
            let t = secs(3, || {
                let act = prefix.forward_range(model::Act::Map(x.clone()), 0, n, Some(1));
                let act = match act {
                    model::Act::Map(a) => model::Act::Map(Tensor::from_inner(a)),
                    model::Act::Flat(a) => model::Act::Flat(Tensor::from_inner(a)),
                };
                let loss = loss_fn.forward(net.forward_range(act, n, 8, Some(1)).flat(), y.clone());
                let g = GradientsParams::from_grads(loss.backward(), &net);
                net = opt.step(0.001, net.clone(), g);
            });
            line.push_str(&format!("  n={n}: {:>7.1}", batch as f64 / t));
        }
        println!("{line}");
    }
    println!("\nLRN after pool1/pool2 (forward + backward, ms per batch of {batch}):");
    for p in &presets {
        let cfg = AlexNetConfig::preset(p, 10).expect("preset");
        let sp = cfg.spatial();
        for (k, (c, h)) in [(cfg.conv[0].channels, sp[0]), (cfg.conv[1].channels, sp[1])].into_iter().enumerate() {
            let dev = Backend::Flex.device(true);
            let x = Tensor::<4>::random([batch, c, h, h], burn::tensor::Distribution::Normal(0.0, 20.0), &dev).require_grad();
            let lrn = LrnConfig::new();
            let burn_m = burn_lrn(&lrn);
            let sl = secs(3, || {
                let _ = lrn_slices(x.clone(), &lrn).sum().backward();
            });
            let bu = secs(3, || {
                let _ = burn_m.forward(x.clone()).sum().backward();
            });
            println!("  {p:<9} norm{} [{c}x{h}x{h}]  slices {:>8.1}  burn {:>8.1}  -> {}", k + 1, sl * 1e3, bu * 1e3, if sl <= bu { "slices" } else { "burn" });
        }
    }
}
