//! No code: this crate's dependencies (see its `Cargo.toml`) fix one feature
//! set for the crates every command of the workspace shares, so that
//! `cargo test --workspace`, `cargo xtask sweep` and `cargo xtask bench`
//! build burn, polars and their dependencies once between them.
