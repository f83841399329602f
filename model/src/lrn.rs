//! Caffe's across-channel local response normalisation,
//! `y = x · (k + α/n · Σ_{window} x²)^(−β)` over `n` channels centred on
//! each channel, zero-padded at the ends (old Caffe's `LRN` layer, which
//! divides by `n` at the edges too).
//!
//! Two implementations with identical results: [`lrn_slices`] (sum of `n`
//! shifted channel slices of the zero-padded square) and burn's
//! `LocalResponseNorm` (average pooling over a reshaped tensor). Which is
//! faster depends on the shape: `cargo bench -p transferability-model`
//! measures both on each preset, and each preset uses the faster.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Which LRN implementation a network uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrnImpl {
    /// Shifted channel slices.
    Slices,
    /// `burn::nn::LocalResponseNorm`.
    Burn,
}

/// LRN parameters (Caffe: size 5, α 1e-4, β 0.75, k 1).
#[derive(Config, Debug, PartialEq)]
pub struct LrnConfig {
    /// Window size in channels.
    #[config(default = 5)]
    pub size: usize,
    /// α.
    #[config(default = 1e-4)]
    pub alpha: f64,
    /// β.
    #[config(default = 0.75)]
    pub beta: f64,
    /// k.
    #[config(default = 1.0)]
    pub k: f64,
}

/// LRN by shifted channel slices.
///
/// # Shapes
/// `[batch, channels, h, w] -> [batch, channels, h, w]`
pub fn lrn_slices(x: Tensor<4>, cfg: &LrnConfig) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let pad = (cfg.size - 1) / 2;
    let sq = x.clone().square();
    let zeros = Tensor::<4>::zeros([b, pad, h, w], &sq.device());
    let padded = Tensor::cat(vec![zeros.clone(), sq, zeros], 1); // [b, c + 2 pad, h, w]
    let mut sum = padded.clone().narrow(1, 0, c);
    for i in 1..cfg.size {
        sum = sum + padded.clone().narrow(1, i, c);
    }
    x / sum.mul_scalar(cfg.alpha / cfg.size as f64).add_scalar(cfg.k).powf_scalar(cfg.beta)
}

/// burn's `LocalResponseNorm` with the same parameters.
pub fn burn_lrn(cfg: &LrnConfig) -> burn::nn::LocalResponseNorm {
    burn::nn::LocalResponseNormConfig::new(cfg.size).with_alpha(cfg.alpha).with_beta(cfg.beta).with_k(cfg.k).init()
}

/// The reference: a naive loop over Caffe's formula, in f64.
pub fn lrn_naive(x: &[f32], shape: [usize; 4], cfg: &LrnConfig) -> Vec<f32> {
    let [b, c, h, w] = shape;
    let half = (cfg.size - 1) / 2;
    let at = |bi: usize, ci: usize, y: usize, xx: usize| x[((bi * c + ci) * h + y) * w + xx] as f64;
    let mut out = vec![0f32; x.len()];
    for bi in 0..b {
        for ci in 0..c {
            for y in 0..h {
                for xx in 0..w {
                    let lo = ci.saturating_sub(half);
                    let hi = (ci + half).min(c - 1);
                    let s: f64 = (lo..=hi).map(|j| at(bi, j, y, xx).powi(2)).sum();
                    let scale = cfg.k + cfg.alpha / cfg.size as f64 * s;
                    out[((bi * c + ci) * h + y) * w + xx] = (at(bi, ci, y, xx) * scale.powf(-cfg.beta)) as f32;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_implementations_equal_the_naive_formula() {
        let device = Device::flex();
        let shape = [2, 7, 3, 4];
        let n: usize = shape.iter().product();
        // large values so the normaliser is far from 1
        let data: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 4.0).collect();
        let cfg = LrnConfig::new();
        let want = lrn_naive(&data, shape, &cfg);
        let x = Tensor::<4>::from_data(TensorData::new(data, shape), &device);
        for (name, got) in [
            ("slices", lrn_slices(x.clone(), &cfg)),
            ("burn", burn_lrn(&cfg).forward(x.clone())),
        ] {
            let got = got.into_data();
            let got = got.as_slice::<f32>().expect("f32");
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{name}: {g} vs {w}");
            }
        }
    }
}
