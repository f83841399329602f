//! Optional real components (WordNet 3.0, the shared CIFAR-10 images, a
//! Slurm, pyarrow) for tests: absent, a test skips with a printed reason;
//! under `CI=true`, absence is a failure.

/// Whether we run under CI (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `found` if the component is there; otherwise print why the caller skips
/// and return `None`, or panic under CI.
pub fn require<T>(component: &str, found: Option<T>, how: &str) -> Option<T> {
    if found.is_none() {
        assert!(!in_ci(), "CI=true but {component} not found: {how}");
        // written to the stderr handle itself, which the test harness does not capture
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIP: {component} not found ({how})");
    }
    found
}
