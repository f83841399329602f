//! The instruction-set level the hand-written CPU kernels run at, chosen
//! once per process: the best the CPU has, or a lower one forced with
//! `TRANSFERABILITY_ISA=plain|avx2|avx512`.
//!
//! Every dispatcher in the workspace (`kernels::sgemm`, `kernels::simd`,
//! `data_split::preprocess`) asks [`active`] instead of detecting features
//! itself, so one variable moves all of them, and the tests can run the
//! portable paths on a machine that has AVX-512 (they re-run themselves in a
//! child process with the variable set: [`rerun_under`]).
//!
//! The levels are ordered: `Plain < Avx2 < Avx512`. `Avx2` means AVX2 *and*
//! FMA (Haswell, Zen 1 and later); `Avx512` means AVX-512F. A forced level
//! above what the CPU has is lowered to the CPU's level (running AVX-512
//! code on a CPU without it would crash), and the reason is printed once.
//! On other architectures (aarch64) the level is always `Plain`: the
//! kernels there are the portable builds.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// The environment variable that forces a level.
pub const ENV: &str = "TRANSFERABILITY_ISA";

/// A level of x86 vector extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// The baseline every binary targets (SSE2 on x86-64, NEON or none elsewhere).
    Plain,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512F.
    Avx512,
}

impl Isa {
    /// Every level, lowest first.
    pub const ALL: [Isa; 3] = [Isa::Plain, Isa::Avx2, Isa::Avx512];

    /// The name `TRANSFERABILITY_ISA` takes and reports print.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Plain => "plain",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value of `TRANSFERABILITY_ISA` that names no level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownIsa(
    /// The value as given.
    pub String,
);

impl fmt::Display for UnknownIsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ENV}={:?} names no instruction-set level; expected one of plain, avx2, avx512", self.0)
    }
}

impl std::error::Error for UnknownIsa {}

impl FromStr for Isa {
    type Err = UnknownIsa;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plain" | "portable" | "none" => Ok(Isa::Plain),
            "avx2" => Ok(Isa::Avx2),
            "avx512" | "avx-512" | "avx512f" => Ok(Isa::Avx512),
            _ => Err(UnknownIsa(s.to_string())),
        }
    }
}

/// The best level this CPU supports.
pub fn detected() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Plain
}

/// The level asked for and the level the CPU has, combined: the lower one.
/// `requested` is the raw value of the variable, if set.
pub fn resolve(requested: Option<&str>, cpu: Isa) -> Result<Isa, UnknownIsa> {
    match requested {
        None => Ok(cpu),
        Some(s) if s.trim().is_empty() => Ok(cpu),
        Some(s) => Ok(s.parse::<Isa>()?.min(cpu)),
    }
}

/// The level every kernel of this process runs at (decided on first use).
///
/// # Panics
/// When `TRANSFERABILITY_ISA` names no level: a silently ignored typo would
/// make a test of the portable path test the fast one.
pub fn active() -> Isa {
    static ACTIVE: OnceLock<Isa> = OnceLock::new();
    *ACTIVE.get_or_init(|| {
        let requested = std::env::var(ENV).ok();
        let cpu = detected();
        let level = resolve(requested.as_deref(), cpu).unwrap_or_else(|e| panic!("{e}"));
        if let Some(r) = requested.as_deref().and_then(|r| r.parse::<Isa>().ok())
            && r > cpu
        {
            eprintln!("{ENV}={r}: this CPU has only {cpu}; running at {cpu}");
        }
        level
    })
}

/// Whether the kernels may use AVX-512 (the CPU has it and nothing forced lower).
pub fn avx512() -> bool {
    active() >= Isa::Avx512
}

/// Whether the kernels may use AVX2 and FMA.
pub fn avx2() -> bool {
    active() >= Isa::Avx2
}

/// The levels below the best one this CPU has: the paths a test should
/// also exercise here.
pub fn below_detected() -> Vec<Isa> {
    let cpu = detected();
    Isa::ALL.into_iter().filter(|&l| l < cpu).collect()
}

/// Run one test of the calling test binary again in a child process with
/// `TRANSFERABILITY_ISA=level`, and return its output (stdout then stderr).
/// `test` is the test's full path as the harness names it (e.g.
/// `killed_and_resumed_job_equals_an_uninterrupted_one`, or
/// `conv::tests::name` inside a library).
///
/// # Errors
/// When the child cannot start, fails, or ran no test (a misspelt name would
/// otherwise pass by running nothing).
pub fn rerun_under(level: Isa, test: &str) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current test binary: {e}"))?;
    let out = std::process::Command::new(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV, level.name())
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(format!("`{test}` under {ENV}={level} failed ({}):\n{text}", out.status));
    }
    if !text.contains("1 passed") {
        return Err(format!("`{test}` under {ENV}={level} ran no test:\n{text}"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forced_level_is_capped_by_the_cpu_and_typos_are_refused() {
        assert_eq!(resolve(None, Isa::Avx2), Ok(Isa::Avx2));
        assert_eq!(resolve(Some(""), Isa::Avx512), Ok(Isa::Avx512));
        assert_eq!(resolve(Some("plain"), Isa::Avx512), Ok(Isa::Plain));
        assert_eq!(resolve(Some("AVX2"), Isa::Avx512), Ok(Isa::Avx2));
        // asking for more than the CPU has runs at the CPU's level
        assert_eq!(resolve(Some("avx512"), Isa::Avx2), Ok(Isa::Avx2));
        assert_eq!(resolve(Some("avx512"), Isa::Plain), Ok(Isa::Plain));
        let e = resolve(Some("avx3"), Isa::Avx512).expect_err("typo");
        assert!(e.to_string().contains("plain, avx2, avx512"), "{e}");
    }

    #[test]
    fn levels_are_ordered_and_named_both_ways() {
        assert!(Isa::Plain < Isa::Avx2 && Isa::Avx2 < Isa::Avx512);
        for l in Isa::ALL {
            assert_eq!(l.name().parse::<Isa>(), Ok(l));
        }
        assert!(below_detected().iter().all(|&l| l < detected()));
    }

    #[test]
    fn the_active_level_follows_the_variable() {
        // this process's own level, as the variable (if any) asks
        let want = resolve(std::env::var(ENV).ok().as_deref(), detected()).expect("valid");
        assert_eq!(active(), want);
        assert_eq!(avx512(), want == Isa::Avx512);
        assert_eq!(avx2(), want >= Isa::Avx2);
    }
}
