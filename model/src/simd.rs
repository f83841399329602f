//! Hot loops built twice: plain (the portable baseline every binary
//! targets) and for AVX-512, chosen at run time.
//!
//! The workspace builds for the baseline x86-64 so its binaries run on any
//! machine, which leaves the compiler 4-wide SSE vectors. Where a CPU has
//! AVX-512 the same loops run 16 wide: ReLU masks, `col2im` adds, LRN's
//! square roots and divisions. Both builds perform the same IEEE operations
//! in the same order (the compiler never reassociates or fuses floating
//! point on its own), so they give the same bits; tests compare them.

/// `fn $fast(args) -> R` that runs `$plain(args)` compiled for AVX-512 where
/// the CPU has it, and as built elsewhere. `$plain` should be
/// `#[inline(always)]`, so that its loops are compiled inside the AVX-512
/// copy.
macro_rules! avx512_twin {
    ($(#[$m:meta])* $vis:vis fn $fast:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $plain:path) => {
        $(#[$m])*
        $vis fn $fast($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            #[allow(unsafe_code)]
            unsafe fn wide($($arg: $ty),*) $(-> $ret)? {
                $plain($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F was detected on this CPU just above.
                return unsafe { wide($($arg),*) };
            }
            $plain($($arg),*)
        }
    };
}

pub(crate) use avx512_twin;
