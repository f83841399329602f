//! Forward and training throughput of the presets, with layers 1..n frozen,
//! and the two LRN implementations on each preset's LRN shapes.
//!
//! ```text
//! cargo bench -p transferability-model --bench throughput [-- PRESET...]   human tables
//! ... -- --compare PRESET [--backend B] [--steps N] [--warmup N]           RESULT lines (xtask bench)
//! ... -- --config-json PRESET                                              the network, for the PyTorch script
//! ... -- --breakdown PRESET [--backend B]                                   milliseconds per layer block, forward and forward+backward
//! ... -- --cache-bound [PRESET...]                                           the most a frozen-prefix cache can save, per n (FLOPs, not timed)
//! ... -- --peak                                                              PEAK line: the kernels' ISA and the measured multiply-add peak
//! ```
//!
//! `BATCH` (default 128) and `STEPS` change the work per preset;
//! `RAYON_NUM_THREADS` the threads of the flex backend. `--backend cuda:0`
//! needs `--features cuda`. Every timed step ends by reading a scalar back,
//! so asynchronous GPU backends are timed to completion.

use std::time::Instant;

use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig};
use burn::prelude::*;
use kernels::lrn::{LrnConfig, burn_lrn, lrn_slices};
use model::{AlexNetConfig, ModelPreset, backend::Backend};

/// Process CPU-seconds (all threads); 0 where there is no procfs.
fn cpu_seconds() -> f64 {
    model::backend::process_cpu_seconds().unwrap_or(0.0)
}

/// Median wall seconds per call and CPU-seconds per call over `steps` calls
/// after `warmup` untimed ones.
fn measure<F: FnMut()>(warmup: usize, steps: usize, mut f: F) -> (f64, f64) {
    for _ in 0..warmup {
        f();
    }
    let mut walls = Vec::with_capacity(steps);
    let c0 = cpu_seconds();
    for _ in 0..steps {
        let t = Instant::now();
        f();
        walls.push(t.elapsed().as_secs_f64());
    }
    let cpu = (cpu_seconds() - c0) / steps as f64;
    walls.sort_by(f64::total_cmp);
    (walls[walls.len() / 2], cpu)
}

fn secs<F: FnMut()>(reps: usize, f: F) -> f64 {
    measure(1, reps, f).0
}

fn optimizer() -> ModuleOptimizer {
    // SGD as the pinned benchmark: momentum 0.9 (no dampening), weight decay 5e-4
    SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_momentum(0.9).with_dampening(0.0)))
        .with_weight_decay(Some(WeightDecayConfig::new(5e-4)))
        .init()
}

fn labels(batch: usize, classes: usize, dev: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new((0..batch as i64).map(|i| i % classes as i64).collect::<Vec<_>>(), [batch]), dev)
}

/// The preset a command line names (a panic naming the valid ones otherwise).
fn preset_of(name: &str) -> ModelPreset {
    name.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// A preset's network with the fc8 of its data: 1000 classes for
/// `caffenet`, 10 for the small presets.
fn config(name: &str) -> AlexNetConfig {
    let p = preset_of(name);
    AlexNetConfig::preset(p, if p == ModelPreset::Caffenet { 1000 } else { 10 })
}

struct Opts {
    backend: Backend,
    batch: usize,
    steps: Option<usize>,
    warmup: usize,
}

/// Median seconds and CPU-seconds of one forward and one training step.
fn time_preset(cfg: &AlexNetConfig, o: &Opts, steps: usize) -> [(f64, f64); 2] {
    let (s, batch) = (cfg.image_size, o.batch);
    let dev = o.backend.device(false);
    let net = cfg.init(&dev, 0);
    let x = Tensor::<4>::random([batch, 3, s, s], burn::tensor::Distribution::Normal(0.0, 50.0), &dev);
    let fwd = measure(o.warmup, steps, || {
        let _ = net.forward(x.clone()).sum().into_scalar::<f32>();
    });
    let adev = o.backend.device(true);
    let mut tnet = cfg.init(&adev, 0);
    let xa = Tensor::<4>::random([batch, 3, s, s], burn::tensor::Distribution::Normal(0.0, 50.0), &adev);
    let y = labels(batch, cfg.num_outputs.min(10), &adev);
    let mut opt = optimizer();
    let loss_fn = burn::nn::loss::CrossEntropyLossConfig::new().init(&adev);
    let mut it = 0u64;
    let train = measure(o.warmup, steps, || {
        it += 1;
        let loss = loss_fn.forward(tnet.forward_train(xa.clone(), it), y.clone());
        let _ = loss.clone().into_scalar::<f32>();
        let g = GradientsParams::from_grads(loss.backward(), &tnet);
        tnet = opt.step(0.001, tnet.clone(), g);
    });
    [fwd, train]
}

/// Training FLOPs per image: forward, input gradients and weight gradients,
/// less conv1's input gradient (nothing needs it).
fn train_flops(cfg: &AlexNetConfig) -> u64 {
    2 * cfg.step_macs(0)
}

/// `--cache-bound [PRESET...]`: per preset and frozen prefix n, the MFLOP of
/// one training step per image without and with a prefix cache that cost
/// nothing to build, and their ratio ([`AlexNetConfig::cache_bound`]): the
/// most any cache can save there. Arithmetic only, nothing is timed.
fn cache_bounds(presets: &[&str]) {
    println!("{:<9} {:>2} {:>14} {:>12} {:>7}", "preset", "n", "step MFLOP", "cached", "bound");
    for p in presets {
        let cfg = config(p);
        for n in 1..=7 {
            let step = 2.0 * cfg.step_macs(n) as f64 / 1e6;
            let bound = cfg.cache_bound(n);
            println!("{p:<9} {n:>2} {step:>14.1} {:>12.1} {bound:>6.2}x", step / bound);
        }
    }
}

/// `--breakdown PRESET`: where a training step's time goes. Each layer block
/// (conv, ReLU, pool, LRN; or fc, ReLU, dropout) alone: forward on the plain
/// backend, and forward + backward on the autodiff one (the input gradient
/// only where a layer below needs it, i.e. not for layer 1). The rest of a
/// step (loss, the SGD update, framework overhead) is the full step less the
/// blocks. Lines: `BLOCK engine=... preset=... layer=K fwd_ms=... fwdbwd_ms=...`.
fn breakdown(preset: &str, o: &Opts) {
    let cfg = config(preset);
    let steps = o.steps.unwrap_or(if preset == "caffenet" { 3 } else { 10 });
    let (plain, adev) = (o.backend.device(false), o.backend.device(true));
    let (net, anet) = (cfg.init(&plain, 0), cfg.init(&adev, 0));
    let input = |k: usize, dev: &Device| -> model::Act {
        let dist = burn::tensor::Distribution::Normal(0.0, 1.0);
        match k {
            1 => model::Act::Map(Tensor::random([o.batch, 3, cfg.image_size, cfg.image_size], dist, dev)),
            2..=6 => {
                let s = cfg.output_shape(k - 1);
                model::Act::Map(Tensor::random([o.batch, s[0], s[1], s[2]], dist, dev))
            }
            _ => model::Act::Flat(Tensor::random([o.batch, cfg.output_shape(k - 1)[0]], dist, dev)),
        }
    };
    // median seconds of a forward pass (plain backend) and of forward + backward (autodiff)
    let time = |mut fwd: Box<dyn FnMut() -> Tensor<1> + '_>, mut both: Box<dyn FnMut() -> Tensor<1> + '_>| {
        let (f, _) = measure(o.warmup, steps, || {
            let _ = fwd().into_scalar::<f32>();
        });
        let (b, _) = measure(o.warmup, steps, || {
            let y = both();
            let _ = y.clone().into_scalar::<f32>();
            let _ = y.backward();
        });
        (f, b)
    };
    let mut total = 0.0;
    for k in 1..=8 {
        let x = input(k, &plain);
        let xa = match input(k, &adev) {
            model::Act::Map(t) if k > 1 => model::Act::Map(t.require_grad()),
            model::Act::Flat(t) => model::Act::Flat(t.require_grad()),
            a => a,
        };
        let (fwd, both) = time(Box::new(|| net.layer(k, x.clone(), Some(1)).flat().sum()), Box::new(|| anet.layer(k, xa.clone(), Some(1)).flat().sum()));
        total += both;
        // the convolution alone (layers 1-5): what the block's pooling, LRN and ReLU add is the difference
        // (through the op the network uses: `kernels::conv` on flex, burn's elsewhere)
        let conv = |net: &model::AlexNet, x: Tensor<4>| {
            let layer = [&net.conv1, &net.conv2, &net.conv3, &net.conv4, &net.conv5][k - 1];
            kernels::conv::conv2d(layer, x)
        };
        let (cf, cb) = match (k, &x, &xa) {
            (1..=5, model::Act::Map(x), model::Act::Map(xa)) => time(Box::new(|| conv(&net, x.clone()).sum()), Box::new(|| conv(&anet, xa.clone()).sum())),
            _ => (f64::NAN, f64::NAN),
        };
        println!(
            "BLOCK engine=burn-{} preset={preset} layer={k} fwd_ms={:.2} fwdbwd_ms={:.2} conv_fwd_ms={:.2} conv_fwdbwd_ms={:.2}",
            o.backend.name(),
            fwd * 1e3,
            both * 1e3,
            cf * 1e3,
            cb * 1e3
        );
    }
    let [(_, _), (step, _)] = time_preset(&cfg, o, steps);
    println!("BLOCK engine=burn-{} preset={preset} layer=rest fwd_ms=0.00 fwdbwd_ms={:.2}", o.backend.name(), (step - total) * 1e3);
}

/// `--compare PRESET`: RESULT lines that `cargo xtask bench` parses.
fn compare(preset: &str, o: &Opts) {
    let cfg = config(preset);
    let steps = o.steps.unwrap_or(if preset == "caffenet" { 5 } else { 20 });
    // 0 = a GPU; libtorch's CPU pool defaults to the cores, as rayon's does
    let threads = if o.backend.name().contains("cuda") { 0 } else { rayon::current_num_threads() };
    let [fwd, train] = time_preset(&cfg, o, steps);
    for (mode, (wall, cpu), flops) in [("forward", fwd, cfg.flops_per_image()), ("train", train, train_flops(&cfg))] {
        println!(
            "RESULT engine=burn-{} preset={preset} mode={mode} threads={threads} batch={} steps={steps} img_s={:.3} cpu_s_per_img={:.6} flop_per_img={flops}",
            o.backend.name(),
            o.batch,
            o.batch as f64 / wall,
            cpu / o.batch as f64
        );
    }
}

fn tables(presets: &[&str], o: &Opts) {
    let batch = o.batch;
    println!("backend {}, {} threads, batch {batch}", o.backend.name(), rayon::current_num_threads());
    println!("{:<9} {:>10} {:>12} {:>12} {:>12} {:>12}", "preset", "GFLOP/img", "fwd img/s", "fwd GFLOP/s", "train img/s", "train GFLOP/s");
    for p in presets {
        let cfg = config(p);
        let steps = o.steps.unwrap_or(if *p == "caffenet" { 1 } else { 3 });
        let [(fwd, _), (train, _)] = time_preset(&cfg, &Opts { warmup: 1, ..*o }, steps);
        let (fi, ti) = (batch as f64 / fwd, batch as f64 / train);
        let g = cfg.flops_per_image() as f64 / 1e9;
        println!("{p:<9} {g:>10.3} {fi:>12.1} {:>12.1} {ti:>12.1} {:>12.1}", fi * g, ti * train_flops(&cfg) as f64 / 1e9);
    }
    println!("\nTraining img/s with layers 1..n frozen (the frozen prefix runs on the plain backend, as in `transfer`):");
    for p in presets.iter().filter(|p| **p != "caffenet") {
        let cfg = AlexNetConfig::preset(preset_of(p), 10);
        let s = cfg.image_size;
        let adev = o.backend.device(true);
        let inner = o.backend.device(false);
        let x = Tensor::<4>::random([batch, 3, s, s], burn::tensor::Distribution::Normal(0.0, 50.0), &inner);
        let y = labels(batch, 10, &adev);
        let loss_fn = burn::nn::loss::CrossEntropyLossConfig::new().init(&adev);
        let mut line = format!("  {p:<9}");
        for n in [0usize, 3, 5, 7] {
            let mut net = cfg.init(&adev, 0).freeze_first(n).expect("n");
            let prefix = net.valid();
            let mut opt = optimizer();
            let t = secs(3, || {
                let act = prefix.forward_range(model::Act::Map(x.clone()), 0, n, Some(1)).into_autodiff();
                let loss = loss_fn.forward(net.forward_range(act, n, 8, Some(1)).flat(), y.clone());
                let _ = loss.clone().into_scalar::<f32>();
                let g = GradientsParams::from_grads(loss.backward(), &net);
                net = opt.step(0.001, net.clone(), g);
            });
            line.push_str(&format!("  n={n}: {:>7.1}", batch as f64 / t));
        }
        println!("{line}");
    }
    println!("\nLRN after pool1/pool2 (forward + backward, ms per batch of {batch}):");
    for p in presets {
        let cfg = AlexNetConfig::preset(preset_of(p), 10);
        let sp = cfg.spatial();
        for (k, (c, h)) in [(cfg.conv[0].channels, sp[0]), (cfg.conv[1].channels, sp[1])].into_iter().enumerate() {
            let dev = o.backend.device(true);
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

/// The system allocator with large freed blocks kept for reuse.
#[global_allocator]
static ALLOC: kernels::memory::KeepLarge = kernels::memory::KeepLarge;

fn main() {
    kernels::memory::keep_freed_memory();
    let mut args = std::env::args().skip(1).peekable();
    let mut o = Opts {
        backend: Backend::Flex,
        batch: std::env::var("BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(128),
        steps: std::env::var("STEPS").ok().and_then(|s| s.parse().ok()),
        warmup: 3,
    };
    let (mut presets, mut compare_preset, mut json_preset, mut breakdown_preset) = (Vec::new(), None, None, None);
    let (mut bounds, mut peak) = (false, false);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match a.as_str() {
            "--backend" => o.backend = Backend::parse(&value("--backend")).unwrap_or_else(|e| panic!("{e}")),
            "--steps" => o.steps = Some(value("--steps").parse().expect("--steps N")),
            "--warmup" => o.warmup = value("--warmup").parse().expect("--warmup N"),
            "--batch" => o.batch = value("--batch").parse().expect("--batch N"),
            "--compare" => compare_preset = Some(value("--compare")),
            "--config-json" => json_preset = Some(value("--config-json")),
            "--breakdown" => breakdown_preset = Some(value("--breakdown")),
            "--cache-bound" => bounds = true,
            "--peak" => peak = true,
            "--bench" => {} // what `cargo bench` passes
            s if s.starts_with('-') => panic!("unknown option {s}"),
            s => presets.push(s.to_string()),
        }
    }
    if peak {
        // all of rayon's threads at once, at the level the kernels run at
        let (level, threads) = (isa::active(), rayon::current_num_threads());
        println!("PEAK isa={level} threads={threads} gflops={:.1}", kernels::peak::measured_gflops(level, threads, 1.0));
    } else if let Some(p) = json_preset {
        let cfg = config(&p);
        println!("{}", serde_json::to_string(&cfg).expect("config serialises"));
    } else if let Some(p) = compare_preset {
        // on a thread of the pool, as a training job runs (`transfer::train`):
        // the kernels' parallel loops start there, with no hand-off per call
        rayon::scope(|_| compare(&p, &o));
    } else if let Some(p) = breakdown_preset {
        rayon::scope(|_| breakdown(&p, &o));
    } else {
        let presets: Vec<&str> = if presets.is_empty() { vec!["tiny", "cifar", "bench", "caffenet"] } else { presets.iter().map(String::as_str).collect() };
        if bounds { cache_bounds(&presets) } else { tables(&presets, &o) }
    }
}
