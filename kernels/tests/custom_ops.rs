//! The custom flex ops against burn's reference layers, value and
//! gradients: the fused convolution (+ ReLU) against `Conv2d` + ReLU on
//! every AlexNet-like geometry (stride 4, grouped, padded, odd sizes, frozen
//! inputs or weights); max pooling against `MaxPool2d` in ceil mode; LRN
//! against the composed slice implementation.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;
use kernels::conv::{Geometry, conv2d, conv2d_relu};
use kernels::lrn::{LrnConfig, lrn, lrn_slices};
use kernels::pool::max_pool;
use rand::{RngExt, SeedableRng, rngs::StdRng};

fn random(rng: &mut StdRng, shape: [usize; 4]) -> TensorData {
    let n = shape.iter().product();
    TensorData::new((0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<_>>(), shape)
}

fn layer(case: &Geometry, rng: &mut StdRng, device: &Device, train_weights: bool) -> Conv2d {
    let mut l = Conv2dConfig::new([case.c, case.co], [case.k, case.k])
        .with_stride([case.stride, case.stride])
        .with_padding(PaddingConfig2d::Explicit(case.pad, case.pad, case.pad, case.pad))
        .with_groups(case.groups)
        .init(device);
    let w = random(rng, [case.co, case.c / case.groups, case.k, case.k]);
    let b: Vec<f32> = (0..case.co).map(|_| rng.random_range(-0.3f32..0.3)).collect();
    l.weight = Param::from_data(w, device).set_require_grad(train_weights);
    l.bias = Some(Param::from_data(TensorData::new(b, [case.co]), device).set_require_grad(train_weights));
    l
}

fn assert_close(what: &str, ours: Tensor<4>, reference: Tensor<4>) {
    let (a, b) = (ours.into_data().try_to_vec::<f32>().expect("f32"), reference.into_data().try_to_vec::<f32>().expect("f32"));
    assert_eq!(a.len(), b.len(), "{what}: length");
    let scale = b.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 2e-5 * scale.max(1.0) * 10.0, "{what}: max |ours − burn| = {worst} (scale {scale})");
}

fn check(case: Geometry, train_input: bool, train_weights: bool, fuse_relu: bool) {
    let device = Device::flex().autodiff();
    let mut rng = StdRng::seed_from_u64((case.k * 1000 + case.stride * 100 + case.groups) as u64);
    let l = layer(&case, &mut rng, &device, train_weights);
    let x0 = Tensor::<4>::from_data(random(&mut rng, [case.n, case.c, case.h, case.w]), &device);
    let ours_x = if train_input { x0.clone().require_grad() } else { x0.clone() };
    let ref_x = if train_input { x0.require_grad() } else { x0 };

    let ours = if fuse_relu { conv2d_relu(&l, ours_x.clone()) } else { conv2d(&l, ours_x.clone()) };
    let reference = if fuse_relu { relu(l.forward(ref_x.clone())) } else { l.forward(ref_x.clone()) };
    let dims = reference.dims();
    assert_eq!(ours.dims(), dims);
    let r = Tensor::<4>::from_data(random(&mut rng, dims), &device);
    assert_close("output", ours.clone(), reference.clone());

    let g_ours = (ours * r.clone()).sum().backward();
    let g_ref = (reference * r).sum().backward();
    if train_input {
        assert_close("dx", ours_x.grad(&g_ours).expect("dx"), ref_x.grad(&g_ref).expect("dx"));
    }
    if train_weights {
        assert_close("dw", l.weight.val().grad(&g_ours).expect("dw"), l.weight.val().grad(&g_ref).expect("dw"));
        let db = |g| l.bias.as_ref().expect("bias").val().grad(g).expect("db").reshape([1, 1, 1, case.co]);
        assert_close("db", db(&g_ours), db(&g_ref));
    } else {
        assert!(l.weight.val().grad(&g_ours).is_none(), "a frozen weight got a gradient");
    }
}

/// `n` images of `c` × `size` × `size` into `co` channels.
fn case(n: usize, c: usize, size: usize, co: usize, [k, stride, pad, groups]: [usize; 4]) -> Geometry {
    Geometry { n, c, h: size, w: size, co, k, stride, pad, groups }
}

#[test]
fn caffenet_conv1_geometry() {
    check(case(3, 3, 27, 8, [11, 4, 0, 1]), true, true, true);
}

#[test]
fn grouped_padded_5x5() {
    check(case(5, 6, 9, 8, [5, 1, 2, 2]), true, true, true);
}

#[test]
fn grouped_3x3_many_images_several_chunks() {
    check(case(37, 8, 7, 12, [3, 1, 1, 2]), true, true, true);
}

#[test]
fn strided_padded_without_relu() {
    check(case(4, 4, 8, 6, [3, 2, 1, 1]), true, true, false);
}

#[test]
fn frozen_weights_give_only_the_input_gradient() {
    check(case(4, 4, 7, 6, [3, 1, 1, 2]), true, false, true);
}

#[test]
fn untracked_input_gives_only_weight_gradients() {
    check(case(6, 3, 10, 4, [5, 1, 2, 1]), false, true, true);
}

#[test]
fn plain_flex_device_forward_matches() {
    let device = Device::flex();
    let c = case(2, 4, 9, 6, [3, 1, 1, 2]);
    let mut rng = StdRng::seed_from_u64(7);
    let l = layer(&c, &mut rng, &device, false);
    let x = Tensor::<4>::from_data(random(&mut rng, [c.n, c.c, c.h, c.w]), &device);
    assert_close("inference output", conv2d_relu(&l, x.clone()), relu(l.forward(x)));
}

#[test]
fn gradients_are_bit_identical_for_any_thread_count() {
    isa::announce();
    let geo = case(40, 8, 7, 12, [3, 1, 1, 2]);
    let mut rng = StdRng::seed_from_u64(11);
    let values = |rng: &mut StdRng, n: usize| (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<_>>();
    let x = values(&mut rng, geo.n * geo.c * geo.h * geo.w);
    let w = values(&mut rng, geo.co * geo.c / geo.groups * geo.k * geo.k);
    let dy = values(&mut rng, geo.n * geo.co * geo.ho() * geo.wo());
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        pool.install(|| {
            let y = kernels::conv::forward(&x, &w, &vec![0.1; geo.co], &geo, true);
            let g = kernels::conv::backward(&x, &w, &dy, Some(&y), &geo, [true, true, true]);
            (y, g.x, g.weight, g.bias)
        })
    };
    assert_eq!(run(1), run(3), "results depend on the thread count");
}

/// Value and input gradient of `ours` against `reference` on a random input.
fn check_unary(shape: [usize; 4], seed: u64, ours: impl Fn(Tensor<4>) -> Tensor<4>, reference: impl Fn(Tensor<4>) -> Tensor<4>) {
    let device = Device::flex().autodiff();
    let mut rng = StdRng::seed_from_u64(seed);
    // scaled so LRN's normaliser is far from 1
    let x0 = Tensor::<4>::from_data(random(&mut rng, shape), &device).mul_scalar(30.0);
    let (xa, xb) = (x0.clone().require_grad(), x0.require_grad());
    let (ya, yb) = (ours(xa.clone()), reference(xb.clone()));
    assert_eq!(ya.dims(), yb.dims());
    let r = Tensor::<4>::from_data(random(&mut rng, yb.dims()), &device);
    assert_close("output", ya.clone(), yb.clone());
    let (ga, gb) = ((ya * r.clone()).sum().backward(), (yb * r).sum().backward());
    assert_close("dx", xa.grad(&ga).expect("dx"), xb.grad(&gb).expect("dx"));
}

#[test]
fn max_pool_matches_burn_in_ceil_mode() {
    let pool = MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_ceil_mode(true).init();
    for (shape, seed) in [([3, 4, 32, 32], 1), ([2, 5, 13, 13], 2), ([2, 3, 8, 9], 3), ([1, 2, 55, 55], 4)] {
        check_unary(shape, seed, |x| max_pool(&pool, x), |x| pool.forward(x));
    }
}

#[test]
fn lrn_matches_the_composed_slices() {
    let cfg = LrnConfig::new();
    for (shape, seed) in [([2, 7, 5, 5], 5), ([3, 64, 4, 4], 6), ([1, 3, 6, 6], 7)] {
        check_unary(shape, seed, |x| lrn(x, &cfg, |_| unreachable!("flex runs the custom op")), |x| lrn_slices(x, &cfg));
    }
    // a window wider than the channel count, and β off Caffe's 0.75
    let odd = LrnConfig { size: 7, alpha: 3e-3, beta: 0.6, k: 2.0 };
    check_unary([2, 4, 3, 3], 8, |x| lrn(x, &odd, |_| unreachable!()), |x| lrn_slices(x, &odd));
}

/// The thread-count test again under every instruction-set level below this
/// CPU's best (`TRANSFERABILITY_ISA`, in a child process): the portable GEMM
/// and plain loops that CPUs without AVX-512 run must keep the guarantee too.
#[test]
fn thread_count_independence_holds_on_every_lower_isa() {
    for level in isa::below_detected() {
        let out = isa::rerun_under(level, "gradients_are_bit_identical_for_any_thread_count").unwrap_or_else(|e| panic!("{e}"));
        println!("under TRANSFERABILITY_ISA={level}: {}", out.lines().find(|l| l.contains("test result")).unwrap_or("?"));
    }
}

/// The thread-count test again on an emulated CPU without AVX-512 (where
/// this one has it): every dispatcher, ours and our dependencies', on its
/// AVX2 path.
#[test]
fn thread_count_independence_holds_on_an_emulated_avx2_cpu() {
    isa::check_emulated("gradients_are_bit_identical_for_any_thread_count");
}
