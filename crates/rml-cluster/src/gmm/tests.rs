use super::*;
use ndarray::{array, Array2};

fn blobs(n: usize) -> Array2<f64> {
    // Deterministic two-blob data without an RNG dependency.
    let mut x = Array2::zeros((n, 2));
    let mut s: u64 = 12345;
    for i in 0..n {
        for j in 0..2 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5;
            x[[i, j]] = u + if i % 2 == 0 { 3.0 } else { -3.0 } * (j as f64 + 1.0);
        }
    }
    x
}

fn init() -> GmmParams {
    GmmParams {
        weights: array![0.5, 0.5],
        means: array![[1.0, 1.0], [-1.0, -1.0]],
        covariances: None,
        precisions_chol: array![[1.0, 1.0], [1.0, 1.0]],
    }
}

fn cfg(cov: CovarianceType) -> EmConfig {
    EmConfig {
        covariance_type: cov,
        tol: 1e-10,
        reg_covar: 1e-6,
        max_iter: 50,
        init_lower_bound: f64::NEG_INFINITY,
    }
}

#[test]
fn exp_is_accurate() {
    let mut x = -745.0;
    while x <= 0.0 {
        let e = exp_nonpositive(x);
        let t = x.exp();
        if x >= -708.0 {
            assert!(((e - t) / t).abs() < 5e-16, "x={x} e={e} t={t}");
        } else {
            assert_eq!(e, 0.0);
        }
        x += 0.0137;
    }
    assert_eq!(exp_nonpositive(0.0), 1.0);
    assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
}

#[test]
fn em_never_decreases_the_lower_bound_and_finds_the_blobs() {
    let x = blobs(400);
    for cov in [CovarianceType::Diag, CovarianceType::Spherical] {
        let mut p = init();
        if cov == CovarianceType::Spherical {
            p.precisions_chol = array![[1.0], [1.0]];
        }
        let r = em(x.view(), &p, cfg(cov), &Cancel::new()).unwrap();
        for w in r.lower_bounds.windows(2) {
            assert!(w[1] >= w[0] - 1e-12, "{:?}", r.lower_bounds);
        }
        assert!(r.converged);
        let m = &r.params.means;
        assert!((m[[0, 0]] - 3.0).abs() < 0.1 && (m[[0, 1]] - 6.0).abs() < 0.1, "{m}");
        assert!((r.params.weights.sum() - 1.0).abs() < 1e-12);
        assert_eq!(r.labels.len(), 400);
        assert_eq!(r.labels[0], 0);
        assert_eq!(r.labels[1], 1);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let x = blobs(3 * CHUNK_ROWS + 17);
    let run = |t: usize| {
        rml_core::threads::pool(t)
            .unwrap()
            .install(|| em(x.view(), &init(), cfg(CovarianceType::Diag), &Cancel::new()).unwrap())
    };
    let (a, b) = (run(1), run(3));
    assert_eq!(a.params, b.params);
    assert_eq!(a.lower_bounds, b.lower_bounds);
}

#[test]
fn estimate_matches_a_direct_computation() {
    let x = blobs(50);
    let p = init();
    let e = estimate(x.view(), &p, CovarianceType::Diag, true, &Cancel::new()).unwrap();
    for i in 0..50 {
        let mut lp = [0.0; 2];
        for c in 0..2 {
            let mut q = 0.0;
            for j in 0..2 {
                let dlt = x[[i, j]] - p.means[[c, j]];
                q += dlt * dlt;
            }
            lp[c] = 0.5f64.ln() - LN_2PI - 0.5 * q;
        }
        let mx = lp[0].max(lp[1]);
        let lse = mx + ((lp[0] - mx).exp() + (lp[1] - mx).exp()).ln();
        assert!((e.log_prob_norm[i] - lse).abs() < 1e-12 * lse.abs().max(1.0));
        let r = e.resp.as_ref().unwrap();
        assert!((r[[i, 0]] - (lp[0] - lse).exp()).abs() < 1e-12);
    }
}

#[test]
fn collapsed_component_is_an_error_not_a_panic() {
    let x = Array2::<f64>::zeros((10, 2));
    let mut c = cfg(CovarianceType::Diag);
    c.reg_covar = 0.0;
    let r = em(x.view(), &init(), c, &Cancel::new());
    assert!(matches!(r, Err(RmlError::InvalidInput(m)) if m.contains("ill-defined")));
}
