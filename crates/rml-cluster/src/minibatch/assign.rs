//! Nearest-centre assignment of one mini-batch: labels by the GEMM trick
//! (`argmin_j ||c_j||^2 - 2 x.c_j`, scikit-learn's `lloyd_iter_chunked_dense` with
//! `update_centers=False`), inertia from exact squared differences (its `_inertia_dense`).
//!
//! Passes over all the data (final labels, predict, score, transform) use the shared k-means
//! kernels ([`crate::kmeans::lloyd_pass`]), whose parallel unit is a 4096-row block. A
//! mini-batch (1024 rows by default) would be a single block there, so this batch-sized
//! variant splits it into 256-row chunks (scikit-learn's `CHUNK_SIZE`) run in parallel;
//! per-chunk inertia partial sums are added in chunk order in `f64`, so the result does not
//! depend on the number of threads.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis};
use rayon::prelude::*;
use crate::kmeans::{row_sq_norms, sq_dist_unrolled};
use rml_core::{size, Cancel, Float, RmlResult};

/// Rows per chunk of the assignment (scikit-learn's `CHUNK_SIZE`).
pub const CHUNK: usize = 256;


/// Labels of one chunk of rows; `dist` is a scratch buffer of at least `rows x k`.
fn assign_chunk<T: Float>(
    x: ArrayView2<T>,
    centers: ArrayView2<T>,
    c_norms: &[T],
    labels: &mut [i32],
    dist: &mut Array2<T>,
) {
    let rows = x.nrows();
    let mut d = dist.slice_mut(ndarray::s![..rows, ..]);
    // -2 x.c (the scaling by -2 is exact), then ||c||^2 is added in `argmin_first`: the same
    // single rounding as scikit-learn's gemm(alpha=-2, beta=1) onto a block of norms.
    general_mat_mul(T::from_f64(-2.0), &x, &centers.t(), T::zero(), &mut d);
    for (i, row) in d.rows().into_iter().enumerate() {
        labels[i] = match row.as_slice() {
            Some(r) => argmin_first(r, c_norms),
            None => argmin_first(&row.to_vec(), c_norms),
        } as i32;
    }
}

/// First index of the minimum of `norms[j] + m2xc[j]`, exactly as the sequential strict-`<`
/// scan of scikit-learn (NaN values are never chosen; a NaN first value gives 0), computed
/// with four independent lanes so the compiler can vectorise the scan.
#[inline]
pub fn argmin_first<T: Float>(m2xc: &[T], norms: &[T]) -> usize {
    let k = m2xc.len().min(norms.len());
    if k == 0 {
        return 0;
    }
    let v0 = norms[0] + m2xc[0];
    let mut m = [v0; 4];
    let mut j = 1;
    while j + 4 <= k {
        for l in 0..4 {
            let v = norms[j + l] + m2xc[j + l];
            m[l] = if v < m[l] { v } else { m[l] };
        }
        j += 4;
    }
    while j < k {
        let v = norms[j] + m2xc[j];
        m[0] = if v < m[0] { v } else { m[0] };
        j += 1;
    }
    let mut best = m[0];
    for &v in &m[1..] {
        if v < best {
            best = v;
        }
    }
    (0..k).find(|&j| norms[j] + m2xc[j] == best).unwrap_or(0)
}

/// Labels of every row of `x` (written into `labels`) and, if `want_inertia`, the inertia
/// `sum_i w_i ||x_i - c_{label_i}||^2` (weights default to 1). Parallel over 256-row chunks
/// in the current rayon pool; identical results for any number of threads.
pub fn labels_inertia_into<T: Float>(
    x: ArrayView2<T>,
    sample_weight: Option<ArrayView1<T>>,
    centers: ArrayView2<T>,
    mut labels: ArrayViewMut1<i32>,
    want_inertia: bool,
    parallel: bool,
    cancel: &Cancel,
) -> RmlResult<f64> {
    let n = x.nrows();
    let k = centers.nrows();
    if n == 0 {
        return Ok(0.0);
    }
    let c_norms = row_sq_norms(centers);
    size::checked_elems(CHUNK, k, "the distance chunk")?;
    let labels = labels.as_slice_mut().ok_or_else(|| {
        rml_core::RmlError::Internal("labels buffer is not contiguous".into())
    })?;
    let work = |(ci, lab): (usize, &mut [i32]), dist: &mut Array2<T>| -> RmlResult<f64> {
        cancel.check()?;
        let start = ci * CHUNK;
        let rows = lab.len();
        let xc = x.slice(ndarray::s![start..start + rows, ..]);
        assign_chunk(xc, centers, &c_norms, lab, dist);
        if !want_inertia {
            return Ok(0.0);
        }
        let mut acc = 0.0f64;
        for (i, xr) in xc.axis_iter(Axis(0)).enumerate() {
            let c = centers.row(lab[i] as usize);
            let sq = match (xr.as_slice(), c.as_slice()) {
                (Some(a), Some(b)) => sq_dist_unrolled(a, b),
                _ => {
                    let a: Vec<T> = xr.to_vec();
                    let b: Vec<T> = c.to_vec();
                    sq_dist_unrolled(&a, &b)
                }
            };
            let w = match &sample_weight {
                Some(sw) => sw[start + i],
                None => T::one(),
            };
            acc += (sq * w).as_f64();
        }
        Ok(acc)
    };
    let partials: Vec<RmlResult<f64>> = if parallel && n > CHUNK {
        labels
            .par_chunks_mut(CHUNK)
            .enumerate()
            .map_init(|| Array2::<T>::zeros((CHUNK, k)), |dist, item| work(item, dist))
            .collect()
    } else {
        let mut dist = Array2::<T>::zeros((CHUNK.min(n), k));
        labels.chunks_mut(CHUNK).enumerate().map(|item| work(item, &mut dist)).collect()
    };
    let mut total = 0.0f64;
    for p in partials {
        total += p?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    #[test]
    fn labels_are_nearest_centre_first_on_ties() {
        let x = array![[0.0, 0.0], [1.0, 0.0], [10.0, 10.0], [0.5, 0.0]];
        let c = array![[0.0, 0.0], [1.0, 0.0], [10.0, 10.0]];
        let mut lab = Array1::<i32>::zeros(4);
        let inertia =
            labels_inertia_into(x.view(), None, c.view(), lab.view_mut(), true, true, &Cancel::new()).unwrap();
        assert_eq!(lab.to_vec(), vec![0, 1, 2, 0]);
        assert!((inertia - 0.25).abs() < 1e-12);
    }

    #[test]
    fn lane_argmin_equals_sequential_scan() {
        let mut r = super::super::rng::LegacyMt::seed(9);
        for k in 1..40 {
            for trial in 0..50 {
                let mut v: Vec<f64> = (0..k).map(|_| (r.random_sample() * 4.0).floor()).collect();
                if trial % 7 == 1 {
                    v[(trial * 3) % k] = f64::NAN;
                }
                let norms = vec![0.0; k];
                let mut best = v[0];
                let mut want = 0;
                for (j, &x) in v.iter().enumerate().skip(1) {
                    if x < best {
                        best = x;
                        want = j;
                    }
                }
                assert_eq!(argmin_first(&v, &norms), want, "k={k} v={v:?}");
            }
        }
    }

    #[test]
    fn parallel_equals_serial_on_many_chunks() {
        let n = 3000;
        let d = 5;
        let mut r = super::super::rng::LegacyMt::seed(3);
        let x = Array2::from_shape_fn((n, d), |_| r.random_sample());
        let c = Array2::from_shape_fn((7, d), |_| r.random_sample());
        let w = Array1::from_shape_fn(n, |_| r.random_sample());
        let mut l1 = Array1::<i32>::zeros(n);
        let mut l2 = Array1::<i32>::zeros(n);
        let cancel = Cancel::new();
        let a = labels_inertia_into(x.view(), Some(w.view()), c.view(), l1.view_mut(), true, false, &cancel).unwrap();
        let b = rml_core::threads::with_n_jobs(Some(2), || {
            labels_inertia_into(x.view(), Some(w.view()), c.view(), l2.view_mut(), true, true, &cancel)
        })
        .unwrap()
        .unwrap();
        assert_eq!(l1, l2);
        assert_eq!(a.to_bits(), b.to_bits());
        // brute-force check of labels and inertia
        let mut want = 0.0;
        for i in 0..n {
            let dists: Vec<f64> =
                (0..7).map(|j| (0..d).map(|f| (x[[i, f]] - c[[j, f]]).powi(2)).sum()).collect();
            let best = dists.iter().cloned().fold(f64::INFINITY, f64::min);
            assert!((dists[l1[i] as usize] - best).abs() < 1e-12);
            want += best * w[i];
        }
        assert!((a - want).abs() < 1e-9 * want);
    }
}
