//! Nearest-centre assignment for MiniBatchKMeans: labels by the GEMM trick
//! (`argmin_j ||c_j||^2 - 2 x.c_j`, scikit-learn's `lloyd_iter_chunked_dense` with
//! `update_centers=False`), inertia from exact squared differences (its `_inertia_dense`).
//!
//! Work is split into fixed 256-row chunks (scikit-learn's `CHUNK_SIZE`) run in parallel;
//! per-chunk inertia partial sums are added in chunk order in `f64`, so the result does not
//! depend on the number of threads.
//!
//! These are private to MiniBatchKMeans for now; they are shaped like the shared k-means
//! kernels so they can be swapped for them once those land.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis};
use rayon::prelude::*;
use rml_core::{size, Cancel, Float, RmlResult};

/// Rows per chunk of the assignment (scikit-learn's `CHUNK_SIZE`).
pub const CHUNK: usize = 256;

/// Squared row norms of the centres, in `T` (as `row_norms(centers, squared=True)`).
pub fn squared_norms<T: Float>(c: ArrayView2<T>) -> Vec<T> {
    c.rows().into_iter().map(|r| r.iter().fold(T::zero(), |a, &v| a + v * v)).collect()
}

/// scikit-learn's `_euclidean_dense_dense(a, b, squared=True)`: four-way unrolled sum in `T`,
/// same order of operations.
#[inline]
pub fn sq_dist_unrolled<T: Float>(a: &[T], b: &[T]) -> T {
    let d = a.len().min(b.len());
    let n4 = d / 4;
    let mut r = T::zero();
    for q in 0..n4 {
        let i = 4 * q;
        let (d0, d1, d2, d3) = (a[i] - b[i], a[i + 1] - b[i + 1], a[i + 2] - b[i + 2], a[i + 3] - b[i + 3]);
        r = r + (d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3);
    }
    for i in 4 * n4..d {
        let t = a[i] - b[i];
        r = r + t * t;
    }
    r
}

/// Labels of one chunk of rows; `dist` is a scratch buffer of at least `rows x k`.
fn assign_chunk<T: Float>(
    x: ArrayView2<T>,
    centers: ArrayView2<T>,
    c_norms: &[T],
    labels: &mut [i32],
    dist: &mut Array2<T>,
) {
    let rows = x.nrows();
    let k = centers.nrows();
    let mut d = dist.slice_mut(ndarray::s![..rows, ..]);
    for mut row in d.rows_mut() {
        for (v, &n) in row.iter_mut().zip(c_norms) {
            *v = n;
        }
    }
    general_mat_mul(T::from_f64(-2.0), &x, &centers.t(), T::one(), &mut d);
    for (i, row) in d.rows().into_iter().enumerate() {
        let mut best = row[0];
        let mut label = 0usize;
        for j in 1..k {
            let v = row[j];
            if v < best {
                best = v;
                label = j;
            }
        }
        labels[i] = label as i32;
    }
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
    let c_norms = squared_norms(centers);
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

/// Euclidean distance of every row of `x` to every centre (`transform`), `n x k`, in `T`.
/// Each distance is `sqrt` of the exact sum of squared differences accumulated in `f64`.
pub fn distances<T: Float>(x: ArrayView2<T>, centers: ArrayView2<T>, cancel: &Cancel) -> RmlResult<Array2<T>> {
    let n = x.nrows();
    let k = centers.nrows();
    let buf = size::try_zeroed_vec::<T>(n, k, "the distance matrix")?;
    let mut out = Array2::from_shape_vec((n, k), buf)
        .map_err(|e| rml_core::RmlError::Internal(e.to_string()))?;
    out.axis_chunks_iter_mut(Axis(0), CHUNK)
        .into_par_iter()
        .enumerate()
        .try_for_each(|(ci, mut block)| -> RmlResult<()> {
            cancel.check()?;
            for (i, mut orow) in block.rows_mut().into_iter().enumerate() {
                let xr = x.row(ci * CHUNK + i);
                for (j, o) in orow.iter_mut().enumerate() {
                    let c = centers.row(j);
                    let s: f64 = xr
                        .iter()
                        .zip(c.iter())
                        .map(|(&a, &b)| {
                            let t = a.as_f64() - b.as_f64();
                            t * t
                        })
                        .sum();
                    *o = T::from_f64(s.sqrt());
                }
            }
            Ok(())
        })?;
    Ok(out)
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

    #[test]
    fn transform_distances() {
        let x = array![[0.0f32, 0.0], [3.0, 4.0]];
        let c = array![[0.0f32, 0.0], [3.0, 0.0]];
        let d = distances(x.view(), c.view(), &Cancel::new()).unwrap();
        assert_eq!(d, array![[0.0f32, 3.0], [5.0, 4.0]]);
    }
}
