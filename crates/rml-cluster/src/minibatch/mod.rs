//! Mini-batch k-means (Sculley 2010) exactly as scikit-learn's `MiniBatchKMeans` runs it.
//!
//! One call runs the whole optimisation: pick the best of the candidate initial centres on a
//! validation subset, then repeat `n_steps` times: draw a mini-batch (with replacement, with
//! probability proportional to the sample weight), assign it to the nearest centres, move
//! each centre towards the mean of its new members with a per-centre learning rate
//! `1 / accumulated weight`, periodically reassign centres whose accumulated weight is tiny,
//! and stop early on a smoothed-inertia plateau or a small centre change. All random numbers
//! come from numpy's legacy MT19937 stream ([`rng::LegacyMt`]), drawn in the same order and
//! the same way as scikit-learn draws them, so the same seed and the same initial centres give
//! the same mini-batches and reassignments.

pub mod assign;
pub mod rng;

use crate::kmeans;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayView3, Axis};
use rayon::prelude::*;
use rml_core::{ensure, ensure_param, size, Cancel, Float, RmlError, RmlResult};

pub use rng::LegacyMt;

/// Checked parameters of the mini-batch loop (what remains after scikit-learn's
/// `_check_params_vs_input`; the Python layer resolves the defaults).
#[derive(Clone, Debug)]
pub struct MiniBatchParams {
    /// Rows per mini-batch (scikit-learn's `_batch_size = min(batch_size, n_samples)`).
    pub batch_size: usize,
    /// Maximum number of steps (`max_iter * n_samples // batch_size`).
    pub n_steps: usize,
    /// Absolute tolerance on the squared centre change (`_tol`, already scaled); 0 disables.
    pub tol: f64,
    /// Stop after this many steps without improvement of the smoothed inertia; `None` disables.
    pub max_no_improvement: Option<usize>,
    /// Reassign centres whose weight is below this fraction of the largest; 0 disables.
    pub reassignment_ratio: f64,
    /// Compute `labels_` and the exact inertia on all the data at the end.
    pub compute_labels: bool,
    /// Record the events scikit-learn prints when `verbose` is set.
    pub verbose: bool,
}

impl MiniBatchParams {
    fn check(&self, n_samples: usize) -> RmlResult<()> {
        ensure_param!(
            self.batch_size >= 1 && self.batch_size <= n_samples,
            "batch_size must be in [1, n_samples={n_samples}], got {}",
            self.batch_size
        );
        ensure_param!(self.n_steps >= 1, "n_steps must be >= 1");
        ensure_param!(self.tol.is_finite() && self.tol >= 0.0, "tol must be finite and >= 0, got {}", self.tol);
        ensure_param!(
            self.reassignment_ratio.is_finite() && self.reassignment_ratio >= 0.0,
            "reassignment_ratio should be >= 0, got {} instead.",
            self.reassignment_ratio
        );
        Ok(())
    }
}

/// What scikit-learn's `verbose` mode prints, recorded in order (the caller prints them).
#[derive(Clone, Debug, PartialEq)]
pub enum LogEvent {
    /// Validation inertia of candidate init `index`.
    InitInertia { index: usize, inertia: f64 },
    /// Step 1 (its inertia is not used for convergence).
    FirstStep { step: usize, batch_inertia: f64 },
    /// A later step, with the smoothed inertia.
    Step { step: usize, batch_inertia: f64, ewa_inertia: f64 },
    /// `n` centres were reassigned to random batch members.
    Reassign { n: usize },
    /// Stopped on a small centre change.
    ConvergedCenters { step: usize },
    /// Stopped on lack of improvement of the smoothed inertia.
    ConvergedNoImprovement { step: usize },
}

/// The result of [`fit`]: the estimator's state, as scikit-learn stores it.
#[derive(Clone, Debug)]
pub struct MiniBatchFit<T> {
    pub centers: Array2<T>,
    /// Accumulated weight per centre (`_counts`).
    pub counts: Array1<T>,
    pub ewa_inertia: Option<f64>,
    pub ewa_inertia_min: Option<f64>,
    pub no_improvement: usize,
    pub n_since_last_reassign: usize,
    /// Steps run (`n_steps_`).
    pub n_steps: usize,
    /// Index of the chosen candidate init.
    pub best_init: usize,
    pub labels: Option<Array1<i32>>,
    /// Exact inertia of all the data if `compute_labels`, else `None`.
    pub inertia: Option<f64>,
    pub log: Vec<LogEvent>,
    /// The generator after the run (to hand back to numpy).
    pub rng: LegacyMt,
}

/// The result of [`partial_fit`].
#[derive(Clone, Debug)]
pub struct MiniBatchPartial<T> {
    pub centers: Array2<T>,
    pub counts: Array1<T>,
    pub labels: Option<Array1<i32>>,
    pub inertia: Option<f64>,
    pub log: Vec<LogEvent>,
    pub rng: LegacyMt,
}

fn check_finite_weights<T: Float>(w: ArrayView1<T>) -> RmlResult<()> {
    ensure!(w.iter().all(|v| v.is_finite()), "sample_weight must be finite");
    Ok(())
}

/// One mini-batch step, in place: scikit-learn's `_mini_batch_step` on a dense batch.
/// Returns the batch inertia (computed before the centres move).
#[allow(clippy::too_many_arguments)]
fn step<T: Float>(
    xb: ArrayView2<T>,
    wb: ArrayView1<T>,
    centers: &mut Array2<T>,
    counts: &mut [T],
    labels: &mut Array1<i32>,
    random_reassign: bool,
    reassignment_ratio: f64,
    rng: &mut LegacyMt,
    log: Option<&mut Vec<LogEvent>>,
    cancel: &Cancel,
) -> RmlResult<f64> {
    let b = xb.nrows();
    let k = centers.nrows();
    let inertia = assign::labels_inertia_into(
        xb,
        Some(wb),
        centers.view(),
        labels.slice_mut(ndarray::s![..b]),
        true,
        true,
        cancel,
    )?;
    // _minibatch_update_dense: per centre, in batch order, in T.
    let mut wsum = vec![T::zero(); k];
    for i in 0..b {
        let l = labels[i] as usize;
        wsum[l] = wsum[l] + wb[i];
    }
    for c in 0..k {
        if wsum[c] > T::zero() {
            let s = counts[c];
            centers.row_mut(c).mapv_inplace(|v| v * s);
        }
    }
    for i in 0..b {
        let l = labels[i] as usize;
        if wsum[l] > T::zero() {
            let w = wb[i];
            let mut row = centers.row_mut(l);
            for (cv, &xv) in row.iter_mut().zip(xb.row(i).iter()) {
                *cv = *cv + xv * w;
            }
        }
    }
    for c in 0..k {
        if wsum[c] > T::zero() {
            counts[c] = counts[c] + wsum[c];
            let alpha = T::one() / counts[c];
            centers.row_mut(c).mapv_inplace(|v| v * alpha);
        }
    }
    // Reassign centres with very low weight to random batch members.
    if random_reassign && reassignment_ratio > 0.0 {
        let max = counts.iter().fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
        let threshold = T::from_f64(reassignment_ratio) * max;
        let mut to_reassign: Vec<bool> = counts.iter().map(|&v| v < threshold).collect();
        let n_flag = to_reassign.iter().filter(|&&f| f).count();
        if (n_flag as f64) > 0.5 * b as f64 {
            // at most half a batch of new centres: keep the largest-count ones
            let mut order: Vec<usize> = (0..k).collect();
            order.sort_by(|&a, &c| counts[a].as_f64().total_cmp(&counts[c].as_f64()));
            for &c in &order[(0.5 * b as f64) as usize..] {
                to_reassign[c] = false;
            }
        }
        let n_reassigns = to_reassign.iter().filter(|&&f| f).count();
        if n_reassigns > 0 {
            let picks = rng.choice_without_replacement(b, n_reassigns)?;
            if let Some(log) = log {
                log.push(LogEvent::Reassign { n: n_reassigns });
            }
            let targets = (0..k).filter(|&c| to_reassign[c]);
            for (c, &p) in targets.zip(picks.iter()) {
                centers.row_mut(c).assign(&xb.row(p));
            }
        }
        let mut min_kept: Option<T> = None;
        for c in 0..k {
            if !to_reassign[c] {
                min_kept = Some(match min_kept {
                    Some(m) if m <= counts[c] => m,
                    _ => counts[c],
                });
            }
        }
        match min_kept {
            Some(m) => {
                for c in 0..k {
                    if to_reassign[c] {
                        counts[c] = m;
                    }
                }
            }
            None => {
                return Err(RmlError::InvalidInput(
                    "zero-size array to reduction operation minimum which has no identity".into(),
                ))
            }
        }
    }
    Ok(inertia)
}

/// Run MiniBatchKMeans on `x` (scikit-learn's `MiniBatchKMeans.fit` after validation and
/// initialisation).
///
/// * `sample_weight`: per-row weights (used for sampling, the validation inertia and the final
///   inertia; the steps themselves use unit weights, as scikit-learn does).
/// * `cdf`: `cumsum(sample_weight / sum) / last` in `f64`, exactly as numpy's `choice` builds it.
/// * `inits`: `n_init` candidate centre sets; the one with the lowest inertia on
///   `x[valid_idx]` is used (first one on ties).
/// * `rng`: the numpy generator state right after the initialisation draws.
///
/// Runs in the current rayon pool; the result does not depend on its size.
#[allow(clippy::too_many_arguments)]
pub fn fit<T: Float>(
    x: ArrayView2<T>,
    sample_weight: ArrayView1<T>,
    cdf: ArrayView1<f64>,
    inits: ArrayView3<T>,
    valid_idx: ArrayView1<i64>,
    params: &MiniBatchParams,
    mut rng: LegacyMt,
    cancel: &Cancel,
) -> RmlResult<MiniBatchFit<T>> {
    let (n, d) = x.dim();
    let (n_init, k, dc) = inits.dim();
    ensure!(n >= 1 && d >= 1, "X must have at least one sample and one feature, got shape ({n}, {d})");
    ensure!(n_init >= 1 && k >= 1, "at least one candidate init with one centre is required");
    ensure!(dc == d, "init centres have {dc} features, X has {d}");
    ensure!(sample_weight.len() == n, "sample_weight has {} entries, X has {n} rows", sample_weight.len());
    ensure!(cdf.len() == n, "cdf has {} entries, X has {n} rows", cdf.len());
    check_finite_weights(sample_weight)?;
    params.check(n)?;
    let cdf = cdf.to_vec();
    ensure!(
        cdf.iter().all(|v| v.is_finite()) && cdf.windows(2).all(|w| w[0] <= w[1]),
        "cdf must be finite and non-decreasing"
    );
    let mut log = Vec::new();

    // Best init on the validation subset.
    let mut valid = Vec::with_capacity(valid_idx.len());
    for &i in valid_idx.iter() {
        ensure!(i >= 0 && (i as usize) < n, "validation index {i} out of range for {n} rows");
        valid.push(i as usize);
    }
    let xv = x.select(Axis(0), &valid);
    let wv = sample_weight.select(Axis(0), &valid);
    let mut best: Option<(usize, f64)> = None;
    for (idx, init) in inits.outer_iter().enumerate() {
        let (_, inertia) = kmeans::assign_labels(xv.view(), wv.view(), init, cancel)?;
        if params.verbose {
            log.push(LogEvent::InitInertia { index: idx, inertia });
        }
        if best.is_none_or(|(_, b)| inertia < b) {
            best = Some((idx, inertia));
        }
    }
    let best_init = best.map(|b| b.0).unwrap_or(0);
    let mut centers = inits.index_axis(Axis(0), best_init).to_owned();
    let mut counts = vec![T::zero(); k];

    let b = params.batch_size;
    let mut xb = Array2::<T>::from_shape_vec((b, d), size::try_zeroed_vec::<T>(b, d, "the mini-batch")?)
        .map_err(|e| RmlError::Internal(e.to_string()))?;
    let wb = Array1::<T>::from_elem(b, T::one());
    let mut labels_b = Array1::<i32>::zeros(b);
    let mut old = if params.tol > 0.0 { Some(centers.clone()) } else { None };
    let mut us = vec![0f64; b];

    let mut ewa: Option<f64> = None;
    let mut ewa_min: Option<f64> = None;
    let mut no_improvement = 0usize;
    let mut n_since = 0usize;
    let mut steps_done = 0usize;
    let alpha = (b as f64 * 2.0 / (n as f64 + 1.0)).min(1.0);

    for i in 0..params.n_steps {
        cancel.check()?;
        // random_state.choice(n, b, p=w/sum(w)): b doubles drawn in order, then
        // searchsorted on the cdf and the row gather (both cache-miss bound) in parallel.
        for u in us.iter_mut() {
            *u = rng.random_sample();
        }
        xb.axis_chunks_iter_mut(Axis(0), assign::CHUNK)
            .into_par_iter()
            .zip(us.par_chunks(assign::CHUNK))
            .for_each(|(mut block, uc)| {
                for (mut row, &u) in block.rows_mut().into_iter().zip(uc) {
                    let src = x.row(rng::searchsorted_right(&cdf, u));
                    match (row.as_slice_mut(), src.as_slice()) {
                        (Some(dst), Some(s)) => dst.copy_from_slice(s),
                        _ => row.assign(&src),
                    }
                }
            });
        // _random_reassign
        n_since += b;
        let random_reassign = if counts.iter().any(|&c| c == T::zero()) || n_since >= 10 * k {
            n_since = 0;
            true
        } else {
            false
        };
        if let Some(o) = old.as_mut() {
            o.assign(&centers);
        }
        let batch_inertia = step(
            xb.view(),
            wb.view(),
            &mut centers,
            &mut counts,
            &mut labels_b,
            random_reassign,
            params.reassignment_ratio,
            &mut rng,
            if params.verbose { Some(&mut log) } else { None },
            cancel,
        )?;
        let centers_squared_diff = match &old {
            Some(o) => o.iter().zip(centers.iter()).map(|(&a, &c)| (c - a).as_f64().powi(2)).sum::<f64>(),
            None => 0.0,
        };
        steps_done = i + 1;
        // _mini_batch_convergence
        let bi = batch_inertia / b as f64;
        let stepno = i + 1;
        if stepno == 1 {
            if params.verbose {
                log.push(LogEvent::FirstStep { step: stepno, batch_inertia: bi });
            }
            continue;
        }
        let e = match ewa {
            None => bi,
            Some(e) => e * (1.0 - alpha) + bi * alpha,
        };
        ewa = Some(e);
        if params.verbose {
            log.push(LogEvent::Step { step: stepno, batch_inertia: bi, ewa_inertia: e });
        }
        if params.tol > 0.0 && centers_squared_diff <= params.tol {
            if params.verbose {
                log.push(LogEvent::ConvergedCenters { step: stepno });
            }
            break;
        }
        if ewa_min.is_none_or(|m| e < m) {
            no_improvement = 0;
            ewa_min = Some(e);
        } else {
            no_improvement += 1;
        }
        if let Some(m) = params.max_no_improvement {
            if no_improvement >= m {
                if params.verbose {
                    log.push(LogEvent::ConvergedNoImprovement { step: stepno });
                }
                break;
            }
        }
    }

    let (labels, inertia) = if params.compute_labels {
        let (labels, inertia) = kmeans::assign_labels(x, sample_weight, centers.view(), cancel)?;
        (Some(Array1::from_vec(labels)), Some(inertia))
    } else {
        (None, None)
    };
    Ok(MiniBatchFit {
        centers,
        counts: Array1::from_vec(counts),
        ewa_inertia: ewa,
        ewa_inertia_min: ewa_min,
        no_improvement,
        n_since_last_reassign: n_since,
        n_steps: steps_done,
        best_init,
        labels,
        inertia,
        log,
        rng,
    })
}

/// One `partial_fit` step on the batch `x` with its weights (scikit-learn's
/// `MiniBatchKMeans.partial_fit` after validation and, on the first call, initialisation).
/// `random_reassign` is the caller's `_random_reassign()` decision for this step.
#[allow(clippy::too_many_arguments)]
pub fn partial_fit<T: Float>(
    x: ArrayView2<T>,
    sample_weight: ArrayView1<T>,
    centers: ArrayView2<T>,
    counts: ArrayView1<T>,
    random_reassign: bool,
    reassignment_ratio: f64,
    compute_labels: bool,
    verbose: bool,
    mut rng: LegacyMt,
    cancel: &Cancel,
) -> RmlResult<MiniBatchPartial<T>> {
    let (n, d) = x.dim();
    let (k, dc) = centers.dim();
    ensure!(n >= 1 && d >= 1, "X must have at least one sample and one feature, got shape ({n}, {d})");
    ensure!(k >= 1 && dc == d, "centres have shape ({k}, {dc}), X has {d} features");
    ensure!(counts.len() == k, "counts has {} entries for {k} centres", counts.len());
    ensure!(sample_weight.len() == n, "sample_weight has {} entries, X has {n} rows", sample_weight.len());
    check_finite_weights(sample_weight)?;
    ensure_param!(
        reassignment_ratio.is_finite() && reassignment_ratio >= 0.0,
        "reassignment_ratio should be >= 0, got {reassignment_ratio} instead."
    );
    let mut centers = centers.to_owned();
    let mut counts = counts.to_vec();
    let mut labels = Array1::<i32>::from_vec(size::try_zeroed_vec::<i32>(n, 1, "labels")?);
    let mut log = Vec::new();
    step(
        x,
        sample_weight,
        &mut centers,
        &mut counts,
        &mut labels,
        random_reassign,
        reassignment_ratio,
        &mut rng,
        if verbose { Some(&mut log) } else { None },
        cancel,
    )?;
    let (labels, inertia) = if compute_labels {
        let (labels, inertia) = kmeans::assign_labels(x, sample_weight, centers.view(), cancel)?;
        (Some(Array1::from_vec(labels)), Some(inertia))
    } else {
        (None, None)
    };
    Ok(MiniBatchPartial { centers, counts: Array1::from_vec(counts), labels, inertia, log, rng })
}


#[cfg(test)]
mod tests;
