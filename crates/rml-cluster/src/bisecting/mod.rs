//! Bisecting K-means: one bisection (a 2-means run on one cluster, then the split of its rows)
//! without copying the cluster's rows.
//!
//! The caller (scikit-learn's `_BisectingTree` logic, kept in Python so that every random
//! initialisation consumes numpy's random stream exactly as scikit-learn does) keeps one
//! permutation of the row indices in which every leaf of the tree owns a contiguous range;
//! rows of a range are in ascending order, the order of scikit-learn's `X[indices]`. [`split`]
//! runs the 2-means on the rows of one range, read in place through the indices, and
//! partitions the range stably: the rows labelled 0 first, then the rows labelled 1. So each
//! bisection reads only its own rows (the leaves of the deeper levels stay in cache) and
//! nothing is copied.
//!
//! ## Arithmetic and parity
//! The Lloyd iteration is scikit-learn's `_kmeans_single_lloyd` for `k = 2` step for step,
//! with the label decision of [`crate::kmeans`] (see `two.rs`), per-centre sums in `f64`,
//! scikit-learn's `_average_centers` (multiply by `1 / Σw` for float64, divide for float32;
//! an empty centre takes the heaviest centre's row), strict convergence when no label
//! changed, `Σ shift² <= tol` with numpy's pairwise sum, and a final relabelling unless
//! converged strictly. A centre left empty goes through [`crate::kmeans::finish_centers`]
//! (scikit-learn's relocation), on a copy of the rows. Elkan's algorithm and verbose runs use
//! [`crate::kmeans`]'s own loops on a copy of the rows.
//!
//! For `d <= SMALL_D` the passes are dense: sums over fixed blocks of
//! [`crate::kmeans::BLOCK_ROWS`] rows merged in block order, bit-identical to K-means' Lloyd
//! on the copied subset.
//!
//! ## Incremental passes (d > SMALL_D)
//! Every pass after a run's first scores only the rows whose Hamerly bounds do not prove that
//! the kernel would give them their current label (`bounds.rs`; `16 |indices|` bytes of
//! bounds per bisection), and moves only the rows whose label changed between the running
//! centre sums (`two.rs`): a pass reads only the rows it scores. Labels and iterations are
//! those of the dense passes on the same centres; the sums are added in another order than
//! a pass from zero, so centres and inertia equal K-means' on the copied subset (and
//! scikit-learn's, whose own order depends on its thread count) within rounding, not bit for
//! bit. The sums are recomputed from zero (one more pass) when a centre has no weight left
//! (then scikit-learn's relocation runs on exactly the dense sums), and when the weight of the
//! rows moved since they last were exceeds the lighter centre's weight (`REBASE`), which
//! keeps their rounding at the level of one summation from zero.
//!
//! ## Threads
//! Every pass is parallel over fixed blocks of rows and reduced in block order: results are
//! bit-identical for every number of threads.

mod bounds;
mod seeds;
mod two;

pub use seeds::choice_positions;

use crate::kmeans::{self, Algorithm, CenterSums, KMeansParams};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayView3};
use rayon::prelude::*;
use rml_core::{ensure, ensure_param, Cancel, Float, RmlResult};

/// The running sums of an incremental run are recomputed from zero once the weight of the
/// rows moved since they last were exceeds `REBASE` times the lighter centre's weight.
const REBASE: f64 = 1.0;

/// Rows ahead of the current one whose lines the gather of a leaf's rows requests.
const GATHER_AHEAD: usize = 8;

/// Which leaf the tree splits next (scikit-learn's `bisecting_strategy`); decides which score
/// [`split`] returns for the two halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Score = the half's inertia `Σ w ||x - c||²`.
    BiggestInertia,
    /// Score = the half's number of rows.
    LargestCluster,
}

impl Strategy {
    /// Parse scikit-learn's names.
    pub fn parse(name: &str) -> RmlResult<Self> {
        match name {
            "biggest_inertia" => Ok(Self::BiggestInertia),
            "largest_cluster" => Ok(Self::LargestCluster),
            other => Err(rml_core::RmlError::InvalidParameter(format!(
                "The 'bisecting_strategy' parameter of BisectingKMeans must be a str among {{'biggest_inertia', 'largest_cluster'}}. Got {other:?} instead."
            ))),
        }
    }
}

/// Hyperparameters of one bisection.
#[derive(Debug, Clone, Copy)]
pub struct SplitParams {
    /// Maximum Lloyd/Elkan iterations of each 2-means run (`>= 1`).
    pub max_iter: usize,
    /// Absolute tolerance on `Σ shift²` (BisectingKMeans uses `tol` as given, unscaled).
    pub tol: f64,
    pub algorithm: Algorithm,
    pub strategy: Strategy,
    /// Collect scikit-learn's verbose lines (the run then goes through `kmeans`' loops).
    pub verbose: bool,
}

/// The outcome of one bisection.
#[derive(Debug, Clone)]
pub struct Split<F> {
    /// Centres of the two halves, `(2, d)` (of the best of the `n_init` runs).
    pub centers: Array2<F>,
    /// Score of each half (inertia or size, by [`Strategy`]).
    pub scores: [f64; 2],
    /// Inertia of each half, `Σ w ||x - c||²` over its rows (centred as given), whatever the
    /// strategy: the caller sums its leaves' to get the final inertia without another pass.
    pub inertias: [f64; 2],
    /// Rows labelled 0; after the call they are the first `n_left` entries of the range.
    pub n_left: usize,
    /// Inertia of the kept run.
    pub inertia: f64,
    /// Iterations of the kept run.
    pub n_iter: usize,
    /// Verbose lines of all runs (empty unless `verbose`).
    pub log: Vec<String>,
}

struct Run<F> {
    centers: Array2<F>,
    labels: Vec<u8>,
    inertia: f64,
    per_label: [f64; 2],
    counts: [usize; 2],
    n_iter: usize,
    log: Vec<String>,
    /// Rows scored by the kernel per pass (iterations, then the final relabelling if any);
    /// empty for the dense and general paths.
    scored: Vec<usize>,
    /// Iterations (0-based) after whose pass the running sums were recomputed from zero
    /// (incremental passes only).
    rebased: Vec<usize>,
}

/// Bisect the cluster whose rows are `indices` (entries of `x`, usually ascending), the rows
/// taken as `x[i] - x_mean` (computed on the fly in the input dtype, the values of
/// scikit-learn's centred copy of X; pass zeros for no centring):
/// `n_init` 2-means runs from `centers_inits` (`(n_init, 2, d)`), the best kept as
/// scikit-learn keeps it (`inertia < best · (1 - 1e-6)`), then `indices` partitioned stably
/// (label 0 first). Cost `O(iterations · |indices| · d)`; memory `O(|indices|)` when the
/// indices are one contiguous run (the root), else a centred copy of the rows,
/// `O(|indices| · d)`, as scikit-learn's `X[indices]`.
pub fn split<F: Float>(
    x: ArrayView2<F>,
    x_mean: ArrayView1<F>,
    sample_weight: ArrayView1<F>,
    indices: &mut [usize],
    centers_inits: ArrayView3<F>,
    params: &SplitParams,
    cancel: &Cancel,
) -> RmlResult<Split<F>> {
    split_with_scratch(x, x_mean, sample_weight, indices, centers_inits, params, None, cancel)
}

/// [`split`], with the centred copy of the rows (when they are not one contiguous run of `x`)
/// written into `scratch` instead of a new allocation: `scratch` must hold at least
/// `|indices| · (d + 1)` values (the rows, then their weights). A caller that bisects many
/// clusters passes the same buffer every time, so the copies reuse memory already mapped.
#[allow(clippy::too_many_arguments)]
pub fn split_with_scratch<F: Float>(
    x: ArrayView2<F>,
    x_mean: ArrayView1<F>,
    sample_weight: ArrayView1<F>,
    indices: &mut [usize],
    centers_inits: ArrayView3<F>,
    params: &SplitParams,
    scratch: Option<&mut [F]>,
    cancel: &Cancel,
) -> RmlResult<Split<F>> {
    Ok(split_impl(x, x_mean, sample_weight, indices, centers_inits, params, scratch, true, cancel)?.0)
}

/// Per run of a split: rows scored per pass, iterations after which the sums were recomputed
/// from zero.
type RunStats = (Vec<usize>, Vec<usize>);

/// [`split_with_scratch`]; `prune = false` forces dense passes (the reference the incremental
/// passes are tested against). Also returns, per run, the rows scored per pass and the
/// iterations after which the running sums were recomputed from zero.
#[allow(clippy::too_many_arguments)]
fn split_impl<F: Float>(
    x: ArrayView2<F>,
    x_mean: ArrayView1<F>,
    sample_weight: ArrayView1<F>,
    indices: &mut [usize],
    centers_inits: ArrayView3<F>,
    params: &SplitParams,
    scratch: Option<&mut [F]>,
    prune: bool,
    cancel: &Cancel,
) -> RmlResult<(Split<F>, Vec<RunStats>)> {
    let (n, d) = x.dim();
    let m = indices.len();
    ensure_param!(params.max_iter >= 1, "max_iter must be >= 1, got {}", params.max_iter);
    ensure_param!(params.tol.is_finite() && params.tol >= 0.0, "tol must be a finite number >= 0");
    ensure!(sample_weight.len() == n, "sample_weight has {} entries, expected {n}", sample_weight.len());
    ensure!(centers_inits.dim().0 >= 1, "at least one initialisation is required");
    ensure!(
        centers_inits.dim().1 == 2 && centers_inits.dim().2 == d,
        "centers_inits must have shape (n_init, 2, {d}), got {:?}",
        centers_inits.dim()
    );
    ensure!(x_mean.len() == d, "x_mean has {} entries, expected {d}", x_mean.len());
    ensure!(m >= 2, "n_samples={m} should be >= n_clusters=2.");
    ensure!(indices.iter().all(|&i| i < n), "row index out of range");
    let need = rml_core::size::checked_elems(m, d.checked_add(1).ok_or_else(|| rml_core::RmlError::Internal("d overflows".into()))?, "scratch")?;
    if let Some(s) = &scratch {
        ensure!(s.len() >= need, "scratch has {} values, expected at least {need}", s.len());
    }
    let x = x.as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    let sw_owned;
    let sw: &[F] = match sample_weight.as_slice() {
        Some(s) => s,
        None => {
            sw_owned = sample_weight.to_vec();
            &sw_owned
        }
    };
    let mu = x_mean.to_vec();
    let slow = params.verbose || params.algorithm == Algorithm::Elkan;
    // The fast path runs on the cluster's rows stored contiguously: a run of X read in place
    // (the root), or the rows gathered (centred) once into a contiguous copy, as
    // scikit-learn's `X[indices]`, so that the passes stream memory.
    let contiguous = indices.windows(2).all(|w| w[1] == w[0] + 1);
    let mut owned: Vec<F>;
    let zero = vec![F::zero(); d];
    let rows: Option<(&[F], &[F], &[F])> = if slow {
        None
    } else if contiguous {
        let s = indices[0];
        Some((&xs[s * d..(s + m) * d], &sw[s..s + m], &mu[..]))
    } else {
        let buf: &mut [F] = match scratch {
            Some(s) => &mut s[..need],
            None => {
                owned = rml_core::size::try_zeroed_vec::<F>(need, 1, "copy of the cluster's rows")?;
                &mut owned[..]
            }
        };
        let (xc, swc) = buf.split_at_mut(m * d);
        if d > 0 {
            let idx = &*indices;
            xc.par_chunks_mut(1024 * d).enumerate().for_each(|(b, out)| {
                for (t, o) in out.chunks_exact_mut(d).enumerate() {
                    let i = idx[b * 1024 + t];
                    // The rows are ascending but not adjacent: request the row GATHER_AHEAD
                    // positions ahead (the hardware prefetcher does not see it coming).
                    if let Some(&ahead) = idx.get(b * 1024 + t + GATHER_AHEAD) {
                        kmeans::prefetch_row(&xs[ahead * d..(ahead + 1) * d]);
                    }
                    for ((v, &a), &mm) in o.iter_mut().zip(&xs[i * d..(i + 1) * d]).zip(&mu) {
                        *v = a - mm;
                    }
                }
            });
        }
        for (o, &i) in swc.iter_mut().zip(indices.iter()) {
            *o = sw[i];
        }
        Some((&*xc, &*swc, &zero[..]))
    };
    // Hamerly's bounds of the rows (16 bytes a row, shared by the runs) where the FMA-chain
    // kernel labels them (d > SMALL_D); smaller rows stay dense.
    let mut bounds = match rows {
        Some(_) if prune && d > kmeans::SMALL_D => Some(bounds::Bounds::new(m)?),
        _ => None,
    };
    let mut best: Option<Run<F>> = None;
    let mut log = Vec::new();
    let mut scored = Vec::new();
    for init in centers_inits.outer_iter() {
        cancel.check()?;
        let mut run = match rows {
            Some((xr, swr, mur)) => run_lloyd(xr, d, mur, swr, init, params, bounds.as_mut(), cancel)?,
            None => run_kmeans(x.view(), &mu, sw, indices, init, params, cancel)?,
        };
        log.append(&mut run.log);
        scored.push((std::mem::take(&mut run.scored), std::mem::take(&mut run.rebased)));
        let better = match &best {
            None => true,
            Some(b) => run.inertia < b.inertia * (1.0 - 1e-6),
        };
        if better {
            best = Some(run);
        }
    }
    let best = best.expect("at least one run");
    // Stable partition of the range: label 0 first.
    let mut right = Vec::with_capacity(best.counts[1]);
    let mut w = 0;
    for t in 0..m {
        let i = indices[t];
        if best.labels[t] == 0 {
            indices[w] = i;
            w += 1;
        } else {
            right.push(i);
        }
    }
    indices[w..].copy_from_slice(&right);
    let scores = match params.strategy {
        Strategy::BiggestInertia => best.per_label,
        Strategy::LargestCluster => [best.counts[0] as f64, best.counts[1] as f64],
    };
    let split = Split { centers: best.centers, scores, inertias: best.per_label, n_left: w, inertia: best.inertia, n_iter: best.n_iter, log };
    Ok((split, scored))
}

/// numpy's `X.mean(axis=0)` (scikit-learn's `X_mean`) for `d >= 2`: numpy's axis-0 reduction
/// of a C-contiguous array adds the rows one after another, so each column is the sequential
/// sum over the rows in `F`, divided by `n` in `F`. One pass over X, split between the
/// threads by groups of columns whole cache lines wide (each column's order of additions
/// unchanged): the same bits for any number of threads. For `d < 2` numpy sums pairwise; the
/// caller uses numpy there.
pub fn column_mean<F: Float>(x: ArrayView2<F>, cancel: &Cancel) -> RmlResult<Array1<F>> {
    let (n, d) = x.dim();
    ensure!(d >= 2, "column_mean needs at least 2 columns, got {d}");
    ensure!(n >= 1, "column_mean needs at least 1 row");
    cancel.check()?;
    let x = x.as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    let line = (64 / std::mem::size_of::<F>()).max(1);
    let per = d.div_ceil(rayon::current_num_threads().max(1)).div_ceil(line) * line;
    let groups: Vec<Vec<F>> = (0..d.div_ceil(per))
        .into_par_iter()
        .map(|g| {
            let (lo, hi) = (g * per, (g * per + per).min(d));
            let mut acc = vec![F::zero(); hi - lo];
            for row in xs.chunks_exact(d) {
                for (a, &v) in acc.iter_mut().zip(&row[lo..hi]) {
                    *a = *a + v;
                }
            }
            acc
        })
        .collect();
    let nf = F::from_f64(n as f64);
    Ok(Array1::from_iter(groups.into_iter().flatten().map(|s| s / nf)))
}

/// scikit-learn's `_average_centers` for two centres whose weights are both non-zero in `f64`
/// (the relocation case goes through `kmeans::finish_centers`).
fn average<F: Float>(sums: &[f64], weights: [f64; 2], d: usize) -> Array2<F> {
    let wf = [F::from_f64(weights[0]), F::from_f64(weights[1])];
    let argmax = if wf[1] > wf[0] { 1 } else { 0 };
    let mut rows = sums.to_vec();
    for j in 0..2 {
        if wf[j] > F::zero() {
            if F::DTYPE == "float64" {
                let alpha = 1.0 / weights[j];
                rows[j * d..(j + 1) * d].iter_mut().for_each(|v| *v *= alpha);
            } else {
                rows[j * d..(j + 1) * d].iter_mut().for_each(|v| *v /= weights[j]);
            }
        } else {
            for f in 0..d {
                rows[j * d + f] = rows[argmax * d + f];
            }
        }
    }
    Array2::from_shape_fn((2, d), |(j, f)| F::from_f64(rows[j * d + f]))
}

/// Copy the cluster's centred rows and weights (Elkan, verbose, relocation).
fn gather<F: Float>(x: ArrayView2<F>, mu: &[F], sw: &[F], indices: &[usize]) -> RmlResult<(Array2<F>, Array1<F>)> {
    let mut xsub = kmeans::take_rows(x, indices)?;
    for mut r in xsub.rows_mut() {
        for (v, &m) in r.iter_mut().zip(mu) {
            *v = *v - m;
        }
    }
    let swsub = Array1::from_iter(indices.iter().map(|&i| sw[i]));
    Ok((xsub, swsub))
}

/// The 2-means run on the `sw.len()` rows of `xs` (contiguous, row-major), taken as
/// `x - mu`. With `bounds` (room for the rows), the passes are incremental (see the module
/// docs): the same labels and iterations as the dense passes, the centres and inertia within
/// rounding.
#[allow(clippy::too_many_arguments)]
fn run_lloyd<F: Float>(
    xs: &[F],
    d: usize,
    mu: &[F],
    sw: &[F],
    init: ArrayView2<F>,
    params: &SplitParams,
    mut bounds: Option<&mut bounds::Bounds>,
    cancel: &Cancel,
) -> RmlResult<Run<F>> {
    let m = sw.len();
    let hw = two::hw_fma();
    let tol_f = F::from_f64(params.tol);
    let mut centers = init.as_standard_layout().into_owned();
    let mut labels = vec![u8::MAX; m];
    let mut strict = false;
    let mut it = 0;
    // The shifts from the centres of the previous pass to `centers` (the bounds' update).
    let mut shift: Option<Vec<F>> = None;
    let mut scored = Vec::new();
    let mut rebased = Vec::new();
    let mut running = two::Running { sums: Vec::new(), weights: [0.0; 2], rows: [0; 2], nonzero: [0; 2], moved: 0.0 };
    for i in 0..params.max_iter {
        cancel.check()?;
        it = i;
        let cs = centers.as_slice().expect("owned");
        let pair = two::Pair::new(cs, mu, d, hw);
        let (sums, weights, changed) = match bounds.as_deref_mut() {
            Some(b) => {
                let cert = bounds::Certifier::new(d, cs, b.x2_max, shift.as_deref());
                let (changed, st) = two::iterate_incr(xs, d, sw, &pair, &cert, &mut labels, b, &mut running);
                if !cert.primed {
                    // This pass scored every row: every norm is bounded now.
                    b.x2_max = cert.x2_bound(st.xn2_max);
                }
                scored.push(st.scored);
                let empty = running.nonzero.iter().any(|&c| c <= 0);
                let w_min = running.weights[0].abs().min(running.weights[1].abs());
                if cert.primed && (empty || running.moved > REBASE * w_min) {
                    // The sums from zero: a centre without weight goes through scikit-learn's
                    // relocation with exactly the sums a dense pass gives; and the running
                    // sums' rounding stays below that of one summation from zero.
                    let (sums, weights) = two::sums_of_labels(xs, d, sw, &pair, &labels);
                    running.sums = sums;
                    running.weights = weights;
                    running.moved = 0.0;
                    rebased.push(i);
                }
                let mut weights = running.weights;
                for (j, w) in weights.iter_mut().enumerate() {
                    if running.nonzero[j] <= 0 {
                        // Exactly 0, as a sum of zeros (sums_of_labels gives the same).
                        *w = 0.0;
                    }
                }
                (running.sums.clone(), weights, changed)
            }
            None => two::iterate(xs, d, sw, &pair, &mut labels),
        };
        let centers_new = if weights[0] == 0.0 || weights[1] == 0.0 {
            // A centre lost all its rows: scikit-learn's relocation, on a copy of the rows.
            let x = ndarray::ArrayView2::from_shape((m, d), &xs[..m * d])
                .map_err(|e| rml_core::RmlError::Internal(e.to_string()))?;
            let all: Vec<usize> = (0..m).collect();
            let (xsub, swsub) = gather(x, mu, sw, &all)?;
            let lab: Vec<i32> = labels.iter().map(|&l| l as i32).collect();
            let cs = CenterSums { sums, weights: weights.to_vec(), n_features: d };
            kmeans::finish_centers(xsub.view(), swsub.view(), centers.view(), &lab, cs)?.0
        } else {
            average::<F>(&sums, weights, d)
        };
        let sh = kmeans::center_shift(centers.view(), centers_new.view());
        centers = centers_new;
        if changed == 0 {
            strict = true;
            break;
        }
        let sq: Vec<F> = sh.iter().map(|&s| s * s).collect();
        shift = Some(sh);
        if kmeans::numpy_pairwise_sum(&sq) <= tol_f {
            break;
        }
    }
    cancel.check()?;
    let cs = centers.as_slice().expect("owned");
    let pair = two::Pair::new(cs, mu, d, hw);
    // The final E-step (relabelling unless converged strictly) reads every row for the
    // inertia anyway: dense, each chunk labelled then measured while in cache.
    let fin = two::finalize(xs, d, sw, &pair, cs, &mut labels, !strict);
    Ok(Run {
        centers,
        labels,
        inertia: fin.inertia,
        per_label: fin.per_label,
        counts: fin.counts,
        n_iter: it + 1,
        log: Vec::new(),
        scored,
        rebased,
    })
}

/// The general path: `kmeans`' Lloyd/Elkan loop (with its verbose log) on a copy of the rows.
fn run_kmeans<F: Float>(
    x: ArrayView2<F>,
    mu: &[F],
    sw: &[F],
    indices: &[usize],
    init: ArrayView2<F>,
    params: &SplitParams,
    cancel: &Cancel,
) -> RmlResult<Run<F>> {
    let (xsub, swsub) = gather(x, mu, sw, indices)?;
    let kp = KMeansParams {
        n_clusters: 2,
        max_iter: params.max_iter,
        tol: params.tol,
        algorithm: params.algorithm,
        verbose: params.verbose,
    }
    .check()?;
    let r = kp.fit_from(xsub.view(), swsub.view(), init, cancel)?;
    let mut per_label = [0.0; 2];
    for (j, p) in per_label.iter_mut().enumerate() {
        *p = kmeans::inertia(xsub.view(), swsub.view(), r.centers.view(), &r.labels, Some(j as i32), cancel)?;
    }
    let labels: Vec<u8> = r.labels.iter().map(|&l| l as u8).collect();
    let c1 = labels.iter().filter(|&&l| l == 1).count();
    Ok(Run {
        centers: r.centers,
        labels,
        inertia: r.inertia,
        per_label,
        counts: [indices.len() - c1, c1],
        n_iter: r.n_iter,
        log: r.log,
        scored: Vec::new(),
        rebased: Vec::new(),
    })
}

#[cfg(test)]
mod tests;
