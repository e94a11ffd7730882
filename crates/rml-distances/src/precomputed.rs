//! Neighbour selection from a precomputed distance matrix (`metric="precomputed"`): the
//! values are the distances; rows are queries, columns training points.

use crate::brute::{contiguous, emit_row, finish_knn, finish_radius, RadiusChunk};
use crate::topk::TopK;
use crate::{KnnResult, Metric, RadiusResult};
use ndarray::ArrayView2;
use rayon::prelude::*;
use rml_core::size::try_zeroed_vec;
use rml_core::{ensure, ensure_param, Cancel, Float, RmlResult};

const QUERY_CHUNK: usize = 64;

/// The `k` smallest entries of each row of `d` (ties by column index), as
/// `(distances, indices)` sorted ascending. NaN entries sort after +inf.
pub fn precomputed_kneighbors<F: Float>(
    d: ArrayView2<F>,
    k: usize,
    return_distance: bool,
    cancel: &Cancel,
) -> RmlResult<KnnResult<F>> {
    let (m, n) = d.dim();
    ensure_param!(k >= 1, "n_neighbors must be >= 1, got {}", k);
    ensure!(
        k <= n,
        "Expected n_neighbors <= n_samples_fit, but n_neighbors = {}, n_samples_fit = {}, n_samples = {}",
        k,
        n,
        n
    );
    let ds = contiguous(&d);
    let ds: &[F] = &ds;
    let mut ind = try_zeroed_vec::<i64>(m, k, "kneighbors indices")?;
    let mut dist =
        if return_distance { try_zeroed_vec::<F>(m, k, "kneighbors distances")? } else { Vec::new() };
    let work = |c: usize, ind_c: &mut [i64], mut dist_c: Option<&mut [F]>| -> RmlResult<()> {
        cancel.check()?;
        let mut top = TopK::new(k);
        let mut sorted = Vec::with_capacity(k);
        for r in 0..ind_c.len() / k {
            let i = c * QUERY_CHUNK + r;
            top.clear();
            for (j, &v) in ds[i * n..(i + 1) * n].iter().enumerate() {
                let key = v.as_f64();
                if key <= top.threshold() || key.is_nan() {
                    top.push(key, j as i64);
                }
            }
            top.drain_sorted(&mut sorted);
            for (t, &(key, j)) in sorted.iter().enumerate() {
                ind_c[r * k + t] = j;
                if let Some(dc) = dist_c.as_deref_mut() {
                    dc[r * k + t] = F::from_f64(key);
                }
            }
        }
        Ok(())
    };
    if m > 0 {
        if return_distance {
            ind.par_chunks_mut(QUERY_CHUNK * k)
                .zip(dist.par_chunks_mut(QUERY_CHUNK * k))
                .enumerate()
                .try_for_each(|(c, (ic, dc))| work(c, ic, Some(dc)))?;
        } else {
            ind.par_chunks_mut(QUERY_CHUNK * k)
                .enumerate()
                .try_for_each(|(c, ic)| work(c, ic, None))?;
        }
    }
    Ok(finish_knn(m, k, ind, dist, return_distance))
}

/// Entries `<= radius` of each row of `d`, CSR-shaped, in column order or sorted by
/// `(distance, index)` when `sort_results`.
pub fn precomputed_radius_neighbors<F: Float>(
    d: ArrayView2<F>,
    radius: F,
    return_distance: bool,
    sort_results: bool,
    cancel: &Cancel,
) -> RmlResult<RadiusResult<F>> {
    let (m, n) = d.dim();
    ensure_param!(radius >= F::zero(), "radius must be a non-negative number, got {}", radius);
    let ds = contiguous(&d);
    let ds: &[F] = &ds;
    let r = radius.as_f64();
    let n_chunks = m.div_ceil(QUERY_CHUNK);
    let chunks: Vec<RadiusChunk<F>> = (0..n_chunks)
        .into_par_iter()
        .map(|c| -> RmlResult<RadiusChunk<F>> {
            cancel.check()?;
            let mut out = RadiusChunk { dist: Vec::new(), ind: Vec::new(), counts: Vec::new() };
            let mut row = Vec::new();
            for i in c * QUERY_CHUNK..((c + 1) * QUERY_CHUNK).min(m) {
                row.clear();
                for (j, &v) in ds[i * n..(i + 1) * n].iter().enumerate() {
                    if v.as_f64() <= r {
                        row.push((v.as_f64(), j as i64));
                    }
                }
                // SqEuclidean: key_to_dist is the identity, so the values come back unchanged.
                emit_row(Metric::SqEuclidean, &mut row, sort_results, return_distance, &mut out);
            }
            Ok(out)
        })
        .collect::<RmlResult<Vec<_>>>()?;
    finish_radius(chunks, m, return_distance)
}
