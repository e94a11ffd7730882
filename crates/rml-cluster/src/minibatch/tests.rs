use super::*;
use ndarray::{Array1, Array2, Array3};

fn blobs(n_per: usize, seed: u32) -> (Array2<f64>, Array2<f64>) {
    let centres = ndarray::array![[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
    let mut r = LegacyMt::seed(seed);
    let n = 3 * n_per;
    let x = Array2::from_shape_fn((n, 2), |(i, j)| centres[[i % 3, j]] + r.random_sample() - 0.5);
    (x, centres)
}

fn uniform_cdf(n: usize) -> Array1<f64> {
    let mut acc = 0.0;
    let mut c: Vec<f64> = (0..n)
        .map(|_| {
            acc += 1.0 / n as f64;
            acc
        })
        .collect();
    let last = *c.last().unwrap();
    c.iter_mut().for_each(|v| *v /= last);
    Array1::from_vec(c)
}

fn params(b: usize, steps: usize) -> MiniBatchParams {
    MiniBatchParams {
        batch_size: b,
        n_steps: steps,
        tol: 0.0,
        max_no_improvement: Some(10),
        reassignment_ratio: 0.01,
        compute_labels: true,
        verbose: true,
    }
}

#[test]
fn finds_well_separated_blobs() {
    let (x, truth) = blobs(200, 1);
    let n = x.nrows();
    let w = Array1::from_elem(n, 1.0);
    let mut inits = Array3::<f64>::zeros((1, 3, 2));
    for c in 0..3 {
        inits.slice_mut(ndarray::s![0, c, ..]).assign(&x.row(c));
    }
    let valid = Array1::from_vec((0..30).collect::<Vec<i64>>());
    let out = fit(x.view(), w.view(), uniform_cdf(n).view(), inits.view(), valid.view(), &params(50, 200), LegacyMt::seed(0), &Cancel::new()).unwrap();
    for c in 0..3 {
        let dist: f64 = (0..2).map(|j| (out.centers[[c, j]] - truth[[c, j]]).powi(2)).sum();
        assert!(dist < 0.1, "centre {c} at {:?}", out.centers.row(c));
    }
    let labels = out.labels.unwrap();
    for i in 0..n {
        assert_eq!(labels[i] as usize, i % 3);
    }
    assert!(out.n_steps >= 2 && out.n_steps <= 200);
    assert!(out.inertia.unwrap() > 0.0);
    assert!(matches!(out.log[0], LogEvent::InitInertia { .. }));
}

#[test]
fn same_result_for_any_thread_count() {
    let (x, _) = blobs(700, 2);
    let n = x.nrows();
    let w = Array1::from_shape_fn(n, |i| 1.0 + (i % 3) as f64);
    let mut inits = Array3::<f64>::zeros((2, 5, 2));
    for c in 0..5 {
        inits.slice_mut(ndarray::s![0, c, ..]).assign(&x.row(c));
        inits.slice_mut(ndarray::s![1, c, ..]).assign(&x.row(100 + c));
    }
    let valid = Array1::from_vec((0..300).collect::<Vec<i64>>());
    let run = |threads: i64| {
        rml_core::threads::with_n_jobs(Some(threads), || {
            fit(x.view(), w.view(), uniform_cdf(n).view(), inits.view(), valid.view(), &params(600, 50), LegacyMt::seed(7), &Cancel::new())
        })
        .unwrap()
        .unwrap()
    };
    let a = run(1);
    let b = run(3);
    assert_eq!(a.centers, b.centers);
    assert_eq!(a.counts, b.counts);
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.inertia.map(f64::to_bits), b.inertia.map(f64::to_bits));
    assert_eq!(a.rng, b.rng);
}

#[test]
fn partial_fit_moves_centres_to_batch_means() {
    // counts start at zero, so one step puts each centre at the weighted mean of its members
    let x = ndarray::array![[0.0f32, 0.0], [2.0, 0.0], [10.0, 10.0], [12.0, 10.0]];
    let w = ndarray::array![1.0f32, 3.0, 1.0, 1.0];
    let c = ndarray::array![[1.0f32, 1.0], [11.0, 11.0]];
    let counts = Array1::<f32>::zeros(2);
    let out = partial_fit(x.view(), w.view(), c.view(), counts.view(), false, 0.01, true, false, LegacyMt::seed(0), &Cancel::new()).unwrap();
    assert_eq!(out.centers, ndarray::array![[1.5f32, 0.0], [11.0, 10.0]]);
    assert_eq!(out.counts.to_vec(), vec![4.0f32, 2.0]);
    assert_eq!(out.labels.unwrap().to_vec(), vec![0, 0, 1, 1]);
    // inertia: 1*1.5^2 + 3*0.5^2 + 1 + 1
    assert!((out.inertia.unwrap() - (2.25 + 0.75 + 2.0)).abs() < 1e-6);
    // the generator is untouched without reassignment
    assert_eq!(out.rng, LegacyMt::seed(0));
}

#[test]
fn empty_centre_is_reassigned_to_a_batch_member() {
    let x = ndarray::array![[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [0.3, 0.0]];
    let w = Array1::from_elem(4, 1.0);
    let c = ndarray::array![[0.0, 0.0], [100.0, 100.0]];
    let counts = Array1::<f64>::zeros(2);
    let out = partial_fit(x.view(), w.view(), c.view(), counts.view(), true, 0.01, false, true, LegacyMt::seed(0), &Cancel::new()).unwrap();
    // centre 1 got nothing, is reassigned to a batch row, and gets the smallest kept count
    assert!(out.centers[[1, 0]] <= 0.3 && out.centers[[1, 1]] == 0.0);
    assert_eq!(out.counts.to_vec(), vec![4.0, 4.0]);
    assert_eq!(out.log, vec![LogEvent::Reassign { n: 1 }]);
    let mut r = LegacyMt::seed(0);
    let pick = r.choice_without_replacement(4, 1).unwrap()[0];
    assert_eq!(out.centers.row(1), x.row(pick));
    assert_eq!(out.rng, r);
}

#[test]
fn bad_inputs_are_errors() {
    let x = Array2::<f64>::zeros((4, 2));
    let w = Array1::from_elem(4, 1.0);
    let inits = Array3::<f64>::zeros((1, 2, 3));
    let valid = Array1::from_vec(vec![0i64]);
    let c = Cancel::new();
    assert!(fit(x.view(), w.view(), uniform_cdf(4).view(), inits.view(), valid.view(), &params(2, 3), LegacyMt::seed(0), &c).is_err());
    let inits = Array3::<f64>::zeros((1, 2, 2));
    assert!(fit(x.view(), w.view(), uniform_cdf(4).view(), inits.view(), valid.view(), &params(5, 3), LegacyMt::seed(0), &c).is_err());
    let bad_valid = Array1::from_vec(vec![9i64]);
    assert!(fit(x.view(), w.view(), uniform_cdf(4).view(), inits.view(), bad_valid.view(), &params(2, 3), LegacyMt::seed(0), &c).is_err());
    let wnan = Array1::from_elem(4, f64::NAN);
    assert!(fit(x.view(), wnan.view(), uniform_cdf(4).view(), inits.view(), valid.view(), &params(2, 3), LegacyMt::seed(0), &c).is_err());
    c.request();
    assert_eq!(
        fit(x.view(), w.view(), uniform_cdf(4).view(), inits.view(), valid.view(), &params(2, 3), LegacyMt::seed(0), &c).unwrap_err(),
        RmlError::Cancelled
    );
}
