//! GFLOP/s of the convolution op (forward, input gradient, weight and bias
//! gradients) on caffenet's layer shapes at batch 128, on all threads, the
//! fastest of 5 runs, with the binaries' allocator (conv1's input gradient,
//! which no network asks for, is not timed):
//! `cargo run --profile dev -p transferability-kernels --example conv [-- NAME...]`.
use kernels::conv::{Geometry, backward, forward};
use std::time::Instant;

#[global_allocator]
static ALLOC: kernels::memory::KeepLarge = kernels::memory::KeepLarge;

fn main() {
    kernels::memory::keep_freed_memory();
    let only: Vec<String> = std::env::args().skip(1).collect();
    #[rustfmt::skip]
    let shapes = [
        ("caffenet1", Geometry { n: 128, c: 3, h: 227, w: 227, co: 96, k: 11, stride: 4, pad: 0, groups: 1 }),
        ("caffenet2", Geometry { n: 128, c: 96, h: 27, w: 27, co: 256, k: 5, stride: 1, pad: 2, groups: 2 }),
        ("caffenet3", Geometry { n: 128, c: 256, h: 13, w: 13, co: 384, k: 3, stride: 1, pad: 1, groups: 1 }),
        ("caffenet4", Geometry { n: 128, c: 384, h: 13, w: 13, co: 384, k: 3, stride: 1, pad: 1, groups: 2 }),
        ("caffenet5", Geometry { n: 128, c: 384, h: 13, w: 13, co: 256, k: 3, stride: 1, pad: 1, groups: 2 }),
    ];
    for (name, geo) in shapes.iter().filter(|(n, _)| only.is_empty() || only.iter().any(|o| o == n)) {
        let x: Vec<f32> = (0..geo.n * geo.c * geo.h * geo.w).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let kk = geo.kk();
        let w: Vec<f32> = (0..geo.co * kk).map(|i| ((i * 104729) % 1000) as f32 / 1e5 - 0.005).collect();
        let b = vec![0.01f32; geo.co];
        let macs = (geo.n * geo.co * geo.ho() * geo.wo() * kk) as f64;
        let time = |f: &mut dyn FnMut()| {
            f();
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min)
        };
        let mut y = Vec::new();
        let tf = time(&mut || y = forward(&x, &w, &b, geo, true));
        let tx = if geo.stride == 1 {
            time(&mut || {
                let _ = backward(&x, &w, &y, Some(&y), geo, [true, false, false]);
            })
        } else {
            f64::NAN
        };
        let tw = time(&mut || {
            let _ = backward(&x, &w, &y, Some(&y), geo, [false, true, true]);
        });
        let rate = |t: f64| 2.0 * macs / t / 1e9;
        println!(
            "{name}: forward {:.1} ms {:.1} GFLOP/s; input gradient {:.1} ms {:.1}; weight gradient {:.1} ms {:.1}",
            tf * 1e3,
            rate(tf),
            tx * 1e3,
            rate(tx),
            tw * 1e3,
            rate(tw)
        );
    }
}
