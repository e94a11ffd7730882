//! Nearest center of each query row: an exact KD-tree search over the (few thousand) centers,
//! squared euclidean distance summed directly in f64, ties to the smallest center index.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;
use rml_core::{ensure, Cancel, Float, RmlResult};

const LEAF: usize = 16;

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

    fn query(&self, x: &[f64]) -> usize {
        let mut best = (f64::INFINITY, usize::MAX);
        let mut stack = vec![(0usize, self.min_dist(0, x))];
        let d = self.d;
        while let Some((n, lb)) = stack.pop() {
            if lb > best.0 {
                continue;
            }
            let nd = &self.nodes[n];
            if nd.left == usize::MAX {
                for &i in &self.idx[nd.start..nd.end] {
                    let c = &self.pts[i * d..(i + 1) * d];
                    let mut s = 0.0;
                    for j in 0..d {
                        let t = x[j] - c[j];
                        s += t * t;
                    }
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
    let mut out = vec![0i64; x.nrows()];
    const CHUNK: usize = 8192;
    out.par_chunks_mut(CHUNK)
        .zip(x.axis_chunks_iter(Axis(0), CHUNK).into_par_iter())
        .try_for_each(|(o, xc)| -> RmlResult<()> {
            cancel.check()?;
            let mut buf = vec![0.0; xc.ncols()];
            for (slot, row) in o.iter_mut().zip(xc.rows()) {
                buf.iter_mut().zip(row.iter()).for_each(|(b, v)| *b = v.as_f64());
                *slot = tree.query(&buf) as i64;
            }
            Ok(())
        })?;
    Ok(out)
}
