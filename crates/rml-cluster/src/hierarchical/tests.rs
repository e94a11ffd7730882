use super::*;

fn lcg_data(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n * d)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64) / ((1u64 << 53) as f64)
        })
        .collect()
}

/// Naive O(n^3) agglomeration with Lance–Williams updates on a full matrix: the reference.
fn naive(x: &[f64], n: usize, d: usize, linkage: Linkage) -> Tree {
    let mut dm = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..n {
            dm[i][j] = mst::euclidean(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]);
        }
    }
    let mut size = vec![1usize; n];
    let mut alive = vec![true; n];
    let mut merges = Vec::new();
    for _ in 0..n - 1 {
        let mut best = (f64::INFINITY, 0, 0);
        for i in 0..n {
            for j in i + 1..n {
                if alive[i] && alive[j] && dm[i][j] < best.0 {
                    best = (dm[i][j], i, j);
                }
            }
        }
        let (dxy, x_, y) = best;
        merges.push(Merge { a: x_, b: y, dist: dxy });
        let (nx, ny) = (size[x_], size[y]);
        for i in 0..n {
            if !alive[i] || i == x_ || i == y {
                continue;
            }
            let (dxi, dyi, ni) = (dm[i][x_], dm[i][y], size[i] as f64);
            let v = match linkage {
                Linkage::Single => dxi.min(dyi),
                Linkage::Complete => dxi.max(dyi),
                Linkage::Average => (nx as f64 * dxi + ny as f64 * dyi) / (nx + ny) as f64,
                Linkage::Ward => {
                    let t = 1.0 / (nx as f64 + ny as f64 + ni);
                    ((ni + nx as f64) * t * dxi * dxi + (ni + ny as f64) * t * dyi * dyi
                        - ni * t * dxy * dxy)
                        .sqrt()
                }
            };
            dm[i][y] = v;
            dm[y][i] = v;
        }
        alive[x_] = false;
        size[y] = nx + ny;
    }
    relabel(merges, n, ChildOrder::Sorted)
}

#[test]
fn sklearn_docstring_example() {
    let x = [1.0, 2.0, 1.0, 4.0, 1.0, 0.0, 4.0, 2.0, 4.0, 4.0, 4.0, 0.0];
    let t = linkage_tree(
        Input::Rows { x: &x, n: 6, d: 2, metric: RowMetric::Euclidean },
        Linkage::Ward,
        ChildOrder::Sorted,
        &Cancel::new(),
    )
    .unwrap();
    assert_eq!(t.children, vec![[0, 1], [3, 5], [2, 6], [4, 7], [8, 9]]);
    assert_eq!(cut(2, &t.children, 6).unwrap(), vec![1, 1, 1, 0, 0, 0]);
}

#[test]
fn every_linkage_matches_the_naive_algorithm() {
    for (seed, n, d) in [(1, 30, 2), (2, 57, 3), (3, 100, 5)] {
        let x = lcg_data(n, d, seed);
        for l in [Linkage::Ward, Linkage::Complete, Linkage::Average, Linkage::Single] {
            let fast = linkage_tree(
                Input::Rows { x: &x, n, d, metric: RowMetric::Euclidean },
                l,
                ChildOrder::Sorted,
                &Cancel::new(),
            )
            .unwrap();
            let slow = naive(&x, n, d, l);
            assert_eq!(fast.children, slow.children, "{l:?} n={n}");
            for (a, b) in fast.distances.iter().zip(&slow.distances) {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{l:?} {a} {b}");
            }
        }
    }
}

#[test]
fn precomputed_matches_rows_and_results_do_not_depend_on_threads() {
    let (n, d) = (3000, 2);
    let x = lcg_data(n, d, 7);
    let mut dm = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            dm[i * n + j] = mst::euclidean(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]);
        }
    }
    for l in [Linkage::Single, Linkage::Average] {
        let run = |t: usize, input: Input<'_>| {
            rml_core::threads::pool(t)
                .unwrap()
                .install(|| linkage_tree(input, l, ChildOrder::Sorted, &Cancel::new()).unwrap())
        };
        let rows = Input::Rows { x: &x, n, d, metric: RowMetric::Euclidean };
        let pre = Input::Precomputed { dist: &dm, n };
        let a = run(1, rows);
        assert_eq!(a, run(3, rows));
        assert_eq!(a, run(2, pre));
    }
    let w1 = rml_core::threads::pool(1).unwrap().install(|| {
        linkage_tree(
            Input::Rows { x: &x, n, d, metric: RowMetric::Euclidean },
            Linkage::Ward,
            ChildOrder::Sorted,
            &Cancel::new(),
        )
        .unwrap()
    });
    let w3 = rml_core::threads::pool(3).unwrap().install(|| {
        linkage_tree(
            Input::Rows { x: &x, n, d, metric: RowMetric::Euclidean },
            Linkage::Ward,
            ChildOrder::Sorted,
            &Cancel::new(),
        )
        .unwrap()
    });
    assert_eq!(w1, w3);
}

#[test]
fn cut_replicates_the_python_heap_order() {
    // Tree of 5 leaves: (0,1)->5, (2,3)->6, (5,4)->7, (6,7)->8.
    let children = [[0, 1], [2, 3], [4, 5], [6, 7]];
    assert_eq!(cut(1, &children, 5).unwrap(), vec![0, 0, 0, 0, 0]);
    // Python: nodes=[-8]; push -6, pushpop -7 -> heap [-7, -6] -> labels by position.
    assert_eq!(cut(2, &children, 5).unwrap(), vec![0, 0, 1, 1, 0]);
    assert!(cut(6, &children, 5).is_err());
}

#[test]
fn bad_input_is_an_error() {
    let x = [0.0; 4];
    let c = Cancel::new();
    let r = linkage_tree(
        Input::Rows { x: &x, n: 3, d: 2, metric: RowMetric::Euclidean },
        Linkage::Ward,
        ChildOrder::Sorted,
        &c,
    );
    assert!(r.is_err());
    let r = linkage_tree(
        Input::Rows { x: &x, n: 2, d: 2, metric: RowMetric::Cosine },
        Linkage::Ward,
        ChildOrder::Sorted,
        &c,
    );
    assert!(r.is_err());
}

/// Data on a small integer grid: many exactly equal distances (ties) and duplicate points.
fn grid_data(n: usize, d: usize, seed: u64) -> Vec<f64> {
    lcg_data(n, d, seed).iter().map(|v| (v * 4.0).floor()).collect()
}

fn merges_equal(a: &[Merge], b: &[Merge]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(p, q)| p.a == q.a && p.b == q.b && p.dist.to_bits() == q.dist.to_bits())
}

#[test]
fn square_matrix_is_bit_identical_to_the_scalar_reference() {
    for (n, d) in [(1, 3), (2, 1), (17, 3), (300, 5), (70, 20)] {
        let x = lcg_data(n, d, 5);
        let mut xg = grid_data(n, d, 6);
        xg[0] = 0.0; // a zero row for cosine (NaN distances in both)
        for metric in [RowMetric::Euclidean, RowMetric::Manhattan, RowMetric::Cosine] {
            for data in [&x, &xg] {
                let input = Input::Rows { x: data, n, d, metric };
                let c = Cancel::new();
                let new = lazy::square(input, &c).unwrap();
                let old = chain::square(input, &c).unwrap();
                assert_eq!(new.len(), old.len());
                for (a, b) in new.iter().zip(&old) {
                    assert_eq!(a.to_bits(), b.to_bits(), "{metric:?} n={n} d={d}");
                }
            }
        }
    }
    let n = 40;
    let dist = lcg_data(n, n, 9);
    let input = Input::Precomputed { dist: &dist, n };
    let c = Cancel::new();
    assert_eq!(lazy::square(input, &c).unwrap(), chain::square(input, &c).unwrap());
}

/// Drive the lazy matrix and an eagerly updated copy through the same merges (random pairs of
/// live positions, compactions included) and compare every live off-diagonal value bit for
/// bit after each step.
#[test]
fn replayed_matrix_equals_the_eagerly_updated_one() {
    for (linkage, n, seed) in
        [(Linkage::Average, 90, 1), (Linkage::Complete, 90, 2), (Linkage::Average, 2, 3)]
    {
        for data in [lcg_data(n, 3, seed), grid_data(n, 3, seed)] {
            let input = Input::Rows { x: &data, n, d: 3, metric: RowMetric::Euclidean };
            let c = Cancel::new();
            let dm = lazy::square(input, &c).unwrap();
            let mut eager = dm.clone();
            let mut mat = lazy::LazyMatrix::new(dm, n, linkage).unwrap();
            // Eager state by original index; lazy positions map to original indices.
            let mut alive = vec![true; n];
            let mut size = vec![1usize; n];
            let mut orig: Vec<usize> = (0..n).collect(); // lazy position -> original index
            let mut s = seed;
            for step in 0..n - 1 {
                let live: Vec<usize> = (0..n).filter(|&i| alive[i]).collect();
                if step % 7 == 6 && live.len() > 2 {
                    let live_pos: Vec<usize> = (0..orig.len())
                        .filter(|&p| alive[orig[p]])
                        .collect();
                    mat.compact(&live_pos, &c).unwrap();
                    orig = live_pos.iter().map(|&p| orig[p]).collect();
                }
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = live[(s >> 33) as usize % live.len()];
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let mut v = live[(s >> 33) as usize % live.len()];
                if v == u {
                    v = live[(live.iter().position(|&w| w == u).unwrap() + 1) % live.len()];
                }
                let (x, y) = (u.min(v), u.max(v));
                let (nx, ny) = (size[x], size[y]);
                for i in 0..n {
                    if !alive[i] || i == x || i == y {
                        continue;
                    }
                    let (dxi, dyi) = (eager[x * n + i], eager[y * n + i]);
                    let val = match linkage {
                        Linkage::Complete => {
                            if dxi > dyi {
                                dxi
                            } else {
                                dyi
                            }
                        }
                        _ => (nx as f64 * dxi + ny as f64 * dyi) / (nx + ny) as f64,
                    };
                    eager[y * n + i] = val;
                    eager[i * n + y] = val;
                }
                alive[x] = false;
                size[y] = nx + ny;
                size[x] = 0;
                let pos = |o: usize| orig.iter().position(|&w| w == o).unwrap();
                mat.merge(pos(x), pos(y), nx, ny);
                for p in 0..orig.len() {
                    for q in 0..orig.len() {
                        let (i, j) = (orig[p], orig[q]);
                        if alive[i] && alive[j] && i != j {
                            let got = mat.get(p, q);
                            assert_eq!(got.to_bits(), eager[i * n + j].to_bits(), "{linkage:?}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn lazy_chain_gives_the_eager_chain_merges_bit_for_bit() {
    let c = Cancel::new();
    for (n, d, seed) in [(2, 2, 1), (3, 1, 2), (150, 2, 3), (700, 3, 4)] {
        for data in [lcg_data(n, d, seed), grid_data(n, d, seed)] {
            for metric in [RowMetric::Euclidean, RowMetric::Manhattan, RowMetric::Cosine] {
                let input = Input::Rows { x: &data, n, d, metric };
                for l in [Linkage::Average, Linkage::Complete] {
                    let mut eager_dm = chain::square(input, &c).unwrap();
                    let eager = chain::generic(&mut eager_dm, n, l, &c).unwrap();
                    let lazy_m = lazy::generic(lazy::square(input, &c).unwrap(), n, l, &c).unwrap();
                    assert!(merges_equal(&eager, &lazy_m), "{l:?} {metric:?} n={n}");
                }
            }
        }
    }
    // Precomputed distances with exact zeros, negative zeros and ties.
    let n = 60;
    let mut dist: Vec<f64> = grid_data(n, n, 8);
    for i in 0..n {
        for j in 0..n {
            if (i + j) % 11 == 0 {
                dist[i * n + j] = -0.0;
            }
        }
    }
    let input = Input::Precomputed { dist: &dist, n };
    for l in [Linkage::Average, Linkage::Complete] {
        let mut eager_dm = chain::square(input, &c).unwrap();
        let eager = chain::generic(&mut eager_dm, n, l, &c).unwrap();
        let lazy_m = lazy::generic(lazy::square(input, &c).unwrap(), n, l, &c).unwrap();
        assert!(merges_equal(&eager, &lazy_m), "{l:?} precomputed");
    }
    // One point: no merge.
    assert!(lazy::generic(vec![0.0], 1, Linkage::Average, &c).unwrap().is_empty());
}

/// Timing harness (not a test of behaviour): `cargo test --release -p rml-cluster --lib
/// hierarchical::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing() {
    let (n, d) = (10_000, 8);
    let x = lcg_data(n, d, 11);
    let threads: usize = std::env::var("TIMING_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let pool = rml_core::threads::pool(threads).unwrap();
    for l in [Linkage::Average, Linkage::Complete] {
      pool.install(|| {
        let c = Cancel::new();
        let t0 = std::time::Instant::now();
        let input = Input::Rows { x: &x, n, d, metric: RowMetric::Euclidean };
        let dm = lazy::square(input, &c).unwrap();
        let t1 = std::time::Instant::now();
        let m = lazy::generic(dm, n, l, &c).unwrap();
        let t2 = std::time::Instant::now();
        eprintln!(
            "{l:?}: square {:.3} s, chain {:.3} s, drop {:.3} s ({} merges)",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            t2.elapsed().as_secs_f64(),
            m.len()
        );
      });
    }
}
