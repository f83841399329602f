//! Data sets and class splits for measuring feature transferability
//! (Yosinski et al. 2014, "How transferable are features in deep neural
//! networks?").
//!
//! * [`split`]: random halves (numpy-exact, reproducing the authors' four
//!   ILSVRC-2012 halves bit for bit), natural / man-made presets, custom
//!   partitions, reduced sets, and the per-half relabelling;
//! * [`dissimilar`]: dissimilar splits of any data set by class name;
//! * [`manifest`]: versioned split manifests with file lists;
//! * data sources behind one [`Source`] trait: image folders and file lists
//!   ([`folder`]), CIFAR binaries ([`cifar`]), the built-in [`synthetic`]
//!   generator, packed shards ([`pack`]);
//! * [`preprocess`]: the authors' ImageNet preprocessing (warp, mean image,
//!   random 227 crops with mirror, centre crops);
//! * [`wordnet`]: the WordNet 3.0 natural / man-made rule.
//!
//! This crate has no burn and no polars dependency: it yields plain `u8`
//! pixels and `f32` buffers.
//!
//! ```
//! use data_split::split::{random_half_a, Generator};
//! let a = random_half_a(1000, 0.5, 0, Generator::NumpyLegacy).unwrap();
//! assert_eq!(&a[..6], &[0, 1, 2, 5, 9, 10]); // the authors' half0A
//! ```

pub mod cifar;
pub mod dataset;
pub mod decode;
pub mod dissimilar;
mod error;
pub mod folder;
pub mod manifest;
pub mod numpy_rng;
pub mod optional;
pub mod pack;
pub mod preprocess;
pub mod presets;
pub mod source;
pub mod split;
pub mod synthetic;
pub mod validation;
pub mod wordnet;

pub use dataset::{DataSet, DataSpec};
pub use error::{Error, Result};
pub use manifest::Manifest;
pub use source::{Image, InMemory, Source};
pub use split::{ClassSplit, Half};
