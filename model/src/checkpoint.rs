//! Parameters by path, and checkpoints.
//!
//! [`ParamStore`] holds a module's float parameters keyed by path
//! (`conv1.weight`, ...), as f32 with their shapes. It is what checkpoints,
//! optimizer state and weight hashes are made of, and it writes one simple,
//! documented file format:
//!
//! ```text
//! "TRANSFERABILITY-PARAMS\n"   magic
//! u64 LE                       length of the JSON header
//! JSON header                  { "version": 1, "meta": {...}, "tensors": [{"path", "shape", "offset"}] }
//! f32 LE data                  every tensor, in header order
//! ```
//!
//! A model checkpoint's `meta` holds the [`AlexNetConfig`] and the layer
//! names, so loading into another architecture fails naming what differs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alexnet::{AlexNet, AlexNetConfig};
use crate::error::{Error, Result};
use crate::layers::{LAYER_NAMES, check_range};

const MAGIC: &[u8] = b"TRANSFERABILITY-PARAMS\n";
/// Version of the parameter file format.
pub const PARAMS_VERSION: u32 = 1;

/// Float parameters by path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamStore {
    /// `path → (shape, values)`.
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    meta: serde_json::Value,
    tensors: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    path: String,
    shape: Vec<usize>,
    offset: usize,
}

struct Collect<'a> {
    path: Vec<String>,
    out: &'a mut BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    data: bool,
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        let values = if self.data { t.into_data().convert::<f32>().as_slice::<f32>().expect("f32 after convert").to_vec() } else { Vec::new() };
        self.out.insert(self.path.join("."), (shape, values));
    }
}

struct Apply<'a, F: Fn(&str) -> bool> {
    path: Vec<String>,
    store: &'a ParamStore,
    filter: F,
    errors: Vec<String>,
    applied: usize,
}

impl<F: Fn(&str) -> bool> ModuleMapper for Apply<'_, F> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path.join(".");
        if !(self.filter)(&path) {
            return param;
        }
        let Some((shape, values)) = self.store.tensors.get(&path) else {
            self.errors.push(format!("{path}: missing from the stored parameters"));
            return param;
        };
        let current = param.lazy_shape().dims::<D>().to_vec();
        if *shape != current {
            self.errors.push(format!("{path}: stored shape {shape:?}, network shape {current:?}"));
            return param;
        }
        self.applied += 1;
        let shape: [usize; D] = shape.clone().try_into().expect("rank checked by shape equality");
        let values = values.clone();
        param.map(|t| {
            let rg = t.is_require_grad();
            Tensor::from_data(TensorData::new(values, shape), &t.device()).set_require_grad(rg)
        })
    }
}

impl ParamStore {
    /// All float parameters of a module.
    pub fn from_module<M: Module>(m: &M) -> Self {
        let mut tensors = BTreeMap::new();
        m.visit(&mut Collect { path: Vec::new(), out: &mut tensors, data: true });
        ParamStore { tensors }
    }

    /// Parameter shapes of a module (no data read).
    pub fn shapes<M: Module>(m: &M) -> BTreeMap<String, Vec<usize>> {
        let mut tensors = BTreeMap::new();
        m.visit(&mut Collect { path: Vec::new(), out: &mut tensors, data: false });
        tensors.into_iter().map(|(k, (s, _))| (k, s)).collect()
    }

    /// Write the stored values into the parameters of `m` whose path passes
    /// `filter`, keeping each parameter's id and gradient setting. Every
    /// selected parameter must be stored with the same shape.
    pub fn apply<M: Module>(&self, m: M, filter: impl Fn(&str) -> bool) -> Result<M> {
        let mut a = Apply { path: Vec::new(), store: self, filter, errors: Vec::new(), applied: 0 };
        let m = m.map(&mut a);
        if let Some(first) = a.errors.first() {
            let (layer, what) = first.split_once(": ").unwrap_or((first, ""));
            return Err(Error::Mismatch { layer: layer.into(), what: what.into() });
        }
        Ok(m)
    }

    /// SHA-256 over paths, shapes and the exact bits of every value.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        for (p, (s, v)) in &self.tensors {
            h.update(p.as_bytes());
            h.update(format!("{s:?}").as_bytes());
            for x in v {
                h.update(x.to_le_bytes());
            }
        }
        format!("{:x}", h.finalize())
    }

    /// Write to `path` atomically (temporary file + rename) with `meta`.
    pub fn save(&self, path: &Path, meta: serde_json::Value) -> Result<()> {
        let io = |e| Error::Io { path: path.to_path_buf(), source: e };
        let mut offset = 0;
        let tensors = self
            .tensors
            .iter()
            .map(|(p, (s, v))| {
                let e = Entry { path: p.clone(), shape: s.clone(), offset };
                offset += v.len();
                e
            })
            .collect();
        let header = serde_json::to_vec(&Header { version: PARAMS_VERSION, meta, tensors }).expect("header serialises");
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            f.write_all(MAGIC)?;
            f.write_all(&(header.len() as u64).to_le_bytes())?;
            f.write_all(&header)?;
            for (_, v) in self.tensors.values() {
                for x in v {
                    f.write_all(&x.to_le_bytes())?;
                }
            }
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// Read a file written by [`ParamStore::save`]; returns the store and its `meta`.
    pub fn load(path: &Path) -> Result<(Self, serde_json::Value)> {
        let bad = |m: String| Error::Checkpoint { path: path.to_path_buf(), message: m };
        let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
        if !bytes.starts_with(MAGIC) || bytes.len() < MAGIC.len() + 8 {
            return Err(bad("not a transferability parameter file (bad magic)".into()));
        }
        let mut at = MAGIC.len();
        let hlen = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes")) as usize;
        at += 8;
        let header: Header =
            bytes.get(at..at + hlen).and_then(|h| serde_json::from_slice(h).ok()).ok_or_else(|| bad("header is truncated or not JSON".into()))?;
        if header.version != PARAMS_VERSION {
            return Err(bad(format!("format version {}, this build reads {PARAMS_VERSION}", header.version)));
        }
        at += hlen;
        let data = &bytes[at..];
        let mut tensors = BTreeMap::new();
        for e in header.tensors {
            let n: usize = e.shape.iter().product();
            let slice = data.get(e.offset * 4..(e.offset + n) * 4).ok_or_else(|| bad(format!("{}: data truncated", e.path)))?;
            let v = slice.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
            tensors.insert(e.path, (e.shape, v));
        }
        Ok((ParamStore { tensors }, header.meta))
    }
}

/// Save a model with its configuration and layer names.
pub fn save_model(model: &AlexNet, config: &AlexNetConfig, path: &Path) -> Result<String> {
    let store = ParamStore::from_module(model);
    let hash = store.hash();
    let meta = serde_json::json!({ "kind": "alexnet", "config": config, "layers": LAYER_NAMES, "params_sha256": hash });
    store.save(path, meta)?;
    Ok(hash)
}

/// Read a model checkpoint's configuration and parameters.
pub fn read_model(path: &Path) -> Result<(AlexNetConfig, ParamStore)> {
    let (store, meta) = ParamStore::load(path)?;
    let bad = |m: String| Error::Checkpoint { path: path.to_path_buf(), message: m };
    if meta.get("kind").and_then(|k| k.as_str()) != Some("alexnet") {
        return Err(bad("not a model checkpoint".into()));
    }
    let cfg = serde_json::from_value(meta["config"].clone()).map_err(|e| bad(format!("config unreadable: {e}")))?;
    Ok((cfg, store))
}

/// Describe how two configurations differ, field by field (empty if equal).
pub fn config_diff(a: &AlexNetConfig, b: &AlexNetConfig) -> Vec<String> {
    let (va, vb) = (serde_json::to_value(a).expect("json"), serde_json::to_value(b).expect("json"));
    let (Some(oa), Some(ob)) = (va.as_object(), vb.as_object()) else { return vec![] };
    oa.iter()
        .filter(|(k, v)| ob.get(*k) != Some(v) && *k != "preset")
        .map(|(k, v)| format!("{k}: checkpoint {} vs expected {}", ob.get(k).map_or("-".into(), |x| x.to_string()), v))
        .collect()
}

/// A network of `expected` architecture, fresh from `seed`, with layers
/// 1..n copied from the checkpoint at `path` ([`AlexNet::copy_first_from`]:
/// the protocol's one copy step). With `n = 8` the whole network is loaded
/// and the architectures must agree; with `n < 8` only the copied layers'
/// shapes must (the fc8 width, and the widths above n, may differ).
pub fn load_model(path: &Path, expected: &AlexNetConfig, device: &Device, seed: u64, n: usize) -> Result<AlexNet> {
    check_range(n, 0, 8)?;
    let (cfg, store) = read_model(path)?;
    if n == 8 {
        let diff = config_diff(expected, &cfg);
        if !diff.is_empty() {
            return Err(Error::Checkpoint { path: path.to_path_buf(), message: format!("architecture differs: {}", diff.join("; ")) });
        }
    }
    let cannot = |e: Error| Error::Checkpoint { path: path.to_path_buf(), message: format!("cannot load layers 1..{n}: {e}") };
    // the checkpoint as the network it was saved from, then its first n layers copied
    let source = store.apply(cfg.init(device, 0), |_| true).map_err(cannot)?;
    expected.init(device, seed).copy_first_from(&source, n).map_err(cannot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alexnet::ModelPreset;

    #[test]
    fn save_load_is_bit_identical() {
        let cfg = AlexNetConfig::preset(ModelPreset::Tiny, 7);
        let dev = Device::flex();
        let net = cfg.init(&dev, 11);
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("m.params");
        let hash = save_model(&net, &cfg, &p).expect("save");
        let back = load_model(&p, &cfg, &dev, 99, 8).expect("load");
        assert_eq!(ParamStore::from_module(&back).hash(), hash);
        assert_eq!(ParamStore::from_module(&back), ParamStore::from_module(&net));
    }

    #[test]
    fn other_architecture_is_refused_naming_the_difference() {
        let cfg = AlexNetConfig::preset(ModelPreset::Tiny, 7);
        let dev = Device::flex();
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("m.params");
        save_model(&cfg.init(&dev, 1), &cfg, &p).expect("save");
        let other = AlexNetConfig::preset(ModelPreset::Cifar, 7);
        let e = load_model(&p, &other, &dev, 0, 8).expect_err("error").to_string();
        assert!(e.contains("architecture differs") && e.contains("conv"), "{e}");
        let e = load_model(&p, &other, &dev, 0, 3).expect_err("error").to_string();
        assert!(e.contains("cannot load layers 1..3: layer conv1.bias: shape [64] here, [16] in the source"), "{e}");
        // a different fc8 width loads the first 7 layers fine
        let wider = AlexNetConfig::preset(ModelPreset::Tiny, 20);
        let net = load_model(&p, &wider, &dev, 0, 7).expect("first seven layers");
        assert_eq!(net.fc8.weight.dims(), [128, 20]);
        std::fs::write(&p, b"junk").expect("write");
        assert!(load_model(&p, &cfg, &dev, 0, 8).expect_err("error").to_string().contains("bad magic"));
    }
}
