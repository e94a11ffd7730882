//! Hamerly's bounds for the 2-means passes of a bisection, certified against the kernel's own
//! rounding (the k = 2 case of `kmeans/hamerly.rs`).
//!
//! Per row `t` of the split, two `f64` numbers: `u_t ≥ ||v_t − c_a||` (its own centre
//! `a = label_t`) and `l_t ≤ ||v_t − c_{1−a}||` (the other centre), where `v_t = fl(x_t − mu)`
//! is the centred row **as the kernel computes it** (the same rounded values every pass, so
//! it is the data point of the proof). When the centres move by `δ_0, δ_1` (the shifts the
//! split loop computes), `u += δ_a` and `l −= δ_{1−a}` keep them valid (triangle
//! inequality).
//!
//! The kernel (`two.rs`) scores a centre as `s_j = fma(−2, v·c_j, ||c_j||²)` (a sequential
//! FMA chain for the dot product, a sequential sum of squares for the norm; for
//! `d <= SMALL_D` separately rounded multiply-adds: the same bound holds) and labels the row 1
//! iff `s_1 < s_0`. Every computed score is within
//! `E = (d + 4) ε (||v|| + max_j ||c_j||)² + (d + 4) m` of the exact `||v − c_j||² − ||v||²`
//! (`ε` the machine epsilon of the input dtype, `m` its smallest normal number, which covers
//! gradual underflow). So `l² − u² > 2E` proves `s_a < s_{1−a}` **strictly**, and the kernel
//! returns `a` whatever the tie rule: a certified row keeps the label a dense pass would give
//! it, bit for bit. Near-ties are never certified.
//!
//! The bounds are (re)built from a scored row's two scores and `||v||²` with `2E` of slack,
//! and the shifts are inflated by their own rounding, so they bound the exact distances
//! whatever the rounding. Nothing is certified when the kernel could overflow
//! (`4 (||v|| + ||c||)²` beyond the dtype's range), and a row whose scores are not finite gets
//! bounds that never certify.

use rml_core::{Float, RmlResult};

/// Relative slack for one `f64` operation on a bound (a few ulps, generously).
pub(crate) const ULPS: f64 = 1e-14;

/// The bounds of every row of a split, reused by its runs: `upper[t] = u_t` then
/// `lower[t] = l_t` (separate halves so that the per-row loops vectorise).
pub(crate) struct Bounds {
    /// `2 m` values: the `m` upper bounds, then the `m` lower bounds.
    ul: Vec<f64>,
    /// An upper bound on every `||v_t||²` of the current run (set by its first pass, which
    /// scores every row).
    pub(crate) x2_max: f64,
}

impl Bounds {
    /// Bounds for `m` rows: `16 m` bytes.
    pub(crate) fn new(m: usize) -> RmlResult<Self> {
        let ul = rml_core::size::try_zeroed_vec::<f64>(m, 2, "bounds of the rows of a bisection")?;
        Ok(Self { ul, x2_max: 0.0 })
    }

    /// The upper and lower bounds of the first `m` rows.
    pub(crate) fn halves(&mut self, m: usize) -> (&mut [f64], &mut [f64]) {
        let half = self.ul.len() / 2;
        let (u, l) = self.ul.split_at_mut(half);
        (&mut u[..m], &mut l[..m])
    }
}

/// What a pass needs to update, test and rebuild the bounds of its rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Certifier {
    /// Whether every row has bounds (relative to the previous centres) and the shifts are
    /// known; otherwise every row is scored.
    pub(crate) primed: bool,
    /// Shift of centre 0 and 1 since the previous pass, inflated by its rounding.
    shift: [f64; 2],
    /// `2E` for the largest row norm (`+inf`: certify nothing).
    two_e_max: f64,
    /// `2 (d + 4) ε`.
    rel2: f64,
    /// `(d + 4) m`.
    abs: f64,
    /// An upper bound on both centres' squared norms.
    c2_max: f64,
    /// `1 + (d + 2) ε_64`: inflates an `f64` sum of `d` squares to a bound on the exact one.
    norm_up: f64,
}

/// Whether bounds `l` (other centre) and `u` (own centre) prove `s_own < s_other` for scores
/// within `E` of exact (`two_e = 2E > 0`): `l² − u² > 2E`, with slack for its own rounding
/// (`l <= u` gives a product `<= 0`, never certified; so does a NaN).
#[inline(always)]
pub(crate) fn certified(l: f64, u: f64, two_e: f64) -> bool {
    (l - u) * (l + u) * (1.0 - ULPS) > two_e
}

/// Squared norm of a centre (`d` values of the input dtype) in `f64`, rounded up.
fn sq_norm_up<F: Float>(c: &[F]) -> f64 {
    let s: f64 = c.iter().map(|v| v.as_f64() * v.as_f64()).sum();
    s * (1.0 + (c.len() as f64 + 2.0) * f64::EPSILON) * (1.0 + ULPS)
}

impl Certifier {
    /// For a pass with `centers` (`2 × d`, row-major, the values the kernel uses).
    /// `shift`: `||c_j − c_j^prev||` as `kmeans::center_shift` computed it from the previous
    /// pass's centres (whose bounds the rows hold) to `centers`; `None` for a run's first
    /// pass. `x2_max` bounds every row's squared norm (only read when `shift` is given).
    pub(crate) fn new<F: Float>(d: usize, centers: &[F], x2_max: f64, shift: Option<&[F]>) -> Self {
        let eps = F::epsilon().as_f64();
        let rel = (d as f64 + 4.0) * eps;
        let min_pos = F::min_positive_value().as_f64();
        let abs = (d as f64 + 4.0) * min_pos;
        let c2_max = sq_norm_up(&centers[..d]).max(sq_norm_up(&centers[d..2 * d]));
        let norm_up = 1.0 + (d as f64 + 2.0) * f64::EPSILON;
        let mut cert =
            Self { primed: false, shift: [0.0; 2], two_e_max: f64::INFINITY, rel2: 2.0 * rel, abs, c2_max, norm_up };
        if let Some(sh) = shift {
            // center_shift: d rounded differences, squares and sums, then a square root, in
            // the input dtype (relative error below (d + 3) ε / 2), plus what gradual underflow
            // can lose in the d squares.
            let under = ((d as f64 + 1.0) * min_pos).sqrt();
            let inflate = |s: F| s.as_f64() * (1.0 + rel) * (1.0 + ULPS) + under;
            cert.shift = [inflate(sh[0]), inflate(sh[1])];
            cert.primed = cert.shift.iter().all(|s| s.is_finite());
            // The kernel cannot overflow when 4 (||v|| + ||c||)² <= 8 (||v||² + ||c||²) fits
            // the dtype.
            if 8.0 * (x2_max + c2_max) < F::max_value().as_f64() {
                cert.two_e_max = 2.0 * cert.error(x2_max) * (1.0 + 1e-6);
            }
        }
        cert
    }

    /// `E` for a row with `||v||² <= x2`: `(d + 4) ε (||v|| + ||c||)² + (d + 4) m`, using
    /// `(a + b)² <= 2 (a² + b²)`.
    #[inline(always)]
    fn error(&self, x2: f64) -> f64 {
        self.rel2 * (x2 + self.c2_max) + self.abs
    }

    /// Moves the bounds (`upper`, `lower`) of the rows labelled `labels` (0 or 1) by the
    /// shifts; `ok[t]` = 1 when they certify row `t`'s label for the new centres.
    /// Elementwise (vectorises).
    #[inline(always)]
    pub(crate) fn update(&self, labels: &[u8], upper: &mut [f64], lower: &mut [f64], ok: &mut [u8]) {
        let [s0, s1] = self.shift;
        let two_e = self.two_e_max;
        for (((u, l), &lab), c) in upper.iter_mut().zip(lower.iter_mut()).zip(labels).zip(ok.iter_mut()) {
            let one = lab & 1 != 0;
            let (own, other) = if one { (s1, s0) } else { (s0, s1) };
            let nu = (*u + own) * (1.0 + ULPS);
            let nl = *l - other - ULPS * (*l + other);
            // A NaN becomes 0, a valid lower bound.
            let nl = if nl > 0.0 { nl } else { 0.0 };
            *u = nu;
            *l = nl;
            *c = certified(nl, nu, two_e) as u8;
        }
    }

    /// Labels (the kernel's rule: 1 iff `s1 < s0`) and new bounds (`upper`, `lower`) of
    /// scored rows from their scores `s0`, `s1` and `xn2`, an `f64` sum of their `d` squares
    /// (all slices of one length). Elementwise (vectorises).
    #[inline(always)]
    pub(crate) fn settle(&self, s0: &[f64], s1: &[f64], xn2: &[f64], labels: &mut [u8], upper: &mut [f64], lower: &mut [f64]) {
        let n = labels.len();
        let (s0, s1, xn2, upper, lower) = (&s0[..n], &s1[..n], &xn2[..n], &mut upper[..n], &mut lower[..n]);
        for q in 0..n {
            let (a, b, x2) = (s0[q], s1[q], xn2[q]);
            let one = b < a;
            let (best, second) = if one { (b, a) } else { (a, b) };
            let two_e = 2.0 * self.error(self.x2_bound(x2));
            // ||v − c_own||² ≤ ||v||² + s_own + E and ||v − c_other||² ≥ ||v||² + s_other − E
            // (2E each: also covers the rounding of xn2 and of these additions).
            let hi = x2 + best + two_e;
            let lo = x2 + second - two_e;
            let finite = best.is_finite() & second.is_finite() & hi.is_finite() & lo.is_finite();
            let lo = if lo > 0.0 { lo } else { 0.0 };
            let hi = if hi > 0.0 { hi } else { 0.0 };
            labels[q] = one as u8;
            upper[q] = if finite { hi.sqrt() * (1.0 + ULPS) } else { f64::INFINITY };
            lower[q] = if finite { lo.sqrt() * (1.0 - ULPS) } else { 0.0 };
        }
    }

    /// An upper bound on the exact squared norm of rows whose `f64` sums of squares are
    /// at most `xn2_max`.
    #[inline(always)]
    pub(crate) fn x2_bound(&self, xn2_max: f64) -> f64 {
        xn2_max * self.norm_up * (1.0 + ULPS)
    }
}

#[cfg(test)]
mod tests {
    use super::super::two::{self, Pair};
    use super::*;
    use crate::kmeans;
    use ndarray::ArrayView2;

    /// Deterministic pseudo-random numbers in [0, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Rows around `blobs` centres in [-10, 10]^d with uniform noise of half-width `w`.
    fn blobs(n: usize, d: usize, blobs: usize, w: f64, seed: u64) -> Vec<f64> {
        let mut g = Lcg(seed);
        let c: Vec<f64> = (0..blobs * d).map(|_| g.next() * 20.0 - 10.0).collect();
        let mut x = vec![0.0; n * d];
        for i in 0..n {
            let b = (g.next() * blobs as f64) as usize;
            for f in 0..d {
                x[i * d + f] = c[b * d + f] + w * (2.0 * g.next() - 1.0);
            }
        }
        x
    }

    /// Runs the pruned passes by hand on f32 rows (centred on the fly by a non-zero mean)
    /// and checks after every pass that the bounds bound the exact distances of the rounded
    /// centred rows (computed in f64, where they are exact to far below f32's rounding).
    #[test]
    fn bounds_bound_the_exact_distances_across_passes() {
        let (n, d) = (3000usize, 17usize);
        let x: Vec<f32> = blobs(n, d, 5, 3.0, 1).iter().map(|&v| v as f32).collect();
        let mu: Vec<f32> = (0..d).map(|f| 0.25 * f as f32 - 1.0).collect();
        let w: Vec<f32> = (0..n).map(|i| (i % 3) as f32).collect();
        let mut centers: Vec<f32> = [&x[5 * d..6 * d], &x[900 * d..901 * d]].concat();
        for (c, m) in centers.iter_mut().zip(mu.iter().cycle()) {
            *c -= m;
        }
        let mut labels = vec![u8::MAX; n];
        let mut b = Bounds::new(n).unwrap();
        let mut run = two::Running { sums: Vec::new(), weights: [0.0; 2], rows: [0; 2], nonzero: [0; 2], moved: 0.0 };
        let mut shift: Option<Vec<f32>> = None;
        let mut skipped = 0;
        for _ in 0..20 {
            let pair = Pair::new(&centers, &mu, d, two::hw_fma());
            let cert = Certifier::new::<f32>(d, &centers, b.x2_max, shift.as_deref());
            let (_changed, st) = two::iterate_incr(&x, d, &w, &pair, &cert, &mut labels, &mut b, &mut run);
            let (sums, weights) = (run.sums.clone(), run.weights);
            if !cert.primed {
                b.x2_max = cert.x2_bound(st.xn2_max);
            }
            skipped += n - st.scored;
            let x2_max = b.x2_max;
            let (up, lo) = b.halves(n);
            for t in 0..n {
                let dist = |j: usize| {
                    (0..d)
                        .map(|f| ((x[t * d + f] - mu[f]) as f64 - centers[j * d + f] as f64).powi(2))
                        .sum::<f64>()
                        .sqrt()
                };
                let a = labels[t] as usize;
                assert!(up[t] >= dist(a), "row {t}: upper {} < {}", up[t], dist(a));
                assert!(lo[t] <= dist(1 - a), "row {t}: lower {} > {}", lo[t], dist(1 - a));
                let v2: f64 = (0..d).map(|f| ((x[t * d + f] - mu[f]) as f64).powi(2)).sum::<f64>();
                assert!(x2_max >= v2);
            }
            let new: Vec<f32> = (0..2 * d).map(|q| (sums[q] / weights[q / d]) as f32).collect();
            let old = ArrayView2::from_shape((2, d), &centers).unwrap();
            shift = Some(kmeans::center_shift(old, ArrayView2::from_shape((2, d), &new).unwrap()));
            centers = new;
        }
        assert!(skipped > n, "the bounds never certified a row: {skipped}");
    }

    /// The margin is what makes skipping safe: on rows near the bisector of two centres some
    /// float32 labels are decided by rounding (they differ from the exact nearest centre);
    /// exact bounds never certify those with the margin, and would without it.
    #[test]
    fn certification_never_accepts_a_rounding_decided_label() {
        let (d, n) = (24usize, 4000usize);
        let mut g = Lcg(42);
        let c: Vec<f32> = (0..2 * d).map(|_| (g.next() * 8.0 - 4.0) as f32).collect();
        let mu = vec![0.0f32; d];
        let pair = Pair::new(&c, &mu, d, two::hw_fma());
        let cert = Certifier::new::<f32>(d, &c, 0.0, None);
        let (mut disagree, mut accepted, mut wrongly_without_margin) = (0, 0, 0);
        for _ in 0..n {
            // A point on the segment, at a distance from the midpoint spread over
            // 1e-8..1e-2 of its length: from rounding-decided ties to clear decisions.
            let side = if g.next() < 0.5 { -1.0 } else { 1.0 };
            let t = 0.5 + side * 10f64.powf(-2.0 - 6.0 * g.next());
            let row: Vec<f32> = (0..d).map(|f| (c[f] as f64 * t + c[d + f] as f64 * (1.0 - t)) as f32).collect();
            let mut lab = [0u8; 1];
            two::labels_of(&row, d, &pair, &mut lab);
            let dist = |j: usize| row.iter().zip(&c[j * d..(j + 1) * d]).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum::<f64>().sqrt();
            let (d0, d1) = (dist(0), dist(1));
            let exact = (d1 < d0) as u8;
            disagree += (exact != lab[0]) as usize;
            let (u, l) = if exact == 0 { (d0, d1) } else { (d1, d0) };
            let x2 = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
            if certified(l, u, 2.0 * cert.error(x2)) {
                accepted += 1;
                assert_eq!(lab[0], exact, "certified a label the kernel does not give");
            }
            wrongly_without_margin += (certified(l, u, 0.0) && lab[0] != exact) as usize;
        }
        assert!(disagree > 0 && wrongly_without_margin > 0, "no rounding-decided rows: {disagree}");
        assert!(accepted > n / 4, "the margin rejects clear decisions too: {accepted} of {n}");
    }

    #[test]
    fn overflow_or_non_finite_never_certifies() {
        let d = 10;
        let check = |cert: &Certifier, label: u8, u: f64, l: f64| {
            let (mut up, mut lo, mut ok) = ([u], [l], [9u8]);
            cert.update(&[label], &mut up, &mut lo, &mut ok);
            ok[0] == 1
        };
        let big = vec![1e19f32; 2 * d];
        let cert = Certifier::new::<f32>(d, &big, 1.0, Some(&[0.0f32, 0.0][..]));
        assert!(!check(&cert, 0, 0.0, 1e30), "f32 scores can overflow here");
        let small = vec![1.0f32; 2 * d];
        let cert = Certifier::new::<f32>(d, &small, 1.0, Some(&[0.0f32, 0.0][..]));
        let (mut lab, mut up, mut lo) = ([7u8; 3], [0.0; 3], [5.0; 3]);
        cert.settle(&[f64::NEG_INFINITY, 1.0, f64::NAN], &[3.0, f64::INFINITY, 1.0], &[1.0; 3], &mut lab, &mut up, &mut lo);
        assert_eq!(up, [f64::INFINITY; 3]);
        assert_eq!(lo, [0.0; 3]);
        assert_eq!(lab, [0, 0, 0]);
        assert!(!check(&cert, 0, f64::INFINITY, 0.0));
        assert!(!check(&cert, 1, f64::NAN, 3.0));
        // An unprimed certifier certifies nothing.
        let unprimed = Certifier::new::<f32>(d, &small, 1.0, None);
        assert!(!unprimed.primed);
        assert!(!check(&unprimed, 0, 0.0, 1e3));
        // Separated enough: certified; the bounds moved by the shifts.
        assert!(check(&cert, 1, 0.1, 1e3));
        let cert = Certifier::new::<f32>(d, &small, 1.0, Some(&[2.0f32, 0.5][..]));
        let (mut up, mut lo, mut ok) = ([1.0, 1.0], [10.0, 10.0], [0u8; 2]);
        cert.update(&[0, 1], &mut up, &mut lo, &mut ok);
        assert!(up[0] >= 3.0 && up[1] >= 1.5 && lo[0] <= 9.5 && lo[1] <= 8.0 && ok == [1, 1]);
        assert!(up[0] < 3.0 + 1e-5 && lo[1] > 8.0 - 1e-5);
    }
}
