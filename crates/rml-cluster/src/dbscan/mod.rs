//! DBSCAN with scikit-learn's labels, in memory O(n + one chunk of neighbourhoods).
//!
//! scikit-learn computes every eps-neighbourhood at once, marks core points (weight of the
//! neighbourhood, the point itself included, `>= min_samples`) and then, scanning points in
//! index order, grows a cluster from each unlabelled core point by depth-first search,
//! expanding core points only. Its labels are therefore fully determined by:
//! - the clusters are the connected components of core points under the eps relation;
//! - component labels are numbered in order of each component's smallest core index;
//! - a non-core point within eps of some core point gets the smallest label among those
//!   core points' components (the first cluster whose search reaches it); others are -1.
//!
//! rml reproduces exactly that, streaming the neighbourhoods chunk by chunk:
//! 1. one pass over chunks of rows (queries of the next chunk overlap with the work on the
//!    current one): neighbourhood weights give core flags; every edge `(u, v)` with `v < u`
//!    is seen once, from `u`'s row: core-core edges are unioned (the union-find keeps the
//!    smallest index as root), a core-noncore edge marks the non-core end as a border
//!    candidate;
//! 2. components are numbered by their root (= smallest core index);
//! 3. border candidates only are queried again and take the smallest neighbouring label.
//!
//! This relies on the relation being symmetric, which holds for every metric because rml
//! computes distances exactly (`search` module). A precomputed matrix may be asymmetric, so
//! it takes scikit-learn's own search order instead (rows scanned on demand; the input is
//! already n x n, nothing more is stored).

mod fast;
pub mod search;

use rml_core::{ensure_param, Cancel, RmlError, RmlResult};
use rml_distances::Metric;
pub use search::Search;

/// Checked DBSCAN hyperparameters.
#[derive(Debug, Clone)]
pub struct DbscanParams {
    eps: f64,
    min_samples: f64,
    /// Target number of neighbour entries held per chunk (memory bound).
    chunk_entries: usize,
}

impl DbscanParams {
    /// `eps > 0` finite or infinite (scikit-learn rejects inf in Python; the kernel accepts
    /// it), `min_samples >= 1`.
    pub fn new(eps: f64, min_samples: usize) -> RmlResult<Self> {
        ensure_param!(eps > 0.0, "eps must be > 0, got {eps}");
        ensure_param!(min_samples >= 1, "min_samples must be >= 1, got {min_samples}");
        Ok(Self { eps, min_samples: min_samples as f64, chunk_entries: 4 << 20 })
    }

    /// Override the number of neighbour entries a chunk aims at (at least one row is always
    /// processed per chunk). Mainly for tests of the chunking itself.
    pub fn with_chunk_entries(mut self, entries: usize) -> Self {
        self.chunk_entries = entries.max(1);
        self
    }
}

/// The fitted labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbscanResult {
    /// Cluster label of each sample, -1 for noise.
    pub labels: Vec<i64>,
    /// Indices of core samples, ascending.
    pub core_sample_indices: Vec<i64>,
}

/// Union-find whose root is always the smallest index of its set.
struct MinUnionFind {
    parent: Vec<u32>,
}

impl MinUnionFind {
    fn new(n: usize) -> Self {
        Self { parent: (0..n as u32).collect() }
    }
    #[inline]
    fn find(&mut self, mut a: u32) -> u32 {
        while self.parent[a as usize] != a {
            let p = self.parent[a as usize];
            let gp = self.parent[p as usize];
            self.parent[a as usize] = gp; // path halving
            a = gp;
        }
        a
    }
    /// Merge two distinct roots; the smaller index stays root and is returned.
    #[inline]
    fn link(&mut self, ra: u32, rb: u32) -> u32 {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        lo
    }
}

fn weight_of(nb: &[i64], w: Option<&[f64]>) -> f64 {
    match w {
        None => nb.len() as f64,
        Some(w) => nb.iter().map(|&j| w[j as usize]).sum(),
    }
}

/// Run DBSCAN over the training rows of `search`.
///
/// `sample_weight` (length n) weighs each neighbour as in scikit-learn: a point is core when
/// the weights of its eps-neighbourhood, itself included, sum to at least `min_samples`.
pub fn fit(
    search: &Search<'_>,
    params: &DbscanParams,
    sample_weight: Option<&[f64]>,
    cancel: &Cancel,
) -> RmlResult<DbscanResult> {
    let n = search.n_samples();
    if let Some(w) = sample_weight {
        if w.len() != n {
            return Err(RmlError::InvalidInput(format!(
                "sample_weight has {} entries, expected {n}",
                w.len()
            )));
        }
    }
    if n > u32::MAX as usize - 1 {
        return Err(RmlError::TooLarge(format!("input too large: {n} samples")));
    }
    if !search.is_symmetric() {
        return fit_ordered(search, params, sample_weight, cancel);
    }
    if let (None, Search::KdTree { x, metric: m @ (Metric::Euclidean | Metric::SqEuclidean), tree, .. }) =
        (sample_weight, search)
    {
        if let Some(flat) = x.as_slice() {
            // Same neighbour relation, far fewer distance computations (`fast` module).
            let index = fast::L2Index::new(flat, n, x.ncols(), tree)?;
            return fast::fit(&index, m.dist_to_rdist(params.eps), params, cancel);
        }
    }
    let mut core = vec![false; n];
    let mut candidate = vec![false; n];
    let mut uf = MinUnionFind::new(n);

    // Pass 1: chunks in index order; the query of chunk c+1 runs while chunk c is merged.
    let mut rows_per_chunk = 1024usize.min(n.max(1));
    let mut start = 0usize;
    let mut pending = if n > 0 {
        let rows: Vec<usize> = (0..rows_per_chunk.min(n)).collect();
        Some((rows.clone(), search.radius_rows(&rows, params.eps, false, cancel)?))
    } else {
        None
    };
    while let Some((rows, res)) = pending.take() {
        start += rows.len();
        // Adapt the chunk size to the observed neighbourhood sizes (memory bound).
        let avg = (res.indices.len() / rows.len().max(1)).max(1);
        rows_per_chunk = (params.chunk_entries / avg).clamp(64, 65536);
        let next_rows: Vec<usize> = (start..(start + rows_per_chunk).min(n)).collect();
        // Core flags of this chunk: needed before its edges are merged.
        for (k, &u) in rows.iter().enumerate() {
            core[u] = weight_of(res.row(k), sample_weight) >= params.min_samples;
        }
        let merge = |core: &Vec<bool>, candidate: &mut Vec<bool>, uf: &mut MinUnionFind| {
            for (k, &u) in rows.iter().enumerate() {
                if core[u] {
                    // The root of u's set, kept current as sets merge (saves a find per edge).
                    let mut ru = uf.find(u as u32);
                    for &v in res.row(k) {
                        let v = v as usize;
                        if v >= u {
                            continue;
                        }
                        if core[v] {
                            let rv = uf.find(v as u32);
                            if rv != ru {
                                ru = uf.link(ru, rv);
                            }
                        } else {
                            candidate[v] = true;
                        }
                    }
                } else if res.row(k).iter().any(|&v| (v as usize) < u && core[v as usize]) {
                    candidate[u] = true;
                }
            }
        };
        if next_rows.is_empty() {
            merge(&core, &mut candidate, &mut uf);
        } else {
            let (q, ()) = rayon::join(
                || search.radius_rows(&next_rows, params.eps, false, cancel),
                || merge(&core, &mut candidate, &mut uf),
            );
            pending = Some((next_rows, q?));
        }
    }

    // Pass 2: number components by their smallest core index.
    let mut labels = vec![-1i64; n];
    let mut n_labels = 0i64;
    let mut core_idx = Vec::new();
    for i in 0..n {
        if core[i] {
            core_idx.push(i as i64);
            let r = uf.find(i as u32) as usize;
            if r == i {
                labels[i] = n_labels;
                n_labels += 1;
            } else {
                labels[i] = labels[r];
            }
        }
    }
    drop(uf);

    // Pass 3: border candidates take the smallest label among their core neighbours.
    let cand: Vec<usize> = (0..n).filter(|&i| candidate[i] && !core[i]).collect();
    drop(candidate);
    let chunk = 4096usize;
    for rows in cand.chunks(chunk) {
        let res = search.radius_rows(rows, params.eps, false, cancel)?;
        for (k, &v) in rows.iter().enumerate() {
            let best = res
                .row(k)
                .iter()
                .filter(|&&u| core[u as usize])
                .map(|&u| labels[u as usize])
                .min();
            if let Some(b) = best {
                labels[v] = b;
            }
        }
    }
    Ok(DbscanResult { labels, core_sample_indices: core_idx })
}

/// scikit-learn's own traversal (index-order scan, depth-first growth), with each core
/// point's neighbourhood computed when it is expanded. Exact for any relation, symmetric or
/// not; used for precomputed matrices.
fn fit_ordered(
    search: &Search<'_>,
    params: &DbscanParams,
    sample_weight: Option<&[f64]>,
    cancel: &Cancel,
) -> RmlResult<DbscanResult> {
    let n = search.n_samples();
    let mut core = vec![false; n];
    let chunk = 1024usize;
    let all: Vec<usize> = (0..n).collect();
    for rows in all.chunks(chunk) {
        let res = search.radius_rows(rows, params.eps, false, cancel)?;
        for (k, &u) in rows.iter().enumerate() {
            core[u] = weight_of(res.row(k), sample_weight) >= params.min_samples;
        }
    }
    let mut labels = vec![-1i64; n];
    let mut label = 0i64;
    let mut stack: Vec<usize> = Vec::new();
    for i0 in 0..n {
        if labels[i0] != -1 || !core[i0] {
            continue;
        }
        cancel.check()?;
        // Labelling at push time reaches the same set as scikit-learn's labelling at pop
        // time (the set reachable through unlabelled core points), without duplicates.
        labels[i0] = label;
        stack.push(i0);
        while let Some(i) = stack.pop() {
            if !core[i] {
                continue;
            }
            let res = search.radius_rows(&[i], params.eps, false, cancel)?;
            for &v in res.row(0) {
                let v = v as usize;
                if labels[v] == -1 {
                    labels[v] = label;
                    stack.push(v);
                }
            }
        }
        label += 1;
    }
    let core_idx = (0..n).filter(|&i| core[i]).map(|i| i as i64).collect();
    Ok(DbscanResult { labels, core_sample_indices: core_idx })
}

#[cfg(test)]
pub(crate) mod tests;
