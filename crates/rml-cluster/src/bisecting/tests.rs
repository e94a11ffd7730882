use super::*;
use ndarray::{Array3, ArrayView2, Axis};

/// Deterministic pseudo-random data: a few noisy groups.
fn data<F: Float>(n: usize, d: usize, seed: u64) -> (Array2<F>, Array1<F>) {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let x = Array2::from_shape_fn((n, d), |(i, j)| F::from_f64(((i % 3) * (j % 4 + 1)) as f64 * 2.0 + next() * 3.0 - 1.5));
    let w = Array1::from_shape_fn(n, |_| F::from_f64(0.5 + next()));
    (x, w)
}

fn params(algorithm: Algorithm, strategy: Strategy) -> SplitParams {
    SplitParams { max_iter: 300, tol: 1e-4, algorithm, strategy, verbose: false }
}

/// Inits: two rows of the subset per run.
fn inits<F: Float>(x: &Array2<F>, idx: &[usize], picks: &[(usize, usize)]) -> Array3<F> {
    let d = x.ncols();
    Array3::from_shape_fn((picks.len(), 2, d), |(r, j, f)| {
        let p = if j == 0 { picks[r].0 } else { picks[r].1 };
        x[[idx[p], f]]
    })
}

/// The reference: kmeans' own loop on the copied subset, as the Python code did before.
fn reference<F: Float>(
    x: &Array2<F>,
    w: &Array1<F>,
    idx: &[usize],
    inits: &Array3<F>,
    p: &SplitParams,
) -> (Array2<F>, Vec<i32>, f64, [f64; 2], usize) {
    let xsub = kmeans::take_rows(x.view(), idx).unwrap();
    let wsub = Array1::from_iter(idx.iter().map(|&i| w[i]));
    let kp = KMeansParams { n_clusters: 2, max_iter: p.max_iter, tol: p.tol, algorithm: p.algorithm, verbose: false }
        .check()
        .unwrap();
    let c = Cancel::new();
    let mut best: Option<kmeans::KMeansRun<F>> = None;
    for init in inits.outer_iter() {
        let r = kp.fit_from(xsub.view(), wsub.view(), init, &c).unwrap();
        if best.as_ref().is_none_or(|b| r.inertia < b.inertia * (1.0 - 1e-6)) {
            best = Some(r);
        }
    }
    let b = best.unwrap();
    let s0 = kmeans::inertia(xsub.view(), wsub.view(), b.centers.view(), &b.labels, Some(0), &c).unwrap();
    let s1 = kmeans::inertia(xsub.view(), wsub.view(), b.centers.view(), &b.labels, Some(1), &c).unwrap();
    (b.centers, b.labels, b.inertia, [s0, s1], b.n_iter)
}

fn zeros<F: Float>(x: &Array2<F>) -> Array1<F> {
    Array1::zeros(x.ncols())
}

fn exact_expected(d: usize) -> bool {
    d <= crate::kmeans::SMALL_D || two::hw_fma()
}

/// A non-trivial mean to subtract on the fly.
fn mean_of<F: Float>(x: &Array2<F>) -> Array1<F> {
    x.map(|v| v.as_f64()).mean_axis(Axis(0)).unwrap().map(|&v| F::from_f64(v))
}

fn check_against_reference<F: Float>(n: usize, d: usize, algorithm: Algorithm, seed: u64) {
    let (x, w) = data::<F>(n, d, seed);
    let mu = mean_of(&x);
    let xc = &x - &mu;
    // An ascending subset of the rows (every row not divisible by 5).
    let idx: Vec<usize> = (0..n).filter(|i| i % 5 != 0).collect();
    let ini = inits(&xc, &idx, &[(0, 7), (3, 11), (1, 2)]);
    let p = params(algorithm, Strategy::BiggestInertia);
    let (rc, rl, ri, rs, rn) = reference(&xc, &w, &idx, &ini, &p);
    let mut order = idx.clone();
    let s = split(x.view(), mu.view(), w.view(), &mut order, ini.view(), &p, &Cancel::new()).unwrap();
    // The partition: label-0 rows first, each side ascending (stable).
    let left: Vec<usize> = idx.iter().zip(&rl).filter(|(_, &l)| l == 0).map(|(&i, _)| i).collect();
    let right: Vec<usize> = idx.iter().zip(&rl).filter(|(_, &l)| l == 1).map(|(&i, _)| i).collect();
    if incremental(d, algorithm) {
        // The incremental passes sum in another order than KMeans' passes from zero: the same
        // labels, partition and iterations, the centres and inertias equal up to rounding.
        assert_eq!(s.n_iter, rn, "n_iter d={d}");
        assert_eq!(s.n_left, left.len());
        assert_eq!(&order[..s.n_left], &left[..]);
        assert_eq!(&order[s.n_left..], &right[..]);
        let rtol = rtol_of::<F>();
        assert_close_arrays(&s.centers, &rc, rtol, &format!("centres d={d}"));
        assert_close(s.inertia, ri, rtol, "inertia");
        assert_close(s.scores[0], rs[0], rtol, "score 0");
        assert_close(s.scores[1], rs[1], rtol, "score 1");
    } else if exact_expected(d) {
        assert_eq!(s.centers, rc, "centres d={d} {algorithm:?}");
        assert_eq!(s.inertia.to_bits(), ri.to_bits());
        assert_eq!(s.scores[0].to_bits(), rs[0].to_bits());
        assert_eq!(s.scores[1].to_bits(), rs[1].to_bits());
        assert_eq!(s.n_iter, rn);
        assert_eq!(s.n_left, left.len());
        assert_eq!(&order[..s.n_left], &left[..]);
        assert_eq!(&order[s.n_left..], &right[..]);
    } else {
        assert!((s.inertia - ri).abs() <= 1e-9 * ri);
    }
}

/// Whether the split runs the incremental passes (Lloyd, `d > SMALL_D`).
fn incremental(d: usize, algorithm: Algorithm) -> bool {
    algorithm == Algorithm::Lloyd && d > crate::kmeans::SMALL_D
}

/// Relative tolerance between the incremental sums and sums from zero, after the rounding of
/// the centres to `F` (scikit-learn's own sums change order with its thread count).
fn rtol_of<F: Float>() -> f64 {
    if F::DTYPE == "float64" {
        1e-10
    } else {
        1e-5
    }
}

fn assert_close(a: f64, b: f64, rtol: f64, what: &str) {
    assert!((a - b).abs() <= rtol * a.abs().max(b.abs()), "{what}: {a} vs {b}");
}

/// `|a - b| <= rtol · (|b| + max |b|)` elementwise (a coordinate near 0 is compared at the
/// scale of the centres).
fn assert_close_arrays<F: Float>(a: &Array2<F>, b: &Array2<F>, rtol: f64, what: &str) {
    assert_eq!(a.dim(), b.dim(), "{what}");
    let scale = b.iter().map(|v| v.as_f64().abs()).fold(0.0, f64::max);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.as_f64(), y.as_f64());
        assert!((x - y).abs() <= rtol * (y.abs() + scale), "{what}: {x} vs {y}");
    }
}

#[test]
fn lloyd_matches_kmeans_on_the_copied_subset() {
    for &(d, seed) in &[(3usize, 1u64), (8, 2), (9, 3), (20, 4), (33, 5)] {
        check_against_reference::<f64>(2003, d, Algorithm::Lloyd, seed);
        check_against_reference::<f32>(2003, d, Algorithm::Lloyd, seed);
    }
    // more rows than one reduction block
    check_against_reference::<f64>(3 * crate::kmeans::BLOCK_ROWS + 17, 12, Algorithm::Lloyd, 9);
}

#[test]
fn elkan_runs_kmeans_elkan() {
    check_against_reference::<f64>(1501, 5, Algorithm::Elkan, 6);
    check_against_reference::<f32>(1501, 16, Algorithm::Elkan, 7);
}

#[test]
fn largest_cluster_scores_are_counts() {
    let (x, w) = data::<f64>(500, 4, 3);
    let mut order: Vec<usize> = (0..500).collect();
    let ini = inits(&x, &order, &[(0, 1)]);
    let s = split(x.view(), zeros(&x).view(), w.view(), &mut order, ini.view(), &params(Algorithm::Lloyd, Strategy::LargestCluster), &Cancel::new())
        .unwrap();
    assert_eq!(s.scores, [s.n_left as f64, (500 - s.n_left) as f64]);
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..500).collect::<Vec<_>>());
}

#[test]
fn identical_initial_centres_relocate_as_kmeans() {
    // Both centres equal: every row ties to centre 0, centre 1 is empty and relocated.
    for d in [3usize, 12] {
        let (x, w) = data::<f64>(700, d, 11);
        let idx: Vec<usize> = (0..700).collect();
        let ini = inits(&x, &idx, &[(5, 5)]);
        let p = params(Algorithm::Lloyd, Strategy::BiggestInertia);
        let (rc, rl, ri, _, rn) = reference(&x, &w, &idx, &ini, &p);
        let mut order = idx.clone();
        let s = split(x.view(), zeros(&x).view(), w.view(), &mut order, ini.view(), &p, &Cancel::new()).unwrap();
        assert_eq!(s.n_iter, rn);
        assert_eq!(s.n_left, rl.iter().filter(|&&l| l == 0).count());
        if incremental(d, p.algorithm) {
            // Relocated in the first pass (sums from zero), incremental passes after.
            assert_close_arrays(&s.centers, &rc, 1e-10, "centres");
            assert_close(s.inertia, ri, 1e-10, "inertia");
        } else if exact_expected(d) {
            assert_eq!(s.centers, rc);
            assert_eq!(s.inertia, ri);
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (x, w) = data::<f64>(3 * crate::kmeans::BLOCK_ROWS + 5, 10, 13);
    let idx: Vec<usize> = (0..x.nrows()).filter(|i| i % 3 != 1).collect();
    let ini = inits(&x, &idx, &[(0, 9), (2, 4)]);
    let p = params(Algorithm::Lloyd, Strategy::BiggestInertia);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut order = idx.clone();
        let s = pool.install(|| split(x.view(), zeros(&x).view(), w.view(), &mut order, ini.view(), &p, &Cancel::new()).unwrap());
        (s.centers, s.scores.map(f64::to_bits), s.inertia.to_bits(), order)
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let (x, w) = data::<f64>(50, 3, 1);
    let ini = inits(&x, &(0..50).collect::<Vec<_>>(), &[(0, 1)]);
    let p = params(Algorithm::Lloyd, Strategy::BiggestInertia);
    let c = Cancel::new();
    let mut bad = vec![0usize, 1, 50];
    assert!(split(x.view(), zeros(&x).view(), w.view(), &mut bad, ini.view(), &p, &c).is_err());
    let mut one = vec![3usize];
    assert!(split(x.view(), zeros(&x).view(), w.view(), &mut one, ini.view(), &p, &c).is_err());
    let mut ok: Vec<usize> = (0..50).collect();
    let wrong = ini.select(Axis(2), &[0, 1]);
    assert!(split(x.view(), zeros(&x).view(), w.view(), &mut ok, wrong.view(), &p, &c).is_err());
    assert!(split(x.view(), zeros(&x).view(), w.slice(ndarray::s![..49]), &mut ok, ini.view(), &p, &c).is_err());
    let p0 = SplitParams { max_iter: 0, ..p };
    assert!(split(x.view(), zeros(&x).view(), w.view(), &mut ok, ini.view(), &p0, &c).is_err());
    let short_mean = Array1::<f64>::zeros(2);
    assert!(split(x.view(), short_mean.view(), w.view(), &mut ok, ini.view(), &p, &c).is_err());
    let empty = Array3::<f64>::zeros((0, 2, 3));
    assert!(split(x.view(), zeros(&x).view(), w.view(), &mut ok, empty.view(), &p, &c).is_err());
}


#[test]
fn column_mean_is_the_sequential_sum_for_any_thread_count() {
    for &(n, d) in &[(1usize, 2usize), (37, 3), (1000, 17), (4099, 33)] {
        let (x, _) = data::<f64>(n, d, n as u64);
        let mut naive = vec![0.0f64; d];
        for r in x.rows() {
            for (a, &v) in naive.iter_mut().zip(r) {
                *a += v;
            }
        }
        let naive: Vec<f64> = naive.iter().map(|s| s / n as f64).collect();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| column_mean(x.view(), &Cancel::new()).unwrap());
            assert_eq!(got.to_vec(), naive, "n={n} d={d} threads={threads}");
        }
        let (x32, _) = data::<f32>(n, d, 3);
        let mut s32 = vec![0.0f32; d];
        for r in x32.rows() {
            for (a, &v) in s32.iter_mut().zip(r) {
                *a += v;
            }
        }
        let got = column_mean(x32.view(), &Cancel::new()).unwrap();
        assert_eq!(got.to_vec(), s32.iter().map(|s| s / n as f32).collect::<Vec<_>>());
    }
    let (x, _) = data::<f64>(10, 1, 1);
    assert!(column_mean(x.view(), &Cancel::new()).is_err());
}

#[test]
fn choice_positions_follow_numpys_cdf_and_checks() {
    let w = [9.0f64, 1.0, 1.0, 1.0, 1.0, 9.0];
    let idx = [1usize, 2, 3, 4]; // weights 1, 1, 1, 1: cdf 0.25, 0.5, 0.75, 1
    assert_eq!(choice_positions(&w, &idx, &[0.3, 0.5, 0.0, 0.999], &[], 2).unwrap(), vec![1, 2, 0, 3]);
    // position 1 found: p = (1, 0, 1, 1) / 4, cdf = (1/3, 1/3, 2/3, 1)
    assert_eq!(choice_positions(&w, &idx, &[0.4, 0.2], &[1], 2).unwrap(), vec![2, 0]);
    let msg = |w: &[f64], size| match choice_positions(w, &[0, 1, 2], &[0.5], &[], size) {
        Err(rml_core::RmlError::InvalidParameter(m)) => m,
        other => panic!("expected an error, got {other:?}"),
    };
    assert_eq!(msg(&[1.0, -1.0, 2.0], 2), "probabilities are not non-negative");
    assert_eq!(msg(&[1.0, f64::NAN, 2.0], 2), "probabilities contain NaN");
    assert_eq!(msg(&[1.0, 0.0, 0.0], 2), "Fewer non-zero entries in p than size");
    assert_eq!(msg(&[1.0, 1.0, 1.0], 4), "Cannot take a larger sample than population when 'replace=False'");
    // the checks run in the first round only (numpy validates p once)
    assert_eq!(choice_positions(&[1.0f64, 0.0, 1.0], &[0, 1, 2], &[0.9], &[0], 2).unwrap(), vec![2]);
    assert!(choice_positions(&w, &[0, 99], &[0.5], &[], 2).is_err());
}

#[test]
fn scratch_buffer_gives_the_same_split_and_is_checked() {
    let (x, w) = data::<f64>(3000, 12, 5);
    let mu = mean_of(&x);
    let order: Vec<usize> = (0..3000).filter(|i| i % 3 != 1).collect();
    let ini = inits(&x, &order, &[(3, 500)]);
    let p = params(Algorithm::Lloyd, Strategy::BiggestInertia);
    let mut o1 = order.clone();
    let a = split(x.view(), mu.view(), w.view(), &mut o1, ini.view(), &p, &Cancel::new()).unwrap();
    let mut o2 = order.clone();
    let mut scratch = vec![f64::NAN; order.len() * 13 + 7];
    let b = split_with_scratch(x.view(), mu.view(), w.view(), &mut o2, ini.view(), &p, Some(&mut scratch), &Cancel::new()).unwrap();
    assert_eq!(o1, o2);
    assert_eq!(a.centers, b.centers);
    assert_eq!(a.inertias, b.inertias);
    assert_eq!(a.n_left, b.n_left);
    let mut small = vec![0.0; order.len() * 13 - 1];
    let mut o3 = order.clone();
    assert!(split_with_scratch(x.view(), mu.view(), w.view(), &mut o3, ini.view(), &p, Some(&mut small), &Cancel::new()).is_err());
}

/// `n` rows around `groups` centres in [-10, 10]^d with uniform noise of half-width `spread`
/// (`groups = 0`: uniform in [0, 4]^d, many near-ties), the last `dups` rows copies of
/// earlier ones.
fn blobs<F: Float>(n: usize, d: usize, groups: usize, spread: f64, dups: usize, seed: u64) -> Array2<F> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15).wrapping_add(7);
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let c: Vec<f64> = (0..groups.max(1) * d).map(|_| next() * 20.0 - 10.0).collect();
    let mut x = Array2::<f64>::zeros((n, d));
    for i in 0..n {
        let g = (next() * groups.max(1) as f64) as usize;
        for f in 0..d {
            x[[i, f]] = if groups == 0 { next() * 4.0 } else { c[g * d + f] + spread * (2.0 * next() - 1.0) };
        }
    }
    for q in 0..dups.min(n / 2) {
        let src = (next() * (n / 2) as f64) as usize;
        let row = x.row(src).to_owned();
        x.row_mut(n - 1 - q).assign(&row);
    }
    x.mapv(F::from_f64)
}

/// The pruned, incremental split against the forced-dense one from the same start: the same
/// partition (labels), `n_left` and iterations, bit for bit; centres, inertias and scores
/// within the tolerance of a different summation order. Returns, per pruned run, the rows
/// scored per pass and the iterations after which the sums were recomputed from zero.
fn pruned_is_dense<F: Float>(
    x: &Array2<F>,
    mu: &Array1<F>,
    w: &Array1<F>,
    idx: &[usize],
    ini: &Array3<F>,
    p: &SplitParams,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let c = Cancel::new();
    let mut o1 = idx.to_vec();
    let (a, sa) = split_impl(x.view(), mu.view(), w.view(), &mut o1, ini.view(), p, None, true, &c).unwrap();
    let mut o2 = idx.to_vec();
    let (b, sb) = split_impl(x.view(), mu.view(), w.view(), &mut o2, ini.view(), p, None, false, &c).unwrap();
    assert!(sb.iter().all(|(s, r)| s.is_empty() && r.is_empty()), "the reference must be dense");
    let ctx = format!("n={} d={} {} max_iter={} tol={}", idx.len(), x.ncols(), F::DTYPE, p.max_iter, p.tol);
    assert_eq!((a.n_left, a.n_iter), (b.n_left, b.n_iter), "{ctx}");
    assert_eq!(o1, o2, "partition {ctx}");
    if x.ncols() > crate::kmeans::SMALL_D {
        let rtol = rtol_of::<F>();
        assert_close_arrays(&a.centers, &b.centers, rtol, &format!("centres {ctx}"));
        assert_close(a.inertia, b.inertia, rtol, &format!("inertia {ctx}"));
        for j in 0..2 {
            assert_close(a.inertias[j], b.inertias[j], rtol, &ctx);
            assert_close(a.scores[j], b.scores[j], rtol, &ctx);
        }
        assert_eq!(sa.len(), ini.dim().0);
        for (s, _) in &sa {
            assert_eq!(s[0], idx.len(), "a run's first pass scores every row");
        }
    } else {
        let bits = |v: &Array2<F>| v.iter().map(|v| v.as_f64().to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.centers), bits(&b.centers), "centres {ctx}");
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits(), "inertia {ctx}");
    }
    sa
}

#[test]
fn pruned_passes_give_the_dense_labels_and_iterations() {
    let (mut skipped, mut rebased) = (0usize, 0usize);
    for (case, &(n, d, groups, spread, dups)) in [
        (2500usize, 9usize, 0usize, 0.0f64, 0usize), // uniform: many near-ties
        (2000, 16, 4, 2.0, 300),                     // duplicated rows
        (3000, 32, 6, 3.0, 0),
        (2200, 33, 5, 1.0, 10),
        (1500, 70, 3, 4.0, 5),
        (3 * crate::kmeans::BLOCK_ROWS + 37, 12, 8, 2.0, 0), // several blocks
        (900, 6, 4, 1.0, 0),                                 // d <= SMALL_D: dense either way
    ]
    .iter()
    .enumerate()
    {
        let seed = 100 + case as u64;
        let x64 = blobs::<f64>(n, d, groups, spread, dups, seed);
        let mu64 = mean_of(&x64);
        // Integer weights, some zero; and unit weights.
        let wi = Array1::from_shape_fn(n, |i| ((i * 7 + case) % 4) as f64);
        let w1 = Array1::<f64>::ones(n);
        let all: Vec<usize> = (0..n).collect();
        let some: Vec<usize> = (0..n).filter(|i| i % 4 != 1).collect();
        for (wts, idx, centred) in [(&w1, &all, true), (&wi, &some, true), (&w1, &some, false)] {
            let mu = if centred { mu64.clone() } else { zeros(&x64) };
            let ini = inits(&(&x64 - &mu), idx, &[(0, 1), (5, 400), (7, 7)]);
            for p in [
                params(Algorithm::Lloyd, Strategy::BiggestInertia),
                SplitParams { tol: 0.0, max_iter: 7, ..params(Algorithm::Lloyd, Strategy::LargestCluster) },
                SplitParams { tol: 0.0, max_iter: 1, ..params(Algorithm::Lloyd, Strategy::BiggestInertia) },
                SplitParams { tol: 1e-1, ..params(Algorithm::Lloyd, Strategy::BiggestInertia) },
            ] {
                let s = pruned_is_dense(&x64, &mu, wts, idx, &ini, &p);
                skipped += s.iter().flat_map(|(sc, _)| sc).map(|&k| idx.len() - k).sum::<usize>();
                rebased += s.iter().map(|(_, r)| r.len()).sum::<usize>();
                let (x32, mu32, w32) = (x64.mapv(|v| v as f32), mu.mapv(|v| v as f32), wts.mapv(|v| v as f32));
                let ini32 = ini.mapv(|v| v as f32);
                let s = pruned_is_dense(&x32, &mu32, &w32, idx, &ini32, &p);
                skipped += s.iter().flat_map(|(sc, _)| sc).map(|&k| idx.len() - k).sum::<usize>();
            }
        }
    }
    // Some runs moved more weight than their lighter centre holds: their sums were
    // recomputed from zero, and still gave the dense labels.
    assert!(skipped > 0 && rebased > 0, "skipped {skipped} rows, rebased {rebased} times");
}

#[test]
fn pruned_passes_skip_most_rows_on_separated_data() {
    // Two far groups, the initial centres in the same group: a few iterations, then almost
    // every row is certified.
    for d in [16usize, 32] {
        let x = blobs::<f64>(6000, d, 2, 1.0, 0, 3);
        let idx: Vec<usize> = (0..6000).collect();
        // Two rows of one group (the group of row 0).
        let near: Vec<usize> = (1..6000).filter(|&i| (&x.row(i) - &x.row(0)).mapv(|v| v * v).sum() < 4.0 * d as f64).collect();
        let ini = inits(&x, &idx, &[(0, near[0])]);
        let p = SplitParams { tol: 0.0, ..params(Algorithm::Lloyd, Strategy::BiggestInertia) };
        for s in [pruned_is_dense(&x, &zeros(&x), &Array1::ones(6000), &idx, &ini, &p), {
            let x32 = x.mapv(|v| v as f32);
            pruned_is_dense(&x32, &zeros(&x32), &Array1::ones(6000), &idx, &ini.mapv(|v| v as f32), &p)
        }] {
            let (s, _) = &s[0];
            assert!(s.len() >= 3, "{s:?}");
            assert!(*s.last().unwrap() < 6000 / 5, "the bounds should skip most rows: {s:?}");
        }
    }
}

#[test]
fn pruned_passes_do_not_depend_on_the_thread_count() {
    let n = 3 * crate::kmeans::BLOCK_ROWS + 11;
    let x = blobs::<f64>(n, 24, 6, 2.0, 40, 8);
    let mu = mean_of(&x);
    let w = Array1::from_shape_fn(n, |i| (i % 3) as f64);
    let idx: Vec<usize> = (0..n).filter(|i| i % 5 != 2).collect();
    let ini = inits(&(&x - &mu), &idx, &[(0, 9), (2, 4)]);
    let p = SplitParams { tol: 0.0, ..params(Algorithm::Lloyd, Strategy::BiggestInertia) };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut order = idx.clone();
        let (s, scored) = pool.install(|| {
            split_impl(x.view(), mu.view(), w.view(), &mut order, ini.view(), &p, None, true, &Cancel::new()).unwrap()
        });
        (s.centers, s.scores.map(f64::to_bits), s.inertia.to_bits(), s.n_iter, order, scored)
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert!(one.5.iter().flat_map(|(s, _)| s).any(|&k| k < idx.len()), "nothing skipped: {:?}", one.5);
}

/// Runs the incremental passes by hand (as `run_lloyd` does) and, after every pass, checks
/// the running sums against the sums of the same labels from zero: bit for bit after a
/// run's first pass, then within a few ulps per pass of the magnitude of the terms; the
/// weights (integer, some zero), rows and non-zero rows per centre exactly.
fn incremental_sums_track<F: Float>(n: usize, d: usize, seed: u64) -> usize {
    // uniform rows: many iterations, labels changing in most of them
    let x = blobs::<F>(n, d, 0, 0.0, 20, seed);
    let mu: Vec<F> = mean_of(&x).to_vec();
    let w: Vec<F> = (0..n).map(|i| F::from_f64(((i * 5 + 1) % 4) as f64)).collect();
    let xs = x.as_slice().unwrap();
    // Σ |w (x - mu)| per feature: the scale of the rounding of any sum of the terms.
    let mut scale = vec![0.0f64; d];
    for i in 0..n {
        for f in 0..d {
            scale[f] += ((x[[i, f]] - mu[f]) * w[i]).as_f64().abs();
        }
    }
    let mut centers: Vec<F> = (0..2 * d).map(|q| x[[if q < d { 3 } else { 11 }, q % d]] - mu[q % d]).collect();
    let mut labels = vec![u8::MAX; n];
    let mut b = bounds::Bounds::new(n).unwrap();
    let mut run = two::Running { sums: Vec::new(), weights: [0.0; 2], rows: [0; 2], nonzero: [0; 2], moved: 0.0 };
    let mut shift: Option<Vec<F>> = None;
    let mut primed_changes = 0;
    let eps = f64::EPSILON;
    for it in 0..40 {
        let pair = two::Pair::new(&centers, &mu, d, two::hw_fma());
        let cert = bounds::Certifier::new(d, &centers, b.x2_max, shift.as_deref());
        let (changed, st) = two::iterate_incr(xs, d, &w, &pair, &cert, &mut labels, &mut b, &mut run);
        if !cert.primed {
            b.x2_max = cert.x2_bound(st.xn2_max);
        }
        let (sums, weights) = two::sums_of_labels(xs, d, &w, &pair, &labels);
        if !cert.primed {
            assert_eq!(run.sums, sums, "a first pass sums from zero");
        } else {
            primed_changes += (changed > 0) as usize;
            for q in 0..2 * d {
                let tol = 4.0 * (it + 1) as f64 * eps * scale[q % d];
                assert!((run.sums[q] - sums[q]).abs() <= tol, "pass {it} sum {q}: {} vs {}", run.sums[q], sums[q]);
            }
        }
        assert_eq!(run.weights, weights, "integer weights are exact");
        for j in 0..2 {
            let rows = labels.iter().filter(|&&l| l as usize == j).count() as i64;
            let nz = labels.iter().zip(&w).filter(|(&l, &wt)| l as usize == j && wt != F::zero()).count() as i64;
            assert_eq!((run.rows[j], run.nonzero[j]), (rows, nz), "pass {it} centre {j}");
        }
        let new = average::<F>(&run.sums, run.weights, d);
        let old = ArrayView2::from_shape((2, d), &centers).unwrap();
        shift = Some(kmeans::center_shift(old, new.view()));
        centers = new.iter().copied().collect();
        if changed == 0 {
            break;
        }
    }
    primed_changes
}

#[test]
fn incremental_sums_track_the_sums_from_zero() {
    let n = 2 * crate::kmeans::BLOCK_ROWS + 301;
    let a = incremental_sums_track::<f64>(n, 24, 5);
    let b = incremental_sums_track::<f32>(n, 17, 6);
    assert!(a >= 2 && b >= 2, "too few primed passes with changes: {a}, {b}");
}

#[test]
fn a_centre_of_zero_weights_is_relocated_as_the_dense_passes_do() {
    // Centre 1 starts on a far group whose rows all weigh 0: its weight is exactly 0 and
    // scikit-learn's relocation moves it (sums from zero); incremental passes follow.
    let (n, d) = (2000usize, 12usize);
    let mut x = blobs::<f64>(n, d, 3, 1.0, 0, 21);
    for i in n - 50..n {
        for f in 0..d {
            x[[i, f]] += 100.0;
        }
    }
    let w = Array1::from_shape_fn(n, |i| if i >= n - 50 { 0.0 } else { 1.0 + (i % 3) as f64 });
    let idx: Vec<usize> = (0..n).collect();
    let ini = inits(&x, &idx, &[(0, n - 1)]);
    let p = params(Algorithm::Lloyd, Strategy::BiggestInertia);
    pruned_is_dense(&x, &zeros(&x), &w, &idx, &ini, &p);
    let (rc, rl, ri, _, rn) = reference(&x, &w, &idx, &ini, &p);
    let mut order = idx.clone();
    let s = split(x.view(), zeros(&x).view(), w.view(), &mut order, ini.view(), &p, &Cancel::new()).unwrap();
    assert_eq!(s.n_iter, rn);
    let left: Vec<usize> = idx.iter().zip(&rl).filter(|(_, &l)| l == 0).map(|(&i, _)| i).collect();
    assert_eq!(&order[..s.n_left], &left[..]);
    assert_close_arrays(&s.centers, &rc, 1e-10, "centres");
    assert_close(s.inertia, ri, 1e-10, "inertia");
    // the zero-weight rows were not all left on one side by accident: centre 1 moved
    assert!(rc.row(1).iter().zip(ini.slice(ndarray::s![0, 1, ..])).any(|(a, b)| a != b));
}
