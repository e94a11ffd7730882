//! The one table that maps [`RmlError`] onto Python exceptions.

use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::PyErr;
use rml_core::RmlError;

/// Convert a kernel error into the Python exception a scikit-learn user expects.
pub fn to_py_err(err: RmlError) -> PyErr {
    match err {
        RmlError::InvalidInput(m) | RmlError::InvalidParameter(m) => PyValueError::new_err(m),
        RmlError::TooLarge(m) => PyMemoryError::new_err(m),
        RmlError::Cancelled => PyKeyboardInterrupt::new_err("interrupted"),
        e @ RmlError::Internal(_) => PyRuntimeError::new_err(e.to_string()),
    }
}
