//! Exact ("direct") reduced distances between two rows, accumulated in `f64` whatever the
//! input dtype, so float32 results are as accurate as float64 ones. These values are the keys
//! every brute-force search ranks by, and the distances it returns.

use crate::Metric;
use rml_core::Float;

/// Per-row data a metric needs besides the row itself (cosine: the row's L2 norm).
#[inline]
pub fn row_norm<F: Float>(a: &[F]) -> f64 {
    let mut s = 0.0f64;
    for &x in a {
        let x = x.as_f64();
        s += x * x;
    }
    s.sqrt()
}

/// Exact reduced distance (squared L2 for Euclidean, sum |d|^p for Minkowski, the distance
/// itself otherwise) in `f64`. `na`, `nb` are the rows' L2 norms, used by cosine only.
/// Cosine distance is clipped to `[0, 2]` as scikit-learn's `cosine_distances` does.
#[inline]
pub fn exact_rdist<F: Float>(metric: Metric, a: &[F], b: &[F], na: f64, nb: f64) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    match metric {
        Metric::Euclidean | Metric::SqEuclidean => sq_l2(a, b),
        Metric::Manhattan => {
            let mut s = [0.0f64; 4];
            let mut ca = a.chunks_exact(4);
            let mut cb = b.chunks_exact(4);
            for (x, y) in (&mut ca).zip(&mut cb) {
                for l in 0..4 {
                    s[l] += (x[l].as_f64() - y[l].as_f64()).abs();
                }
            }
            let mut t = (s[0] + s[1]) + (s[2] + s[3]);
            for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
                t += (x.as_f64() - y.as_f64()).abs();
            }
            t
        }
        Metric::Chebyshev => {
            let mut m = 0.0f64;
            for (&x, &y) in a.iter().zip(b) {
                let d = (x.as_f64() - y.as_f64()).abs();
                // NaN-propagating max: a NaN distance is never silently dropped.
                if d > m || d.is_nan() {
                    m = d;
                }
            }
            m
        }
        Metric::Minkowski(p) => {
            let mut s = 0.0f64;
            for (&x, &y) in a.iter().zip(b) {
                s += (x.as_f64() - y.as_f64()).abs().powf(p);
            }
            s
        }
        Metric::Cosine => {
            let mut dot = 0.0f64;
            for (&x, &y) in a.iter().zip(b) {
                dot += x.as_f64() * y.as_f64();
            }
            let denom = na * nb;
            let cos = if denom > 0.0 { dot / denom } else { 0.0 };
            let d = 1.0 - cos;
            // clamp keeps NaN as NaN (total_cmp sorts it last).
            if d < 0.0 {
                0.0
            } else if d > 2.0 {
                2.0
            } else {
                d
            }
        }
    }
}

/// Squared L2 distance accumulated in `f64` with four independent partial sums (vectorises;
/// the summation order is fixed, so the value is deterministic).
#[inline]
pub fn sq_l2<F: Float>(a: &[F], b: &[F]) -> f64 {
    let mut s = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..4 {
            let d = x[l].as_f64() - y[l].as_f64();
            s[l] += d * d;
        }
    }
    let mut t = (s[0] + s[1]) + (s[2] + s[3]);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        let d = x.as_f64() - y.as_f64();
        t += d * d;
    }
    t
}

/// The true distance of an exact reduced distance, in the output dtype.
#[inline]
pub fn key_to_dist<F: Float>(metric: Metric, key: f64) -> F {
    F::from_f64(metric.rdist_to_dist(key))
}
