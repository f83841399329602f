//! Caffe's reference AlexNet ("CaffeNet") in burn, with the layer-indexed
//! building blocks the transfer protocol of Yosinski et al. (2014) needs:
//! copy layers 1..n from another network, freeze them, re-initialise layers
//! n+1..8 from a seed, read the activations after any layer, checkpoints.
//!
//! The protocol itself (which layers, which jobs, training) lives in the
//! `transfer` crate; this crate does no I/O besides checkpoints and knows no
//! loss or optimiser.
//!
//! ```
//! use burn::prelude::*;
//! use model::{AlexNetConfig, ModelPreset, backend::Backend};
//! let cfg = AlexNetConfig::preset(ModelPreset::Tiny, 10);
//! let device = Backend::Flex.device(false);
//! let base = cfg.init(&device, 1);
//! // transfer: layers 1..3 from `base`, frozen; 4..8 fresh from seed 2
//! let net = cfg.init(&device, 2).copy_first_from(&base, 3).unwrap().freeze_first(3).unwrap();
//! let logits = net.forward(Tensor::zeros([2, 3, 28, 28], &device));
//! assert_eq!(logits.dims(), [2, 10]);
//! ```

pub mod alexnet;
pub mod backend;
pub mod checkpoint;
mod error;
pub mod layers;

pub use alexnet::{Act, AlexNet, AlexNetConfig, ConvSpec, FillerScale, ModelPreset};
pub use checkpoint::ParamStore;
pub use error::{Error, Result};
pub use layers::{LAYER_NAMES, NUM_LAYERS, layer_name};
