"""Type stub of the native module: the whole Python-to-Rust boundary in one file.

Conventions for every function below:
- arrays are C-contiguous and native-endian; ``F`` is float32 or float64 and every float
  array of one call has the same dtype (the Python layer guarantees it);
- indices are returned as int64 (numpy's ``intp`` on 64-bit platforms);
- ``n_jobs`` follows scikit-learn: None or -1 all cores, k > 0 k threads, capped by the
  ``RML_NUM_THREADS`` environment variable;
- the GIL is released while the kernel runs; Ctrl-C raises KeyboardInterrupt;
- errors: ValueError (bad input), MemoryError (too large), RuntimeError (a bug in rml).
"""

__version__: str

def effective_n_threads(n_jobs: int | None = None) -> int: ...
def pool_thread_count(n_jobs: int | None = None) -> int: ...
