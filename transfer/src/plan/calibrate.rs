//! A machine's training speed, measured: the basis of `sweep --dry-run`'s
//! estimates.

use crate::error::{Error, Result};

/// Training speed of one job thread on this machine, measured rather than
/// looked up: a few SGD steps (forward, loss, backward) of `model` at its
/// crop size on random images, in a one-thread pool, the first step
/// discarded. Returns training images per CPU-second. Takes seconds; the
/// basis of `sweep --dry-run` estimates.
pub fn calibrate(model: model::ModelPreset, num_outputs: usize, batch: usize) -> Result<f64> {
    use burn::prelude::*;
    let cfg = model::AlexNetConfig::preset(model, num_outputs);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| Error::Plan(format!("calibration pool: {e}")))?;
    // big models at small batches: the cost per image barely depends on the batch
    let batch = batch.clamp(1, if cfg.image_size > 100 { 8 } else { 32 });
    pool.install(|| {
        let device = model::backend::Backend::Flex.device(true);
        let net = cfg.init(&device, 1);
        let loss_fn = burn::nn::loss::CrossEntropyLossConfig::new().init(&device);
        let side = cfg.image_size;
        let step = |seed: u64| {
            // images: any values will do; these are a fixed function of the step, not burn's global RNG
            let pixels: Vec<f32> = (0..batch * 3 * side * side).map(|i| ((i as u64 * 2_654_435_761 + seed) % 101) as f32 - 50.0).collect();
            let x = Tensor::<4>::from_data(TensorData::new(pixels, [batch, 3, side, side]), &device);
            let labels: Vec<i64> = (0..batch).map(|i| (i % num_outputs) as i64).collect();
            let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &device);
            let loss = loss_fn.forward(net.forward_train(x, seed), labels);
            let _ = loss.backward();
        };
        step(0);
        let (cpu0, t0) = (crate::progress::process_cpu_seconds().unwrap_or(0.0), std::time::Instant::now());
        // CPU time of this process (the pool has one thread), else wall time
        let spent = || crate::progress::process_cpu_seconds().map_or(t0.elapsed().as_secs_f64(), |c| c - cpu0);
        // at least 3 steps and half a second, at most 50 steps
        let mut steps = 0u64;
        while steps < 3 || (spent() < 0.5 && steps < 50) {
            steps += 1;
            step(steps);
        }
        Ok((steps * batch as u64) as f64 / spent().max(1e-9))
    })
}
