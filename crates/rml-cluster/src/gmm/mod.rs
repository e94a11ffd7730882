//! Gaussian mixture models with diagonal (and spherical) covariances, fitted by EM.
//!
//! The arithmetic is scikit-learn's (`sklearn/mixture/_gaussian_mixture.py`):
//!
//! * log N(x | mu_k, diag(1/p_k)) = -0.5 (d ln 2pi + sum_j p_kj (x_j - mu_kj)^2) + sum_j ln pc_kj,
//!   with `p = pc^2` recomputed from the Cholesky precisions `pc = 1 / sqrt(cov)`;
//! * the E-step normalises with a log-sum-exp (max subtracted first);
//! * the M-step is `nk = sum_i r_ik + 10 eps`, `mu_k = sum_i r_ik x_i / nk`,
//!   `cov_kj = sum_i r_ik x_ij^2 / nk - mu_kj^2 + reg_covar` (spherical: mean over j), and
//!   `w_k = nk / sum nk`;
//! * the lower bound of an iteration is the mean log-likelihood under the parameters the
//!   E-step used, and EM stops when it changes by less than `tol`.
//!
//! One pass over `X` per iteration does the E-step and accumulates the M-step sums. Rows are
//! cut into fixed chunks of [`CHUNK_ROWS`] (independent of the thread count), each chunk
//! produces partial sums in `f64`, and the partials are added in chunk order: the result is
//! identical for every `n_jobs`. Float32 input is read as float32 and computed in float64.

mod kernel;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use rml_core::{ensure, Cancel, Float, RmlError, RmlResult};

pub use kernel::exp_nonpositive;

/// Rows per chunk of the parallel pass. Fixed so reductions do not depend on `n_jobs`.
pub const CHUNK_ROWS: usize = 2048;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Covariance structure of the mixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CovarianceType {
    /// One variance per component and feature: `covariances` is `(k, d)`.
    Diag,
    /// One variance per component: `covariances` is `(k,)`.
    Spherical,
}

impl CovarianceType {
    /// Parse scikit-learn's name.
    pub fn parse(s: &str) -> RmlResult<Self> {
        match s {
            "diag" => Ok(Self::Diag),
            "spherical" => Ok(Self::Spherical),
            other => Err(RmlError::InvalidParameter(format!(
                "covariance_type {other:?} is not implemented by rml's kernel (diag, spherical)"
            ))),
        }
    }
}

/// Parameters of a fitted (or initial) mixture, all `f64`.
///
/// `precisions_chol` is `(k, d)` for diag and `(k, 1)` for spherical; `covariances`
/// likewise (`None` when the model was initialised from precisions and never updated).
#[derive(Debug, Clone, PartialEq)]
pub struct GmmParams {
    pub weights: Array1<f64>,
    pub means: Array2<f64>,
    pub covariances: Option<Array2<f64>>,
    pub precisions_chol: Array2<f64>,
}

/// Checked EM settings.
#[derive(Debug, Clone, Copy)]
pub struct EmConfig {
    pub covariance_type: CovarianceType,
    pub tol: f64,
    pub reg_covar: f64,
    pub max_iter: usize,
    /// Lower bound before the first iteration (`-inf` for a fresh start, the previous
    /// `lower_bound_` for a warm start).
    pub init_lower_bound: f64,
}

impl EmConfig {
    /// Check the settings (scikit-learn's ranges).
    pub fn check(self) -> RmlResult<Self> {
        rml_core::ensure_param!(self.tol >= 0.0, "tol must be >= 0, got {}", self.tol);
        rml_core::ensure_param!(
            self.reg_covar >= 0.0,
            "reg_covar must be >= 0, got {}",
            self.reg_covar
        );
        rml_core::ensure_param!(self.max_iter >= 1, "max_iter must be >= 1 for EM");
        Ok(self)
    }
}

/// Outcome of one EM run.
#[derive(Debug, Clone)]
pub struct EmResult {
    pub params: GmmParams,
    pub n_iter: usize,
    pub converged: bool,
    pub lower_bound: f64,
    pub lower_bounds: Vec<f64>,
    /// Wall time of each iteration in seconds (for `verbose >= 2`).
    pub iter_seconds: Vec<f64>,
    /// `argmax_k` of the responsibilities under the final parameters (fit_predict's labels).
    pub labels: Array1<i64>,
}

/// The E-step constants of a model in the layout the kernel wants (feature-major, so the
/// innermost loop runs over components).
pub(crate) struct Prepared {
    pub k: usize,
    /// `k` rounded up to a multiple of [`kernel::TILE`]; padding components have
    /// `cst = -inf` (zero responsibility) and zero tables.
    pub kp: usize,
    pub d: usize,
    /// `m[j * kp + c] = mu_cj * p_cj`
    pub m: Vec<f64>,
    /// `h[j * kp + c] = -0.5 * p_cj`
    pub h: Vec<f64>,
    /// `-0.5 (d ln 2pi + sum_j mu_cj^2 p_cj) + log_det_c + ln w_c`
    pub cst: Vec<f64>,
}

fn prepare(params: &GmmParams, cov: CovarianceType) -> RmlResult<Prepared> {
    let (k, d) = params.means.dim();
    ensure!(params.weights.len() == k, "weights has {} entries, expected {k}", params.weights.len());
    let pc_cols = match cov {
        CovarianceType::Diag => d,
        CovarianceType::Spherical => 1,
    };
    ensure!(
        params.precisions_chol.dim() == (k, pc_cols),
        "precisions_cholesky has shape {:?}, expected ({k}, {pc_cols})",
        params.precisions_chol.dim()
    );
    let kp = k.div_ceil(kernel::TILE) * kernel::TILE;
    let mut m = vec![0.0; kp * d];
    let mut h = vec![0.0; kp * d];
    let mut cst = vec![f64::NEG_INFINITY; kp];
    for c in 0..k {
        let mut a = 0.0;
        let mut log_det = 0.0;
        for j in 0..d {
            let pc = match cov {
                CovarianceType::Diag => params.precisions_chol[[c, j]],
                CovarianceType::Spherical => params.precisions_chol[[c, 0]],
            };
            let p = pc * pc;
            let mu = params.means[[c, j]];
            a += mu * mu * p;
            m[j * kp + c] = mu * p;
            h[j * kp + c] = -0.5 * p;
            if cov == CovarianceType::Diag {
                log_det += pc.ln();
            }
        }
        if cov == CovarianceType::Spherical {
            log_det = d as f64 * params.precisions_chol[[c, 0]].ln();
        }
        cst[c] = -0.5 * (d as f64 * LN_2PI + a) + log_det + params.weights[c].ln();
    }
    Ok(Prepared { k, kp, d, m, h, cst })
}

/// Partial sums of one chunk (and, after the reduction, of all rows).
#[derive(Clone)]
pub(crate) struct Sums {
    pub lse: f64,
    /// `nk[c]` (padded stride `kp`)
    pub nk: Vec<f64>,
    /// `sx[j * kp + c] = sum_i r_ic x_ij`
    pub sx: Vec<f64>,
    /// `sxx[j * kp + c] = sum_i r_ic x_ij^2`
    pub sxx: Vec<f64>,
}

impl Sums {
    fn zeros(k: usize, d: usize) -> Self {
        Sums { lse: 0.0, nk: vec![0.0; k], sx: vec![0.0; k * d], sxx: vec![0.0; k * d] }
    }
    fn add(&mut self, o: &Sums) {
        self.lse += o.lse;
        for (a, b) in self.nk.iter_mut().zip(&o.nk) {
            *a += b;
        }
        for (a, b) in self.sx.iter_mut().zip(&o.sx) {
            *a += b;
        }
        for (a, b) in self.sxx.iter_mut().zip(&o.sxx) {
            *a += b;
        }
    }
}

/// One E-step + M-step accumulation pass: returns the sums over all rows.
fn em_pass<F: Float>(x: ArrayView2<F>, prep: &Prepared, cancel: &Cancel) -> RmlResult<Sums> {
    let n = x.nrows();
    let xs = x.as_slice().ok_or_else(|| RmlError::Internal("X must be C-contiguous".into()))?;
    let d = prep.d;
    let n_chunks = n.div_ceil(CHUNK_ROWS);
    let partials: Vec<RmlResult<Sums>> = (0..n_chunks)
        .into_par_iter()
        .map(|ci| {
            cancel.check()?;
            let lo = ci * CHUNK_ROWS;
            let hi = (lo + CHUNK_ROWS).min(n);
            let mut s = Sums::zeros(prep.kp, d);
            kernel::accumulate(&xs[lo * d..hi * d], prep, &mut s);
            Ok(s)
        })
        .collect();
    let mut total = Sums::zeros(prep.kp, d);
    for p in partials {
        total.add(&p?);
    }
    Ok(total)
}

fn ill_defined_message(dtype: &str) -> String {
    let mut m = String::from(
        "Fitting the mixture model failed because some components have ill-defined empirical \
         covariance (for instance caused by singleton or collapsed samples). Try to decrease \
         the number of components, increase reg_covar, or scale the input data.",
    );
    if dtype == "float32" {
        m.push_str(
            " The numerical accuracy can also be improved by passing float64 data instead of \
             float32.",
        );
    }
    m
}

/// M-step from the accumulated sums (scikit-learn's `_estimate_gaussian_parameters` +
/// `_compute_precision_cholesky`, with `weights /= weights.sum()`).
fn m_step(
    s: &Sums,
    k: usize,
    d: usize,
    eps: f64,
    cfg: &EmConfig,
    dtype: &str,
) -> RmlResult<GmmParams> {
    // sums are laid out with the padded component stride
    let kp = s.nk.len();
    let nk: Vec<f64> = s.nk[..k].iter().map(|&v| v + 10.0 * eps).collect();
    let mut means = Array2::<f64>::zeros((k, d));
    let mut diag = Array2::<f64>::zeros((k, d));
    for c in 0..k {
        for j in 0..d {
            let mu = s.sx[j * kp + c] / nk[c];
            means[[c, j]] = mu;
            diag[[c, j]] = s.sxx[j * kp + c] / nk[c] - mu * mu + cfg.reg_covar;
        }
    }
    let cov = match cfg.covariance_type {
        CovarianceType::Diag => diag,
        CovarianceType::Spherical => {
            let mut sp = Array2::<f64>::zeros((k, 1));
            for c in 0..k {
                sp[[c, 0]] = diag.row(c).sum() / d as f64;
            }
            sp
        }
    };
    if cov.iter().any(|&v| v <= 0.0) {
        return Err(RmlError::InvalidInput(ill_defined_message(dtype)));
    }
    let precisions_chol = cov.mapv(|v| 1.0 / v.sqrt());
    let total: f64 = nk.iter().sum();
    let weights = Array1::from_iter(nk.iter().map(|&v| v / total));
    Ok(GmmParams { weights, means, covariances: Some(cov), precisions_chol })
}

/// Run EM from `init` (scikit-learn's inner loop of `BaseMixture.fit_predict`).
pub fn em<F: Float>(
    x: ArrayView2<F>,
    init: &GmmParams,
    cfg: EmConfig,
    cancel: &Cancel,
) -> RmlResult<EmResult> {
    let cfg = cfg.check()?;
    let (n, d) = x.dim();
    ensure!(n >= 1, "X has no rows");
    ensure!(init.means.ncols() == d, "means have {} features, X has {d}", init.means.ncols());
    let k = init.means.nrows();
    let eps = F::epsilon().as_f64();
    let mut params = init.clone();
    let mut lower_bound = cfg.init_lower_bound;
    let mut lower_bounds = Vec::new();
    let mut iter_seconds = Vec::new();
    let mut converged = false;
    let mut n_iter = 0;
    for it in 1..=cfg.max_iter {
        let t0 = std::time::Instant::now();
        let prev = lower_bound;
        let prep = prepare(&params, cfg.covariance_type)?;
        let sums = em_pass(x, &prep, cancel)?;
        params = m_step(&sums, k, d, eps, &cfg, F::DTYPE)?;
        lower_bound = sums.lse / n as f64;
        lower_bounds.push(lower_bound);
        iter_seconds.push(t0.elapsed().as_secs_f64());
        n_iter = it;
        let change = lower_bound - prev;
        if change.abs() < cfg.tol {
            converged = true;
            break;
        }
    }
    let labels = predict(x, &params, cfg.covariance_type, cancel)?.labels;
    Ok(EmResult { params, n_iter, converged, lower_bound, lower_bounds, iter_seconds, labels })
}

/// Per-sample results of the E-step under fixed parameters.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// log p(x_i) (`score_samples`).
    pub log_prob_norm: Array1<f64>,
    /// argmax_k of the weighted log-probabilities (first maximum on ties, as `np.argmax`).
    pub labels: Array1<i64>,
    /// Responsibilities `(n, k)` when requested (`predict_proba`).
    pub resp: Option<Array2<f64>>,
}

/// E-step only: log-likelihoods, labels and optionally responsibilities of `x`.
pub fn estimate<F: Float>(
    x: ArrayView2<F>,
    params: &GmmParams,
    cov: CovarianceType,
    want_resp: bool,
    cancel: &Cancel,
) -> RmlResult<Estimate> {
    let (n, d) = x.dim();
    ensure!(params.means.ncols() == d, "X has {d} features, the model has {}", params.means.ncols());
    let prep = prepare(params, cov)?;
    let k = prep.k;
    let xs = x.as_slice().ok_or_else(|| RmlError::Internal("X must be C-contiguous".into()))?;
    let mut lpn = vec![0.0f64; n];
    let mut labels = vec![0i64; n];
    let mut resp = if want_resp { rml_core::size::try_zeroed_vec::<f64>(n, k, "resp")? } else { Vec::new() };
    let rows = CHUNK_ROWS;
    let res: Vec<RmlResult<()>> = if want_resp {
        lpn.par_chunks_mut(rows)
            .zip(labels.par_chunks_mut(rows))
            .zip(resp.par_chunks_mut(rows * k))
            .enumerate()
            .map(|(ci, ((l, lab), r))| {
                cancel.check()?;
                let lo = ci * rows;
                let hi = lo + l.len();
                kernel::estimate(&xs[lo * d..hi * d], &prep, l, lab, Some(r));
                Ok(())
            })
            .collect()
    } else {
        lpn.par_chunks_mut(rows)
            .zip(labels.par_chunks_mut(rows))
            .enumerate()
            .map(|(ci, (l, lab))| {
                cancel.check()?;
                let lo = ci * rows;
                let hi = lo + l.len();
                kernel::estimate(&xs[lo * d..hi * d], &prep, l, lab, None);
                Ok(())
            })
            .collect()
    };
    for r in res {
        r?;
    }
    let resp = if want_resp {
        Some(Array2::from_shape_vec((n, k), resp).map_err(|e| RmlError::Internal(e.to_string()))?)
    } else {
        None
    };
    Ok(Estimate { log_prob_norm: Array1::from(lpn), labels: Array1::from(labels), resp })
}

/// Labels only (`predict`).
pub fn predict<F: Float>(
    x: ArrayView2<F>,
    params: &GmmParams,
    cov: CovarianceType,
    cancel: &Cancel,
) -> RmlResult<Estimate> {
    estimate(x, params, cov, false, cancel)
}

/// Build [`GmmParams`] from views (a convenience for bindings).
pub fn params_from_views(
    weights: ArrayView1<f64>,
    means: ArrayView2<f64>,
    precisions_chol: ArrayView2<f64>,
) -> GmmParams {
    GmmParams {
        weights: weights.to_owned(),
        means: means.to_owned(),
        covariances: None,
        precisions_chol: precisions_chol.to_owned(),
    }
}

#[cfg(test)]
mod tests;
