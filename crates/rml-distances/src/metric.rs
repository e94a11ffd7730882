//! The metrics rml supports, their row kernels, and the "reduced distance" each search
//! ranks by (squared euclidean, p-th power for Minkowski), which is monotone in the true
//! distance and cheaper to compute.

use rml_core::{Float, RmlError, RmlResult};

/// A distance metric between two rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// L2 distance.
    Euclidean,
    /// Squared L2 distance (also the reduced distance of `Euclidean`).
    SqEuclidean,
    /// L1 distance ("manhattan", "cityblock", "l1").
    Manhattan,
    /// L-infinity distance.
    Chebyshev,
    /// Minkowski distance with finite `p >= 1` (p = 1, 2 are better served by the variants
    /// above; [`Metric::parse`] maps them).
    Minkowski(f64),
    /// `1 - cos(a, b)`; a zero row has cosine distance 1 to everything, as in scikit-learn.
    /// Brute force only.
    Cosine,
}

impl Metric {
    /// Parse a scikit-learn metric name. `p` is used by "minkowski" only; p = 1, 2 and inf
    /// become Manhattan, Euclidean and Chebyshev.
    pub fn parse(name: &str, p: f64) -> RmlResult<Metric> {
        Ok(match name {
            "euclidean" | "l2" => Metric::Euclidean,
            "sqeuclidean" => Metric::SqEuclidean,
            "manhattan" | "cityblock" | "l1" => Metric::Manhattan,
            "chebyshev" | "infinity" => Metric::Chebyshev,
            "cosine" => Metric::Cosine,
            "minkowski" => {
                if !(p >= 1.0) {
                    return Err(RmlError::InvalidParameter(format!(
                        "p must be >= 1 for the minkowski metric, got {p}"
                    )));
                }
                if p == 1.0 {
                    Metric::Manhattan
                } else if p == 2.0 {
                    Metric::Euclidean
                } else if p.is_infinite() {
                    Metric::Chebyshev
                } else {
                    Metric::Minkowski(p)
                }
            }
            other => {
                return Err(RmlError::InvalidParameter(format!(
                    "unsupported metric {other:?}"
                )))
            }
        })
    }

    /// Whether a KD-tree can serve this metric (every Minkowski-family metric can).
    pub fn is_minkowski_family(&self) -> bool {
        !matches!(self, Metric::Cosine)
    }

    /// True distance between two rows of equal length.
    #[inline]
    pub fn dist<F: Float>(&self, a: &[F], b: &[F]) -> F {
        self.rdist_to_dist(self.rdist(a, b))
    }

    /// Reduced distance: a monotone transform of [`Metric::dist`] that skips the final root
    /// (squared L2 for Euclidean, sum of |d|^p for Minkowski, the distance itself otherwise).
    #[inline]
    pub fn rdist<F: Float>(&self, a: &[F], b: &[F]) -> F {
        debug_assert_eq!(a.len(), b.len());
        match *self {
            Metric::Euclidean | Metric::SqEuclidean => {
                let mut s = F::zero();
                for (&x, &y) in a.iter().zip(b) {
                    let d = x - y;
                    s = s + d * d;
                }
                s
            }
            Metric::Manhattan => {
                let mut s = F::zero();
                for (&x, &y) in a.iter().zip(b) {
                    s = s + (x - y).abs();
                }
                s
            }
            Metric::Chebyshev => {
                let mut m = F::zero();
                for (&x, &y) in a.iter().zip(b) {
                    let d = (x - y).abs();
                    // NaN-propagating max so a NaN distance is never silently dropped.
                    if d > m || d.is_nan() {
                        m = d;
                    }
                }
                m
            }
            Metric::Minkowski(p) => {
                let p = F::from_f64(p);
                let mut s = F::zero();
                for (&x, &y) in a.iter().zip(b) {
                    s = s + (x - y).abs().powf(p);
                }
                s
            }
            Metric::Cosine => {
                let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
                for (&x, &y) in a.iter().zip(b) {
                    let (x, y) = (x.as_f64(), y.as_f64());
                    dot += x * y;
                    na += x * x;
                    nb += y * y;
                }
                let denom = na.sqrt() * nb.sqrt();
                let cos = if denom > 0.0 { dot / denom } else { 0.0 };
                F::from_f64(1.0 - cos)
            }
        }
    }

    /// Reduced distance -> true distance.
    #[inline]
    pub fn rdist_to_dist<F: Float>(&self, r: F) -> F {
        match *self {
            Metric::Euclidean => r.sqrt(),
            Metric::Minkowski(p) => r.powf(F::from_f64(1.0 / p)),
            _ => r,
        }
    }

    /// True distance -> reduced distance (used to turn a radius into a reduced bound).
    #[inline]
    pub fn dist_to_rdist<F: Float>(&self, d: F) -> F {
        match *self {
            Metric::Euclidean => d * d,
            Metric::Minkowski(p) => d.powf(F::from_f64(p)),
            _ => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_maps_minkowski_special_cases() {
        assert_eq!(Metric::parse("minkowski", 2.0).unwrap(), Metric::Euclidean);
        assert_eq!(Metric::parse("minkowski", 1.0).unwrap(), Metric::Manhattan);
        assert_eq!(
            Metric::parse("minkowski", f64::INFINITY).unwrap(),
            Metric::Chebyshev
        );
        assert_eq!(
            Metric::parse("minkowski", 3.0).unwrap(),
            Metric::Minkowski(3.0)
        );
        assert!(Metric::parse("minkowski", 0.5).is_err());
        assert!(Metric::parse("minkowski", f64::NAN).is_err());
        assert!(Metric::parse("haversine", 2.0).is_err());
    }

    #[test]
    fn known_distances() {
        let a = [0.0f64, 0.0];
        let b = [3.0f64, 4.0];
        assert_eq!(Metric::Euclidean.dist(&a, &b), 5.0);
        assert_eq!(Metric::SqEuclidean.dist(&a, &b), 25.0);
        assert_eq!(Metric::Manhattan.dist(&a, &b), 7.0);
        assert_eq!(Metric::Chebyshev.dist(&a, &b), 4.0);
        assert!((Metric::Minkowski(3.0).dist(&a, &b) - (91.0f64).powf(1.0 / 3.0)).abs() < 1e-12);
        assert!((Metric::Cosine.dist(&[1.0f64, 0.0], &[0.0, 2.0]) - 1.0).abs() < 1e-12);
        assert!(Metric::Cosine.dist(&[1.0f32, 1.0], &[2.0, 2.0]).abs() < 1e-6);
    }
}
