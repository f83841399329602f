//! Image folders (`ROOT/<class>/*.{jpg,jpeg,png}`, ImageNet's training
//! layout) and file lists (`relative/path label` under a root, the authors'
//! format and ILSVRC's validation layout).
//!
//! Classes of a folder are its sub-folders sorted by name, so ILSVRC WNID
//! folders get the authors' label order (`synsets.txt` is sorted too).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::decode::{decode_file, is_image_name};
use crate::error::{Error, Result};
use crate::source::{Image, Source};

/// A labelled list of image files.
#[derive(Debug, Clone)]
pub struct FileSource {
    root: PathBuf,
    kind: &'static str,
    files: Vec<(PathBuf, usize, u64)>,
    names: Vec<String>,
    skip_corrupt: bool,
    skipped: Arc<AtomicUsize>,
}

fn sorted_dir(path: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let mut entries: Vec<_> = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?.collect::<std::io::Result<_>>().map_err(|e| Error::io(path, e))?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

impl FileSource {
    /// Read `root/<class>/*` with classes sorted by folder name.
    pub fn folder(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::data(root, "image folder root does not exist or is not a folder"));
        }
        let mut names = Vec::new();
        let mut files = Vec::new();
        for class_dir in sorted_dir(root)? {
            if !class_dir.file_type().map_err(|e| Error::io(class_dir.path(), e))?.is_dir() {
                continue;
            }
            let label = names.len();
            names.push(class_dir.file_name().to_string_lossy().into_owned());
            let mut count = 0;
            for f in sorted_dir(&class_dir.path())? {
                let name = f.file_name().to_string_lossy().into_owned();
                if is_image_name(&name) {
                    let meta = f.metadata().map_err(|e| Error::io(f.path(), e))?;
                    let rel = f.path().strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| f.path());
                    files.push((rel, label, meta.len()));
                    count += 1;
                }
            }
            if count == 0 {
                return Err(Error::data(class_dir.path(), "class folder holds no .jpg/.jpeg/.png image"));
            }
        }
        if names.is_empty() {
            return Err(Error::data(root, "expected one sub-folder per class, found none"));
        }
        Ok(FileSource { root: root.to_path_buf(), kind: "image-folder", files, names, skip_corrupt: false, skipped: Arc::default() })
    }

    /// Read a file list (`relative/path label` per line) under `root`;
    /// `class_names` gives the label space.
    pub fn file_list(list: &Path, root: &Path, class_names: Vec<String>) -> Result<Self> {
        let text = std::fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
        let mut files = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (rel, label) = line
                .trim()
                .rsplit_once(char::is_whitespace)
                .ok_or_else(|| Error::parse(list, i + 1, format!("expected `relative/path label`, found `{}`", line.trim())))?;
            let label: usize = label.trim().parse().map_err(|_| Error::parse(list, i + 1, format!("expected a whole-number label, found `{label}`")))?;
            if label >= class_names.len() {
                return Err(Error::parse(list, i + 1, format!("label {label} out of range 0..{}", class_names.len())));
            }
            let rel = PathBuf::from(rel.trim());
            let size = std::fs::metadata(root.join(&rel)).map_err(|e| Error::io(root.join(&rel), e))?.len();
            files.push((rel, label, size));
        }
        Ok(FileSource { root: root.to_path_buf(), kind: "file-list", files, names: class_names, skip_corrupt: false, skipped: Arc::default() })
    }

    /// With `skip`, an undecodable image is replaced by the next decodable one
    /// of the list and counted ([`FileSource::skipped`]) instead of failing.
    pub fn skip_corrupt(mut self, skip: bool) -> Self {
        self.skip_corrupt = skip;
        self
    }

    /// How many loads substituted a corrupt image so far.
    pub fn skipped(&self) -> usize {
        self.skipped.load(Ordering::Relaxed)
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `(relative path, label)` of each image, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&Path, usize)> {
        self.files.iter().map(|(p, l, _)| (p.as_path(), *l))
    }
}

impl Source for FileSource {
    fn len(&self) -> usize {
        self.files.len()
    }
    fn class_names(&self) -> &[String] {
        &self.names
    }
    fn label(&self, i: usize) -> usize {
        self.files[i].1
    }
    fn id(&self, i: usize) -> String {
        self.files[i].0.display().to_string()
    }
    fn load(&self, i: usize) -> Result<Image> {
        let first = decode_file(&self.root.join(&self.files[i].0));
        if !self.skip_corrupt || first.is_ok() {
            return first;
        }
        self.skipped.fetch_add(1, Ordering::Relaxed);
        (1..self.files.len())
            .map(|d| (i + d) % self.files.len())
            .find_map(|j| decode_file(&self.root.join(&self.files[j].0)).ok())
            .ok_or(first.err().unwrap_or_else(|| Error::data(&self.root, "no decodable image")))
    }
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for (p, l, size) in &self.files {
            h.update(format!("{}\t{l}\t{size}\n", p.display()));
        }
        format!("{:x}", h.finalize())
    }
    fn describe(&self) -> String {
        format!("{} {}", self.kind, self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, v: u8) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        image::RgbImage::from_pixel(4, 4, image::Rgb([v, v, v])).save(path).expect("png");
    }

    #[test]
    fn folder_and_file_list_agree() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        write_png(&root.join("n02/b.png"), 20);
        write_png(&root.join("n01/a.png"), 10);
        write_png(&root.join("n01/c.png"), 30);
        let folder = FileSource::folder(root).expect("folder");
        assert_eq!(folder.class_names(), ["n01", "n02"]);
        let list = root.join("list.txt");
        std::fs::write(&list, "n01/a.png 0\nn01/c.png 0\nn02/b.png 1\n").expect("write");
        let fl = FileSource::file_list(&list, root, folder.class_names().to_vec()).expect("list");
        assert_eq!(folder.len(), fl.len());
        for i in 0..folder.len() {
            assert_eq!(folder.label(i), fl.label(i));
            assert_eq!(folder.id(i), fl.id(i));
            assert_eq!(folder.load(i).expect("load"), fl.load(i).expect("load"));
        }
        assert_eq!(folder.fingerprint(), fl.fingerprint());
    }

    #[test]
    fn bad_layouts_are_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let e = FileSource::folder(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        std::fs::create_dir_all(dir.path().join("empty_class")).expect("mkdir");
        let e = FileSource::folder(dir.path()).unwrap_err().to_string();
        assert!(e.contains("empty_class") && e.contains("no .jpg"), "{e}");

        let root = tempfile::tempdir().expect("tmp");
        write_png(&root.path().join("x/a.png"), 1);
        let list = root.path().join("l.txt");
        std::fs::write(&list, "x/a.png 0\nx/a.png 7\n").expect("write");
        let e = FileSource::file_list(&list, root.path(), vec!["x".into()]).unwrap_err().to_string();
        assert!(e.contains("l.txt:2") && e.contains("out of range"), "{e}");
    }

    #[test]
    fn corrupt_images_fail_or_are_skipped() {
        let dir = tempfile::tempdir().expect("tmp");
        write_png(&dir.path().join("c/a.png"), 5);
        std::fs::write(dir.path().join("c/b.png"), b"not an image").expect("write");
        let src = FileSource::folder(dir.path()).expect("folder");
        let e = src.load(1).unwrap_err().to_string();
        assert!(e.contains("b.png"), "{e}");
        let src = src.skip_corrupt(true);
        assert_eq!(src.load(1).expect("skipped").pixels[0], 5);
        assert_eq!(src.skipped(), 1, "skips are counted");
    }
}
