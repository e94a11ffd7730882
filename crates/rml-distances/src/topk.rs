//! Fixed-size selection of the k smallest `(key, index)` pairs.
//!
//! Keys are `f64` reduced distances ordered with `total_cmp` (a NaN sorts after +inf, never
//! panics), ties broken by the smaller training index, so the selected set and its order do
//! not depend on the order candidates arrive in (and hence not on the thread count).

use std::cmp::Ordering;

/// Total order on `(key, index)`: key by `total_cmp`, then index.
#[inline(always)]
pub fn cmp_pair(a: (f64, i64), b: (f64, i64)) -> Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// The k smallest `(key, index)` pairs seen so far, kept as a binary max-heap so the current
/// k-th best (the admission threshold) is at the root.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    heap: Vec<(f64, i64)>,
}

impl TopK {
    /// An empty selection of capacity `k` (`k >= 1`).
    pub fn new(k: usize) -> Self {
        TopK { k, heap: Vec::with_capacity(k) }
    }

    /// Forget every candidate (capacity is kept).
    #[inline]
    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// Whether k candidates are held.
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.heap.len() == self.k
    }

    /// A cheap admission bound: a candidate whose key is not `<=` this (and is not NaN) can
    /// be skipped. +inf until full or while the k-th best is NaN; [`TopK::push`] does the
    /// exact `(key, index)` comparison.
    #[inline(always)]
    pub fn threshold(&self) -> f64 {
        if self.is_full() && !self.heap[0].0.is_nan() {
            self.heap[0].0
        } else {
            f64::INFINITY
        }
    }

    /// Offer a candidate; kept if it is among the k smallest so far.
    #[inline]
    pub fn push(&mut self, key: f64, idx: i64) {
        let h = &mut self.heap;
        if h.len() < self.k {
            h.push((key, idx));
            // Sift up.
            let mut i = h.len() - 1;
            while i > 0 {
                let parent = (i - 1) / 2;
                if cmp_pair(h[i], h[parent]) == Ordering::Greater {
                    h.swap(i, parent);
                    i = parent;
                } else {
                    break;
                }
            }
            return;
        }
        if cmp_pair((key, idx), h[0]) != Ordering::Less {
            return;
        }
        h[0] = (key, idx);
        // Sift down.
        let n = h.len();
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let mut big = l;
            if r < n && cmp_pair(h[r], h[l]) == Ordering::Greater {
                big = r;
            }
            if cmp_pair(h[big], h[i]) == Ordering::Greater {
                h.swap(big, i);
                i = big;
            } else {
                break;
            }
        }
    }

    /// The held pairs sorted ascending by `(key, index)`; the selection is left empty.
    pub fn drain_sorted(&mut self, out: &mut Vec<(f64, i64)>) {
        out.clear();
        out.extend_from_slice(&self.heap);
        out.sort_unstable_by(|a, b| cmp_pair(*a, *b));
        self.heap.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_k_smallest_with_index_ties() {
        let mut t = TopK::new(3);
        for (i, key) in [5.0, 1.0, 3.0, 1.0, f64::NAN, 0.5, 3.0, f64::INFINITY].iter().enumerate() {
            t.push(*key, i as i64);
        }
        let mut out = Vec::new();
        t.drain_sorted(&mut out);
        assert_eq!(out, vec![(0.5, 5), (1.0, 1), (1.0, 3)]);
    }

    #[test]
    fn order_of_arrival_does_not_matter() {
        let keys = [2.0, 2.0, 1.0, 2.0, 0.0, 2.0];
        let mut a = TopK::new(3);
        let mut b = TopK::new(3);
        for i in 0..keys.len() {
            a.push(keys[i], i as i64);
            let j = keys.len() - 1 - i;
            b.push(keys[j], j as i64);
        }
        let (mut oa, mut ob) = (Vec::new(), Vec::new());
        a.drain_sorted(&mut oa);
        b.drain_sorted(&mut ob);
        assert_eq!(oa, ob);
        assert_eq!(oa, vec![(0.0, 4), (1.0, 2), (2.0, 0)]);
    }

    #[test]
    fn nan_sorts_last() {
        let mut t = TopK::new(2);
        t.push(f64::NAN, 0);
        t.push(f64::INFINITY, 1);
        t.push(1.0, 2);
        let mut out = Vec::new();
        t.drain_sorted(&mut out);
        assert_eq!(out, vec![(1.0, 2), (f64::INFINITY, 1)]);
    }
}
