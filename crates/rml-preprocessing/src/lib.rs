//! Preprocessing kernels of rml: the statistics behind `StandardScaler` (per-feature weighted
//! mean and variance in one parallel pass, NaN skipped, accumulated in `f64`) and behind
//! `SimpleImputer` (per-feature mean, median by selection), plus the element-wise transforms.
//!
//! Every function takes C-ordered (row-major) data as an `ndarray` view, is parallel over
//! row blocks or column groups with a fixed-order reduction (results do not depend on the
//! number of threads), polls [`rml_core::Cancel`] between blocks, and never panics on bad
//! input: shape mismatches are [`rml_core::RmlError::InvalidInput`].

pub mod impute;
pub mod scaler;

use ndarray::{ArrayView2, CowArray, Ix2};
use rml_core::Float;

/// A row-major contiguous version of `x` (borrowed when it already is one).
pub(crate) fn standard<'a, F: Float>(x: ArrayView2<'a, F>) -> CowArray<'a, F, Ix2> {
    if x.is_standard_layout() {
        CowArray::from(x)
    } else {
        CowArray::from(x.as_standard_layout().into_owned())
    }
}

/// Rows per parallel block: about 64 KiB of data, at least 16 rows.
pub(crate) fn block_rows<F>(d: usize) -> usize {
    let row_bytes = d.max(1).saturating_mul(std::mem::size_of::<F>());
    (65536 / row_bytes).max(16)
}

/// Which entries count as missing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Missing<F> {
    /// NaN entries are missing (`missing_values=np.nan`).
    Nan,
    /// Entries equal to this value are missing (compared in the data's dtype, as numpy's
    /// `X == missing_values` does).
    Value(F),
}

impl<F: Float> Missing<F> {
    /// Missing marker from an `f64` (NaN means [`Missing::Nan`]); the value is narrowed to `F`.
    pub fn from_f64(v: f64) -> Self {
        if v.is_nan() {
            Missing::Nan
        } else {
            Missing::Value(F::from_f64(v))
        }
    }

    /// Whether `v` is missing.
    #[inline(always)]
    pub fn is(&self, v: F) -> bool {
        match *self {
            Missing::Nan => v.is_nan(),
            Missing::Value(m) => v == m,
        }
    }
}
