//! Lloyd's K-means loop: scikit-learn's `_kmeans_single_lloyd`, step for step.

use super::hamerly::{HamerlyBounds, Output};
use super::{finish_centers, lloyd_iter, lloyd_pass, numpy_pairwise_sum, KMeansRun};
use ndarray::{ArrayView1, ArrayView2};
use rml_core::{ensure_param, Cancel, Float, RmlError, RmlResult};

/// One run of Lloyd's algorithm from `centers_init`.
///
/// Per iteration: E-step + M-step ([`lloyd_iter`]); stop when the labels did not change
/// ("strict convergence") or when `Σ_j shift_j² <= tol` (`tol` is already scaled by the data
/// variance, scikit-learn's `_tolerance`). Without strict convergence a final E-step relabels
/// the samples with the final centres. The inertia is computed for the final labels and
/// centres.
///
/// Where the fused kernel runs (`d > 8`, AVX2+FMA), the E-step skips the rows whose label
/// Hamerly's bounds prove unchanged, with a margin above the kernel's rounding error
/// (`hamerly.rs`): every label, sum, centre and `n_iter` is the dense pass's, bit for bit.
/// Cost: `O(n k d)` for the first iteration, then `O(n d)` plus `O(k d)` per row whose bounds
/// fail; memory `O(n + k d)` beyond the input (`16 n` bytes of bounds, and at most `8 k d`
/// bytes per 4096 rows of kept block sums).
pub fn kmeans_single_lloyd<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers_init: ArrayView2<F>,
    max_iter: usize,
    tol: f64,
    verbose: bool,
    cancel: &Cancel,
) -> RmlResult<KMeansRun<F>> {
    Ok(lloyd_run(x, sample_weight, centers_init, max_iter, tol, verbose, true, cancel)?.0)
}

/// [`kmeans_single_lloyd`], with `prune = false` forcing dense E-steps (the reference the
/// pruned passes are tested against); also reports per E-step (iterations, then the final
/// one if any) how many rows the kernel scored (`n` for a dense pass) and how many blocks
/// reused their kept sums.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lloyd_run<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers_init: ArrayView2<F>,
    max_iter: usize,
    tol: f64,
    verbose: bool,
    prune: bool,
    cancel: &Cancel,
) -> RmlResult<(KMeansRun<F>, Vec<(usize, usize)>)> {
    ensure_param!(max_iter >= 1, "max_iter must be >= 1, got {max_iter}");
    ensure_param!(tol >= 0.0 && tol.is_finite(), "tol must be a finite number >= 0");
    super::check_shapes(&x, &sample_weight, &centers_init)?;
    let (n, d) = x.dim();
    let k = centers_init.nrows();
    let mut centers = centers_init.to_owned();
    let mut labels = vec![-1i32; n];
    let mut labels_old = vec![-1i32; n];
    let mut bounds = if prune { HamerlyBounds::new::<F>(n, d, k)? } else { None };
    let x_std = x.as_standard_layout();
    let xs = x_std.as_slice().expect("standard layout");
    let sw_std = sample_weight.as_standard_layout();
    let sw = sw_std.as_slice().expect("standard layout");
    let mut shift_prev: Option<Vec<F>> = None;
    let mut scored = Vec::new();
    let mut strict = false;
    let mut log = Vec::new();
    let mut it = 0;
    for i in 0..max_iter {
        it = i;
        let (centers_new, shift, labels_unchanged) = match bounds.as_mut() {
            Some(b) => {
                let out = b.pass(xs, sw, centers.view(), &mut labels, shift_prev.as_deref(), Output::Sums, cancel)?;
                scored.push((b.scored_last, b.reused_last));
                let sums = out.sums.ok_or_else(|| RmlError::Internal("Hamerly pass returned no sums".into()))?;
                let (c, _w, shift) = finish_centers(x, sample_weight, centers.view(), &labels, sums)?;
                (c, shift, !out.changed)
            }
            None => {
                let (c, _w, shift) = lloyd_iter(x, sample_weight, centers.view(), &mut labels, cancel)?;
                scored.push((n, 0));
                let unchanged = labels == labels_old;
                // The next dense pass overwrites every label, so the buffers swap instead of
                // copying n labels.
                std::mem::swap(&mut labels, &mut labels_old);
                (c, shift, unchanged)
            }
        };
        // After the swap the dense path's current labels are in `labels_old`.
        let current = if bounds.is_some() { &labels } else { &labels_old };
        if verbose {
            let inertia = super::inertia(x, sample_weight, centers.view(), current, None, cancel)?;
            log.push(format!("Iteration {i}, inertia {}.", py_float(inertia, F::DTYPE)));
        }
        centers = centers_new;
        let stop = converged(i, labels_unchanged, &shift, tol, verbose, &mut log);
        shift_prev = Some(shift);
        if let Some(is_strict) = stop {
            strict = is_strict;
            break;
        }
    }
    if bounds.is_none() {
        // Undo the last swap: `labels` holds the newest labels again.
        std::mem::swap(&mut labels, &mut labels_old);
    }
    // Without strict convergence the final E-step and the inertia share one pass over X
    // (the same per-block, fixed-order sums as `inertia`, so the same value); it rewrites every
    // label (after `max_iter` iterations `labels` holds the previous iteration's labels).
    // With bounds, the final E-step skips the rows they certify, as the iterations do.
    let inertia = if strict {
        super::inertia(x, sample_weight, centers.view(), &labels, None, cancel)?
    } else if let Some(b) = bounds.as_mut() {
        let out = b.pass(xs, sw, centers.view(), &mut labels, shift_prev.as_deref(), Output::Inertia, cancel)?;
        scored.push((b.scored_last, b.reused_last));
        out.inertia
    } else {
        lloyd_pass(x, sample_weight, centers.view(), &mut labels, false, true, cancel)?.1
    };
    Ok((KMeansRun { centers, labels, inertia, n_iter: it + 1, log }, scored))
}

/// scikit-learn's end-of-iteration test, shared by the Lloyd and Elkan loops: stop with
/// strict convergence when no label changed (`labels_unchanged`, scikit-learn's
/// `array_equal(labels, labels_old)`; `Some(true)`), or when `Σ_j shift_j² <= tol`
/// with numpy's pairwise sum (`Some(false)`); `None` means iterate again. Verbose runs log
/// scikit-learn's messages.
pub(crate) fn converged<F: Float>(
    i: usize,
    labels_unchanged: bool,
    shift: &[F],
    tol: f64,
    verbose: bool,
    log: &mut Vec<String>,
) -> Option<bool> {
    if labels_unchanged {
        if verbose {
            log.push(format!("Converged at iteration {i}: strict convergence."));
        }
        return Some(true);
    }
    let sq: Vec<F> = shift.iter().map(|&s| s * s).collect();
    let tot = numpy_pairwise_sum(&sq);
    if tot <= F::from_f64(tol) {
        if verbose {
            log.push(format!(
                "Converged at iteration {i}: center shift {} within tolerance {}.",
                py_float(tot.as_f64(), F::DTYPE),
                py_float(tol, F::DTYPE)
            ));
        }
        return Some(false);
    }
    None
}

/// Format a float as Python's `repr` would, near enough for verbose logs.
pub(crate) fn py_float(v: f64, dtype: &str) -> String {
    if dtype == "float32" {
        format!("{:?}", v as f32)
    } else {
        format!("{v:?}")
    }
}
