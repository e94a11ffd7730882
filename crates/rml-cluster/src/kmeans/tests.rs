use super::*;
use ndarray::{array, Array1, Array2};
use rml_core::threads;

/// Small deterministic pseudo-random data (no RNG dependency).
fn data(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    Array2::from_shape_fn((n, d), |(i, _)| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let u = (s >> 11) as f64 / (1u64 << 53) as f64;
        u + (i % 4) as f64 * 3.0
    })
}

fn naive_labels(x: &Array2<f64>, c: &Array2<f64>) -> (Vec<i32>, f64) {
    let mut inertia = 0.0;
    let labels = x
        .rows()
        .into_iter()
        .map(|r| {
            let (mut best, mut bd) = (0, f64::INFINITY);
            for (j, cr) in c.rows().into_iter().enumerate() {
                let dd: f64 = r.iter().zip(cr.iter()).map(|(a, b)| (a - b) * (a - b)).sum();
                if dd < bd {
                    bd = dd;
                    best = j;
                }
            }
            inertia += bd;
            best as i32
        })
        .collect();
    (labels, inertia)
}

#[test]
fn assign_labels_matches_naive_small_and_large_d() {
    let cancel = Cancel::new();
    for &(d, k) in &[(1usize, 7usize), (2, 7), (5, 7), (8, 7), (9, 7), (33, 7), (33, 8), (17, 21), (64, 64)] {
        let x = data(1003, d, d as u64);
        let c = data(k, d, 99);
        let w = Array1::<f64>::ones(1003);
        let (labels, inertia) = assign_labels(x.view(), w.view(), c.view(), &cancel).unwrap();
        let (nl, ni) = naive_labels(&x, &c);
        assert_eq!(labels, nl, "d={d}");
        assert!((inertia - ni).abs() <= 1e-9 * ni, "d={d}");
        let x32 = x.mapv(|v| v as f32);
        let c32 = c.mapv(|v| v as f32);
        let (l32, _) = assign_labels(x32.view(), Array1::<f32>::ones(1003).view(), c32.view(), &cancel).unwrap();
        let agree = l32.iter().zip(&nl).filter(|(a, b)| a == b).count();
        assert!(agree >= 1000, "d={d}: float32 labels agree on {agree} of 1003 rows");
    }
}

#[test]
fn assign_labels_f32_and_ties_to_smallest_index() {
    let cancel = Cancel::new();
    let x = array![[0.0f32, 0.0], [2.0, 0.0]];
    let c = array![[1.0f32, 0.0], [1.0, 0.0], [-1.0, 0.0]];
    let w = Array1::<f32>::ones(2);
    let (labels, inertia) = assign_labels(x.view(), w.view(), c.view(), &cancel).unwrap();
    assert_eq!(labels, vec![0, 0]);
    assert!((inertia - 2.0).abs() < 1e-6);
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let x = data(20_000, 12, 3);
    let c = data(9, 12, 4);
    let w = Array1::from_shape_fn(20_000, |i| 0.5 + (i % 3) as f64);
    let run = |t: usize| {
        threads::pool(t)
            .unwrap()
            .install(|| kmeans_single_lloyd(x.view(), w.view(), c.view(), 50, 0.0, false, &Cancel::new()).unwrap())
    };
    let (a, b) = (run(1), run(3));
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.centers, b.centers);
    assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
    let e = |t: usize| {
        threads::pool(t)
            .unwrap()
            .install(|| kmeans_single_elkan(x.view(), w.view(), c.view(), 50, 0.0, false, &Cancel::new()).unwrap())
    };
    let (ea, eb) = (e(1), e(3));
    assert_eq!(ea.centers, eb.centers);
    assert_eq!(ea.labels, a.labels);
}

#[test]
fn lloyd_update_is_weighted_mean() {
    let cancel = Cancel::new();
    let x = array![[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [12.0, 10.0]];
    let w = array![1.0, 3.0, 1.0, 1.0];
    let c = array![[0.0, 0.0], [10.0, 10.0]];
    let mut labels = vec![0; 4];
    let (cn, wic, shift) = lloyd_iter(x.view(), w.view(), c.view(), &mut labels, &cancel).unwrap();
    assert_eq!(labels, vec![0, 0, 1, 1]);
    assert_eq!(cn, array![[1.5, 0.0], [11.0, 10.0]]);
    assert_eq!(wic, vec![4.0, 2.0]);
    assert_eq!(shift, vec![1.5, 1.0]);
}

#[test]
fn empty_cluster_takes_the_farthest_sample() {
    let cancel = Cancel::new();
    let x = array![[0.0], [1.0], [10.0]];
    let w = array![1.0, 1.0, 1.0];
    let c = array![[0.0], [100.0], [200.0]];
    let mut labels = vec![0; 3];
    let (cn, wic, _) = lloyd_iter(x.view(), w.view(), c.view(), &mut labels, &cancel).unwrap();
    // All go to centre 0; centre 1 takes sample 2 (distance 100), centre 2 sample 1.
    assert_eq!(labels, vec![0, 0, 0]);
    assert_eq!(cn, array![[0.0], [10.0], [1.0]]);
    assert_eq!(wic, vec![1.0, 1.0, 1.0]);
}

#[test]
fn integer_weight_equals_repeated_rows() {
    let cancel = Cancel::new();
    let x = data(300, 3, 11);
    let c = data(4, 3, 12);
    let mut w = Array1::<f64>::ones(300);
    w[5] = 3.0;
    let mut rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    rows.push(rows[5].clone());
    rows.push(rows[5].clone());
    let xr = Array2::from_shape_vec((302, 3), rows.concat()).unwrap();
    let a = kmeans_single_lloyd(x.view(), w.view(), c.view(), 100, 0.0, false, &cancel).unwrap();
    let b = kmeans_single_lloyd(xr.view(), Array1::ones(302).view(), c.view(), 100, 0.0, false, &cancel).unwrap();
    assert_eq!(&a.labels[..], &b.labels[..300]);
    for (p, q) in a.centers.iter().zip(b.centers.iter()) {
        assert!((p - q).abs() < 1e-12);
    }
    assert!((a.inertia - b.inertia).abs() < 1e-9 * b.inertia);
}

#[test]
fn elkan_equals_lloyd_on_separated_data() {
    let cancel = Cancel::new();
    let x = data(2000, 4, 21);
    let c = array![[0.5, 0.5, 0.5, 0.5], [3.5, 3.5, 3.5, 3.5], [6.5, 6.5, 6.5, 6.5], [9.5, 9.5, 9.5, 9.5]];
    let w = Array1::<f64>::ones(2000);
    let a = kmeans_single_lloyd(x.view(), w.view(), c.view(), 100, 1e-12, false, &cancel).unwrap();
    let b = kmeans_single_elkan(x.view(), w.view(), c.view(), 100, 1e-12, false, &cancel).unwrap();
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.n_iter, b.n_iter);
    for (p, q) in a.centers.iter().zip(b.centers.iter()) {
        assert!((p - q).abs() < 1e-12);
    }
}

#[test]
fn candidate_distances_are_squared_distances() {
    let cancel = Cancel::new();
    let x = data(500, 6, 5);
    let norms = Array1::from(row_sq_norms(x.view()));
    let w = Array1::<f64>::ones(500);
    let (dm, pot) = init::candidate_distances(x.view(), norms.view(), &[3, 7], None, w.view(), &cancel).unwrap();
    for (c, &ci) in [3usize, 7].iter().enumerate() {
        let mut s = 0.0;
        for i in 0..500 {
            let dd: f64 = (0..6).map(|f| (x[[i, f]] - x[[ci, f]]).powi(2)).sum();
            assert!((dm[[c, i]] - dd).abs() < 1e-9);
            s += dm[[c, i]];
        }
        assert!((pot[c] - s).abs() < 1e-9 * s);
    }
    let closest = dm.row(0).to_owned();
    let (dm2, _) = init::candidate_distances(x.view(), norms.view(), &[7], Some(closest.view()), w.view(), &cancel).unwrap();
    for i in 0..500 {
        assert_eq!(dm2[[0, i]], dm[[0, i]].min(dm[[1, i]]));
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let cancel = Cancel::new();
    let x = data(10, 3, 1);
    let c = data(2, 4, 1);
    let w = Array1::<f64>::ones(10);
    assert!(assign_labels(x.view(), w.view(), c.view(), &cancel).is_err());
    let c = data(2, 3, 1);
    assert!(assign_labels(x.view(), Array1::<f64>::ones(9).view(), c.view(), &cancel).is_err());
    assert!(params::KMeansParams::new(0).check().is_err());
    let cancelled = Cancel::new();
    cancelled.request();
    assert!(matches!(assign_labels(x.view(), w.view(), c.view(), &cancelled), Err(RmlError::Cancelled)));
}

#[test]
fn numpy_pairwise_sum_matches_sequential_for_short() {
    let v: Vec<f64> = (0..300).map(|i| (i as f64).sqrt()).collect();
    let s = numpy_pairwise_sum(&v);
    let t: f64 = v.iter().sum();
    assert!((s - t).abs() < 1e-9);
    assert_eq!(numpy_pairwise_sum(&[1.0f64, 2.0, 3.0]), 6.0);
}

/// Timing harness, not a test: `RML_KM="n d k f64|f32 reps threads algo" cargo test --release
/// -p rml-cluster --lib kmeans::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing() {
    let spec = std::env::var("RML_KM").unwrap_or_else(|_| "200000 32 64 f64 5 1 pass".into());
    let v: Vec<&str> = spec.split_whitespace().collect();
    let (n, d, k): (usize, usize, usize) = (v[0].parse().unwrap(), v[1].parse().unwrap(), v[2].parse().unwrap());
    let reps: usize = v[4].parse().unwrap();
    let t: usize = v[5].parse().unwrap();
    let algo = v[6];
    let spread: f64 = v.get(7).map_or(4.0, |t| t.parse().unwrap());
    let mut s = 12345u64;
    let mut rnd = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let cen: Vec<f64> = (0..k * d).map(|_| rnd() * 20.0 - 10.0).collect();
    let x = Array2::from_shape_fn((n, d), |(_, _)| 0.0).mapv(|_: f64| 0.0);
    let mut x = x;
    for i in 0..n {
        let j = (rnd() * k as f64) as usize % k;
        for f in 0..d {
            x[[i, f]] = cen[j * d + f] + (rnd() - 0.5) * spread;
        }
    }
    // Initial centres: one sample of each generating centre when well separated.
    let init = if v.get(8) == Some(&"rows") {
        x.slice(ndarray::s![..k, ..]).to_owned()
    } else {
        Array2::from_shape_fn((k, d), |(j, f)| cen[j * d + f] + 0.01 * f as f64)
    };
    fn go<F: Float>(x: Array2<F>, init: Array2<F>, reps: usize, t: usize, algo: &str) {
        let w = Array1::<F>::ones(x.nrows());
        let cancel = Cancel::new();
        let mut labels = vec![0i32; x.nrows()];
        threads::pool(t).unwrap().install(|| {
            let t0 = std::time::Instant::now();
            for _ in 0..reps {
                match algo {
                    "pass" => {
                        lloyd_pass(x.view(), w.view(), init.view(), &mut labels, true, false, &cancel).unwrap();
                    }
                    "assign" => {
                        lloyd_pass(x.view(), w.view(), init.view(), &mut labels, false, false, &cancel).unwrap();
                    }
                    "lloyd" => {
                        let r = kmeans_single_lloyd(x.view(), w.view(), init.view(), 10, 0.0, false, &cancel).unwrap();
                        eprintln!("n_iter {}", r.n_iter);
                        labels = r.labels;
                    }
                    "elkan" => {
                        let r = kmeans_single_elkan(x.view(), w.view(), init.view(), 10, 0.0, false, &cancel).unwrap();
                        eprintln!("n_iter {}", r.n_iter);
                        labels = r.labels;
                    }
                    _ => panic!("algo"),
                }
            }
            let dt = t0.elapsed().as_secs_f64() / reps as f64;
            let per = if algo == "lloyd" || algo == "elkan" { dt / 10.0 } else { dt };
            let (n, d) = x.dim();
            let k = init.nrows();
            eprintln!(
                "{} {algo} n={n} d={d} k={k} threads={t}: {:.3} ms per pass/iter, {:.1} GFLOP/s, checksum {}",
                F::DTYPE,
                per * 1e3,
                2.0 * (n * k * d) as f64 / per / 1e9,
                labels.iter().map(|&l| l as i64).sum::<i64>()
            );
        });
    }
    if v[3] == "f32" {
        go(x.mapv(|a| a as f32), init.mapv(|a| a as f32), reps, t, algo);
    } else {
        go(x, init, reps, t, algo);
    }
}

// ---------------------------------------------------------------------------------------------
// Lloyd pass (rows-in-lanes kernel + SIMD centre sums) against a scalar reference, bitwise.
// ---------------------------------------------------------------------------------------------

/// The documented arithmetic, one row at a time: score `fma(-2, acc, ||c||²)` with `acc` one
/// FMA chain in feature order, first minimum under strict `<`; the sums pushed row by row into
/// per-`BLOCK_ROWS` partial sums that are merged in block order.
fn scalar_lloyd_pass<F: Float>(x: &Array2<F>, w: &Array1<F>, c: &Array2<F>) -> (Vec<i32>, CenterSums) {
    let (n, d) = x.dim();
    let k = c.nrows();
    let norms = row_sq_norms(c.view());
    let labels = fused::scalar_labels(x.as_slice().unwrap(), c.as_slice().unwrap(), &norms, k, d);
    let mut total = CenterSums::zeros(k, d).unwrap();
    for b in 0..n.div_ceil(BLOCK_ROWS) {
        let mut part = CenterSums::zeros(k, d).unwrap();
        for i in b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n) {
            part.push(labels[i] as usize, x.row(i).as_slice().unwrap(), w[i]);
        }
        total.add(&part);
    }
    (labels, total)
}

fn check_lloyd_pass_bitwise<F: Float>(n: usize, d: usize, k: usize, seed: u64) {
    // Small integers: many exact score ties; every fourth centre repeats an earlier one.
    let x = data(n, d, seed).mapv(|v| F::from_f64((v * 2.0).floor() - 3.0));
    let mut c = data(k, d, seed + 7).mapv(|v| F::from_f64((v * 2.0).floor() - 3.0));
    for j in (3..k).step_by(4) {
        let prev = c.row(j - 3).to_owned();
        c.row_mut(j).assign(&prev);
    }
    let w = Array1::from_shape_fn(n, |i| F::from_f64(0.25 + (i % 5) as f64 * 0.75));
    let (want_labels, want) = scalar_lloyd_pass(&x, &w, &c);
    for t in [1, 2] {
        let mut labels = vec![-1i32; n];
        let (sums, _) = threads::pool(t)
            .unwrap()
            .install(|| lloyd_pass(x.view(), w.view(), c.view(), &mut labels, true, false, &Cancel::new()))
            .unwrap();
        let sums = sums.unwrap();
        let what = format!("{} n={n} d={d} k={k} threads={t}", F::DTYPE);
        assert_eq!(labels, want_labels, "{what}");
        let bits = |v: &[f64]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&sums.sums), bits(&want.sums), "{what}");
        assert_eq!(bits(&sums.weights), bits(&want.weights), "{what}");
    }
}

#[test]
fn lloyd_pass_labels_and_sums_are_bitwise_the_scalar_ones() {
    let n = 2 * BLOCK_ROWS + 123; // not a multiple of the kernels' row steps
    for (d, k) in [(9, 5), (13, 17), (32, 64), (33, 16), (70, 3)] {
        check_lloyd_pass_bitwise::<f32>(n, d, k, d as u64);
        check_lloyd_pass_bitwise::<f64>(n, d, k, d as u64);
    }
    for (d, k) in [(2, 7), (8, 9)] {
        check_lloyd_pass_bitwise::<f32>(1001, d, k, 3);
        check_lloyd_pass_bitwise::<f64>(1001, d, k, 3);
    }
}
