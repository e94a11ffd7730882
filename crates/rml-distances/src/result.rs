//! Result types shared by every neighbour search (brute force, KD-tree, precomputed).

use rml_core::Float;

/// k nearest neighbours of each query row, sorted by (distance, training index).
#[derive(Debug, Clone)]
pub struct KnnResult<F> {
    /// `n_queries x k` true distances (empty `0 x 0` when distances were not requested).
    pub distances: ndarray::Array2<F>,
    /// `n_queries x k` training-row indices.
    pub indices: ndarray::Array2<i64>,
}

/// Neighbours within a radius, CSR-shaped: query `i` owns `indices[offsets[i]..offsets[i+1]]`.
#[derive(Debug, Clone, Default)]
pub struct RadiusResult<F> {
    /// True distances, parallel to `indices` (empty when distances were not requested).
    pub distances: Vec<F>,
    /// Training-row indices.
    pub indices: Vec<i64>,
    /// `n_queries + 1` offsets into `indices`.
    pub offsets: Vec<usize>,
}

impl<F: Float> RadiusResult<F> {
    /// Number of query rows.
    pub fn n_queries(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Neighbour indices of query `i`.
    pub fn row(&self, i: usize) -> &[i64] {
        &self.indices[self.offsets[i]..self.offsets[i + 1]]
    }
}
