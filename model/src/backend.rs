//! Backend selection. The default build runs on burn's pure-Rust `flex` CPU
//! backend and needs nothing installed. Two opt-in cargo features add GPUs:
//! `cuda` (burn's own CUDA backend; needs only an NVIDIA driver and NVRTC at
//! run time, loaded dynamically, so it builds on a machine without CUDA when
//! `CUDARC_CUDA_VERSION` names the toolkit, e.g. `13000`) and `tch` (libtorch
//! on CPU and CUDA through burn-tch, which pins torch 2.9.0 and is gone from
//! burn 0.23).
//!
//! Also the process's CPU time ([`process_cpu_seconds`]), the cost every
//! record and bench reports.

use burn::prelude::*;

/// A compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn-flex, pure Rust, multi-threaded through rayon.
    Flex,
    /// libtorch on the CPU (feature `tch`).
    #[cfg(feature = "tch")]
    TchCpu,
    /// libtorch on CUDA device `i` (feature `tch`).
    #[cfg(feature = "tch")]
    TchCuda(usize),
    /// burn's CUDA backend on device `i` (feature `cuda`).
    #[cfg(feature = "cuda")]
    Cuda(usize),
}

impl Backend {
    /// Parse `flex`, `tch`, `tch-cuda` or `tch-cuda:N`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "flex" => Ok(Backend::Flex),
            #[cfg(feature = "tch")]
            "tch" | "tch-cpu" => Ok(Backend::TchCpu),
            #[cfg(feature = "tch")]
            s if s.starts_with("tch-cuda") => {
                let i = s.strip_prefix("tch-cuda").and_then(|r| r.strip_prefix(':')).unwrap_or("0");
                i.parse().map(Backend::TchCuda).map_err(|_| format!("bad CUDA index in `{s}`"))
            }
            #[cfg(feature = "cuda")]
            s if s == "cuda" || s.starts_with("cuda:") => {
                let i = s.strip_prefix("cuda:").unwrap_or("0");
                i.parse().map(Backend::Cuda).map_err(|_| format!("bad CUDA index in `{s}`"))
            }
            other => Err(format!(
                "unknown backend `{other}`; this build knows: flex{}{}",
                if cfg!(feature = "tch") { ", tch, tch-cuda:N" } else { " (tch needs --features tch)" },
                if cfg!(feature = "cuda") { ", cuda:N" } else { " (cuda needs --features cuda)" }
            )),
        }
    }

    /// The device, with autodiff when `training`.
    #[allow(deprecated)] // burn-tch's devices are marked deprecated upstream
    pub fn device(self, training: bool) -> Device {
        let d = match self {
            Backend::Flex => Device::flex(),
            #[cfg(feature = "tch")]
            Backend::TchCpu => Device::libtorch(),
            #[cfg(feature = "tch")]
            Backend::TchCuda(i) => Device::libtorch_cuda(i),
            #[cfg(feature = "cuda")]
            Backend::Cuda(i) => Device::cuda(i),
        };
        if training { d.autodiff() } else { d }
    }

    /// Name as parsed.
    pub fn name(self) -> String {
        match self {
            Backend::Flex => "flex".into(),
            #[cfg(feature = "tch")]
            Backend::TchCpu => "tch".into(),
            #[cfg(feature = "tch")]
            Backend::TchCuda(i) => format!("tch-cuda:{i}"),
            #[cfg(feature = "cuda")]
            Backend::Cuda(i) => format!("cuda:{i}"),
        }
    }
}

/// CPU seconds (user + system) of this process so far, from `/proc/self/stat`
/// (all threads; Linux reports in USER_HZ = 100 ticks per second). `None`
/// where `/proc` is unavailable.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_moves_forward() {
        let a = super::process_cpu_seconds().expect("linux /proc");
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let b = super::process_cpu_seconds().expect("linux /proc");
        assert!(b >= a);
    }
}
