//! Caffe's reference AlexNet ("CaffeNet", Krizhevsky et al. 2012 as shipped
//! with Caffe and used by Yosinski et al. 2014), in burn.
//!
//! Deviations of CaffeNet from the published AlexNet, all kept here: a single
//! tower with grouped convolutions (conv2, conv4, conv5 in 2 groups), pooling
//! *before* LRN, Caffe's ceil-rounded 3×3/2 max pooling, Caffe's Gaussian
//! fillers with constant biases of 0 or 1. torchvision's AlexNet is a
//! different network.
//!
//! Layers are numbered 1..8 (see [`crate::layers`]); the output of layer k is
//! what follows its ReLU (and pool and LRN for layers 1 and 2, pool for 5).

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::SeedableRng;
use rand_distr::Distribution;

use crate::error::{Error, Result};
use crate::layers::check_range;
use kernels::conv::conv2d_relu;
use kernels::lrn::{LrnConfig, lrn, lrn_slices};
use kernels::pool::max_pool;

/// One convolutional layer.
#[derive(Config, Debug, PartialEq)]
pub struct ConvSpec {
    /// Output channels.
    pub channels: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Stride.
    #[config(default = 1)]
    pub stride: usize,
    /// Zero padding on each side.
    #[config(default = 0)]
    pub pad: usize,
    /// Groups (2 = CaffeNet's two towers).
    #[config(default = 1)]
    pub groups: usize,
}

/// The network's shape. Build presets with [`AlexNetConfig::preset`].
#[derive(Config, Debug, PartialEq)]
pub struct AlexNetConfig {
    /// Preset name this configuration came from (`caffenet`, `cifar`, `tiny`, `bench`, or `custom`).
    pub preset: String,
    /// Input side in pixels (the crop size).
    pub image_size: usize,
    /// conv1..conv5.
    pub conv: Vec<ConvSpec>,
    /// Widths of fc6 and fc7.
    pub fc: [usize; 2],
    /// Width of fc8 (the authors kept 1000 for every task).
    pub num_outputs: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Dropout probability after fc6 and fc7 (inverted dropout).
    #[config(default = 0.5)]
    pub dropout: f64,
    /// LRN after pool1 and pool2.
    #[config(default = "LrnConfig::new()")]
    pub lrn: LrnConfig,
    /// How the Gaussian fillers are scaled.
    #[config(default = "FillerScale::Caffe")]
    pub filler: FillerScale,
}

/// Scaling of Caffe's Gaussian fillers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FillerScale {
    /// Caffe's standard deviations as they are (0.01, 0.005): the authors' network.
    Caffe,
    /// For the narrow presets: Caffe's standard deviations times
    /// `sqrt(caffenet fan-in / this fan-in)`, so each layer's pre-activation
    /// spread matches CaffeNet's, and Caffe's constant biases times 0.1.
    /// With Caffe's fillers as they are, the narrow nets sit at chance for
    /// their whole short schedule; with only the std scaled, a 20-class base
    /// still sat at chance for 450 of 600 iterations (measured on the
    /// synthetic data, lr 0.01, batch 32), as CaffeNet sits at chance for
    /// its first thousands of iterations on ImageNet.
    FanIn,
}

/// Fan-in of each layer of `caffenet` (inputs per output unit).
pub const CAFFENET_FAN_IN: [usize; 8] = [363, 1200, 2304, 1728, 1728, 9216, 4096, 4096];

/// A network preset: the 8-layer structure at one width and input size.
/// Written (job files, configurations, records, command lines) as its
/// lower-case name; the preprocessing a job gives it follows from its input
/// size ([`AlexNetConfig::image_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelPreset {
    /// The authors' network, 3×227×227.
    Caffenet,
    /// The same 8-layer structure for 28-px crops of 32-px images, widths
    /// 64-128-192-192-128, fc 512 (≈130 MFLOP/image forward).
    Cifar,
    /// For tests and the default sweep: widths 16-32-48-48-32, fc 128
    /// (≈9 MFLOP/image forward).
    Tiny,
    /// The pinned benchmark network of the performance issue (32 px,
    /// 64-192-384-256-256, fc 1024).
    Bench,
}

impl ModelPreset {
    /// Every preset, in the order `--help` lists them.
    pub const ALL: [ModelPreset; 4] = [ModelPreset::Caffenet, ModelPreset::Cifar, ModelPreset::Tiny, ModelPreset::Bench];

    /// The preset's name, as files and command lines write it.
    pub const fn name(self) -> &'static str {
        match self {
            ModelPreset::Caffenet => "caffenet",
            ModelPreset::Cifar => "cifar",
            ModelPreset::Tiny => "tiny",
            ModelPreset::Bench => "bench",
        }
    }
}

/// Names of the presets, as [`ModelPreset::name`] writes them.
pub const PRESETS: [&str; 4] = [ModelPreset::ALL[0].name(), ModelPreset::ALL[1].name(), ModelPreset::ALL[2].name(), ModelPreset::ALL[3].name()];

impl std::fmt::Display for ModelPreset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModelPreset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ModelPreset::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| Error::UnknownPreset { name: s.into(), valid: PRESETS.join(", ") })
    }
}

/// Caffe's filler of layer k (1-based): (weight std, bias constant).
pub fn caffe_filler(k: usize) -> (f64, f64) {
    [(0.01, 0.0), (0.01, 1.0), (0.01, 0.0), (0.01, 1.0), (0.01, 1.0), (0.005, 1.0), (0.005, 1.0), (0.01, 0.0)][k - 1]
}

fn conv(channels: usize, kernel: usize, stride: usize, pad: usize, groups: usize) -> ConvSpec {
    ConvSpec { channels, kernel, stride, pad, groups }
}

/// CaffeNet's layer structure for small images: 5×5 convolutions with
/// stride 1 in layers 1–2, 3×3 in 3–5, 2 groups in layers 2, 4 and 5.
fn small(size: usize, widths: [usize; 5], fc: usize) -> (usize, Vec<ConvSpec>, [usize; 2]) {
    let [c1, c2, c3, c4, c5] = widths;
    (size, vec![conv(c1, 5, 1, 2, 1), conv(c2, 5, 1, 2, 2), conv(c3, 3, 1, 1, 1), conv(c4, 3, 1, 1, 2), conv(c5, 3, 1, 1, 2)], [fc, fc])
}

/// Output side of Caffe's ceil-mode 3×3/2 max pooling.
pub fn pool_out(h: usize) -> usize {
    (h.saturating_sub(3)).div_ceil(2) + 1
}

/// Seed of layer k's initial weights given a network seed: the fresh weights
/// of a layer depend on nothing else.
pub fn layer_seed(seed: u64, k: usize) -> u64 {
    let mut z = seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl AlexNetConfig {
    /// The network of `preset` with `num_outputs` fc8 units ([`ModelPreset`]
    /// says what each is).
    pub fn preset(preset: ModelPreset, num_outputs: usize) -> Self {
        let (size, convs, fc) = match preset {
            ModelPreset::Caffenet => {
                (227, vec![conv(96, 11, 4, 0, 1), conv(256, 5, 1, 2, 2), conv(384, 3, 1, 1, 1), conv(384, 3, 1, 1, 2), conv(256, 3, 1, 1, 2)], [4096, 4096])
            }
            ModelPreset::Cifar => small(28, [64, 128, 192, 192, 128], 512),
            ModelPreset::Tiny => small(28, [16, 32, 48, 48, 32], 128),
            ModelPreset::Bench => small(32, [64, 192, 384, 256, 256], 1024),
        };
        let filler = if preset == ModelPreset::Caffenet { FillerScale::Caffe } else { FillerScale::FanIn };
        AlexNetConfig::new(preset.name().into(), size, convs, fc, num_outputs).with_filler(filler)
    }

    /// Spatial side after each conv layer's block (after pooling where there is one).
    pub fn spatial(&self) -> [usize; 5] {
        let mut h = self.image_size;
        let mut out = [0; 5];
        for (i, c) in self.conv.iter().enumerate() {
            h = (h + 2 * c.pad - c.kernel) / c.stride + 1;
            if matches!(i, 0 | 1 | 4) {
                h = pool_out(h);
            }
            out[i] = h;
        }
        out
    }

    /// Output shape of layer k for one image (without batch).
    pub fn output_shape(&self, k: usize) -> Vec<usize> {
        match k {
            1..=5 => {
                let s = self.spatial()[k - 1];
                vec![self.conv[k - 1].channels, s, s]
            }
            6 | 7 => vec![self.fc[k - 6]],
            _ => vec![self.num_outputs],
        }
    }

    /// Inputs to fc6.
    pub fn flattened(&self) -> usize {
        let s = self.spatial()[4];
        self.conv[4].channels * s * s
    }

    /// Multiply–accumulate count of each layer for one image, forward.
    pub fn macs(&self) -> [u64; 8] {
        let mut out = [0u64; 8];
        let mut h = self.image_size;
        let mut cin = self.in_channels;
        for (i, c) in self.conv.iter().enumerate() {
            let o = (h + 2 * c.pad - c.kernel) / c.stride + 1;
            out[i] = (o * o * c.channels * (cin / c.groups) * c.kernel * c.kernel) as u64;
            h = if matches!(i, 0 | 1 | 4) { pool_out(o) } else { o };
            cin = c.channels;
        }
        out[5] = (self.flattened() * self.fc[0]) as u64;
        out[6] = (self.fc[0] * self.fc[1]) as u64;
        out[7] = (self.fc[1] * self.num_outputs) as u64;
        out
    }

    /// Forward FLOPs per image (2 × MACs).
    pub fn flops_per_image(&self) -> u64 {
        2 * self.macs().iter().sum::<u64>()
    }

    /// Multiply–accumulates of one training step per image with layers
    /// `1..=frozen` frozen (0: the whole net trains): the forward pass
    /// through all 8 layers, the weight gradients of layers `frozen+1..=8`,
    /// and the input gradients of layers `frozen+2..=8`. Layer `frozen+1`'s
    /// input gradient would flow only into frozen layers (or the image), so
    /// no step computes it. Pooling, LRN and the update are not counted.
    ///
    /// # Panics
    /// When `frozen > 7`.
    pub fn step_macs(&self, frozen: usize) -> u64 {
        assert!(frozen <= 7, "a step trains at least layer 8");
        let macs = self.macs();
        let forward: u64 = macs.iter().sum();
        let weights: u64 = macs[frozen..].iter().sum();
        let inputs: u64 = macs[frozen + 1..].iter().sum();
        forward + weights + inputs
    }

    /// The most a frozen-prefix cache of any design can save on a step with
    /// layers `1..=frozen` frozen, counted in multiply–accumulates: the step
    /// ([`Self::step_macs`]) over the step without the frozen layers'
    /// forward pass, which is all a cache can take away. The layers above
    /// still train forward and backward every step, so this ratio, not the
    /// cache, limits the saving where the frozen prefix is cheap (low `frozen`).
    pub fn cache_bound(&self, frozen: usize) -> f64 {
        let step = self.step_macs(frozen);
        let prefix: u64 = self.macs()[..frozen].iter().sum();
        step as f64 / (step - prefix) as f64
    }

    /// Fan-in of each layer.
    pub fn fan_in(&self) -> [usize; 8] {
        let mut out = [0; 8];
        let mut cin = self.in_channels;
        for (i, c) in self.conv.iter().enumerate() {
            out[i] = cin / c.groups * c.kernel * c.kernel;
            cin = c.channels;
        }
        out[5] = self.flattened();
        out[6] = self.fc[0];
        out[7] = self.fc[1];
        out
    }

    /// Weight standard deviation and bias constant of layer k (1-based).
    pub fn filler(&self, k: usize) -> (f64, f64) {
        let (std, bias) = caffe_filler(k);
        match self.filler {
            FillerScale::Caffe => (std, bias),
            FillerScale::FanIn => (std * (CAFFENET_FAN_IN[k - 1] as f64 / self.fan_in()[k - 1] as f64).sqrt(), 0.1 * bias),
        }
    }

    /// Build the network with Caffe's fillers drawn from `seed` (layer k from
    /// [`layer_seed`]`(seed, k)`), on `device`.
    pub fn init(&self, device: &Device, seed: u64) -> AlexNet {
        let c = &self.conv;
        let conv_layer = |k: usize, cin: usize| {
            let s = &c[k - 1];
            let mut layer = Conv2dConfig::new([cin, s.channels], [s.kernel, s.kernel])
                .with_stride([s.stride, s.stride])
                .with_padding(PaddingConfig2d::Explicit(s.pad, s.pad, s.pad, s.pad))
                .with_groups(s.groups)
                .with_initializer(Initializer::Zeros)
                .init(device);
            let shape = [s.channels, cin / s.groups, s.kernel, s.kernel];
            let (w, b) = filler_tensors(seed, k, self.filler(k), shape, s.channels, device);
            layer.weight = w;
            layer.bias = Some(b);
            layer
        };
        let fc_layer = |k: usize, din: usize, dout: usize| {
            let mut layer = LinearConfig::new(din, dout).with_initializer(Initializer::Zeros).init(device);
            let (w, b) = filler_tensors(seed, k, self.filler(k), [din, dout], dout, device);
            layer.weight = w;
            layer.bias = Some(b);
            layer
        };
        AlexNet {
            conv1: conv_layer(1, self.in_channels),
            conv2: conv_layer(2, c[0].channels),
            conv3: conv_layer(3, c[1].channels),
            conv4: conv_layer(4, c[2].channels),
            conv5: conv_layer(5, c[3].channels),
            fc6: fc_layer(6, self.flattened(), self.fc[0]),
            fc7: fc_layer(7, self.fc[0], self.fc[1]),
            fc8: fc_layer(8, self.fc[1], self.num_outputs),
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_ceil_mode(true).init(),
            lrn_size: self.lrn.size,
            lrn_alpha: self.lrn.alpha,
            lrn_beta: self.lrn.beta,
            lrn_k: self.lrn.k,
            dropout: self.dropout,
            in_channels: self.in_channels,
            image_size: self.image_size,
        }
    }
}

fn filler_tensors<const D: usize>(
    seed: u64,
    k: usize,
    (std, bias): (f64, f64),
    shape: [usize; D],
    bias_len: usize,
    device: &Device,
) -> (Param<Tensor<D>>, Param<Tensor<1>>) {
    let n: usize = shape.iter().product();
    let mut rng = rand::rngs::StdRng::seed_from_u64(layer_seed(seed, k));
    let normal = rand_distr::Normal::new(0.0f32, std as f32).expect("std is positive");
    let w: Vec<f32> = (0..n).map(|_| normal.sample(&mut rng)).collect();
    (Param::from_data(TensorData::new(w, shape), device), Param::from_data(TensorData::new(vec![bias as f32; bias_len], [bias_len]), device))
}

/// The network. Fields `conv1..fc8` are the eight layers; parameter paths
/// are `conv1.weight`, `conv1.bias`, ..., `fc8.bias`.
#[derive(Module, Debug)]
pub struct AlexNet {
    /// Layer 1.
    pub conv1: Conv2d,
    /// Layer 2.
    pub conv2: Conv2d,
    /// Layer 3.
    pub conv3: Conv2d,
    /// Layer 4.
    pub conv4: Conv2d,
    /// Layer 5.
    pub conv5: Conv2d,
    /// Layer 6.
    pub fc6: Linear,
    /// Layer 7.
    pub fc7: Linear,
    /// Layer 8.
    pub fc8: Linear,
    pool: MaxPool2d,
    lrn_size: usize,
    lrn_alpha: f64,
    lrn_beta: f64,
    lrn_k: f64,
    dropout: f64,
    in_channels: usize,
    image_size: usize,
}

/// An activation between layers: a feature map (layers 1..5) or a vector (6..8).
#[derive(Debug, Clone)]
pub enum Act {
    /// `[batch, channels, h, w]`.
    Map(Tensor<4>),
    /// `[batch, features]`.
    Flat(Tensor<2>),
}

impl Act {
    /// As a matrix `[batch, features]` (feature maps flattened).
    pub fn flat(self) -> Tensor<2> {
        match self {
            Act::Map(t) => t.flatten(1, 3),
            Act::Flat(t) => t,
        }
    }

    /// An activation computed on the plain backend (a frozen prefix) as an
    /// input of the autodiff graph: a constant, no gradient flows into it.
    pub fn into_autodiff(self) -> Act {
        match self {
            Act::Map(t) => Act::Map(Tensor::from_inner(t)),
            Act::Flat(t) => Act::Flat(Tensor::from_inner(t)),
        }
    }
}

/// Inverted-dropout mask `[rows, cols]` with keep probability `1 − p`,
/// scaled by `1/(1 − p)`, drawn from `seed` (not burn's global RNG, so
/// seeded runs do not race in one process).
pub fn dropout_mask(seed: u64, p: f64, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    use rand::RngExt;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let scale = (1.0 / (1.0 - p)) as f32;
    let v: Vec<f32> = (0..rows * cols).map(|_| if rng.random::<f64>() >= p { scale } else { 0.0 }).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

impl AlexNet {
    /// Check an input batch's shape.
    pub fn check_input(&self, x: &Tensor<4>) -> Result<()> {
        let d = x.dims();
        if d[1] != self.in_channels || d[2] != self.image_size || d[3] != self.image_size {
            return Err(Error::Input { got: d.to_vec(), channels: self.in_channels, size: self.image_size });
        }
        Ok(())
    }

    fn norm(&self, x: Tensor<4>) -> Tensor<4> {
        let cfg = LrnConfig { size: self.lrn_size, alpha: self.lrn_alpha, beta: self.lrn_beta, k: self.lrn_k };
        lrn(x, &cfg, |x| lrn_slices(x, &cfg))
    }

    /// Layer k (1-based) applied to the output of layer k − 1. `dropout`
    /// gives the step's dropout seed in training; `None` evaluates.
    pub fn layer(&self, k: usize, x: Act, dropout: Option<u64>) -> Act {
        let drop = |t: Tensor<2>, k: usize| self.drop(t, k, dropout);
        match (k, x) {
            // [b, 3, S, S] -> [b, c1, s1, s1]
            (1, Act::Map(x)) => Act::Map(self.norm(max_pool(&self.pool, conv2d_relu(&self.conv1, x)))),
            (2, Act::Map(x)) => Act::Map(self.norm(max_pool(&self.pool, conv2d_relu(&self.conv2, x)))),
            (3, Act::Map(x)) => Act::Map(conv2d_relu(&self.conv3, x)),
            (4, Act::Map(x)) => Act::Map(conv2d_relu(&self.conv4, x)),
            (5, Act::Map(x)) => Act::Map(max_pool(&self.pool, conv2d_relu(&self.conv5, x))),
            // [b, c5 * s5 * s5] -> [b, fc6]
            (6, x) => Act::Flat(drop(relu(self.fc6.forward(x.flat())), 6)),
            (7, x) => Act::Flat(drop(relu(self.fc7.forward(x.flat())), 7)),
            // [b, fc7] -> [b, outputs]
            (8, x) => Act::Flat(self.fc8.forward(x.flat())),
            (k, _) => panic!("layer {k} does not take a flat input or does not exist"),
        }
    }

    /// Layer k's dropout (layers 6 and 7; others have none) on its ReLU
    /// output, with the step's seed; `None` (evaluation) passes through.
    fn drop(&self, t: Tensor<2>, k: usize, dropout: Option<u64>) -> Tensor<2> {
        match dropout {
            Some(seed) if self.dropout > 0.0 && matches!(k, 6 | 7) => {
                let [r, c] = t.dims();
                let mask = dropout_mask(crate::alexnet::layer_seed(seed, k), self.dropout, r, c, &t.device());
                t * mask
            }
            _ => t,
        }
    }

    /// Apply layer k's training dropout to layer k's evaluation-mode output:
    /// `dropout_after(k, layer(k, x, None), Some(s))` equals `layer(k, x, Some(s))`.
    /// Lets a cache hold dropout-free activations (see `transfer`'s prefix cache).
    pub fn dropout_after(&self, k: usize, x: Act, dropout: Option<u64>) -> Act {
        match x {
            Act::Flat(t) => Act::Flat(self.drop(t, k, dropout)),
            map => map,
        }
    }

    /// Layers `from + 1 ..= to` applied to the output of layer `from`
    /// (`from = 0` is the image).
    pub fn forward_range(&self, mut x: Act, from: usize, to: usize, dropout: Option<u64>) -> Act {
        for k in from + 1..=to {
            x = self.layer(k, x, dropout);
        }
        x
    }

    /// Evaluation forward pass (no dropout).
    ///
    /// # Shapes
    /// `[batch, 3, S, S] -> [batch, num_outputs]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_range(Act::Map(x), 0, 8, None).flat()
    }

    /// Training forward pass with dropout masks drawn from `dropout_seed`.
    ///
    /// # Shapes
    /// `[batch, 3, S, S] -> [batch, num_outputs]`
    pub fn forward_train(&self, x: Tensor<4>, dropout_seed: u64) -> Tensor<2> {
        self.forward_range(Act::Map(x), 0, 8, Some(dropout_seed)).flat()
    }

    /// The output of layer k (evaluation mode).
    pub fn activations(&self, x: Tensor<4>, k: usize) -> Result<Act> {
        check_range(k, 1, 8)?;
        self.check_input(&x)?;
        Ok(self.forward_range(Act::Map(x), 0, k, None))
    }

    /// Stop gradients in layers 1..n (no gradient, no update, no weight
    /// decay; dropout above stays active). `n = 0` freezes nothing.
    pub fn freeze_first(mut self, n: usize) -> Result<Self> {
        check_range(n, 0, 8)?;
        macro_rules! freeze {
            ($($k:literal $f:ident),*) => {$( if n >= $k { self.$f = self.$f.no_grad(); } )*};
        }
        freeze!(1 conv1, 2 conv2, 3 conv3, 4 conv4, 5 conv5, 6 fc6, 7 fc7, 8 fc8);
        Ok(self)
    }

    /// Copy layers 1..n (weights and biases) from `src`, leaving the others
    /// untouched; fc8 widths may differ. Shapes of the copied layers must agree.
    pub fn copy_first_from(mut self, src: &AlexNet, n: usize) -> Result<Self> {
        check_range(n, 0, 8)?;
        let shapes = |m: &AlexNet| crate::checkpoint::ParamStore::shapes(m);
        let (mine, theirs) = (shapes(&self), shapes(src));
        for (path, shape) in &mine {
            if crate::layers::layer_of_path(path).is_some_and(|k| k <= n) && theirs.get(path) != Some(shape) {
                let source = theirs.get(path).map_or("no such parameter".into(), |s| format!("{s:?}"));
                return Err(Error::Mismatch { layer: path.clone(), what: format!("shape {shape:?} here, {source} in the source") });
            }
        }
        macro_rules! copy {
            ($($k:literal $f:ident),*) => {$( if n >= $k { self.$f = src.$f.clone(); } )*};
        }
        copy!(1 conv1, 2 conv2, 3 conv3, 4 conv4, 5 conv5, 6 fc6, 7 fc7, 8 fc8);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caffenet_shapes_and_parameter_count() {
        let cfg = AlexNetConfig::preset(ModelPreset::Caffenet, 1000);
        let shapes: Vec<Vec<usize>> = (1..=8).map(|k| cfg.output_shape(k)).collect();
        assert_eq!(
            shapes,
            vec![vec![96, 27, 27], vec![256, 13, 13], vec![384, 13, 13], vec![384, 13, 13], vec![256, 6, 6], vec![4096], vec![4096], vec![1000]]
        );
        assert_eq!(cfg.flattened(), 9216);
        assert_eq!(cfg.fan_in(), CAFFENET_FAN_IN);
        assert_eq!(cfg.filler(6), (0.005, 1.0));
        let net = cfg.init(&Device::flex(), 0);
        assert_eq!(net.num_params(), 60_965_224);
        // conv1 before pooling is 55x55, as docs/PROTOCOL.md §a
        assert_eq!((227 - 11) / 4 + 1, 55);
        let x = Tensor::<4>::zeros([1, 3, 227, 227], &Device::flex());
        let shape = |a: Act| match a {
            Act::Map(t) => t.dims().to_vec(),
            Act::Flat(t) => t.dims().to_vec(),
        };
        assert_eq!(shape(net.activations(x.clone(), 1).expect("act")), vec![1, 96, 27, 27]);
        assert_eq!(shape(net.activations(x.clone(), 5).expect("act")), vec![1, 256, 6, 6]);
        assert_eq!(net.forward(x).dims(), [1, 1000]);
    }

    #[test]
    fn mismatched_input_and_bad_n_are_refused() {
        let net = AlexNetConfig::preset(ModelPreset::Tiny, 10).init(&Device::flex(), 0);
        let e = net.activations(Tensor::zeros([2, 3, 32, 32], &Device::flex()), 3).expect_err("error").to_string();
        assert!(e.contains("[2, 3, 32, 32]") && e.contains("28, 28"), "{e}");
        assert!(net.freeze_first(9).is_err());
        assert!("vgg".parse::<ModelPreset>().expect_err("error").to_string().contains("caffenet, cifar, tiny"));
        for p in ModelPreset::ALL {
            assert_eq!(p.name().parse::<ModelPreset>().expect("its own name"), p);
            assert_eq!(serde_json::to_string(&p).expect("json"), format!("\"{p}\""), "files write the preset as its name");
        }
    }

    #[test]
    fn flops_are_stated() {
        let tiny = AlexNetConfig::preset(ModelPreset::Tiny, 10).flops_per_image();
        let cifar = AlexNetConfig::preset(ModelPreset::Cifar, 10).flops_per_image();
        let caffenet = AlexNetConfig::preset(ModelPreset::Caffenet, 1000).flops_per_image();
        assert!((5_000_000..20_000_000).contains(&tiny), "{tiny}");
        assert!((60_000_000..200_000_000).contains(&cifar), "{cifar}");
        assert!((1_300_000_000..1_600_000_000).contains(&caffenet), "{caffenet}");
    }

    #[test]
    fn step_macs_count_what_a_frozen_step_computes() {
        let cfg = AlexNetConfig::preset(ModelPreset::Bench, 10);
        let m = cfg.macs();
        let total: u64 = m.iter().sum();
        // whole net: forward, every weight gradient, every input gradient but conv1's
        assert_eq!(cfg.step_macs(0), 3 * total - m[0]);
        // frozen 1..7: forward, then fc8's weight gradient alone
        assert_eq!(cfg.step_macs(7), total + m[7]);
        // frozen 1..3: layers 4..8's weights, layers 5..8's inputs
        assert_eq!(cfg.step_macs(3), total + m[3..].iter().sum::<u64>() + m[4..].iter().sum::<u64>());
        assert_eq!(cfg.cache_bound(0), 1.0);
    }

    #[test]
    fn the_cache_bound_grows_with_the_frozen_prefix_and_is_small_at_layer_one() {
        for preset in ModelPreset::ALL {
            let cfg = AlexNetConfig::preset(preset, if preset == ModelPreset::Caffenet { 1000 } else { 10 });
            let bounds: Vec<f64> = (1..=7).map(|n| cfg.cache_bound(n)).collect();
            assert!(bounds.windows(2).all(|w| w[1] > w[0]), "{preset}: {bounds:?}");
            // conv1 is a small part of any step of these nets: no cache makes n = 1 even 1.5x cheaper
            assert!(bounds[0] > 1.0 && bounds[0] < 1.5, "{preset}: {bounds:?}");
        }
    }
}
