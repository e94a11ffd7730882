//! Checked K-means hyperparameters (scikit-learn's `KMeans` constraints) and a Rust-level fit
//! from explicit initial centres.

use super::{kmeans_single_elkan, kmeans_single_lloyd, KMeansRun};
use ndarray::{ArrayView1, ArrayView2};
use rml_core::{ensure, ensure_param, Cancel, Float, RmlResult};

/// Which K-means iteration to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Lloyd's EM iteration (GEMM assignment).
    Lloyd,
    /// Elkan's iteration with triangle-inequality bounds.
    Elkan,
}

impl Algorithm {
    /// Parse scikit-learn's names.
    pub fn parse(name: &str) -> RmlResult<Self> {
        match name {
            "lloyd" => Ok(Self::Lloyd),
            "elkan" => Ok(Self::Elkan),
            other => Err(rml_core::RmlError::InvalidParameter(format!(
                "The 'algorithm' parameter of KMeans must be a str among {{'lloyd', 'elkan'}}. Got {other:?} instead."
            ))),
        }
    }
}

/// Unchecked K-means hyperparameters; [`KMeansParams::check`] validates them.
#[derive(Debug, Clone, Copy)]
pub struct KMeansParams {
    pub n_clusters: usize,
    pub max_iter: usize,
    /// Absolute tolerance on `Σ shift²` (already scaled by the data variance).
    pub tol: f64,
    pub algorithm: Algorithm,
    pub verbose: bool,
}

/// Hyperparameters that passed [`KMeansParams::check`].
#[derive(Debug, Clone, Copy)]
pub struct CheckedKMeansParams(KMeansParams);

impl KMeansParams {
    /// scikit-learn's defaults (`n_clusters=8, max_iter=300, algorithm='lloyd'`) with an
    /// absolute tolerance of 0 (the Python layer scales `tol` by the data variance).
    pub fn new(n_clusters: usize) -> Self {
        Self { n_clusters, max_iter: 300, tol: 0.0, algorithm: Algorithm::Lloyd, verbose: false }
    }

    /// Validate ranges (`n_clusters >= 1`, `max_iter >= 1`, `tol >= 0` finite).
    pub fn check(self) -> RmlResult<CheckedKMeansParams> {
        ensure_param!(self.n_clusters >= 1, "n_clusters must be >= 1, got {}", self.n_clusters);
        ensure_param!(self.max_iter >= 1, "max_iter must be >= 1, got {}", self.max_iter);
        ensure_param!(self.tol.is_finite() && self.tol >= 0.0, "tol must be >= 0, got {}", self.tol);
        Ok(CheckedKMeansParams(self))
    }
}

impl CheckedKMeansParams {
    pub fn params(&self) -> &KMeansParams {
        &self.0
    }

    /// Run one K-means from `centers_init` (`(n_clusters, d)`). Elkan with one cluster runs
    /// Lloyd, as scikit-learn does.
    pub fn fit_from<F: Float>(
        &self,
        x: ArrayView2<F>,
        sample_weight: ArrayView1<F>,
        centers_init: ArrayView2<F>,
        cancel: &Cancel,
    ) -> RmlResult<KMeansRun<F>> {
        let p = &self.0;
        ensure!(
            centers_init.nrows() == p.n_clusters,
            "The shape of the initial centers {:?} does not match the number of clusters {}.",
            centers_init.dim(),
            p.n_clusters
        );
        ensure!(
            x.nrows() >= p.n_clusters,
            "n_samples={} should be >= n_clusters={}.",
            x.nrows(),
            p.n_clusters
        );
        match (p.algorithm, p.n_clusters) {
            (Algorithm::Elkan, k) if k >= 2 => {
                kmeans_single_elkan(x, sample_weight, centers_init, p.max_iter, p.tol, p.verbose, cancel)
            }
            _ => kmeans_single_lloyd(x, sample_weight, centers_init, p.max_iter, p.tol, p.verbose, cancel),
        }
    }
}
