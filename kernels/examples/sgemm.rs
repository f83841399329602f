//! GFLOP/s of the convolution's single-threaded sgemm against the `gemm`
//! crate (burn-flex's matmul) on one `m k n` shape:
//! `cargo run --profile dev -p transferability-kernels --example sgemm -- 384 1728 1024`.
use kernels::sgemm::{Mat, portable, sgemm};
use std::time::Instant;
fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let [m, k, n] = args[..] else {
        eprintln!("usage: sgemm M K N");
        std::process::exit(2);
    };
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0f32; m * n];
    for (name, f) in [("ours", sgemm as fn(&mut [f32], Mat, Mat, bool)), ("gemm", portable)] {
        for _ in 0..2 {
            let t = Instant::now();
            let reps = 10;
            for _ in 0..reps {
                f(&mut c, Mat::new(&a, m, k), Mat::new(&b, k, n), false);
            }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            println!("{name} {m}x{k}x{n}: {:.2} ms {:.1} GFLOP/s", s * 1e3, 2.0 * (m * n * k) as f64 / s / 1e9);
        }
    }
}
