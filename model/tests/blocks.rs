//! The layer-indexed building blocks under a real optimiser step: freezing,
//! copying and re-initialising, checked bit for bit.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use model::checkpoint::ParamStore;
use model::layers::layer_of_path;
use model::{AlexNet, AlexNetConfig, ModelPreset};

fn tiny() -> AlexNetConfig {
    AlexNetConfig::preset(ModelPreset::Tiny, 10)
}

fn sgd_step(net: AlexNet, device: &Device) -> AlexNet {
    let x = Tensor::<4>::random([4, 3, 28, 28], burn::tensor::Distribution::Normal(0.0, 50.0), device);
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 3, 5, 9], [4]), device);
    let loss = burn::nn::loss::CrossEntropyLossConfig::new().init(device).forward(net.forward_train(x, 7), y);
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let mom = MomentumConfig::new().with_momentum(0.9).with_dampening(0.0);
    let mut opt = SgdConfig::new().with_momentum(Some(mom)).with_weight_decay(Some(WeightDecayConfig::new(5e-4))).init();
    opt.step(0.1, net, grads)
}

#[test]
fn frozen_layers_are_bit_identical_after_a_step_and_others_change() {
    let device = Device::flex().autodiff();
    for n in [1usize, 3, 5, 7] {
        let net = tiny().init(&device, 1).freeze_first(n).expect("valid n");
        let before = ParamStore::from_module(&net);
        let after = ParamStore::from_module(&sgd_step(net, &device));
        for (path, (_, v)) in &before.tensors {
            let k = layer_of_path(path).expect("layer param");
            let same = after.tensors[path].1 == *v;
            if k <= n {
                assert!(same, "n={n}: frozen {path} changed");
            } else if path.ends_with("weight") {
                assert!(!same, "n={n}: trainable {path} did not change");
            }
        }
    }
}

#[test]
fn copying_layers_is_bit_identical_and_leaves_the_rest() {
    let device = Device::flex();
    let a = tiny().init(&device, 1);
    let b = AlexNetConfig::preset(ModelPreset::Tiny, 25).init(&device, 2);
    let b_before = ParamStore::from_module(&b);
    let a_params = ParamStore::from_module(&a);
    let c = b.copy_first_from(&a, 4).expect("compatible");
    let after = ParamStore::from_module(&c);
    for (path, t) in &after.tensors {
        let want = if layer_of_path(path).expect("layer") <= 4 { &a_params.tensors[path] } else { &b_before.tensors[path] };
        assert_eq!(t, want, "{path}");
    }
    // a source of another architecture is refused, naming the layer
    let other = AlexNetConfig::preset(ModelPreset::Cifar, 10).init(&device, 0);
    let e = tiny().init(&device, 0).copy_first_from(&other, 2).expect_err("error").to_string();
    assert!(e.contains("conv1"), "{e}");
}

#[test]
fn reinitialised_layers_follow_caffe_fillers() {
    let device = Device::flex();
    let base = tiny().init(&device, 5);
    // re-initialise layers 4..8 from seed 6: a fresh network with layers 1..3 copied
    let net = tiny().init(&device, 6).copy_first_from(&base, 3).expect("copy");
    let p = ParamStore::from_module(&net);
    for (k, name) in model::LAYER_NAMES.iter().enumerate().skip(3) {
        let (std, bias) = tiny().filler(k + 1);
        let w = &p.tensors[&format!("{name}.weight")].1;
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / w.len() as f64;
        let sd = (w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
        assert!(mean.abs() < 4.0 * std / (w.len() as f64).sqrt() + 1e-6, "{name} mean {mean}");
        assert!((sd / std - 1.0).abs() < 0.1, "{name} sd {sd} vs {std}");
        assert!(p.tensors[&format!("{name}.bias")].1.iter().all(|&b| b == bias as f32), "{name} bias");
    }
    // and a different seed gives different fresh layers, the same seed the same
    let again = tiny().init(&device, 6);
    assert_eq!(ParamStore::from_module(&again).tensors["fc6.weight"], p.tensors["fc6.weight"]);
    assert_ne!(ParamStore::from_module(&base).tensors["fc6.weight"], p.tensors["fc6.weight"]);
}

#[test]
fn activations_of_every_layer_have_the_stated_shape() {
    let device = Device::flex();
    let cfg = tiny();
    let net = cfg.init(&device, 0);
    let x = Tensor::<4>::zeros([2, 3, 28, 28], &device);
    for k in 1..=8 {
        let a = net.activations(x.clone(), k).expect("act").flat();
        let want: usize = cfg.output_shape(k).iter().product();
        assert_eq!(a.dims(), [2, want], "layer {k}");
    }
}
