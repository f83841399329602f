//! The convolution + ReLU of every AlexNet block as one custom op on the
//! `flex` CPU backend, forward and backward, through burn's backend
//! extension mechanism.
//!
//! Why: burn-flex computes a convolution per image with small GEMMs (an
//! output tile of at most one image's pixels), and its backward pass is
//! composed from a transposed convolution and a convolution over the
//! swapped batch. On AlexNet's late layers (7×7 or 13×13 outputs) that is
//! 4–6× slower than oneDNN. Here the classic Caffe lowering is used
//! instead: `im2col` over a chunk of images so each GEMM has ~1000
//! columns, one GEMM per group for the output, one for the weight gradient
//! and one for the column gradient (scattered back by `col2im`), chunks in
//! parallel on rayon. The `im2col` matrix is never written out: it is an
//! [`Operand`] (`Lowered`) whose blocks the GEMM gathers straight from a
//! zero-bordered copy of the chunk's images as it packs them (10% faster
//! forward, 7% faster training on the pinned network than writing it).
//! Bias and ReLU are fused into the output copy, and the ReLU mask into the
//! backward pass. Stride-1 "same" layers (`k = 2·pad + 1`) skip the
//! lowering altogether from AVX2 up: the `direct` module's kernels read each
//! tap in place from a padded copy of the images; this file builds the
//! masked output gradient and the bias gradient for both paths.
//!
//! [`conv2d_relu`] is the entry point: on a flex device (with or without
//! autodiff) it runs this op; anywhere else (libtorch, CUDA) it runs burn's
//! `Conv2d` followed by ReLU, which gives the same numbers up to float
//! summation order. Tests compare both paths, value and gradients.

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
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::activation::relu;
use rayon::prelude::*;

use crate::direct;
use crate::sgemm::{Mat, Operand, sgemm, sgemm_of};
use crate::simd::isa_twins;

/// Shape of one convolution: input `[n, c, h, w]`, weight
/// `[co, c / groups, k, k]`, square stride and symmetric zero padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub co: usize,
    /// Kernel side.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
    /// Channel groups.
    pub groups: usize,
}

impl Geometry {
    /// Output height.
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.pad - self.k) / self.stride + 1
    }
    /// Output width.
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.pad - self.k) / self.stride + 1
    }
    pub(crate) fn p(&self) -> usize {
        self.ho() * self.wo()
    }
    pub(crate) fn cg(&self) -> usize {
        self.c / self.groups
    }
    pub(crate) fn cog(&self) -> usize {
        self.co / self.groups
    }
    /// Rows of one group's column matrix: `c/groups · k · k`.
    pub fn kk(&self) -> usize {
        self.cg() * self.k * self.k
    }

    /// Images per chunk: enough output columns per GEMM (~1024). It depends
    /// on the geometry only, never on the thread count, so results are the
    /// same on any machine (see [`backward`]).
    fn chunk(&self) -> usize {
        const COLUMNS: usize = 1024;
        COLUMNS.div_ceil(self.p()).clamp(1, self.n.max(1))
    }
}

/// The zero-bordered copy of images `n0 .. n0 + nb` that [`Lowered`]
/// reads: `[nb, c, h + 2·pad, w + 2·pad]`.
fn bordered(x: &[f32], geo: &Geometry, n0: usize, nb: usize) -> Vec<f32> {
    let (hp, wp, hw) = (geo.h + 2 * geo.pad, geo.w + 2 * geo.pad, geo.h * geo.w);
    let mut out = vec![0.0f32; nb * geo.c * hp * wp];
    for (plane, img) in out.chunks_exact_mut(hp * wp).zip(x[n0 * geo.c * hw..].chunks_exact(hw)) {
        for (y, row) in img.chunks_exact(geo.w).enumerate() {
            plane[(y + geo.pad) * wp + geo.pad..][..geo.w].copy_from_slice(row);
        }
    }
    out
}

/// The adjoint of [`bordered`]: add the interior of a bordered gradient
/// (`[nb, c, h + 2·pad, w + 2·pad]`) onto `dx` (`[nb, c, h, w]`); the
/// border, which only padding was read from, is dropped.
fn add_interior(bordered: &[f32], geo: &Geometry, dx: &mut [f32]) {
    let (hp, wp, hw) = (geo.h + 2 * geo.pad, geo.w + 2 * geo.pad, geo.h * geo.w);
    for (img, plane) in dx.chunks_exact_mut(hw).zip(bordered.chunks_exact(hp * wp)) {
        for (y, row) in img.chunks_exact_mut(geo.w).enumerate() {
            row.iter_mut().zip(&plane[(y + geo.pad) * wp + geo.pad..][..geo.w]).for_each(|(d, v)| *d += v);
        }
    }
}

/// Where Caffe's `im2col` matrix of group `g` of a chunk of `nb` images,
/// `[kk, nb · p]` (row `(ci, ki, kj)`, column `(image, oy, ox)`), reads the
/// chunk's [`bordered`] images: entry `(r, q)` lies at `tap(r)` plus the
/// bordered offset of output pixel `q` (see `runs`).
#[derive(Clone, Copy)]
struct Lowering<'a> {
    geo: &'a Geometry,
    nb: usize,
    g: usize,
}

impl Lowering<'_> {
    /// Offset in the bordered images of kernel tap `r = (ci, ki, kj)`.
    fn tap(&self, r: usize) -> usize {
        let (k, wp, hp) = (self.geo.k, self.geo.w + 2 * self.geo.pad, self.geo.h + 2 * self.geo.pad);
        let (ci, ki, kj) = (r / (k * k), r / k % k, r % k);
        (self.g * self.geo.cg() + ci) * hp * wp + ki * wp + kj
    }

    /// Output pixels `q0 .. q0 + len` as runs along output rows: `(offset
    /// from q0, offset in the bordered images, length)`; within a run the
    /// input advances by the stride.
    fn runs(&self, q0: usize, len: usize) -> Vec<(usize, usize, usize)> {
        let (geo, wo, p) = (self.geo, self.geo.wo(), self.geo.p());
        let (s, wp, hp) = (geo.stride, geo.w + 2 * geo.pad, geo.h + 2 * geo.pad);
        let mut out = Vec::with_capacity(len / wo + 2);
        let mut at = 0;
        while at < len {
            let q = q0 + at;
            let (b, oy, ox) = (q / p, q % p / wo, q % wo);
            let run = (wo - ox).min(len - at);
            out.push((at, (b * geo.c * hp + oy * s) * wp + ox * s, run));
            at += run;
        }
        out
    }

    /// The adjoint of the lowering, Caffe's `col2im`: add every entry of the
    /// column gradient `cols` (`[kk, nb · p]`) onto the bordered position it
    /// was read from, tap by tap in row order. [`add_interior`] then takes
    /// the sums onto the input gradient.
    fn add_back(&self, cols: &[f32], bordered: &mut [f32]) {
        let (s, width) = (self.geo.stride, self.nb * self.geo.p());
        let runs = self.runs(0, width);
        for (r, row) in cols.chunks_exact(width).enumerate() {
            let t = self.tap(r);
            for &(at, from, len) in &runs {
                let src = &row[at..at + len];
                if s == 1 {
                    bordered[from + t..][..len].iter_mut().zip(src).for_each(|(d, v)| *d += v);
                } else {
                    bordered[from + t..].iter_mut().step_by(s).zip(src).for_each(|(d, v)| *d += v);
                }
            }
        }
    }
}

/// The `im2col` matrix of a [`Lowering`], or its transpose for the weight
/// gradient, as an [`Operand`]: the GEMM gathers each block it packs
/// straight from the chunk's [`bordered`] images, so the matrix (9–25
/// times the input) is never written out and read back.
struct Lowered<'a> {
    lowering: Lowering<'a>,
    bordered: &'a [f32],
    transposed: bool,
}

/// `dst.copy_from_slice(src)` for the short runs [`Lowered`] gathers (one
/// output row, 6 to 55 values): fixed-size pieces the compiler turns into
/// vector moves, instead of a `memmove` call per run.
#[inline(always)]
fn copy_run(dst: &mut [f32], src: &[f32]) {
    let (n, mut i) = (dst.len(), 0);
    assert_eq!(n, src.len());
    while i + 16 <= n {
        dst[i..i + 16].copy_from_slice(&src[i..i + 16]);
        i += 16;
    }
    while i + 4 <= n {
        dst[i..i + 4].copy_from_slice(&src[i..i + 4]);
        i += 4;
    }
    while i < n {
        dst[i] = src[i];
        i += 1;
    }
}

impl Operand for Lowered<'_> {
    fn rows(&self) -> usize {
        let Lowering { geo, nb, .. } = self.lowering;
        if self.transposed { nb * geo.p() } else { geo.kk() }
    }
    fn cols(&self) -> usize {
        let Lowering { geo, nb, .. } = self.lowering;
        if self.transposed { geo.kk() } else { nb * geo.p() }
    }
    fn gather(&self, i0: usize, h: usize, j0: usize, w: usize, out: &mut [f32], ld: usize) {
        let (src, lw) = (self.bordered, self.lowering);
        let s = lw.geo.stride;
        if !self.transposed {
            // rows are taps, columns pixels: each row a few runs of pixels
            let runs = lw.runs(j0, w);
            for i in 0..h {
                let t = lw.tap(i0 + i);
                for &(at, from, len) in &runs {
                    let dst = &mut out[i * ld + at..][..len];
                    if s == 1 {
                        copy_run(dst, &src[from + t..][..len]);
                    } else {
                        dst.iter_mut().zip(src[from + t..].iter().step_by(s)).for_each(|(d, v)| *d = *v);
                    }
                }
            }
        } else {
            // rows are pixels, columns taps: each row gathers its taps
            let runs = lw.runs(i0, h);
            let taps: Vec<usize> = (j0..j0 + w).map(|j| lw.tap(j)).collect();
            for &(at, from, len) in &runs {
                for i in 0..len {
                    let base = from + i * s;
                    let row = &mut out[(at + i) * ld..][..w];
                    row.iter_mut().zip(&taps).for_each(|(d, t)| *d = src[base + t]);
                }
            }
        }
    }
}

/// Forward: `relu?(conv(x, w) + bias)` as a contiguous `[n, co, ho, wo]` vector.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], geo: &Geometry, fuse_relu: bool) -> Vec<f32> {
    let (p, co) = (geo.p(), geo.co);
    let nb = geo.chunk();
    let mut out = vec![0.0f32; geo.n * co * p];
    let direct = direct::applies(geo, isa::active());
    let packed = if direct { direct::pack_forward(weight, geo) } else { Vec::new() };
    out.par_chunks_mut(nb * co * p).enumerate().for_each(|(i, out)| {
        let c = Chunk { x, weight, packed: &packed, geo, n0: i * nb, nb: out.len() / (co * p) };
        if direct { direct::chunk_forward(&c, bias, fuse_relu, out) } else { chunk_forward_fast(c, bias, fuse_relu, out) }
    });
    out
}

isa_twins! {
    /// [`chunk_forward`], built for the active instruction-set level ([`crate::simd`]).
    fn chunk_forward_fast / chunk_forward_at(c: Chunk, bias: &[f32], fuse_relu: bool, out: &mut [f32]) => chunk_forward
}

/// One chunk's forward pass into `out` (those images only).
#[inline(always)]
fn chunk_forward(c: Chunk, bias: &[f32], fuse_relu: bool, out: &mut [f32]) {
    let Chunk { x, weight, geo, n0, nb, .. } = c;
    let (p, co, cog, kk) = (geo.p(), geo.co, geo.cog(), geo.kk());
    let width = nb * p;
    let bordered = bordered(x, geo, n0, nb);
    let mut res = vec![0.0f32; cog * width];
    for g in 0..geo.groups {
        let cols = Lowered { lowering: Lowering { geo, nb, g }, bordered: &bordered, transposed: false };
        let wg = Mat::new(&weight[g * cog * kk..(g + 1) * cog * kk], cog, kk);
        sgemm_of(&mut res, wg, &cols, false);
        for o in 0..cog {
            let (oc, b_o) = (g * cog + o, bias[g * cog + o]);
            for b in 0..nb {
                let src = &res[o * width + b * p..][..p];
                let dst = &mut out[(b * co + oc) * p..][..p];
                if fuse_relu {
                    dst.iter_mut().zip(src).for_each(|(d, v)| *d = (v + b_o).max(0.0));
                } else {
                    dst.iter_mut().zip(src).for_each(|(d, v)| *d = v + b_o);
                }
            }
        }
    }
}

/// Gradients of [`forward`], each only where asked for.
#[derive(Debug, Default)]
pub struct Grads {
    /// `∂L/∂x`, `[n, c, h, w]`.
    pub x: Option<Vec<f32>>,
    /// `∂L/∂weight`, `[co, c/groups, k, k]`.
    pub weight: Option<Vec<f32>>,
    /// `∂L/∂bias`, `[co]`.
    pub bias: Option<Vec<f32>>,
}

/// Backward of [`forward`]. `dy` is the gradient of the output; with
/// `relu_out` (the fused ReLU's output) it is masked where the ReLU was off.
pub fn backward(x: &[f32], weight: &[f32], dy: &[f32], relu_out: Option<&[f32]>, geo: &Geometry, need: [bool; 3]) -> Grads {
    let (co, kk) = (geo.co, geo.kk());
    let [need_x, need_w, need_b] = need;
    let nb = geo.chunk();
    let chunks = geo.n.div_ceil(nb);
    let image = geo.c * geo.h * geo.w;
    // Chunks go to at most LANES lanes, each summing its chunks' weight and
    // bias gradients in order; lanes are then summed in order. The sums are
    // thus fixed by the geometry (not by rayon's scheduling or the thread
    // count): training is reproducible and resumes bit-exactly.
    const LANES: usize = 16;
    let per_lane = chunks.div_ceil(LANES.min(chunks));
    let lanes = chunks.div_ceil(per_lane);
    let packed = if direct::applies(geo, isa::active()) && need_x { direct::pack_flipped(weight, geo) } else { Vec::new() };
    let mut dx = if need_x { vec![0.0f32; geo.n * image] } else { Vec::new() };
    let dx_lanes: Vec<&mut [f32]> = if need_x { dx.chunks_mut(per_lane * nb * image).collect() } else { (0..lanes).map(|_| Default::default()).collect() };
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_lanes
        .into_par_iter()
        .enumerate()
        .map(|(lane, dx_lane)| {
            let mut dw = vec![0.0f32; if need_w { co * kk } else { 0 }];
            let mut db = vec![0.0f32; if need_b { co } else { 0 }];
            for i in lane * per_lane..((lane + 1) * per_lane).min(chunks) {
                let n0 = i * nb;
                let nb_here = nb.min(geo.n - n0);
                let dx = if need_x {
                    let at = (i - lane * per_lane) * nb * image;
                    &mut dx_lane[at..at + nb_here * image]
                } else {
                    &mut []
                };
                chunk_backward_fast(Chunk { x, weight, packed: &packed, geo, n0, nb: nb_here }, dy, relu_out, need, &mut dw, &mut db, dx);
            }
            (dw, db)
        })
        .collect();
    let mut parts = partials.into_iter();
    let (mut dw, mut db) = parts.next().unwrap_or_default();
    for (w, b) in parts {
        dw.iter_mut().zip(&w).for_each(|(a, v)| *a += v);
        db.iter_mut().zip(&b).for_each(|(a, v)| *a += v);
    }
    Grads { x: need_x.then_some(dx), weight: need_w.then_some(dw), bias: need_b.then_some(db) }
}

/// One chunk of a convolution: images `n0 .. n0 + nb` of `x`, and the weight.
pub(crate) struct Chunk<'a> {
    pub(crate) x: &'a [f32],
    pub(crate) weight: &'a [f32],
    /// The weight packed once per call for [`direct`] (forward: per group;
    /// backward: the flipped kernel per group, where the input gradient is
    /// asked for); empty on the `im2col` path.
    pub(crate) packed: &'a [direct::PackedA],
    pub(crate) geo: &'a Geometry,
    pub(crate) n0: usize,
    pub(crate) nb: usize,
}

/// `sums[o] += Σ rows[o·width .. (o+1)·width]`, each row summed in order from
/// −0.0 exactly as `iter().sum::<f32>()` does, so the bias gradient is
/// bit-identical to that; but eight rows at a time, so the additions of
/// different rows overlap instead of each waiting on the one before (one
/// row alone is a chain of dependent additions).
#[inline(always)]
fn row_sums(rows: &[f32], width: usize, sums: &mut [f32]) {
    const AT_ONCE: usize = 8;
    for (block, out) in sums.chunks_mut(AT_ONCE).enumerate() {
        let rows = &rows[block * AT_ONCE * width..][..out.len() * width];
        let mut acc = [-0.0f32; AT_ONCE];
        if out.len() == AT_ONCE {
            for i in 0..width {
                for (r, a) in acc.iter_mut().enumerate() {
                    *a += rows[r * width + i];
                }
            }
        } else {
            for (r, a) in acc.iter_mut().take(out.len()).enumerate() {
                *a = rows[r * width..(r + 1) * width].iter().sum::<f32>();
            }
        }
        out.iter_mut().zip(acc).for_each(|(o, a)| *o += a);
    }
}

isa_twins! {
    /// [`chunk_backward`], built for the active instruction-set level ([`crate::simd`]).
    fn chunk_backward_fast / chunk_backward_at(
        c: Chunk,
        dy: &[f32],
        relu_out: Option<&[f32]>,
        need: [bool; 3],
        dw: &mut [f32],
        db: &mut [f32],
        dx: &mut [f32],
    ) => chunk_backward
}

/// One chunk's backward: adds its weight and bias gradients to `dw`, `db`
/// and writes its images' input gradient into `dx` (those images only).
/// `dy` is the whole batch's output gradient, masked where `relu_out` (the
/// fused ReLU's output) is off.
#[inline(always)]
fn chunk_backward(c: Chunk, dy: &[f32], relu_out: Option<&[f32]>, [need_x, need_w, need_b]: [bool; 3], dw: &mut [f32], db: &mut [f32], dx: &mut [f32]) {
    let Chunk { x, weight, packed, geo, n0, nb } = c;
    let (p, co, cog, kk) = (geo.p(), geo.co, geo.cog(), geo.kk());
    let width = nb * p;
    // the chunk's output gradient as [co, nb·p], ReLU-masked
    let mut dyc = vec![0.0f32; co * width];
    for o in 0..co {
        for b in 0..nb {
            let at = ((n0 + b) * co + o) * p;
            let dst = &mut dyc[o * width + b * p..][..p];
            match relu_out {
                Some(y) => dst.iter_mut().zip(&dy[at..at + p]).zip(&y[at..at + p]).for_each(|((d, g), y)| *d = if *y > 0.0 { *g } else { 0.0 }),
                None => dst.copy_from_slice(&dy[at..at + p]),
            }
        }
    }
    if need_b {
        row_sums(&dyc, width, db);
    }
    if direct::applies(geo, isa::active()) {
        return direct::chunk_backward(&Chunk { x, weight, packed, geo, n0, nb }, &dyc, need_w.then_some(dw), need_x.then_some(dx));
    }
    let bordered = if need_w { bordered(x, geo, n0, nb) } else { Vec::new() };
    // the input gradient, bordered like the input, and one group's column gradient
    let (hp, wp) = (geo.h + 2 * geo.pad, geo.w + 2 * geo.pad);
    let mut dbordered = vec![0.0f32; if need_x { nb * geo.c * hp * wp } else { 0 }];
    let mut cols = vec![0.0f32; if need_x { kk * width } else { 0 }];
    for g in 0..geo.groups {
        let lowering = Lowering { geo, nb, g };
        let dyg = Mat::new(&dyc[g * cog * width..(g + 1) * cog * width], cog, width);
        if need_w {
            let cols_t = Lowered { lowering, bordered: &bordered, transposed: true };
            sgemm_of(&mut dw[g * cog * kk..(g + 1) * cog * kk], dyg, &cols_t, true);
        }
        if need_x {
            let wg = Mat::new(&weight[g * cog * kk..(g + 1) * cog * kk], cog, kk);
            sgemm(&mut cols, wg.t(), dyg, false);
            lowering.add_back(&cols, &mut dbordered);
        }
    }
    if need_x {
        add_interior(&dbordered, geo, dx);
    }
}

/// The backend extension: one fused convolution (+ ReLU) op. Implemented for
/// `flex` and for autodiff over `flex`; [`conv2d_relu`] never calls it
/// elsewhere.
#[backend_extension(Flex, Autodiff)]
pub trait ConvRelu: Backend {
    /// `relu?(conv2d(x, weight) + bias)`; `geometry` is
    /// `[stride, pad, groups, fuse_relu as usize]`.
    fn conv2d_relu(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, geometry: [usize; 4]) -> FloatTensor<Self>;
}

/// A flex tensor's f32 elements in row-major order.
pub(crate) fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    let n = t.layout().num_elements();
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        std::borrow::Cow::Borrowed(&t.storage::<f32>()[..n])
    } else {
        std::borrow::Cow::Owned(t.to_contiguous().storage::<f32>()[..n].to_vec())
    }
}

/// A 4-d flex tensor's dimensions.
pub(crate) fn shape4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    [s[0], s[1], s[2], s[3]]
}

pub(crate) fn flex_tensor(data: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

/// The geometry of `x` convolved with `weight`.
fn geometry_of(x: &FlexTensor, weight: &FlexTensor, [stride, pad, groups, _]: [usize; 4]) -> Geometry {
    let ([n, c, h, w], [co, _, k, _]) = (shape4(x), shape4(weight));
    Geometry { n, c, h, w, co, k, stride, pad, groups }
}

impl ConvRelu for Flex {
    fn conv2d_relu(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, geometry: [usize; 4]) -> FlexTensor {
        assert!(x.dtype() == DType::F32, "conv2d_relu runs in f32 only");
        let geo = geometry_of(&x, &weight, geometry);
        let out = forward(&values(&x), &values(&weight), &values(&bias), &geo, geometry[3] == 1);
        flex_tensor(out, vec![geo.n, geo.co, geo.ho(), geo.wo()])
    }
}

/// What the backward pass keeps: input, weight, the output when ReLU is
/// fused, and the geometry.
type State = (FlexTensor, FlexTensor, Option<FlexTensor>, [usize; 4]);

#[derive(Debug)]
struct ConvReluBackward;

impl Backward<Flex, 3> for ConvReluBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, weight, out, geometry) = ops.state;
        let geo = geometry_of(&x, &weight, geometry);
        let out = out.as_ref().map(values);
        let g = backward(&values(&x), &values(&weight), &values(&dy), out.as_deref(), &geo, [node_x.is_some(), node_w.is_some(), node_b.is_some()]);
        let ws = weight.layout().shape().to_vec();
        if let (Some(node), Some(d)) = (node_x, g.x) {
            grads.register::<Flex>(node.id, flex_tensor(d, vec![geo.n, geo.c, geo.h, geo.w]));
        }
        if let (Some(node), Some(d)) = (node_w, g.weight) {
            grads.register::<Flex>(node.id, flex_tensor(d, ws));
        }
        if let (Some(node), Some(d)) = (node_b, g.bias) {
            grads.register::<Flex>(node.id, flex_tensor(d, vec![geo.co]));
        }
    }
}

impl<C: CheckpointStrategy> ConvRelu for Autodiff<Flex, C> {
    fn conv2d_relu(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, geometry: [usize; 4]) -> FloatTensor<Self> {
        match ConvReluBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive().clone(), weight.primitive().clone());
                let out = Flex::conv2d_relu(xp.clone(), wp.clone(), bias.into_primitive(), geometry);
                let kept = (geometry[3] == 1).then(|| out.clone());
                prep.finish((xp, wp, kept, geometry), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d_relu(x.into_primitive(), weight.into_primitive(), bias.into_primitive(), geometry)),
        }
    }
}

/// Whether `x` is an f32 tensor on the flex backend (with or without
/// autodiff): where this crate's custom ops run.
pub(crate) fn on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && x.device().inner() == Device::flex()
}

/// Whether `layer` applied to `x` can run as the fused flex op: a flex
/// device, f32, square kernel/stride, symmetric padding, no dilation (the
/// op also needs a bias, which [`conv2d_maybe_relu`] checks as it takes it).
fn fused_geometry(layer: &Conv2d, x: &Tensor<4>, fuse_relu: bool) -> Option<[usize; 4]> {
    let [k0, k1] = layer.kernel_size;
    let [s0, s1] = layer.stride;
    let pad = match layer.padding {
        PaddingConfig2d::Explicit(a, b, c, d) if a == b && b == c && c == d => a,
        PaddingConfig2d::Valid => 0,
        _ => return None,
    };
    (on_flex(x) && k0 == k1 && s0 == s1 && layer.dilation == [1, 1]).then_some([s0, pad, layer.groups, fuse_relu as usize])
}

/// `relu(layer(x))`: the fused op on flex, burn's `Conv2d` + ReLU elsewhere.
pub fn conv2d_relu(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv2d_maybe_relu(layer, x, true)
}

/// `layer(x)`, through the same op without the ReLU.
pub fn conv2d(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv2d_maybe_relu(layer, x, false)
}

fn conv2d_maybe_relu(layer: &Conv2d, x: Tensor<4>, fuse_relu: bool) -> Tensor<4> {
    match (fused_geometry(layer, &x, fuse_relu), layer.bias.as_ref()) {
        (Some(geometry), Some(bias)) => Tensor::from_dispatch(<burn::backend::Dispatch as ConvRelu>::conv2d_relu(
            x.into_dispatch(),
            layer.weight.val().into_dispatch(),
            bias.val().into_dispatch(),
            geometry,
        )),
        _ if fuse_relu => relu(layer.forward(x)),
        _ => layer.forward(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `im2col` matrix of group `g` by its definition.
    fn im2col_by_definition(x: &[f32], geo: &Geometry, n0: usize, nb: usize, g: usize) -> Vec<f32> {
        let (ho, wo, k) = (geo.ho(), geo.wo(), geo.k);
        let width = nb * ho * wo;
        let mut cols = vec![0.0f32; geo.kk() * width];
        for ci in 0..geo.cg() {
            for ki in 0..k {
                for kj in 0..k {
                    for b in 0..nb {
                        for oy in 0..ho {
                            for ox in 0..wo {
                                let (iy, ix) = ((oy * geo.stride + ki) as isize - geo.pad as isize, (ox * geo.stride + kj) as isize - geo.pad as isize);
                                if iy >= 0 && ix >= 0 && (iy as usize) < geo.h && (ix as usize) < geo.w {
                                    let c = g * geo.cg() + ci;
                                    let row = (ci * k + ki) * k + kj;
                                    cols[row * width + (b * ho + oy) * wo + ox] = x[(((n0 + b) * geo.c + c) * geo.h + iy as usize) * geo.w + ix as usize];
                                }
                            }
                        }
                    }
                }
            }
        }
        cols
    }

    #[test]
    fn lowered_blocks_are_blocks_of_im2col_its_adjoint_adds_back_and_the_portable_product_agrees() {
        for (geo, n0, nb, g) in [
            (Geometry { n: 5, c: 4, h: 7, w: 6, co: 6, k: 3, stride: 1, pad: 1, groups: 2 }, 1, 3, 1),
            (Geometry { n: 3, c: 3, h: 11, w: 11, co: 4, k: 5, stride: 2, pad: 2, groups: 1 }, 0, 3, 0),
            (Geometry { n: 2, c: 2, h: 13, w: 13, co: 2, k: 3, stride: 4, pad: 0, groups: 1 }, 1, 1, 0),
        ] {
            let x: Vec<f32> = (0..geo.n * geo.c * geo.h * geo.w).map(|i| i as f32 + 1.0).collect();
            let want = im2col_by_definition(&x, &geo, n0, nb, g);
            let (kk, width) = (geo.kk(), nb * geo.p());
            let bordered = bordered(&x, &geo, n0, nb);
            for transposed in [false, true] {
                let view = Lowered { lowering: Lowering { geo: &geo, nb, g }, bordered: &bordered, transposed };
                let (rows, cols) = (view.rows(), view.cols());
                assert_eq!((rows, cols), if transposed { (width, kk) } else { (kk, width) });
                let at = |i: usize, j: usize| if transposed { want[j * width + i] } else { want[i * width + j] };
                // every block, into an output with a wider row stride
                for (i0, h, j0, w) in [(0, rows, 0, cols), (1, rows - 2, 2, cols - 3), (rows / 2, 1, cols / 3, cols / 2)] {
                    let ld = w + 3;
                    let mut out = vec![-7.0f32; h * ld];
                    view.gather(i0, h, j0, w, &mut out, ld);
                    for i in 0..h {
                        for j in 0..ld {
                            let expect = if j < w { at(i0 + i, j0 + j) } else { -7.0 };
                            assert_eq!(out[i * ld + j], expect, "{geo:?} transposed {transposed} block {i0},{j0} at {i},{j}");
                        }
                    }
                }
                // the product through the packed kernel and through the gathered fallback
                let a: Vec<f32> = (0..3 * rows).map(|i| (i % 7) as f32 - 3.0).collect();
                let (mut fast, mut slow) = (vec![0.0f32; 3 * cols], vec![0.0f32; 3 * cols]);
                sgemm_of(&mut fast, Mat::new(&a, 3, rows), &view, false);
                crate::sgemm::portable_of(&mut slow, Mat::new(&a, 3, rows), &view, false);
                assert_eq!(fast, slow, "{geo:?} transposed {transposed}");
            }
            // the adjoint: every column entry added back where im2col read it
            let grads: Vec<f32> = (0..kk * width).map(|i| (i % 13) as f32 - 6.0).collect();
            let image = geo.c * geo.h * geo.w;
            let mut want_dx = vec![0.0f32; nb * image];
            for (i, &v) in want.iter().enumerate() {
                // the inputs are 1, 2, 3, ...: a nonzero entry names the value it read
                if v != 0.0 {
                    want_dx[v as usize - 1 - n0 * image] += grads[i];
                }
            }
            let (hp, wp) = (geo.h + 2 * geo.pad, geo.w + 2 * geo.pad);
            let mut back = vec![0.0f32; nb * geo.c * hp * wp];
            Lowering { geo: &geo, nb, g }.add_back(&grads, &mut back);
            let mut dx = vec![0.0f32; nb * image];
            add_interior(&back, &geo, &mut dx);
            assert_eq!(dx, want_dx, "{geo:?}");
        }
    }

    /// The twins' same-bits test on an emulated CPU without AVX-512.
    #[test]
    fn every_isa_build_gives_the_same_bits_on_an_emulated_avx2_cpu() {
        isa::check_emulated("conv::tests::every_isa_build_of_a_chunk_gives_the_same_bits_as_the_plain_one");
    }

    #[test]
    fn every_isa_build_of_a_chunk_gives_the_same_bits_as_the_plain_one() {
        isa::announce();
        // stride 2: the im2col path (stride-1 "same" layers take `direct`, tested there)
        let geo = Geometry { n: 3, c: 4, h: 9, w: 9, co: 6, k: 3, stride: 2, pad: 1, groups: 2 };
        assert!(!direct::applies(&geo, isa::Isa::Avx512));
        let len = |v: usize| -> Vec<f32> { (0..v).map(|i| ((i * 7919) % 2003) as f32 / 1001.0 - 1.0).collect() };
        let (x, weight, bias) = (len(geo.n * geo.c * 81), len(geo.co * geo.kk()), len(geo.co));
        let out_len = geo.n * geo.co * geo.p();
        let (dy, relu) = (len(out_len), len(out_len));
        let chunk = || Chunk { x: &x, weight: &weight, packed: &[], geo: &geo, n0: 1, nb: 2 };
        let run = |level: isa::Isa| {
            let mut out = vec![0.0f32; 2 * geo.co * geo.p()];
            let (mut dw, mut db, mut dx) = (vec![0.0f32; geo.co * geo.kk()], vec![0.0f32; geo.co], vec![0.0f32; 2 * geo.c * 81]);
            chunk_forward_at(level, chunk(), &bias, true, &mut out);
            chunk_backward_at(level, chunk(), &dy, Some(&relu), [true; 3], &mut dw, &mut db, &mut dx);
            [out, dw, db, dx].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
        };
        let plain = run(isa::Isa::Plain);
        for level in crate::simd::runnable() {
            assert_eq!(run(level), plain, "{level} build");
        }
        println!("chunk builds compared with the plain one: {:?}", crate::simd::runnable());
    }

    #[test]
    fn row_sums_are_bit_identical_to_iterator_sums() {
        for (n, width) in [(8, 5), (19, 37), (3, 1000), (16, 0)] {
            // values spanning magnitudes, so any change of order changes the rounding
            let rows: Vec<f32> = (0..n * width).map(|i| ((i * 7919) % 1009) as f32 * 1.37e-3 * if i % 3 == 0 { 1e4 } else { -1.0 }).collect();
            let start: Vec<f32> = (0..n).map(|o| o as f32 * 0.1).collect();
            let mut got = start.clone();
            row_sums(&rows, width, &mut got);
            for o in 0..n {
                let want = start[o] + rows[o * width..(o + 1) * width].iter().sum::<f32>();
                assert_eq!(got[o].to_bits(), want.to_bits(), "row {o} of {n}x{width}");
            }
        }
    }
}
