//! Agglomerative (hierarchical) clustering in O(n^2) time, with scikit-learn's output.
//!
//! * **ward**: nearest-neighbour chain over cluster centroids, O(n d) memory. The Ward
//!   distance of clusters A and B is `sqrt(2 |A| |B| / (|A| + |B|)) * ||c_A - c_B||`, which is
//!   what scipy's Lance–Williams recurrence (used by scikit-learn) computes, without an
//!   n x n matrix.
//! * **complete / average**: nearest-neighbour chain over a full distance matrix (n^2
//!   floats: scipy's condensed matrix twice, as scikit-learn holds it), with scipy's
//!   Lance–Williams updates; column updates are deferred and replayed row by row
//!   ([`lazy`]), so the chain never strides down a column.
//! * **single**: Prim's minimum spanning tree, distances computed on the fly (O(n) memory) or
//!   read from a precomputed matrix.
//!
//! The chain follows scipy's `nn_chain` tie rules (start at the smallest active cluster; the
//! previous chain element wins ties; otherwise the smallest cluster index), merges are sorted
//! by distance with a stable sort and relabelled with a union-find, node `n + i` being the
//! i-th merge. [`cut`] is scikit-learn's `_hc_cut`, including the heap order that decides
//! label numbers.

mod chain;
mod cut;
mod lazy;
mod mst;

pub use cut::cut;

use rml_core::{ensure, Cancel, RmlError, RmlResult};

/// Linkage criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    Ward,
    Complete,
    Average,
    Single,
}

impl Linkage {
    /// Parse scikit-learn's name.
    pub fn parse(s: &str) -> RmlResult<Self> {
        Ok(match s {
            "ward" => Self::Ward,
            "complete" => Self::Complete,
            "average" => Self::Average,
            "single" => Self::Single,
            other => {
                return Err(RmlError::InvalidParameter(format!("unknown linkage {other:?}")))
            }
        })
    }
}

/// Metric between raw rows (the native ones; others arrive as a precomputed matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowMetric {
    Euclidean,
    Manhattan,
    Cosine,
}

impl RowMetric {
    /// Parse a scikit-learn metric name.
    pub fn parse(s: &str) -> RmlResult<Self> {
        Ok(match s {
            "euclidean" | "l2" => Self::Euclidean,
            "manhattan" | "l1" | "cityblock" => Self::Manhattan,
            "cosine" => Self::Cosine,
            other => {
                return Err(RmlError::InvalidParameter(format!(
                    "metric {other:?} is not computed natively; pass a precomputed matrix"
                )))
            }
        })
    }
}

/// What the tree is built from.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// `n x d` row-major rows and a metric.
    Rows { x: &'a [f64], n: usize, d: usize, metric: RowMetric },
    /// `n x n` row-major distances; only the upper triangle is read (as scikit-learn does).
    Precomputed { dist: &'a [f64], n: usize },
}

impl Input<'_> {
    fn n(&self) -> usize {
        match *self {
            Input::Rows { n, .. } | Input::Precomputed { n, .. } => n,
        }
    }
}

/// How the children of single-linkage merges are ordered: scikit-learn's own MST path
/// (used for vector metrics) keeps `(root of the older tree node, root of the new node)`;
/// scipy's `linkage` (used for precomputed and cosine) sorts each pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildOrder {
    Sorted,
    MstOrder,
}

/// A full binary tree in scikit-learn's convention.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    /// `children[i]` merged into node `n + i`.
    pub children: Vec<[i64; 2]>,
    /// Merge heights, non-decreasing.
    pub distances: Vec<f64>,
}

/// One merge as an algorithm produces it: clusters (or points) `a`, `b` at height `dist`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Merge {
    pub a: usize,
    pub b: usize,
    pub dist: f64,
}

/// Build the full tree.
pub fn linkage_tree(
    input: Input<'_>,
    linkage: Linkage,
    order: ChildOrder,
    cancel: &Cancel,
) -> RmlResult<Tree> {
    let n = input.n();
    ensure!(n >= 2, "agglomerative clustering needs at least 2 samples, got {n}");
    match input {
        Input::Rows { x, n, d, .. } => {
            ensure!(
                rml_core::size::checked_elems(n, d, "X")? == x.len(),
                "X has {} values, expected {n} x {d}",
                x.len()
            );
        }
        Input::Precomputed { dist, n } => {
            ensure!(
                rml_core::size::checked_elems(n, n, "distance matrix")? == dist.len(),
                "the distance matrix has {} values, expected {n} x {n}",
                dist.len()
            );
        }
    }
    let merges = match (linkage, input) {
        (Linkage::Ward, Input::Rows { x, n, d, metric: RowMetric::Euclidean }) => {
            chain::ward(x, n, d, cancel)?
        }
        (Linkage::Ward, _) => {
            return Err(RmlError::InvalidParameter(
                "ward linkage works with euclidean rows only".into(),
            ))
        }
        (Linkage::Single, input) => mst::prim(input, cancel)?,
        (l, input) => {
            let dm = lazy::square(input, cancel)?;
            lazy::generic(dm, n, l, cancel)?
        }
    };
    Ok(relabel(merges, n, order))
}

/// Stable sort by height, then union-find relabelling (scipy's `label`, or scikit-learn's
/// `_single_linkage_label` for [`ChildOrder::MstOrder`]).
pub(crate) fn relabel(mut merges: Vec<Merge>, n: usize, order: ChildOrder) -> Tree {
    merges.sort_by(|p, q| p.dist.total_cmp(&q.dist));
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    let find = |parent: &mut Vec<usize>, mut x: usize| {
        let mut root = x;
        while parent[root] != root {
            root = parent[root];
        }
        while parent[x] != root {
            let next = parent[x];
            parent[x] = root;
            x = next;
        }
        root
    };
    let mut children = Vec::with_capacity(n - 1);
    let mut distances = Vec::with_capacity(n - 1);
    for (i, m) in merges.iter().enumerate() {
        let ra = find(&mut parent, m.a);
        let rb = find(&mut parent, m.b);
        let node = n + i;
        parent[ra] = node;
        parent[rb] = node;
        let pair = match order {
            ChildOrder::Sorted => [ra.min(rb) as i64, ra.max(rb) as i64],
            ChildOrder::MstOrder => [ra as i64, rb as i64],
        };
        children.push(pair);
        distances.push(m.dist);
    }
    Tree { children, distances }
}

#[cfg(test)]
mod tests;
