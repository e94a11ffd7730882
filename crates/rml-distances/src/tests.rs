//! Brute-force and precomputed searches against known answers and a naive reference.

use crate::*;
use ndarray::{array, Array2};
use rml_core::{Cancel, Float};

/// SplitMix64: a tiny deterministic generator for test data.
struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    fn matrix<F: Float>(&mut self, n: usize, d: usize, offset: f64, scale: f64) -> Array2<F> {
        Array2::from_shape_fn((n, d), |_| F::from_f64(offset + scale * self.normal()))
    }
    fn grid<F: Float>(&mut self, n: usize, d: usize, levels: u64) -> Array2<F> {
        Array2::from_shape_fn((n, d), |_| F::from_f64((self.next_u64() % levels) as f64))
    }
}

/// Naive reference: every distance in f64 (straight loops), full sort by (distance, index).
fn naive_dist<F: Float>(metric: Metric, a: &[F], b: &[F]) -> f64 {
    let a: Vec<f64> = a.iter().map(|v| v.as_f64()).collect();
    let b: Vec<f64> = b.iter().map(|v| v.as_f64()).collect();
    match metric {
        Metric::Euclidean => a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt(),
        Metric::SqEuclidean => a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>(),
        Metric::Manhattan => a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>(),
        Metric::Chebyshev => a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max),
        Metric::Minkowski(p) => {
            a.iter().zip(&b).map(|(x, y)| (x - y).abs().powf(p)).sum::<f64>().powf(1.0 / p)
        }
        Metric::Cosine => {
            let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
            let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
            if na * nb > 0.0 {
                (1.0 - dot / (na * nb)).clamp(0.0, 2.0)
            } else {
                1.0
            }
        }
    }
}

fn naive_all<F: Float>(metric: Metric, x: &Array2<F>, y: &Array2<F>) -> Vec<Vec<(f64, i64)>> {
    x.rows()
        .into_iter()
        .map(|a| {
            let mut row: Vec<(f64, i64)> = y
                .rows()
                .into_iter()
                .enumerate()
                .map(|(j, b)| (naive_dist(metric, a.as_slice().unwrap(), b.as_slice().unwrap()), j as i64))
                .collect();
            row.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
            row
        })
        .collect()
}

fn close(a: f64, b: f64, rtol: f64) -> bool {
    a == b || (a - b).abs() <= rtol * a.abs().max(b.abs()).max(1e-300)
}

fn check_knn<F: Float>(metric: Metric, x: &Array2<F>, y: &Array2<F>, k: usize, rtol: f64) {
    let res = brute_kneighbors(x.view(), y.view(), k, metric, true, &Cancel::new()).unwrap();
    let reference = naive_all(metric, x, y);
    assert_eq!(res.indices.dim(), (x.nrows(), k));
    for (i, refrow) in reference.iter().enumerate() {
        for t in 0..k {
            let (rd, rj) = refrow[t];
            let got_j = res.indices[[i, t]];
            let got_d = res.distances[[i, t]].as_f64();
            // Rounding of near-equal distances may reorder neighbours whose exact distances
            // differ by less than rounding; accept a different index only in that case.
            if got_j != rj {
                let alt = refrow.iter().find(|p| p.1 == got_j).unwrap();
                assert!(close(alt.0, rd, 1e-12), "{metric:?} row {i} rank {t}: {got_j} vs {rj}");
            }
            assert!(close(got_d, rd, rtol), "{metric:?} row {i} rank {t}: {got_d} vs {rd}");
        }
    }
    let noret = brute_kneighbors(x.view(), y.view(), k, metric, false, &Cancel::new()).unwrap();
    assert_eq!(noret.indices, res.indices);
    assert_eq!(noret.distances.len(), 0);
}

fn check_radius<F: Float>(metric: Metric, x: &Array2<F>, y: &Array2<F>, radius: f64) {
    let r = F::from_f64(radius);
    let res = brute_radius_neighbors(x.view(), y.view(), r, metric, true, true, &Cancel::new())
        .unwrap();
    let reference = naive_all(metric, x, y);
    assert_eq!(res.n_queries(), x.nrows());
    for (i, refrow) in reference.iter().enumerate() {
        let want: Vec<i64> = refrow.iter().filter(|p| p.0 <= r.as_f64()).map(|p| p.1).collect();
        // Points within rounding of the radius may go either way; none of our data sits there.
        assert_eq!(res.row(i), &want[..], "{metric:?} row {i}");
        for (t, &j) in res.row(i).iter().enumerate() {
            let rd = refrow.iter().find(|p| p.1 == j).unwrap().0;
            assert!(close(res.distances[res.offsets[i] + t].as_f64(), rd, 1e-6));
        }
    }
    // Unsorted: same sets, training order.
    let uns = brute_radius_neighbors(x.view(), y.view(), r, metric, false, false, &Cancel::new())
        .unwrap();
    assert_eq!(uns.offsets, res.offsets);
    assert!(uns.distances.is_empty());
    for i in 0..x.nrows() {
        let mut s = res.row(i).to_vec();
        s.sort();
        assert_eq!(uns.row(i), &s[..]);
    }
}

const ALL_METRICS: [Metric; 6] = [
    Metric::Euclidean,
    Metric::SqEuclidean,
    Metric::Manhattan,
    Metric::Chebyshev,
    Metric::Minkowski(3.0),
    Metric::Cosine,
];

#[test]
fn known_answer_euclidean() {
    let fit = array![[0.0f64, 0.0], [3.0, 4.0], [1.0, 0.0], [0.0, 1.0], [10.0, 10.0]];
    let x = array![[0.0f64, 0.0], [3.0, 3.0]];
    let r = brute_kneighbors(x.view(), fit.view(), 3, Metric::Euclidean, true, &Cancel::new())
        .unwrap();
    // Row 0: itself, then the tie (1,0)/(0,1) broken by training index.
    assert_eq!(r.indices.row(0).to_vec(), vec![0, 2, 3]);
    assert_eq!(r.distances.row(0).to_vec(), vec![0.0, 1.0, 1.0]);
    assert_eq!(r.indices.row(1).to_vec(), vec![1, 2, 3]);
    assert_eq!(r.distances[[1, 0]], 1.0);
    assert!((r.distances[[1, 1]] - 13.0f64.sqrt()).abs() < 1e-15);

    let rr = brute_radius_neighbors(
        x.view(), fit.view(), 1.0, Metric::Euclidean, true, true, &Cancel::new(),
    )
    .unwrap();
    assert_eq!(rr.offsets, vec![0, 3, 4]);
    assert_eq!(rr.indices, vec![0, 2, 3, 1]);
    assert_eq!(rr.distances, vec![0.0, 1.0, 1.0, 1.0]);
}

#[test]
fn agrees_with_naive_reference_all_metrics() {
    let mut rng = Rng(7);
    for &(m, n, d) in &[(17usize, 50usize, 3usize), (40, 300, 16), (5, 1000, 70), (64, 129, 1)] {
        let x64: Array2<f64> = rng.matrix(m, d, 0.0, 1.0);
        let y64: Array2<f64> = rng.matrix(n, d, 0.0, 1.0);
        let x32 = x64.mapv(|v| v as f32);
        let y32 = y64.mapv(|v| v as f32);
        for metric in ALL_METRICS {
            for &k in &[1usize, 5, 15] {
                check_knn(metric, &x64, &y64, k.min(n), 1e-12);
                check_knn(metric, &x32, &y32, k.min(n), 1e-6);
            }
        }
    }
}

#[test]
fn euclidean_agrees_on_larger_and_offset_data() {
    // Sizes that cross every tile boundary of the GEMM kernel, and data far from the origin
    // (norms >> distances), where a careless ||x||^2+||y||^2-2xy loses all precision.
    let mut rng = Rng(11);
    for &(m, n, d, off) in
        &[(300usize, 2500usize, 32usize, 0.0), (97, 3001, 128, 0.0), (130, 2000, 8, 1000.0), (50, 700, 33, 1e4)]
    {
        let x64: Array2<f64> = rng.matrix(m, d, off, 1.0);
        let y64: Array2<f64> = rng.matrix(n, d, off, 1.0);
        let x32 = x64.mapv(|v| v as f32);
        let y32 = y64.mapv(|v| v as f32);
        for &k in &[1usize, 5, 40] {
            check_knn(Metric::Euclidean, &x64, &y64, k, 1e-12);
            check_knn(Metric::Euclidean, &x32, &y32, k, 1e-6);
        }
        check_knn(Metric::SqEuclidean, &x32, &y32, 3, 1e-6);
    }
}

#[test]
fn radius_agrees_with_naive_reference() {
    let mut rng = Rng(3);
    for &(m, n, d, r) in &[(20usize, 400usize, 3usize, 0.8), (33, 1500, 20, 5.5), (10, 10, 2, 0.0)] {
        let x64: Array2<f64> = rng.matrix(m, d, 0.0, 1.0);
        let y64: Array2<f64> = rng.matrix(n, d, 0.0, 1.0);
        let x32 = x64.mapv(|v| v as f32);
        let y32 = y64.mapv(|v| v as f32);
        for metric in ALL_METRICS {
            let rr = if metric == Metric::Cosine { 0.3 } else if metric == Metric::SqEuclidean { r * r } else { r };
            check_radius(metric, &x64, &y64, rr);
            check_radius(metric, &x32, &y32, rr);
        }
    }
}

#[test]
fn ties_are_broken_by_training_index() {
    // Integer grid data: many exactly equal distances (exact in f32 and f64).
    let mut rng = Rng(5);
    for &d in &[2usize, 8, 32] {
        let y64: Array2<f64> = rng.grid(600, d, 3);
        let x64: Array2<f64> = rng.grid(50, d, 3);
        for &k in &[1usize, 7, 30] {
            for metric in [Metric::Euclidean, Metric::Manhattan, Metric::Chebyshev] {
                let r = brute_kneighbors(x64.view(), y64.view(), k, metric, true, &Cancel::new()).unwrap();
                let reference = naive_all(metric, &x64, &y64);
                for i in 0..x64.nrows() {
                    let want: Vec<i64> = reference[i][..k].iter().map(|p| p.1).collect();
                    assert_eq!(r.indices.row(i).to_vec(), want, "{metric:?} d={d} k={k} row {i}");
                }
                let x32 = x64.mapv(|v| v as f32);
                let y32 = y64.mapv(|v| v as f32);
                let r32 = brute_kneighbors(x32.view(), y32.view(), k, metric, true, &Cancel::new()).unwrap();
                assert_eq!(r32.indices, r.indices);
            }
        }
    }
    // All-identical training points: the first k indices, in order.
    let y = Array2::<f32>::ones((100, 4));
    let x = Array2::<f32>::zeros((3, 4));
    let r = brute_kneighbors(x.view(), y.view(), 10, Metric::Euclidean, true, &Cancel::new()).unwrap();
    for i in 0..3 {
        assert_eq!(r.indices.row(i).to_vec(), (0..10).collect::<Vec<i64>>());
        assert!(r.distances.row(i).iter().all(|&v| v == 2.0));
    }
}

#[test]
fn identical_for_any_thread_count() {
    let mut rng = Rng(9);
    let y: Array2<f32> = rng.grid(3000, 16, 4);
    let x: Array2<f32> = rng.grid(257, 16, 4);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let a = brute_kneighbors(x.view(), y.view(), 9, Metric::Euclidean, true, &Cancel::new()).unwrap();
            let b = brute_radius_neighbors(x.view(), y.view(), 3.0, Metric::Euclidean, true, true, &Cancel::new()).unwrap();
            (a.indices, a.distances, b.indices, b.offsets, b.distances)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let y = Array2::<f64>::zeros((4, 3));
    let x = Array2::<f64>::zeros((2, 3));
    let c = Cancel::new();
    assert!(brute_kneighbors(x.view(), y.view(), 5, Metric::Euclidean, true, &c).is_err());
    assert!(brute_kneighbors(x.view(), y.view(), 0, Metric::Euclidean, true, &c).is_err());
    let x2 = Array2::<f64>::zeros((2, 2));
    assert!(brute_kneighbors(x2.view(), y.view(), 1, Metric::Euclidean, true, &c).is_err());
    assert!(brute_radius_neighbors(x2.view(), y.view(), 1.0, Metric::Euclidean, true, true, &c).is_err());
    assert!(brute_radius_neighbors(x.view(), y.view(), -1.0, Metric::Euclidean, true, true, &c).is_err());
    assert!(brute_radius_neighbors(x.view(), y.view(), f64::NAN, Metric::Euclidean, true, true, &c).is_err());
    let d = Array2::<f64>::zeros((2, 4));
    assert!(precomputed_kneighbors(d.view(), 5, true, &c).is_err());
    assert!(precomputed_kneighbors(d.view(), 0, true, &c).is_err());
    assert!(precomputed_radius_neighbors(d.view(), -0.5, true, true, &c).is_err());
    // Empty query sets are fine.
    let e = Array2::<f64>::zeros((0, 3));
    let r = brute_kneighbors(e.view(), y.view(), 2, Metric::Euclidean, true, &c).unwrap();
    assert_eq!(r.indices.dim(), (0, 2));
    let rr = brute_radius_neighbors(e.view(), y.view(), 1.0, Metric::Euclidean, true, true, &c).unwrap();
    assert_eq!(rr.offsets, vec![0]);
    // Cancellation is honoured.
    let cancelled = Cancel::new();
    cancelled.request();
    assert_eq!(
        brute_kneighbors(x.view(), y.view(), 1, Metric::Euclidean, true, &cancelled).unwrap_err(),
        rml_core::RmlError::Cancelled
    );
}

#[test]
fn huge_values_overflow_to_inf_without_panic() {
    // 1e308-scale inputs: squared distances overflow to +inf, the GEMM identity would give
    // inf - inf = NaN. Results must still be the exact ordering (inf ties by index).
    let y = array![[1e308f64, -1e308], [0.0, 0.0], [-1e308, 1e308], [1.0, 1.0], [1e200, 0.0]];
    let x = array![[0.0f64, 0.0], [1e308, 1e308]];
    for metric in ALL_METRICS {
        for k in 1..=5 {
            let r = brute_kneighbors(x.view(), y.view(), k, metric, true, &Cancel::new()).unwrap();
            let reference = naive_all(metric, &x, &y);
            for i in 0..2 {
                let want: Vec<i64> = reference[i][..k].iter().map(|p| p.1).collect();
                assert_eq!(r.indices.row(i).to_vec(), want, "{metric:?} k={k} row {i}");
            }
        }
        let rr = brute_radius_neighbors(x.view(), y.view(), f64::INFINITY, metric, true, true, &Cancel::new()).unwrap();
        assert_eq!(rr.offsets.len(), 3);
    }
    let y32 = array![[3e38f32, -3e38], [0.0, 0.0], [1e30, 1e30]];
    let x32 = array![[0.0f32, 0.0], [-3e38, 3e38]];
    let r = brute_kneighbors(x32.view(), y32.view(), 3, Metric::Euclidean, true, &Cancel::new()).unwrap();
    assert_eq!(r.indices.row(0).to_vec(), vec![1, 2, 0]);
    assert_eq!(r.indices.row(1).to_vec(), vec![1, 2, 0]);
    assert!(r.distances[[0, 2]].is_infinite());
}

#[test]
fn precomputed_known_answers() {
    let d = array![[0.5f64, 0.1, 0.3, 0.1], [2.0, f64::NAN, 1.0, 0.0]];
    let c = Cancel::new();
    let r = precomputed_kneighbors(d.view(), 3, true, &c).unwrap();
    assert_eq!(r.indices.row(0).to_vec(), vec![1, 3, 2]);
    assert_eq!(r.distances.row(0).to_vec(), vec![0.1, 0.1, 0.3]);
    assert_eq!(r.indices.row(1).to_vec(), vec![3, 2, 0]);
    let r4 = precomputed_kneighbors(d.view(), 4, false, &c).unwrap();
    assert_eq!(r4.indices.row(1).to_vec(), vec![3, 2, 0, 1]);
    let rr = precomputed_radius_neighbors(d.view(), 0.3, true, true, &c).unwrap();
    assert_eq!(rr.offsets, vec![0, 3, 4]);
    assert_eq!(rr.indices, vec![1, 3, 2, 3]);
    assert_eq!(rr.distances, vec![0.1, 0.1, 0.3, 0.0]);
    let ru = precomputed_radius_neighbors(d.view(), 0.3, false, false, &c).unwrap();
    assert_eq!(ru.indices, vec![1, 2, 3, 3]);
    // float32 and a non-contiguous view.
    let d32 = array![[3.0f32, 1.0], [2.0, 2.0], [0.0, 5.0]];
    let t = d32.t();
    let r = precomputed_kneighbors(t, 2, true, &c).unwrap();
    assert_eq!(r.indices, array![[2, 1], [0, 1]]);
    assert_eq!(r.distances, array![[0.0f32, 2.0], [1.0, 2.0]]);
}

#[test]
fn precomputed_agrees_with_brute() {
    let mut rng = Rng(21);
    let x: Array2<f64> = rng.matrix(30, 5, 0.0, 1.0);
    let y: Array2<f64> = rng.matrix(200, 5, 0.0, 1.0);
    let dm = Array2::from_shape_fn((30, 200), |(i, j)| {
        naive_dist(Metric::Euclidean, x.row(i).as_slice().unwrap(), y.row(j).as_slice().unwrap())
    });
    let c = Cancel::new();
    let a = precomputed_kneighbors(dm.view(), 7, true, &c).unwrap();
    let b = brute_kneighbors(x.view(), y.view(), 7, Metric::Euclidean, true, &c).unwrap();
    assert_eq!(a.indices, b.indices);
    let ra = precomputed_radius_neighbors(dm.view(), 1.5, false, true, &c).unwrap();
    let rb = brute_radius_neighbors(x.view(), y.view(), 1.5, Metric::Euclidean, false, true, &c).unwrap();
    assert_eq!(ra.indices, rb.indices);
    assert_eq!(ra.offsets, rb.offsets);
}
