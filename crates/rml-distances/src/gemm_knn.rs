//! Dispatch between the GEMM-filtered Euclidean kernels and the direct kernels.

use crate::brute::{direct_kneighbors, direct_radius_neighbors};
use crate::{KnnResult, Metric, RadiusResult};
use ndarray::ArrayView2;
use rml_core::{Cancel, Float, RmlResult};

pub(crate) fn kneighbors<F: Float>(
    x: ArrayView2<F>,
    fit_x: ArrayView2<F>,
    k: usize,
    metric: Metric,
    return_distance: bool,
    cancel: &Cancel,
) -> RmlResult<KnnResult<F>> {
    direct_kneighbors(x, fit_x, k, metric, return_distance, cancel)
}

pub(crate) fn radius_neighbors<F: Float>(
    x: ArrayView2<F>,
    fit_x: ArrayView2<F>,
    radius: F,
    metric: Metric,
    return_distance: bool,
    sort_results: bool,
    cancel: &Cancel,
) -> RmlResult<RadiusResult<F>> {
    direct_radius_neighbors(x, fit_x, radius, metric, return_distance, sort_results, cancel)
}
