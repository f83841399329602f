//! The eight layers the paper's claims are about, addressed by number:
//! 1..5 = `conv1..conv5`, 6..8 = `fc6, fc7, fc8`. This table is the one
//! place mapping index to name; parameter paths are `<name>.weight` and
//! `<name>.bias`.

use crate::error::{Error, Result};

/// Layer names in order; layer k (1-based) is `LAYER_NAMES[k - 1]`.
pub const LAYER_NAMES: [&str; 8] = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"];

/// The number of layers, the top one (fc8) last: a forward pass through
/// the whole network ends at this layer.
pub const NUM_LAYERS: usize = LAYER_NAMES.len();

/// Name of layer `k` (1-based).
pub fn layer_name(k: usize) -> Result<&'static str> {
    check_range(k, 1, 8)?;
    Ok(LAYER_NAMES[k - 1])
}

/// The 1-based index of the layer a parameter path belongs to (`conv2.bias` → 2).
pub fn layer_of_path(path: &str) -> Option<usize> {
    let head = path.split('.').next()?;
    LAYER_NAMES.iter().position(|n| *n == head).map(|i| i + 1)
}

/// Error unless `lo <= n <= hi`.
pub fn check_range(n: usize, lo: usize, hi: usize) -> Result<()> {
    if n < lo || n > hi {
        return Err(Error::LayerRange { n, lo, hi });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(layer_name(1).expect("valid"), "conv1");
        assert_eq!(layer_name(8).expect("valid"), "fc8");
        assert!(layer_name(0).is_err() && layer_name(9).is_err());
        assert_eq!(layer_of_path("fc7.weight"), Some(7));
        assert_eq!(layer_of_path("pool"), None);
    }
}
