use super::*;
use crate::dbscan::tests::blobs;
use ndarray::Array2;
use rml_distances::Metric;

/// scikit-learn's loop verbatim (argmin over unprocessed, O(n^2)).
fn reference(x: &Array2<f64>, metric: Metric, min_samples: usize, max_eps: f64) -> OpticsGraph {
    let n = x.nrows();
    let rows: Vec<Vec<f64>> = (0..n).map(|i| x.row(i).to_vec()).collect();
    let row = |i: usize| &rows[i];
    let mut core: Vec<f64> = (0..n)
        .map(|i| {
            let mut d: Vec<f64> = (0..n).map(|j| metric.dist(row(i), row(j))).collect();
            d.sort_by(|a, b| a.total_cmp(b));
            d[min_samples - 1]
        })
        .collect();
    for c in core.iter_mut() {
        if *c > max_eps {
            *c = f64::INFINITY;
        }
        *c = around15(*c);
    }
    let mut reach = vec![f64::INFINITY; n];
    let mut pred = vec![-1i64; n];
    let mut processed = vec![false; n];
    let mut ordering = vec![];
    let r_red = metric.dist_to_rdist(max_eps);
    for _ in 0..n {
        let mut best = usize::MAX;
        for i in 0..n {
            if !processed[i] && (best == usize::MAX || reach[i] < reach[best]) {
                best = i;
            }
        }
        let p = best;
        processed[p] = true;
        ordering.push(p as i64);
        if core[p].is_finite() {
            for v in 0..n {
                if processed[v] || metric.rdist(row(p), row(v)) > r_red {
                    continue;
                }
                let r = around15(metric.dist(row(p), row(v)).max(core[p]));
                if r < reach[v] {
                    reach[v] = r;
                    pred[v] = p as i64;
                }
            }
        }
    }
    OpticsGraph { ordering, core_distances: core, reachability: reach, predecessor: pred }
}

#[test]
fn ordering_matches_the_reference_loop() {
    for seed in 0..3 {
        let x = blobs(300, 2, seed);
        for metric in [Metric::Euclidean, Metric::Manhattan, Metric::Minkowski(3.0), Metric::Cosine] {
            for &(ms, max_eps) in &[(5usize, f64::INFINITY), (10, 0.5), (3, 0.2), (2, 2.0)] {
                let s = Search::brute(x.view(), metric).unwrap();
                let got = compute_optics_graph(&s, ms, max_eps, &Cancel::new()).unwrap();
                let want = reference(&x, metric, ms, max_eps);
                assert_eq!(got, want, "seed {seed} metric {metric:?} ms {ms} max_eps {max_eps}");
                if metric.is_minkowski_family() {
                    let mut tree = None;
                    let kd = Search::kd_tree(x.view(), metric, 4, &mut tree).unwrap();
                    assert_eq!(compute_optics_graph(&kd, ms, max_eps, &Cancel::new()).unwrap(), want);
                }
            }
        }
    }
}

#[test]
fn large_scan_uses_the_parallel_path_identically() {
    let x = blobs(5000, 2, 11);
    let s = Search::brute(x.view(), Metric::Euclidean).unwrap();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let a = one.install(|| compute_optics_graph(&s, 5, f64::INFINITY, &Cancel::new())).unwrap();
    let b = two.install(|| compute_optics_graph(&s, 5, f64::INFINITY, &Cancel::new())).unwrap();
    assert_eq!(a, b);
    let mut seen = a.ordering.clone();
    seen.sort();
    assert_eq!(seen, (0..5000).collect::<Vec<i64>>());
}

#[test]
fn rounding_and_min_samples() {
    assert_eq!(around15(0.1 + 0.2), 0.3);
    assert_eq!(around15(f64::INFINITY), f64::INFINITY);
    assert_eq!(resolve_min_samples(0.1, 100).unwrap(), 10);
    assert_eq!(resolve_min_samples(0.01, 100).unwrap(), 2);
    assert_eq!(resolve_min_samples(5.0, 100).unwrap(), 5);
    assert!(resolve_min_samples(500.0, 100).is_err());
    let one = Array2::<f64>::zeros((1, 2));
    let g = compute_optics_graph(&Search::brute(one.view(), Metric::Euclidean).unwrap(), 1, f64::INFINITY, &Cancel::new()).unwrap();
    assert_eq!(g.ordering, vec![0]);
    let same = Array2::<f64>::ones((20, 2));
    let g = compute_optics_graph(&Search::brute(same.view(), Metric::Euclidean).unwrap(), 5, 1.0, &Cancel::new()).unwrap();
    assert_eq!(g.ordering, (0..20).collect::<Vec<i64>>());
    assert!(g.core_distances.iter().all(|&c| c == 0.0));
}
