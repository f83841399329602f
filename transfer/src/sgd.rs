//! Caffe's SGD, exactly:
//!
//! ```text
//! v ← μ·v + lr·lr_mult·(∇ + wd·wd_mult·w)
//! w ← w − v
//! ```
//!
//! with μ = 0.9, weight decay 5e-4, `lr_mult` 1 for weights and 2 for
//! biases, `wd_mult` 1 for weights and 0 for biases. burn's SGD applies the
//! rate after momentum (`v ← μv + g; w ← w − lr·v`) and defaults to
//! dampening 0.1, so it differs from Caffe after every rate drop: the
//! velocity carries the old rate for a while in Caffe. Frozen parameters
//! receive no gradient and are skipped entirely (no update, no decay).

use std::collections::BTreeMap;

use burn::module::{ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use model::ParamStore;

/// Hyper-parameters of Caffe's solver that the update uses.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SgdConfig {
    /// μ.
    pub momentum: f64,
    /// Weight decay on weights.
    pub weight_decay: f64,
    /// Learning-rate multiplier of biases (Caffe's `blobs_lr: 2`).
    pub bias_lr_mult: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { momentum: 0.9, weight_decay: 5e-4, bias_lr_mult: 2.0 }
    }
}

/// The solver state: one velocity per trained parameter, by path.
#[derive(Debug, Default)]
pub struct CaffeSgd {
    /// Configuration.
    pub config: SgdConfig,
    velocity: BTreeMap<String, Tensor<1>>,
}

struct Step<'a> {
    path: Vec<String>,
    grads: &'a mut GradientsParams,
    sgd: &'a mut CaffeSgd,
    lr: f64,
}

impl ModuleMapper for Step<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(grad) = self.grads.remove::<D>(param.id) else { return param };
        let path = self.path.join(".");
        let is_bias = path.ends_with("bias");
        let cfg = self.sgd.config;
        let (lr_mult, wd_mult) = if is_bias { (cfg.bias_lr_mult, 0.0) } else { (1.0, 1.0) };
        let velocity = &mut self.sgd.velocity;
        param.map(|w| {
            let rg = w.is_require_grad();
            let w = w.inner();
            let shape = w.dims();
            let n: usize = shape.iter().product();
            let g = if wd_mult > 0.0 && cfg.weight_decay > 0.0 { grad + w.clone().mul_scalar(cfg.weight_decay * wd_mult) } else { grad };
            let step = g.mul_scalar(self.lr * lr_mult).reshape([n]);
            let v = match velocity.remove(&path) {
                Some(v) => v.mul_scalar(cfg.momentum) + step,
                None => step,
            };
            velocity.insert(path.clone(), v.clone());
            let w = w - v.reshape(shape);
            Tensor::from_inner(w).set_require_grad(rg)
        })
    }
}

impl CaffeSgd {
    /// A solver with no velocity yet.
    pub fn new(config: SgdConfig) -> Self {
        CaffeSgd { config, velocity: BTreeMap::new() }
    }

    /// One update at learning rate `lr` (the schedule's current rate).
    pub fn step<M: Module>(&mut self, model: M, mut grads: GradientsParams, lr: f64) -> M {
        let mut s = Step { path: Vec::new(), grads: &mut grads, sgd: self, lr };
        model.map(&mut s)
    }

    /// The velocities, for checkpoints.
    pub fn state(&self) -> ParamStore {
        let tensors = self
            .velocity
            .iter()
            .map(|(p, v)| {
                let d = v.to_data().convert::<f32>();
                (p.clone(), (v.dims().to_vec(), d.as_slice::<f32>().expect("f32").to_vec()))
            })
            .collect();
        ParamStore { tensors }
    }

    /// Restore velocities saved by [`CaffeSgd::state`] onto `device` (the inner,
    /// non-autodiff device).
    pub fn load_state(&mut self, state: &ParamStore, device: &Device) {
        self.velocity = state.tensors.iter().map(|(p, (_, v))| (p.clone(), Tensor::from_data(TensorData::new(v.clone(), [v.len()]), device))).collect();
    }
}

/// Caffe's `step` policy: `base_lr · γ^⌊iter / stepsize⌋`.
pub fn step_lr(base_lr: f64, gamma: f64, step_size: u64, iteration: u64) -> f64 {
    base_lr * gamma.powi((iteration / step_size.max(1)) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;

    #[derive(Module, Debug)]
    struct Tiny {
        lin: burn::nn::Linear,
    }

    /// Three steps across a rate drop, against the update computed by hand
    /// (f64) from Caffe's rule. burn's rule would give a different w after
    /// the drop; the test checks that too.
    #[test]
    fn matches_caffe_rule_across_a_rate_drop() {
        let device = Device::flex().autodiff();
        let mut lin = burn::nn::LinearConfig::new(1, 1).init(&device);
        lin.weight = Param::from_data(TensorData::new(vec![1.0f32], [1, 1]), &device);
        lin.bias = Some(Param::from_data(TensorData::new(vec![0.5f32], [1]), &device));
        let mut m = Tiny { lin };
        let cfg = SgdConfig { momentum: 0.9, weight_decay: 0.1, bias_lr_mult: 2.0 };
        let mut sgd = CaffeSgd::new(cfg);
        // loss = x*w + b with x = 3: dL/dw = 3, dL/db = 1
        let (mut w, mut b, mut vw, mut vb) = (1.0f64, 0.5f64, 0.0f64, 0.0f64);
        let (mut bw, mut bvw) = (1.0f64, 0.0f64); // burn's rule, for the negative check
        for it in 0..3u64 {
            let lr = step_lr(0.1, 0.1, 2, it); // 0.1, 0.1, then 0.01
            let x = Tensor::<2>::from_data(TensorData::new(vec![3.0f32], [1, 1]), &device);
            let loss = m.lin.forward(x).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            m = sgd.step(m, grads, lr);
            vw = 0.9 * vw + lr * (3.0 + 0.1 * w);
            w -= vw;
            vb = 0.9 * vb + 2.0 * lr * 1.0;
            b -= vb;
            bvw = 0.9 * bvw + (3.0 + 0.1 * bw);
            bw -= lr * bvw;
        }
        let got_w = m.lin.weight.val().into_data().as_slice::<f32>().expect("f32")[0] as f64;
        let got_b = m.lin.bias.as_ref().expect("bias").val().into_data().as_slice::<f32>().expect("f32")[0] as f64;
        assert!((got_w - w).abs() < 1e-5, "w {got_w} vs Caffe {w}");
        assert!((got_b - b).abs() < 1e-5, "b {got_b} vs Caffe {b}");
        assert!((w - bw).abs() > 1e-2, "the drop separates Caffe's rule from burn's ({w} vs {bw})");
    }
}
