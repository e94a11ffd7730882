//! Unweighted Euclidean DBSCAN over a KD-tree, with far fewer distance computations than
//! one full radius query per point, and the very same neighbour relation.
//!
//! The relation is decided exactly as the KD-tree's radius query decides it (see
//! [`leaf_rdist`]): `sum_j (q_j - p_j)^2` accumulated in dimension order, no FMA, compared
//! with `<=` to the reduced radius. Only the *number* of such decisions changes:
//!
//! 1. **Core pass.** Each point's neighbours are counted nearer-subtree first and the count
//!    stops as soon as it reaches `min_samples` (an integer count does not depend on the
//!    order). A point that never reaches it is not core and its (short, `< min_samples`)
//!    neighbour list is kept for the border pass, within the memory budget.
//! 2. **Component pass.** Points are taken in tree order, chunk by chunk. A core point `u`
//!    looks only at core points `v` before it in tree order (each edge once) and skips `v`
//!    whose component, in a snapshot of the union-find taken before the chunk, is already
//!    linked to `u` by an edge found in this query; whole subtrees whose processed core
//!    points all belong to such a component are skipped without a distance. Skipping an
//!    edge between points already known to be connected does not change the components.
//! 3. **Border pass.** A non-core point takes the smallest label among its core neighbours
//!    (from its kept list, or by a fresh query when the list did not fit the budget).
//!
//! Components are numbered by their smallest original index, as in [`super::fit`].
//!
//! Leaf points are also kept dimension-major ("structure of arrays", padded to [`LANES`]),
//! so the distances of one query to a whole leaf are computed [`LANES`] points at a time:
//! each lane performs exactly the scalar sequence of operations, hence bit-identical
//! results. The kernel is compiled for AVX2 as well and chosen at run time.

use super::{DbscanParams, DbscanResult};
use rayon::prelude::*;
use rml_core::{Cancel, RmlError, RmlResult};
use rml_neighbors::KdTree;

/// Points per SIMD block of a leaf (leaves are padded to a multiple of it).
pub(crate) const LANES: usize = 8;

const NONE: u32 = u32::MAX;
const MIXED: u32 = u32::MAX - 1;

#[derive(Clone, Copy, Debug)]
struct Node {
    start: usize,
    end: usize,
    leaf: bool,
}

/// The exact reduced squared-Euclidean distance, in dimension order (the KD-tree's `L2`).
#[inline(always)]
pub(crate) fn rdist(q: &[f64], p: &[f64]) -> f64 {
    let mut s = 0.0f64;
    for (&a, &b) in q.iter().zip(p) {
        let t = a - b;
        s += t * t;
    }
    s
}

#[inline(always)]
fn leaf_rdist_generic(q: &[f64], soa: &[f64], stride: usize, out: &mut [f64]) {
    let d = q.len();
    let mut b = 0;
    while b + LANES <= stride {
        let mut acc = [0.0f64; LANES];
        for (j, &qj) in q.iter().enumerate().take(d) {
            let col = &soa[j * stride + b..j * stride + b + LANES];
            for k in 0..LANES {
                let t = qj - col[k];
                acc[k] += t * t;
            }
        }
        out[b..b + LANES].copy_from_slice(&acc);
        b += LANES;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn leaf_rdist_avx2(q: &[f64], soa: &[f64], stride: usize, out: &mut [f64]) {
    leaf_rdist_generic(q, soa, stride, out)
}

/// Reduced distances from `q` to the `stride` points stored dimension-major in `soa`
/// (`soa[j * stride + k]` is coordinate `j` of point `k`; `stride` a multiple of [`LANES`]),
/// written to `out[..stride]`. Each value is bit-identical to [`rdist`] of that point.
#[inline]
pub(crate) fn leaf_rdist(q: &[f64], soa: &[f64], stride: usize, out: &mut [f64], avx2: bool) {
    debug_assert!(stride.is_multiple_of(LANES) && soa.len() >= q.len() * stride && out.len() >= stride);
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the CPU reports AVX2 (run-time detection).
        unsafe { leaf_rdist_avx2(q, soa, stride, out) };
        return;
    }
    let _ = avx2;
    leaf_rdist_generic(q, soa, stride, out)
}

pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[inline(always)]
fn box_rdist_generic(q: &[f64], lo: &[f64], hi: &[f64]) -> (f64, f64) {
    let d = q.len();
    let (lo, hi) = (&lo[..d], &hi[..d]);
    let mut mn = [0.0f64; 4];
    let mut mx = [0.0f64; 4];
    let mut j = 0;
    while j + 4 <= d {
        for k in 0..4 {
            let x = q[j + k];
            let (a, b) = (lo[j + k] - x, x - hi[j + k]);
            let g = if a > b { a } else { b };
            let g = if g > 0.0 { g } else { 0.0 };
            mn[k] += g * g;
            let (a, b) = ((x - lo[j + k]).abs(), (x - hi[j + k]).abs());
            let f = if a > b { a } else { b };
            mx[k] += f * f;
        }
        j += 4;
    }
    let mut s = (mn[0] + mn[1]) + (mn[2] + mn[3]);
    let mut t = (mx[0] + mx[1]) + (mx[2] + mx[3]);
    while j < d {
        let g = gap(q[j], lo[j], hi[j]);
        s += g * g;
        let f = far(q[j], lo[j], hi[j]);
        t += f * f;
        j += 1;
    }
    (s, t)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn box_rdist_avx2(q: &[f64], lo: &[f64], hi: &[f64]) -> (f64, f64) {
    box_rdist_generic(q, lo, hi)
}

/// `(Σ gap_j², Σ far_j²)` from `q` to the box `[lo, hi]`, where `gap_j`/`far_j` are the
/// per-dimension distances to the nearest/farthest side, computed with the very operations
/// of [`rdist`] but summed in a different (vectorised) order. For any point `p` in the box,
/// the dimension-order sums satisfy `min_seq <= rdist(q, p) <= max_seq` in floating point
/// (monotone rounding), and a sum of `d` non-negative terms in any order is within
/// `(d - 1) u` relative of the exact sum, so `s * (1 - (4d + 8) u) <= min_seq` and
/// `max_seq <= t * (1 + (4d + 8) u)`: the bounds [`L2Index`] prunes with.
#[inline(always)]
pub(crate) fn box_rdist(q: &[f64], lo: &[f64], hi: &[f64], avx2: bool) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the CPU reports AVX2 (run-time detection).
        return unsafe { box_rdist_avx2(q, lo, hi) };
    }
    let _ = avx2;
    box_rdist_generic(q, lo, hi)
}

/// Distance from `x` to the interval `[lo, hi]` (0 inside): the KD-tree's lower bound.
#[inline(always)]
fn gap(x: f64, lo: f64, hi: f64) -> f64 {
    let below = lo - x;
    let above = x - hi;
    if below > 0.0 {
        below
    } else if above > 0.0 {
        above
    } else {
        0.0
    }
}

#[inline(always)]
fn far(x: f64, lo: f64, hi: f64) -> f64 {
    let a = (x - lo).abs();
    let b = (x - hi).abs();
    if a > b {
        a
    } else {
        b
    }
}

/// A KD-tree laid out for DBSCAN: positions are tree order.
pub(crate) struct L2Index {
    n: usize,
    d: usize,
    nodes: Vec<Node>,
    /// Per node `d` lower then `d` upper bounds.
    boxes: Vec<f64>,
    /// Original index of each tree position.
    idx: Vec<u32>,
    /// Rows in tree order, row-major.
    rows: Vec<f64>,
    /// Leaves' points dimension-major, each leaf padded to a multiple of `LANES`.
    soa: Vec<f64>,
    /// Per node: offset of its block in `soa` and its padded length (leaves only).
    soa_off: Vec<(usize, usize)>,
    /// Largest padded leaf length.
    max_stride: usize,
    avx2: bool,
    /// Factors turning [`box_rdist`]'s sums into bounds of the dimension-order sums.
    lower: f64,
    upper: f64,
}

impl L2Index {
    /// Lay out `tree` (built over `x`) for the DBSCAN passes. Validates what it relies on.
    pub(crate) fn new(x: &[f64], n: usize, d: usize, tree: &KdTree<f64>) -> RmlResult<Self> {
        let bad = |what: &str| RmlError::Internal(format!("invalid KD-tree for DBSCAN: {what}"));
        if x.len() != n * d || tree.idx_array.len() != n || n > (u32::MAX - 2) as usize || d == 0 {
            return Err(bad("shape"));
        }
        let n_nodes = tree.node_data.nrows();
        if n_nodes == 0 || tree.node_data.ncols() != 3 || tree.node_bounds.dim() != (2, n_nodes, d) {
            return Err(bad("node arrays"));
        }
        let mut nodes = Vec::with_capacity(n_nodes);
        for i in 0..n_nodes {
            let (s, e, l) = (tree.node_data[[i, 0]], tree.node_data[[i, 1]], tree.node_data[[i, 2]]);
            if s < 0 || s > e || e > n as i64 {
                return Err(bad("node range"));
            }
            let leaf = l == 1 || 2 * i + 2 >= n_nodes;
            nodes.push(Node { start: s as usize, end: e as usize, leaf });
        }
        if (nodes[0].start, nodes[0].end) != (0, n) {
            return Err(bad("root"));
        }
        // Nodes reachable from the root (children have larger ids): children split exactly.
        let mut reachable = vec![false; n_nodes];
        reachable[0] = true;
        for i in 0..n_nodes {
            if reachable[i] && !nodes[i].leaf {
                let (a, b) = (nodes[2 * i + 1], nodes[2 * i + 2]);
                if a.start != nodes[i].start || a.end != b.start || b.end != nodes[i].end {
                    return Err(bad("children"));
                }
                reachable[2 * i + 1] = true;
                reachable[2 * i + 2] = true;
            }
        }
        let mut boxes = vec![0.0; 2 * n_nodes * d];
        for i in 0..n_nodes {
            for j in 0..d {
                boxes[2 * i * d + j] = tree.node_bounds[[0, i, j]];
                boxes[2 * i * d + d + j] = tree.node_bounds[[1, i, j]];
            }
        }
        let mut idx = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        for &i in tree.idx_array.iter() {
            if i < 0 || i as usize >= n || seen[i as usize] {
                return Err(bad("idx_array"));
            }
            seen[i as usize] = true;
            idx.push(i as u32);
        }
        drop(seen);
        let mut rows = vec![0.0; n * d];
        rows.par_chunks_mut(d).zip(idx.par_iter()).for_each(|(dst, &i)| {
            dst.copy_from_slice(&x[i as usize * d..(i as usize + 1) * d]);
        });
        // Leaves reachable from the root, dimension-major.
        let mut soa_off = vec![(0usize, 0usize); n_nodes];
        let mut total = 0usize;
        let mut max_stride = LANES;
        let mut stack = vec![0usize];
        let mut leaves = Vec::new();
        while let Some(i) = stack.pop() {
            if nodes[i].leaf {
                let stride = (nodes[i].end - nodes[i].start).div_ceil(LANES) * LANES;
                soa_off[i] = (total, stride);
                total += stride * d;
                max_stride = max_stride.max(stride);
                leaves.push(i);
            } else {
                stack.push(2 * i + 2);
                stack.push(2 * i + 1);
            }
        }
        // Padding holds +inf: its distances are +inf, never within any radius... except an
        // infinite one, which is why padded slots are also never read past the leaf's end.
        let mut soa = vec![f64::INFINITY; total];
        for &leaf in &leaves {
            let (off, stride) = soa_off[leaf];
            let nd = nodes[leaf];
            for (k, p) in (nd.start..nd.end).enumerate() {
                for j in 0..d {
                    soa[off + j * stride + k] = rows[p * d + j];
                }
            }
        }
        let eps = (4 * d + 8) as f64 * f64::EPSILON;
        Ok(Self { n, d, nodes, boxes, idx, rows, soa, soa_off, max_stride, avx2: has_avx2(), lower: 1.0 - eps, upper: 1.0 + eps })
    }

    #[inline(always)]
    fn lo(&self, node: usize) -> &[f64] {
        &self.boxes[2 * node * self.d..(2 * node + 1) * self.d]
    }
    #[inline(always)]
    fn hi(&self, node: usize) -> &[f64] {
        &self.boxes[(2 * node + 1) * self.d..(2 * node + 2) * self.d]
    }
    #[inline(always)]
    fn row(&self, p: usize) -> &[f64] {
        &self.rows[p * self.d..(p + 1) * self.d]
    }
    /// A lower bound of [`rdist`] from `q` to every point of `node` (see [`box_rdist`]).
    #[inline(always)]
    fn min_rdist(&self, q: &[f64], node: usize) -> f64 {
        box_rdist(q, self.lo(node), self.hi(node), self.avx2).0 * self.lower
    }
    /// Reduced distances from `q` to every point of `leaf` into `buf[..padded length]`.
    #[inline]
    fn leaf(&self, q: &[f64], leaf: usize, buf: &mut [f64]) {
        let (off, stride) = self.soa_off[leaf];
        leaf_rdist(q, &self.soa[off..off + stride * self.d], stride, buf, self.avx2);
    }

    /// Count neighbours of `q` (nearer subtree first) until `ms` is reached. Returns whether
    /// it was; when not, `list` holds every neighbour's position.
    /// `bmax` is an upper bound of the distances to the points of `node` ([`Self::bounds`]).
    #[allow(clippy::too_many_arguments)]
    fn count_rec(&self, q: &[f64], node: usize, bmax: f64, rr: f64, ms: usize, count: &mut usize, list: &mut Vec<u32>, buf: &mut [f64]) -> bool {
        let nd = self.nodes[node];
        if bmax <= rr {
            let size = nd.end - nd.start;
            *count += size;
            if *count >= ms {
                return true;
            }
            list.extend((nd.start..nd.end).map(|p| p as u32));
            return false;
        }
        if nd.leaf {
            self.leaf(q, node, buf);
            for (k, &r) in buf[..nd.end - nd.start].iter().enumerate() {
                if r <= rr {
                    *count += 1;
                    list.push((nd.start + k) as u32);
                }
            }
            return *count >= ms;
        }
        let (l, r) = (2 * node + 1, 2 * node + 2);
        let ((dl, ml), (dr, mr)) = (self.bounds(q, l), self.bounds(q, r));
        let (a, da, ma, b, db, mb) = if dl <= dr { (l, dl, ml, r, dr, mr) } else { (r, dr, mr, l, dl, ml) };
        if da <= rr && self.count_rec(q, a, ma, rr, ms, count, list, buf) {
            return true;
        }
        db <= rr && self.count_rec(q, b, mb, rr, ms, count, list, buf)
    }

    /// Lower and upper bounds of the distances from `q` to the points of `node`.
    #[inline(always)]
    fn bounds(&self, q: &[f64], node: usize) -> (f64, f64) {
        let (s, t) = box_rdist(q, self.lo(node), self.hi(node), self.avx2);
        (s * self.lower, t * self.upper)
    }

    /// Smallest label among the core neighbours of `q` (`NONE` if there is none).
    fn min_core_label(&self, q: &[f64], node: usize, rr: f64, core: &[bool], label: &[u32], buf: &mut [f64]) -> u32 {
        if self.min_rdist(q, node) > rr {
            return NONE;
        }
        let nd = self.nodes[node];
        if nd.leaf {
            self.leaf(q, node, buf);
            let mut best = NONE;
            for (k, &r) in buf[..nd.end - nd.start].iter().enumerate() {
                let p = nd.start + k;
                if r <= rr && core[p] {
                    best = best.min(label[p]);
                }
            }
            best
        } else {
            let a = self.min_core_label(q, 2 * node + 1, rr, core, label, buf);
            let b = self.min_core_label(q, 2 * node + 2, rr, core, label, buf);
            a.min(b)
        }
    }
}

/// Phase A of the component pass, over one subtree (a contiguous range of positions): its
/// core points in tree order, each linked to the earlier core points of the subtree within
/// eps that are not yet known to be connected to it.
struct Linker<'a, 'u> {
    index: &'a L2Index,
    core: &'a [bool],
    rr: f64,
    uf: MinUf<'u>,
    /// Per node: `NONE` (no processed core point), `MIXED`, or a processed core point
    /// connected to every processed core point of the node. Processed = before the current
    /// query in tree order. Components only ever merge, so a hint never becomes wrong.
    hint: Vec<u32>,
    buf: Vec<f64>,
    cand: Vec<u32>,
}

impl Linker<'_, '_> {
    fn combine(&mut self, a: u32, b: u32) -> u32 {
        if a == NONE {
            b
        } else if b == NONE {
            a
        } else if a == MIXED || b == MIXED || self.uf.find(a) != self.uf.find(b) {
            MIXED
        } else {
            a
        }
    }

    fn link_rec(&mut self, q: &[f64], pu: usize, node: usize) {
        let index = self.index;
        let nd = index.nodes[node];
        if nd.start >= pu {
            return;
        }
        let ru = self.uf.find(pu as u32);
        let h = self.hint[node];
        if h == NONE || (h != MIXED && self.uf.find(h) == ru) {
            return;
        }
        if nd.leaf {
            let end = nd.end.min(pu);
            self.cand.clear();
            for p in nd.start..end {
                if self.core[p] && self.uf.find(p as u32) != ru {
                    self.cand.push(p as u32);
                }
            }
            let simd = self.cand.len() >= LANES;
            if simd {
                index.leaf(q, node, &mut self.buf);
            }
            let mut ru = ru;
            for t in 0..self.cand.len() {
                let p = self.cand[t];
                if self.uf.find(p) == ru {
                    continue;
                }
                let r = if simd { self.buf[p as usize - nd.start] } else { rdist(q, index.row(p as usize)) };
                if r <= self.rr {
                    ru = self.uf.union(pu as u32, p);
                }
            }
            // Heal the hint: every processed core point of the leaf may now be connected.
            let mut h = NONE;
            for p in nd.start..end {
                if self.core[p] {
                    h = self.combine(h, p as u32);
                    if h == MIXED {
                        break;
                    }
                }
            }
            self.hint[node] = h;
            return;
        }
        let (l, r) = (2 * node + 1, 2 * node + 2);
        let (dl, dr) = (index.min_rdist(q, l), index.min_rdist(q, r));
        let (a, da, b, db) = if dl <= dr { (l, dl, r, dr) } else { (r, dr, l, dl) };
        if da <= self.rr {
            self.link_rec(q, pu, a);
        }
        if db <= self.rr {
            self.link_rec(q, pu, b);
        }
        if self.hint[node] == MIXED {
            let (hl, hr) = (self.hint[l], self.hint[r]);
            self.hint[node] = self.combine(hl, hr);
        }
    }

    /// Core point `pu` becomes processed: record it in the hints of the nodes holding it,
    /// from `root` (the subtree's root) down.
    fn add(&mut self, root: usize, pu: usize) {
        let mut node = root;
        loop {
            let h = self.hint[node];
            self.hint[node] = self.combine(h, pu as u32);
            let nd = self.index.nodes[node];
            if nd.leaf {
                break;
            }
            node = if pu < self.index.nodes[2 * node + 1].end { 2 * node + 1 } else { 2 * node + 2 };
        }
    }
}

/// Union-find over the tree positions `off..off + parent.len()` whose root is the smallest
/// position of its set, so `parent[p - off] <= p` always and roots stay inside the range.
struct MinUf<'u> {
    parent: &'u mut [u32],
    off: u32,
}

impl MinUf<'_> {
    #[inline]
    fn find(&mut self, mut a: u32) -> u32 {
        let off = self.off;
        loop {
            let p = self.parent[(a - off) as usize];
            if p == a {
                return a;
            }
            let gp = self.parent[(p - off) as usize];
            self.parent[(a - off) as usize] = gp;
            a = gp;
        }
    }
    /// Merge the sets of `a` and `b`; returns the root of the merged set.
    fn union(&mut self, a: u32, b: u32) -> u32 {
        let (ra, rb) = (self.find(a), self.find(b));
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[(hi - self.off) as usize] = lo;
        lo
    }
}

/// Root of every position, in one ascending sweep (`parent[p] <= p`).
fn roots_into(parent: &[u32], out: &mut [u32]) {
    for p in 0..parent.len() {
        let q = parent[p] as usize;
        out[p] = if q == p { p as u32 } else { out[q] };
    }
}

/// Phase B of the component pass: core point `pu` of the subtree starting at `sub_start`
/// against the core points of earlier subtrees, with the components frozen after phase A
/// (`comp`, and `uniform`: the component of all core points of a node, `NONE` or `MIXED`).
/// Emits one edge per component newly reached.
#[allow(clippy::too_many_arguments)]
fn cross_rec(
    index: &L2Index,
    q: &[f64],
    pu: u32,
    sub_start: usize,
    node: usize,
    rr: f64,
    core: &[bool],
    comp: &[u32],
    uniform: &[u32],
    linked: &mut Vec<u32>,
    edges: &mut Vec<(u32, u32)>,
) {
    let nd = index.nodes[node];
    if nd.start >= sub_start {
        return;
    }
    if nd.end <= sub_start {
        let u = uniform[node];
        if u == NONE || (u != MIXED && linked.contains(&u)) {
            return;
        }
    }
    if nd.leaf {
        for p in nd.start..nd.end {
            if core[p] && !linked.contains(&comp[p]) && rdist(q, index.row(p)) <= rr {
                linked.push(comp[p]);
                edges.push((pu, p as u32));
            }
        }
        return;
    }
    let (l, r) = (2 * node + 1, 2 * node + 2);
    let (dl, dr) = (index.min_rdist(q, l), index.min_rdist(q, r));
    let (a, da, b, db) = if dl <= dr { (l, dl, r, dr) } else { (r, dr, l, dl) };
    if da <= rr {
        cross_rec(index, q, pu, sub_start, a, rr, core, comp, uniform, linked, edges);
    }
    if db <= rr {
        cross_rec(index, q, pu, sub_start, b, rr, core, comp, uniform, linked, edges);
    }
}

/// Components of the core points (tree positions), as the parent array of a union-find
/// whose roots are the smallest positions.
fn components(index: &L2Index, core: &[bool], rr: f64, budget: usize, cancel: &Cancel) -> RmlResult<Vec<u32>> {
    let n = index.n;
    // Subtrees: the nodes of one level, about two per thread (one level when single-threaded).
    let threads = rayon::current_num_threads().max(1);
    let mut level_nodes = vec![0usize];
    while level_nodes.len() < 2 * threads && level_nodes.iter().all(|&i| !index.nodes[i].leaf) {
        level_nodes = level_nodes.iter().flat_map(|&i| [2 * i + 1, 2 * i + 2]).collect();
    }
    if threads == 1 {
        level_nodes = vec![0];
    }
    let mut parent: Vec<u32> = (0..n as u32).collect();
    // Phase A: each subtree on its own (disjoint slices of the union-find).
    {
        let mut slices = Vec::with_capacity(level_nodes.len());
        let mut rest: &mut [u32] = &mut parent;
        let mut at = 0usize;
        for &node in &level_nodes {
            let nd = index.nodes[node];
            let (a, b) = std::mem::take(&mut rest).split_at_mut(nd.end - at);
            at = nd.end;
            rest = b;
            slices.push((node, a));
        }
        slices.into_par_iter().try_for_each(|(root, slice)| -> RmlResult<()> {
            let nd = index.nodes[root];
            let mut lk = Linker {
                index,
                core,
                rr,
                uf: MinUf { parent: slice, off: nd.start as u32 },
                hint: vec![NONE; index.nodes.len()],
                buf: vec![0.0; index.max_stride],
                cand: Vec::new(),
            };
            #[allow(clippy::needless_range_loop)] // `pu` is a position: row, flag and tree key
            for pu in nd.start..nd.end {
                if (pu - nd.start).is_multiple_of(4096) {
                    cancel.check()?;
                }
                if core[pu] {
                    let q = index.row(pu);
                    if index.min_rdist(q, root) <= rr {
                        lk.link_rec(q, pu, root);
                    }
                    lk.add(root, pu);
                }
            }
            Ok(())
        })?;
    }
    if level_nodes.len() == 1 {
        return Ok(parent);
    }
    // Phase B: edges between subtrees, from frozen components, merged chunk by chunk.
    let mut comp = vec![NONE; n];
    roots_into(&parent, &mut comp);
    let mut uniform = vec![NONE; index.nodes.len()];
    for node in (0..index.nodes.len()).rev() {
        let nd = index.nodes[node];
        uniform[node] = if nd.leaf {
            let mut u = NONE;
            for p in nd.start..nd.end {
                if !core[p] {
                    continue;
                }
                if u == NONE {
                    u = comp[p];
                } else if u != comp[p] {
                    u = MIXED;
                    break;
                }
            }
            u
        } else {
            let (a, b) = (uniform[2 * node + 1], uniform[2 * node + 2]);
            if a == NONE {
                b
            } else if b == NONE || a == b {
                a
            } else {
                MIXED
            }
        };
    }
    let mut uf = MinUf { parent: &mut parent, off: 0 };
    let chunk = (budget / 4).clamp(4096, 1 << 16);
    for &sub in &level_nodes[1..] {
        let nd = index.nodes[sub];
        for c0 in (nd.start..nd.end).step_by(chunk) {
            cancel.check()?;
            let c1 = (c0 + chunk).min(nd.end);
            let parts: Vec<Vec<(u32, u32)>> = (c0..c1)
                .step_by(TASK)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|t0| {
                    let mut edges = Vec::new();
                    let mut linked = Vec::new();
                    for pu in t0..(t0 + TASK).min(c1) {
                        if core[pu] {
                            linked.clear();
                            linked.push(comp[pu]);
                            let q = index.row(pu);
                            if index.min_rdist(q, 0) > rr {
                                continue;
                            }
                            cross_rec(index, q, pu as u32, nd.start, 0, rr, core, &comp, &uniform, &mut linked, &mut edges);
                        }
                    }
                    edges
                })
                .collect();
            for edges in parts {
                for (a, b) in edges {
                    uf.union(a, b);
                }
            }
        }
    }
    Ok(parent)
}

/// Positions per parallel task.
const TASK: usize = 128;

/// DBSCAN without sample weights over `index` (see the module documentation).
pub(crate) fn fit(index: &L2Index, rr: f64, params: &DbscanParams, cancel: &Cancel) -> RmlResult<DbscanResult> {
    let n = index.n;
    let ms = (params.min_samples.ceil() as usize).max(1);
    let budget = params.chunk_entries;

    // Pass 1: core flags (tree positions) and the neighbour lists of non-core points.
    let mut core = vec![false; n];
    let mut kept_off: Vec<usize> = vec![0]; // CSR over `kept_pos`
    let mut kept_pos: Vec<u32> = Vec::new(); // non-core positions with a kept list
    let mut kept: Vec<u32> = Vec::new();
    let mut requery: Vec<u32> = Vec::new(); // non-core positions whose list did not fit
    let outer = (16 * TASK * rayon::current_num_threads().max(1)).max(4096);
    for c0 in (0..n).step_by(outer) {
        cancel.check()?;
        let c1 = (c0 + outer).min(n);
        type Part = (Vec<bool>, Vec<(u32, Vec<u32>)>);
        let parts: Vec<Part> = (c0..c1)
            .step_by(TASK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|t0| {
                let t1 = (t0 + TASK).min(c1);
                let mut buf = vec![0.0; index.max_stride];
                let mut flags = Vec::with_capacity(t1 - t0);
                let mut lists = Vec::new();
                let mut list = Vec::new();
                for p in t0..t1 {
                    list.clear();
                    let mut count = 0usize;
                    let q = index.row(p);
                    let (bmin, bmax) = index.bounds(q, 0);
                    let is_core = bmin <= rr && index.count_rec(q, 0, bmax, rr, ms, &mut count, &mut list, &mut buf);
                    flags.push(is_core);
                    if !is_core {
                        lists.push((p as u32, list.clone()));
                    }
                }
                (flags, lists)
            })
            .collect();
        let mut p = c0;
        for (flags, lists) in parts {
            for f in flags {
                core[p] = f;
                p += 1;
            }
            for (q, list) in lists {
                if kept.len() + list.len() <= budget {
                    kept.extend_from_slice(&list);
                    kept_pos.push(q);
                    kept_off.push(kept.len());
                } else {
                    requery.push(q);
                }
            }
        }
    }

    // Pass 2: components of the core points.
    let parent = components(index, &core, rr, budget, cancel)?;
    let mut comp = vec![NONE; n];
    // Labels: components numbered by their smallest original index.
    roots_into(&parent, &mut comp);
    drop(parent);
    let mut pos_of = vec![0u32; n];
    for (p, &i) in index.idx.iter().enumerate() {
        pos_of[i as usize] = p as u32;
    }
    let mut root_label = vec![NONE; n];
    let mut label_pos = vec![NONE; n]; // label per tree position (cores only)
    let mut labels = vec![-1i64; n];
    let mut core_idx = Vec::new();
    let mut next = 0u32;
    for i in 0..n {
        let p = pos_of[i] as usize;
        if core[p] {
            core_idx.push(i as i64);
            let r = comp[p] as usize;
            if root_label[r] == NONE {
                root_label[r] = next;
                next += 1;
            }
            label_pos[p] = root_label[r];
            labels[i] = root_label[r] as i64;
        }
    }
    drop(root_label);
    drop(comp);

    // Pass 3: border points take the smallest label among their core neighbours.
    for (t, &q) in kept_pos.iter().enumerate() {
        let best = kept[kept_off[t]..kept_off[t + 1]]
            .iter()
            .filter(|&&v| core[v as usize])
            .map(|&v| label_pos[v as usize])
            .min();
        if let Some(b) = best {
            labels[index.idx[q as usize] as usize] = b as i64;
        }
    }
    for chunk in requery.chunks(4096) {
        cancel.check()?;
        let best: Vec<u32> = chunk
            .par_iter()
            .map_init(
                || vec![0.0; index.max_stride],
                |buf, &q| index.min_core_label(index.row(q as usize), 0, rr, &core, &label_pos, buf),
            )
            .collect();
        for (&q, &b) in chunk.iter().zip(&best) {
            if b != NONE {
                labels[index.idx[q as usize] as usize] = b as i64;
            }
        }
    }
    Ok(DbscanResult { labels, core_sample_indices: core_idx })
}
