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


    # Pre-filter approximate index (algorithm='prefilter'): rows sorted by key = w . x.
    @staticmethod
    def prefilter_build(X: "F[n, d]", w: "float64[d]") -> "tuple[F[n, d], float64[n], int64[n]]": ...
        # (sorted_x, keys ascending, order: original index of each sorted row)
    @staticmethod
    def prefilter_query(
        sorted_x: "F[n, d]", keys: "float64[n]", order: "int64[n]", w: "float64[d]",
        X: "F[m, d]", k: int, metric: str, p: float, max_candidates: int,
        return_distance: bool, n_jobs: int | None,
    ) -> "tuple[F[m, k] | None, int64[m, k], int, int]": ...
        # (distances, indices, queries proven exact, candidate rows scanned in total)

# ---------------------------------------------------------------------------------------------
# rml._rml.preprocessing   (crates/rml-py/src/preprocessing.rs, kernels in rml-preprocessing)
#
# X is F[n, d] with F float32 or float64 (C-contiguous); every other float array of the call
# has the same dtype F, except the f64 statistics returned. NaN entries are skipped by the
# statistics (missing_values=NaN) and kept by the scaler transform. Parallel over row blocks,
# fixed-order merges: results identical for every n_jobs.
# ---------------------------------------------------------------------------------------------
class preprocessing:
    @staticmethod
    def scaler_moments(
        x: "F[n, d]", sample_weight: "F[n] | None", n_jobs: int | None,
    ) -> "tuple[float64[d], float64[d], float64[d]]": ...
        # (sum of w*x, sum of w, sum of w*(x - mean)^2) over non-NaN entries per feature;
        # the last is NaN where the weight sum is 0. One pass over X, accumulated in f64.
    @staticmethod
    def scaler_transform(
        x: "F[n, d]", mean: "F[d] | None", scale: "F[d] | None", inverse: bool,
        n_jobs: int | None,
    ) -> "F[n, d]": ...
        # (x - mean) / scale, or x * scale + mean when inverse; None skips that step.
    @staticmethod
    def scaler_transform_inplace(
        x: "F[n, d] (writeable)", mean: "F[d] | None", scale: "F[d] | None", inverse: bool,
        n_jobs: int | None,
    ) -> None: ...
    @staticmethod
    def imputer_statistics(
        x: "F[n, d]", strategy: str, missing_values: float, n_jobs: int | None,
    ) -> "float64[d]": ...
        # strategy "mean" | "median"; missing_values NaN or a number (compared in F);
        # NaN for a feature without any non-missing entry. Median by selection, numpy's
        # even-count convention (lo + hi) / 2 in F.
    @staticmethod
    def imputer_transform(
        x: "F[n, d]", fill: "F[k]", keep: "int64[k] | None", missing_values: float,
        n_jobs: int | None,
    ) -> "F[n, k]": ...
        # output column j = x[:, keep[j]] (all columns if keep is None) with missing -> fill[j]
    @staticmethod
    def imputer_transform_inplace(
        x: "F[n, d] (writeable)", fill: "F[d]", missing_values: float, n_jobs: int | None,
    ) -> None: ...


# ---------------------------------------------------------------------------------------------
# rml._rml.cluster: AffinityPropagation and Birch   (crates/rml-py/src/cluster/affinity.rs,
# birch.rs; kernels in rml-cluster/src/affinity/, birch/)
# ---------------------------------------------------------------------------------------------
class cluster:
    # S: the prepared similarity matrix (preference on the diagonal, sklearn's noise added),
    # float32 or float64, C-contiguous; the messages are float64 (as sklearn). Returns
    # (cluster_centers_indices, labels (all -1 when no exemplar), n_iter, converged).
    @staticmethod
    def affinity_propagation(
        s: "F[n, n]", damping: float, max_iter: int, convergence_iter: int, n_jobs: int | None,
    ) -> "tuple[int64[k], int64[n], int, bool]": ...
    # CF-tree state tuple: (n_features, root, node_is_leaf bool[n_nodes], node_ptr int64[n_nodes+1],
    # node_subs int64[nnz], leaf_order int64[n_leaves], n_samples int64[s], linear_sum F[s, d],
    # squared_sum F[s], centroid F[s, d], sq_norm F[s], child int64[s] (-1: none)).
    # split_fn(centroids F[m, d], sq_norms F[m]) -> F[m, m] squared distances (sklearn's
    # euclidean_distances), called with the GIL re-acquired once per node split.
    # state=None starts a new tree. Returns (new state, subcluster_centers F[k, d]).
    @staticmethod
    def birch_fit(
        x: "F[n, d]", threshold_sq: float, branching_factor: int, split_fn: object,
        state: tuple | None = None,
    ) -> "tuple[tuple, F[k, d]]": ...
    # Nearest center of each row (squared euclidean, ties to the smaller index).
    @staticmethod
    def birch_nearest(x: "float64[n, d]", centers: "float64[k, d]", n_jobs: int | None = None) -> "int64[n]": ...
# ---------------------------------------------------------------------------------------------
# rml._rml.cluster clustering metrics   (crates/rml-py/src/cluster/metrics.rs,
# kernels in rml_cluster::metrics). labels are encoded 0..n_clusters-1 (LabelEncoder).
# ---------------------------------------------------------------------------------------------
    @staticmethod
    def silhouette_samples(
        x: "F[n, d]", labels: "int64[n]", n_clusters: int, metric: str, p: float,
        n_jobs: int | None,
    ) -> "float64[n]": ...
        # metric: "euclidean" (tiled GEMM, scikit-learn's formula, self distance 0),
        # "manhattan", "chebyshev", "minkowski" (p >= 1). Distances in f64; singleton -> 0.
    @staticmethod
    def silhouette_samples_precomputed(
        dist: "F[n, n]", labels: "int64[n]", n_clusters: int, n_jobs: int | None,
    ) -> "float64[n]": ...
    @staticmethod
    def cluster_dispersion(
        x: "F[n, d]", labels: "int64[n]", n_clusters: int, n_jobs: int | None,
    ) -> "tuple[int64[k], float64[k, d], float64[k], float64[k]]": ...
        # (counts, per-cluster row sums, sum ||x - c||^2, sum ||x - c||), c = sums / counts
    @staticmethod
    def cluster_dispersion_labels(
        x: "F[n, d]", labels: "int64[n]", n_jobs: int | None,
    ) -> "tuple[int, tuple[int64[k], float64[k, d], float64[k], float64[k]]] | None": ...
        # The same from raw integer labels (any values), encoded in O(n) as LabelEncoder does
        # (codes = ranks of the sorted distinct values): (n_labels, (counts, sums, ...)), or
        # None when the value span exceeds 2 n + 1024 (the caller sorts). Non-finite X shows
        # as non-finite sums.
# rml._rml.cluster — K-means family   (crates/rml-py/src/cluster/kmeans.rs, kernels in
# crates/rml-cluster/src/kmeans/)
#
# F is X's dtype (float32 or float64); every other float array of a call must have it too.
# Labels are int32 (scikit-learn's labels_ dtype). Nearest-centre ties go to the smaller
# centre index. Results are bit-identical for every n_jobs (fixed-order block reductions).
# ---------------------------------------------------------------------------------------------
    @staticmethod
    def kmeans_single(
        X: "F[n, d]", sample_weight: "F[n]", centers_init: "F[k, d]", max_iter: int,
        tol: float, algorithm: str, verbose: bool, n_jobs: int | None = None,
    ) -> "tuple[F[k, d], int32[n], float, int, list[str]]": ...
        # One Lloyd ("lloyd") or Elkan ("elkan") run; tol is absolute (already scaled by the
        # data variance). Returns (centers, labels, inertia, n_iter, verbose_log_lines).
    @staticmethod
    def kmeans_labels_inertia(
        X: "F[n, d]", sample_weight: "F[n]", centers: "F[k, d]", n_jobs: int | None = None,
    ) -> "tuple[int32[n], float]": ...
    @staticmethod
    def kmeans_inertia(
        X: "F[n, d]", sample_weight: "F[n]", centers: "F[k, d]", labels: "int32[n]",
        single_label: int | None = None, n_jobs: int | None = None,
    ) -> float: ...
    @staticmethod
    def kmeans_transform(X: "F[n, d]", centers: "F[k, d]", n_jobs: int | None = None) -> "F[n, k]": ...
    @staticmethod
    def kmeanspp_candidates(
        X: "F[n, d]", x_squared_norms: "F[n]", candidate_ids: "int64[t]",
        closest_dist_sq: "F[n] | None", sample_weight: "F[n]", n_jobs: int | None = None,
    ) -> "tuple[F[t, n], float64[t]]": ...
        # min(closest_dist_sq, squared distances of the candidate rows to every row) and the
        # weighted potential of each candidate (one greedy k-means++ step).
# rml._rml.cluster: GaussianMixture (diag / spherical) and AgglomerativeClustering
# (crates/rml-py/src/cluster/gmm.rs, hierarchical.rs; kernels in rml-cluster gmm/, hierarchical/)
#
# GMM: X is float32 or float64 (computed in float64); model arrays are float64. For
# covariance_type "spherical", precisions_chol / covariances are (k, 1). Sums are reduced in
# fixed row chunks, so results do not depend on n_jobs. Labels are the first maximum.
# Agglomerative: X float64; metric "precomputed" (n x n, upper triangle read) or
# "euclidean"/"l2"/"manhattan"/"l1"/"cityblock"/"cosine"; child_order "sorted" (scipy's
# linkage) or "mst" (scikit-learn's single-linkage MST path). Exactly one of n_clusters /
# distance_threshold. Ward never builds an n x n matrix.
# ---------------------------------------------------------------------------------------------
    @staticmethod
    def gmm_em(
        X: "F[n, d]", weights: "float64[k]", means: "float64[k, d]",
        precisions_chol: "float64[k, d] | float64[k, 1]", covariance_type: str, tol: float,
        reg_covar: float, max_iter: int, init_lower_bound: float, n_jobs: int | None = None,
    ) -> "tuple[float64[k], float64[k, d], float64[k, d|1], float64[k, d|1], int, bool, float, list[float], list[float], int64[n]]": ...
        # (weights, means, covariances, precisions_chol, n_iter, converged, lower_bound,
        #  lower_bounds, iter_seconds, labels under the final parameters)
    @staticmethod
    def gmm_estimate(
        X: "F[n, d]", weights: "float64[k]", means: "float64[k, d]",
        precisions_chol: "float64[k, d] | float64[k, 1]", covariance_type: str,
        want_resp: bool, n_jobs: int | None = None,
    ) -> "tuple[float64[n], int64[n], float64[n, k] | None]": ...
        # (log p(x_i), argmax labels, responsibilities if want_resp)
    @staticmethod
    def agglomerative_fit(
        X: "float64[n, d] | float64[n, n]", linkage: str, metric: str, child_order: str,
        n_clusters: int | None, distance_threshold: float | None, n_jobs: int | None = None,
    ) -> "tuple[int64[n - 1, 2], float64[n - 1], int64[n], int]": ...
        # (children, distances, labels, n_clusters_)
# rml._rml.cluster: DBSCAN and OPTICS   (crates/rml-py/src/cluster/{dbscan,optics}.rs,
# kernels in rml_cluster::dbscan / rml_cluster::optics)
#
# X is float64 (the Python layer widens float32: scikit-learn's KD-tree computes in float64),
# C-contiguous; with metric="precomputed" X is the dense square distance matrix. metric/p as
# for the neighbours functions above, plus "sqeuclidean"; algorithm is "auto" | "brute" |
# "kd_tree" | "ball_tree" (the last served by the KD-tree). Results equal scikit-learn's
# (labels numbered the same way) and do not depend on n_jobs.
# ---------------------------------------------------------------------------------------------
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

# ---------------------------------------------------------------------------------------------
# rml._rml.cluster — BisectingKMeans   (crates/rml-py/src/cluster/bisecting.rs, kernel in
# crates/rml-cluster/src/bisecting/)
# ---------------------------------------------------------------------------------------------
    @staticmethod
    def bisecting_split(
        X: "F[n, d]", x_mean: "F[d]", sample_weight: "F[n]", order: "int64[n]", start: int,
        end: int, centers_inits: "F[n_init, 2, d]", max_iter: int, tol: float, algorithm: str,
        bisecting_strategy: str, verbose: bool, scratch: "F[>= (end-start)*(d+1)] | None" = None,
        n_jobs: int | None = None,
    ) -> "tuple[F[2, d], tuple[float, float], int, int, list[str], tuple[float, float]]": ...
        # One bisection of the rows order[start:end] of X - x_mean (centred on the fly): the
        # best of n_init 2-means runs (scikit-learn's rule), then order[start:end] partitioned
        # stably IN PLACE (label 0 first; `order` must be the caller's own array). Returns
        # (centers, (score_0, score_1), n_left, n_iter, verbose_log_lines, (inertia_0, inertia_1));
        # scores are the halves' inertias ("biggest_inertia") or sizes ("largest_cluster"). `scratch` (writable,
        # C-contiguous, X's dtype) receives the centred copy of a non-contiguous range instead
        # of a fresh allocation (one buffer per fit; its contents are not used afterwards).
    @staticmethod
    def bisecting_mean(X: "F[n, d]", n_jobs: int | None = None) -> "F[d]": ...
        # numpy's X.mean(axis=0) bit for bit for C-contiguous X with d >= 2 (rows added in order).
    @staticmethod
    def bisecting_choice(
        sample_weight: "F[n]", order: "int64[n]", start: int, end: int, uniforms: "float64[r]",
        found: "list[int]", size: int,
    ) -> "list[int]": ...
        # One round of numpy's RandomState.choice(m, size, replace=False, p=w / w.sum()) loop on
        # w = sample_weight[order[start:end]]: for each uniform (drawn by the caller with numpy's
        # random_sample(size - len(found))), cdf.searchsorted(x, side="right"), the positions in
        # `found` having probability 0. First round (found empty): numpy's ValueErrors on p.
