//! The machine's multiply-add peak, measured: what a benchmark's GFLOP/s
//! is a fraction of. Each thread runs independent chains of fused
//! multiply-adds in registers (no memory traffic) at the kernels' active
//! instruction-set level: 16-wide FMAs with AVX-512, 8-wide with AVX2 +
//! FMA, and for the plain build the 4-wide multiply and add the baseline
//! x86-64 has (or whatever the target has elsewhere). All threads run at
//! once, so a frequency that drops with more busy cores is in the number.
#![allow(unsafe_code)]

use std::time::Instant;

use isa::Isa;

/// Independent accumulator chains per thread: enough to cover an FMA's
/// latency on two pipes (4 cycles × 2), and within 16 vector registers.
const CHAINS: usize = 12;

/// Floating-point operations of one pass over the chains at `level`.
fn flops_per_pass(level: Isa) -> f64 {
    let lanes = match level {
        Isa::Avx512 => 16,
        Isa::Avx2 => 8,
        Isa::Plain => 4,
    };
    (CHAINS * lanes * 2) as f64
}

/// `passes` passes over the chains at `level` (capped at the CPU's);
/// returns a value that depends on every chain, so nothing is optimised away.
fn run(level: Isa, passes: u64) -> f32 {
    #[cfg(target_arch = "x86_64")]
    match level.min(isa::detected()) {
        // SAFETY: the CPU has AVX-512F: `detected` says so.
        Isa::Avx512 => return unsafe { x86::chains512(passes) },
        // SAFETY: the CPU has AVX2 and FMA: `detected` says so.
        Isa::Avx2 => return unsafe { x86::chains256(passes) },
        Isa::Plain => {}
    }
    let (a, b) = (std::hint::black_box(0.999_f32), std::hint::black_box(0.001_f32));
    let mut acc = [[0.0f32; 4]; CHAINS];
    for _ in 0..passes {
        for chain in acc.iter_mut() {
            for v in chain.iter_mut() {
                *v = *v * a + b;
            }
        }
    }
    acc.iter().flatten().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::CHAINS;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn chains512(passes: u64) -> f32 {
        let (a, b) = (_mm512_set1_ps(std::hint::black_box(0.999)), _mm512_set1_ps(std::hint::black_box(0.001)));
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        for _ in 0..passes {
            for v in acc.iter_mut() {
                *v = _mm512_fmadd_ps(*v, a, b);
            }
        }
        acc.iter().map(|v| _mm512_reduce_add_ps(*v)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn chains256(passes: u64) -> f32 {
        let (a, b) = (_mm256_set1_ps(std::hint::black_box(0.999)), _mm256_set1_ps(std::hint::black_box(0.001)));
        let mut acc = [_mm256_setzero_ps(); CHAINS];
        for _ in 0..passes {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let mut out = [0.0f32; 8];
        let mut sum = 0.0;
        for v in acc {
            // SAFETY: `out` holds 8 floats, one ymm register's worth.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
            sum += out.iter().sum::<f32>();
        }
        sum
    }
}

/// The measured peak, GFLOP/s over `threads` threads running at once at
/// `level` (lowered to what the CPU has), each for about `seconds`.
pub fn measured_gflops(level: Isa, threads: usize, seconds: f64) -> f64 {
    // calibrate the passes one thread does in about a tenth of the time
    let mut passes = 1u64 << 16;
    loop {
        let t = Instant::now();
        std::hint::black_box(run(level, passes));
        if t.elapsed().as_secs_f64() > seconds / 10.0 || passes > 1 << 40 {
            passes = (passes as f64 * seconds / t.elapsed().as_secs_f64().max(1e-9)) as u64;
            break;
        }
        passes *= 4;
    }
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| std::hint::black_box(run(level, passes)));
        }
    });
    threads.max(1) as f64 * passes as f64 * flops_per_pass(level) / t.elapsed().as_secs_f64() / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wider_levels_measure_more_and_every_build_computes_the_same_chains() {
        let levels = crate::simd::runnable();
        // the same arithmetic at every level (FMA rounds once, the plain build twice: close, not equal)
        let plain = run(Isa::Plain, 1000);
        for &level in &levels {
            let v = run(level, 1000);
            let expect = plain * (flops_per_pass(level) / flops_per_pass(Isa::Plain)) as f32;
            assert!((v - expect).abs() < 1e-3 * expect, "{level}: {v} against {expect}");
        }
        let g: Vec<f64> = levels.iter().map(|&l| measured_gflops(l, 1, 0.05)).collect();
        assert!(g.iter().all(|&x| x > 0.1), "{g:?}");
        // a level twice as wide does not measure less (generous: timing on a shared machine)
        assert!(g.windows(2).all(|w| w[1] > 0.8 * w[0]), "{g:?}");
    }
}
