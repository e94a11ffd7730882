//! Reduced distances from a query to a point and to an axis-aligned box, one type per
//! Minkowski-family metric so the hot loops are monomorphised (no `match` per element).
//!
//! Consistency guarantee the search relies on: for any point `p` inside the box `[lo, hi]`,
//! `min_rdist(q, lo, hi) <= rdist(q, p) <= max_rdist(q, lo, hi)` holds *in floating point*,
//! not only in exact arithmetic. Each bound is built from the same operations as `rdist`
//! (per-dimension difference, then the same power, summed in the same dimension order), and
//! IEEE subtraction, multiplication, `powf` and addition are monotone, so a larger
//! per-dimension gap can never round to a smaller sum. This is what makes pruning with `>`
//! (never pruning a node whose bound equals the current k-th distance) exact, including ties.

use rml_core::Float;

/// Reduced distance of one metric to points and boxes.
pub(crate) trait BoxDist<F: Float>: Copy + Send + Sync {
    /// Reduced distance between a query and a point (rows of equal length).
    fn rdist(&self, q: &[F], p: &[F]) -> F;
    /// Lower bound of `rdist(q, p)` over every `p` in the box `[lo, hi]`.
    fn min_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F;
    /// Upper bound of `rdist(q, p)` over every `p` in the box `[lo, hi]`.
    fn max_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F;
}

/// Distance from `x` to the interval `[lo, hi]` (0 inside). NaN-safe: never panics.
#[inline(always)]
fn gap<F: Float>(x: F, lo: F, hi: F) -> F {
    let below = lo - x;
    let above = x - hi;
    if below > F::zero() {
        below
    } else if above > F::zero() {
        above
    } else {
        F::zero()
    }
}

/// Distance from `x` to the farthest end of `[lo, hi]`.
#[inline(always)]
fn far<F: Float>(x: F, lo: F, hi: F) -> F {
    let a = (x - lo).abs();
    let b = (x - hi).abs();
    if a > b {
        a
    } else {
        b
    }
}

/// Squared euclidean (the reduced distance of "euclidean" and the distance of "sqeuclidean").
#[derive(Clone, Copy)]
pub(crate) struct L2;

/// Manhattan / cityblock / l1.
#[derive(Clone, Copy)]
pub(crate) struct L1;

/// Chebyshev / infinity.
#[derive(Clone, Copy)]
pub(crate) struct LInf;

/// Minkowski with finite `p >= 1`: the reduced distance is `sum |d|^p`.
#[derive(Clone, Copy)]
pub(crate) struct Lp<F> {
    pub p: F,
}

impl<F: Float> BoxDist<F> for L2 {
    #[inline(always)]
    fn rdist(&self, q: &[F], p: &[F]) -> F {
        let n = q.len().min(p.len());
        let (q, p) = (&q[..n], &p[..n]);
        let mut s = F::zero();
        for j in 0..n {
            let d = q[j] - p[j];
            s = s + d * d;
        }
        s
    }
    #[inline(always)]
    fn min_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F {
        let mut s = F::zero();
        for ((&x, &l), &h) in q.iter().zip(lo).zip(hi) {
            let g = gap(x, l, h);
            s = s + g * g;
        }
        s
    }
    #[inline(always)]
    fn max_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F {
        let mut s = F::zero();
        for ((&x, &l), &h) in q.iter().zip(lo).zip(hi) {
            let g = far(x, l, h);
            s = s + g * g;
        }
        s
    }
}

impl<F: Float> BoxDist<F> for L1 {
    #[inline(always)]
    fn rdist(&self, q: &[F], p: &[F]) -> F {
        let n = q.len().min(p.len());
        let (q, p) = (&q[..n], &p[..n]);
        let mut s = F::zero();
        for j in 0..n {
            s = s + (q[j] - p[j]).abs();
        }
        s
    }
    #[inline(always)]
    fn min_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F {
        let mut s = F::zero();
        for ((&x, &l), &h) in q.iter().zip(lo).zip(hi) {
            s = s + gap(x, l, h);
        }
        s
    }
    #[inline(always)]
    fn max_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F {
        let mut s = F::zero();
        for ((&x, &l), &h) in q.iter().zip(lo).zip(hi) {
            s = s + far(x, l, h);
        }
        s
    }
}

impl<F: Float> BoxDist<F> for LInf {
    #[inline(always)]
    fn rdist(&self, q: &[F], p: &[F]) -> F {
        let mut m = F::zero();
        for (&x, &y) in q.iter().zip(p) {
            let d = (x - y).abs();
            if d > m {
                m = d;
            }
        }
        m
    }
    #[inline(always)]
    fn min_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F {
        let mut m = F::zero();
        for ((&x, &l), &h) in q.iter().zip(lo).zip(hi) {
            let g = gap(x, l, h);
            if g > m {
                m = g;
            }
        }
        m
    }
    #[inline(always)]
    fn max_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F {
        let mut m = F::zero();
        for ((&x, &l), &h) in q.iter().zip(lo).zip(hi) {
            let g = far(x, l, h);
            if g > m {
                m = g;
            }
        }
        m
    }
}

impl<F: Float> BoxDist<F> for Lp<F> {
    #[inline(always)]
    fn rdist(&self, q: &[F], p: &[F]) -> F {
        let mut s = F::zero();
        for (&x, &y) in q.iter().zip(p) {
            s = s + (x - y).abs().powf(self.p);
        }
        s
    }
    #[inline(always)]
    fn min_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F {
        let mut s = F::zero();
        for ((&x, &l), &h) in q.iter().zip(lo).zip(hi) {
            s = s + gap(x, l, h).powf(self.p);
        }
        s
    }
    #[inline(always)]
    fn max_rdist(&self, q: &[F], lo: &[F], hi: &[F]) -> F {
        let mut s = F::zero();
        for ((&x, &l), &h) in q.iter().zip(lo).zip(hi) {
            s = s + far(x, l, h).powf(self.p);
        }
        s
    }
}

/// Total order on `F` (IEEE totalOrder through the exact widening to f64): sorts never panic
/// and NaN has a fixed place.
#[inline(always)]
pub(crate) fn total_cmp<F: Float>(a: F, b: F) -> std::cmp::Ordering {
    a.as_f64().total_cmp(&b.as_f64())
}
