//! A validation set carved from the training images: the images the
//! schedule finder's pilot is judged on, and that no network of a grid with
//! a found schedule trains on (so the pilot is an ordinary job of its grid,
//! and the test set is never used to choose anything).
//!
//! The carve is the data set's, not a split's: of each class's training
//! images, the `fraction` whose ids hash lowest (FNV-1a, 64 bits) are held
//! out, at least one of a class with two or more. It depends on the ids
//! alone, not on their order, a split or a seed, so every network of a grid
//! (the halves' and the whole set's) leaves out the same images, and a
//! folder listed in another order carves the same set.

use crate::source::Source;

/// FNV-1a of a string (64 bits): a stable, dependency-free hash of an id.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Which images of `train` are held out for validation: `fraction` of each
/// class (rounded up; at least one of a class with two or more images,
/// none of a class with one), the lowest by the hash of their ids, ties
/// broken by index. `fraction` is clamped to [0, 0.5].
pub fn held_out(train: &dyn Source, fraction: f64) -> Vec<bool> {
    let fraction = fraction.clamp(0.0, 0.5);
    let classes = train.class_names().len();
    let mut by_class: Vec<Vec<(u64, usize)>> = vec![Vec::new(); classes];
    for i in 0..train.len() {
        by_class[train.label(i)].push((fnv1a(&train.id(i)), i));
    }
    let mut out = vec![false; train.len()];
    for mut members in by_class {
        let n = members.len();
        let k = if n < 2 || fraction == 0.0 { 0 } else { ((n as f64 * fraction).ceil() as usize).clamp(1, n - 1) };
        members.sort_unstable();
        for &(_, i) in &members[..k] {
            out[i] = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{SyntheticConfig, SyntheticSource};

    fn data() -> SyntheticSource {
        SyntheticConfig { classes: 4, train_per_class: 40, test_per_class: 2, size: 8, seed: 3, ..Default::default() }.source(true)
    }

    /// A tenth of each class, rounded up, and never all of it.
    #[test]
    fn a_fraction_of_each_class_is_held_out() {
        let d = data();
        let held = held_out(&d, 0.1);
        for c in 0..4 {
            let n = (0..d.len()).filter(|&i| d.label(i) == c && held[i]).count();
            assert_eq!(n, 4, "class {c}");
        }
        assert!(held_out(&d, 0.0).iter().all(|&h| !h));
        let most = held_out(&d, 0.9);
        assert_eq!(most.iter().filter(|&&h| h).count(), 4 * 20, "clamped to half");
    }

    /// The carve follows the ids, not their order: the same ids listed in
    /// reverse hold out the same images.
    #[test]
    fn the_carve_depends_on_the_ids_not_their_order() {
        struct Reversed(SyntheticSource);
        impl Source for Reversed {
            fn len(&self) -> usize {
                self.0.len()
            }
            fn class_names(&self) -> &[String] {
                self.0.class_names()
            }
            fn label(&self, i: usize) -> usize {
                self.0.label(self.0.len() - 1 - i)
            }
            fn id(&self, i: usize) -> String {
                self.0.id(self.0.len() - 1 - i)
            }
            fn load(&self, i: usize) -> crate::Result<crate::Image> {
                self.0.load(self.0.len() - 1 - i)
            }
            fn fingerprint(&self) -> String {
                self.0.fingerprint()
            }
            fn describe(&self) -> String {
                self.0.describe()
            }
        }
        let d = data();
        let n = d.len();
        let forward = held_out(&d, 0.1);
        let backward = held_out(&Reversed(data()), 0.1);
        let ids = |held: &[bool], id: &dyn Fn(usize) -> String| {
            let mut v: Vec<String> = (0..n).filter(|&i| held[i]).map(id).collect();
            v.sort();
            v
        };
        assert_eq!(ids(&forward, &|i| d.id(i)), ids(&backward, &|i| d.id(n - 1 - i)));
        // and it is not simply the first or last images of a class
        assert!(forward[..n / 2].iter().any(|&h| h) || forward[n / 2..].iter().any(|&h| h));
    }
}
