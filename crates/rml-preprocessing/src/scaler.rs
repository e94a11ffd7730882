//! `StandardScaler`'s kernels: the per-feature moments of one batch of data (weighted sum,
//! weight count and centred sum of squares, NaN skipped) and the standardisation transform.
//!
//! The moments are what scikit-learn's `_incremental_mean_and_var` computes for the new batch
//! (`new_sum`, `new_sample_count`, `new_unnormalized_variance`); the caller combines them with
//! the previous state exactly as scikit-learn does, so `partial_fit` has the same semantics.

use crate::{block_rows, standard};
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use rml_core::{ensure, size::try_zeroed_vec, Cancel, Float, RmlError, RmlResult};

/// Per-feature moments of one batch. All `f64`, whatever the data's dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// Σ w·x over the non-NaN entries of each feature.
    pub sum: Vec<f64>,
    /// Σ w over the non-NaN entries (the number of non-NaN entries when unweighted).
    pub count: Vec<f64>,
    /// Σ w·(x − mean)² over the non-NaN entries; NaN where `count == 0` (as scikit-learn's
    /// `0/0`).
    pub m2: Vec<f64>,
}

/// Moments of one row block: (count, sum, m2 about the block mean).
struct Block {
    count: Vec<f64>,
    sum: Vec<f64>,
    m2: Vec<f64>,
}

fn block_moments<F: Float>(rows: &[F], w: Option<&[F]>, d: usize) -> Block {
    let mut count = vec![0.0f64; d];
    let mut sum = vec![0.0f64; d];
    // Branch-free inner loops (NaN selects 0), so they vectorise.
    for (i, row) in rows.chunks_exact(d).enumerate() {
        let wi = w.map_or(1.0, |w| w[i].as_f64());
        for ((c, s), &v) in count.iter_mut().zip(sum.iter_mut()).zip(row) {
            let v = v.as_f64();
            let ok = !v.is_nan();
            *c += if ok { wi } else { 0.0 };
            *s += if ok { wi * v } else { 0.0 };
        }
    }
    let mean: Vec<f64> =
        count.iter().zip(&sum).map(|(&c, &s)| if c != 0.0 { s / c } else { 0.0 }).collect();
    // Second read of the block (it is in cache): corrected two-pass sums about the block mean.
    let mut sq = vec![0.0f64; d];
    let mut corr = vec![0.0f64; d];
    for (i, row) in rows.chunks_exact(d).enumerate() {
        let wi = w.map_or(1.0, |w| w[i].as_f64());
        for (((q, c), &m), &v) in sq.iter_mut().zip(corr.iter_mut()).zip(&mean).zip(row) {
            let t = v.as_f64() - m;
            let ok = !t.is_nan();
            *c += if ok { wi * t } else { 0.0 };
            *q += if ok { wi * (t * t) } else { 0.0 };
        }
    }
    let m2 = (0..d)
        .map(|j| if count[j] != 0.0 { sq[j] - corr[j] * corr[j] / count[j] } else { 0.0 })
        .collect();
    Block { count, sum, m2 }
}

/// Per-feature weighted moments of `x` (n × d), NaN entries skipped, in one parallel pass.
///
/// Row blocks of about 64 KiB are processed in parallel (each block is read twice while it is
/// in cache: sum, then the corrected sum of squares about the block mean) and merged in block
/// order with Chan, Golub and LeVeque's pairwise update, so the result is the same for every
/// thread count. Accumulation is in `f64`, also for `f32` data.
///
/// `sample_weight`, if given, has length n (zero and negative weights are used as given).
pub fn moments<F: Float>(
    x: ArrayView2<'_, F>,
    sample_weight: Option<ArrayView1<'_, F>>,
    cancel: &Cancel,
) -> RmlResult<Moments> {
    let (n, d) = x.dim();
    if let Some(w) = &sample_weight {
        ensure!(w.len() == n, "sample_weight has {} entries, expected {}", w.len(), n);
    }
    let x = standard(x);
    let xs = x.as_slice().ok_or_else(|| RmlError::Internal("not contiguous".into()))?;
    let w_owned = sample_weight.map(|w| w.to_vec());
    let w = w_owned.as_deref();
    let mut total_count = try_zeroed_vec::<f64>(1, d, "moments")?;
    let mut total_sum = vec![0.0f64; d];
    let mut mean = vec![0.0f64; d];
    let mut m2 = vec![0.0f64; d];
    if n > 0 && d > 0 {
        let br = block_rows::<F>(d);
        // Blocks are merged in order; compute them in parallel a bounded batch at a time.
        let per_batch = br * 64;
        let mut start = 0;
        while start < n {
            cancel.check()?;
            let end = (start + per_batch).min(n);
            let blocks: Vec<Block> = xs[start * d..end * d]
                .par_chunks(br * d)
                .enumerate()
                .map(|(b, rows)| {
                    let r0 = start + b * br;
                    let wb = w.map(|w| &w[r0..r0 + rows.len() / d]);
                    block_moments(rows, wb, d)
                })
                .collect();
            for blk in blocks {
                for j in 0..d {
                    let nb = blk.count[j];
                    if nb == 0.0 {
                        continue;
                    }
                    let na = total_count[j];
                    let mb = blk.sum[j] / nb;
                    if na == 0.0 {
                        mean[j] = mb;
                        m2[j] = blk.m2[j];
                    } else {
                        let nt = na + nb;
                        let delta = mb - mean[j];
                        mean[j] += delta * (nb / nt);
                        m2[j] += blk.m2[j] + delta * delta * (na * nb / nt);
                    }
                    total_count[j] = na + nb;
                    total_sum[j] += blk.sum[j];
                }
            }
            start = end;
        }
    }
    for j in 0..d {
        if total_count[j] == 0.0 {
            m2[j] = f64::NAN;
        }
    }
    Ok(Moments { sum: total_sum, count: total_count, m2 })
}

/// Which way [`standardize`] maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `(x − mean) / scale`, in the data's dtype (scikit-learn's `transform`).
    Forward,
    /// `x · scale + mean`, in the data's dtype (scikit-learn's `inverse_transform`).
    Inverse,
}

fn check_params<F: Float>(d: usize, mean: Option<&[F]>, scale: Option<&[F]>) -> RmlResult<()> {
    if let Some(m) = mean {
        ensure!(m.len() == d, "mean has {} entries, expected {}", m.len(), d);
    }
    if let Some(s) = scale {
        ensure!(s.len() == d, "scale has {} entries, expected {}", s.len(), d);
    }
    Ok(())
}

#[inline(always)]
fn map_chunk<F: Float>(
    src: &[F],
    dst: &mut [F],
    d: usize,
    mean: Option<&[F]>,
    scale: Option<&[F]>,
    dir: Direction,
) {
    // The operations and their order are numpy's `X -= mean; X /= scale` (or `X *= scale;
    // X += mean`), element by element in F, so the output is bit-identical to scikit-learn's.
    let rows = src.chunks_exact(d).zip(dst.chunks_exact_mut(d));
    match (dir, mean, scale) {
        (Direction::Forward, Some(m), Some(s)) => {
            for (a, b) in rows {
                for (((o, &v), &m), &s) in b.iter_mut().zip(a).zip(m).zip(s) {
                    *o = (v - m) / s;
                }
            }
        }
        (Direction::Inverse, Some(m), Some(s)) => {
            for (a, b) in rows {
                for (((o, &v), &m), &s) in b.iter_mut().zip(a).zip(m).zip(s) {
                    *o = v * s + m;
                }
            }
        }
        (Direction::Forward, Some(m), None) => {
            for (a, b) in rows {
                for ((o, &v), &m) in b.iter_mut().zip(a).zip(m) {
                    *o = v - m;
                }
            }
        }
        (Direction::Inverse, Some(m), None) => {
            for (a, b) in rows {
                for ((o, &v), &m) in b.iter_mut().zip(a).zip(m) {
                    *o = v + m;
                }
            }
        }
        (Direction::Forward, None, Some(s)) => {
            for (a, b) in rows {
                for ((o, &v), &s) in b.iter_mut().zip(a).zip(s) {
                    *o = v / s;
                }
            }
        }
        (Direction::Inverse, None, Some(s)) => {
            for (a, b) in rows {
                for ((o, &v), &s) in b.iter_mut().zip(a).zip(s) {
                    *o = v * s;
                }
            }
        }
        (_, None, None) => dst.copy_from_slice(src),
    }
}

/// Standardise `x` into a new array: `(x − mean) / scale` (or the inverse), each of `mean` and
/// `scale` optional (`with_mean` / `with_std`). NaN stays NaN. Parallel over row blocks.
pub fn standardize<F: Float>(
    x: ArrayView2<'_, F>,
    mean: Option<&[F]>,
    scale: Option<&[F]>,
    dir: Direction,
    cancel: &Cancel,
) -> RmlResult<Array2<F>> {
    let (n, d) = x.dim();
    let out = try_zeroed_vec::<F>(n, d, "the transformed array")?;
    let mut out = Array2::from_shape_vec((n, d), out).map_err(|e| RmlError::Internal(e.to_string()))?;
    standardize_into(x, out.view_mut(), mean, scale, dir, cancel)?;
    Ok(out)
}

/// [`standardize`] into a caller-provided row-major output of the same shape (the Python
/// binding passes a numpy array, whose allocator uses huge pages for big arrays).
pub fn standardize_into<F: Float>(
    x: ArrayView2<'_, F>,
    mut out: ArrayViewMut2<'_, F>,
    mean: Option<&[F]>,
    scale: Option<&[F]>,
    dir: Direction,
    cancel: &Cancel,
) -> RmlResult<()> {
    let (n, d) = x.dim();
    check_params(d, mean, scale)?;
    ensure!(out.dim() == (n, d), "output shape {:?}, expected {:?}", out.dim(), (n, d));
    let x = standard(x);
    let xs = x.as_slice().ok_or_else(|| RmlError::Internal("not contiguous".into()))?;
    let out = out
        .as_slice_mut()
        .ok_or_else(|| RmlError::InvalidInput("output must be C-contiguous".into()))?;
    if n > 0 && d > 0 {
        let step = block_rows::<F>(d) * d;
        out.par_chunks_mut(step).zip(xs.par_chunks(step)).try_for_each(|(o, a)| {
            cancel.check()?;
            map_chunk(a, o, d, mean, scale, dir);
            Ok::<(), RmlError>(())
        })?;
    }
    Ok(())
}

/// [`standardize`] in place (scikit-learn's `copy=False`). `x` must be row-major contiguous.
pub fn standardize_inplace<F: Float>(
    mut x: ArrayViewMut2<'_, F>,
    mean: Option<&[F]>,
    scale: Option<&[F]>,
    dir: Direction,
    cancel: &Cancel,
) -> RmlResult<()> {
    let (n, d) = x.dim();
    check_params(d, mean, scale)?;
    if n == 0 || d == 0 {
        return Ok(());
    }
    let xs = x
        .as_slice_mut()
        .ok_or_else(|| RmlError::InvalidInput("in-place transform needs a C-contiguous array".into()))?;
    let step = block_rows::<F>(d) * d;
    xs.par_chunks_mut(step).try_for_each(|o| {
        cancel.check()?;
        // Reading and writing the same chunk: copy the source rows of this chunk first
        // (64 KiB, in cache) so `map_chunk` keeps its two-slice signature.
        let a = o.to_vec();
        map_chunk(&a, o, d, mean, scale, dir);
        Ok::<(), RmlError>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    fn naive(x: &[Vec<f64>], w: Option<&[f64]>, j: usize) -> (f64, f64, f64) {
        let (mut c, mut s) = (0.0, 0.0);
        for (i, r) in x.iter().enumerate() {
            let wi = w.map_or(1.0, |w| w[i]);
            if !r[j].is_nan() {
                c += wi;
                s += wi * r[j];
            }
        }
        let m = s / c;
        let mut q = 0.0;
        for (i, r) in x.iter().enumerate() {
            let wi = w.map_or(1.0, |w| w[i]);
            if !r[j].is_nan() {
                q += wi * (r[j] - m) * (r[j] - m);
            }
        }
        (s, c, q)
    }

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64) / ((1u64 << 53) as f64)
    }

    #[test]
    fn moments_match_naive_two_pass_with_nan_and_weights() {
        let mut seed = 7;
        let (n, d) = (3000, 5);
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                (0..d)
                    .map(|j| {
                        let u = lcg(&mut seed);
                        if u < 0.1 { f64::NAN } else { 100.0 * j as f64 + lcg(&mut seed) }
                    })
                    .collect()
            })
            .collect();
        let w: Vec<f64> = (0..n).map(|_| lcg(&mut seed) * 3.0).collect();
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        let x = Array2::from_shape_vec((n, d), flat).unwrap();
        let wa = Array1::from(w.clone());
        for weights in [None, Some(&w[..])] {
            let got = moments(x.view(), weights.map(|_| wa.view()), &Cancel::new()).unwrap();
            for j in 0..d {
                let (s, c, q) = naive(&rows, weights, j);
                assert!((got.sum[j] - s).abs() <= 1e-12 * s.abs());
                assert!((got.count[j] - c).abs() <= 1e-12 * c.abs());
                assert!((got.m2[j] - q).abs() <= 1e-11 * q.abs(), "{} vs {}", got.m2[j], q);
            }
        }
    }

    #[test]
    fn moments_thread_count_does_not_change_results() {
        let x = Array2::from_shape_fn((5000, 3), |(i, j)| ((i * 7 + j * 13) % 17) as f64 * 0.3);
        let a = rml_core::threads::with_n_jobs(Some(1), || moments(x.view(), None, &Cancel::new()))
            .unwrap()
            .unwrap();
        let b = rml_core::threads::with_n_jobs(Some(3), || moments(x.view(), None, &Cancel::new()))
            .unwrap()
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn all_nan_column_gives_zero_count_and_nan_m2() {
        let x = array![[f64::NAN, 1.0], [f64::NAN, 3.0]];
        let m = moments(x.view(), None, &Cancel::new()).unwrap();
        assert_eq!(m.count, vec![0.0, 2.0]);
        assert!(m.m2[0].is_nan());
        assert_eq!(m.m2[1], 2.0);
        assert_eq!(m.sum, vec![0.0, 4.0]);
    }

    #[test]
    fn bad_weight_length_is_an_error() {
        let x = array![[1.0f32], [2.0]];
        let w = Array1::from(vec![1.0f32]);
        assert!(matches!(moments(x.view(), Some(w.view()), &Cancel::new()), Err(RmlError::InvalidInput(_))));
    }

    #[test]
    fn standardize_round_trip_and_inplace_agree() {
        let x = array![[1.0f64, f64::NAN], [3.0, 4.0], [5.0, 8.0]];
        let (m, s) = ([3.0, 6.0], [2.0, 2.0]);
        let y = standardize(x.view(), Some(&m), Some(&s), Direction::Forward, &Cancel::new()).unwrap();
        assert_eq!(y[[0, 0]], -1.0);
        assert!(y[[0, 1]].is_nan());
        let mut z = x.clone();
        standardize_inplace(z.view_mut(), Some(&m), Some(&s), Direction::Forward, &Cancel::new()).unwrap();
        assert_eq!(y[[2, 1]], z[[2, 1]]);
        let back = standardize(y.view(), Some(&m), Some(&s), Direction::Inverse, &Cancel::new()).unwrap();
        assert_eq!(back[[2, 1]], 8.0);
        assert!(standardize(x.view(), Some(&m[..1]), None, Direction::Forward, &Cancel::new()).is_err());
    }
}
