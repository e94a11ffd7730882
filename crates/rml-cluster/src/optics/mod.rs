//! OPTICS ordering (scikit-learn's `compute_optics_graph`) with the main loop in Rust.
//!
//! scikit-learn's loop, reproduced step for step:
//! - core distance of each point: distance to its `min_samples`-th nearest neighbour, the
//!   point itself counted; values above `max_eps` become inf; all rounded with
//!   `np.around(., 15)` (`rint(x * 1e15) / 1e15`, bit-identical here);
//! - reachability starts at inf, predecessor at -1;
//! - each step takes the unprocessed point of smallest reachability, ties (inf included) to
//!   the smallest index; if its core distance is finite, every unprocessed point within
//!   `max_eps` gets `r = around(max(dist, core), 15)` and, when `r` is strictly smaller than
//!   its reachability, reachability `r` and this point as predecessor.
//!
//! The "smallest reachability, then smallest index" choice uses an indexed binary heap over
//! the points of finite reachability (O(n) memory, decrease-key) plus a cursor over indices
//! for the all-inf case. Neighbourhoods are queried one step at a time (radius query when
//! `max_eps` is finite, a scan over the compact list of unprocessed points when it is
//! infinite), so memory is O(n) plus one neighbourhood. The distance work of a step is
//! spread over the thread pool; the updates are order independent, so results do not depend
//! on the thread count.

use crate::dbscan::Search;
use rayon::prelude::*;
use rml_core::{ensure_param, Cancel, RmlError, RmlResult};

/// `np.around(x, 15)` for float64, bit for bit (numpy multiplies by 1e15, rounds half to
/// even, divides by 1e15).
#[inline]
pub fn around15(x: f64) -> f64 {
    (x * 1e15).round_ties_even() / 1e15
}

/// The OPTICS graph: scikit-learn's `ordering_`, `core_distances_`, `reachability_`,
/// `predecessor_`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpticsGraph {
    pub ordering: Vec<i64>,
    pub core_distances: Vec<f64>,
    pub reachability: Vec<f64>,
    pub predecessor: Vec<i64>,
}

/// Indexed binary min-heap keyed by (reachability, index).
struct ReachHeap {
    heap: Vec<u32>,
    pos: Vec<u32>, // u32::MAX = not in heap
}

impl ReachHeap {
    fn new(n: usize) -> Self {
        Self { heap: Vec::new(), pos: vec![u32::MAX; n] }
    }
    #[inline]
    fn less(key: &[f64], a: u32, b: u32) -> bool {
        match key[a as usize].total_cmp(&key[b as usize]) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => a < b,
        }
    }
    fn sift_up(&mut self, key: &[f64], mut i: usize) {
        while i > 0 {
            let p = (i - 1) / 2;
            if Self::less(key, self.heap[i], self.heap[p]) {
                self.heap.swap(i, p);
                self.pos[self.heap[i] as usize] = i as u32;
                self.pos[self.heap[p] as usize] = p as u32;
                i = p;
            } else {
                break;
            }
        }
    }
    fn sift_down(&mut self, key: &[f64], mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut m = i;
            if l < n && Self::less(key, self.heap[l], self.heap[m]) {
                m = l;
            }
            if r < n && Self::less(key, self.heap[r], self.heap[m]) {
                m = r;
            }
            if m == i {
                break;
            }
            self.heap.swap(i, m);
            self.pos[self.heap[i] as usize] = i as u32;
            self.pos[self.heap[m] as usize] = m as u32;
            i = m;
        }
    }
    /// Insert `v` or restore order after its key decreased.
    fn decreased(&mut self, key: &[f64], v: usize) {
        let p = self.pos[v];
        if p == u32::MAX {
            self.heap.push(v as u32);
            let i = self.heap.len() - 1;
            self.pos[v] = i as u32;
            self.sift_up(key, i);
        } else {
            self.sift_up(key, p as usize);
        }
    }
    fn pop(&mut self, key: &[f64]) -> Option<usize> {
        let top = *self.heap.first()?;
        let last = self.heap.pop().expect("non-empty");
        self.pos[top as usize] = u32::MAX;
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.pos[last as usize] = 0;
            self.sift_down(key, 0);
        }
        Some(top as usize)
    }
}

/// Resolve scikit-learn's `min_samples` (an int >= 2, or a fraction in (0, 1] of n, floored,
/// at least 2) against `n`. Errors as scikit-learn when it exceeds `n`.
pub fn resolve_min_samples(min_samples: f64, n: usize) -> RmlResult<usize> {
    ensure_param!(min_samples > 0.0 && min_samples.is_finite(), "min_samples must be positive, got {min_samples}");
    if min_samples > n as f64 {
        return Err(RmlError::InvalidParameter(format!(
            "min_samples must be no greater than the number of samples ({n}). Got {}",
            min_samples as i64
        )));
    }
    Ok(if min_samples <= 1.0 { ((min_samples * n as f64) as usize).max(2) } else { min_samples as usize })
}

/// scikit-learn's `compute_optics_graph` over the training rows of `search`.
pub fn compute_optics_graph(
    search: &Search<'_>,
    min_samples: usize,
    max_eps: f64,
    cancel: &Cancel,
) -> RmlResult<OpticsGraph> {
    let n = search.n_samples();
    ensure_param!(!(max_eps < 0.0) && !max_eps.is_nan(), "max_eps must be >= 0, got {max_eps}");
    ensure_param!(min_samples >= 1, "min_samples must be >= 1");
    if n > u32::MAX as usize - 1 {
        return Err(RmlError::TooLarge(format!("input too large: {n} samples")));
    }
    // Core distances, chunk by chunk.
    let mut core = Vec::with_capacity(n);
    let chunk = 8192usize;
    let mut start = 0;
    while start < n {
        let rows: Vec<usize> = (start..(start + chunk).min(n)).collect();
        core.extend(search.kth_distance_rows(&rows, min_samples, cancel)?);
        start += rows.len();
    }
    for c in core.iter_mut() {
        if *c > max_eps {
            *c = f64::INFINITY;
        }
        *c = around15(*c);
    }

    let mut reach = vec![f64::INFINITY; n];
    let mut pred = vec![-1i64; n];
    let mut processed = vec![false; n];
    let mut ordering = Vec::with_capacity(n);
    let mut heap = ReachHeap::new(n);
    let mut cursor = 0usize; // smallest index that may be unprocessed
    let infinite = max_eps.is_infinite();
    // Compact list of unprocessed points (scan mode) and each point's slot in it.
    let mut unproc: Vec<u32> = if infinite { (0..n as u32).collect() } else { Vec::new() };
    let mut slot: Vec<u32> = if infinite { (0..n as u32).collect() } else { Vec::new() };
    let mut improved: Vec<(u32, f64)> = Vec::new();
    // Scan mode: per point, a reduced distance above which it cannot improve (see
    // `skip_threshold`), so most candidates cost one reduced distance and one compare.
    let mut thr: Vec<f64> = if infinite { vec![f64::INFINITY; n] } else { Vec::new() };
    // Scan mode over feature rows: the unprocessed rows and their thresholds, compacted in
    // slot order, so each step streams through contiguous memory.
    let dim = search.points().map(|(_, d, _)| d).unwrap_or(0);
    let mut ucoords: Vec<f64> = match (infinite, search.points()) {
        (true, Some((xs, _, _))) => xs.to_vec(),
        _ => Vec::new(),
    };
    let mut uthr: Vec<f64> = if ucoords.is_empty() { Vec::new() } else { vec![f64::INFINITY; n] };

    for step in 0..n {
        if step % 1024 == 0 {
            cancel.check()?;
        }
        let point = match heap.pop(&reach) {
            Some(p) => p,
            None => {
                while processed[cursor] {
                    cursor += 1;
                }
                cursor
            }
        };
        processed[point] = true;
        ordering.push(point as i64);
        if infinite {
            let s = slot[point] as usize;
            let last_slot = unproc.len() - 1;
            let last = unproc[last_slot];
            unproc.swap_remove(s);
            if (last as usize) != point {
                slot[last as usize] = s as u32;
            }
            if !uthr.is_empty() {
                uthr.swap_remove(s);
                if s != last_slot {
                    ucoords.copy_within(last_slot * dim..(last_slot + 1) * dim, s * dim);
                }
                ucoords.truncate(last_slot * dim);
            }
        }
        let cp = core[point];
        if cp == f64::INFINITY {
            continue;
        }
        improved.clear();
        if infinite {
            if uthr.is_empty() {
                scan_unprocessed(search, point, cp, &unproc, &reach, &thr, &mut improved);
            } else {
                let (xs, _, metric) = search.points().expect("feature rows");
                let a = &xs[point * dim..(point + 1) * dim];
                scan_compact(a, metric, dim, cp, &unproc, &ucoords, &uthr, &reach, &mut improved);
            }
        } else {
            let res = search.radius_rows(&[point], max_eps, true, cancel)?;
            for (&v, &d) in res.indices.iter().zip(&res.distances) {
                let v = v as usize;
                if !processed[v] {
                    let r = around15(if d > cp { d } else { cp });
                    if r < reach[v] {
                        improved.push((v as u32, r));
                    }
                }
            }
        }
        for &(v, r) in &improved {
            let v = v as usize;
            reach[v] = r;
            if infinite {
                thr[v] = skip_threshold(search, r);
                if !uthr.is_empty() {
                    uthr[slot[v] as usize] = thr[v];
                }
            }
            pred[v] = point as i64;
            heap.decreased(&reach, v);
        }
    }
    Ok(OpticsGraph { ordering, core_distances: core, reachability: reach, predecessor: pred })
}

/// A reduced distance above which a candidate cannot improve a reachability `reach`:
/// `around15(max(d, core)) < reach` needs `d < reach + 5e-16 + 3e-16 * d` (the rounding of
/// `around15`), so `d > reach * (1 + 1e-12) + 1e-12` is a safe skip, and the reduced-distance
/// form of that bound absorbs the root/power rounding with a wide margin.
#[inline]
fn skip_threshold(search: &Search<'_>, reach: f64) -> f64 {
    let t = reach * (1.0 + 1e-12) + 1e-12;
    match search.metric() {
        Some(m) => m.dist_to_rdist(t) * (1.0 + 1e-12),
        None => t,
    }
}

const PAR_MIN: usize = 4096;
const PAR_CHUNK: usize = 2048;

/// [`scan_unprocessed`] over compacted rows: slot `s` holds point `unproc[s]`, its row at
/// `ucoords[s * dim..]` and its skip threshold at `uthr[s]`.
#[allow(clippy::too_many_arguments)]
fn scan_compact(
    a: &[f64],
    metric: rml_distances::Metric,
    dim: usize,
    cp: f64,
    unproc: &[u32],
    ucoords: &[f64],
    uthr: &[f64],
    reach: &[f64],
    out: &mut Vec<(u32, f64)>,
) {
    let run = |s0: usize, s1: usize, out: &mut Vec<(u32, f64)>| {
        for s in s0..s1 {
            let rd = metric.rdist(a, &ucoords[s * dim..(s + 1) * dim]);
            if rd > uthr[s] {
                continue;
            }
            let v = unproc[s] as usize;
            let d = metric.rdist_to_dist(rd);
            let r = around15(if d > cp { d } else { cp });
            if r < reach[v] {
                out.push((v as u32, r));
            }
        }
    };
    let m = unproc.len();
    if m >= PAR_MIN {
        let parts: Vec<Vec<(u32, f64)>> = (0..m.div_ceil(PAR_CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut o = Vec::new();
                run(c * PAR_CHUNK, ((c + 1) * PAR_CHUNK).min(m), &mut o);
                o
            })
            .collect();
        for p in parts {
            out.extend_from_slice(&p);
        }
    } else {
        run(0, m, out);
    }
}

/// The reachability updates from `point` over every unprocessed point (max_eps = inf).
fn scan_unprocessed(
    search: &Search<'_>,
    point: usize,
    cp: f64,
    unproc: &[u32],
    reach: &[f64],
    thr: &[f64],
    out: &mut Vec<(u32, f64)>,
) {
    let eval = |v: usize, d: f64| -> Option<(u32, f64)> {
        let r = around15(if d > cp { d } else { cp });
        if r < reach[v] {
            Some((v as u32, r))
        } else {
            None
        }
    };
    let run = |c: &[u32], out: &mut Vec<(u32, f64)>| match search.points() {
        Some((xs, dim, metric)) => {
            let a = &xs[point * dim..(point + 1) * dim];
            for &v in c {
                let v = v as usize;
                let rd = metric.rdist(a, &xs[v * dim..(v + 1) * dim]);
                if rd > thr[v] {
                    continue;
                }
                if let Some(u) = eval(v, metric.rdist_to_dist(rd)) {
                    out.push(u);
                }
            }
        }
        None => {
            for &v in c {
                let v = v as usize;
                let d = search.dist(point, v);
                if d > thr[v] {
                    continue;
                }
                if let Some(u) = eval(v, d) {
                    out.push(u);
                }
            }
        }
    };
    if unproc.len() >= PAR_MIN {
        let parts: Vec<Vec<(u32, f64)>> = unproc
            .par_chunks(PAR_CHUNK)
            .map(|c| {
                let mut o = Vec::new();
                run(c, &mut o);
                o
            })
            .collect();
        for p in parts {
            out.extend_from_slice(&p);
        }
    } else {
        run(unproc, out);
    }
}

#[cfg(test)]
mod tests;
