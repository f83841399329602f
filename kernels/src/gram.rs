//! The linear Gram matrix `X Xᵀ` of an activation matrix, in f64, for
//! linear CKA (`transfer::similarity`).
//!
//! Why here: a sweep compares every trained network with its source on 500
//! probe images at each of 8 layers; the Gram matrix of a `tiny` conv1 is
//! 500 × 500 dot products of 3,136 values, and computed one dependent f64
//! addition after another it took 85% of the sweep's after-training time
//! (131 CPU-s of the 52-job grid's 2,067; `perf`, Zen 3). The `gemm` crate's
//! f64 product computes the same exact f32 × f32 products and sums them in
//! f64 in another order: the CKA moves in its last bits (2.6e-14 at most on
//! that grid), nowhere near a digit a report shows. The `gemm` crate picks
//! its own instruction set and blocking, so these last bits may differ from
//! one CPU to another: the one result of the workspace that
//! `TRANSFERABILITY_ISA` does not pin (ARCHITECTURE.md says so).
#![allow(unsafe_code)]

/// Depth converted to f64 and multiplied at once: `n` × 2,048 values
/// (8 MiB for 500 probe images), whatever the layer's width (a `caffenet`
/// conv1 has 290,400 values per image).
const DEPTH: usize = 2048;

/// `G = X Xᵀ` for the row-major `[n, d]` matrix `x` (rows are examples),
/// as a row-major `[n, n]` f64 matrix, exactly symmetric.
pub fn gram(x: &[f32], n: usize, d: usize) -> Vec<f64> {
    assert_eq!(x.len(), n * d, "a [{n}, {d}] activation matrix");
    let mut g = vec![0f64; n * n];
    if n == 0 || d == 0 {
        return g;
    }
    let mut wide = vec![0f64; n * DEPTH.min(d)];
    for k0 in (0..d).step_by(DEPTH) {
        let kc = DEPTH.min(d - k0);
        for (row, dst) in x.chunks_exact(d).zip(wide.chunks_exact_mut(kc)) {
            dst.iter_mut().zip(&row[k0..k0 + kc]).for_each(|(w, v)| *w = *v as f64);
        }
        // SAFETY: dst is [n, n] row-major (column stride 1, row stride n);
        // lhs is `wide` as [n, kc] (column stride 1, row stride kc) and rhs
        // the same values read as its transpose [kc, n] (column stride kc,
        // row stride 1): every index i·rs + j·cs below the shapes lies inside
        // its slice; dst is an exclusive borrow, so it aliases neither
        // operand; it is read (accumulated into) after the first block.
        unsafe {
            gemm::gemm(
                n,
                n,
                kc,
                g.as_mut_ptr(),
                1,
                n as isize,
                k0 > 0,
                wide.as_ptr(),
                1,
                kc as isize,
                wide.as_ptr(),
                kc as isize,
                1,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(0),
            );
        }
    }
    // the upper triangle from the lower: exactly symmetric whatever the
    // kernel's order of summation per tile
    for i in 0..n {
        for j in i + 1..n {
            g[i * n + j] = g[j * n + i];
        }
    }
    g
}

#[cfg(test)]
mod tests {
    /// Against f64 dot products of every pair, within f64's rounding of a
    /// sum of `d` terms, on a shape with tile edges and two depth blocks.
    #[test]
    fn the_gram_matrix_is_every_pair_of_rows_dot_product() {
        let (n, d) = (37, super::DEPTH + 301);
        let x: Vec<f32> = (0..n * d).map(|i| ((i * 7919) % 1009) as f32 / 503.0 - 1.0).collect();
        let g = super::gram(&x, n, d);
        for i in 0..n {
            for j in 0..n {
                let terms = (0..d).map(|k| x[i * d + k] as f64 * x[j * d + k] as f64);
                let (want, size): (f64, f64) = terms.fold((0.0, 0.0), |(s, a), t| (s + t, a + t.abs()));
                let bound = 2.0 * d as f64 * f64::EPSILON * size;
                assert!((g[i * n + j] - want).abs() <= bound, "G[{i}, {j}] = {} vs {want} (bound {bound})", g[i * n + j]);
                assert_eq!(g[i * n + j].to_bits(), g[j * n + i].to_bits(), "symmetric");
            }
        }
        assert_eq!(super::gram(&[], 0, 5), Vec::<f64>::new());
        assert_eq!(super::gram(&[], 3, 0), vec![0.0; 9]);
    }
}
