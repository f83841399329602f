//! The allocator setting the kernels need to run at speed: freed memory
//! kept in the process for reuse (the workspace's one process-wide side
//! effect of running on the CPU, called once by each binary and bench).

/// Keep freed memory in the process for reuse (glibc on Linux; elsewhere
/// nothing). Training allocates the same large activation and gradient
/// buffers every step; glibc serves blocks over 32 MiB with fresh `mmap`s and
/// returns them on free, so every step page-faults them in again. This turns
/// `mmap` allocation and heap trimming off. Measured on this project's 2-core
/// machine: Caffe max-pool backward on a `[128, 64, 32, 32]` input 62 ms →
/// 2 ms; `caffenet` training 32 → 47 img/s, peak RSS 1.87 → 2.04 GB and
/// steady over steps; the pinned network 7% faster. (One arena for all
/// threads was tried too: 5–10% slower on the default sweep's small
/// network.) `TRANSFERABILITY_SYSTEM_MALLOC=1` keeps glibc's defaults. Call
/// it once at program start, before threads allocate.
pub fn keep_freed_memory() {
    if std::env::var_os("TRANSFERABILITY_SYSTEM_MALLOC").is_some() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters; valid for any values.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
