//! k-nearest-neighbour and radius queries on a [`KdTreeView`].
//!
//! Each query is a depth-first descent that visits the nearer child first and prunes a node
//! only when its lower bound is *strictly* larger than the current k-th reduced distance (or
//! the reduced radius), so ties at the boundary are resolved exactly: the k neighbours are the
//! k smallest by (distance, training index). Queries are independent and processed in chunks
//! in parallel on the caller's rayon pool; outputs are written in query order, so results do
//! not depend on the number of threads. `cancel` is polled once per chunk.

use super::dist::{total_cmp, BoxDist, Lp, L1, L2, LInf};
use super::KdTreeView;
use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use rml_core::size::try_zeroed_vec;
use rml_core::{ensure, ensure_param, Cancel, Float, RmlError, RmlResult};
use rml_distances::{KnnResult, Metric, RadiusResult};
use std::cmp::Ordering;

/// Run `$body` with `$d` bound to the monomorphised distance of `$metric`.
macro_rules! with_dist {
    ($metric:expr, $F:ty, $d:ident => $body:expr) => {
        match $metric {
            Metric::Euclidean | Metric::SqEuclidean => {
                let $d = L2;
                $body
            }
            Metric::Manhattan => {
                let $d = L1;
                $body
            }
            Metric::Chebyshev => {
                let $d = LInf;
                $body
            }
            Metric::Minkowski(p) => {
                // p < 1 is not a metric, but the box bounds stay exact (|d|^p is monotone in |d|).
                ensure_param!(p.is_finite() && p > 0.0, "p must be a finite number > 0 for minkowski, got {p}");
                let $d = Lp { p: <$F>::from_f64(p) };
                $body
            }
            Metric::Cosine => {
                return Err(RmlError::InvalidParameter(
                    "the KD-tree supports the Minkowski-family metrics only (euclidean, sqeuclidean, \
                     manhattan, chebyshev, minkowski), not cosine"
                        .into(),
                ))
            }
        }
    };
}

/// Queries per parallel task: enough tasks for load balance, few enough to amortise setup.
fn chunk_rows(m: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    (m / (threads * 16)).clamp(16, 512)
}

/// `(distance, index)` total order: distance by `total_cmp`, then the smaller index.
#[inline]
fn cmp_pair<F: Float>(a: &(F, i64), b: &(F, i64)) -> Ordering {
    total_cmp(a.0, b.0).then(a.1.cmp(&b.1))
}

/// Bounded max-heap of the k best `(reduced distance, index)` pairs seen so far.
pub(crate) struct KHeap<F> {
    dist: Vec<F>,
    idx: Vec<i64>,
    k: usize,
}

impl<F: Float> KHeap<F> {
    pub(crate) fn new(k: usize) -> Self {
        KHeap { dist: Vec::with_capacity(k), idx: Vec::with_capacity(k), k }
    }

    #[inline(always)]
    fn clear(&mut self) {
        self.dist.clear();
        self.idx.clear();
    }

    /// The current k-th reduced distance (+inf until k pairs were seen).
    #[inline(always)]
    fn worst(&self) -> F {
        if self.dist.len() < self.k {
            F::infinity()
        } else {
            self.dist[0]
        }
    }

    #[inline(always)]
    fn greater(&self, a: usize, b: usize) -> bool {
        let (da, db) = (self.dist[a], self.dist[b]);
        da > db || (da == db && self.idx[a] > self.idx[b])
    }

    #[inline(always)]
    fn swap(&mut self, a: usize, b: usize) {
        self.dist.swap(a, b);
        self.idx.swap(a, b);
    }

    /// Offer a pair; kept if the heap is not full or it beats the worst by (distance, index).
    #[inline(always)]
    fn push(&mut self, rd: F, i: i64) {
        let len = self.dist.len();
        if len < self.k {
            self.dist.push(rd);
            self.idx.push(i);
            let mut c = len;
            while c > 0 {
                let p = (c - 1) / 2;
                if self.greater(c, p) {
                    self.swap(c, p);
                    c = p;
                } else {
                    break;
                }
            }
        } else {
            let (wd, wi) = (self.dist[0], self.idx[0]);
            if !(rd < wd || (rd == wd && i < wi)) {
                return;
            }
            self.dist[0] = rd;
            self.idx[0] = i;
            let mut p = 0;
            loop {
                let l = 2 * p + 1;
                if l >= len {
                    break;
                }
                let r = l + 1;
                let c = if r < len && self.greater(r, l) { r } else { l };
                if self.greater(c, p) {
                    self.swap(c, p);
                    p = c;
                } else {
                    break;
                }
            }
        }
    }

    /// Write the pairs as true distances sorted by (distance, index).
    fn write_sorted(&self, metric: Metric, buf: &mut Vec<(F, i64)>, ind: &mut [i64], dist: &mut [F]) {
        buf.clear();
        buf.extend(self.dist.iter().zip(&self.idx).map(|(&d, &i)| (metric.rdist_to_dist(d), i)));
        buf.sort_unstable_by(cmp_pair);
        for (t, &(d, i)) in buf.iter().enumerate() {
            ind[t] = i;
            dist[t] = d;
        }
    }
}

/// Reduced form of a radius; a negative or NaN radius matches nothing.
fn reduced_radius(metric: Metric, r: f64) -> f64 {
    if r.is_nan() || r < 0.0 {
        f64::NEG_INFINITY
    } else {
        metric.dist_to_rdist(r)
    }
}

impl<'a, F: Float> KdTreeView<'a, F> {
    fn check_queries(&self, x: &ArrayView2<F>) -> RmlResult<()> {
        ensure!(
            x.ncols() == self.d,
            "query data has {} features, but the KD-tree was built on {} features",
            x.ncols(),
            self.d
        );
        Ok(())
    }

    /// The `k` nearest training points of every row of `x`, sorted by (distance, training
    /// index). `k` must be in `1..=n`. Distances are true distances of `metric` in `F` (empty
    /// `0 x 0` when `return_distance` is false).
    pub fn query(
        &self,
        x: ArrayView2<F>,
        k: usize,
        metric: Metric,
        return_distance: bool,
        cancel: &Cancel,
    ) -> RmlResult<KnnResult<F>> {
        self.check_queries(&x)?;
        ensure_param!(k >= 1, "k must be at least 1, got {k}");
        ensure_param!(
            k <= self.n,
            "k must be less than or equal to the number of training points ({}), got {k}",
            self.n
        );
        let m = x.nrows();
        let mut ind = try_zeroed_vec::<i64>(m, k, "kneighbors indices")?;
        let mut dist = try_zeroed_vec::<F>(m, k, "kneighbors distances")?;
        let chunk = chunk_rows(m);
        with_dist!(metric, F, dm => {
            ind.par_chunks_mut(chunk * k)
                .zip(dist.par_chunks_mut(chunk * k))
                .enumerate()
                .try_for_each(|(c, (ic, dc))| -> RmlResult<()> {
                    cancel.check()?;
                    let mut heap = KHeap::new(k);
                    let mut buf = Vec::with_capacity(k);
                    let mut q = vec![F::zero(); self.d];
                    for (r, (ir, dr)) in ic.chunks_exact_mut(k).zip(dc.chunks_exact_mut(k)).enumerate() {
                        for (o, &v) in q.iter_mut().zip(x.row(c * chunk + r).iter()) {
                            *o = v;
                        }
                        heap.clear();
                        let root = dm.min_rdist(&q, self.lo(0), self.hi(0));
                        self.knn_rec(dm, &q, 0, root, &mut heap);
                        heap.write_sorted(metric, &mut buf, ir, dr);
                    }
                    Ok(())
                })
        })?;
        let indices = Array2::from_shape_vec((m, k), ind).map_err(|e| RmlError::Internal(e.to_string()))?;
        let distances = if return_distance {
            Array2::from_shape_vec((m, k), dist).map_err(|e| RmlError::Internal(e.to_string()))?
        } else {
            Array2::zeros((0, 0))
        };
        Ok(KnnResult { distances, indices })
    }

    fn knn_rec<D: BoxDist<F>>(&self, dm: D, q: &[F], node: usize, min_rd: F, heap: &mut KHeap<F>) {
        // Strict: a node whose bound equals the k-th distance may still hold a tie with a
        // smaller training index.
        if min_rd > heap.worst() {
            return;
        }
        let nd = self.nodes[node];
        if nd.leaf {
            let mut worst = heap.worst();
            for p in nd.start..nd.end {
                let rd = dm.rdist(q, self.row(p));
                if rd <= worst {
                    heap.push(rd, self.idx[p]);
                    worst = heap.worst();
                }
            }
        } else {
            let l = 2 * node + 1;
            let r = l + 1;
            let dl = dm.min_rdist(q, self.lo(l), self.hi(l));
            let dr = dm.min_rdist(q, self.lo(r), self.hi(r));
            if dl <= dr {
                self.knn_rec(dm, q, l, dl, heap);
                self.knn_rec(dm, q, r, dr, heap);
            } else {
                self.knn_rec(dm, q, r, dr, heap);
                self.knn_rec(dm, q, l, dl, heap);
            }
        }
    }

    fn radii(&self, r: &ArrayView1<f64>, m: usize, metric: Metric) -> RmlResult<impl Fn(usize) -> f64 + Sync + '_> {
        ensure!(
            r.len() == m || r.len() == 1,
            "r must be a scalar or have one entry per query ({m}), got {} entries",
            r.len()
        );
        let rr: Vec<f64> = r.iter().map(|&v| reduced_radius(metric, v)).collect();
        Ok(move |i: usize| if rr.len() == 1 { rr[0] } else { rr[i] })
    }

    /// Training points within distance `r` (inclusive) of every row of `x`; `r` has one entry
    /// per query or a single entry for all. CSR-shaped result. With `sort_results` each row is
    /// sorted by (distance, training index); otherwise rows are in tree order (deterministic).
    /// Distances are returned only when `return_distance` is set.
    pub fn query_radius(
        &self,
        x: ArrayView2<F>,
        r: ArrayView1<f64>,
        metric: Metric,
        return_distance: bool,
        sort_results: bool,
        cancel: &Cancel,
    ) -> RmlResult<RadiusResult<F>> {
        self.check_queries(&x)?;
        let m = x.nrows();
        let radius = self.radii(&r, m, metric)?;
        let chunk = chunk_rows(m);
        let n_chunks = m.div_ceil(chunk);
        let need_rd = return_distance || sort_results;
        type Part<F> = (Vec<usize>, Vec<i64>, Vec<F>);
        let parts: Vec<Part<F>> = with_dist!(metric, F, dm => {
            (0..n_chunks)
                .into_par_iter()
                .map(|c| -> RmlResult<Part<F>> {
                    cancel.check()?;
                    let (r0, r1) = (c * chunk, ((c + 1) * chunk).min(m));
                    let mut counts = Vec::with_capacity(r1 - r0);
                    let mut ind = Vec::new();
                    let mut rds = Vec::new();
                    let mut q = vec![F::zero(); self.d];
                    let mut buf: Vec<(F, i64)> = Vec::new();
                    for row in r0..r1 {
                        for (o, &v) in q.iter_mut().zip(x.row(row).iter()) {
                            *o = v;
                        }
                        let start = ind.len();
                        self.radius_rec(dm, &q, 0, radius(row), need_rd, &mut ind, &mut rds);
                        if need_rd {
                            if return_distance {
                                for v in &mut rds[start..] {
                                    *v = metric.rdist_to_dist(*v);
                                }
                            }
                            if sort_results {
                                buf.clear();
                                buf.extend(rds[start..].iter().copied().zip(ind[start..].iter().copied()));
                                buf.sort_unstable_by(cmp_pair);
                                for (t, &(d, i)) in buf.iter().enumerate() {
                                    rds[start + t] = d;
                                    ind[start + t] = i;
                                }
                            }
                        }
                        counts.push(ind.len() - start);
                    }
                    if !return_distance {
                        rds = Vec::new();
                    }
                    Ok((counts, ind, rds))
                })
                .collect::<RmlResult<Vec<_>>>()
        })?;
        let total: usize = parts.iter().map(|p| p.1.len()).sum();
        let mut out = RadiusResult { distances: Vec::new(), indices: Vec::new(), offsets: Vec::with_capacity(m + 1) };
        out.indices.try_reserve_exact(total).map_err(|_| RmlError::TooLarge(format!("input too large: {total} radius neighbours")))?;
        if return_distance {
            out.distances
                .try_reserve_exact(total)
                .map_err(|_| RmlError::TooLarge(format!("input too large: {total} radius neighbours")))?;
        }
        out.offsets.push(0);
        let mut acc = 0usize;
        for (counts, ind, rds) in parts {
            for c in counts {
                acc += c;
                out.offsets.push(acc);
            }
            out.indices.extend_from_slice(&ind);
            out.distances.extend_from_slice(&rds);
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn radius_rec<D: BoxDist<F>>(
        &self,
        dm: D,
        q: &[F],
        node: usize,
        rr: f64,
        need_rd: bool,
        ind: &mut Vec<i64>,
        rds: &mut Vec<F>,
    ) {
        let (lo, hi) = (self.lo(node), self.hi(node));
        if dm.min_rdist(q, lo, hi).as_f64() > rr {
            return;
        }
        let nd = self.nodes[node];
        if !need_rd && dm.max_rdist(q, lo, hi).as_f64() <= rr {
            ind.extend_from_slice(&self.idx[nd.start..nd.end]);
            return;
        }
        if nd.leaf {
            for p in nd.start..nd.end {
                let rd = dm.rdist(q, self.row(p));
                if rd.as_f64() <= rr {
                    ind.push(self.idx[p]);
                    if need_rd {
                        rds.push(rd);
                    }
                }
            }
        } else {
            self.radius_rec(dm, q, 2 * node + 1, rr, need_rd, ind, rds);
            self.radius_rec(dm, q, 2 * node + 2, rr, need_rd, ind, rds);
        }
    }

    /// Number of training points within distance `r` (inclusive) of every row of `x`.
    pub fn count_radius(
        &self,
        x: ArrayView2<F>,
        r: ArrayView1<f64>,
        metric: Metric,
        cancel: &Cancel,
    ) -> RmlResult<Vec<i64>> {
        self.check_queries(&x)?;
        let m = x.nrows();
        let radius = self.radii(&r, m, metric)?;
        let mut counts = vec![0i64; m];
        let chunk = chunk_rows(m);
        with_dist!(metric, F, dm => {
            counts.par_chunks_mut(chunk).enumerate().try_for_each(|(c, out)| -> RmlResult<()> {
                cancel.check()?;
                let mut q = vec![F::zero(); self.d];
                for (t, o) in out.iter_mut().enumerate() {
                    let row = c * chunk + t;
                    for (qq, &v) in q.iter_mut().zip(x.row(row).iter()) {
                        *qq = v;
                    }
                    *o = self.count_rec(dm, &q, 0, radius(row)) as i64;
                }
                Ok(())
            })
        })?;
        Ok(counts)
    }

    fn count_rec<D: BoxDist<F>>(&self, dm: D, q: &[F], node: usize, rr: f64) -> usize {
        let (lo, hi) = (self.lo(node), self.hi(node));
        if dm.min_rdist(q, lo, hi).as_f64() > rr {
            return 0;
        }
        let nd = self.nodes[node];
        if dm.max_rdist(q, lo, hi).as_f64() <= rr {
            return nd.end - nd.start;
        }
        if nd.leaf {
            (nd.start..nd.end).filter(|&p| dm.rdist(q, self.row(p)).as_f64() <= rr).count()
        } else {
            self.count_rec(dm, q, 2 * node + 1, rr) + self.count_rec(dm, q, 2 * node + 2, rr)
        }
    }
}
