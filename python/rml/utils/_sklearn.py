"""The only module of rml that imports scikit-learn private helpers.

Each wrapper names the private helper it stands for, so a scikit-learn upgrade that moves one
is fixed here and nowhere else.
"""

import numpy as np
from scipy.sparse import csr_matrix


def align_sparse_api(matrix):
    """Return a sparse result in the container type scikit-learn's config asks for.

    Wraps ``sklearn.utils._align_api_if_sparse`` (1.8+); older versions return csr_matrix.
    """
    try:
        from sklearn.utils import _align_api_if_sparse
    except ImportError:  # scikit-learn < 1.8
        return csr_matrix(matrix)
    return _align_api_if_sparse(matrix)


def to_object_array(sequence):
    """A 1-d object array holding the given arrays (``sklearn.utils.validation._to_object_array``)."""
    out = np.empty(len(sequence), dtype=object)
    for i, item in enumerate(sequence):
        out[i] = item
    return out


def num_samples(X):
    """``sklearn.utils.validation._num_samples``."""
    from sklearn.utils.validation import _num_samples

    return _num_samples(X)


def check_sample_weight(sample_weight, X, **kwargs):
    """``sklearn.utils.validation._check_sample_weight``."""
    from sklearn.utils.validation import _check_sample_weight

    return _check_sample_weight(sample_weight, X, **kwargs)
