//! numpy's legacy `RandomState`, bit for bit, as far as the authors' split
//! script needs it: MT19937 seeded through `init_by_array` (numpy does this
//! when the seed is a list, `RandomState([s])`) and `permutation(n)`.
//!
//! `make_reduced_dataset.py` in the authors' repository drew each random half
//! as `choice(arange(1000), 500, replace=False)`, which in the legacy
//! generator is the first 500 entries of `permutation(1000)`.

const N: usize = 624;
const M: usize = 397;

/// The Mersenne Twister MT19937 as seeded by numpy's legacy `RandomState`.
#[derive(Clone)]
pub struct Mt19937 {
    mt: [u32; N],
    pos: usize,
}

impl Mt19937 {
    fn init_genrand(seed: u32) -> Self {
        let mut mt = [0u32; N];
        mt[0] = seed;
        for i in 1..N {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { mt, pos: N }
    }

    /// `init_by_array(key)`: what `numpy.random.RandomState([k0, k1, ..])` does.
    pub fn init_by_array(key: &[u32]) -> Self {
        let mut s = Self::init_genrand(19_650_218);
        let mt = &mut s.mt;
        let (mut i, mut j) = (1usize, 0usize);
        let len = key.len().max(1);
        for _ in 0..N.max(len) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525)).wrapping_add(key.get(j).copied().unwrap_or(0)).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        s
    }

    fn generate(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        let mt = &mut self.mt;
        for k in 0..N {
            let y = (mt[k] & UPPER) | (mt[(k + 1) % N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            mt[k] = mt[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.pos = 0;
    }

    /// The next tempered 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.generate();
        }
        let mut y = self.mt[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// numpy's `random_interval(max)`: uniform on `0..=max` by masked rejection.
    pub fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16] {
            mask |= mask >> shift;
        }
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.permutation(n)`: Fisher–Yates from the top index down.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u32) as usize;
            v.swap(i, j);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_mt19937_stream() {
        // The reference implementation's published check: init_by_array
        // {0x123, 0x234, 0x345, 0x456} gives 1067595299 955945823 477289528 ...
        let mut r = Mt19937::init_by_array(&[0x123, 0x234, 0x345, 0x456]);
        let got: Vec<u32> = (0..5).map(|_| r.next_u32()).collect();
        assert_eq!(got, vec![1067595299, 955945823, 477289528, 4107218783, 4228976476]);
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut r = Mt19937::init_by_array(&[3]);
        let mut p = r.permutation(257);
        p.sort_unstable();
        assert_eq!(p, (0..257).collect::<Vec<_>>());
    }
}
