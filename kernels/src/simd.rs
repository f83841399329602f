//! Hot loops built three times: plain (the portable baseline every binary
//! targets), for AVX2 + FMA, and for AVX-512; chosen at run time by
//! [`isa::active`] (so `TRANSFERABILITY_ISA` moves them with the GEMM).
//!
//! The workspace builds for the baseline x86-64 so its binaries run on any
//! machine, which leaves the compiler 4-wide SSE vectors. Where a CPU has
//! AVX2 the same loops run 8 wide, with AVX-512 16 wide: ReLU masks,
//! `col2im` adds, LRN's square roots and divisions. Every build performs the
//! same IEEE operations in the same order (Rust never reassociates floating
//! point, and never fuses a multiply and an add into an FMA on its own, even
//! where the target has FMA), so they give the same bits; tests compare them.

/// `fn $fast(args) -> R` that runs `$plain(args)` compiled for the active
/// instruction-set level, and `fn $at(level, args) -> R` that runs the build
/// for `level` (lowered to what the CPU has): the tests compare the builds
/// through it. `$plain` should be `#[inline(always)]`, so that its loops are
/// compiled inside each copy.
macro_rules! isa_twins {
    ($(#[$m:meta])* $vis:vis fn $fast:ident / $at:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $plain:path) => {
        $(#[$m])*
        $vis fn $fast($($arg: $ty),*) $(-> $ret)? {
            $at(isa::active(), $($arg),*)
        }

        /// The build of the loop for `level` (capped at the CPU's level).
        // The one allowance of many arguments in the workspace: they are the
        // kernel's operands (slices and scalars of one element-wise loop),
        // plus the level; bundling them would hide which are read and written.
        #[allow(dead_code, clippy::too_many_arguments)]
        $vis fn $at(level: isa::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            #[allow(unsafe_code)]
            unsafe fn wide512($($arg: $ty),*) $(-> $ret)? {
                $plain($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(unsafe_code)]
            unsafe fn wide256($($arg: $ty),*) $(-> $ret)? {
                $plain($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            match level.min(isa::detected()) {
                // SAFETY: the CPU has AVX-512F: `detected` says so.
                isa::Isa::Avx512 => return unsafe { wide512($($arg),*) },
                // SAFETY: the CPU has AVX2 and FMA: `detected` says so.
                isa::Isa::Avx2 => return unsafe { wide256($($arg),*) },
                isa::Isa::Plain => {}
            }
            let _ = level;
            $plain($($arg),*)
        }
    };
}

pub(crate) use isa_twins;

/// The levels this CPU can run, lowest first: what a same-bits test compares.
#[cfg(test)]
pub(crate) fn runnable() -> Vec<isa::Isa> {
    isa::Isa::ALL.into_iter().filter(|&l| l <= isa::detected()).collect()
}
