//! Single-precision matrix multiply for the convolution op ([`crate::conv`]):
//! `C = (accumulate ? C : 0) + A · B`, `C` row-major, `A` and `B` any
//! strided views (so transposes cost nothing to express); `B` may also be
//! any [`Operand`] that can gather a block of itself, such as the
//! convolution's `im2col` matrix computed on the fly.
//!
//! On CPUs with AVX-512 it runs a BLIS-style kernel written here: `B` packed
//! into 32-column panels (two zmm registers wide) that stay in L1, `A`
//! packed into 12-row panels, a 12 × 32 register tile of 24 accumulators.
//! Measured on this project's 2-core AMD EPYC (Zen 5), one thread, in the
//! workspace's `dev` profile: 200–235 GFLOP/s on the convolutions' shapes
//! (about 80% of the core's FMA peak), against 225–255 for the `gemm` crate
//! that burn-flex uses on plain row-major matrices (`cargo run --profile dev
//! -p transferability-model --example sgemm -- 384 1728 1024`). This kernel
//! is kept because it packs any [`Operand`], which spares the convolution
//! writing out its `im2col` matrix, and because the `gemm` crate is slow on
//! the weight gradient's transposed operand: with the `gemm` crate and a
//! written-out `im2col` the pinned network trains 15% slower (forward equal).
//! With AVX2 and FMA (and no AVX-512, or `TRANSFERABILITY_ISA=avx2`) the
//! same blocked loops run a 6 × 16 tile of 12 ymm accumulators (15 of the
//! 16 ymm registers), `B` in 16-column panels. Elsewhere (and under
//! `TRANSFERABILITY_ISA=plain`) it falls back to the `gemm` crate. The
//! level comes from [`isa::active`]; [`sgemm_at`] runs a given one.
//! Single-threaded: callers parallelise over independent chunks.
#![allow(unsafe_code)]

/// A strided matrix view: element `(i, j)` is `data[i · rs + j · cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    /// Backing storage.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat { data, rows, cols, rs: cols, cs: 1 }
    }

    /// The transpose (a view, nothing moves).
    pub fn t(self) -> Self {
        Mat { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0 || self.cols == 0 || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }

    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
}

/// The right-hand operand of [`sgemm_of`]: a matrix the kernel reads one
/// block at a time. A [`Mat`] is one; so is a matrix computed on the fly
/// from another layout (the convolution's lowered input,
/// `conv::Lowered`), which then never has to be written out whole.
pub trait Operand {
    /// Rows.
    fn rows(&self) -> usize;
    /// Columns.
    fn cols(&self) -> usize;
    /// Write `self[i0 .. i0 + h, j0 .. j0 + w]` to `out[i · ld + j]`.
    fn gather(&self, i0: usize, h: usize, j0: usize, w: usize, out: &mut [f32], ld: usize);
    /// Itself as a strided view, where it is one.
    fn as_mat(&self) -> Option<Mat<'_>> {
        None
    }
}

impl Operand for Mat<'_> {
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn gather(&self, i0: usize, h: usize, j0: usize, w: usize, out: &mut [f32], ld: usize) {
        if self.cs == 1 {
            // rows are contiguous
            for i in 0..h {
                let start = (i0 + i) * self.rs + j0;
                out[i * ld..i * ld + w].copy_from_slice(&self.data[start..start + w]);
            }
        } else if self.rs == 1 {
            // columns are contiguous: read each once, write strided
            for j in 0..w {
                let start = (j0 + j) * self.cs + i0;
                for (i, v) in self.data[start..start + h].iter().enumerate() {
                    out[i * ld + j] = *v;
                }
            }
        } else {
            for i in 0..h {
                for j in 0..w {
                    out[i * ld + j] = self.at(i0 + i, j0 + j);
                }
            }
        }
    }
    fn as_mat(&self) -> Option<Mat<'_>> {
        Some(*self)
    }
}

/// `dst = (accumulate ? dst : 0) + a · b`, `dst` row-major `a.rows × b.cols`.
///
/// # Panics
/// When the shapes disagree or a view reaches outside its slice.
pub fn sgemm(dst: &mut [f32], a: Mat, b: Mat, accumulate: bool) {
    assert!(b.fits(), "sgemm: shapes do not match");
    sgemm_of(dst, a, &b, accumulate)
}

/// [`sgemm`] with any [`Operand`] on the right: `b` is read a block at a
/// time into the packed panels, or, without AVX2, gathered whole first.
///
/// # Panics
/// When the shapes disagree or `a` reaches outside its slice.
pub fn sgemm_of<B: Operand>(dst: &mut [f32], a: Mat, b: &B, accumulate: bool) {
    sgemm_at(isa::active(), dst, a, b, accumulate)
}

/// [`sgemm_of`] on the kernel of `level` (lowered to what the CPU has):
/// the packed AVX-512 or AVX2 kernel, or the `gemm` crate. The tests run
/// every level the CPU can.
///
/// # Panics
/// As [`sgemm_of`].
pub fn sgemm_at<B: Operand>(level: isa::Isa, dst: &mut [f32], a: Mat, b: &B, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols());
    assert!(b.rows() == k && dst.len() == m * n && a.fits(), "sgemm: shapes do not match");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    match level.min(isa::detected()) {
        // SAFETY: `detected` says the CPU has AVX-512F.
        isa::Isa::Avx512 => return unsafe { avx512::sgemm(dst, a, b, accumulate) },
        // SAFETY: `detected` says the CPU has AVX2 and FMA.
        isa::Isa::Avx2 => return unsafe { avx2::sgemm(dst, a, b, accumulate) },
        isa::Isa::Plain => {}
    }
    let _ = level;
    portable_of(dst, a, b, accumulate)
}

/// [`portable`] with any [`Operand`]: one that is no [`Mat`] is gathered
/// whole first.
pub fn portable_of<B: Operand>(dst: &mut [f32], a: Mat, b: &B, accumulate: bool) {
    match b.as_mat() {
        Some(bm) => portable(dst, a, bm, accumulate),
        None => {
            let (k, n) = (b.rows(), b.cols());
            let mut whole = vec![0.0f32; k * n];
            b.gather(0, k, 0, n, &mut whole, n);
            portable(dst, a, Mat::new(&whole, k, n), accumulate)
        }
    }
}

/// The `gemm` crate (burn-flex's own matmul), for CPUs without AVX2 (and
/// `TRANSFERABILITY_ISA=plain`).
pub fn portable(dst: &mut [f32], a: Mat, b: Mat, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && dst.len() == m * n && a.fits() && b.fits(), "sgemm: shapes do not match");
    // SAFETY: every index the kernel touches, `i·rs + j·cs` for i < rows and
    // j < cols, was checked above to lie inside its slice; `dst` is an
    // exclusive borrow, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Depth of one packed block: a `KC × NR` panel of `B` stays in L1 (32 KiB
/// for AVX-512's 32 columns, 16 KiB for AVX2's 16).
const KC: usize = 256;
/// Rows of `A` packed at once (a multiple of both tiles' `MR`, 12 and 6):
/// 120 × 256 × 4 B = 120 KiB (L2).
const MC: usize = 120;
/// Columns of `B` packed at once.
const NC: usize = 3072;

/// Pack `m[k0 .. k0 + kc, j0 .. j0 + nc]` into `R`-column panels, k-major
/// (`panel[kk · R + c]`), zero-padded to a multiple of `R` columns. `B` is
/// packed as it is (`R = NR`); `A` as its transpose (`R = MR`), so that an
/// `A` panel holds `MR` rows side by side.
fn pack<const R: usize, O: Operand>(m: &O, k0: usize, kc: usize, j0: usize, nc: usize, out: &mut Vec<f32>) {
    let panels = nc.div_ceil(R);
    // every value is written below, so the buffer only ever grows
    if out.len() < panels * R * kc {
        out.resize(panels * R * kc, 0.0);
    }
    for q in 0..panels {
        let panel = &mut out[q * R * kc..(q + 1) * R * kc];
        let width = R.min(nc - q * R);
        if width < R {
            panel.fill(0.0);
        }
        m.gather(k0, kc, j0 + q * R, width, panel, R);
    }
}

/// A register-tile kernel: `c[0..MR, 0..NR] (+)= a_panel · b_panel` over
/// depth `kc`, `c` with row stride `ldc`.
///
/// # Safety
/// `a` holds `kc · MR` values, `b` `kc · NR`, `c` `MR` rows of `NR` values
/// at stride `ldc`, and the CPU has the kernel's instruction set.
type Kernel = unsafe fn(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, add: bool);

/// The blocked product (BLIS's loop order) around an `MR × NR` register
/// tile `kernel`.
///
/// # Safety
/// The CPU must have `kernel`'s instruction set.
#[cfg(target_arch = "x86_64")]
unsafe fn blocked<const MR: usize, const NR: usize, B: Operand>(dst: &mut [f32], a: Mat, b: &B, accumulate: bool, kernel: Kernel) {
    let (m, k, n) = (a.rows, a.cols, b.cols());
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    let mut tile = vec![0.0f32; MR * NR];
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            pack::<NR, B>(b, k0, kc, j0, nc, &mut pb);
            let add = accumulate || k0 > 0;
            for i0 in (0..m).step_by(MC) {
                let mc = MC.min(m - i0);
                pack::<MR, Mat>(&a.t(), k0, kc, i0, mc, &mut pa);
                for q in 0..nc.div_ceil(NR) {
                    let bp = &pb[q * NR * kc..(q + 1) * NR * kc];
                    let (j, width) = (j0 + q * NR, NR.min(nc - q * NR));
                    for p in 0..mc.div_ceil(MR) {
                        let ap = &pa[p * MR * kc..(p + 1) * MR * kc];
                        let (i, height) = (i0 + p * MR, MR.min(mc - p * MR));
                        if height == MR && width == NR {
                            // the whole tile lies inside dst: rows i..i+MR, columns j..j+NR
                            let last = (i + MR - 1) * n + j + NR;
                            assert!(last <= dst.len());
                            // SAFETY: packed panels hold kc·MR and kc·NR values; the
                            // tile's last element is checked just above; the caller
                            // guarantees the instruction set.
                            unsafe { kernel(kc, ap.as_ptr(), bp.as_ptr(), dst.as_mut_ptr().add(i * n + j), n, add) };
                        } else {
                            // SAFETY: `tile` is MR × NR with row stride NR.
                            unsafe { kernel(kc, ap.as_ptr(), bp.as_ptr(), tile.as_mut_ptr(), NR, false) };
                            for r in 0..height {
                                let row = &mut dst[(i + r) * n + j..(i + r) * n + j + width];
                                let src = &tile[r * NR..r * NR + width];
                                if add {
                                    row.iter_mut().zip(src).for_each(|(d, s)| *d += s);
                                } else {
                                    row.copy_from_slice(src);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::*;
    use std::arch::x86_64::*;

    /// Rows of the register tile.
    pub(super) const MR: usize = 12;
    /// Columns of the register tile (two 16-lane zmm registers).
    pub(super) const NR: usize = 32;

    /// The blocked product on a 12 × 32 tile of 24 zmm accumulators.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    pub(super) unsafe fn sgemm<B: Operand>(dst: &mut [f32], a: Mat, b: &B, accumulate: bool) {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { blocked::<MR, NR, B>(dst, a, b, accumulate, kernel) }
    }

    /// `c[0..MR, 0..NR] (+)= a_panel · b_panel` over depth `kc`; `c` has row stride `ldc`.
    /// The 24 accumulators are named locals (an array of them makes LLVM
    /// spill to the stack every iteration).
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, add: bool) {
        macro_rules! tile {
            ($(($r:literal, $x:ident, $y:ident)),*) => {{
                $(let mut $x = _mm512_setzero_ps(); let mut $y = _mm512_setzero_ps();)*
                for kk in 0..kc {
                    // SAFETY: a holds kc·MR values, b kc·NR.
                    unsafe {
                        let b0 = _mm512_loadu_ps(b.add(kk * NR));
                        let b1 = _mm512_loadu_ps(b.add(kk * NR + 16));
                        let ak = a.add(kk * MR);
                        $(
                            let av = _mm512_set1_ps(*ak.add($r));
                            $x = _mm512_fmadd_ps(av, b0, $x);
                            $y = _mm512_fmadd_ps(av, b1, $y);
                        )*
                    }
                }
                $(
                    // SAFETY: c has MR rows of NR values at stride ldc.
                    unsafe {
                        let row = c.add($r * ldc);
                        if add {
                            $x = _mm512_add_ps($x, _mm512_loadu_ps(row));
                            $y = _mm512_add_ps($y, _mm512_loadu_ps(row.add(16)));
                        }
                        _mm512_storeu_ps(row, $x);
                        _mm512_storeu_ps(row.add(16), $y);
                    }
                )*
            }};
        }
        tile!(
            (0, c0a, c0b),
            (1, c1a, c1b),
            (2, c2a, c2b),
            (3, c3a, c3b),
            (4, c4a, c4b),
            (5, c5a, c5b),
            (6, c6a, c6b),
            (7, c7a, c7b),
            (8, c8a, c8b),
            (9, c9a, c9b),
            (10, c10a, c10b),
            (11, c11a, c11b)
        );
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    /// Rows of the register tile.
    pub(super) const MR: usize = 6;
    /// Columns of the register tile (two 8-lane ymm registers).
    pub(super) const NR: usize = 16;

    /// The blocked product on a 6 × 16 tile: 12 ymm accumulators, two for
    /// the `B` row and one broadcast, 15 of the 16 ymm registers.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    pub(super) unsafe fn sgemm<B: Operand>(dst: &mut [f32], a: Mat, b: &B, accumulate: bool) {
        // SAFETY: the caller guarantees AVX2 and FMA.
        unsafe { blocked::<MR, NR, B>(dst, a, b, accumulate, kernel) }
    }

    /// `c[0..MR, 0..NR] (+)= a_panel · b_panel` over depth `kc`; `c` has row stride `ldc`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, add: bool) {
        macro_rules! tile {
            ($(($r:literal, $x:ident, $y:ident)),*) => {{
                $(let mut $x = _mm256_setzero_ps(); let mut $y = _mm256_setzero_ps();)*
                for kk in 0..kc {
                    // SAFETY: a holds kc·MR values, b kc·NR.
                    unsafe {
                        let b0 = _mm256_loadu_ps(b.add(kk * NR));
                        let b1 = _mm256_loadu_ps(b.add(kk * NR + 8));
                        let ak = a.add(kk * MR);
                        $(
                            let av = _mm256_broadcast_ss(&*ak.add($r));
                            $x = _mm256_fmadd_ps(av, b0, $x);
                            $y = _mm256_fmadd_ps(av, b1, $y);
                        )*
                    }
                }
                $(
                    // SAFETY: c has MR rows of NR values at stride ldc.
                    unsafe {
                        let row = c.add($r * ldc);
                        if add {
                            $x = _mm256_add_ps($x, _mm256_loadu_ps(row));
                            $y = _mm256_add_ps($y, _mm256_loadu_ps(row.add(8)));
                        }
                        _mm256_storeu_ps(row, $x);
                        _mm256_storeu_ps(row.add(8), $y);
                    }
                )*
            }};
        }
        tile!((0, c0a, c0b), (1, c1a, c1b), (2, c2a, c2b), (3, c3a, c3b), (4, c4a, c4b), (5, c5a, c5b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &Mat, b: &Mat) -> Vec<f32> {
        let mut c = vec![0.0f32; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                c[i * b.cols + j] = (0..a.cols).map(|k| (a.at(i, k) as f64) * (b.at(k, j) as f64)).sum::<f64>() as f32;
            }
        }
        c
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 7919 + seed * 104729) % 2003) as f32 / 1001.0 - 1.0).collect()
    }

    #[test]
    fn matches_the_definition_on_edge_shapes_and_transposed_views() {
        for &(m, k, n) in &[(1, 1, 1), (12, 256, 32), (13, 257, 33), (37, 600, 70), (130, 19, 3100), (5, 3, 4000)] {
            let a_data = values(m * k, 1);
            let b_data = values(k * n, 2);
            let prior = values(m * n, 3);
            // plain, and each operand as the transpose of its transpose
            let at_data: Vec<f32> = (0..k * m).map(|x| a_data[(x % m) * k + x / m]).collect();
            let bt_data: Vec<f32> = (0..n * k).map(|x| b_data[(x % k) * n + x / k]).collect();
            let views = [(Mat::new(&a_data, m, k), Mat::new(&b_data, k, n)), (Mat::new(&at_data, k, m).t(), Mat::new(&bt_data, n, k).t())];
            for (a, b) in views {
                let want = naive(&a, &b);
                for level in isa::Isa::ALL.into_iter().filter(|&l| l <= isa::detected()) {
                    for accumulate in [false, true] {
                        let mut got = prior.clone();
                        sgemm_at(level, &mut got, a, &b, accumulate);
                        for (idx, (g, w)) in got.iter().zip(&want).enumerate() {
                            let w = if accumulate { w + prior[idx] } else { *w };
                            assert!((g - w).abs() <= 1e-4 * (k as f32).sqrt().max(1.0) * 4.0, "{level}: {m}x{k}x{n} at {idx}: {g} vs {w}");
                        }
                    }
                }
            }
        }
    }
}
