//! Split manifests: a documented, versioned JSON file per split plus per-half
//! `train.txt` / `val.txt` file lists in the authors' `path label` format.
//!
//! Layout of a manifest folder:
//!
//! ```text
//! OUT/manifest.json          schema "transferability.split", version 1
//! OUT/<half>/train.txt       `source-id new-label` per line (when the data set has ids)
//! OUT/<half>/val.txt
//! ```
//!
//! `manifest.json` holds the data set identity (kind, root, a fingerprint of
//! file names and sizes, not contents), the split mode and seed, each half's
//! classes with original index and name, and `content_hash`: SHA-256 of the
//! canonical JSON of everything else. A folder is written under a temporary
//! name and renamed into place, so no partial manifest is ever visible.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::source::Source;
use crate::split::ClassSplit;

/// Schema name written into every manifest.
pub const MANIFEST_SCHEMA: &str = "transferability.split";
/// Current manifest version.
pub const MANIFEST_VERSION: u32 = 1;

/// Which data set a split belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetIdentity {
    /// `synthetic`, `image-folder`, `file-list`, `cifar-binary`, `ilsvrc12` (classes only), ...
    pub kind: String,
    /// Where it lives (or the synthetic configuration).
    pub root: String,
    /// SHA-256 of file names and sizes of the training set (see [`Source::fingerprint`]).
    pub fingerprint: String,
    /// Number of classes in the whole data set.
    pub num_classes: usize,
}

impl DatasetIdentity {
    /// Identity of a source.
    pub fn of(kind: &str, root: &str, src: &dyn Source) -> Self {
        DatasetIdentity { kind: kind.to_string(), root: root.to_string(), fingerprint: src.fingerprint(), num_classes: src.class_names().len() }
    }
}

/// A split manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_SCHEMA`].
    pub schema: String,
    /// [`MANIFEST_VERSION`] when written by this crate.
    pub version: u32,
    /// The data set.
    pub dataset: DatasetIdentity,
    /// The split.
    pub split: ClassSplit,
    /// SHA-256 of the canonical JSON of the fields above.
    pub content_hash: String,
}

impl Manifest {
    /// A manifest for `split` of `dataset`.
    pub fn new(dataset: DatasetIdentity, split: ClassSplit) -> Self {
        let mut m = Manifest { schema: MANIFEST_SCHEMA.into(), version: MANIFEST_VERSION, dataset, split, content_hash: String::new() };
        m.content_hash = m.compute_hash();
        m
    }

    fn compute_hash(&self) -> String {
        let body = serde_json::json!({
            "schema": self.schema, "version": self.version,
            "dataset": self.dataset, "split": self.split,
        });
        format!("{:x}", Sha256::digest(body.to_string().as_bytes()))
    }

    /// Read and validate `dir/manifest.json` (or a manifest file path).
    pub fn read(path: &Path) -> Result<Self> {
        let file = if path.is_dir() { path.join("manifest.json") } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        let bad = |message: String| Error::Manifest { path: file.clone(), message };
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        if v.get("schema").and_then(|s| s.as_str()) != Some(MANIFEST_SCHEMA) {
            return Err(bad(format!("expected schema `{MANIFEST_SCHEMA}`")));
        }
        let version = v.get("version").and_then(|s| s.as_u64()).unwrap_or(0);
        if version != MANIFEST_VERSION as u64 {
            return Err(bad(format!("manifest version {version}, this build reads version {MANIFEST_VERSION}")));
        }
        let m: Manifest = serde_json::from_value(v).map_err(|e| bad(format!("malformed manifest: {e}")))?;
        if m.compute_hash() != m.content_hash {
            return Err(bad("content_hash does not match the content: the file was edited".into()));
        }
        Ok(m)
    }

    /// Check that `src` is the data set this manifest was made for.
    pub fn check_source(&self, src: &dyn Source) -> Result<()> {
        let fp = src.fingerprint();
        if fp != self.dataset.fingerprint {
            return Err(Error::Manifest {
                path: PathBuf::from(&self.dataset.root),
                message: format!(
                    "data on disk ({}) has fingerprint {}, the manifest expects {}: files were added, removed or changed size",
                    src.describe(),
                    &fp[..12.min(fp.len())],
                    &self.dataset.fingerprint[..12.min(self.dataset.fingerprint.len())]
                ),
            });
        }
        Ok(())
    }

    /// Write the manifest folder atomically with per-half file lists of
    /// `train` and `val` (either may be `None` for class-only manifests).
    /// An existing folder with the same content hash is left as it is; one
    /// with a different manifest is an error.
    pub fn write(&self, dir: &Path, train: Option<&dyn Source>, val: Option<&dyn Source>) -> Result<()> {
        let file = dir.join("manifest.json");
        if dir.exists() {
            let existing = Manifest::read(dir).map(|m| m.content_hash).unwrap_or_else(|_| "unreadable".into());
            if existing == self.content_hash {
                return Ok(());
            }
            return Err(Error::ManifestExists { path: file, existing, new: self.content_hash.clone() });
        }
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let tmp = parent.join(format!(".{}.tmp-{}", dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), std::process::id()));
        let result = self.write_into(&tmp, train, val).and_then(|()| std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e)));
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }

    fn write_into(&self, tmp: &Path, train: Option<&dyn Source>, val: Option<&dyn Source>) -> Result<()> {
        std::fs::create_dir_all(tmp).map_err(|e| Error::io(tmp, e))?;
        let json = serde_json::to_string_pretty(self).expect("manifest serialises");
        std::fs::write(tmp.join("manifest.json"), json).map_err(|e| Error::io(tmp.join("manifest.json"), e))?;
        for half in &self.split.halves {
            let hdir = tmp.join(&half.name);
            std::fs::create_dir_all(&hdir).map_err(|e| Error::io(&hdir, e))?;
            let per_class = match self.split.mode {
                crate::split::SplitMode::Reduced { per_class } => Some(per_class),
                _ => None,
            };
            for (name, src, k) in [("train.txt", train, per_class), ("val.txt", val, None)] {
                let Some(src) = src else { continue };
                let mut counts = vec![0usize; half.len()];
                let mut out = String::new();
                for i in 0..src.len() {
                    if let Some(l) = half.label_of(src.label(i)) {
                        if k.is_some_and(|k| counts[l] >= k) {
                            continue;
                        }
                        counts[l] += 1;
                        out.push_str(&format!("{} {l}\n", src.id(i)));
                    }
                }
                std::fs::write(hdir.join(name), out).map_err(|e| Error::io(hdir.join(name), e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::{Generator, random};
    use crate::synthetic::SyntheticConfig;

    fn setup() -> (SyntheticConfig, Manifest) {
        let cfg = SyntheticConfig { classes: 6, train_per_class: 2, test_per_class: 1, size: 8, seed: 3, ..Default::default() };
        let src = cfg.source(true);
        let split = random(src.class_names(), 0.5, 1, Generator::NumpyLegacy).expect("split");
        (cfg, Manifest::new(DatasetIdentity::of("synthetic", "default", &src), split))
    }

    #[test]
    fn manifest_round_trips_with_file_lists() {
        let (cfg, m) = setup();
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("split");
        let (tr, te) = (cfg.source(true), cfg.source(false));
        m.write(&out, Some(&tr), Some(&te)).expect("write");
        let back = Manifest::read(&out).expect("read");
        assert_eq!(back, m);
        let a = &m.split.halves[0];
        let train = std::fs::read_to_string(out.join("A/train.txt")).expect("list");
        assert_eq!(train.lines().count(), a.len() * 2);
        let first = train.lines().next().expect("line");
        assert!(first.ends_with(" 0"), "{first}");
        back.check_source(&tr).expect("same data");
        // writing the same again is a no-op; a different one is refused
        m.write(&out, Some(&tr), Some(&te)).expect("idempotent");
        let other = Manifest::new(m.dataset.clone(), crate::split::whole(tr.class_names(), None));
        let e = other.write(&out, None, None).unwrap_err().to_string();
        assert!(e.contains("different manifest"), "{e}");
        assert_eq!(Manifest::read(&out).expect("still there"), m);
    }

    #[test]
    fn edited_or_foreign_manifests_are_refused() {
        let (_, m) = setup();
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("m.json");
        let mut v = serde_json::to_value(&m).expect("json");
        v["split"]["halves"][0]["classes"][0]["name"] = "edited".into();
        std::fs::write(&p, v.to_string()).expect("write");
        assert!(Manifest::read(&p).unwrap_err().to_string().contains("edited"));
        v["version"] = 99.into();
        std::fs::write(&p, v.to_string()).expect("write");
        assert!(Manifest::read(&p).unwrap_err().to_string().contains("version 99"));
    }

    #[test]
    fn fingerprint_mismatch_is_reported() {
        let (cfg, m) = setup();
        let other = SyntheticConfig { seed: 4, ..cfg }.source(true);
        let e = m.check_source(&other).unwrap_err().to_string();
        assert!(e.contains("fingerprint"), "{e}");
    }
}
