//! Distance work of the greedy k-means++ seeding.
//!
//! The seeding loop itself (random draws with numpy's `RandomState`, `cumsum`/`searchsorted`,
//! the greedy choice) runs in Python so that it consumes exactly scikit-learn's random stream;
//! each step calls [`candidate_distances`] for the `O(trials · n · d)` part.

use super::{for_blocks_ordered, BLOCK_ROWS};
use ndarray::{linalg::general_mat_mul, Array2, ArrayView1, ArrayView2, Axis};
use rml_core::{ensure, Cancel, Float, RmlResult};

/// For every candidate row `c` of `x` (`candidates`, indices into `x`) and every sample `i`:
/// `D[c, i] = min(closest[i], max(||x_c||² - 2 x_c·x_i + ||x_i||², 0))` (scikit-learn's
/// `_euclidean_distances(..., squared=True)` followed by `np.minimum(closest_dist_sq, ...)`;
/// without `closest` no minimum is taken) and the potential `pot[c] = Σ_i D[c, i] w_i`.
///
/// Computed in `f64` (float32 is upcast, as scikit-learn's `_euclidean_distances` does) with
/// one GEMM per block of samples; `pot` is reduced in block order (thread-count independent).
/// Returns `(D as (t, n) in the input dtype, pot as f64)`.
pub fn candidate_distances<F: Float>(
    x: ArrayView2<F>,
    x_sq_norms: ArrayView1<F>,
    candidates: &[usize],
    closest: Option<ArrayView1<F>>,
    sample_weight: ArrayView1<F>,
    cancel: &Cancel,
) -> RmlResult<(Array2<F>, Vec<f64>)> {
    let (n, d) = x.dim();
    let t = candidates.len();
    ensure!(x_sq_norms.len() == n, "x_squared_norms has {} entries, expected {n}", x_sq_norms.len());
    ensure!(sample_weight.len() == n, "sample_weight has the wrong length");
    ensure!(candidates.iter().all(|&c| c < n), "candidate index out of range");
    if let Some(c) = closest.as_ref() {
        ensure!(c.len() == n, "closest_dist_sq has the wrong length");
    }
    rml_core::size::checked_bytes::<f64>(rml_core::size::checked_elems(t, n, "candidate distances")?, "candidate distances")?;
    let cand: Array2<f64> = {
        let mut c = Array2::<f64>::zeros((t, d));
        for (mut row, &ci) in c.rows_mut().into_iter().zip(candidates) {
            row.assign(&x.row(ci).mapv(|v| v.as_f64()));
        }
        c
    };
    let cand_norms: Vec<f64> =
        cand.rows().into_iter().map(|r| r.iter().fold(0.0, |s, &v| s + v * v)).collect();
    let mut out = Array2::<F>::zeros((t, n));
    let mut pot = vec![0.0f64; t];
    if n == 0 || t == 0 {
        return Ok((out, pot));
    }
    let items: Vec<(usize, ndarray::ArrayViewMut2<F>)> = out
        .axis_chunks_iter_mut(Axis(1), BLOCK_ROWS)
        .enumerate()
        .map(|(b, v)| (b * BLOCK_ROWS, v))
        .collect();
    for_blocks_ordered(
        items,
        cancel,
        |(start, mut o)| -> RmlResult<Vec<f64>> {
            let m = o.ncols();
            let xb: Array2<f64> = x.slice(ndarray::s![start..start + m, ..]).mapv(|v| v.as_f64());
            let mut dm = Array2::<f64>::zeros((t, m));
            general_mat_mul(-2.0, &cand, &xb.t(), 0.0, &mut dm);
            let mut p = vec![0.0f64; t];
            for c in 0..t {
                for i in 0..m {
                    let v = ((dm[[c, i]] + cand_norms[c]) + x_sq_norms[start + i].as_f64()).max(0.0);
                    let mut vf = F::from_f64(v);
                    if let Some(cl) = closest.as_ref() {
                        let old = cl[start + i];
                        if old < vf {
                            vf = old;
                        }
                    }
                    o[[c, i]] = vf;
                    p[c] += (vf * sample_weight[start + i]).as_f64();
                }
            }
            Ok(p)
        },
        |p| {
            for (a, b) in pot.iter_mut().zip(p) {
                *a += b;
            }
        },
    )?;
    Ok((out, pot))
}
