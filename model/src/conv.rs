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
//! parallel on rayon. Bias and ReLU are fused into the output copy, and the
//! ReLU mask into the backward pass.
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

use crate::sgemm::{Mat, sgemm};

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
    fn p(&self) -> usize {
        self.ho() * self.wo()
    }
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    fn cog(&self) -> usize {
        self.co / self.groups
    }
    /// Rows of one group's column matrix: `c/groups · k · k`.
    fn kk(&self) -> usize {
        self.cg() * self.k * self.k
    }

    /// Images per chunk: enough output columns per GEMM (~1024). It depends
    /// on the geometry only, never on the thread count, so results are the
    /// same on any machine (see [`backward`]).
    fn chunk(&self) -> usize {
        const COLUMNS: usize = 1024;
        COLUMNS.div_ceil(self.p()).clamp(1, self.n.max(1))
    }

    /// Range of output columns `ox` whose input column `ox·s + kj − pad` lies
    /// inside the image.
    fn valid(&self, kj: usize, size: usize, out: usize) -> (usize, usize) {
        let s = self.stride as isize;
        let off = kj as isize - self.pad as isize;
        // first ox with ox·s + off >= 0; last ox with ox·s + off <= size − 1
        let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
        let hi = ((size as isize - 1 - off).div_euclid(s) + 1).clamp(0, out as isize);
        (lo.min(out as isize) as usize, hi.max(lo) as usize)
    }
}

/// One run of `wo` column-matrix entries: kernel tap `row = (ci, ki, kj)`,
/// image `b` of the chunk, output row `oy`.
struct Run {
    /// Offset of the run in the `[kk, nb · p]` column matrix.
    at: usize,
    /// Image of the chunk and input channel.
    b: usize,
    c: usize,
    /// The input row and the output columns `lo..hi` that read inside the
    /// image, the first of them at input column `ix0`; `None` when the
    /// whole run reads padding.
    inside: Option<(usize, usize, usize, usize)>,
}

/// Every run of group `g`'s column matrix for a chunk of `nb` images, in
/// memory order: the one walk [`im2col`] and [`col2im`] share for strides
/// above 1 (stride 1 goes through [`Padded`]).
fn runs(geo: &Geometry, nb: usize, g: usize, mut f: impl FnMut(Run)) {
    let (ho, wo, p, k, s) = (geo.ho(), geo.wo(), geo.p(), geo.k, geo.stride);
    let width = nb * p;
    for ci in 0..geo.cg() {
        let c = g * geo.cg() + ci;
        for ki in 0..k {
            let (oy_lo, oy_hi) = geo.valid(ki, geo.h, ho);
            for kj in 0..k {
                let (ox_lo, ox_hi) = geo.valid(kj, geo.w, wo);
                let row = (ci * k + ki) * k + kj;
                for b in 0..nb {
                    for oy in 0..ho {
                        let at = row * width + b * p + oy * wo;
                        let inside = (oy >= oy_lo && oy < oy_hi)
                            .then(|| (oy * s + ki - geo.pad, ox_lo, ox_hi, ox_lo * s + kj - geo.pad));
                        f(Run { at, b, c, inside });
                    }
                }
            }
        }
    }
}

/// Caffe's `im2col` for images `n0 .. n0 + nb`, group `g`: `cols` is
/// `[kk, nb · p]` row-major, row `(ci, ki, kj)`, column `(image, oy, ox)`.
fn im2col(x: &[f32], geo: &Geometry, n0: usize, nb: usize, g: usize, cols: &mut [f32]) {
    if geo.stride == 1 {
        return im2col_stride1(x, geo, n0, nb, g, cols);
    }
    let (wo, w, hw, s) = (geo.wo(), geo.w, geo.h * geo.w, geo.stride);
    runs(geo, nb, g, |Run { at, b, c, inside }| {
        let dst = &mut cols[at..at + wo];
        let Some((iy, lo, hi, ix0)) = inside else {
            dst.fill(0.0);
            return;
        };
        let src = &x[((n0 + b) * geo.c + c) * hw + iy * w..][..w];
        dst[..lo].fill(0.0);
        dst[hi..].fill(0.0);
        dst[lo..hi].iter_mut().zip((ix0..).step_by(s)).for_each(|(d, ix)| *d = src[ix]);
    });
}

/// The stride-1 layout [`im2col_stride1`] and [`col2im_stride1`] share: one
/// input plane at a time in a zero-bordered buffer, from which every run of
/// the column matrix is one plain copy of `wo` values per output row.
struct Padded {
    wp: usize,
    pad: usize,
    k: usize,
    wo: usize,
    p: usize,
    width: usize,
}

impl Padded {
    /// The layout for a chunk of `nb` images, and the zeroed plane buffer.
    fn new(geo: &Geometry, nb: usize) -> (Self, Vec<f32>) {
        let (hp, wp) = (geo.h + 2 * geo.pad, geo.w + 2 * geo.pad);
        let lay = Padded { wp, pad: geo.pad, k: geo.k, wo: geo.wo(), p: geo.p(), width: nb * geo.p() };
        (lay, vec![0.0f32; hp * wp])
    }

    /// Offset in the plane buffer of input row `y`'s first value.
    fn interior(&self, y: usize) -> usize {
        (y + self.pad) * self.wp + self.pad
    }

    /// For each kernel tap of in-group channel `ci`: the offset of image
    /// `b`'s run in the column matrix and of the run's first row in the plane.
    fn taps(&self, ci: usize, b: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let k = self.k;
        (0..k).flat_map(move |ki| {
            (0..k).map(move |kj| (((ci * k + ki) * k + kj) * self.width + b * self.p, ki * self.wp + kj))
        })
    }
}

/// [`im2col`] for stride 1 (every layer but CaffeNet's conv1), through [`Padded`].
fn im2col_stride1(x: &[f32], geo: &Geometry, n0: usize, nb: usize, g: usize, cols: &mut [f32]) {
    let (lay, mut plane) = Padded::new(geo, nb);
    let (w, hw) = (geo.w, geo.h * geo.w);
    for ci in 0..geo.cg() {
        let c = g * geo.cg() + ci;
        for b in 0..nb {
            let img = &x[((n0 + b) * geo.c + c) * hw..][..hw];
            for (y, row) in img.chunks_exact(w).enumerate() {
                plane[lay.interior(y)..][..w].copy_from_slice(row);
            }
            for (at, off) in lay.taps(ci, b) {
                for (oy, d) in cols[at..at + lay.p].chunks_exact_mut(lay.wo).enumerate() {
                    d.copy_from_slice(&plane[off + oy * lay.wp..][..lay.wo]);
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: add column gradients back onto the input
/// gradient of images `n0 .. n0 + nb` (`dx` holds only those images).
fn col2im(cols: &[f32], geo: &Geometry, nb: usize, g: usize, dx: &mut [f32]) {
    if geo.stride == 1 {
        return col2im_stride1(cols, geo, nb, g, dx);
    }
    let (w, hw, s) = (geo.w, geo.h * geo.w, geo.stride);
    runs(geo, nb, g, |Run { at, b, c, inside }| {
        let Some((iy, lo, hi, ix0)) = inside else { return };
        let src = &cols[at + lo..at + hi];
        let dst = &mut dx[(b * geo.c + c) * hw + iy * w..][..w];
        src.iter().zip((ix0..).step_by(s)).for_each(|(v, ix)| dst[ix] += v);
    });
}

/// [`col2im`] for stride 1: runs are added into a zero-bordered plane
/// ([`Padded`]), whose interior is then added onto the input gradient.
fn col2im_stride1(cols: &[f32], geo: &Geometry, nb: usize, g: usize, dx: &mut [f32]) {
    let (lay, mut plane) = Padded::new(geo, nb);
    let (w, hw) = (geo.w, geo.h * geo.w);
    for ci in 0..geo.cg() {
        let c = g * geo.cg() + ci;
        for b in 0..nb {
            plane.fill(0.0);
            for (at, off) in lay.taps(ci, b) {
                for (oy, r) in cols[at..at + lay.p].chunks_exact(lay.wo).enumerate() {
                    plane[off + oy * lay.wp..][..lay.wo].iter_mut().zip(r).for_each(|(d, v)| *d += v);
                }
            }
            let img = &mut dx[(b * geo.c + c) * hw..][..hw];
            for (y, row) in img.chunks_exact_mut(w).enumerate() {
                row.iter_mut().zip(&plane[lay.interior(y)..][..w]).for_each(|(d, v)| *d += v);
            }
        }
    }
}

/// Forward: `relu?(conv(x, w) + bias)` as a contiguous `[n, co, ho, wo]` vector.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], geo: &Geometry, fuse_relu: bool) -> Vec<f32> {
    let (p, co, cog, kk) = (geo.p(), geo.co, geo.cog(), geo.kk());
    let nb = geo.chunk();
    let mut out = vec![0.0f32; geo.n * co * p];
    out.par_chunks_mut(nb * co * p).enumerate().for_each(|(i, out)| {
        let (n0, nb) = (i * nb, out.len() / (co * p));
        let width = nb * p;
        let mut cols = vec![0.0f32; kk * width];
        let mut res = vec![0.0f32; cog * width];
        for g in 0..geo.groups {
            im2col(x, geo, n0, nb, g, &mut cols);
            let wg = Mat::new(&weight[g * cog * kk..(g + 1) * cog * kk], cog, kk);
            sgemm(&mut res, wg, Mat::new(&cols, kk, width), false);
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
    });
    out
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
pub fn backward(
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    relu_out: Option<&[f32]>,
    geo: &Geometry,
    need: [bool; 3],
) -> Grads {
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
    let mut dx = if need_x { vec![0.0f32; geo.n * image] } else { Vec::new() };
    let dx_lanes: Vec<&mut [f32]> = if need_x {
        dx.chunks_mut(per_lane * nb * image).collect()
    } else {
        (0..lanes).map(|_| Default::default()).collect()
    };
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
                chunk_backward(ChunkArgs { x, weight, dy, relu_out, geo, n0, nb: nb_here }, need, &mut dw, &mut db, dx);
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

/// Inputs of one chunk's backward pass: images `n0 .. n0 + nb`.
struct ChunkArgs<'a> {
    x: &'a [f32],
    weight: &'a [f32],
    dy: &'a [f32],
    relu_out: Option<&'a [f32]>,
    geo: &'a Geometry,
    n0: usize,
    nb: usize,
}

/// One chunk's backward: adds its weight and bias gradients to `dw`, `db`
/// and writes its images' input gradient into `dx` (those images only).
fn chunk_backward(a: ChunkArgs, [need_x, need_w, need_b]: [bool; 3], dw: &mut [f32], db: &mut [f32], dx: &mut [f32]) {
    let ChunkArgs { x, weight, dy, relu_out, geo, n0, nb } = a;
    let (p, co, cog, kk) = (geo.p(), geo.co, geo.cog(), geo.kk());
    let width = nb * p;
    // the chunk's output gradient as [co, nb·p], ReLU-masked
    let mut dyc = vec![0.0f32; co * width];
    for o in 0..co {
        for b in 0..nb {
            let at = ((n0 + b) * co + o) * p;
            let dst = &mut dyc[o * width + b * p..][..p];
            match relu_out {
                Some(y) => dst
                    .iter_mut()
                    .zip(&dy[at..at + p])
                    .zip(&y[at..at + p])
                    .for_each(|((d, g), y)| *d = if *y > 0.0 { *g } else { 0.0 }),
                None => dst.copy_from_slice(&dy[at..at + p]),
            }
        }
    }
    if need_b {
        for (o, d) in db.iter_mut().enumerate() {
            *d += dyc[o * width..(o + 1) * width].iter().sum::<f32>();
        }
    }
    let mut cols = vec![0.0f32; kk * width];
    for g in 0..geo.groups {
        let dyg = Mat::new(&dyc[g * cog * width..(g + 1) * cog * width], cog, width);
        if need_w {
            im2col(x, geo, n0, nb, g, &mut cols);
            sgemm(&mut dw[g * cog * kk..(g + 1) * cog * kk], dyg, Mat::new(&cols, kk, width).t(), true);
        }
        if need_x {
            let wg = Mat::new(&weight[g * cog * kk..(g + 1) * cog * kk], cog, kk);
            sgemm(&mut cols, wg.t(), dyg, false);
            col2im(&cols, geo, nb, g, dx);
        }
    }
}

/// The backend extension: one fused convolution (+ ReLU) op. Implemented for
/// `flex` and for autodiff over `flex`; [`conv2d_relu`] never calls it
/// elsewhere.
#[backend_extension(Flex, Autodiff)]
pub trait ConvRelu: Backend {
    /// `relu?(conv2d(x, weight) + bias)`; `geometry` is
    /// `[stride, pad, groups, fuse_relu as usize]`.
    fn conv2d_relu(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: [usize; 4],
    ) -> FloatTensor<Self>;
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
        let g = backward(
            &values(&x),
            &values(&weight),
            &values(&dy),
            out.as_deref(),
            &geo,
            [node_x.is_some(), node_w.is_some(), node_b.is_some()],
        );
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
    fn conv2d_relu(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: [usize; 4],
    ) -> FloatTensor<Self> {
        match ConvReluBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive().clone(), weight.primitive().clone());
                let out = Flex::conv2d_relu(xp.clone(), wp.clone(), bias.into_primitive(), geometry);
                let kept = (geometry[3] == 1).then(|| out.clone());
                prep.finish((xp, wp, kept, geometry), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d_relu(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                geometry,
            )),
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
    (on_flex(x) && k0 == k1 && s0 == s1 && layer.dilation == [1, 1])
        .then_some([s0, pad, layer.groups, fuse_relu as usize])
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

    #[test]
    fn valid_range_matches_the_definition() {
        for (k, stride, pad, size) in [(3, 1, 1, 7), (5, 1, 2, 5), (11, 4, 0, 27), (3, 2, 1, 8), (5, 3, 4, 6)] {
            let geo = Geometry { n: 1, c: 1, h: size, w: size, co: 1, k, stride, pad, groups: 1 };
            let out = geo.wo();
            for kj in 0..k {
                let inside: Vec<usize> = (0..out)
                    .filter(|&o| {
                        let i = (o * stride + kj) as isize - pad as isize;
                        i >= 0 && (i as usize) < size
                    })
                    .collect();
                let (lo, hi) = geo.valid(kj, size, out);
                assert_eq!((lo..hi).collect::<Vec<_>>(), inside, "k {k} s {stride} p {pad} size {size} kj {kj}");
            }
        }
    }
}
