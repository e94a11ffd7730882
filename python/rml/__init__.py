"""rml: scikit-learn's neighbours and clustering estimators with a Rust engine.

Change one import (``from rml.neighbors import KNeighborsClassifier``) and get the same
answers as scikit-learn, faster and in less memory.
"""

from rml._rml import __version__

__all__ = ["__version__"]
