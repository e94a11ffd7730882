//! `SimpleImputer`'s kernels: per-feature mean and median of the non-missing entries, and
//! the fill transform.

use crate::{block_rows, standard, Missing};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use rml_core::{ensure, size::try_zeroed_vec, Cancel, Float, RmlError, RmlResult};

/// The statistic [`statistics`] computes per feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Mean of the non-missing entries, summed in `f64`.
    Mean,
    /// Median of the non-missing entries, found by selection (`select_nth_unstable`, O(n) per
    /// feature on average), with numpy's convention: for an even count the two middle values
    /// are averaged as `(lo + hi) / 2` in the data's dtype (so is the odd case `(mid + mid) / 2`,
    /// exactly as `numpy.ma.median`).
    Median,
}

impl Strategy {
    /// Parse scikit-learn's strategy name ("mean" or "median").
    pub fn parse(s: &str) -> RmlResult<Self> {
        match s {
            "mean" => Ok(Strategy::Mean),
            "median" => Ok(Strategy::Median),
            other => Err(RmlError::InvalidParameter(format!(
                "strategy {other:?} is not computed natively (expected 'mean' or 'median')"
            ))),
        }
    }
}

/// Per-feature statistic of the non-missing entries of `x` (n × d); NaN for a feature with no
/// non-missing entry. Means are returned in `f64` (accumulated in `f64`); medians are values of
/// the data's dtype widened to `f64` exactly.
pub fn statistics<F: Float>(
    x: ArrayView2<'_, F>,
    strategy: Strategy,
    missing: Missing<F>,
    cancel: &Cancel,
) -> RmlResult<Vec<f64>> {
    match strategy {
        Strategy::Mean => means(x, missing, cancel),
        Strategy::Median => medians(x, missing, cancel),
    }
}

fn means<F: Float>(x: ArrayView2<'_, F>, missing: Missing<F>, cancel: &Cancel) -> RmlResult<Vec<f64>> {
    let (n, d) = x.dim();
    let x = standard(x);
    let xs = x.as_slice().ok_or_else(|| RmlError::Internal("not contiguous".into()))?;
    let mut sum = try_zeroed_vec::<f64>(1, d, "means")?;
    let mut cnt = vec![0u64; d];
    if n > 0 && d > 0 {
        let br = block_rows::<F>(d);
        let per_batch = br * 64;
        let mut start = 0;
        while start < n {
            cancel.check()?;
            let end = (start + per_batch).min(n);
            let parts: Vec<(Vec<f64>, Vec<u64>)> = xs[start * d..end * d]
                .par_chunks(br * d)
                .map(|rows| match missing {
                    Missing::Nan => block_sums(rows, d, |v: F| v.is_nan()),
                    Missing::Value(m) => block_sums(rows, d, |v: F| v == m),
                })
                .collect();
            for (s, c) in parts {
                for j in 0..d {
                    sum[j] += s[j];
                    cnt[j] += c[j];
                }
            }
            start = end;
        }
    }
    Ok((0..d).map(|j| if cnt[j] > 0 { sum[j] / cnt[j] as f64 } else { f64::NAN }).collect())
}

/// Total order on `F` (exact: `f32` widens to `f64` order-preservingly).
#[inline(always)]
fn total_cmp<F: Float>(a: &F, b: &F) -> std::cmp::Ordering {
    a.as_f64().total_cmp(&b.as_f64())
}

/// Sum and count of the non-missing entries of a row block, branch-free (vectorises).
#[inline(always)]
fn block_sums<F: Float>(rows: &[F], d: usize, is_missing: impl Fn(F) -> bool) -> (Vec<f64>, Vec<u64>) {
    let mut s = vec![0.0f64; d];
    let mut c = vec![0u64; d];
    for row in rows.chunks_exact(d) {
        for ((s, c), &v) in s.iter_mut().zip(c.iter_mut()).zip(row) {
            let keep = !is_missing(v);
            *s += if keep { v.as_f64() } else { 0.0 };
            *c += keep as u64;
        }
    }
    (s, c)
}

/// Median of `buf` (non-empty) by selection, numpy's convention.
fn median_of<F: Float>(buf: &mut [F]) -> F {
    let m = buf.len();
    let h = m / 2;
    let (left, mid, _) = buf.select_nth_unstable_by(h, total_cmp);
    let hi = *mid;
    let lo = if m % 2 == 1 {
        hi
    } else {
        left.iter().copied().fold(left[0], |acc, v| if total_cmp(&v, &acc).is_gt() { v } else { acc })
    };
    (lo + hi) / F::from_f64(2.0)
}

fn medians<F: Float>(x: ArrayView2<'_, F>, missing: Missing<F>, cancel: &Cancel) -> RmlResult<Vec<f64>> {
    let (n, d) = x.dim();
    let x = standard(x);
    let xs = x.as_slice().ok_or_else(|| RmlError::Internal("not contiguous".into()))?;
    if d == 0 {
        return Ok(Vec::new());
    }
    // Columns are gathered in groups of up to one cache line, so each task streams through the
    // rows reading only its own cache lines; enough groups to keep every thread busy.
    let threads = rayon::current_num_threads().max(1);
    let line = (64 / std::mem::size_of::<F>()).max(1);
    let g = d.div_ceil(4 * threads).clamp(1, line);
    let groups: Vec<usize> = (0..d).step_by(g).collect();
    // Gather buffers are reused by the groups one worker handles (fewer page faults).
    let per_group: Vec<RmlResult<Vec<f64>>> = groups
        .par_iter()
        .map_init(Vec::<Vec<F>>::new, |bufs, &a| {
            let b = (a + g).min(d);
            let w = b - a;
            while bufs.len() < w {
                bufs.push(Vec::new());
            }
            for v in bufs.iter_mut().take(w) {
                if v.len() < n {
                    v.try_reserve_exact(n - v.len()).map_err(|_| {
                        RmlError::TooLarge(format!("input too large: cannot allocate {n} values for a median"))
                    })?;
                    v.resize(n, F::zero());
                }
            }
            let mut lens = vec![0usize; w];
            // Branch-free compaction: always write, advance only past non-missing values.
            for (r, row) in xs.chunks_exact(d).enumerate() {
                if r % 65536 == 0 {
                    cancel.check()?;
                }
                for ((buf, len), &v) in bufs.iter_mut().zip(lens.iter_mut()).zip(&row[a..b]) {
                    // `*len <= r < n`: the write is in bounds.
                    buf[*len] = v;
                    *len += match missing {
                        Missing::Nan => !v.is_nan(),
                        Missing::Value(m) => v != m,
                    } as usize;
                }
            }
            Ok(bufs[..w]
                .iter_mut()
                .zip(&lens)
                .map(|(buf, &len)| if len == 0 { f64::NAN } else { median_of(&mut buf[..len]).as_f64() })
                .collect())
        })
        .collect();
    let mut out = Vec::with_capacity(d);
    for r in per_group {
        out.extend(r?);
    }
    Ok(out)
}

/// Fill the missing entries of `x` (n × d) column by column: output column `k` is input column
/// `keep[k]` (all columns in order when `keep` is `None`) with its missing entries replaced by
/// `fill[k]`. Parallel over row blocks.
pub fn fill<F: Float>(
    x: ArrayView2<'_, F>,
    fill: &[F],
    keep: Option<&[usize]>,
    missing: Missing<F>,
    cancel: &Cancel,
) -> RmlResult<Array2<F>> {
    let n = x.nrows();
    let k = keep.map_or(x.ncols(), |c| c.len());
    let out = try_zeroed_vec::<F>(n, k, "the imputed array")?;
    let mut out = Array2::from_shape_vec((n, k), out).map_err(|e| RmlError::Internal(e.to_string()))?;
    fill_into(x, out.view_mut(), fill, keep, missing, cancel)?;
    Ok(out)
}

/// [`fill`] into a caller-provided row-major output of shape (n, number of kept columns).
pub fn fill_into<F: Float>(
    x: ArrayView2<'_, F>,
    mut out: ArrayViewMut2<'_, F>,
    fill: &[F],
    keep: Option<&[usize]>,
    missing: Missing<F>,
    cancel: &Cancel,
) -> RmlResult<()> {
    let (n, d) = x.dim();
    let k = keep.map_or(d, |c| c.len());
    ensure!(fill.len() == k, "fill has {} values, expected {}", fill.len(), k);
    if let Some(cols) = keep {
        ensure!(cols.iter().all(|&c| c < d), "column index out of range for {} features", d);
    }
    ensure!(out.dim() == (n, k), "output shape {:?}, expected {:?}", out.dim(), (n, k));
    let x = standard(x);
    let xs = x.as_slice().ok_or_else(|| RmlError::Internal("not contiguous".into()))?;
    let out = out
        .as_slice_mut()
        .ok_or_else(|| RmlError::InvalidInput("output must be C-contiguous".into()))?;
    if n > 0 && k > 0 {
        let br = block_rows::<F>(d.max(k));
        out.par_chunks_mut(br * k).zip(xs.par_chunks(br * d)).try_for_each(|(o, a)| {
            cancel.check()?;
            match missing {
                Missing::Nan => fill_block(a, o, d, k, fill, keep, |v: F| v.is_nan()),
                Missing::Value(m) => fill_block(a, o, d, k, fill, keep, |v: F| v == m),
            }
            Ok::<(), RmlError>(())
        })?;
    }
    Ok(())
}

#[inline(always)]
fn fill_block<F: Float>(
    a: &[F],
    o: &mut [F],
    d: usize,
    k: usize,
    fill: &[F],
    keep: Option<&[usize]>,
    is_missing: impl Fn(F) -> bool,
) {
    for (orow, arow) in o.chunks_exact_mut(k).zip(a.chunks_exact(d)) {
        match keep {
            None => {
                for ((o, &v), &f) in orow.iter_mut().zip(arow).zip(fill) {
                    *o = if is_missing(v) { f } else { v };
                }
            }
            Some(cols) => {
                for ((o, &c), &f) in orow.iter_mut().zip(cols).zip(fill) {
                    let v = arow[c];
                    *o = if is_missing(v) { f } else { v };
                }
            }
        }
    }
}

/// [`fill`] in place, all columns kept (scikit-learn's `copy=False`). `x` must be row-major
/// contiguous.
pub fn fill_inplace<F: Float>(
    mut x: ArrayViewMut2<'_, F>,
    fill: &[F],
    missing: Missing<F>,
    cancel: &Cancel,
) -> RmlResult<()> {
    let (n, d) = x.dim();
    ensure!(fill.len() == d, "fill has {} values, expected {}", fill.len(), d);
    if n == 0 || d == 0 {
        return Ok(());
    }
    let xs = x
        .as_slice_mut()
        .ok_or_else(|| RmlError::InvalidInput("in-place imputation needs a C-contiguous array".into()))?;
    xs.par_chunks_mut(block_rows::<F>(d) * d).try_for_each(|o| {
        cancel.check()?;
        for row in o.chunks_exact_mut(d) {
            for (v, &f) in row.iter_mut().zip(fill) {
                if missing.is(*v) {
                    *v = f;
                }
            }
        }
        Ok::<(), RmlError>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn median_even_odd_and_nan_skipping() {
        let nan = f64::NAN;
        let x = array![[1.0, nan, 5.0], [3.0, nan, 1.0], [2.0, nan, nan], [10.0, nan, 2.0]];
        let m = statistics(x.view(), Strategy::Median, Missing::Nan, &Cancel::new()).unwrap();
        assert_eq!(m[0], 2.5);
        assert!(m[1].is_nan());
        assert_eq!(m[2], 2.0);
        let mean = statistics(x.view(), Strategy::Mean, Missing::Nan, &Cancel::new()).unwrap();
        assert_eq!(mean[0], 4.0);
        assert!(mean[1].is_nan());
        assert_eq!(mean[2], 8.0 / 3.0);
    }

    #[test]
    fn numeric_missing_marker() {
        let x = array![[0.0f32, 1.0], [4.0, 0.0], [6.0, 3.0]];
        let mk = Missing::from_f64(0.0);
        let m = statistics(x.view(), Strategy::Median, mk, &Cancel::new()).unwrap();
        assert_eq!(m, vec![5.0, 2.0]);
        let y = fill(x.view(), &[5.0, 2.0], None, mk, &Cancel::new()).unwrap();
        assert_eq!(y, array![[5.0f32, 1.0], [4.0, 2.0], [6.0, 3.0]]);
        let z = fill(x.view(), &[7.0], Some(&[1]), mk, &Cancel::new()).unwrap();
        assert_eq!(z, array![[1.0f32], [7.0], [3.0]]);
        let mut w = x.clone();
        fill_inplace(w.view_mut(), &[5.0, 2.0], mk, &Cancel::new()).unwrap();
        assert_eq!(w, y);
    }

    #[test]
    fn median_matches_sort_on_many_columns() {
        let (n, d) = (1001, 37);
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            if (i * 31 + j * 7) % 11 == 0 { f64::NAN } else { ((i * 7919 + j * 104729) % 1000) as f64 / 7.0 }
        });
        let got = statistics(x.view(), Strategy::Median, Missing::Nan, &Cancel::new()).unwrap();
        for j in 0..d {
            let mut col: Vec<f64> = x.column(j).iter().copied().filter(|v| !v.is_nan()).collect();
            col.sort_by(f64::total_cmp);
            let m = col.len();
            let want = (col[(m - 1) / 2] + col[m / 2]) / 2.0;
            assert_eq!(got[j], want);
        }
    }

    #[test]
    fn shape_errors_are_errors() {
        let x = array![[1.0f64, 2.0]];
        assert!(fill(x.view(), &[1.0], None, Missing::Nan, &Cancel::new()).is_err());
        assert!(fill(x.view(), &[1.0], Some(&[5]), Missing::Nan, &Cancel::new()).is_err());
        assert!(Strategy::parse("most_frequent").is_err());
    }
}
