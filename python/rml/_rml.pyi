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
# rml._rml.cluster: MiniBatchKMeans   (crates/rml-py/src/cluster/minibatch.rs,
#                                      kernels in rml_cluster::minibatch)
#
# F is X's dtype (float32 or float64); every float array of one call has it. Labels are int32
# (as scikit-learn). mt_key/mt_pos are numpy's RandomState MT19937 state
# (get_state()[1], get_state()[2]); the functions return the state after their draws, which
# the caller puts back with set_state. Draws follow numpy's legacy algorithms exactly:
# choice(n, b, p) == cdf.searchsorted(random_sample(b), side="right"), and
# choice(n, m, replace=False) == permutation(n)[:m].
# log entries (verbose): ("init", i, inertia), ("first", step, mean_batch_inertia),
# ("step", step, mean_batch_inertia, ewa_inertia), ("reassign", n, 0.0),
# ("converged_centers", step, 0.0), ("converged_no_improvement", step, 0.0).
# ---------------------------------------------------------------------------------------------
class cluster:
    @staticmethod
    def minibatch_fit(
        x: "F[n, d]", sample_weight: "F[n]", cdf: "float64[n]", inits: "F[n_init, k, d]",
        valid_idx: "int64[m]", mt_key: "uint32[624]", mt_pos: int, batch_size: int,
        n_steps: int, tol: float, max_no_improvement: int | None, reassignment_ratio: float,
        compute_labels: bool, verbose: bool, n_jobs: int | None = None,
    ) -> "dict": ...
        # keys: centers F[k, d], counts F[k], ewa_inertia float | None,
        # ewa_inertia_min float | None, no_improvement int, n_since_last_reassign int,
        # n_steps int, best_init int, labels int32[n] | None, inertia float | None,
        # log list[tuple], mt_key uint32[624], mt_pos int
    @staticmethod
    def minibatch_partial_fit(
        x: "F[n, d]", sample_weight: "F[n]", centers: "F[k, d]", counts: "F[k]",
        random_reassign: bool, reassignment_ratio: float, compute_labels: bool, verbose: bool,
        mt_key: "uint32[624]", mt_pos: int, n_jobs: int | None = None,
    ) -> "dict": ...
        # keys: centers, counts, labels int32[n] | None, inertia float | None, log, mt_key, mt_pos
    @staticmethod
    def minibatch_labels_inertia(
        x: "F[n, d]", sample_weight: "F[n] | None", centers: "F[k, d]", return_inertia: bool,
        n_jobs: int | None = None,
    ) -> "tuple[int32[n], float | None]": ...
    @staticmethod
    def minibatch_transform(x: "F[n, d]", centers: "F[k, d]", n_jobs: int | None = None) -> "F[n, k]": ...
