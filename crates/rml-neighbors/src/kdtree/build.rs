//! KD-tree construction, laid out as scikit-learn lays out its `KDTree`.
//!
//! * The tree is complete and binary in heap order (children of node `i` are `2i+1`, `2i+2`)
//!   with `n_levels = floor(log2(max(1, (n-1)/leaf_size))) + 1` levels, so its depth is bounded
//!   by `log2(n)` whatever the data (all-identical points included) and leaves hold between
//!   `leaf_size` and `2 * leaf_size` points (scikit-learn's rule).
//! * A node `[s, e)` splits at `m = s + (e - s) / 2` on the dimension of largest spread
//!   (first one on ties) by selection (expected O(e - s)), so the left child holds the `m - s`
//!   smallest coordinates.
//! * Node bounds are the tight min/max corners of the node's points.
//!
//! The build works level by level on a row-permuted copy of the data: each node's rows are
//! contiguous, every pass over them is sequential, and the nodes of one level are processed in
//! parallel on disjoint slices (no recursion, no unsafe).

use super::dist::total_cmp;
use super::KdTree;
use ndarray::{Array1, Array2, Array3, ArrayView2};
use rayon::prelude::*;
use rml_core::size::checked_elems;
use rml_core::{ensure, ensure_param, Cancel, Float, RmlError, RmlResult};
use std::cmp::Ordering;

/// Number of levels and nodes of the tree for `n` points, as scikit-learn computes them.
pub(crate) fn tree_shape(n: usize, leaf_size: usize) -> RmlResult<(usize, usize)> {
    ensure_param!(leaf_size >= 1, "leaf_size must be greater than or equal to 1, got {leaf_size}");
    ensure!(n >= 1, "cannot build a KD-tree on 0 points");
    let ratio = ((n - 1) as f64 / leaf_size as f64).max(1.0);
    let n_levels = ratio.log2().floor() as usize + 1;
    ensure!(n_levels < 63, "input too large for a KD-tree ({n} points)");
    let n_nodes = (1usize << n_levels) - 1;
    Ok((n_levels, n_nodes))
}

/// Node ranges `(start, end, is_leaf)` of the complete tree; `None` for unreachable nodes
/// (only possible when a node runs out of points before the last level, which scikit-learn's
/// level count rules out; kept for safety).
fn node_ranges(n: usize, n_nodes: usize) -> Vec<Option<(usize, usize, bool)>> {
    let mut out = vec![None; n_nodes];
    out[0] = Some((0, n, false));
    for i in 0..n_nodes {
        let Some((s, e, _)) = out[i] else { continue };
        let left = 2 * i + 1;
        if left >= n_nodes || e - s < 2 {
            out[i] = Some((s, e, true));
            continue;
        }
        let m = s + (e - s) / 2;
        out[left] = Some((s, m, false));
        out[left + 1] = Some((m, e, false));
    }
    out
}

/// Min and max corners of the `rows` (each of length `d`).
fn bounds_of<F: Float>(rows: &[F], d: usize) -> (Vec<F>, Vec<F>) {
    let mut lo = vec![F::infinity(); d];
    let mut hi = vec![F::neg_infinity(); d];
    for row in rows.chunks_exact(d) {
        for j in 0..d {
            let v = row[j];
            if v < lo[j] {
                lo[j] = v;
            }
            if v > hi[j] {
                hi[j] = v;
            }
        }
    }
    (lo, hi)
}

#[inline(always)]
fn key<F: Float>(rows: &[F], d: usize, dim: usize, i: usize) -> F {
    rows[i * d + dim]
}

#[inline(always)]
fn swap_rows<F: Float>(rows: &mut [F], idx: &mut [i64], d: usize, a: usize, b: usize) {
    if a != b {
        for j in 0..d {
            rows.swap(a * d + j, b * d + j);
        }
        idx.swap(a, b);
    }
}

#[inline(always)]
fn lt<F: Float>(a: F, b: F) -> bool {
    total_cmp(a, b) == Ordering::Less
}

/// Reorder `rows`/`idx` so that position `k` holds the row of k-th smallest coordinate `dim`,
/// every row before it is `<=` and every row after it `>=` (total order on floats).
///
/// Quickselect with Hoare partitioning on whole rows (sequential passes; equal keys split
/// evenly, so many duplicates stay linear), median-of-3 pivots, and a fallback to the
/// standard library's worst-case linear selection after too many rounds.
pub(crate) fn select_rows<F: Float>(rows: &mut [F], idx: &mut [i64], d: usize, dim: usize, k: usize) {
    let n = idx.len();
    debug_assert!(k < n);
    let (mut lo, mut hi) = (0usize, n);
    let mut budget = 2 * (usize::BITS - n.leading_zeros()) as usize + 8;
    while hi - lo > 16 {
        if budget == 0 {
            fallback_select(&mut rows[lo * d..hi * d], &mut idx[lo..hi], d, dim, k - lo);
            return;
        }
        budget -= 1;
        let mid = lo + (hi - lo) / 2;
        let (a, b, c) = (key(rows, d, dim, lo), key(rows, d, dim, mid), key(rows, d, dim, hi - 1));
        let pivot = if lt(a, b) {
            if lt(b, c) { b } else if lt(a, c) { c } else { a }
        } else if lt(a, c) {
            a
        } else if lt(b, c) {
            c
        } else {
            b
        };
        // Hoare partition: afterwards [lo, j] <= pivot and [j + 1, hi) >= pivot.
        let mut i = lo;
        let mut j = hi - 1;
        loop {
            while lt(key(rows, d, dim, i), pivot) {
                i += 1;
            }
            while lt(pivot, key(rows, d, dim, j)) {
                j -= 1;
            }
            if i >= j {
                break;
            }
            swap_rows(rows, idx, d, i, j);
            i += 1;
            j -= 1;
        }
        // The median-of-3 pivot guarantees lo <= j < hi - 1; if that ever fails, finish with
        // the guaranteed selection rather than loop.
        if j + 1 >= hi || j < lo {
            fallback_select(&mut rows[lo * d..hi * d], &mut idx[lo..hi], d, dim, k - lo);
            return;
        }
        if k <= j {
            hi = j + 1;
        } else {
            lo = j + 1;
        }
    }
    // Small range: insertion sort by key.
    for a in lo + 1..hi {
        let mut b = a;
        while b > lo && lt(key(rows, d, dim, b), key(rows, d, dim, b - 1)) {
            swap_rows(rows, idx, d, b, b - 1);
            b -= 1;
        }
    }
}

/// Worst-case linear selection through `select_nth_unstable_by` on (key, position) pairs,
/// then a gather of the rows into that order.
fn fallback_select<F: Float>(rows: &mut [F], idx: &mut [i64], d: usize, dim: usize, k: usize) {
    let n = idx.len();
    let mut keys: Vec<(F, usize)> = (0..n).map(|i| (rows[i * d + dim], i)).collect();
    keys.select_nth_unstable_by(k, |a, b| total_cmp(a.0, b.0));
    let mut new_rows = Vec::with_capacity(rows.len());
    let mut new_idx = Vec::with_capacity(n);
    for &(_, i) in &keys {
        new_rows.extend_from_slice(&rows[i * d..(i + 1) * d]);
        new_idx.push(idx[i]);
    }
    rows.copy_from_slice(&new_rows);
    idx.copy_from_slice(&new_idx);
}

/// Index of the first dimension of largest spread.
fn spread_dim<F: Float>(lo: &[F], hi: &[F]) -> (usize, F) {
    let mut best = 0;
    let mut best_spread = F::neg_infinity();
    for j in 0..lo.len() {
        let s = hi[j] - lo[j];
        if s > best_spread {
            best_spread = s;
            best = j;
        }
    }
    (best, best_spread)
}

impl<F: Float> KdTree<F> {
    /// Build a KD-tree over the rows of `data` (n x d, any layout) with scikit-learn's node
    /// layout. Runs in the caller's rayon pool. O(n d log(n / leaf_size)) time, O(n d) extra
    /// memory (a row-permuted working copy), bounded depth.
    pub fn build(data: ArrayView2<F>, leaf_size: usize) -> RmlResult<Self> {
        Self::build_cancellable(data, leaf_size, &Cancel::new())
    }

    /// [`KdTree::build`] that polls `cancel` between levels.
    pub fn build_cancellable(data: ArrayView2<F>, leaf_size: usize, cancel: &Cancel) -> RmlResult<Self> {
        let (n, d) = data.dim();
        ensure!(d >= 1, "cannot build a KD-tree on points with 0 features");
        let (_n_levels, n_nodes) = tree_shape(n, leaf_size)?;
        let total = checked_elems(n, d, "KD-tree working copy")?;
        let bounds_len = checked_elems(checked_elems(2, n_nodes, "KD-tree node bounds")?, d, "KD-tree node bounds")?;
        ensure!(n <= i64::MAX as usize, "input too large for int64 indices");

        // Row-major working copy (the final tree order) and the matching training indices.
        let mut rows: Vec<F> = Vec::new();
        rows.try_reserve_exact(total)
            .map_err(|_| RmlError::TooLarge(format!("input too large: KD-tree copy of {n} x {d}")))?;
        match data.as_slice() {
            Some(s) => rows.extend_from_slice(s),
            None => rows.extend(data.rows().into_iter().flat_map(|r| r.into_iter().copied().collect::<Vec<_>>())),
        }
        let mut idx: Vec<i64> = (0..n as i64).collect();

        let ranges = node_ranges(n, n_nodes);
        let mut node_data = Array2::<i64>::zeros((n_nodes, 3));
        let mut node_bounds = Array3::<F>::zeros((2, n_nodes, d));
        debug_assert_eq!(node_bounds.len(), bounds_len);

        let mut level_start = 0usize;
        while level_start < n_nodes {
            cancel.check()?;
            let level_end = (2 * level_start + 1).min(n_nodes);
            // Disjoint slices of the working copy, one per reachable node of this level, in
            // increasing position (levels partition [0, n) from left to right).
            let mut tasks: Vec<(usize, bool, &mut [F], &mut [i64])> = Vec::new();
            let (mut rest_rows, mut rest_idx) = (&mut rows[..], &mut idx[..]);
            let mut offset = 0usize;
            for node in level_start..level_end {
                let Some((s, e, leaf)) = ranges[node] else { continue };
                let skip = s - offset;
                let (_, r) = rest_rows.split_at_mut(skip * d);
                let (_, ri) = rest_idx.split_at_mut(skip);
                let (mine, r) = r.split_at_mut((e - s) * d);
                let (mine_i, ri) = ri.split_at_mut(e - s);
                rest_rows = r;
                rest_idx = ri;
                offset = e;
                tasks.push((node, leaf, mine, mine_i));
            }
            let results: Vec<(usize, Vec<F>, Vec<F>)> = tasks
                .into_par_iter()
                .map(|(node, leaf, rows, idx)| {
                    let (lo, hi) = bounds_of(rows, d);
                    let len = idx.len();
                    if !leaf && len >= 2 {
                        let (dim, spread) = spread_dim(&lo, &hi);
                        // Zero spread: every row is equal in every dimension; any split is a
                        // median split, so skip the selection (all-duplicate data stays linear).
                        if spread > F::zero() {
                            select_rows(rows, idx, d, dim, len / 2);
                        }
                    }
                    (node, lo, hi)
                })
                .collect();
            for (node, lo, hi) in results {
                for j in 0..d {
                    node_bounds[[0, node, j]] = lo[j];
                    node_bounds[[1, node, j]] = hi[j];
                }
            }
            level_start = level_end;
        }
        for (i, r) in ranges.iter().enumerate() {
            let (s, e, leaf) = r.unwrap_or((0, 0, true));
            node_data[[i, 0]] = s as i64;
            node_data[[i, 1]] = e as i64;
            node_data[[i, 2]] = leaf as i64;
        }
        Ok(KdTree { idx_array: Array1::from(idx), node_data, node_bounds })
    }
}
