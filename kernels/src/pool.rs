//! Caffe's max pooling (no padding, windows clipped at the border: ceil
//! mode) as one custom op on the `flex` backend, forward and backward.
//!
//! burn-flex's pooling plus the autodiff graph around it cost about as much
//! as the convolution on AlexNet's first blocks; this op keeps the argmax
//! of each window from the forward pass and scatters the gradient to it.
//! [`max_pool`] runs it on flex and burn's `MaxPool2d` elsewhere; the tests
//! compare both. Ties go to the first maximum in row-major window order.

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
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

use crate::conv::{flex_tensor, on_flex, shape4, values};
use crate::simd::isa_twins;

/// Output side of a ceil-mode, unpadded pooling window.
pub fn pooled(size: usize, kernel: usize, stride: usize) -> usize {
    (size.saturating_sub(kernel)).div_ceil(stride) + 1
}

/// Forward: the pooled planes and, per output, the argmax's index in its plane.
pub fn forward(x: &[f32], [n, c, h, w]: [usize; 4], kernel: usize, stride: usize) -> (Vec<f32>, Vec<u32>) {
    let (ho, wo) = (pooled(h, kernel, stride), pooled(w, kernel, stride));
    let mut out = vec![0.0f32; n * c * ho * wo];
    let mut arg = vec![0u32; n * c * ho * wo];
    let window = Window { h, w, kernel, stride };
    out.par_chunks_mut(ho * wo)
        .zip(arg.par_chunks_mut(ho * wo))
        .enumerate()
        .for_each_init(Vec::new, |phases, (plane, (out, arg))| plane_forward(window, &x[plane * h * w..(plane + 1) * h * w], phases, out, arg));
    (out, arg)
}

/// A plane's pooling geometry.
#[derive(Clone, Copy)]
struct Window {
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
}

/// Outputs computed side by side: one 8-lane vector with AVX2.
const LANES: usize = 8;

isa_twins! {
    /// [`plane_forward_plain`], built for the active instruction-set level ([`crate::simd`]).
    fn plane_forward / plane_forward_at(window: Window, src: &[f32], phases: &mut Vec<f32>, out: &mut [f32], arg: &mut [u32]) => plane_forward_plain
}

/// One plane's windows, [`LANES`] neighbouring outputs at once. Each input
/// row is first split into its `stride` phases (`phase r, i` = column
/// `stride·i + r`; NaN past the row, which never wins), so that tap `dx`
/// of outputs `ox .. ox + LANES` is a contiguous run of phase `dx % stride`.
/// Taps are visited in row-major window order and a lane takes a value
/// only where it is strictly greater, so ties go to the first maximum and
/// NaN never wins, exactly as a scan of each window would; every build
/// makes the same selections, so gives the same bits.
#[inline(always)]
fn plane_forward_plain(window: Window, src: &[f32], phases: &mut Vec<f32>, out: &mut [f32], arg: &mut [u32]) {
    // AlexNet's 3×3 windows at stride 2 with both constant (no divisions, unrolled taps)
    match (window.kernel, window.stride) {
        (3, 2) => plane_windows::<3, 2>(window, src, phases, out, arg),
        (k, s) => plane_windows_of(k, s, window, src, phases, out, arg),
    }
}

#[inline(always)]
fn plane_windows<const K: usize, const S: usize>(window: Window, src: &[f32], phases: &mut Vec<f32>, out: &mut [f32], arg: &mut [u32]) {
    plane_windows_of(K, S, window, src, phases, out, arg)
}

#[inline(always)]
fn plane_windows_of(kernel: usize, stride: usize, window: Window, src: &[f32], phases: &mut Vec<f32>, out: &mut [f32], arg: &mut [u32]) {
    let Window { h, w, .. } = window;
    let (ho, wo) = (pooled(h, kernel, stride), pooled(w, kernel, stride));
    let len = wo + LANES + (kernel - 1) / stride;
    // every value is written below, so the buffer only ever grows
    if phases.len() < h * stride * len {
        phases.resize(h * stride * len, f32::NAN);
    }
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        let rows = &mut phases[y * stride * len..][..stride * len];
        // whole groups of `stride` columns (a deinterleave the compiler
        // vectorises when `stride` is a constant), then the row's last columns
        let whole = w / stride;
        for (i, group) in row.chunks_exact(stride).enumerate() {
            for (r, v) in group.iter().enumerate() {
                rows[r * len + i] = *v;
            }
        }
        for (r, v) in row[whole * stride..].iter().enumerate() {
            rows[r * len + whole] = *v;
        }
        for r in 0..stride {
            rows[r * len + (w + stride - 1 - r) / stride..(r + 1) * len].fill(f32::NAN);
        }
    }
    for oy in 0..ho {
        let (y0, y1) = (oy * stride, (oy * stride + kernel).min(h));
        for ox0 in (0..wo).step_by(LANES) {
            let mut best = [f32::NEG_INFINITY; LANES];
            let first = (y0 * w + ox0 * stride) as u32;
            let mut at = [first; LANES];
            for y in y0..y1 {
                for dx in 0..kernel {
                    let run = &phases[(y * stride + dx % stride) * len + dx / stride + ox0..][..LANES];
                    let here = (y * w + ox0 * stride + dx) as u32;
                    for l in 0..LANES {
                        let take = run[l] > best[l];
                        best[l] = if take { run[l] } else { best[l] };
                        at[l] = if take { here } else { at[l] };
                    }
                }
            }
            let lanes = LANES.min(wo - ox0);
            out[oy * wo + ox0..][..lanes].copy_from_slice(&best[..lanes]);
            // lane l's window starts l·stride columns further on
            for (l, (a, at)) in arg[oy * wo + ox0..][..lanes].iter_mut().zip(at).enumerate() {
                *a = at + (l * stride) as u32;
            }
        }
    }
}

/// Backward: each output's gradient added at its argmax.
pub fn backward(dy: &[f32], arg: &[u32], planes: usize, plane_in: usize) -> Vec<f32> {
    let plane_out = arg.len() / planes.max(1);
    let mut dx = vec![0.0f32; planes * plane_in];
    dx.par_chunks_mut(plane_in).enumerate().for_each(|(p, dx)| {
        let range = p * plane_out..(p + 1) * plane_out;
        for (g, a) in dy[range.clone()].iter().zip(&arg[range]) {
            dx[*a as usize] += g;
        }
    });
    dx
}

/// The backend extension: Caffe max pooling, `[kernel, stride]`.
#[backend_extension(Flex, Autodiff)]
pub trait MaxPoolCaffe: Backend {
    /// Max pooling of `[n, c, h, w]` with square `kernel` and `stride`,
    /// no padding, ceil mode.
    fn max_pool_caffe(x: FloatTensor<Self>, window: [usize; 2]) -> FloatTensor<Self>;
}

fn pool_flex(x: &FlexTensor, [kernel, stride]: [usize; 2]) -> (FlexTensor, Vec<u32>) {
    assert!(x.dtype() == DType::F32, "max_pool_caffe runs in f32 only");
    let [n, c, h, w] = shape4(x);
    let (out, arg) = forward(&values(x), [n, c, h, w], kernel, stride);
    (flex_tensor(out, vec![n, c, pooled(h, kernel, stride), pooled(w, kernel, stride)]), arg)
}

impl MaxPoolCaffe for Flex {
    fn max_pool_caffe(x: FlexTensor, window: [usize; 2]) -> FlexTensor {
        pool_flex(&x, window).0
    }
}

/// Argmax per output and the input shape.
type State = (Arc<Vec<u32>>, [usize; 4]);

#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (arg, [n, c, h, w]) = ops.state;
        if let Some(node) = node {
            let dx = backward(&values(&dy), &arg, n * c, h * w);
            grads.register::<Flex>(node.id, flex_tensor(dx, vec![n, c, h, w]));
        }
    }
}

impl<C: CheckpointStrategy> MaxPoolCaffe for Autodiff<Flex, C> {
    fn max_pool_caffe(x: FloatTensor<Self>, window: [usize; 2]) -> FloatTensor<Self> {
        match MaxPoolBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (out, arg) = pool_flex(x.primitive(), window);
                prep.finish((Arc::new(arg), shape4(x.primitive())), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::max_pool_caffe(x.into_primitive(), window)),
        }
    }
}

/// `pool(x)`: the custom op on flex for square, unpadded, undilated
/// ceil-mode pooling; burn's `MaxPool2d` otherwise.
pub fn max_pool(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let [k0, k1] = pool.kernel_size;
    let [s0, s1] = pool.stride;
    let plain = k0 == k1 && s0 == s1 && pool.dilation == [1, 1] && matches!(pool.padding, PaddingConfig2d::Valid);
    if plain && pool.ceil_mode && on_flex(&x) {
        Tensor::from_dispatch(<burn::backend::Dispatch as MaxPoolCaffe>::max_pool_caffe(x.into_dispatch(), [k0, s0]))
    } else {
        pool.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule by its definition: each window in row-major order, the first
    /// strictly greatest value.
    fn by_definition(x: &[f32], [n, c, h, w]: [usize; 4], k: usize, s: usize) -> (Vec<f32>, Vec<u32>) {
        let (ho, wo) = (pooled(h, k, s), pooled(w, k, s));
        let (mut out, mut arg) = (Vec::new(), Vec::new());
        for plane in 0..n * c {
            for oy in 0..ho {
                for ox in 0..wo {
                    let (mut best, mut at) = (f32::NEG_INFINITY, oy * s * w + ox * s);
                    for y in oy * s..(oy * s + k).min(h) {
                        for xx in ox * s..(ox * s + k).min(w) {
                            if x[plane * h * w + y * w + xx] > best {
                                (best, at) = (x[plane * h * w + y * w + xx], y * w + xx);
                            }
                        }
                    }
                    out.push(best);
                    arg.push(at as u32);
                }
            }
        }
        (out, arg)
    }

    #[test]
    fn ties_go_to_the_first_maximum_in_every_window_shape() {
        for (shape, k, s) in [
            ([1, 2, 28, 27], 3, 2),
            ([1, 1, 9, 20], 2, 1),
            ([2, 3, 8, 9], 3, 2),
            ([1, 2, 13, 13], 3, 2),
            ([1, 2, 7, 6], 2, 2),
            ([1, 1, 6, 5], 3, 1),
            ([1, 1, 2, 2], 3, 2),
        ] {
            let len = shape.iter().product::<usize>();
            // few distinct values, half of them ReLU zeros: ties everywhere; NaN and −∞ too
            let x: Vec<f32> = (0..len)
                .map(|i| match (i * 7919) % 11 {
                    0..=4 => 0.0,
                    5 => f32::NAN,
                    6 => f32::NEG_INFINITY,
                    v => v as f32,
                })
                .collect();
            let (out, arg) = forward(&x, shape, k, s);
            let (want_out, want_arg) = by_definition(&x, shape, k, s);
            assert_eq!(arg, want_arg, "{shape:?} k {k} s {s}");
            assert!(out.iter().zip(&want_out).all(|(a, b)| a.to_bits() == b.to_bits()), "{shape:?} k {k} s {s}");
            // every instruction-set build of a plane, the same selections
            let [_, _, h, w] = shape;
            let (ho, wo) = (pooled(h, k, s), pooled(w, k, s));
            for level in crate::simd::runnable() {
                let (mut o, mut a) = (vec![0.0f32; ho * wo], vec![0u32; ho * wo]);
                plane_forward_at(level, Window { h, w, kernel: k, stride: s }, &x[..h * w], &mut Vec::new(), &mut o, &mut a);
                assert_eq!(a, want_arg[..ho * wo], "{level}: {shape:?} k {k} s {s}");
                assert!(o.iter().zip(&want_out).all(|(a, b)| a.to_bits() == b.to_bits()), "{level}: {shape:?} k {k} s {s}");
            }
        }
    }
}
