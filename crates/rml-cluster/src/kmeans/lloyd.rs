//! Lloyd's K-means loop: scikit-learn's `_kmeans_single_lloyd`, step for step.

use super::{lloyd_iter, lloyd_pass, numpy_pairwise_sum, KMeansRun};
use ndarray::{ArrayView1, ArrayView2};
use rml_core::{ensure_param, Cancel, Float, RmlResult};

/// One run of Lloyd's algorithm from `centers_init`.
///
/// Per iteration: E-step + M-step ([`lloyd_iter`]); stop when the labels did not change
/// ("strict convergence") or when `Σ_j shift_j² <= tol` (`tol` is already scaled by the data
/// variance, scikit-learn's `_tolerance`). Without strict convergence a final E-step relabels
/// the samples with the final centres. The inertia is computed for the final labels and
/// centres. Cost: `O(n k d)` per iteration, memory `O(n + k d)` beyond the input.
pub fn kmeans_single_lloyd<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers_init: ArrayView2<F>,
    max_iter: usize,
    tol: f64,
    verbose: bool,
    cancel: &Cancel,
) -> RmlResult<KMeansRun<F>> {
    ensure_param!(max_iter >= 1, "max_iter must be >= 1, got {max_iter}");
    ensure_param!(tol >= 0.0 && tol.is_finite(), "tol must be a finite number >= 0");
    let n = x.nrows();
    let mut centers = centers_init.to_owned();
    let mut labels = vec![-1i32; n];
    let mut labels_old = vec![-1i32; n];
    let mut strict = false;
    let mut log = Vec::new();
    let mut it = 0;
    for i in 0..max_iter {
        it = i;
        let (centers_new, _w, shift) = lloyd_iter(x, sample_weight, centers.view(), &mut labels, cancel)?;
        if verbose {
            let inertia =
                super::inertia(x, sample_weight, centers.view(), &labels, None, cancel)?;
            log.push(format!("Iteration {i}, inertia {}.", py_float(inertia, F::DTYPE)));
        }
        centers = centers_new;
        if let Some(is_strict) = converged(i, labels == labels_old, &shift, tol, verbose, &mut log) {
            strict = is_strict;
            break;
        }
        // The next pass overwrites every label, so the buffers swap instead of copying n labels.
        std::mem::swap(&mut labels, &mut labels_old);
    }
    // Without strict convergence the final E-step and the inertia share one pass over X
    // (the same per-block, fixed-order sums as `inertia`, so the same value); it rewrites every
    // label (after `max_iter` iterations `labels` holds the previous iteration's labels).
    let inertia = if strict {
        super::inertia(x, sample_weight, centers.view(), &labels, None, cancel)?
    } else {
        lloyd_pass(x, sample_weight, centers.view(), &mut labels, false, true, cancel)?.1
    };
    Ok(KMeansRun { centers, labels, inertia, n_iter: it + 1, log })
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
