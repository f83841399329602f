//! The error type of `model`: what differs, and where.

use std::path::PathBuf;

/// Errors of the model crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A layer index outside the allowed range.
    #[error("layer count n = {n} is outside {lo}..={hi}")]
    LayerRange {
        /// The value given.
        n: usize,
        /// Smallest allowed.
        lo: usize,
        /// Largest allowed.
        hi: usize,
    },
    /// Two networks (or a network and a checkpoint) differ in a layer.
    #[error("layer {layer}: {what}")]
    Mismatch {
        /// Parameter or layer name.
        layer: String,
        /// What differs.
        what: String,
    },
    /// A network preset this crate does not have.
    #[error("unknown model preset `{name}`; valid presets: {valid}")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The presets there are.
        valid: String,
    },
    /// Input of the wrong shape.
    #[error("input has shape {got:?}, the network expects [batch, {channels}, {size}, {size}]")]
    Input {
        /// Shape given.
        got: Vec<usize>,
        /// Channels expected.
        channels: usize,
        /// Side expected.
        size: usize,
    },
    /// A checkpoint file that cannot be read or does not fit.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
