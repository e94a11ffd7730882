//! KD-tree for exact k-nearest-neighbour and radius queries under every Minkowski-family
//! metric (euclidean, sqeuclidean, manhattan, chebyshev, minkowski p).
//!
//! A fitted tree is three plain arrays ([`KdTree`]), the same ones scikit-learn's `KDTree`
//! exposes through `get_arrays()`: the permutation of training rows (`idx_array`), the node
//! ranges (`node_data`: idx_start, idx_end, is_leaf) and the node boxes (`node_bounds`). The
//! arrays live wherever the caller keeps them (Python keeps them as numpy arrays); queries go
//! through a [`KdTreeView`] that borrows them together with the training data, validates them
//! once (they may come back from a pickle and must never cause a panic) and can then be
//! queried any number of times, cheaply, on any slice of queries.
//!
//! Results are sorted by (distance, training index) and do not depend on the thread count.

mod build;
mod dist;
mod query;

#[cfg(test)]
mod tests;

use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3};
use rayon::prelude::*;
use rml_core::{ensure, Float, RmlError, RmlResult};

/// A fitted KD-tree: three owned arrays over the training data it was built from.
#[derive(Debug, Clone)]
pub struct KdTree<F> {
    /// Training-row indices in tree order (a permutation of `0..n`).
    pub idx_array: Array1<i64>,
    /// One row per node: `(idx_start, idx_end, is_leaf)`; node `i` covers
    /// `idx_array[idx_start..idx_end]`, its children are nodes `2i+1` and `2i+2`.
    pub node_data: Array2<i64>,
    /// `[2, n_nodes, d]`: min (`[0]`) and max (`[1]`) corners of each node's points.
    pub node_bounds: Array3<F>,
}

impl<F: Float> KdTree<F> {
    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.node_data.nrows()
    }

    /// A query view over this tree and the `data` it was built from.
    pub fn view<'a>(&'a self, data: ArrayView2<'a, F>) -> RmlResult<KdTreeView<'a, F>> {
        KdTreeView::new(data, self.idx_array.view(), self.node_data.view(), self.node_bounds.view())
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub start: usize,
    pub end: usize,
    pub leaf: bool,
}

/// A validated, query-ready KD-tree borrowing its arrays.
///
/// Construction costs O(n d): it validates the arrays and gathers the training rows into
/// tree order (so a leaf's points are contiguous in memory). Build it once and call the query
/// methods as often as needed, e.g. chunk by chunk.
#[derive(Debug)]
pub struct KdTreeView<'a, F> {
    /// Training indices in tree order (copied: contiguous, unchecked-free indexing).
    pub(crate) idx: Vec<i64>,
    _data: std::marker::PhantomData<ArrayView1<'a, F>>,
    pub(crate) n: usize,
    pub(crate) d: usize,
    /// Training rows in tree order, row-major (`n * d`).
    pub(crate) rows: Vec<F>,
    pub(crate) nodes: Vec<Node>,
    /// Per node: `d` lower then `d` upper bounds, contiguous.
    pub(crate) boxes: Vec<F>,
}

impl<'a, F: Float> KdTreeView<'a, F> {
    /// Validate the arrays of a tree over `data` and prepare it for queries.
    ///
    /// Checks, with an `InvalidInput` error (never a panic) on failure: `data` is n x d with
    /// n, d >= 1; `idx_array` is a permutation of `0..n`; `node_data` is `n_nodes x 3` and
    /// `node_bounds` is `2 x n_nodes x d`; the root covers `[0, n)`; every node reachable from
    /// the root has `0 <= idx_start <= idx_end <= n`, `is_leaf` in {0, 1}, and, if internal,
    /// two children inside the array whose ranges split its own range exactly.
    pub fn new(
        data: ArrayView2<'a, F>,
        idx_array: ArrayView1<'a, i64>,
        node_data: ArrayView2<'a, i64>,
        node_bounds: ArrayView3<'a, F>,
    ) -> RmlResult<Self> {
        let (n, d) = data.dim();
        ensure!(n >= 1 && d >= 1, "KD-tree data must be non-empty, got shape ({n}, {d})");
        ensure!(
            idx_array.len() == n,
            "invalid KD-tree: idx_array has {} entries for {n} data rows",
            idx_array.len()
        );
        ensure!(node_data.ncols() == 3, "invalid KD-tree: node_data must have 3 columns, got {}", node_data.ncols());
        let n_nodes = node_data.nrows();
        ensure!(n_nodes >= 1, "invalid KD-tree: no nodes");
        ensure!(
            node_bounds.dim() == (2, n_nodes, d),
            "invalid KD-tree: node_bounds has shape {:?}, expected (2, {n_nodes}, {d})",
            node_bounds.dim()
        );
        // idx_array must be a permutation of 0..n.
        let mut seen = vec![false; n];
        for &i in idx_array.iter() {
            ensure!(i >= 0 && (i as u64) < n as u64, "invalid KD-tree: index {i} out of range for {n} rows");
            ensure!(!std::mem::replace(&mut seen[i as usize], true), "invalid KD-tree: index {i} repeated");
        }
        drop(seen);

        // Walk the reachable nodes (children have larger ids, so this terminates).
        let mut nodes = vec![Node { start: 0, end: 0, leaf: true }; n_nodes];
        let mut reachable = vec![false; n_nodes];
        reachable[0] = true;
        let root = (node_data[[0, 0]], node_data[[0, 1]]);
        ensure!(root == (0, n as i64), "invalid KD-tree: root covers {:?}, expected (0, {n})", root);
        for i in 0..n_nodes {
            if !reachable[i] {
                continue;
            }
            let (s, e, leaf) = (node_data[[i, 0]], node_data[[i, 1]], node_data[[i, 2]]);
            ensure!(
                0 <= s && s <= e && e <= n as i64,
                "invalid KD-tree: node {i} range ({s}, {e}) outside (0, {n})"
            );
            ensure!(leaf == 0 || leaf == 1, "invalid KD-tree: node {i} is_leaf = {leaf}");
            nodes[i] = Node { start: s as usize, end: e as usize, leaf: leaf == 1 };
            if leaf == 0 {
                let l = i.checked_mul(2).and_then(|v| v.checked_add(1));
                let l = match l {
                    Some(l) if l + 1 < n_nodes => l,
                    _ => return Err(RmlError::InvalidInput(format!("invalid KD-tree: internal node {i} has no children"))),
                };
                let (ls, le) = (node_data[[l, 0]], node_data[[l, 1]]);
                let (rs, re) = (node_data[[l + 1, 0]], node_data[[l + 1, 1]]);
                ensure!(
                    ls == s && le == rs && re == e,
                    "invalid KD-tree: children of node {i} do not split ({s}, {e})"
                );
                reachable[l] = true;
                reachable[l + 1] = true;
            }
        }

        let mut boxes = vec![F::zero(); 2 * n_nodes * d];
        for i in 0..n_nodes {
            for j in 0..d {
                boxes[2 * i * d + j] = node_bounds[[0, i, j]];
                boxes[2 * i * d + d + j] = node_bounds[[1, i, j]];
            }
        }

        // Training rows in tree order.
        let mut rows = vec![F::zero(); n * d];
        const GATHER: usize = 4096;
        rows.par_chunks_mut(GATHER * d).enumerate().for_each(|(c, out)| {
            let base = c * GATHER;
            for (r, dst) in out.chunks_exact_mut(d).enumerate() {
                let src = data.row(idx_array[base + r] as usize);
                for (o, &v) in dst.iter_mut().zip(src.iter()) {
                    *o = v;
                }
            }
        });

        Ok(KdTreeView { idx: idx_array.to_vec(), _data: std::marker::PhantomData, n, d, rows, nodes, boxes })
    }

    /// Number of training points.
    pub fn n_samples(&self) -> usize {
        self.n
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.d
    }

    #[inline(always)]
    pub(crate) fn lo(&self, node: usize) -> &[F] {
        &self.boxes[2 * node * self.d..(2 * node + 1) * self.d]
    }

    #[inline(always)]
    pub(crate) fn hi(&self, node: usize) -> &[F] {
        &self.boxes[(2 * node + 1) * self.d..(2 * node + 2) * self.d]
    }

    #[inline(always)]
    pub(crate) fn row(&self, p: usize) -> &[F] {
        &self.rows[p * self.d..(p + 1) * self.d]
    }
}
