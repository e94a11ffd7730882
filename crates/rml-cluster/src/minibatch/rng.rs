//! numpy's legacy `RandomState` stream (MT19937), reproduced bit for bit.
//!
//! scikit-learn's `MiniBatchKMeans` draws its mini-batches and its reassignment choices from a
//! `numpy.random.RandomState`. To follow the same sample stream without a Python round trip per
//! step, the fit takes the generator's state (`get_state()`: 624 key words and a position),
//! advances it here exactly as numpy would, and hands the final state back so Python can
//! `set_state()` it. Only the few draws MiniBatchKMeans makes are implemented:
//! `random_sample` (53-bit doubles), `random_interval` (masked rejection, used by `shuffle`)
//! and `permutation(n)[:size]` (which is what `choice(n, size, replace=False)` does).

use rml_core::{RmlError, RmlResult};

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// The state of a numpy `RandomState` (`MT19937` bit generator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyMt {
    key: Vec<u32>,
    pos: usize,
}

impl LegacyMt {
    /// From `RandomState.get_state()[1]` and `[2]`: 624 key words and a position in 0..=624.
    pub fn from_state(key: &[u32], pos: usize) -> RmlResult<Self> {
        if key.len() != N || pos > N {
            return Err(RmlError::InvalidInput(format!(
                "MT19937 state must have {N} key words and a position <= {N}, got {} and {pos}",
                key.len()
            )));
        }
        Ok(Self { key: key.to_vec(), pos })
    }

    /// `RandomState(seed)` for a 32-bit seed (numpy's legacy `init_genrand`).
    pub fn seed(seed: u32) -> Self {
        let mut key = vec![0u32; N];
        key[0] = seed;
        for i in 1..N {
            let prev = key[i - 1];
            key[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Self { key, pos: N }
    }

    /// The key words, for `RandomState.set_state`.
    pub fn key(&self) -> &[u32] {
        &self.key
    }

    /// The position, for `RandomState.set_state`.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn generate(&mut self) {
        let k = &mut self.key;
        let mix = |a: u32, b: u32, c: u32| {
            let y = (a & UPPER_MASK) | (b & LOWER_MASK);
            c ^ (y >> 1) ^ (0u32.wrapping_sub(y & 1) & MATRIX_A)
        };
        for i in 0..N - M {
            k[i] = mix(k[i], k[i + 1], k[i + M]);
        }
        for i in N - M..N - 1 {
            k[i] = mix(k[i], k[i + 1], k[i + M - N]);
        }
        k[N - 1] = mix(k[N - 1], k[0], k[M - 1]);
        self.pos = 0;
    }

    /// Next 32-bit output.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.generate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        (hi << 32) | self.next_u32() as u64
    }

    /// `RandomState.random_sample()`: a double in [0, 1) from two 32-bit outputs.
    #[inline]
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// numpy's `random_interval(max)`: uniform in 0..=max by masked rejection.
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        mask |= mask >> 32;
        if max <= 0xffff_ffff {
            loop {
                let v = (self.next_u32() as u64) & mask;
                if v <= max {
                    return v;
                }
            }
        } else {
            loop {
                let v = self.next_u64() & mask;
                if v <= max {
                    return v;
                }
            }
        }
    }

    /// `RandomState.permutation(n)`: `arange(n)` shuffled by numpy's legacy Fisher-Yates.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.random_interval(i as u64) as usize;
            v.swap(i, j);
        }
        v
    }

    /// `RandomState.choice(n, size, replace=False)` (no `p`): `permutation(n)[:size]`.
    pub fn choice_without_replacement(&mut self, n: usize, size: usize) -> RmlResult<Vec<usize>> {
        if size > n {
            return Err(RmlError::InvalidInput(
                "Cannot take a larger sample than population when 'replace=False'".into(),
            ));
        }
        let mut p = self.permutation(n);
        p.truncate(size);
        Ok(p)
    }
}

/// `cdf.searchsorted(u, side='right')`: the first index whose cdf value is > u, clamped to the
/// last index like numpy's `choice` (which never returns `len(cdf)` since `cdf[-1] == 1 > u`).
/// `guess` starts a galloping search near where a uniform-weight cdf would put `u`, so a draw
/// costs O(log distance) instead of O(log n) cache misses; the answer does not depend on it.
#[inline]
pub fn searchsorted_right(cdf: &[f64], u: f64) -> usize {
    let n = cdf.len();
    if n == 0 {
        return 0;
    }
    let guess = ((u * n as f64) as usize).min(n - 1);
    // Find lo < hi with cdf[lo] <= u (or lo == -1) and cdf[hi] > u (or hi == n).
    let (mut lo, mut hi): (isize, isize);
    if cdf[guess] > u {
        hi = guess as isize;
        let mut step = 1isize;
        lo = hi - 1;
        while lo >= 0 && cdf[lo as usize] > u {
            hi = lo;
            lo -= step;
            step *= 2;
        }
        if lo < -1 {
            lo = -1;
        }
    } else {
        lo = guess as isize;
        let mut step = 1isize;
        hi = lo + 1;
        while (hi as usize) < n && cdf[hi as usize] <= u {
            lo = hi;
            hi += step;
            step *= 2;
        }
        if hi > n as isize {
            hi = n as isize;
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if cdf[mid as usize] > u {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (hi as usize).min(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by numpy 2.4: RandomState(5).random_sample(4), then
    // .permutation(20), .permutation(3000)[:6], .random_sample(2) from the same generator.
    #[test]
    fn matches_numpy_legacy_stream() {
        let mut r = LegacyMt::seed(5);
        let want = [0.22199317108973948, 0.8707323061773764, 0.20671915533942642, 0.9186109079379216];
        for w in want {
            assert_eq!(r.random_sample(), w);
        }
        assert_eq!(
            r.permutation(20),
            vec![6, 19, 2, 11, 9, 10, 18, 3, 15, 13, 5, 1, 12, 17, 0, 14, 16, 7, 4, 8]
        );
        assert_eq!(r.choice_without_replacement(3000, 6).unwrap(), vec![1441, 1167, 2264, 1619, 394, 1064]);
        assert_eq!(r.random_sample(), 0.4786790918781204);
        assert_eq!(r.random_sample(), 0.4775902124792084);
    }

    #[test]
    fn bad_state_is_an_error() {
        assert!(LegacyMt::from_state(&[0u32; 3], 0).is_err());
        assert!(LegacyMt::from_state(&[0u32; 624], 625).is_err());
        assert!(LegacyMt::seed(1).choice_without_replacement(3, 4).is_err());
    }

    #[test]
    fn searchsorted_matches_binary_search() {
        let mut cdf: Vec<f64> = Vec::new();
        let mut acc = 0.0;
        let mut r = LegacyMt::seed(1);
        for i in 0..1000 {
            acc += if i % 7 == 0 { 0.0 } else { r.random_sample() * (1 + i % 13) as f64 };
            cdf.push(acc);
        }
        let last = *cdf.last().unwrap();
        for v in cdf.iter_mut() {
            *v /= last;
        }
        for _ in 0..5000 {
            let u = r.random_sample();
            let want = cdf.partition_point(|&c| c <= u).min(cdf.len() - 1);
            assert_eq!(searchsorted_right(&cdf, u), want);
        }
        for &u in &[0.0, cdf[10], cdf[500], 1.0 - 1e-17] {
            let want = cdf.partition_point(|&c| c <= u).min(cdf.len() - 1);
            assert_eq!(searchsorted_right(&cdf, u), want);
        }
    }
}
