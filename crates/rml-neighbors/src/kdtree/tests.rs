//! KD-tree against a naive reference: every metric, float32 and float64, ties, duplicates,
//! degenerate trees, bad arrays (errors, never panics), thread-count independence.

use super::*;
use ndarray::{Array1, Array2, Array3};
use rml_core::{Cancel, Float};
use rml_distances::Metric;

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn random<F: Float>(n: usize, d: usize, seed: u64, grid: Option<f64>) -> Array2<F> {
    let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
    Array2::from_shape_fn((n, d), |_| {
        let v = rng.next();
        F::from_f64(match grid {
            Some(g) => (v * g).floor(),
            None => v * 10.0 - 5.0,
        })
    })
}

const METRICS: [Metric; 6] =
    [Metric::Euclidean, Metric::SqEuclidean, Metric::Manhattan, Metric::Chebyshev, Metric::Minkowski(3.0), Metric::Minkowski(0.5)];

/// Every (distance, index) pair of query `q`, sorted by (distance, index).
fn naive<F: Float>(data: &Array2<F>, q: &[F], metric: Metric) -> Vec<(F, i64)> {
    let mut all: Vec<(F, i64)> = data
        .rows()
        .into_iter()
        .enumerate()
        .map(|(i, row)| (metric.dist(q, row.as_slice().unwrap()), i as i64))
        .collect();
    all.sort_by(|a, b| a.0.as_f64().total_cmp(&b.0.as_f64()).then(a.1.cmp(&b.1)));
    all
}

fn naive_radius<F: Float>(data: &Array2<F>, q: &[F], metric: Metric, r: f64) -> Vec<(F, i64)> {
    data.rows()
        .into_iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let rd = metric.rdist(q, row.as_slice().unwrap());
            (rd.as_f64() <= metric.dist_to_rdist(r)).then(|| (metric.rdist_to_dist(rd), i as i64))
        })
        .collect()
}

fn check_knn<F: Float>(data: &Array2<F>, queries: &Array2<F>, leaf: usize, k: usize, metric: Metric) {
    let tree = KdTree::build(data.view(), leaf).unwrap();
    let view = tree.view(data.view()).unwrap();
    let res = view.query(queries.view(), k, metric, true, &Cancel::new()).unwrap();
    assert_eq!(res.indices.dim(), (queries.nrows(), k));
    for (qi, q) in queries.rows().into_iter().enumerate() {
        let want = naive(data, q.as_slice().unwrap(), metric);
        for t in 0..k {
            assert_eq!(res.indices[[qi, t]], want[t].1, "query {qi} rank {t} metric {metric:?} leaf {leaf}");
            assert_eq!(res.distances[[qi, t]], want[t].0, "query {qi} rank {t} metric {metric:?}");
        }
    }
}

#[test]
fn knn_matches_naive_every_metric_f64_and_f32() {
    for (seed, (n, d)) in [(200, 3), (333, 1), (150, 8), (64, 2)].into_iter().enumerate() {
        let data64 = random::<f64>(n, d, seed as u64, None);
        let q64 = random::<f64>(40, d, 100 + seed as u64, None);
        let data32 = data64.mapv(|v| v as f32);
        let q32 = q64.mapv(|v| v as f32);
        for metric in METRICS {
            for (leaf, k) in [(1, 1), (2, 3), (5, 5), (40, 15), (1000, 7)] {
                check_knn(&data64, &q64, leaf, k, metric);
                check_knn(&data32, &q32, leaf, k, metric);
            }
        }
    }
}

#[test]
fn ties_broken_by_training_index() {
    // Integer grid with many duplicates: lots of exactly equal distances.
    let data = random::<f64>(300, 2, 7, Some(4.0));
    let queries = random::<f64>(50, 2, 8, Some(4.0));
    for metric in METRICS {
        for (leaf, k) in [(1, 1), (3, 5), (10, 15), (40, 40), (7, 300)] {
            check_knn(&data, &queries, leaf, k, metric);
        }
    }
    let data32 = data.mapv(|v| v as f32);
    check_knn(&data32, &queries.mapv(|v| v as f32), 4, 9, Metric::Euclidean);
}

#[test]
fn query_points_are_training_points() {
    let data = random::<f64>(120, 4, 3, None);
    check_knn(&data, &data, 6, 3, Metric::Euclidean);
}

#[test]
fn all_identical_points_build_and_query() {
    // Bounded depth and linear work per level even when every point is the same.
    let n = 200_000;
    let data = Array2::<f64>::from_elem((n, 3), 1.5);
    let tree = KdTree::build(data.view(), 40).unwrap();
    assert!(tree.n_nodes() < 2 * n / 40);
    let view = tree.view(data.view()).unwrap();
    let q = Array2::<f64>::from_elem((3, 3), 1.0);
    let res = view.query(q.view(), 5, Metric::Euclidean, true, &Cancel::new()).unwrap();
    for row in res.indices.rows() {
        assert_eq!(row.to_vec(), vec![0, 1, 2, 3, 4]);
    }
    let counts = view.count_radius(q.view(), Array1::from(vec![1.0]).view(), Metric::Euclidean, &Cancel::new());
    assert_eq!(counts.unwrap(), vec![n as i64; 3]);
    // Half the points at another location.
    let mut data2 = data.clone();
    data2.slice_mut(ndarray::s![n / 2.., ..]).fill(-3.0);
    let tree2 = KdTree::build(data2.view(), 1).unwrap();
    let r = tree2.view(data2.view()).unwrap().query(q.view(), 2, Metric::Manhattan, false, &Cancel::new()).unwrap();
    assert_eq!(r.indices.row(0).to_vec(), vec![0, 1]);
}

#[test]
fn node_layout_is_sklearn_like() {
    let data = random::<f64>(1000, 3, 11, None);
    let tree = KdTree::build(data.view(), 40).unwrap();
    // n_levels = floor(log2(999 / 40)) + 1 = 5 -> 31 nodes, 16 leaves of 62-63 points.
    assert_eq!(tree.n_nodes(), 31);
    let mut perm = tree.idx_array.to_vec();
    perm.sort();
    assert_eq!(perm, (0..1000).collect::<Vec<i64>>());
    for i in 0..31 {
        let (s, e, leaf) = (tree.node_data[[i, 0]], tree.node_data[[i, 1]], tree.node_data[[i, 2]]);
        assert_eq!(leaf == 1, i >= 15);
        // Every point inside its node's box.
        for p in s..e {
            let row = data.row(tree.idx_array[p as usize] as usize);
            for j in 0..3 {
                assert!(tree.node_bounds[[0, i, j]] <= row[j] && row[j] <= tree.node_bounds[[1, i, j]]);
            }
        }
        if leaf == 0 {
            let m = s + (e - s) / 2;
            assert_eq!(tree.node_data[[2 * i + 1, 1]], m);
            // Split on the max-spread dimension: left max <= right min there.
            let spread: Vec<f64> = (0..3).map(|j| tree.node_bounds[[1, i, j]] - tree.node_bounds[[0, i, j]]).collect();
            let dim = (0..3).fold(0, |b, j| if spread[j] > spread[b] { j } else { b });
            assert!(tree.node_bounds[[1, 2 * i + 1, dim]] <= tree.node_bounds[[0, 2 * i + 2, dim]]);
        }
    }
    assert!(KdTree::build(data.view(), 0).is_err());
    assert!(KdTree::build(Array2::<f64>::zeros((0, 3)).view(), 1).is_err());
    assert!(KdTree::build(Array2::<f64>::zeros((3, 0)).view(), 1).is_err());
}

#[test]
fn one_point_and_k_errors() {
    let data = Array2::from_shape_vec((1, 2), vec![1.0f64, 2.0]).unwrap();
    let tree = KdTree::build(data.view(), 40).unwrap();
    assert_eq!(tree.n_nodes(), 1);
    let view = tree.view(data.view()).unwrap();
    let q = Array2::from_shape_vec((2, 2), vec![0.0, 0.0, 1.0, 2.0]).unwrap();
    let res = view.query(q.view(), 1, Metric::Euclidean, true, &Cancel::new()).unwrap();
    assert_eq!(res.indices.column(0).to_vec(), vec![0, 0]);
    assert!((res.distances[[0, 0]] - 5f64.sqrt()).abs() < 1e-15);
    assert!(view.query(q.view(), 2, Metric::Euclidean, true, &Cancel::new()).is_err());
    assert!(view.query(q.view(), 0, Metric::Euclidean, true, &Cancel::new()).is_err());
    assert!(view.query(q.view(), 1, Metric::Cosine, true, &Cancel::new()).is_err());
    assert!(view.query(q.view(), 1, Metric::Minkowski(0.0), true, &Cancel::new()).is_err());
    assert!(view.query(q.view(), 1, Metric::Minkowski(f64::NAN), true, &Cancel::new()).is_err());
    let bad_q = Array2::<f64>::zeros((2, 3));
    assert!(view.query(bad_q.view(), 1, Metric::Euclidean, true, &Cancel::new()).is_err());
    let empty_q = Array2::<f64>::zeros((0, 2));
    let res = view.query(empty_q.view(), 1, Metric::Euclidean, true, &Cancel::new()).unwrap();
    assert_eq!(res.indices.dim(), (0, 1));
    let cancel = Cancel::new();
    cancel.request();
    assert!(view.query(q.view(), 1, Metric::Euclidean, true, &cancel).is_err());
}

fn check_radius<F: Float>(data: &Array2<F>, queries: &Array2<F>, leaf: usize, r: &[f64], metric: Metric) {
    let tree = KdTree::build(data.view(), leaf).unwrap();
    let view = tree.view(data.view()).unwrap();
    let rv = Array1::from(r.to_vec());
    let c = Cancel::new();
    let sorted = view.query_radius(queries.view(), rv.view(), metric, true, true, &c).unwrap();
    let unsorted = view.query_radius(queries.view(), rv.view(), metric, true, false, &c).unwrap();
    let no_dist = view.query_radius(queries.view(), rv.view(), metric, false, false, &c).unwrap();
    let counts = view.count_radius(queries.view(), rv.view(), metric, &c).unwrap();
    assert_eq!(sorted.n_queries(), queries.nrows());
    assert!(no_dist.distances.is_empty());
    for (qi, q) in queries.rows().into_iter().enumerate() {
        let ri = if r.len() == 1 { r[0] } else { r[qi] };
        let mut want = naive_radius(data, q.as_slice().unwrap(), metric, ri);
        want.sort_by(|a, b| a.0.as_f64().total_cmp(&b.0.as_f64()).then(a.1.cmp(&b.1)));
        let (s, e) = (sorted.offsets[qi], sorted.offsets[qi + 1]);
        let got: Vec<(F, i64)> = (s..e).map(|t| (sorted.distances[t], sorted.indices[t])).collect();
        assert_eq!(got, want, "query {qi} metric {metric:?}");
        assert_eq!(counts[qi] as usize, want.len());
        let mut a: Vec<i64> = unsorted.row(qi).to_vec();
        a.sort();
        let mut b: Vec<i64> = no_dist.row(qi).to_vec();
        b.sort();
        let mut w: Vec<i64> = want.iter().map(|p| p.1).collect();
        w.sort();
        assert_eq!(a, w);
        assert_eq!(b, w);
    }
}

#[test]
fn radius_matches_naive() {
    let data = random::<f64>(300, 3, 21, None);
    let queries = random::<f64>(30, 3, 22, None);
    let per_query: Vec<f64> = (0..30).map(|i| i as f64 * 0.2).collect();
    for metric in METRICS {
        for leaf in [1, 4, 40] {
            check_radius(&data, &queries, leaf, &[2.5], metric);
            check_radius(&data, &queries, leaf, &per_query, metric);
            check_radius(&data.mapv(|v| v as f32), &queries.mapv(|v| v as f32), leaf, &[3.0], metric);
        }
    }
    // Ties on the boundary (integer grid, integer radius) and degenerate radii.
    let grid = random::<f64>(200, 2, 23, Some(5.0));
    let gq = random::<f64>(20, 2, 24, Some(5.0));
    for metric in METRICS {
        check_radius(&grid, &gq, 3, &[2.0], metric);
        check_radius(&grid, &gq, 3, &[0.0], metric);
        check_radius(&grid, &gq, 3, &[1e9], metric);
    }
    let tree = KdTree::build(grid.view(), 3).unwrap();
    let view = tree.view(grid.view()).unwrap();
    let c = Cancel::new();
    for bad in [-1.0, f64::NAN] {
        let res = view.query_radius(gq.view(), Array1::from(vec![bad]).view(), Metric::Euclidean, true, true, &c).unwrap();
        assert!(res.indices.is_empty());
    }
    let wrong_len = Array1::from(vec![1.0, 2.0]);
    assert!(view.query_radius(gq.view(), wrong_len.view(), Metric::Euclidean, true, true, &c).is_err());
    assert!(view.count_radius(gq.view(), wrong_len.view(), Metric::Euclidean, &c).is_err());
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let data = random::<f64>(3000, 3, 31, Some(20.0));
    let queries = random::<f64>(2000, 3, 32, Some(20.0));
    let tree = KdTree::build(data.view(), 8).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let t = KdTree::build(data.view(), 8).unwrap();
            assert_eq!(t.idx_array, tree.idx_array);
            assert_eq!(t.node_bounds, tree.node_bounds);
            let v = t.view(data.view()).unwrap();
            let c = Cancel::new();
            let knn = v.query(queries.view(), 10, Metric::Euclidean, true, &c).unwrap();
            let rad = v.query_radius(queries.view(), Array1::from(vec![3.0]).view(), Metric::Euclidean, true, false, &c).unwrap();
            (knn.indices, knn.distances, rad.indices, rad.distances, rad.offsets)
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn invalid_arrays_are_errors_not_panics() {
    let data = random::<f64>(100, 2, 41, None);
    let tree = KdTree::build(data.view(), 5).unwrap();
    let ok = |t: &KdTree<f64>, data: &Array2<f64>| {
        KdTreeView::new(data.view(), t.idx_array.view(), t.node_data.view(), t.node_bounds.view()).is_ok()
    };
    assert!(ok(&tree, &data));
    let mut t = tree.clone();
    t.idx_array[3] = 100;
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    t.idx_array[3] = -1;
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    t.idx_array[3] = t.idx_array[4];
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    t.node_data[[1, 1]] += 1;
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    t.node_data[[0, 1]] = 99;
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    t.node_data[[0, 2]] = 2;
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    let last = t.n_nodes() - 1;
    t.node_data[[last, 2]] = 0; // a leaf claiming children past the end
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    t.node_data[[last, 0]] = i64::MIN;
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    t.node_bounds = Array3::zeros((2, t.n_nodes(), 3));
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    t.node_data = Array2::zeros((0, 3));
    assert!(!ok(&t, &data));
    let mut t = tree.clone();
    t.node_data = Array2::zeros((t.n_nodes(), 2));
    assert!(!ok(&t, &data));
    let short = data.slice(ndarray::s![..99, ..]).to_owned();
    assert!(!ok(&tree, &short));
    // Bounds that lie (NaN, inverted) give wrong answers at worst, never a panic.
    let mut t = tree.clone();
    t.node_bounds.fill(f64::NAN);
    let v = t.view(data.view()).unwrap();
    let q = random::<f64>(5, 2, 42, None);
    v.query(q.view(), 3, Metric::Euclidean, true, &Cancel::new()).unwrap();
    v.query_radius(q.view(), Array1::from(vec![1.0]).view(), Metric::Chebyshev, true, true, &Cancel::new()).unwrap();
}

#[test]
fn non_contiguous_inputs() {
    let big = random::<f64>(200, 6, 51, None);
    let data = big.slice(ndarray::s![..;2, ..;2]); // strided view, 100 x 3
    let tree = KdTree::build(data, 4).unwrap();
    let owned = data.to_owned();
    let q = random::<f64>(20, 3, 52, None);
    let a = tree.view(data).unwrap().query(q.view(), 4, Metric::Euclidean, true, &Cancel::new()).unwrap();
    let tree2 = KdTree::build(owned.view(), 4).unwrap();
    let b = tree2.view(owned.view()).unwrap().query(q.t().t(), 4, Metric::Euclidean, true, &Cancel::new()).unwrap();
    assert_eq!(a.indices, b.indices);
    check_knn(&owned, &q, 4, 4, Metric::Euclidean);
}

#[test]
fn select_rows_handles_duplicates_and_sorted_input() {
    for pattern in 0..4 {
        let n = 5000;
        let mut rows: Vec<f64> = (0..n)
            .map(|i| match pattern {
                0 => i as f64,
                1 => (n - i) as f64,
                2 => (i % 3) as f64,
                _ => ((i * 7919) % 101) as f64,
            })
            .collect();
        let mut idx: Vec<i64> = (0..n as i64).collect();
        let k = n / 2;
        super::build::select_rows(&mut rows, &mut idx, 1, 0, k);
        let pivot = rows[k];
        assert!(rows[..k].iter().all(|&v| v <= pivot));
        assert!(rows[k..].iter().all(|&v| v >= pivot));
        for (r, &i) in rows.iter().zip(&idx) {
            let orig = match pattern {
                0 => i as f64,
                1 => (n as i64 - i) as f64,
                2 => (i % 3) as f64,
                _ => ((i * 7919) % 101) as f64,
            };
            assert_eq!(*r, orig);
        }
    }
}
