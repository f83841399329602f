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
    cpu_seconds_of(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// User + system seconds from one `/proc/<pid>/stat` line: the fields after
/// the command name (which may hold spaces and parentheses, so the last
/// `)` ends it), `utime` and `stime` at 14 and 15 of the whole line.
fn cpu_seconds_of(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    /// utime and stime are fields 14 and 15, after a command name that
    /// may itself hold `) ` (ticks of 1/100 s).
    #[test]
    fn cpu_seconds_are_read_after_the_command_name() {
        let line = "4242 (odd) name) R 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0";
        assert_eq!(super::cpu_seconds_of(line), Some(3.0));
        assert_eq!(super::cpu_seconds_of("4242 (x) R 1"), None, "a line too short has no times");
    }

    /// Spinning for CPU time moves the counter: it advances by at least 0.05 s
    /// (5 ticks) before 10 s of wall time pass, even on a busy machine.
    #[test]
    fn cpu_time_moves_forward() {
        let a = super::process_cpu_seconds().expect("linux /proc");
        let start = std::time::Instant::now();
        let mut x = 0u64;
        let mut b = a;
        while b - a < 0.05 && start.elapsed().as_secs() < 10 {
            for i in 0..1_000_000u64 {
                x = x.wrapping_add(i * i);
            }
            b = super::process_cpu_seconds().expect("linux /proc");
        }
        std::hint::black_box(x);
        assert!(b - a >= 0.05, "CPU time moved {:.3} s in 10 s of spinning", b - a);
    }
}
