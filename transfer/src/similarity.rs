//! Layer generality without training: linear CKA (Kornblith et al. 2019)
//! between two networks' activations at each layer 1..8 on a common probe
//! set, with the debiased HSIC estimator (Song et al. 2012; Nguyen et al.
//! 2021), and conv1 filter pictures.
//!
//! `HSIC₁(K, L) = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3))`
//! with `K̃`, `L̃` the linear Gram matrices with zeroed diagonals, and
//! `CKA = HSIC₁(K, L) / sqrt(HSIC₁(K, K)·HSIC₁(L, L))`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use data_split::preprocess::Crop;
use data_split::source::HalfView;
use model::checkpoint::{ParamStore, read_model};
use model::{AlexNet, LAYER_NAMES};

use crate::batches::{Assembly, Store};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::spec::{Arm, Family, JobId, JobSpec, Preprocess, SplitSpec};
use data_split::DataSpec;

/// Debiased HSIC of two Gram matrices (n ≥ 4).
pub fn hsic1(k: &[f64], l: &[f64], n: usize) -> f64 {
    let nf = n as f64;
    let (mut tr, mut sk, mut sl) = (0f64, 0f64, 0f64);
    let mut kl_sum = 0f64; // 1ᵀ K̃ L̃ 1 = Σ_j (Σ_i K̃_ij)(Σ_m L̃_jm)
    let mut row_k = vec![0f64; n];
    let mut row_l = vec![0f64; n];
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let (a, b) = (k[i * n + j], l[i * n + j]);
            tr += a * b;
            sk += a;
            sl += b;
            row_k[j] += a;
            row_l[i] += b;
        }
    }
    for j in 0..n {
        kl_sum += row_k[j] * row_l[j];
    }
    (tr + sk * sl / ((nf - 1.0) * (nf - 2.0)) - 2.0 / (nf - 2.0) * kl_sum) / (nf * (nf - 3.0))
}

/// Linear CKA of two activation matrices with the same `n` rows.
pub fn linear_cka(x: &[f32], dx: usize, y: &[f32], dy: usize, n: usize) -> f64 {
    let (k, l) = (kernels::gram::gram(x, n, dx), kernels::gram::gram(y, n, dy));
    hsic1(&k, &l, n) / (hsic1(&k, &k, n) * hsic1(&l, &l, n)).sqrt()
}

/// Activations of every layer for the probe images: `[layer][n * d]` and `d`.
pub fn layer_activations(net: &AlexNet, probe: &[f32], n: usize, crop: usize, device: &Device) -> Vec<(Vec<f32>, usize)> {
    let x = Tensor::<4>::from_data(TensorData::new(probe.to_vec(), [n, 3, crop, crop]), device);
    let mut act = model::Act::Map(x);
    let mut out = Vec::with_capacity(8);
    for k in 1..=8 {
        act = net.layer(k, act, None);
        let flat = act.clone().flat();
        let d = flat.dims()[1];
        let v = flat.into_data().convert::<f32>().as_slice::<f32>().expect("f32").to_vec();
        out.push((v, d));
    }
    out
}

/// CKA per layer between two checkpoints on the test images of `job`'s
/// target half (centre crops, each network with its own mean image).
pub fn compare_checkpoints(a: &Path, b: &Path, job: &JobSpec, probe: usize) -> Result<Vec<f64>> {
    compare_on(a, b, &job.data, &job.split, job.target_half().as_str(), job.preprocess, probe)
}

/// CKA per layer between two checkpoints on the test images of one half of a
/// split of a data set.
pub fn compare_on(a: &Path, b: &Path, data: &DataSpec, split: &SplitSpec, half: &str, pre: Preprocess, probe: usize) -> Result<Vec<f64>> {
    let ds = data_split::DataSet::open(data)?;
    let split = crate::spec::resolve_split(split, data, &ds)?;
    let half = split.half(half).ok_or_else(|| Error::Plan(format!("half `{half}` is not in the split")))?;
    let view = Arc::new(HalfView::new(ds.test.clone(), half, None));
    let store = Store::open(view, pre.stored)?;
    let n = probe.min(store.len());
    if n < 4 {
        return Err(Error::Plan("CKA needs at least 4 probe images".into()));
    }
    // spread the probe over the classes: every (len / n)-th test image
    let idx: Vec<usize> = (0..n).map(|i| i * store.len() / n).collect();
    let device = Device::flex();
    let mut acts = Vec::new();
    for ckpt in [a, b] {
        let (cfg, params) = read_model(ckpt)?;
        let net = params.apply(cfg.init(&device, 0), |_| true)?;
        let (mean, _) = ParamStore::load(&ckpt.with_file_name("mean.params"))?;
        let mean = mean.tensors.get("mean").map(|t| t.1.clone()).ok_or_else(|| Error::File { path: ckpt.into(), message: "no mean image beside it".into() })?;
        let asm = Assembly { mean: Arc::new(mean), crop: pre.crop, mirror: false, seed: 0 };
        let c = Crop::centre(store.size(), asm.crop);
        let batch = asm.assemble(&store, &idx, &vec![c; n])?;
        acts.push(layer_activations(&net, &batch.images, n, asm.crop, &device));
    }
    Ok((0..8).map(|k| linear_cka(&acts[0][k].0, acts[0][k].1, &acts[1][k].0, acts[1][k].1, n)).collect())
}

/// Two networks compared, and their CKA per layer.
#[derive(Debug, Clone)]
pub struct Compared {
    /// A label for people.
    pub pair: String,
    /// What is compared.
    pub comparison: records::Comparison,
    /// The unit: family, split id, replicate (none for a hand-named pair).
    pub unit: Option<(Family, String, i32)>,
    /// The two checkpoints.
    pub a: PathBuf,
    /// The second checkpoint.
    pub b: PathBuf,
    /// CKA at layers 1..8.
    pub cka: Vec<f64>,
}

/// Write CKA rows (the pair, what it compares, the two checkpoints, CKA per
/// layer) as the similarity table of the `records` crate.
pub fn write_similarity(path: &Path, rows: &[Compared], probe: usize) -> Result<()> {
    let table: Vec<crate::record::SimilarityRow> = rows
        .iter()
        .flat_map(|r| {
            let Compared { pair, comparison, unit, a, b, cka: v } = r;
            v.iter().enumerate().map(move |(k, &cka)| crate::record::SimilarityRow {
                pair: pair.clone(),
                comparison: *comparison,
                family: unit.as_ref().map(|u| u.0.clone()),
                split: unit.as_ref().map(|u| u.1.clone()),
                replicate: unit.as_ref().map(|u| u.2),
                a: a.display().to_string(),
                b: b.display().to_string(),
                layer: k as i32 + 1,
                layer_name: LAYER_NAMES[k].to_string(),
                cka,
                probe: probe as i32,
            })
        })
        .collect();
    Ok(crate::record::write_similarity(path, &table)?)
}

/// conv1 filters of a checkpoint as a PNG grid (each filter min–max scaled,
/// 4× enlarged); for conv2, the first input channels of each group.
pub fn filter_grid(ckpt: &Path, out: &Path) -> Result<()> {
    let (_, params) = read_model(ckpt)?;
    let (shape, w) = params.tensors.get("conv1.weight").ok_or_else(|| Error::File { path: ckpt.into(), message: "no conv1.weight".into() })?;
    let (f, c, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
    let cols = (f as f64).sqrt().ceil() as usize;
    let rows = f.div_ceil(cols);
    let scale = 4;
    let cell = kh.max(kw) * scale + 2;
    let mut img = image::RgbImage::from_pixel((cols * cell) as u32, (rows * cell) as u32, image::Rgb([255, 255, 255]));
    for fi in 0..f {
        let v = &w[fi * c * kh * kw..(fi + 1) * c * kh * kw];
        let (lo, hi) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
        let norm = |x: f32| (((x - lo) / (hi - lo).max(1e-12)) * 255.0) as u8;
        let (ox, oy) = ((fi % cols) * cell + 1, (fi / cols) * cell + 1);
        for y in 0..kh * scale {
            for x in 0..kw * scale {
                let at = |ch: usize| v[(ch.min(c - 1) * kh + y / scale) * kw + x / scale];
                img.put_pixel((ox + x) as u32, (oy + y) as u32, image::Rgb([norm(at(0)), norm(at(1)), norm(at(2))]));
            }
        }
    }
    if let Some(p) = out.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
    }
    img.save(out).map_err(|e| Error::File { path: out.into(), message: e.to_string() })
}

/// After a sweep: CKA for baseA vs baseB of every random split, the natural
/// vs man-made bases, and every transferred network (whose final weights
/// were kept) against its source base; written to `OUT/similarity/cka.parquet`.
/// The independent unit a job belongs to, as CKA pairs name it: the
/// family, and for random halves the split (`random/0`), with `-r<i>` for
/// replicates beyond the first; pairs of different units never share a name.
fn unit_name(j: &crate::JobSpec) -> String {
    let rep = if j.replicate() == 0 { String::new() } else { format!("-r{}", j.replicate()) };
    if *j.family() == Family::Random { format!("random/{}{rep}", j.split_id) } else { format!("{}{rep}", j.family()) }
}

/// The unit a job belongs to: family, split id, replicate.
fn unit_of(j: &crate::JobSpec) -> (Family, String, i32) {
    (j.family().clone(), j.split_id.clone(), j.replicate() as i32)
}

/// Also conv1 filter pictures of every base into `OUT/report/filters/`.
/// Returns the Parquet path, or `None` when no pair was available.
pub fn sweep_similarity(plan: &Plan, probe: usize) -> Result<Option<PathBuf>> {
    let final_of = |id: &JobId| plan.jobs.iter().find(|j| &j.job.id == id).map(|j| j.job.dir.join(records::FINAL_PARAMS)).filter(|p| p.is_file());
    let mut rows = Vec::new();
    for j in plan.jobs.iter().map(|j| &j.job) {
        let Some(mine) = final_of(&j.id) else { continue };
        if j.arm() == Arm::Base {
            let _ = filter_grid(&mine, &records::SweepLayout::new(&plan.out).filters().join(format!("{}.png", j.id)));
            // pair each base with the other base of its split (once: from the second half)
            let other = plan.jobs.iter().map(|o| &o.job).find(|o| {
                o.arm() == Arm::Base
                    && o.family() == j.family()
                    && o.split_id == j.split_id
                    && o.replicate() == j.replicate()
                    && o.target_half() < j.target_half()
            });
            if let Some(o) = other.and_then(|o| final_of(&o.id).map(|p| (o, p))) {
                let cka = compare_checkpoints(&o.1, &mine, j, probe)?;
                rows.push(Compared {
                    pair: format!("{}:{}-vs-{}", unit_name(j), o.0.target_half(), j.target_half()),
                    comparison: records::Comparison::Bases,
                    unit: Some(unit_of(j)),
                    a: o.1,
                    b: mine.clone(),
                    cka,
                });
            }
        }
        if let Some(src) = &j.source
            && src.is_file()
        {
            let cka = compare_checkpoints(src, &mine, j, probe)?;
            rows.push(Compared {
                pair: format!("{}:source-vs-{}", j.family(), j.id),
                comparison: records::Comparison::SourceVsTransfer,
                unit: Some(unit_of(j)),
                a: src.clone(),
                b: mine,
                cka,
            });
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let path = crate::record::similarity_path(&plan.out);
    write_similarity(&path, &rows, probe)?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand_matrix(seed: u64, n: usize, d: usize) -> Vec<f32> {
        let mut r = data_split::synthetic::SplitMix64::new(seed);
        (0..n * d).map(|_| r.normal()).collect()
    }

    fn matmul(x: &[f32], n: usize, d: usize, m: &[f32], e: usize) -> Vec<f32> {
        let mut out = vec![0f32; n * e];
        for i in 0..n {
            for k in 0..d {
                for j in 0..e {
                    out[i * e + j] += x[i * d + k] * m[k * e + j];
                }
            }
        }
        out
    }

    /// A random orthogonal d×d matrix by Gram–Schmidt.
    fn orthogonal(seed: u64, d: usize) -> Vec<f32> {
        let a = rand_matrix(seed, d, d);
        let mut q: Vec<Vec<f64>> = Vec::new();
        for i in 0..d {
            let mut v: Vec<f64> = (0..d).map(|j| a[i * d + j] as f64).collect();
            for u in &q {
                let dot: f64 = v.iter().zip(u).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(u).for_each(|(x, y)| *x -= dot * y);
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            q.push(v.into_iter().map(|x| x / norm).collect());
        }
        q.into_iter().flatten().map(|x| x as f32).collect()
    }

    #[test]
    fn cka_invariances() {
        let (n, d) = (60, 12);
        let x = rand_matrix(1, n, d);
        assert!((linear_cka(&x, d, &x, d, n) - 1.0).abs() < 1e-9, "CKA(X, X) = 1");
        let rotated = matmul(&x, n, d, &orthogonal(2, d), d);
        assert!((linear_cka(&x, d, &rotated, d, n) - 1.0).abs() < 1e-5, "orthogonal invariance");
        let scaled: Vec<f32> = x.iter().map(|v| v * 7.5).collect();
        assert!((linear_cka(&x, d, &scaled, d, n) - 1.0).abs() < 1e-6, "isotropic scaling invariance");
        // an invertible but anisotropic map: diagonal with very different scales
        let mut m = vec![0f32; d * d];
        for i in 0..d {
            m[i * d + i] = if i == 0 { 50.0 } else { 0.2 };
        }
        let stretched = matmul(&x, n, d, &m, d);
        assert!(linear_cka(&x, d, &stretched, d, n) < 0.8, "not invariant to an arbitrary invertible map");
        let other = rand_matrix(3, n, d);
        assert!(linear_cka(&x, d, &other, d, n).abs() < 0.3, "independent data is dissimilar");
    }
}
