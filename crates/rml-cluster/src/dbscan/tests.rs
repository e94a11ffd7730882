use super::*;
use ndarray::Array2;
use rml_distances::Metric;

/// A small deterministic generator (xorshift) so the tests need no RNG crate.
pub(crate) struct Rng(u64);
impl Rng {
    pub(crate) fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Blobs with some exact duplicates and uniform noise.
pub(crate) fn blobs(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut x = Array2::zeros((n, d));
    for i in 0..n {
        let c = (i % 3) as f64 * 3.0;
        for j in 0..d {
            x[[i, j]] = if i % 7 == 0 { rng.uniform() * 10.0 } else { c + rng.uniform() * 1.5 };
        }
        if i % 11 == 5 && i > 0 {
            let prev = x.row(i - 1).to_owned();
            x.row_mut(i).assign(&prev);
        }
    }
    x
}

/// scikit-learn's algorithm verbatim: every neighbourhood at once, then dbscan_inner.
fn reference(x: &Array2<f64>, metric: Metric, eps: f64, min_samples: f64, w: Option<&[f64]>) -> (Vec<i64>, Vec<bool>) {
    let n = x.nrows();
    let r = metric.dist_to_rdist(eps);
    let nbs: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| metric.rdist(x.row(i).as_slice().unwrap(), x.row(j).as_slice().unwrap()) <= r)
                .collect()
        })
        .collect();
    let core: Vec<bool> = nbs
        .iter()
        .map(|nb| match w {
            None => nb.len() as f64 >= min_samples,
            Some(w) => nb.iter().map(|&j| w[j]).sum::<f64>() >= min_samples,
        })
        .collect();
    let mut labels = vec![-1i64; n];
    let mut label = 0;
    let mut stack = Vec::new();
    for i0 in 0..n {
        if labels[i0] != -1 || !core[i0] {
            continue;
        }
        let mut i = i0;
        loop {
            if labels[i] == -1 {
                labels[i] = label;
                if core[i] {
                    for &v in &nbs[i] {
                        if labels[v] == -1 {
                            stack.push(v);
                        }
                    }
                }
            }
            match stack.pop() {
                Some(v) => i = v,
                None => break,
            }
        }
        label += 1;
    }
    (labels, core)
}

fn check(x: &Array2<f64>, metric: Metric, eps: f64, ms: usize, w: Option<&[f64]>, chunk: usize) {
    let (want, core) = reference(x, metric, eps, ms as f64, w);
    let search = Search::brute(x.view(), metric).unwrap();
    let params = DbscanParams::new(eps, ms).unwrap().with_chunk_entries(chunk);
    let got = fit(&search, &params, w, &Cancel::new()).unwrap();
    assert_eq!(got.labels, want, "metric {metric:?} eps {eps} ms {ms}");
    if metric.is_minkowski_family() {
        let mut tree = None;
        let kd = Search::kd_tree(x.view(), metric, 5, &mut tree).unwrap();
        assert_eq!(fit(&kd, &params, w, &Cancel::new()).unwrap(), got);
    }
    let want_core: Vec<i64> = (0..x.nrows()).filter(|&i| core[i]).map(|i| i as i64).collect();
    assert_eq!(got.core_sample_indices, want_core);
}

#[test]
fn labels_match_the_reference_traversal() {
    for seed in 0..3 {
        let x = blobs(300, 2, seed);
        for &(eps, ms) in &[(0.3, 5usize), (0.5, 10), (0.15, 3), (1.0, 1), (5.0, 50)] {
            for chunk in [1usize, 1 << 20] {
                check(&x, Metric::Euclidean, eps, ms, None, chunk);
            }
        }
    }
}

#[test]
fn every_metric_and_weights() {
    let x = blobs(250, 3, 9);
    let mut rng = Rng(77);
    let w: Vec<f64> = (0..250).map(|_| (rng.uniform() * 4.0).floor() - 0.5).collect();
    for metric in [Metric::Euclidean, Metric::Manhattan, Metric::Chebyshev, Metric::Minkowski(3.0), Metric::Cosine, Metric::SqEuclidean] {
        check(&x, metric, 0.4, 5, None, 100);
        check(&x, metric, 0.4, 5, Some(&w), 100);
    }
}

#[test]
fn precomputed_matches_features_and_handles_asymmetry() {
    let x = blobs(200, 2, 3);
    let n = x.nrows();
    let mut d = Array2::zeros((n, n));
    for i in 0..n {
        for j in 0..n {
            d[[i, j]] = Metric::Euclidean.dist(x.row(i).as_slice().unwrap(), x.row(j).as_slice().unwrap());
        }
    }
    let params = DbscanParams::new(0.3, 5).unwrap();
    let a = fit(&Search::precomputed(d.view()).unwrap(), &params, None, &Cancel::new()).unwrap();
    let b = fit(&Search::brute(x.view(), Metric::Euclidean).unwrap(), &params, None, &Cancel::new()).unwrap();
    assert_eq!(a, b);
    // An asymmetric matrix follows scikit-learn's traversal exactly: 0 -> 1 only.
    let d = ndarray::arr2(&[[0.0, 0.1, 9.0], [9.0, 0.0, 0.1], [9.0, 9.0, 0.0]]);
    let p = DbscanParams::new(0.5, 2).unwrap();
    let r = fit(&Search::precomputed(d.view()).unwrap(), &p, None, &Cancel::new()).unwrap();
    assert_eq!(r.labels, vec![0, 0, 0]);
    assert_eq!(r.core_sample_indices, vec![0, 1]);
}

#[test]
fn degenerate_inputs() {
    let cancel = Cancel::new();
    let one = Array2::<f64>::zeros((1, 2));
    let p = DbscanParams::new(0.5, 1).unwrap();
    assert_eq!(fit(&Search::brute(one.view(), Metric::Euclidean).unwrap(), &p, None, &cancel).unwrap().labels, vec![0]);
    let p5 = DbscanParams::new(0.5, 5).unwrap();
    assert_eq!(fit(&Search::brute(one.view(), Metric::Euclidean).unwrap(), &p5, None, &cancel).unwrap().labels, vec![-1]);
    let same = Array2::<f64>::ones((50, 3));
    let r = fit(&Search::brute(same.view(), Metric::Euclidean).unwrap(), &p5, None, &cancel).unwrap();
    assert!(r.labels.iter().all(|&l| l == 0));
    let empty = Array2::<f64>::zeros((0, 2));
    assert!(fit(&Search::brute(empty.view(), Metric::Euclidean).unwrap(), &p5, None, &cancel).unwrap().labels.is_empty());
    assert!(DbscanParams::new(0.0, 5).is_err());
    assert!(DbscanParams::new(f64::NAN, 5).is_err());
    assert!(DbscanParams::new(0.5, 0).is_err());
    let cancelled = Cancel::new();
    cancelled.request();
    assert_eq!(fit(&Search::brute(same.view(), Metric::Euclidean).unwrap(), &p5, None, &cancelled), Err(RmlError::Cancelled));
}

#[test]
fn same_labels_on_any_thread_count() {
    let x = blobs(400, 2, 5);
    let s = Search::brute(x.view(), Metric::Euclidean).unwrap();
    let p = DbscanParams::new(0.3, 5).unwrap().with_chunk_entries(300);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let a = one.install(|| fit(&s, &p, None, &Cancel::new())).unwrap();
    let b = three.install(|| fit(&s, &p, None, &Cancel::new())).unwrap();
    assert_eq!(a, b);
}

#[test]
fn simd_leaf_kernel_is_bit_identical_to_the_scalar_distance() {
    use super::fast::{has_avx2, leaf_rdist, rdist, LANES};
    let mut rng = Rng(12345);
    for d in [1usize, 2, 3, 7, 8, 16, 17] {
        for len in [1usize, 7, 8, 9, 31, 60] {
            let stride = len.div_ceil(LANES) * LANES;
            let pts: Vec<Vec<f64>> = (0..len).map(|_| (0..d).map(|_| rng.uniform() * 20.0 - 10.0).collect()).collect();
            let q: Vec<f64> = (0..d).map(|_| rng.uniform() * 20.0 - 10.0).collect();
            let mut soa = vec![f64::INFINITY; stride * d];
            for (k, p) in pts.iter().enumerate() {
                for j in 0..d {
                    soa[j * stride + k] = p[j];
                }
            }
            for avx2 in [false, has_avx2()] {
                let mut out = vec![0.0; stride];
                leaf_rdist(&q, &soa, stride, &mut out, avx2);
                for (k, p) in pts.iter().enumerate() {
                    assert_eq!(out[k].to_bits(), rdist(&q, p).to_bits(), "d {d} len {len} k {k}");
                    // And the KD-tree's / brute force's own reduced distance.
                    assert_eq!(out[k].to_bits(), Metric::Euclidean.rdist(&q, p).to_bits());
                }
            }
        }
    }
    // Points exactly at the radius: 3-4-5 triangles, reduced distance exactly 25; one just past.
    let q = [0.0, 0.0];
    let inf = f64::INFINITY;
    let past = f64::from_bits(5.0f64.to_bits() + 1);
    let soa = [3.0, -4.0, 0.0, 5.0, past, 0.0, inf, inf, 4.0, 3.0, 5.0, 0.0, 0.0, 0.0, inf, inf];
    for avx2 in [false, has_avx2()] {
        let mut out = [0.0; 8];
        leaf_rdist(&q, &soa, 8, &mut out, avx2);
        assert_eq!(&out[..4], &[25.0; 4]);
        assert!(out[4] > 25.0);
        assert_eq!(out[5], 0.0);
        assert!(out[6] == inf && out[7] == inf);
    }
}

/// Integer grid: every neighbour of an interior point is at exactly `eps = 1`.
fn grid(side: usize, dup_every: usize) -> Array2<f64> {
    let mut rows = Vec::new();
    for i in 0..side {
        for j in 0..side {
            // A sparse, irregular grid: some cells missing so core status varies.
            if (i * 7 + j * 3) % 5 == 0 {
                continue;
            }
            rows.push([i as f64, j as f64]);
            if dup_every > 0 && (i + j) % dup_every == 0 {
                rows.push([i as f64, j as f64]);
            }
        }
    }
    Array2::from_shape_fn((rows.len(), 2), |(r, c)| rows[r][c])
}

#[test]
fn kd_tree_fast_path_matches_reference_at_exact_eps_ties() {
    for dup in [0usize, 4] {
        let x = grid(24, dup);
        for &(eps, ms) in &[(1.0, 5usize), (1.0, 4), (1.0, 3), (2.0, 9), (0.5, 2)] {
            for chunk in [1usize, 7, 1 << 20] {
                for leaf in [1usize, 3, 30] {
                    let (want, core) = reference(&x, Metric::Euclidean, eps, ms as f64, None);
                    let mut tree = None;
                    let kd = Search::kd_tree(x.view(), Metric::Euclidean, leaf, &mut tree).unwrap();
                    let p = DbscanParams::new(eps, ms).unwrap().with_chunk_entries(chunk);
                    let got = fit(&kd, &p, None, &Cancel::new()).unwrap();
                    assert_eq!(got.labels, want, "dup {dup} eps {eps} ms {ms} chunk {chunk} leaf {leaf}");
                    let want_core: Vec<i64> = (0..x.nrows()).filter(|&i| core[i]).map(|i| i as i64).collect();
                    assert_eq!(got.core_sample_indices, want_core);
                }
            }
        }
    }
}

#[test]
fn kd_tree_fast_path_matches_reference_in_higher_dimension() {
    for (d, seed) in [(16usize, 1u64), (5, 2), (9, 3)] {
        let x = blobs(500, d, seed);
        let scale = (d as f64).sqrt();
        for &(eps, ms) in &[(0.4 * scale, 5usize), (0.25 * scale, 3), (0.6 * scale, 30), (50.0, 5), (1e-9, 1), (1e-9, 2)] {
            for chunk in [3usize, 1 << 20] {
                for leaf in [2usize, 30] {
                    let (want, core) = reference(&x, Metric::Euclidean, eps, ms as f64, None);
                    for metric in [Metric::Euclidean, Metric::SqEuclidean] {
                        let eps_m = if metric == Metric::SqEuclidean { eps * eps } else { eps };
                        let mut tree = None;
                        let kd = Search::kd_tree(x.view(), metric, leaf, &mut tree).unwrap();
                        let p = DbscanParams::new(eps_m, ms).unwrap().with_chunk_entries(chunk);
                        let got = fit(&kd, &p, None, &Cancel::new()).unwrap();
                        if metric == Metric::Euclidean {
                            assert_eq!(got.labels, want, "d {d} eps {eps} ms {ms} chunk {chunk} leaf {leaf}");
                            let wc: Vec<i64> = (0..x.nrows()).filter(|&i| core[i]).map(|i| i as i64).collect();
                            assert_eq!(got.core_sample_indices, wc);
                        } else {
                            // sqeuclidean with eps^2: the same relation up to the rounding of eps^2.
                            let b = fit(&Search::brute(x.view(), metric).unwrap(), &p, None, &Cancel::new()).unwrap();
                            assert_eq!(got, b);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn kd_tree_fast_path_same_labels_on_any_thread_count() {
    let x = blobs(3000, 4, 8);
    let mut tree = None;
    let kd = Search::kd_tree(x.view(), Metric::Euclidean, 10, &mut tree).unwrap();
    let p = DbscanParams::new(0.35, 5).unwrap().with_chunk_entries(500);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let a = one.install(|| fit(&kd, &p, None, &Cancel::new())).unwrap();
    let b = three.install(|| fit(&kd, &p, None, &Cancel::new())).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, fit(&Search::brute(x.view(), Metric::Euclidean).unwrap(), &p, None, &Cancel::new()).unwrap());
    // Many subtrees (one per thread pair) at exact-eps ties, in 16 dimensions too.
    let seven = rayon::ThreadPoolBuilder::new().num_threads(7).build().unwrap();
    for (x, eps, ms) in [(grid(30, 3), 1.0, 5usize), (blobs(800, 16, 4), 1.6, 5), (blobs(800, 16, 4), 1.0, 3)] {
        let (want, _) = reference(&x, Metric::Euclidean, eps, ms as f64, None);
        for leaf in [1usize, 4, 30] {
            let mut tree = None;
            let kd = Search::kd_tree(x.view(), Metric::Euclidean, leaf, &mut tree).unwrap();
            let p = DbscanParams::new(eps, ms).unwrap();
            for pool in [&one, &three, &seven] {
                assert_eq!(pool.install(|| fit(&kd, &p, None, &Cancel::new())).unwrap().labels, want, "leaf {leaf}");
            }
        }
    }
}

#[test]
fn vectorised_box_bounds_enclose_every_point_distance() {
    use super::fast::{box_rdist, has_avx2, rdist};
    let mut rng = Rng(4242);
    for d in [1usize, 2, 3, 4, 5, 8, 16, 17, 33] {
        let f = (4 * d + 8) as f64 * f64::EPSILON;
        for _ in 0..300 {
            let lo: Vec<f64> = (0..d).map(|_| rng.uniform() * 4.0 - 2.0).collect();
            let hi: Vec<f64> = lo.iter().map(|&l| l + rng.uniform() * 3.0).collect();
            let q: Vec<f64> = (0..d).map(|_| rng.uniform() * 10.0 - 5.0).collect();
            for avx2 in [false, has_avx2()] {
                let (mn, mx) = box_rdist(&q, &lo, &hi, avx2);
                for corner in 0..8 {
                    // Box corners and interior points: the extreme cases of the bounds.
                    let p: Vec<f64> = (0..d)
                        .map(|j| match (corner + j) % 3 {
                            0 => lo[j],
                            1 => hi[j],
                            _ => lo[j] + (hi[j] - lo[j]) * rng.uniform(),
                        })
                        .collect();
                    let r = rdist(&q, &p);
                    assert!(mn * (1.0 - f) <= r && r <= mx * (1.0 + f), "d {d}: {mn} {r} {mx}");
                }
            }
        }
    }
}
