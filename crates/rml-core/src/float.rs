//! The floating-point types the kernels are generic over: `f32` and `f64`.

use ndarray::LinalgScalar;
use std::fmt::{Debug, Display};
use std::iter::Sum;

/// A kernel element type. Implemented for `f32` and `f64` only; float32 input stays float32
/// (`preserves_dtype` in scikit-learn's terms) and float64 stays float64.
///
/// Where float32 would accumulate visible error (long sums, squared-norm distance tricks),
/// kernels accumulate in `f64` via [`Float::to_f64`] and say so in their docs.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + LinalgScalar
    + Sum
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
{
    /// Short dtype name, as numpy spells it.
    const DTYPE: &'static str;
    /// Widen to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Narrow from `f64` (rounds to nearest for `f32`).
    fn from_f64(v: f64) -> Self;
    /// IEEE total order, so NaN never panics a sort (DESIGN.md: never `partial_cmp().unwrap()`).
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering;
}

impl Float for f32 {
    const DTYPE: &'static str = "float32";
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering {
        f32::total_cmp(self, other)
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "float64";
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering {
        f64::total_cmp(self, other)
    }
}
