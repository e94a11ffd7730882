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
