//! Stride-1 "same" convolutions (`k = 2·pad + 1`, every layer of `tiny`,
//! `cifar` and `bench`, and layers 2–5 of `caffenet`) without an `im2col`
//! matrix, forward and backward.
//!
//! Why: the small networks of the main job have 16–48 output channels per
//! group, so each entry of the `im2col` matrix the GEMM gathers feeds only
//! that many multiply-adds, and gathering it cost more than the products
//! (29% of a `tiny` training job's time in [`crate::conv`]'s gather, 23% in
//! the GEMM kernel, 5% in `col2im`; `perf`, Zen 3).
//!
//! How: each image's channels are laid out [`Padded`]: rows of `w + pad`
//! values (one run of `pad` zeros between two rows serves as the right
//! border of one and the left border of the next), `pad` zero rows above
//! and below. Output pixel `(y, x)` then has the *virtual* index
//! `q = y·(w + pad) + x`, and kernel tap `(ci, ki, kj)` reads the input at
//! `q + tap(ci, ki, kj)` for every `q`: row `tap` of the `im2col` matrix is
//! a contiguous run of the padded image, so the GEMM reads it in place.
//! The virtual columns with `x ≥ w` are junk, computed and dropped (1/7 more
//! work on a 7×7 layer, 1/14 on 14×14). So:
//!
//! * forward: `out[o, q] = Σ_t W[o, t] · img[q + tap(t)]` ([`gemm_taps`],
//!   a 6 × 16 register tile whose `B` rows are read at their taps);
//! * input gradient: the same product over the padded output gradient with
//!   the flipped, transposed kernel, `dx[ci, q] = Σ_(o,a,b) W[o, ci, k−1−a,
//!   k−1−b] · dy[q + tap(o, a, b)]`, a "same" convolution of `dy` (no
//!   `col2im`);
//! * weight gradient: `dWᵀ[t, o] = Σ_q img[q + tap(t)] · dy[o, q]`
//!   ([`gemm_rows`]: the `A` rows read in place, `dyᵀ` packed), summed over
//!   the chunk's images in order.
//!
//! The kernels are AVX2 + FMA; AVX-512 machines run the same ones, so the
//! bits do not depend on the level above AVX2. Without AVX2 (or under
//! `TRANSFERABILITY_ISA=plain`) [`applies`] says no and the `im2col` path
//! runs. Sums are fixed by the geometry, never by the thread count.
#![allow(unsafe_code)]

use crate::conv::{Chunk, Geometry};

/// Register-tile rows.
const MR: usize = 6;
/// Depth of one block of the product: a block of `B` (256 rows of 16
/// values) stays in L1.
const KC: usize = 256;
/// Rows of `A` whose depth block is swept along all of one image's strips
/// of 16 columns before the next rows: that block of `A` (`MC·KC` values)
/// stays in L2 across the strips, each strip's `B` in L1 across its panels.
const MC: usize = 96;
const _: () = assert!(MC.is_multiple_of(MR) && MC >= MR, "MC is a whole number of panels");
/// Values read past the last image by the widest tile (a whole number of
/// 8-wide vectors past the virtual outputs).
const SLACK: usize = 32;

/// Whether the direct path computes this convolution at instruction-set
/// `level`: stride 1, `k = 2·pad + 1`, and AVX2 + FMA (at least; capped at
/// the CPU's). Without them the `im2col` path runs, on the `gemm` crate.
pub(crate) fn applies(geo: &Geometry, level: isa::Isa) -> bool {
    avx2_at(level) && geo.stride == 1 && geo.k == 2 * geo.pad + 1 && geo.h > 0 && geo.w > 0
}

/// Whether `level` (capped at the CPU's) has the AVX2 kernels.
fn avx2_at(level: isa::Isa) -> bool {
    cfg!(target_arch = "x86_64") && level.min(isa::detected()) >= isa::Isa::Avx2
}

/// The padded layout of an image's planes (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Padded {
    h: usize,
    w: usize,
    pad: usize,
    k: usize,
    /// Row stride, `w + pad`.
    row: usize,
    /// Plane stride.
    plane: usize,
}

impl Padded {
    pub(crate) fn of(geo: &Geometry) -> Self {
        let row = geo.w + geo.pad;
        Padded { h: geo.h, w: geo.w, pad: geo.pad, k: geo.k, row, plane: (geo.h + 2 * geo.pad) * row + 2 * geo.pad }
    }

    /// Index of pixel `(y, x)` in its plane.
    fn at(&self, y: usize, x: usize) -> usize {
        self.pad + (y + self.pad) * self.row + x
    }

    /// Virtual outputs per plane, a whole number of 8-wide vectors.
    fn virt(&self) -> usize {
        (self.h * self.row).next_multiple_of(8)
    }

    /// Offsets of the taps of channels `c0 .. c0 + channels` (row order
    /// `(ci, ki, kj)`).
    fn taps(&self, c0: usize, channels: usize) -> Vec<usize> {
        let k = self.k;
        (0..channels * k * k).map(|t| (c0 + t / (k * k)) * self.plane + (t / k % k) * self.row + t % k).collect()
    }

    /// `images` images of `channels` planes each (`[images, channels, h, w]`)
    /// in this layout, with [`SLACK`] zeros after the last, into `buf`.
    fn lay_out<'b>(&self, buf: &'b mut Vec<f32>, src: &[f32], images: usize, channels: usize) -> &'b [f32] {
        let hw = self.h * self.w;
        self.lay_out_planes(buf, images, channels, |i, ch| &src[(i * channels + ch) * hw..][..hw])
    }

    /// [`Padded::lay_out`] of a `[channels, width]` matrix whose rows hold
    /// `images` images side by side (`width = images·h·w`).
    fn lay_out_rows<'b>(&self, buf: &'b mut Vec<f32>, src: &[f32], images: usize, channels: usize, width: usize) -> &'b [f32] {
        let hw = self.h * self.w;
        self.lay_out_planes(buf, images, channels, |i, ch| &src[ch * width + i * hw..][..hw])
    }

    /// Plane `plane(i, ch)` (`h·w` values) of each image `i` and channel
    /// `ch` in this layout, image-major, with [`SLACK`] zeros after the last,
    /// into `buf`: every value is written (zeros first, one `memset` rather
    /// than one per border run), so whatever `buf` held does not matter.
    fn lay_out_planes<'b, 's>(&self, buf: &'b mut Vec<f32>, images: usize, channels: usize, plane: impl Fn(usize, usize) -> &'s [f32]) -> &'b [f32] {
        let out = sized(buf, images * channels * self.plane + SLACK);
        out.fill(0.0);
        for (at, dst) in out.chunks_exact_mut(self.plane).take(images * channels).enumerate() {
            for (y, row) in plane(at / channels, at % channels).chunks_exact(self.w).enumerate() {
                dst[self.at(y, 0)..][..self.w].copy_from_slice(row);
            }
        }
        out
    }

    /// The valid columns of virtual row `q`-space output `v` (`[rows, virt]`)
    /// as a `[rows, h, w]` image, each value through `f`.
    fn valid(&self, v: &[f32], rows: usize, out: &mut [f32], f: impl Fn(usize, f32) -> f32) {
        let virt = self.virt();
        for r in 0..rows {
            let src = &v[r * virt..];
            let dst = &mut out[r * self.h * self.w..][..self.h * self.w];
            for (y, d) in dst.chunks_exact_mut(self.w).enumerate() {
                d.iter_mut().zip(&src[y * self.row..][..self.w]).for_each(|(d, s)| *d = f(r, *s));
            }
        }
    }
}

/// A row-major `[m, k]` matrix packed for [`gemm_taps`]: per depth block of
/// [`KC`], panels of [`MR`] rows, depth-major, zero rows below `m`.
pub(crate) struct PackedA {
    data: Vec<f32>,
    m: usize,
    panels: usize,
    k: usize,
}

impl PackedA {
    /// The row-major `[m, k]` matrix `a`.
    fn new(a: &[f32], m: usize, k: usize) -> Self {
        assert_eq!(a.len(), m * k, "a [{m}, {k}] matrix");
        let panels = m.div_ceil(MR);
        let mut data = vec![0.0f32; panels * MR * k];
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            for p in 0..panels {
                let panel = &mut data[k0 * panels * MR + p * MR * kc..][..MR * kc];
                for (i, row) in a.chunks_exact(k).skip(p * MR).take(MR).enumerate() {
                    panel.iter_mut().skip(i).step_by(MR).zip(&row[k0..k0 + kc]).for_each(|(d, v)| *d = *v);
                }
            }
        }
        PackedA { data, m, panels, k }
    }

    /// Panel `p` of the depth block starting at `k0` (`kc` deep).
    fn panel(&self, k0: usize, kc: usize, p: usize) -> &[f32] {
        &self.data[k0 * self.panels * MR + p * MR * kc..][..MR * kc]
    }
}

/// `c[0 .. m, 0 .. n] = A · B` with `B[t, q] = src[q + taps[t]]`: the
/// direct convolution of one image (`c` row stride `n`, a multiple of 8).
/// The last panel's tiles have only its `m mod MR` rows where `MR` does not
/// divide `m` (16 output channels: panels of 6, 6 and 4, no zero rows).
fn gemm_taps(c: &mut [f32], a: &PackedA, src: &[f32], taps: &[usize], n: usize) {
    assert!(n.is_multiple_of(8) && c.len() >= a.m * n && taps.len() == a.k);
    let reach = taps.iter().max().map_or(0, |t| t + n);
    assert!(reach <= src.len(), "direct convolution reads past its image ({reach} > {})", src.len());
    assert!(avx2_at(isa::Isa::Avx2), "the direct path runs where `applies` found AVX2");
    for k0 in (0..a.k).step_by(KC) {
        let kc = KC.min(a.k - k0);
        let taps = &taps[k0..k0 + kc];
        for first in (0..a.panels).step_by(MC / MR) {
            for q0 in (0..n).step_by(16) {
                for p in first..a.panels.min(first + MC / MR) {
                    let (ap, cp) = (a.panel(k0, kc, p), &mut c[p * MR * n + q0..]);
                    let (rows, wide) = (MR.min(a.m - p * MR), n - q0 >= 16);
                    #[cfg(not(target_arch = "x86_64"))]
                    unreachable!("the direct path runs where `applies` found AVX2");
                    // SAFETY: the CPU has AVX2 and FMA (asserted above); the panel
                    // holds kc·MR values; every B read, src[q0 + taps[t] + 0..16
                    // (or 8 in the last tile)], is below `reach`; the tile's
                    // `rows` rows lie in c (the panel's rows are below m, and
                    // n ≥ q0 + 16, or q0 + 8 in the last tile).
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        let args = (kc, ap.as_ptr(), src.as_ptr().add(q0), taps.as_ptr(), cp.as_mut_ptr(), n, k0 > 0);
                        const { assert!(MR == 6, "one arm per panel height below") };
                        macro_rules! tile {
                            ($($r:literal)*) => {
                                match (rows, wide) {
                                    $(($r, true) => avx2::taps::<$r, 2>(args), ($r, false) => avx2::taps::<$r, 1>(args),)*
                                    _ => unreachable!("a panel has 1 to MR rows"),
                                }
                            };
                        }
                        tile!(1 2 3 4 5 6)
                    }
                }
            }
        }
    }
}

/// `c[0 .. rows.len() rounded up to MR, 0 .. nb] += A · B` over depth `k`,
/// `A` row `i` read in place at `src[rows[i] ..]`, `B` packed `[k, nb]`
/// (`nb` a multiple of 8): the weight gradient of one image.
fn gemm_rows(c: &mut [f32], src: &[f32], rows: &[usize], b: &[f32], k: usize, nb: usize) {
    let m = rows.len();
    let mp = m.div_ceil(MR) * MR;
    assert!(nb.is_multiple_of(8) && c.len() >= mp * nb && b.len() >= k * nb);
    assert!(rows.iter().all(|r| r + k <= src.len()), "weight gradient reads past its image");
    assert!(avx2_at(isa::Isa::Avx2), "the direct path runs where `applies` found AVX2");
    // the panel's rows, the last repeated into the padding rows (their sums are dropped)
    let row = |i: usize| rows[i.min(m - 1)];
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        for j0 in (0..nb).step_by(16) {
            let bp = &b[k0 * nb + j0..];
            for p in 0..mp / MR {
                let ptrs: [*const f32; MR] = std::array::from_fn(|r| src[row(p * MR + r) + k0..].as_ptr());
                let cp = &mut c[p * MR * nb + j0..];
                #[cfg(not(target_arch = "x86_64"))]
                unreachable!("the direct path runs where `applies` found AVX2");
                // SAFETY: AVX2 and FMA as above; each A row reads kc values
                // from its start, inside src (checked above); B reads kc rows
                // of 16 (or 8 in the last tile) at stride nb from bp, inside b;
                // the tile's MR rows lie in c.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    if nb - j0 >= 16 {
                        avx2::rows::<2>(kc, ptrs, bp.as_ptr(), nb, cp.as_mut_ptr(), nb)
                    } else {
                        avx2::rows::<1>(kc, ptrs, bp.as_ptr(), nb, cp.as_mut_ptr(), nb)
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::MR;
    use std::arch::x86_64::*;

    /// `c[0..R, 0..8·V] (+)= a_panel[0..R] · B` over depth `kc` (the
    /// panel's rows are `MR` apart), `B` row `d` read at `b + taps[d]`.
    ///
    /// # Safety
    /// AVX2 and FMA; `a` holds `kc·MR` values; `b + taps[d] + 8·V` is
    /// readable for every `d < kc`; `c` has `R` rows of `8·V` at stride `ldc`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn taps<const R: usize, const V: usize>(
        (kc, a, b, taps, c, ldc, add): (usize, *const f32, *const f32, *const usize, *mut f32, usize, bool),
    ) {
        const { assert!(R <= MR) };
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        for d in 0..kc {
            // SAFETY: the caller's bounds.
            unsafe {
                let bp = b.add(*taps.add(d));
                let bv: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(bp.add(8 * v)));
                let ad = a.add(d * MR);
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*ad.add(r));
                    for v in 0..V {
                        acc[v] = _mm256_fmadd_ps(av, bv[v], acc[v]);
                    }
                }
            }
        }
        // SAFETY: the caller's bounds.
        unsafe { store::<R, V>(acc, c, ldc, add) }
    }

    /// `c[0..MR, 0..8·V] += A · b_panel` over depth `kc`, `A` row `r` read
    /// from `rows[r]`, `B` row `d` at `b + d·ldb`.
    ///
    /// # Safety
    /// AVX2 and FMA; each `rows[r]` has `kc` readable values; `b + d·ldb +
    /// 8·V` is readable for `d < kc`; `c` has `MR` rows of `8·V` at stride `ldc`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn rows<const V: usize>(kc: usize, rows: [*const f32; MR], b: *const f32, ldb: usize, c: *mut f32, ldc: usize) {
        let mut acc = [[_mm256_setzero_ps(); V]; MR];
        for d in 0..kc {
            // SAFETY: the caller's bounds.
            unsafe {
                let bp = b.add(d * ldb);
                let bv: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(bp.add(8 * v)));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*rows[r].add(d));
                    for v in 0..V {
                        acc[v] = _mm256_fmadd_ps(av, bv[v], acc[v]);
                    }
                }
            }
        }
        // SAFETY: the caller's bounds.
        unsafe { store::<MR, V>(acc, c, ldc, true) }
    }

    /// Transposes the 8 × 8 block whose row `r` is `src + r·lds ..+ 8`:
    /// column `j` goes to `dst[j] ..+ 8`.
    ///
    /// # Safety
    /// AVX2; the 8 source rows and the 8 destinations hold 8 values each.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn transpose8(src: *const f32, lds: usize, dst: [*mut f32; 8]) {
        // SAFETY: the caller's bounds.
        unsafe {
            let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * lds)));
            // pairs of rows interleaved, then quadruples, then the halves swapped
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let cols = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            for (d, v) in dst.into_iter().zip(cols) {
                _mm256_storeu_ps(d, v);
            }
        }
    }

    /// Store (or add) a tile.
    ///
    /// # Safety
    /// AVX2; `c` has `R` rows of `8·V` at stride `ldc`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn store<const R: usize, const V: usize>(acc: [[__m256; V]; R], c: *mut f32, ldc: usize, add: bool) {
        for (r, acc) in acc.iter().enumerate() {
            for (v, &x) in acc.iter().enumerate() {
                // SAFETY: the caller's bounds.
                unsafe {
                    let at = c.add(r * ldc + 8 * v);
                    let x = if add { _mm256_add_ps(x, _mm256_loadu_ps(at)) } else { x };
                    _mm256_storeu_ps(at, x);
                }
            }
        }
    }
}

/// The weight of each group packed for the forward product.
pub(crate) fn pack_forward(weight: &[f32], geo: &Geometry) -> Vec<PackedA> {
    let (cog, kk) = (geo.cog(), geo.kk());
    weight.chunks_exact(cog * kk).map(|w| PackedA::new(w, cog, kk)).collect()
}

/// The flipped, transposed kernel of each group, packed for the input
/// gradient: row `ci`, column `(o, a, b)` holds `W[o, ci, k−1−a, k−1−b]`,
/// that is, column block `o` of row `ci` is `W[o, ci]`'s taps reversed.
pub(crate) fn pack_flipped(weight: &[f32], geo: &Geometry) -> Vec<PackedA> {
    let (cg, cog, k2) = (geo.cg(), geo.cog(), geo.k * geo.k);
    let mut flipped = vec![0.0f32; cg * cog * k2];
    weight
        .chunks_exact(cog * cg * k2)
        .map(|w| {
            for (oc, taps) in w.chunks_exact(k2).enumerate() {
                let (o, ci) = (oc / cg, oc % cg);
                flipped[(ci * cog + o) * k2..][..k2].iter_mut().zip(taps.iter().rev()).for_each(|(d, v)| *d = *v);
            }
            PackedA::new(&flipped, cg, cog * k2)
        })
        .collect()
}

/// Working buffers of the direct path, one set per thread, reused from
/// call to call: sized up where a call needs more, never cleared, because
/// every value a call reads it has written first (the padded layouts'
/// borders, the junk rows of `dyᵀ` and its columns past `cog`, and the
/// weight-gradient sums included). Saves allocating and zeroing buffers on every call.
#[derive(Default)]
struct Scratch {
    /// Padded images (or, for the input gradient, padded output gradients).
    images: Vec<f32>,
    /// One image's product, `[rows, virt]`.
    res: Vec<f32>,
    /// One image's `dyᵀ`, `[virt, cop]`.
    dyt: Vec<f32>,
    /// One group's weight gradient, transposed, `[kk rounded up to MR, cop]`.
    dwt: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// The first `len` values of `buf`, grown to that where it is shorter
/// (with NaN in tests, so that a value read before it is written shows).
fn sized(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, if cfg!(test) { f32::NAN } else { 0.0 });
    }
    &mut buf[..len]
}

/// Fills this thread's [`Scratch`] with NaN (what [`sized`] grows is NaN in
/// tests too): a test then fails wherever a call reads a value it did not
/// write.
#[cfg(test)]
fn poison_scratch() {
    SCRATCH.with_borrow_mut(|s| {
        for b in [&mut s.images, &mut s.res, &mut s.dyt, &mut s.dwt] {
            b.fill(f32::NAN);
        }
    });
}

/// Forward of the chunk's images into `out` (`[nb, co, h, w]`):
/// `relu?(conv(x, w) + bias)`; `c.packed` is
/// [`pack_forward`]'s.
pub(crate) fn chunk_forward(c: &Chunk, bias: &[f32], fuse_relu: bool, out: &mut [f32]) {
    let &Chunk { x, packed, geo, n0, nb, .. } = c;
    assert_eq!(packed.len(), geo.groups, "the forward product needs every group's packed weight");
    let lay = Padded::of(geo);
    let (cg, cog, hw) = (geo.cg(), geo.cog(), geo.h * geo.w);
    let virt = lay.virt();
    SCRATCH.with_borrow_mut(|s| {
        let images = lay.lay_out(&mut s.images, &x[n0 * geo.c * hw..], nb, geo.c);
        let res = sized(&mut s.res, cog * virt);
        for (g, a) in packed.iter().enumerate() {
            let taps = lay.taps(g * cg, cg);
            for b in 0..nb {
                gemm_taps(res, a, &images[b * geo.c * lay.plane..], &taps, virt);
                let dst = &mut out[(b * geo.co + g * cog) * hw..][..cog * hw];
                let bias = &bias[g * cog..];
                if fuse_relu {
                    lay.valid(res, cog, dst, |o, v| (v + bias[o]).max(0.0));
                } else {
                    lay.valid(res, cog, dst, |o, v| v + bias[o]);
                }
            }
        }
    })
}

/// Backward of the chunk's images given their ReLU-masked output gradient
/// `dyc` (`[co, nb·h·w]`, as [`crate::conv`] builds it): adds the weight
/// gradient to `dw` (`[co, kk]`) and writes the input gradient into `dx`
/// (`[nb, c, h, w]`), each where asked for;
/// `c.packed` is [`pack_flipped`]'s where `dx` is asked for.
pub(crate) fn chunk_backward(c: &Chunk, dyc: &[f32], dw: Option<&mut [f32]>, dx: Option<&mut [f32]>) {
    let &Chunk { x, packed, geo, n0, nb, .. } = c;
    assert!(dx.is_none() || packed.len() == geo.groups, "the input gradient needs the flipped kernel of every group");
    let lay = Padded::of(geo);
    let (cg, cog, hw) = (geo.cg(), geo.cog(), geo.h * geo.w);
    let (kk, virt, width) = (geo.kk(), lay.virt(), nb * hw);
    SCRATCH.with_borrow_mut(|s| {
        if let Some(dw) = dw {
            let images = lay.lay_out(&mut s.images, &x[n0 * geo.c * hw..], nb, geo.c);
            let cop = cog.next_multiple_of(8);
            let dwt = sized(&mut s.dwt, kk.div_ceil(MR) * MR * cop);
            let dyt = sized(&mut s.dyt, virt * cop);
            zero_junk(dyt, &lay, cog, cop);
            for g in 0..geo.groups {
                dwt.fill(0.0);
                let taps = lay.taps(g * cg, cg);
                for i in 0..nb {
                    // dyᵀ of image i, group g, at its virtual columns
                    transpose_into(dyt, cop, &dyc[g * cog * width + i * hw..], width, cog, &lay);
                    gemm_rows(dwt, &images[i * geo.c * lay.plane..], &taps, dyt, virt, cop);
                }
                for o in 0..cog {
                    let row = &mut dw[(g * cog + o) * kk..][..kk];
                    row.iter_mut().enumerate().for_each(|(t, d)| *d += dwt[t * cop + o]);
                }
            }
        }
        if let Some(dx) = dx {
            // the output gradient in the padded layout, convolved with the flipped kernel
            let grads = lay.lay_out_rows(&mut s.images, dyc, nb, geo.co, width);
            let res = sized(&mut s.res, cg * virt);
            for (g, a) in packed.iter().enumerate() {
                let taps = lay.taps(g * cog, cog);
                for i in 0..nb {
                    gemm_taps(res, a, &grads[i * geo.co * lay.plane..], &taps, virt);
                    lay.valid(res, cg, &mut dx[(i * geo.c + g * cg) * hw..][..cg * hw], |_, v| v);
                }
            }
        }
    })
}

/// Zeros the rows of `dyt` (`[virt, cop]`) that no output pixel fills (the
/// junk virtual columns, `x ≥ w`, and those past the last row) and, in
/// every row, the columns `cog .. cop` (their sums are dropped, but a stale
/// value there could be a slow denormal).
fn zero_junk(dyt: &mut [f32], lay: &Padded, cog: usize, cop: usize) {
    for (q, row) in dyt.chunks_exact_mut(cop).enumerate() {
        if q >= lay.h * lay.row || q % lay.row >= lay.w {
            row.fill(0.0);
        } else {
            row[cog..].fill(0.0);
        }
    }
}

/// `dyt[q(s), o] = src[o·lds + s]` for each output pixel `s < h·w` (its
/// virtual column `q(s)`) and channel `o < cog`: one image's output
/// gradient, transposed into `dyt` (`[virt, cop]`), 8 × 8 blocks at a time.
fn transpose_into(dyt: &mut [f32], cop: usize, src: &[f32], lds: usize, cog: usize, lay: &Padded) {
    let hw = lay.h * lay.w;
    assert!(cog > 0 && cog <= cop && dyt.len() >= lay.virt() * cop && src.len() >= (cog - 1) * lds + hw);
    assert!(avx2_at(isa::Isa::Avx2), "the direct path runs where `applies` found AVX2");
    let q = |s: usize| s / lay.w * lay.row + s % lay.w;
    let (o8, s8) = (cog - cog % 8, hw - hw % 8);
    for o in (0..o8).step_by(8) {
        for s in (0..s8).step_by(8) {
            #[cfg(not(target_arch = "x86_64"))]
            unreachable!("the direct path runs where `applies` found AVX2");
            // SAFETY: AVX2 (asserted above); the block's source rows
            // src[(o + r)·lds + s ..][..8] lie in src (o + r < cog, s + 8 ≤ hw),
            // its destinations dyt[q(s + j)·cop + o ..][..8] in dyt
            // (q(s + j) < virt, o + 8 ≤ cop).
            #[cfg(target_arch = "x86_64")]
            unsafe {
                let to = dyt.as_mut_ptr();
                avx2::transpose8(src.as_ptr().add(o * lds + s), lds, std::array::from_fn(|j| to.add(q(s + j) * cop + o)))
            }
        }
    }
    // the edges: channels past the last 8 and pixels past the last 8
    for o in 0..cog {
        let from = if o < o8 { s8 } else { 0 };
        for s in from..hw {
            dyt[q(s) * cop + o] = src[o * lds + s];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution by its definition, in f64.
    fn conv_by_definition(x: &[f32], weight: &[f32], geo: &Geometry) -> Vec<f64> {
        let (cg, cog, k) = (geo.cg(), geo.cog(), geo.k);
        let mut out = vec![0.0f64; geo.n * geo.co * geo.h * geo.w];
        for b in 0..geo.n {
            for o in 0..geo.co {
                let g = o / cog;
                for y in 0..geo.h {
                    for xx in 0..geo.w {
                        let mut s = 0.0f64;
                        for ci in 0..cg {
                            for ki in 0..k {
                                for kj in 0..k {
                                    let (iy, ix) = ((y + ki) as isize - geo.pad as isize, (xx + kj) as isize - geo.pad as isize);
                                    if iy >= 0 && ix >= 0 && (iy as usize) < geo.h && (ix as usize) < geo.w {
                                        let xv = x[((b * geo.c + g * cg + ci) * geo.h + iy as usize) * geo.w + ix as usize] as f64;
                                        s += xv * weight[((o * cg + ci) * k + ki) * k + kj] as f64;
                                    }
                                }
                            }
                        }
                        out[((b * geo.co + o) * geo.h + y) * geo.w + xx] = s;
                    }
                }
            }
        }
        out
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0 - 1.0).collect()
    }

    /// Groups, 3×3 and 5×5, `k = 1`, a 1×1 image, more than one depth
    /// block of taps (`KC`: 16·25 = 400) and of virtual columns (19·21 = 399),
    /// a last panel of each height from 1 to `MR − 1` (forward: `cog`; input
    /// gradient: `cg`; whole panels of `MR` in most), whole and partial
    /// 8 × 8 blocks of `dyᵀ`, more than one block of `MC` rows.
    const SHAPES: [Geometry; 8] = [
        Geometry { n: 3, c: 4, h: 7, w: 7, co: 6, k: 3, stride: 1, pad: 1, groups: 2 },
        Geometry { n: 2, c: 3, h: 9, w: 5, co: 13, k: 5, stride: 1, pad: 2, groups: 1 },
        Geometry { n: 2, c: 16, h: 3, w: 3, co: 32, k: 3, stride: 1, pad: 1, groups: 2 },
        Geometry { n: 1, c: 2, h: 4, w: 6, co: 3, k: 1, stride: 1, pad: 0, groups: 1 },
        Geometry { n: 2, c: 3, h: 1, w: 1, co: 4, k: 5, stride: 1, pad: 2, groups: 1 },
        Geometry { n: 1, c: 16, h: 19, w: 19, co: 7, k: 5, stride: 1, pad: 2, groups: 1 },
        Geometry { n: 2, c: 5, h: 5, w: 3, co: 11, k: 3, stride: 1, pad: 1, groups: 1 },
        // more than MC rows of A, forward (101) and for the input gradient (100)
        // (virtual columns 5·7 = 35 → 40: strips of 16, 16 and 8 under each block)
        Geometry { n: 1, c: 100, h: 5, w: 6, co: 101, k: 3, stride: 1, pad: 1, groups: 1 },
    ];

    /// Forward, input gradient and weight gradient against their
    /// definitions: the input gradient is `Σ dy · ∂out/∂x` and the weight
    /// gradient `Σ dy · ∂out/∂w`, each checked through the definition's
    /// linearity (the convolution of a one-hot input or weight).
    #[test]
    fn the_direct_convolution_and_its_gradients_match_their_definitions() {
        if !avx2_at(isa::Isa::Avx2) {
            println!("SKIP: this CPU has no AVX2, which the direct path needs");
            return;
        }
        for geo in SHAPES {
            assert!(applies(&geo, isa::Isa::Avx2));
            let (kk, hw) = (geo.kk(), geo.h * geo.w);
            let (x, weight, bias) = (values(geo.n * geo.c * hw, 1), values(geo.co * kk, 2), values(geo.co, 3));
            let want = conv_by_definition(&x, &weight, &geo);
            let mut out = vec![0.0f32; geo.n * geo.co * hw];
            for b in 0..geo.n {
                let c = Chunk { x: &x, weight: &weight, packed: &pack_forward(&weight, &geo), geo: &geo, n0: b, nb: 1 };
                poison_scratch();
                chunk_forward(&c, &bias, false, &mut out[b * geo.co * hw..][..geo.co * hw]);
            }
            for (i, (g, w)) in out.iter().zip(&want).enumerate() {
                let w = w + bias[i / hw % geo.co] as f64;
                assert!((*g as f64 - w).abs() < 1e-4, "{geo:?} forward at {i}: {g} vs {w}");
            }
            // gradients of L = Σ dy · out, the whole batch as one chunk
            let dy = values(geo.n * geo.co * hw, 4);
            let width = geo.n * hw;
            let dyc: Vec<f32> = (0..geo.co * width).map(|i| dy[((i % width) / hw * geo.co + i / width) * hw + i % hw]).collect();
            let (mut dw, mut dx) = (vec![0.0f32; geo.co * kk], vec![0.0f32; geo.n * geo.c * hw]);
            let c = Chunk { x: &x, weight: &weight, packed: &pack_flipped(&weight, &geo), geo: &geo, n0: 0, nb: geo.n };
            poison_scratch();
            chunk_backward(&c, &dyc, Some(&mut dw), Some(&mut dx));
            let dot = |v: &[f64]| v.iter().zip(&dy).map(|(a, b)| a * *b as f64).sum::<f64>();
            // about 60 entries spread over each gradient (every entry of one with fewer)
            for (j, got) in dx.iter().enumerate().step_by(1 + dx.len() / 60) {
                let mut e = vec![0.0f32; x.len()];
                e[j] = 1.0;
                let want = dot(&conv_by_definition(&e, &weight, &geo));
                assert!((*got as f64 - want).abs() < 1e-4, "{geo:?} dx at {j}: {got} vs {want}");
            }
            for (j, got) in dw.iter().enumerate().step_by(1 + dw.len() / 60) {
                let mut e = vec![0.0f32; weight.len()];
                e[j] = 1.0;
                let want = dot(&conv_by_definition(&x, &e, &geo));
                assert!((*got as f64 - want).abs() < 1e-3, "{geo:?} dw at {j}: {got} vs {want}");
            }
        }
    }

    /// The direct path runs at AVX2 and above and nowhere else; above
    /// AVX2 it is the same code, so the same bits.
    #[test]
    fn the_direct_path_runs_from_avx2_up() {
        let geo = SHAPES[0];
        assert!(!applies(&geo, isa::Isa::Plain), "without AVX2 the im2col path runs");
        assert_eq!(applies(&geo, isa::Isa::Avx2), isa::detected() >= isa::Isa::Avx2);
        assert_eq!(applies(&geo, isa::Isa::Avx512), isa::detected() >= isa::Isa::Avx2);
        assert!(!applies(&Geometry { stride: 2, ..geo }, isa::Isa::Avx512), "stride 2");
        assert!(!applies(&Geometry { pad: 0, ..geo }, isa::Isa::Avx512), "not \"same\"");
    }
}
