//! Empty: the build-dependencies of this crate exist only to unify the
//! features of proc-macro dependencies (see `Cargo.toml`).

fn main() {}
