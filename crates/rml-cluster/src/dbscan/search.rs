//! The neighbour queries DBSCAN and OPTICS need, over one fitted index: radius neighbours of
//! a batch of training rows, the k-th neighbour distance of a batch of training rows, and
//! distances from one training row to a list of others.
//!
//! Every distance is computed exactly (no dot-product expansion), so the neighbour relation
//! is symmetric: `dist(a, b) == dist(b, a)` bit for bit. DBSCAN's one-pass union-find relies
//! on that (an edge seen from either end is the same edge).
//!
//! Computation is in `f64`: scikit-learn's KD-tree (its `auto` choice in low dimension)
//! works in float64 even for float32 input, so float32 data is widened (exactly) before the
//! call and the `eps` boundary falls where scikit-learn's does.

use ndarray::{s, Array1, Array2, ArrayView2};
use rml_neighbors::{KdTree, KdTreeView};
use rayon::prelude::*;
use rml_core::{ensure, ensure_param, Cancel, RmlError, RmlResult};
use rml_distances::{Metric, RadiusResult};

/// One fitted neighbour index over the training rows.
pub enum Search<'a> {
    /// Exhaustive search over the rows of `x` (parallel over query rows).
    Brute { x: ArrayView2<'a, f64>, metric: Metric },
    /// A dense precomputed distance matrix `d[i, j]`.
    Precomputed { d: ArrayView2<'a, f64> },
    /// rml-neighbors' KD-tree over the rows of `x` (Minkowski-family metrics).
    KdTree { x: ArrayView2<'a, f64>, metric: Metric, view: KdTreeView<'a, f64>, tree: &'a KdTree<f64> },
}

/// Largest dimension for which `algorithm='auto'` picks the KD-tree. scikit-learn stops at 15;
/// rml's exact brute force is slower than its KD-tree well beyond that on clustered data
/// (measured: 8x at d=16), and results do not depend on the choice.
pub const AUTO_KD_MAX_FEATURES: usize = 64;

impl<'a> Search<'a> {
    /// The index scikit-learn's `(metric, p, algorithm, leaf_size)` ask for over `x`.
    ///
    /// `metric` is a scikit-learn metric name or `"precomputed"` (then `x` is the square
    /// distance matrix); `algorithm` is `"auto"`, `"brute"`, `"kd_tree"` or `"ball_tree"`
    /// (the last served by the KD-tree: same neighbours, exact distances either way).
    ///
    /// `tree` receives the KD-tree's arrays when one is built (the search borrows them).
    pub fn new(
        x: ArrayView2<'a, f64>,
        metric: &str,
        p: f64,
        algorithm: &str,
        leaf_size: usize,
        tree: &'a mut Option<KdTree<f64>>,
    ) -> RmlResult<Self> {
        ensure_param!(leaf_size >= 1, "leaf_size must be >= 1, got {leaf_size}");
        ensure_param!(
            matches!(algorithm, "auto" | "brute" | "kd_tree" | "ball_tree"),
            "unknown algorithm {algorithm:?}"
        );
        if metric == "precomputed" {
            return Self::precomputed(x);
        }
        let metric = Metric::parse(metric, p)?;
        if matches!(algorithm, "kd_tree" | "ball_tree") && !metric.is_minkowski_family() {
            return Err(RmlError::InvalidParameter(format!(
                "Metric '{metric:?}' not valid for algorithm '{algorithm}'"
            )));
        }
        let use_tree = match algorithm {
            "kd_tree" | "ball_tree" => true,
            "brute" => false,
            _ => metric.is_minkowski_family() && x.ncols() <= AUTO_KD_MAX_FEATURES && x.nrows() > 32,
        };
        if use_tree && x.nrows() > 0 {
            Self::kd_tree(x, metric, leaf_size, tree)
        } else {
            Self::brute(x, metric)
        }
    }

    /// A KD-tree over the rows of `x`, its arrays stored in `tree`.
    pub fn kd_tree(
        x: ArrayView2<'a, f64>,
        metric: Metric,
        leaf_size: usize,
        tree: &'a mut Option<KdTree<f64>>,
    ) -> RmlResult<Self> {
        ensure!(x.is_standard_layout(), "X must be C-contiguous");
        ensure_param!(metric.is_minkowski_family(), "the KD-tree needs a Minkowski-family metric");
        let t: &'a KdTree<f64> = tree.insert(KdTree::build(x, leaf_size)?);
        let view = t.view(x)?;
        Ok(Search::KdTree { x, metric, view, tree: t })
    }

    /// Query rows as a matrix: a zero-copy slice when `rows` is a contiguous range.
    fn query_rows(x: &ArrayView2<'a, f64>, rows: &[usize]) -> QueryRows<'a> {
        if let (Some(&a), Some(&b)) = (rows.first(), rows.last()) {
            if b + 1 - a == rows.len() && rows.windows(2).all(|w| w[1] == w[0] + 1) {
                return QueryRows::View(x.slice_move(s![a..=b, ..]));
            }
        }
        let mut q = Array2::zeros((rows.len(), x.ncols()));
        for (k, &i) in rows.iter().enumerate() {
            q.row_mut(k).assign(&x.row(i));
        }
        QueryRows::Owned(q)
    }

    /// Exhaustive search over the rows of `x` (must be C-contiguous and finite).
    pub fn brute(x: ArrayView2<'a, f64>, metric: Metric) -> RmlResult<Self> {
        ensure!(x.is_standard_layout(), "X must be C-contiguous");
        Ok(Search::Brute { x, metric })
    }

    /// A square precomputed distance matrix (C-contiguous).
    pub fn precomputed(d: ArrayView2<'a, f64>) -> RmlResult<Self> {
        ensure!(d.is_standard_layout(), "the distance matrix must be C-contiguous");
        ensure!(
            d.nrows() == d.ncols(),
            "a precomputed distance matrix must be square, got {} x {}",
            d.nrows(),
            d.ncols()
        );
        Ok(Search::Precomputed { d })
    }

    /// Number of training rows.
    pub fn n_samples(&self) -> usize {
        match self {
            Search::Brute { x, .. } => x.nrows(),
            Search::Precomputed { d } => d.nrows(),
            Search::KdTree { x, .. } => x.nrows(),
        }
    }

    /// Whether `dist(a, b) == dist(b, a)` is guaranteed (false for a user's precomputed
    /// matrix, which may be asymmetric).
    pub fn is_symmetric(&self) -> bool {
        !matches!(self, Search::Precomputed { .. })
    }

    /// Neighbours within `radius` (inclusive, `dist <= radius` as scikit-learn's
    /// `radius_neighbors`) of each training row in `rows`, CSR-shaped, in no particular order
    /// within a row. Distances are returned only when `with_dist`.
    pub fn radius_rows(
        &self,
        rows: &[usize],
        radius: f64,
        with_dist: bool,
        cancel: &Cancel,
    ) -> RmlResult<RadiusResult<f64>> {
        cancel.check()?;
        let per_row: Vec<(Vec<i64>, Vec<f64>)> = match self {
            Search::KdTree { x, metric, view, .. } => {
                let q = Self::query_rows(x, rows);
                let r = Array1::from_elem(1, radius);
                return view.query_radius(q.view(), r.view(), *metric, with_dist, false, cancel);
            }
            Search::Brute { x, metric } => {
                let r_red = metric.dist_to_rdist(radius);
                rows.par_iter()
                    .map(|&i| {
                        let a = x.row(i);
                        let a = a.as_slice().expect("C-contiguous");
                        let mut ind = Vec::new();
                        let mut dist = Vec::new();
                        for (j, b) in x.outer_iter().enumerate() {
                            let r = metric.rdist(a, b.as_slice().expect("C-contiguous"));
                            if r <= r_red {
                                ind.push(j as i64);
                                if with_dist {
                                    dist.push(metric.rdist_to_dist(r));
                                }
                            }
                        }
                        (ind, dist)
                    })
                    .collect()
            }
            Search::Precomputed { d } => rows
                .par_iter()
                .map(|&i| {
                    let mut ind = Vec::new();
                    let mut dist = Vec::new();
                    for (j, &v) in d.row(i).iter().enumerate() {
                        if v <= radius {
                            ind.push(j as i64);
                            if with_dist {
                                dist.push(v);
                            }
                        }
                    }
                    (ind, dist)
                })
                .collect(),
        };
        Ok(to_csr(per_row, with_dist))
    }

    /// Distance from each training row in `rows` to its `k`-th nearest training row, the row
    /// itself included (so `k = 1` gives 0), as scikit-learn's `kneighbors(X)[0][:, -1]`.
    pub fn kth_distance_rows(&self, rows: &[usize], k: usize, cancel: &Cancel) -> RmlResult<Vec<f64>> {
        cancel.check()?;
        let k = k.max(1);
        Ok(match self {
            Search::KdTree { x, metric, view, .. } => {
                let q = Self::query_rows(x, rows);
                let res = view.query(q.view(), k, *metric, true, cancel)?;
                res.distances.column(k - 1).to_vec()
            }
            Search::Brute { x, metric } => rows
                .par_iter()
                .map_init(Vec::new, |buf: &mut Vec<f64>, &i| {
                    let a = x.row(i);
                    let a = a.as_slice().expect("C-contiguous");
                    buf.clear();
                    buf.extend(x.outer_iter().map(|b| metric.rdist(a, b.as_slice().expect("C"))));
                    let kk = (k - 1).min(buf.len() - 1);
                    let (_, v, _) = buf.select_nth_unstable_by(kk, |p, q| p.total_cmp(q));
                    metric.rdist_to_dist(*v)
                })
                .collect(),
            Search::Precomputed { d } => rows
                .par_iter()
                .map_init(Vec::new, |buf: &mut Vec<f64>, &i| {
                    buf.clear();
                    buf.extend(d.row(i).iter().copied());
                    let kk = (k - 1).min(buf.len() - 1);
                    let (_, v, _) = buf.select_nth_unstable_by(kk, |p, q| p.total_cmp(q));
                    *v
                })
                .collect(),
        })
    }

    /// The metric, unless the distances are precomputed.
    pub fn metric(&self) -> Option<Metric> {
        match self {
            Search::Brute { metric, .. } | Search::KdTree { metric, .. } => Some(*metric),
            Search::Precomputed { .. } => None,
        }
    }

    /// Rows as one row-major slice, their length and the metric (None when precomputed).
    pub fn points(&self) -> Option<(&[f64], usize, Metric)> {
        match self {
            Search::Brute { x, metric } | Search::KdTree { x, metric, .. } => {
                Some((x.as_slice()?, x.ncols(), *metric))
            }
            Search::Precomputed { .. } => None,
        }
    }

    /// True distance from training row `i` to training row `j`.
    #[inline]
    pub fn dist(&self, i: usize, j: usize) -> f64 {
        match self {
            Search::Brute { x, metric } => {
                let a = x.row(i);
                let b = x.row(j);
                metric.dist(a.as_slice().expect("C"), b.as_slice().expect("C"))
            }
            Search::Precomputed { d } => d[[i, j]],
            Search::KdTree { x, metric, .. } => {
                let a = x.row(i);
                let b = x.row(j);
                metric.dist(a.as_slice().expect("C"), b.as_slice().expect("C"))
            }
        }
    }
}

enum QueryRows<'a> {
    View(ArrayView2<'a, f64>),
    Owned(Array2<f64>),
}

impl QueryRows<'_> {
    fn view(&self) -> ArrayView2<'_, f64> {
        match self {
            QueryRows::View(v) => v.view(),
            QueryRows::Owned(a) => a.view(),
        }
    }
}

/// Concatenate per-row neighbour lists into one CSR result.
pub(crate) fn to_csr(per_row: Vec<(Vec<i64>, Vec<f64>)>, with_dist: bool) -> RadiusResult<f64> {
    let total: usize = per_row.iter().map(|(i, _)| i.len()).sum();
    let mut out = RadiusResult {
        distances: Vec::with_capacity(if with_dist { total } else { 0 }),
        indices: Vec::with_capacity(total),
        offsets: Vec::with_capacity(per_row.len() + 1),
    };
    out.offsets.push(0);
    for (ind, dist) in per_row {
        out.indices.extend_from_slice(&ind);
        if with_dist {
            out.distances.extend_from_slice(&dist);
        }
        out.offsets.push(out.indices.len());
    }
    out
}
