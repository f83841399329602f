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
//!
//! `TRANSFERABILITY_ISA` lowers only our own kernels: burn-flex's vector
//! code and the `gemm` crate still pick AVX-512 on a CPU that has it. The
//! path most users' CPUs take (AVX2 + FMA, no AVX-512) is exercised end to
//! end by [`rerun_emulated`]: the same test binary run under
//! `qemu-x86_64 -cpu EPYC-Milan-v1`, an emulated Zen 3 on which every
//! dispatcher, ours and our dependencies', detects AVX2.

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

/// This machine's CPU in words, as `/proc/cpuinfo` names it: its model
/// and family (`AMD EPYC 7B13 64-Core Processor, family 25`); `unknown`
/// where the file is absent. Records carry it beside the level the
/// kernels ran at, so a grid run across machines can say which CPU paths
/// it mixed.
pub fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines().find(|l| l.split(':').next().is_some_and(|k| k.trim() == name)).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string())
    };
    match (field("model name"), field("cpu family")) {
        (Some(m), Some(f)) => format!("{m}, family {f}"),
        (Some(m), None) => m,
        _ => "unknown".into(),
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

/// The CPU model the emulated runs use: AMD Zen 3 (AVX2 + FMA, no AVX-512).
pub const EMULATED_CPU: &str = "EPYC-Milan-v1";

/// The oldest QEMU that emulates AVX2 (7.2): an older one would silently run
/// the plain path.
pub const QEMU_MIN: (u32, u32) = (7, 2);

/// Set to `always` to run the emulated tests even where this CPU lacks
/// AVX-512 (they then re-check the path it runs natively, slowly).
pub const EMULATE_ENV: &str = "TRANSFERABILITY_EMULATE";

/// The line every re-run test prints first ([`announce`]), and
/// [`rerun_emulated`] reads back.
const ANNOUNCE: &str = "isa: detected";

/// The line [`announce`] printed, wherever in a line of `output` it
/// stands (with `--nocapture` the harness writes `test NAME ... ` first).
fn seen_level(output: &str) -> Option<&str> {
    output.lines().find_map(|l| l.find(ANNOUNCE).map(|i| l[i..].trim_end()))
}

/// Print what [`detected`] and [`active`] see, so a parent that re-ran this
/// test under an emulator can check which path actually ran.
pub fn announce() {
    println!("{ANNOUNCE} {} active {}", detected(), active());
}

/// Why the emulated determinism tests do not run here, or `None` when they
/// should: on a CPU without AVX-512 they already run natively on its path
/// (unless `TRANSFERABILITY_EMULATE=always`).
pub fn emulation_needless() -> Option<String> {
    let always = std::env::var(EMULATE_ENV).is_ok_and(|v| v == "always");
    (detected() < Isa::Avx512 && !always)
        .then(|| format!("this CPU has no AVX-512 (detected {}): the test above ran natively on the path an emulated {EMULATED_CPU} would take", detected()))
}

/// `qemu-x86_64` on the `PATH` if it is at least [`QEMU_MIN`]; otherwise
/// `Err` says what was found.
pub fn emulator() -> Result<std::path::PathBuf, String> {
    let exe = std::path::PathBuf::from("qemu-x86_64");
    let out = std::process::Command::new(&exe).arg("--version").output().map_err(|e| format!("qemu-x86_64: {e} (Debian: apt-get install qemu-user)"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = parse_qemu_version(&text).ok_or_else(|| format!("qemu-x86_64 --version printed no version: {text:?}"))?;
    if version < QEMU_MIN {
        return Err(format!("qemu-x86_64 {}.{} does not emulate AVX2 (needs {}.{} or later)", version.0, version.1, QEMU_MIN.0, QEMU_MIN.1));
    }
    Ok(exe)
}

/// `(major, minor)` from `qemu-x86_64 version 7.2.13 (Debian ...)`.
fn parse_qemu_version(text: &str) -> Option<(u32, u32)> {
    let v = text.split_whitespace().skip_while(|w| *w != "version").nth(1)?;
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// Run one test of the calling test binary again under `emulator` as an
/// [`EMULATED_CPU`] and return its output and how long it took. The test
/// must call [`announce`] first: the run fails unless the child saw AVX2
/// (so an emulator that silently ran the plain path, or the host's
/// AVX-512, cannot pass for the AVX2 path).
///
/// # Errors
/// When the child cannot start, fails, ran no test, or saw another level.
pub fn rerun_emulated(emulator: &std::path::Path, test: &str) -> Result<(String, std::time::Duration), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current test binary: {e}"))?;
    let t0 = std::time::Instant::now();
    let out = std::process::Command::new(emulator)
        .args(["-cpu", EMULATED_CPU])
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env_remove(ENV)
        .output()
        .map_err(|e| format!("{}: {e}", emulator.display()))?;
    let took = t0.elapsed();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let seen = seen_level(&text).ok_or_else(|| format!("`{test}` under {EMULATED_CPU} did not say which level it saw:\n{text}"))?;
    if seen != format!("{ANNOUNCE} avx2 active avx2") {
        return Err(format!("`{test}` under {EMULATED_CPU} saw `{seen}`, not AVX2: this emulator does not test the AVX2 path"));
    }
    if !out.status.success() {
        return Err(format!("`{test}` under {EMULATED_CPU} failed ({}) after {took:.0?}:\n{text}", out.status));
    }
    if !text.contains("1 passed") {
        return Err(format!("`{test}` under {EMULATED_CPU} ran no test:\n{text}"));
    }
    Ok((text, took))
}

/// The whole emulated check of one determinism test, for a wrapper test
/// to call: where this CPU has AVX-512 and `qemu-x86_64` ≥ 7.2 is on the
/// `PATH`, re-run `test` as an [`EMULATED_CPU`] ([`rerun_emulated`]) and
/// print the level it saw, its result and how long it took. Without
/// AVX-512 here it says why there is nothing to emulate. Without QEMU it
/// skips with the reason, and under `CI=true` (where `.ci/run` installs
/// it) it fails.
///
/// # Panics
/// When the emulated run fails, or QEMU is missing under CI.
pub fn check_emulated(test: &str) {
    use std::io::Write;
    if let Some(why) = emulation_needless() {
        let _ = writeln!(std::io::stderr(), "emulated `{test}` not needed: {why}");
        return;
    }
    match emulator() {
        Err(why) => {
            assert!(!std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"), "CI=true but {why}");
            let _ = writeln!(std::io::stderr(), "SKIP: emulated `{test}`: {why}");
        }
        Ok(qemu) => {
            let (out, took) = rerun_emulated(&qemu, test).unwrap_or_else(|e| panic!("{e}"));
            let seen = seen_level(&out).unwrap_or("?");
            let result = out.lines().find(|l| l.contains("test result")).unwrap_or("?");
            let _ = writeln!(std::io::stderr(), "emulated {EMULATED_CPU} `{test}`: {seen}; {result}; {:.1} s", took.as_secs_f64());
        }
    }
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
    fn the_announced_level_is_found_after_the_harness_prefix() {
        let out = "running 1 test\ntest gradients_are_bit_identical_for_any_thread_count ... isa: detected avx2 active avx2\nok\n";
        assert_eq!(seen_level(out), Some("isa: detected avx2 active avx2"));
        assert_eq!(seen_level("isa: detected plain active plain\n"), Some("isa: detected plain active plain"));
        assert_eq!(seen_level("running 1 test\ntest x ... ok\n"), None);
    }

    #[test]
    fn qemu_versions_are_read_and_old_ones_named() {
        assert_eq!(parse_qemu_version("qemu-x86_64 version 7.2.13 (Debian 1:7.2+dfsg-7+deb12u7)\nCopyright"), Some((7, 2)));
        assert_eq!(parse_qemu_version("qemu-x86_64 version 10.0.2"), Some((10, 0)));
        assert_eq!(parse_qemu_version("qemu-x86_64 version 5.2.0"), Some((5, 2)));
        assert!(parse_qemu_version("no version here").is_none());
        assert!((5, 2) < QEMU_MIN && (7, 2) >= QEMU_MIN && (10, 0) >= QEMU_MIN);
    }

    /// A process started with the variable set runs at that level (this test
    /// runs itself as a child for every level the CPU has), and the
    /// shorthands agree with it.
    #[test]
    fn the_active_level_follows_the_variable() {
        const CHILD: &str = "ISA_TEST_CHILD";
        if std::env::var_os(CHILD).is_some() {
            println!("child: active {} avx2 {} avx512 {}", active(), avx2(), avx512());
            return;
        }
        for level in Isa::ALL.into_iter().filter(|&l| l <= detected()) {
            let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
                .args(["tests::the_active_level_follows_the_variable", "--exact", "--nocapture", "--test-threads=1"])
                .env(ENV, level.name())
                .env(CHILD, "1")
                .output()
                .expect("the test binary runs");
            let text = String::from_utf8_lossy(&out.stdout);
            let want = format!("child: active {level} avx2 {} avx512 {}", level >= Isa::Avx2, level == Isa::Avx512);
            assert!(text.contains(&want), "{ENV}={level}: wanted `{want}`, the child printed:\n{text}");
        }
    }
}
