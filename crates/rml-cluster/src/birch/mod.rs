//! BIRCH's clustering-feature tree, reproducing scikit-learn's `_CFNode` / `_CFSubcluster` /
//! `_split_node` insertion order and arithmetic.
//!
//! # State
//! The tree lives in an arena ([`CfTree`]) that is exported to, and rebuilt from, plain arrays
//! ([`CfState`]) so the Python estimator can keep it as numpy arrays (pickle, clone) and pass it
//! back for `partial_fit`.
//!
//! # Arithmetic
//! Every scalar operation of scikit-learn is done in the data's dtype `T` in the same order:
//! linear sums elementwise, merged centroid `T(1/n) * ls`, updated centroid `ls / T(n)`, squared
//! radius `ss / T(n) - |c|^2` compared with `T(threshold^2)`, closest subcluster by
//! `argmin(-2 c.x + |c|^2)` (first index on ties). Dot products are sequential sums without fused
//! multiply-add, which is what OpenBLAS's `ddot` does for vectors shorter than 16; numpy's
//! `gemv`/`sdot` kernels sum in other orders, so a closest-subcluster or merge decision that is
//! a tie to the last bit may differ. The split step (farthest pair among a node's centroids)
//! is decided by distances the caller supplies through [`SplitDistances`]: the Python binding
//! calls scikit-learn's own `euclidean_distances`, so splits are bit-identical.

use ndarray::{Array2, ArrayView1, ArrayView2};
use rml_core::{ensure, ensure_param, Cancel, Float, RmlError, RmlResult};

const NONE: usize = usize::MAX;

/// Squared-euclidean distances between a node's centroids (`m x d`, their squared norms given),
/// as an `m x m` row-major vector. scikit-learn uses `euclidean_distances(centroids,
/// Y_norm_squared=sq_norms, squared=True)`.
pub trait SplitDistances<T> {
    /// Distances for one split.
    fn distances(&mut self, centroids: ArrayView2<'_, T>, sq_norms: ArrayView1<'_, T>) -> RmlResult<Vec<T>>;
}

/// Plain Rust split distances (`|a|^2 + |b|^2 - 2 a.b`, clipped at 0, zero diagonal): for Rust
/// callers and tests; bit-identity with scikit-learn needs its own `euclidean_distances`.
pub struct RustSplitDistances;

impl<T: Float> SplitDistances<T> for RustSplitDistances {
    fn distances(&mut self, c: ArrayView2<'_, T>, _sq: ArrayView1<'_, T>) -> RmlResult<Vec<T>> {
        let m = c.nrows();
        let norms: Vec<f64> = c.rows().into_iter().map(|r| r.iter().map(|v| v.as_f64() * v.as_f64()).sum()).collect();
        let mut out = vec![T::zero(); m * m];
        for i in 0..m {
            for j in 0..m {
                if i != j {
                    let g: f64 = c.row(i).iter().zip(c.row(j).iter()).map(|(a, b)| a.as_f64() * b.as_f64()).sum();
                    out[i * m + j] = T::from_f64((-2.0 * g + norms[i] + norms[j]).max(0.0));
                }
            }
        }
        Ok(out)
    }
}

/// Checked hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BirchParams {
    threshold_sq: f64,
    branching_factor: usize,
}

impl BirchParams {
    /// `threshold_sq` is `threshold ** 2` as Python computes it (> 0, finite);
    /// `branching_factor > 1`.
    pub fn new(threshold_sq: f64, branching_factor: usize) -> RmlResult<Self> {
        ensure_param!(threshold_sq.is_finite() && threshold_sq > 0.0, "threshold must be > 0 and finite");
        ensure_param!(branching_factor > 1, "branching_factor must be > 1, got {branching_factor}");
        ensure_param!(branching_factor < (1 << 30), "branching_factor too large");
        Ok(Self { threshold_sq, branching_factor })
    }
}

/// The tree as flat arrays (what the Python estimator stores).
///
/// Nodes `0..n_nodes`: `node_is_leaf[k]`, subclusters `node_subs[node_ptr[k]..node_ptr[k+1]]`
/// in order. `leaf_order` lists the leaves in the linked-list order (scikit-learn's
/// `dummy_leaf_.next_leaf_` chain). Subclusters `0..n_subs`: `n_samples`, `linear_sum` (rows),
/// `squared_sum`, `centroid` (rows), `sq_norm`, `child` (node index or -1).
#[derive(Debug, Clone, PartialEq)]
pub struct CfState<T> {
    pub n_features: usize,
    pub root: i64,
    pub node_is_leaf: Vec<bool>,
    pub node_ptr: Vec<i64>,
    pub node_subs: Vec<i64>,
    pub leaf_order: Vec<i64>,
    pub n_samples: Vec<i64>,
    pub linear_sum: Array2<T>,
    pub squared_sum: Vec<T>,
    pub centroid: Array2<T>,
    pub sq_norm: Vec<T>,
    pub child: Vec<i64>,
}

#[derive(Debug, Clone)]
struct Node<T> {
    is_leaf: bool,
    subs: Vec<usize>,
    /// Copies of the subclusters' centroids (scikit-learn's `init_centroids_`), contiguous.
    cent: Vec<T>,
    sqn: Vec<T>,
    prev: usize,
    next: usize,
}

#[derive(Debug, Clone)]
struct Sub<T> {
    n: i64,
    ls: Vec<T>,
    ss: T,
    cent: Vec<T>,
    sqn: T,
    child: usize,
}

/// The CF-tree arena. Node 0 is the dummy leaf that heads the leaf list.
#[derive(Debug, Clone)]
pub struct CfTree<T> {
    d: usize,
    nodes: Vec<Node<T>>,
    subs: Vec<Sub<T>>,
    root: usize,
}

#[inline(always)]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut acc = T::zero();
    for (x, y) in a.iter().zip(b.iter()) {
        acc = acc + *y * *x;
    }
    acc
}

/// numpy's argmax/argmin over a slice: first extreme, first NaN wins.
fn np_arg<T: Float>(v: &[T], max: bool) -> usize {
    let mut best = 0usize;
    for (j, &x) in v.iter().enumerate() {
        if x.is_nan() {
            return j;
        }
        let b = v[best];
        if (max && x > b) || (!max && x < b) {
            best = j;
        }
    }
    best
}

impl<T: Float> CfTree<T> {
    /// An empty tree (a leaf root after the dummy leaf), as at scikit-learn's first call.
    pub fn new(n_features: usize) -> RmlResult<Self> {
        ensure!(n_features >= 1, "Birch needs at least one feature");
        let mut t = Self { d: n_features, nodes: Vec::new(), subs: Vec::new(), root: 0 };
        let dummy = t.new_node(true);
        let root = t.new_node(true);
        t.nodes[dummy].next = root;
        t.nodes[root].prev = dummy;
        t.root = root;
        Ok(t)
    }

    fn new_node(&mut self, is_leaf: bool) -> usize {
        self.nodes.push(Node { is_leaf, subs: Vec::new(), cent: Vec::new(), sqn: Vec::new(), prev: NONE, next: NONE });
        self.nodes.len() - 1
    }

    fn new_sub(&mut self, s: Sub<T>) -> usize {
        self.subs.push(s);
        self.subs.len() - 1
    }

    fn empty_sub(&self, child: usize) -> Sub<T> {
        Sub { n: 0, ls: vec![T::zero(); self.d], ss: T::zero(), cent: vec![T::zero(); self.d], sqn: T::zero(), child }
    }

    fn append(&mut self, node: usize, sid: usize) {
        let (cent, sqn) = (self.subs[sid].cent.clone(), self.subs[sid].sqn);
        let nd = &mut self.nodes[node];
        nd.subs.push(sid);
        nd.cent.extend_from_slice(&cent);
        nd.sqn.push(sqn);
    }

    fn refresh(&mut self, node: usize, idx: usize) {
        let sid = self.nodes[node].subs[idx];
        let d = self.d;
        let (cent, sqn) = (self.subs[sid].cent.clone(), self.subs[sid].sqn);
        let nd = &mut self.nodes[node];
        nd.cent[idx * d..(idx + 1) * d].copy_from_slice(&cent);
        nd.sqn[idx] = sqn;
    }

    /// `_CFSubcluster.update`.
    fn update(&mut self, target: usize, src: &Sub<T>) {
        let t = &mut self.subs[target];
        t.n += src.n;
        for (a, b) in t.ls.iter_mut().zip(src.ls.iter()) {
            *a = *a + *b;
        }
        t.ss = t.ss + src.ss;
        let nf = T::from_f64(t.n as f64);
        for (c, l) in t.cent.iter_mut().zip(t.ls.iter()) {
            *c = *l / nf;
        }
        t.sqn = dot(&t.cent, &t.cent);
    }

    /// Insert one sample.
    pub fn insert(
        &mut self,
        x: &[T],
        params: &BirchParams,
        split: &mut dyn SplitDistances<T>,
    ) -> RmlResult<()> {
        let sq = dot(x, x);
        let sample = Sub { n: 1, ls: x.to_vec(), ss: sq, cent: x.to_vec(), sqn: sq, child: NONE };
        let root = self.root;
        if self.insert_rec(root, &sample, params, split)? {
            let (s1, s2) = self.split_node(root, split)?;
            let new_root = self.new_node(false);
            self.append(new_root, s1);
            self.append(new_root, s2);
            self.root = new_root;
        }
        Ok(())
    }

    fn insert_rec(
        &mut self,
        node: usize,
        sample: &Sub<T>,
        params: &BirchParams,
        split: &mut dyn SplitDistances<T>,
    ) -> RmlResult<bool> {
        if self.nodes[node].subs.is_empty() {
            let sid = self.new_sub(sample.clone());
            self.append(node, sid);
            return Ok(false);
        }
        let d = self.d;
        let closest_idx = {
            let nd = &self.nodes[node];
            let m = nd.subs.len();
            let mut dist = Vec::with_capacity(m);
            let minus2 = T::from_f64(-2.0);
            for k in 0..m {
                let g = dot(&nd.cent[k * d..(k + 1) * d], &sample.cent);
                dist.push(g * minus2 + nd.sqn[k]);
            }
            np_arg(&dist, false)
        };
        let closest = self.nodes[node].subs[closest_idx];
        let child = self.subs[closest].child;
        if child != NONE {
            let split_child = self.insert_rec(child, sample, params, split)?;
            if !split_child {
                self.update(closest, sample);
                self.refresh(node, closest_idx);
                return Ok(false);
            }
            let (s1, s2) = self.split_node(child, split)?;
            // update_split_subclusters
            self.nodes[node].subs[closest_idx] = s1;
            self.refresh(node, closest_idx);
            self.append(node, s2);
            return Ok(self.nodes[node].subs.len() > params.branching_factor);
        }
        // merge_subcluster
        let merged = {
            let c = &self.subs[closest];
            let new_ss = c.ss + sample.ss;
            let new_ls: Vec<T> = c.ls.iter().zip(sample.ls.iter()).map(|(a, b)| *a + *b).collect();
            let new_n = c.n + sample.n;
            let inv = T::from_f64(1.0 / new_n as f64);
            let new_cent: Vec<T> = new_ls.iter().map(|v| inv * *v).collect();
            let new_sqn = dot(&new_cent, &new_cent);
            let sq_radius = new_ss / T::from_f64(new_n as f64) - new_sqn;
            if sq_radius <= T::from_f64(params.threshold_sq) {
                Some(Sub { n: new_n, ls: new_ls, ss: new_ss, cent: new_cent, sqn: new_sqn, child: NONE })
            } else {
                None
            }
        };
        if let Some(s) = merged {
            self.subs[closest] = s;
            self.refresh(node, closest_idx);
            return Ok(false);
        }
        let sid = self.new_sub(sample.clone());
        let full = self.nodes[node].subs.len() >= params.branching_factor;
        self.append(node, sid);
        Ok(full)
    }

    /// `_split_node`: two new nodes and their two parent subclusters.
    fn split_node(&mut self, node: usize, split: &mut dyn SplitDistances<T>) -> RmlResult<(usize, usize)> {
        let is_leaf = self.nodes[node].is_leaf;
        let n1 = self.new_node(is_leaf);
        let n2 = self.new_node(is_leaf);
        let e1 = self.empty_sub(n1);
        let e2 = self.empty_sub(n2);
        let s1 = self.new_sub(e1);
        let s2 = self.new_sub(e2);
        if is_leaf {
            let (prev, next) = (self.nodes[node].prev, self.nodes[node].next);
            if prev != NONE {
                self.nodes[prev].next = n1;
            }
            self.nodes[n1].prev = prev;
            self.nodes[n1].next = n2;
            self.nodes[n2].prev = n1;
            self.nodes[n2].next = next;
            if next != NONE {
                self.nodes[next].prev = n2;
            }
        }
        let m = self.nodes[node].subs.len();
        let d = self.d;
        let dist = {
            let nd = &self.nodes[node];
            let c = ArrayView2::from_shape((m, d), &nd.cent[..]).map_err(|e| RmlError::Internal(e.to_string()))?;
            let s = ArrayView1::from(&nd.sqn[..]);
            split.distances(c, s)?
        };
        ensure!(dist.len() == m * m, "split distances have {} entries, expected {}", dist.len(), m * m);
        let far = np_arg(&dist, true);
        let (f1, f2) = (far / m, far % m);
        let subs = std::mem::take(&mut self.nodes[node].subs);
        for (idx, &sid) in subs.iter().enumerate() {
            let closer1 = idx == f1 || dist[f1 * m + idx] < dist[f2 * m + idx];
            let (nn, ns) = if closer1 { (n1, s1) } else { (n2, s2) };
            self.append(nn, sid);
            let src = self.subs[sid].clone();
            self.update(ns, &src);
        }
        // The old node is unreachable now; free its buffers.
        self.nodes[node].cent = Vec::new();
        self.nodes[node].sqn = Vec::new();
        Ok((s1, s2))
    }

    /// Centroids of all leaf subclusters in leaf-list order (`subcluster_centers_`).
    pub fn subcluster_centers(&self) -> Array2<T> {
        let mut out = Vec::new();
        let mut rows = 0;
        let mut leaf = self.nodes[0].next;
        while leaf != NONE {
            out.extend_from_slice(&self.nodes[leaf].cent);
            rows += self.nodes[leaf].subs.len();
            leaf = self.nodes[leaf].next;
        }
        Array2::from_shape_vec((rows, self.d), out).unwrap_or_else(|_| Array2::zeros((0, self.d)))
    }

    /// Export the live part of the tree as flat arrays.
    pub fn to_state(&self) -> CfState<T> {
        // Live nodes: reachable from the root, numbered in depth-first order.
        let mut node_map = vec![NONE; self.nodes.len()];
        let mut sub_map = vec![NONE; self.subs.len()];
        let mut order_nodes = Vec::new();
        let mut order_subs = Vec::new();
        let mut stack = vec![self.root];
        while let Some(n) = stack.pop() {
            node_map[n] = order_nodes.len();
            order_nodes.push(n);
            for &s in self.nodes[n].subs.iter() {
                if sub_map[s] == NONE {
                    sub_map[s] = order_subs.len();
                    order_subs.push(s);
                }
            }
            for &s in self.nodes[n].subs.iter().rev() {
                if self.subs[s].child != NONE {
                    stack.push(self.subs[s].child);
                }
            }
        }
        let d = self.d;
        let ns = order_subs.len();
        let mut node_ptr = vec![0i64];
        let mut node_subs = Vec::new();
        let mut node_is_leaf = Vec::new();
        for &n in &order_nodes {
            node_is_leaf.push(self.nodes[n].is_leaf);
            node_subs.extend(self.nodes[n].subs.iter().map(|&s| sub_map[s] as i64));
            node_ptr.push(node_subs.len() as i64);
        }
        let mut leaf_order = Vec::new();
        let mut leaf = self.nodes[0].next;
        while leaf != NONE {
            leaf_order.push(node_map[leaf] as i64);
            leaf = self.nodes[leaf].next;
        }
        let mut ls = Array2::<T>::zeros((ns, d));
        let mut cent = Array2::<T>::zeros((ns, d));
        let mut n_samples = Vec::with_capacity(ns);
        let mut ss = Vec::with_capacity(ns);
        let mut sqn = Vec::with_capacity(ns);
        let mut child = Vec::with_capacity(ns);
        for (i, &s) in order_subs.iter().enumerate() {
            let sb = &self.subs[s];
            ls.row_mut(i).iter_mut().zip(sb.ls.iter()).for_each(|(a, b)| *a = *b);
            cent.row_mut(i).iter_mut().zip(sb.cent.iter()).for_each(|(a, b)| *a = *b);
            n_samples.push(sb.n);
            ss.push(sb.ss);
            sqn.push(sb.sqn);
            child.push(if sb.child == NONE { -1 } else { node_map[sb.child] as i64 });
        }
        CfState {
            n_features: d,
            root: 0,
            node_is_leaf,
            node_ptr,
            node_subs,
            leaf_order,
            n_samples,
            linear_sum: ls,
            squared_sum: ss,
            centroid: cent,
            sq_norm: sqn,
            child,
        }
    }

    /// Rebuild a tree from exported arrays, checking every index.
    pub fn from_state(st: &CfState<T>) -> RmlResult<Self> {
        let d = st.n_features;
        ensure!(d >= 1, "Birch state: n_features must be >= 1");
        let n_nodes = st.node_is_leaf.len();
        let ns = st.n_samples.len();
        ensure!(st.node_ptr.len() == n_nodes + 1, "Birch state: node_ptr has the wrong length");
        ensure!(
            st.linear_sum.dim() == (ns, d)
                && st.centroid.dim() == (ns, d)
                && st.squared_sum.len() == ns
                && st.sq_norm.len() == ns
                && st.child.len() == ns,
            "Birch state: subcluster arrays have inconsistent shapes"
        );
        ensure!(st.root >= 0 && (st.root as usize) < n_nodes, "Birch state: bad root");
        let mut t = Self { d, nodes: Vec::with_capacity(n_nodes + 1), subs: Vec::with_capacity(ns), root: 0 };
        t.new_node(true); // dummy leaf
        let check = |v: i64, n: usize, what: &str| -> RmlResult<usize> {
            if v >= 0 && (v as usize) < n {
                Ok(v as usize)
            } else {
                Err(RmlError::InvalidInput(format!("Birch state: bad {what} index {v}")))
            }
        };
        for i in 0..ns {
            let child = if st.child[i] < 0 { NONE } else { check(st.child[i], n_nodes, "child")? + 1 };
            t.subs.push(Sub {
                n: st.n_samples[i],
                ls: st.linear_sum.row(i).to_vec(),
                ss: st.squared_sum[i],
                cent: st.centroid.row(i).to_vec(),
                sqn: st.sq_norm[i],
                child,
            });
        }
        for k in 0..n_nodes {
            let node = t.new_node(st.node_is_leaf[k]);
            let (a, b) = (st.node_ptr[k], st.node_ptr[k + 1]);
            ensure!(a >= 0 && a <= b && (b as usize) <= st.node_subs.len(), "Birch state: bad node_ptr");
            for p in a as usize..b as usize {
                let sid = check(st.node_subs[p], ns, "subcluster")?;
                t.append(node, sid);
            }
        }
        let mut prev = 0usize;
        for &l in &st.leaf_order {
            let node = check(l, n_nodes, "leaf")? + 1;
            ensure!(t.nodes[node].is_leaf && t.nodes[node].prev == NONE && node != prev, "Birch state: bad leaf order");
            t.nodes[prev].next = node;
            t.nodes[node].prev = prev;
            prev = node;
        }
        t.root = st.root as usize + 1;
        // The nodes must form one tree under the root (no cycles, no shared children), or an
        // insertion could recurse forever.
        let mut seen = vec![false; t.nodes.len()];
        let mut stack = vec![t.root];
        let mut visited = 0usize;
        while let Some(nd) = stack.pop() {
            ensure!(!seen[nd], "Birch state: the nodes do not form a tree");
            seen[nd] = true;
            visited += 1;
            for &sid in &t.nodes[nd].subs {
                let c = t.subs[sid].child;
                if c != NONE {
                    stack.push(c);
                }
            }
        }
        ensure!(visited == n_nodes, "Birch state: the nodes do not form a tree");
        Ok(t)
    }
}

/// Insert every row of `x` into `tree` in order (scikit-learn's `_fit` loop).
pub fn insert_rows<T: Float>(
    tree: &mut CfTree<T>,
    x: ArrayView2<'_, T>,
    params: &BirchParams,
    split: &mut dyn SplitDistances<T>,
    cancel: &Cancel,
) -> RmlResult<()> {
    ensure!(
        x.ncols() == tree.d,
        "X has {} features, but the CF-tree has {} features",
        x.ncols(),
        tree.d
    );
    let mut buf = vec![T::zero(); tree.d];
    for (i, row) in x.rows().into_iter().enumerate() {
        if i % 4096 == 0 {
            cancel.check()?;
        }
        buf.iter_mut().zip(row.iter()).for_each(|(b, v)| *b = *v);
        tree.insert(&buf, params, split)?;
    }
    Ok(())
}



pub mod nearest;

#[cfg(test)]
mod tests;
