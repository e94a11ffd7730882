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

# ---------------------------------------------------------------------------------------------
# rml._rml.neighbors   (crates/rml-py/src/neighbors/, kernels in rml-distances + rml-neighbors)
#
# metric is one of: "euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski" (with p,
# 1 <= p < inf; the Python layer maps p=1/2/inf to manhattan/euclidean/chebyshev), "cosine"
# (brute only). Distances returned are the metric's true distances (euclidean, not squared),
# in the dtype of the inputs.
# Tie order: neighbours sorted by (distance, training index) ascending, so among equal
# distances the smaller training index comes first. Identical for every n_jobs.
# Radius results are CSR-shaped: row i's neighbours are ind[offsets[i]:offsets[i+1]].
# ---------------------------------------------------------------------------------------------
class neighbors:
    @staticmethod
    def brute_kneighbors(
        X: "F[m, d]", fit_X: "F[n, d]", k: int, metric: str, p: float,
        return_distance: bool, n_jobs: int | None,
    ) -> "tuple[F[m, k] | None, int64[m, k]]": ...
    @staticmethod
    def brute_radius_neighbors(
        X: "F[m, d]", fit_X: "F[n, d]", radius: float, metric: str, p: float,
        return_distance: bool, sort_results: bool, n_jobs: int | None,
    ) -> "tuple[F[nnz] | None, int64[nnz], int64[m + 1]]": ...
    @staticmethod
    def precomputed_kneighbors(
        D: "F[m, n]", k: int, return_distance: bool, n_jobs: int | None,
    ) -> "tuple[F[m, k] | None, int64[m, k]]": ...
    @staticmethod
    def precomputed_radius_neighbors(
        D: "F[m, n]", radius: float, return_distance: bool, sort_results: bool,
        n_jobs: int | None,
    ) -> "tuple[F[nnz] | None, int64[nnz], int64[m + 1]]": ...
    # KD-tree: the fitted tree is plain arrays owned by Python (DESIGN.md: state lives in
    # Python). idx_array is the permutation of training rows; node_data rows are
    # (idx_start, idx_end, is_leaf); node_bounds[0] / [1] are per-node min / max corners.
    # The arrays are validated on every query (shapes, index ranges, nested node ranges): a
    # tampered pickle raises ValueError. KD-tree calls also accept metric="minkowski" with
    # 0 < p < 1 (as scikit-learn's KDTree does). kdtree_build uses all cores (RML_NUM_THREADS caps).
    @staticmethod
    def kdtree_build(data: "F[n, d]", leaf_size: int) -> "tuple[int64[n], int64[n_nodes, 3], F[2, n_nodes, d]]": ...
    @staticmethod
    def kdtree_query(
        data: "F[n, d]", idx_array: "int64[n]", node_data: "int64[n_nodes, 3]",
        node_bounds: "F[2, n_nodes, d]", X: "F[m, d]", k: int, metric: str, p: float,
        return_distance: bool, n_jobs: int | None,
    ) -> "tuple[F[m, k] | None, int64[m, k]]": ...
    @staticmethod
    def kdtree_query_radius(
        data: "F[n, d]", idx_array: "int64[n]", node_data: "int64[n_nodes, 3]",
        node_bounds: "F[2, n_nodes, d]", X: "F[m, d]", r: "float64[m]", metric: str, p: float,
        return_distance: bool, count_only: bool, sort_results: bool, n_jobs: int | None,
    ) -> "tuple[F[nnz] | None, int64[nnz], int64[m + 1]]": ...
        # count_only=True returns (None, empty, counts as int64[m]) in the last slot's place:
        # (None, int64[0], int64[m]).

# ---------------------------------------------------------------------------------------------
# rml._rml.cluster: DBSCAN and OPTICS   (crates/rml-py/src/cluster/{dbscan,optics}.rs,
# kernels in rml_cluster::dbscan / rml_cluster::optics)
#
# X is float64 (the Python layer widens float32: scikit-learn's KD-tree computes in float64),
# C-contiguous; with metric="precomputed" X is the dense square distance matrix. metric/p as
# for the neighbours functions above, plus "sqeuclidean"; algorithm is "auto" | "brute" |
# "kd_tree" | "ball_tree" (the last served by the KD-tree). Results equal scikit-learn's
# (labels numbered the same way) and do not depend on n_jobs.
# ---------------------------------------------------------------------------------------------
class cluster:
    @staticmethod
    def dbscan(
        X: "float64[n, d]", eps: float, min_samples: int, metric: str, p: float,
        algorithm: str, leaf_size: int, sample_weight: "float64[n] | None", n_jobs: int | None,
    ) -> "tuple[int64[n], int64[n_core]]": ...
        # (labels with -1 for noise, core_sample_indices ascending)
    @staticmethod
    def optics_graph(
        X: "float64[n, d]", min_samples: float, max_eps: float, metric: str, p: float,
        algorithm: str, leaf_size: int, n_jobs: int | None,
    ) -> "tuple[int64[n], float64[n], float64[n], int64[n]]": ...
        # (ordering, core_distances, reachability, predecessor) as sklearn's
        # compute_optics_graph; min_samples an int >= 2 or a fraction in (0, 1].
