//! The linear Gram matrix `X Xᵀ` of an activation matrix, in f64, for
//! linear CKA (`transfer::similarity`).
//!
//! Why here: a sweep compares every trained network with its source on 500
//! probe images at each of 8 layers; the Gram matrix of a `tiny` conv1 is
//! 500 × 500 dot products of 3,136 values, and computed one dependent f64
//! addition after another it took 85% of the sweep's after-training time
//! (131 CPU-s of the 52-job grid's 2,067; `perf`, Zen 3). The `gemm` crate's
//! f64 product (run-time dispatched to AVX2/AVX-512 FMA) computes the same
//! exact f32 × f32 products and sums them in f64, in a different order: the
//! CKA moves in its last bits, nowhere near any digit a report shows.
#![allow(unsafe_code)]

/// `G = X Xᵀ` for the row-major `[n, d]` matrix `x` (rows are examples),
/// as a row-major `[n, n]` f64 matrix, exactly symmetric.
pub fn gram(x: &[f32], n: usize, d: usize) -> Vec<f64> {
    assert_eq!(x.len(), n * d, "a [{n}, {d}] activation matrix");
    let wide: Vec<f64> = x.iter().map(|v| *v as f64).collect();
    let mut g = vec![0f64; n * n];
    if n == 0 || d == 0 {
        return g;
    }
    // SAFETY: dst is [n, n] row-major (column stride 1, row stride n); lhs is
    // `wide` as [n, d] (column stride 1, row stride d) and rhs the same
    // values read as its transpose [d, n] (column stride d, row stride 1):
    // every index i·rs + j·cs below the shapes lies inside its slice; dst is
    // an exclusive borrow, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            n,
            n,
            d,
            g.as_mut_ptr(),
            1,
            n as isize,
            false,
            wide.as_ptr(),
            1,
            d as isize,
            wide.as_ptr(),
            d as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
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
    /// Against f64 dot products of every pair, on a shape with tile edges.
    #[test]
    fn the_gram_matrix_is_every_pair_of_rows_dot_product() {
        let (n, d) = (37, 301);
        let x: Vec<f32> = (0..n * d).map(|i| ((i * 7919) % 1009) as f32 / 503.0 - 1.0).collect();
        let g = super::gram(&x, n, d);
        for i in 0..n {
            for j in 0..n {
                let want: f64 = (0..d).map(|k| x[i * d + k] as f64 * x[j * d + k] as f64).sum();
                assert!((g[i * n + j] - want).abs() <= 1e-12 * want.abs().max(1.0), "G[{i}, {j}] = {} vs {want}", g[i * n + j]);
                assert_eq!(g[i * n + j].to_bits(), g[j * n + i].to_bits(), "symmetric");
            }
        }
        assert_eq!(super::gram(&[], 0, 5), Vec::<f64>::new());
    }
}
