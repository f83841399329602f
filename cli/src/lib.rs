//! The library part of the `transferability` command: what a command does
//! that spans crates, so that the binary only parses and calls. [`sweep`]
//! runs a grid and its after-training steps (layer similarity, then the
//! analysis), above both `transfer` and `analysis`.

pub mod sweep;
