//! The floating-point types the kernels are generic over: `f32` and `f64`.

use ndarray::LinalgScalar;
use std::fmt::{Debug, Display};
use std::iter::Sum;

/// A kernel element type. Implemented for `f32` and `f64` only; float32 input stays float32
/// (`preserves_dtype` in scikit-learn's terms) and float64 stays float64. Order floats with
/// `x.as_f64().total_cmp(&y.as_f64())` (NaN never panics a sort; DESIGN.md).
///
/// Where float32 would accumulate visible error (long sums, squared-norm distance tricks),
/// kernels accumulate in `f64` via [`Float::as_f64`] and say so in their docs.
pub trait Float:
    num_traits::Float
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
    fn as_f64(self) -> f64;
    /// Narrow from `f64` (rounds to nearest for `f32`).
    fn from_f64(v: f64) -> Self;
}

impl Float for f32 {
    const DTYPE: &'static str = "float32";
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "float64";
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
}
