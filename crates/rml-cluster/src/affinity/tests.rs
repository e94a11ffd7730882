use super::*;
use ndarray::Array2;

/// A literal transcription of scikit-learn's loop over full matrices (the reference).
fn reference(s: &Array2<f64>, damping: f64, max_iter: usize, ci: usize) -> (Vec<bool>, usize, bool) {
    let n = s.nrows();
    let mut a = Array2::<f64>::zeros((n, n));
    let mut r = Array2::<f64>::zeros((n, n));
    let mut e = vec![vec![false; ci]; n];
    let mut ex = vec![false; n];
    for it in 0..max_iter {
        let tmp = &a + s;
        let mut y = vec![0.0; n];
        let mut y2 = vec![0.0; n];
        let mut idx = vec![0usize; n];
        for i in 0..n {
            let row = tmp.row(i);
            let j = np_argmax(row.iter().copied());
            idx[i] = j;
            y[i] = row[j];
            y2[i] = row.iter().enumerate().filter(|&(k, _)| k != j).map(|(_, &v)| v).fold(f64::NEG_INFINITY, f64::max);
        }
        let mut rnew = Array2::<f64>::zeros((n, n));
        for i in 0..n {
            for k in 0..n {
                rnew[[i, k]] = if k == idx[i] { s[[i, k]] - y2[i] } else { s[[i, k]] - y[i] };
            }
        }
        r = &r * damping + &(&rnew * (1.0 - damping));
        let mut rp = r.mapv(max0);
        for k in 0..n {
            rp[[k, k]] = r[[k, k]];
        }
        let mut colsum = rp.row(0).to_owned();
        for i in 1..n {
            colsum = &colsum + &rp.row(i);
        }
        let mut t = &rp - &colsum;
        for i in 0..n {
            for k in 0..n {
                if i != k {
                    t[[i, k]] = max0(t[[i, k]]);
                }
            }
        }
        a = &a * damping - &(&t * (1.0 - damping));
        let mut kk = 0;
        for i in 0..n {
            ex[i] = a[[i, i]] + r[[i, i]] > 0.0;
            e[i][it % ci] = ex[i];
            kk += ex[i] as usize;
        }
        if it >= ci {
            let stable = e.iter().all(|row| {
                let se = row.iter().filter(|&&x| x).count();
                se == ci || se == 0
            });
            if stable && kk > 0 {
                return (ex, it + 1, true);
            }
        }
    }
    (ex, max_iter, false)
}

fn lcg_matrix(n: usize, seed: u64) -> Array2<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut pts = Vec::new();
    for _ in 0..n * 2 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        pts.push(((state >> 11) as f64 / (1u64 << 53) as f64) * 10.0);
    }
    let mut s = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..n {
            let dx = pts[2 * i] - pts[2 * j];
            let dy = pts[2 * i + 1] - pts[2 * j + 1];
            s[[i, j]] = -(dx * dx + dy * dy);
        }
    }
    let mut off: Vec<f64> = s.iter().copied().collect();
    off.sort_by(|a, b| a.total_cmp(b));
    let med = off[off.len() / 2];
    for i in 0..n {
        s[[i, i]] = med + 1e-9 * i as f64;
    }
    s
}

#[test]
fn matches_literal_transcription_for_any_thread_count() {
    for (n, seed) in [(2usize, 1u64), (3, 2), (5, 7), (17, 3), (60, 4), (131, 5)] {
        let s = lcg_matrix(n, seed);
        let (ex, n_iter, conv) = reference(&s, 0.5, 200, 15);
        let params = AffinityParams::new(0.5, 200, 15).unwrap();
        for threads in [1usize, 2, 3, 7] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let res = pool.install(|| fit(s.view(), &params, &Cancel::new())).unwrap();
            assert_eq!(res.n_iter, n_iter, "n={n}");
            assert_eq!(res.converged, conv);
            let (cci, labels) = assign(&s.view(), &ex, &Cancel::new()).unwrap();
            assert_eq!(res.cluster_centers_indices, cci);
            assert_eq!(res.labels, labels);
            let k = ex.iter().filter(|&&x| x).count();
            if k == 0 {
                assert!(res.labels.iter().all(|&l| l == -1));
            } else {
                assert_eq!(res.labels.len(), n);
                assert!(res.labels.iter().all(|&l| l >= 0 && (l as usize) < res.cluster_centers_indices.len()));
            }
        }
    }
}

#[test]
fn float32_similarities_run_in_f64_messages() {
    let s = lcg_matrix(40, 9);
    let s32 = s.mapv(|v| v as f32);
    let s64 = s32.mapv(|v| v as f64);
    let params = AffinityParams::new(0.7, 100, 10).unwrap();
    let a = fit(s32.view(), &params, &Cancel::new()).unwrap();
    let b = fit(s64.view(), &params, &Cancel::new()).unwrap();
    assert_eq!(a.n_iter, b.n_iter);
    assert_eq!(a.cluster_centers_indices, b.cluster_centers_indices);
}

#[test]
fn bad_parameters_and_shapes_are_errors() {
    assert!(AffinityParams::new(1.0, 10, 10).is_err());
    assert!(AffinityParams::new(0.4, 10, 10).is_err());
    assert!(AffinityParams::new(f64::NAN, 10, 10).is_err());
    assert!(AffinityParams::new(0.5, 0, 10).is_err());
    assert!(AffinityParams::new(0.5, 10, 0).is_err());
    let p = AffinityParams::new(0.5, 10, 3).unwrap();
    let s = Array2::<f64>::zeros((3, 4));
    assert!(fit(s.view(), &p, &Cancel::new()).is_err());
    let s = Array2::<f64>::zeros((0, 0));
    assert!(fit(s.view(), &p, &Cancel::new()).is_err());
}

#[test]
fn nan_and_single_sample_do_not_panic() {
    let p = AffinityParams::new(0.5, 20, 3).unwrap();
    let mut s = lcg_matrix(8, 1);
    s[[2, 3]] = f64::NAN;
    let _ = fit(s.view(), &p, &Cancel::new()).unwrap();
    let s = Array2::<f64>::from_elem((1, 1), -1.0);
    let res = fit(s.view(), &p, &Cancel::new()).unwrap();
    assert_eq!(res.labels.len(), 1);
}

#[test]
fn cancellation_stops_the_loop() {
    let p = AffinityParams::new(0.5, 20, 3).unwrap();
    let s = lcg_matrix(8, 1);
    let c = Cancel::new();
    c.request();
    assert_eq!(fit(s.view(), &p, &c), Err(RmlError::Cancelled));
}

#[test]
fn np_argmax_rules() {
    assert_eq!(np_argmax([1.0, 3.0, 3.0].into_iter()), 1);
    assert_eq!(np_argmax([f64::NEG_INFINITY, f64::NEG_INFINITY].into_iter()), 0);
    assert_eq!(np_argmax([1.0, f64::NAN, 5.0, f64::NAN].into_iter()), 1);
}

#[test]
#[ignore]
fn timing_n2000() {
    let s = lcg_matrix(2000, 1);
    let p = AffinityParams::new(0.5, 50, 15).unwrap();
    let t = std::time::Instant::now();
    let r = fit(s.view(), &p, &Cancel::new()).unwrap();
    eprintln!("n_iter {} time {:?}", r.n_iter, t.elapsed());
}
