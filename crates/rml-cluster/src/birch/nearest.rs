//! Nearest center of each query row: an exact KD-tree search over the (few thousand) centers,
//! squared euclidean distance summed directly in f64, ties to the smallest center index.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;
use rml_core::{ensure, Cancel, Float, RmlResult};

const LEAF: usize = 16;
/// Longest neighbour list kept per center, and the largest number of centers for which the
/// lists are built (their construction is O(k^2)).
const LIST_LEN: usize = 256;
const LIST_MAX_CENTERS: usize = 8192;

#[inline(always)]
fn sqdist(x: &[f64], c: &[f64]) -> f64 {
    let mut s = 0.0;
    for (a, b) in x.iter().zip(c.iter()) {
        let t = a - b;
        s += t * t;
    }
    s
}

/// For each center, the other centers sorted by distance to it (at most LIST_LEN): the
/// triangle inequality |x - c| >= |c - b| - |x - b| then ends the scan early.
struct Lists {
    len: usize,
    complete: bool,
    dist: Vec<f64>,
    idx: Vec<u32>,
}

impl Lists {
    fn build(tree: &KdTree, k: usize) -> Option<Lists> {
        if k < 2 || k > LIST_MAX_CENTERS {
            return None;
        }
        let d = tree.d;
        let len = (k - 1).min(LIST_LEN);
        let rows: Vec<(Vec<f64>, Vec<u32>)> = (0..k)
            .into_par_iter()
            .map(|b| {
                let cb = &tree.pts[b * d..(b + 1) * d];
                let mut all: Vec<(f64, u32)> = (0..k)
                    .filter(|&c| c != b)
                    .map(|c| (sqdist(cb, &tree.pts[c * d..(c + 1) * d]).sqrt(), c as u32))
                    .collect();
                let cmp = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                if len < all.len() {
                    all.select_nth_unstable_by(len, cmp);
                    all.truncate(len);
                }
                all.sort_unstable_by(cmp);
                (all.iter().map(|p| p.0).collect(), all.iter().map(|p| p.1).collect())
            })
            .collect();
        let mut dist = Vec::with_capacity(k * len);
        let mut idx = Vec::with_capacity(k * len);
        for (dv, iv) in rows {
            dist.extend(dv);
            idx.extend(iv);
        }
        Some(Lists { len, complete: len == k - 1, dist, idx })
    }
}

fn query_with_lists(tree: &KdTree, lists: Option<&Lists>, x: &[f64]) -> usize {
    let d = tree.d;
    let mut best = tree.greedy(x);
    if let Some(l) = lists {
        if best.1 != usize::MAX {
            let b = best.1;
            let d_b = best.0.sqrt();
            let mut stopped = false;
            for p in b * l.len..(b + 1) * l.len {
                let dcb = l.dist[p];
                // Prune with a relative margin far above the rounding of the distances.
                if dcb > (d_b + best.0.sqrt()) * (1.0 + 1e-9) {
                    stopped = true;
                    break;
                }
                let c = l.idx[p] as usize;
                let s = sqdist(x, &tree.pts[c * d..(c + 1) * d]);
                if s < best.0 || (s == best.0 && c < best.1) {
                    best = (s, c);
                }
            }
            if stopped || l.complete {
                return best.1;
            }
        }
    }
    tree.query(x, best)
}

struct KdNode {
    start: usize,
    end: usize,
    lo: Vec<f64>,
    hi: Vec<f64>,
    left: usize,
    right: usize,
}

struct KdTree {
    d: usize,
    pts: Vec<f64>,
    idx: Vec<usize>,
    nodes: Vec<KdNode>,
}

impl KdTree {
    fn build<T: Float>(c: &ArrayView2<'_, T>) -> Self {
        let (k, d) = c.dim();
        let pts: Vec<f64> = c.iter().map(|v| v.as_f64()).collect();
        let mut t = KdTree { d, pts, idx: (0..k).collect(), nodes: Vec::new() };
        if k > 0 {
            t.build_rec(0, k);
        }
        t
    }

    fn build_rec(&mut self, start: usize, end: usize) -> usize {
        let d = self.d;
        let mut lo = vec![f64::INFINITY; d];
        let mut hi = vec![f64::NEG_INFINITY; d];
        for &i in &self.idx[start..end] {
            for j in 0..d {
                let v = self.pts[i * d + j];
                lo[j] = lo[j].min(v);
                hi[j] = hi[j].max(v);
            }
        }
        let id = self.nodes.len();
        self.nodes.push(KdNode { start, end, lo: lo.clone(), hi: hi.clone(), left: usize::MAX, right: usize::MAX });
        if end - start > LEAF {
            let mut dim = 0;
            let mut spread = -1.0;
            for j in 0..d {
                let s = hi[j] - lo[j];
                if s > spread {
                    spread = s;
                    dim = j;
                }
            }
            let mid = (start + end) / 2;
            let pts = &self.pts;
            self.idx[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
                pts[a * d + dim].total_cmp(&pts[b * d + dim]).then(a.cmp(&b))
            });
            let l = self.build_rec(start, mid);
            let r = self.build_rec(mid, end);
            self.nodes[id].left = l;
            self.nodes[id].right = r;
        }
        id
    }

    /// The best center among the leaf that a greedy descent towards `x` reaches.
    fn greedy(&self, x: &[f64]) -> (f64, usize) {
        let d = self.d;
        let mut n = 0usize;
        while self.nodes[n].left != usize::MAX {
            let (l, r) = (self.nodes[n].left, self.nodes[n].right);
            n = if self.min_dist(l, x) <= self.min_dist(r, x) { l } else { r };
        }
        let nd = &self.nodes[n];
        let mut best = (f64::INFINITY, usize::MAX);
        for &i in &self.idx[nd.start..nd.end] {
            let s = sqdist(x, &self.pts[i * d..(i + 1) * d]);
            if s < best.0 || (s == best.0 && i < best.1) {
                best = (s, i);
            }
        }
        best
    }

    fn min_dist(&self, n: usize, x: &[f64]) -> f64 {
        let nd = &self.nodes[n];
        let mut s = 0.0;
        for j in 0..self.d {
            let v = x[j];
            let diff = if v < nd.lo[j] {
                nd.lo[j] - v
            } else if v > nd.hi[j] {
                v - nd.hi[j]
            } else {
                0.0
            };
            s += diff * diff;
        }
        s
    }

    fn query(&self, x: &[f64], init: (f64, usize)) -> usize {
        let mut best = init;
        let mut stack = vec![(0usize, self.min_dist(0, x))];
        let d = self.d;
        while let Some((n, lb)) = stack.pop() {
            if lb > best.0 {
                continue;
            }
            let nd = &self.nodes[n];
            if nd.left == usize::MAX {
                for &i in &self.idx[nd.start..nd.end] {
                    let s = sqdist(x, &self.pts[i * d..(i + 1) * d]);
                    // NaN distances never win (a NaN query row gets center 0, as numpy's argmin
                    // over all-NaN rows would give the first index).
                    if s < best.0 || (s == best.0 && i < best.1) {
                        best = (s, i);
                    }
                }
            } else {
                let (l, r) = (nd.left, nd.right);
                let (dl, dr) = (self.min_dist(l, x), self.min_dist(r, x));
                // Visit the nearer child first (pushed last).
                if dl <= dr {
                    stack.push((r, dr));
                    stack.push((l, dl));
                } else {
                    stack.push((l, dl));
                    stack.push((r, dr));
                }
            }
        }
        if best.1 == usize::MAX {
            0
        } else {
            best.1
        }
    }
}

/// For each row of `x`, the index of its nearest row of `centers`.
pub fn nearest<T: Float>(x: ArrayView2<'_, T>, centers: ArrayView2<'_, T>, cancel: &Cancel) -> RmlResult<Vec<i64>> {
    ensure!(centers.nrows() >= 1, "nearest center: no centers");
    ensure!(
        x.ncols() == centers.ncols(),
        "X has {} features, but the centers have {} features",
        x.ncols(),
        centers.ncols()
    );
    let tree = KdTree::build(&centers);
    let lists = Lists::build(&tree, centers.nrows());
    let mut out = vec![0i64; x.nrows()];
    const CHUNK: usize = 8192;
    out.par_chunks_mut(CHUNK)
        .zip(x.axis_chunks_iter(Axis(0), CHUNK).into_par_iter())
        .try_for_each(|(o, xc)| -> RmlResult<()> {
            cancel.check()?;
            let mut buf = vec![0.0; xc.ncols()];
            for (slot, row) in o.iter_mut().zip(xc.rows()) {
                buf.iter_mut().zip(row.iter()).for_each(|(b, v)| *b = v.as_f64());
                *slot = query_with_lists(&tree, lists.as_ref(), &buf) as i64;
            }
            Ok(())
        })?;
    Ok(out)
}
