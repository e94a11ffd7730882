//! Single linkage by Prim's minimum spanning tree (scikit-learn's `mst_linkage_core` and
//! scipy's `mst_single_linkage`, which share the same loop): O(n^2) time, O(n) memory when
//! distances are computed on the fly.

use super::{Input, Merge, RowMetric};
use rayon::prelude::*;
use rml_core::{Cancel, RmlResult};

/// Out-of-tree points scanned per parallel task.
#[cfg(not(test))]
const PAR_ROWS: usize = 2048;
#[cfg(test)]
const PAR_ROWS: usize = 256;

/// Euclidean distance, summed in index order (bit-identical to scikit-learn's
/// `DistanceMetric` and scipy's plain loop).
#[inline]
pub(crate) fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (u, v) in a.iter().zip(b) {
        let t = u - v;
        s += t * t;
    }
    s.sqrt()
}

/// Manhattan (cityblock) distance, summed in index order.
#[inline]
pub(crate) fn manhattan(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (u, v) in a.iter().zip(b) {
        s += (u - v).abs();
    }
    s
}

/// Cosine distance `1 - a.b / (|a| |b|)`, clipped to `[0, 2]` as scipy does.
#[inline]
pub(crate) fn cosine(a: &[f64], b: &[f64], na: f64, nb: f64) -> f64 {
    let mut s = 0.0;
    for (u, v) in a.iter().zip(b) {
        s += u * v;
    }
    (1.0 - s / (na * nb)).clamp(0.0, 2.0)
}

/// Prim's algorithm as both libraries write it: the merge of step k is
/// `(the point added at step k - 1, the point added now, its distance to the tree)`.
pub(crate) fn prim(input: Input<'_>, cancel: &Cancel) -> RmlResult<Vec<Merge>> {
    if let Input::Rows { x, n, d, metric } = input {
        if d <= MAX_SOA_D {
            return prim_rows(x, n, d, metric, cancel);
        }
    }
    let n = input.n();
    // Compact list of points not yet in the tree and their current distance to it.
    let mut out_ids: Vec<usize> = (1..n).collect();
    let mut cur: Vec<f64> = vec![f64::INFINITY; n - 1];
    let norms: Vec<f64> = match input {
        Input::Rows { x, d, metric: RowMetric::Cosine, .. } => x
            .chunks_exact(d)
            .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
            .collect(),
        _ => Vec::new(),
    };
    let dist = |a: usize, b: usize| -> f64 {
        match input {
            Input::Rows { x, d, metric, .. } => {
                let (ra, rb) = (&x[a * d..(a + 1) * d], &x[b * d..(b + 1) * d]);
                match metric {
                    RowMetric::Euclidean => euclidean(ra, rb),
                    RowMetric::Manhattan => manhattan(ra, rb),
                    RowMetric::Cosine => cosine(ra, rb, norms[a], norms[b]),
                }
            }
            // scipy / scikit-learn read the upper triangle only.
            Input::Precomputed { dist, n } => {
                if a < b {
                    dist[a * n + b]
                } else {
                    dist[b * n + a]
                }
            }
        }
    };
    let mut merges = Vec::with_capacity(n - 1);
    let mut current = 0usize;
    while !out_ids.is_empty() {
        cancel.check()?;
        // Update distances to the tree and find the closest point: smallest distance, then
        // smallest index (the strict `<` of an index-ordered loop).
        let init = (f64::INFINITY, usize::MAX, usize::MAX);
        let pick = |acc: (f64, usize, usize), cand: (f64, usize, usize)| {
            match acc.0.total_cmp(&cand.0) {
                std::cmp::Ordering::Less => acc,
                std::cmp::Ordering::Greater => cand,
                std::cmp::Ordering::Equal => {
                    if acc.1 <= cand.1 {
                        acc
                    } else {
                        cand
                    }
                }
            }
        };
        let ids = &out_ids;
        let work = |(p0, block): (usize, &mut [f64])| {
            let mut best = init;
            for (off, c) in block.iter_mut().enumerate() {
                let p = p0 + off;
                let j = ids[p];
                let left = dist(current, j);
                if left < *c {
                    *c = left;
                }
                best = pick(best, (*c, j, p));
            }
            best
        };
        let best = if cur.len() < 2 * PAR_ROWS {
            work((0, &mut cur[..]))
        } else {
            cur.par_chunks_mut(PAR_ROWS)
                .enumerate()
                .map(|(b, blk)| work((b * PAR_ROWS, blk)))
                .reduce(|| init, pick)
        };
        let (dmin, next, p) = if best.1 == usize::MAX {
            // Every remaining distance is NaN: take the first remaining point.
            (cur[0], out_ids[0], 0)
        } else {
            best
        };
        merges.push(Merge { a: current, b: next, dist: dmin });
        current = next;
        out_ids.swap_remove(p);
        cur.swap_remove(p);
    }
    Ok(merges)
}

/// Widest rows the feature-major Prim handles (the current point is kept on the stack).
const MAX_SOA_D: usize = 64;
/// Points per SIMD block.
const PB: usize = 8;

type Best = (f64, usize, usize);

#[inline]
fn pick(a: Best, b: Best) -> Best {
    match a.0.total_cmp(&b.0) {
        std::cmp::Ordering::Less => a,
        std::cmp::Ordering::Greater => b,
        std::cmp::Ordering::Equal => {
            if a.1 <= b.1 {
                a
            } else {
                b
            }
        }
    }
}

/// The out-of-tree points of [`prim_rows`]: compact, feature-major (`cols[j * cap + p]`).
struct OutSet {
    cap: usize,
    metric: RowMetric,
    cols: Vec<f64>,
    nrm: Vec<f64>,
    ids: Vec<usize>,
}

impl OutSet {
    /// Update `cur` (positions `lo..lo + cur.len()`, valid below `hi`) with the distances to
    /// the point `cx` and return the closest `(distance, id, position)`.
    fn block(&self, cur: &mut [f64], cx: &[f64], cn: f64, lo: usize, hi: usize) -> Best {
        let cap = self.cap;
        let mut best = (f64::INFINITY, usize::MAX, usize::MAX);
        let mut p0 = lo;
        while p0 < hi {
            let mut acc = [0.0f64; PB];
            match self.metric {
                RowMetric::Euclidean => {
                    for (j, &xj) in cx.iter().enumerate() {
                        let c = &self.cols[j * cap + p0..j * cap + p0 + PB];
                        for q in 0..PB {
                            let t = xj - c[q];
                            acc[q] += t * t;
                        }
                    }
                    for a in acc.iter_mut() {
                        *a = a.sqrt();
                    }
                }
                RowMetric::Manhattan => {
                    for (j, &xj) in cx.iter().enumerate() {
                        let c = &self.cols[j * cap + p0..j * cap + p0 + PB];
                        for q in 0..PB {
                            acc[q] += (xj - c[q]).abs();
                        }
                    }
                }
                RowMetric::Cosine => {
                    for (j, &xj) in cx.iter().enumerate() {
                        let c = &self.cols[j * cap + p0..j * cap + p0 + PB];
                        for q in 0..PB {
                            acc[q] += xj * c[q];
                        }
                    }
                    let nb = &self.nrm[p0..p0 + PB];
                    for q in 0..PB {
                        acc[q] = (1.0 - acc[q] / (cn * nb[q])).clamp(0.0, 2.0);
                    }
                }
            }
            let m = PB.min(hi - p0);
            let cb = &mut cur[p0 - lo..p0 - lo + m];
            for q in 0..m {
                if acc[q] < cb[q] {
                    cb[q] = acc[q];
                }
                let v = cb[q];
                if v <= best.0 || v.is_nan() {
                    best = pick(best, (v, self.ids[p0 + q], p0 + q));
                }
            }
            p0 += PB;
        }
        best
    }
}

/// Prim over raw rows with the out-of-tree points stored compactly and feature-major, eight
/// distances per step. Each lane sums its features in index order, so distances are
/// bit-identical to [`euclidean`] / [`manhattan`] / [`cosine`].
fn prim_rows(
    x: &[f64],
    n: usize,
    d: usize,
    metric: RowMetric,
    cancel: &Cancel,
) -> RmlResult<Vec<Merge>> {
    let cap = n + PB;
    let norms: Vec<f64> = if metric == RowMetric::Cosine {
        x.chunks_exact(d).map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt()).collect()
    } else {
        Vec::new()
    };
    let mut set = OutSet {
        cap,
        metric,
        cols: rml_core::size::try_zeroed_vec::<f64>(cap, d, "prim points")?,
        nrm: vec![1.0f64; cap],
        ids: (1..n).collect(),
    };
    for (p, i) in (1..n).enumerate() {
        for j in 0..d {
            set.cols[j * cap + p] = x[i * d + j];
        }
        if metric == RowMetric::Cosine {
            set.nrm[p] = norms[i];
        }
    }
    let mut cur: Vec<f64> = vec![f64::INFINITY; n];
    let mut len = n - 1;
    let mut merges = Vec::with_capacity(n - 1);
    let mut current = 0usize;
    let mut cxb = [0.0f64; MAX_SOA_D];
    while len > 0 {
        cancel.check()?;
        cxb[..d].copy_from_slice(&x[current * d..(current + 1) * d]);
        let cx = &cxb[..d];
        let cn = if metric == RowMetric::Cosine { norms[current] } else { 1.0 };
        let best = if len < 2 * PAR_ROWS {
            set.block(&mut cur[..len], cx, cn, 0, len)
        } else {
            let set_r = &set;
            cur[..len]
                .par_chunks_mut(PAR_ROWS)
                .enumerate()
                .map(|(b, c)| {
                    let lo = b * PAR_ROWS;
                    let hi = lo + c.len();
                    set_r.block(c, cx, cn, lo, hi)
                })
                .reduce(|| (f64::INFINITY, usize::MAX, usize::MAX), pick)
        };
        let (dmin, next, p) = if best.1 == usize::MAX { (cur[0], set.ids[0], 0) } else { best };
        merges.push(Merge { a: current, b: next, dist: dmin });
        current = next;
        let last = len - 1;
        if p != last {
            for j in 0..d {
                set.cols[j * cap + p] = set.cols[j * cap + last];
            }
            set.nrm[p] = set.nrm[last];
            cur[p] = cur[last];
            set.ids[p] = set.ids[last];
        }
        set.ids.truncate(last);
        len = last;
    }
    Ok(merges)
}
