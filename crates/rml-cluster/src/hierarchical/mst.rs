//! Single linkage by Prim's minimum spanning tree (scikit-learn's `mst_linkage_core` and
//! scipy's `mst_single_linkage`, which share the same loop): O(n^2) time, O(n) memory when
//! distances are computed on the fly.

use super::{Input, Merge, RowMetric};
use rayon::prelude::*;
use rml_core::{Cancel, RmlResult};

/// Out-of-tree points scanned per parallel task.
#[cfg(not(test))]
const PAR_ROWS: usize = 4096;
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
