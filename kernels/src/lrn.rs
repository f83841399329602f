//! Caffe's across-channel local response normalisation,
//! `y = x · (k + α/n · Σ_{window} x²)^(−β)` over `n` channels centred on
//! each channel, zero-padded at the ends (old Caffe's `LRN` layer, which
//! divides by `n` at the edges too).
//!
//! Two tensor-level implementations with identical results: [`lrn_slices`]
//! (sum of `n` shifted channel slices of the zero-padded square) and burn's
//! `LocalResponseNorm` (average pooling over a reshaped tensor). Which is
//! faster depends on the shape: `cargo bench -p transferability-model`
//! measures both on each preset, and each preset names the faster. On the
//! flex backend [`lrn`] runs neither: a custom op ([`LrnCaffe`]) computes
//! the formula in one pass and its gradient in another (Caffe's backward),
//! several times faster than either composed version with its autodiff
//! graph.

use std::sync::Arc;

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use burn::prelude::*;
use rayon::prelude::*;

use crate::conv::{flex_tensor, on_flex, shape4, values};
use crate::simd::isa_twins;

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

/// `[size, alpha, beta, k]` as the custom op takes them.
fn params(cfg: &LrnConfig) -> [f64; 4] {
    [cfg.size as f64, cfg.alpha, cfg.beta, cfg.k]
}

/// `s^(−β)`, with β = 0.75 (Caffe's, every preset's) through square roots.
#[inline(always)]
fn pow_neg(s: f32, beta: f32) -> f32 {
    if beta == 0.75 { 1.0 / (s * s.sqrt()).sqrt() } else { s.powf(-beta) }
}

/// Sum over the channel window of `planes` (`c` planes of `hw` values) into `out`.
#[inline(always)]
fn window_sum(planes: &[f32], c: usize, hw: usize, half: usize, ci: usize, out: &mut [f32]) {
    out.fill(0.0);
    for j in ci.saturating_sub(half)..=(ci + half).min(c - 1) {
        out.iter_mut().zip(&planes[j * hw..(j + 1) * hw]).for_each(|(o, v)| *o += v);
    }
}

/// One image's work of the custom op, forward or backward. Its loops are
/// built plain, for AVX2 and for AVX-512 ([`crate::simd`]): the same
/// operations in the same order (square roots and divisions are exact in
/// every width), so all give the same bits; the AVX-512 build makes both
/// passes about 3× faster on the pinned network's shapes.
#[derive(Clone, Copy)]
struct Image {
    c: usize,
    hw: usize,
    half: usize,
    /// α/n, k, β and 2αβ/n.
    a: f32,
    k: f32,
    beta: f32,
    coef: f32,
}

impl Image {
    fn new([_, c, h, w]: [usize; 4], [size, alpha, beta, k]: [f64; 4]) -> Self {
        let (a, coef) = ((alpha / size) as f32, (2.0 * alpha * beta / size) as f32);
        Image { c, hw: h * w, half: (size as usize - 1) / 2, a, k: k as f32, beta: beta as f32, coef }
    }

    /// `scale = k + α/n · Σ_window x²`, `y = x · scale^(−β)`.
    #[inline(always)]
    fn forward(self, x: &[f32], y: &mut [f32], scale: &mut [f32]) {
        let Image { c, hw, half, a, k, beta, .. } = self;
        let sq: Vec<f32> = x.iter().map(|v| v * v).collect();
        for ci in 0..c {
            let s = &mut scale[ci * hw..(ci + 1) * hw];
            window_sum(&sq, c, hw, half, ci, s);
            s.iter_mut().for_each(|v| *v = k + a * *v);
            for ((y, x), s) in y[ci * hw..(ci + 1) * hw].iter_mut().zip(&x[ci * hw..(ci + 1) * hw]).zip(s.iter()) {
                *y = x * pow_neg(*s, beta);
            }
        }
    }

    /// `dx = dy · scale^(−β) − 2αβ/n · x · Σ_window (dy · y / scale)`.
    #[inline(always)]
    fn backward(self, x: &[f32], scale: &[f32], dy: &[f32], dx: &mut [f32]) {
        let Image { c, hw, half, beta, coef, .. } = self;
        // r = dy · y / scale = dy · x · scale^(−β−1)
        let r: Vec<f32> = dy.iter().zip(x).zip(scale).map(|((g, x), s)| g * x * pow_neg(*s, beta) / s).collect();
        let mut acc = vec![0.0f32; hw];
        for ci in 0..c {
            window_sum(&r, c, hw, half, ci, &mut acc);
            let p = ci * hw..(ci + 1) * hw;
            for (((d, g), (x, s)), a) in dx[p.clone()].iter_mut().zip(&dy[p.clone()]).zip(x[p.clone()].iter().zip(&scale[p])).zip(&acc) {
                *d = g * pow_neg(*s, beta) - coef * x * a;
            }
        }
    }
}

isa_twins! {
    /// [`Image::forward`], built for the active instruction-set level ([`crate::simd`]).
    fn image_forward / image_forward_at(im: Image, x: &[f32], y: &mut [f32], scale: &mut [f32]) => Image::forward
}

isa_twins! {
    /// [`Image::backward`], built for the active instruction-set level ([`crate::simd`]).
    fn image_backward / image_backward_at(im: Image, x: &[f32], scale: &[f32], dy: &[f32], dx: &mut [f32]) => Image::backward
}

/// Forward of the custom op: `(y, scale)` with
/// `scale = k + α/n · Σ_window x²` and `y = x · scale^(−β)`.
pub fn lrn_forward(x: &[f32], shape: [usize; 4], params: [f64; 4]) -> (Vec<f32>, Vec<f32>) {
    let im = Image::new(shape, params);
    let image = im.c * im.hw;
    let mut y = vec![0.0f32; x.len()];
    let mut scale = vec![0.0f32; x.len()];
    y.par_chunks_mut(image).zip(scale.par_chunks_mut(image)).enumerate().for_each(|(i, (y, scale))| {
        image_forward(im, &x[i * image..(i + 1) * image], y, scale);
    });
    (y, scale)
}

/// Caffe's LRN backward: `dx = dy · scale^(−β) − 2αβ/n · x · Σ_window (dy · y / scale)`.
pub fn lrn_backward(x: &[f32], scale: &[f32], dy: &[f32], shape: [usize; 4], params: [f64; 4]) -> Vec<f32> {
    let im = Image::new(shape, params);
    let image = im.c * im.hw;
    let mut dx = vec![0.0f32; x.len()];
    dx.par_chunks_mut(image).enumerate().for_each(|(i, dx)| {
        let range = i * image..(i + 1) * image;
        image_backward(im, &x[range.clone()], &scale[range.clone()], &dy[range], dx);
    });
    dx
}

/// The backend extension: Caffe's LRN, `[size, alpha, beta, k]`.
#[backend_extension(Flex, Autodiff)]
pub trait LrnCaffe: Backend {
    /// Across-channel LRN of `[n, c, h, w]`.
    fn lrn_caffe(x: FloatTensor<Self>, params: [f64; 4]) -> FloatTensor<Self>;
}

impl LrnCaffe for Flex {
    fn lrn_caffe(x: FlexTensor, params: [f64; 4]) -> FlexTensor {
        let shape = shape4(&x);
        flex_tensor(lrn_forward(&values(&x), shape, params).0, shape.to_vec())
    }
}

/// Input, scale, shape and parameters.
type LrnState = (FlexTensor, Arc<Vec<f32>>, [usize; 4], [f64; 4]);

#[derive(Debug)]
struct LrnBackward;

impl Backward<Flex, 1> for LrnBackward {
    type State = LrnState;

    fn backward(self, ops: Ops<LrnState, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, scale, shape, params) = ops.state;
        if let Some(node) = node {
            let dx = lrn_backward(&values(&x), &scale, &values(&dy), shape, params);
            grads.register::<Flex>(node.id, flex_tensor(dx, shape.to_vec()));
        }
    }
}

impl<C: CheckpointStrategy> LrnCaffe for Autodiff<Flex, C> {
    fn lrn_caffe(x: FloatTensor<Self>, params: [f64; 4]) -> FloatTensor<Self> {
        match LrnBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let xp = x.primitive().clone();
                let shape = shape4(&xp);
                let (y, scale) = lrn_forward(&values(&xp), shape, params);
                prep.finish((xp, Arc::new(scale), shape, params), flex_tensor(y, shape.to_vec()))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::lrn_caffe(x.into_primitive(), params)),
        }
    }
}

/// LRN of `x`: the custom op on flex; elsewhere `fallback` (a network's
/// configured tensor-level implementation).
pub fn lrn(x: Tensor<4>, cfg: &LrnConfig, fallback: impl FnOnce(Tensor<4>) -> Tensor<4>) -> Tensor<4> {
    if on_flex(&x) { Tensor::from_dispatch(<burn::backend::Dispatch as LrnCaffe>::lrn_caffe(x.into_dispatch(), params(cfg))) } else { fallback(x) }
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
    fn every_isa_build_gives_the_same_bits_as_the_plain_one() {
        let shape = [1, 7, 5, 6];
        for params in [[5.0, 1e-4, 0.75, 1.0], [3.0, 2e-2, 0.6, 2.0]] {
            let im = Image::new(shape, params);
            let len = im.c * im.hw;
            let x: Vec<f32> = (0..len).map(|i| ((i * 7919) % 2003) as f32 / 7.0 - 140.0).collect();
            let dy: Vec<f32> = (0..len).map(|i| ((i * 104729) % 1999) as f32 / 999.0 - 1.0).collect();
            let run = |level: isa::Isa| {
                let (mut y, mut scale, mut dx) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
                image_forward_at(level, im, &x, &mut y, &mut scale);
                image_backward_at(level, im, &x, &scale, &dy, &mut dx);
                [y, scale, dx].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
            };
            let plain = run(isa::Isa::Plain);
            for level in crate::simd::runnable() {
                assert_eq!(run(level), plain, "{level} build, {params:?}");
            }
            println!("LRN builds compared with the plain one: {:?}", crate::simd::runnable());
        }
    }

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
            ("custom op", lrn(x.clone(), &cfg, |_| unreachable!("flex runs the custom op"))),
        ] {
            let got = got.into_data();
            let got = got.as_slice::<f32>().expect("f32");
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{name}: {g} vs {w}");
            }
        }
    }
}
