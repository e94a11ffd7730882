//! scikit-learn's `_hc_cut`: cut a full tree into `n_clusters` clusters.
//!
//! The label of a cluster is the position of its node in a Python `heapq` list of negated
//! node ids after `n_clusters - 1` rounds of "replace the largest node by its children", so
//! the heap operations below are CPython's `heappush` / `heappushpop`, step for step.

use rml_core::{ensure, RmlResult};

fn sift_down(heap: &mut [i64], start: usize, mut pos: usize) {
    let item = heap[pos];
    while pos > start {
        let parent = (pos - 1) >> 1;
        if item < heap[parent] {
            heap[pos] = heap[parent];
            pos = parent;
            continue;
        }
        break;
    }
    heap[pos] = item;
}

fn sift_up(heap: &mut [i64], mut pos: usize) {
    let end = heap.len();
    let start = pos;
    let item = heap[pos];
    let mut child = 2 * pos + 1;
    while child < end {
        let right = child + 1;
        if right < end && heap[child] >= heap[right] {
            child = right;
        }
        heap[pos] = heap[child];
        pos = child;
        child = 2 * pos + 1;
    }
    heap[pos] = item;
    sift_down(heap, start, pos);
}

fn heappush(heap: &mut Vec<i64>, item: i64) {
    heap.push(item);
    let last = heap.len() - 1;
    sift_down(heap, 0, last);
}

fn heappushpop(heap: &mut [i64], item: i64) -> i64 {
    if !heap.is_empty() && heap[0] < item {
        let top = heap[0];
        heap[0] = item;
        sift_up(heap, 0);
        top
    } else {
        item
    }
}

/// Labels of the `n_leaves` leaves when the tree `children` is cut into `n_clusters`.
pub fn cut(n_clusters: usize, children: &[[i64; 2]], n_leaves: usize) -> RmlResult<Vec<i64>> {
    ensure!(
        n_clusters <= n_leaves,
        "Cannot extract more clusters than samples: {n_clusters} clusters were given for a \
         tree with {n_leaves} leaves."
    );
    ensure!(n_clusters >= 1, "n_clusters must be >= 1");
    ensure!(
        children.len() + 1 == n_leaves,
        "a full tree over {n_leaves} leaves has {} merges, got {}",
        n_leaves - 1,
        children.len()
    );
    let n = n_leaves as i64;
    let node_children = |node: i64| -> RmlResult<[i64; 2]> {
        let idx = node - n;
        ensure!(idx >= 0 && (idx as usize) < children.len(), "node {node} is not an inner node");
        let c = children[idx as usize];
        ensure!(
            c[0] >= 0 && c[1] >= 0 && c[0] < node && c[1] < node,
            "children {:?} of node {node} are not smaller nodes",
            c
        );
        Ok(c)
    };
    let mut heap: Vec<i64> = Vec::with_capacity(n_clusters);
    let last = children.last().map(|c| c[0].max(c[1]) + 1).unwrap_or(0);
    heap.push(-last);
    for _ in 0..n_clusters - 1 {
        let top = -heap[0];
        let c = node_children(top)?;
        heappush(&mut heap, -c[0]);
        heappushpop(&mut heap, -c[1]);
    }
    let mut labels = vec![0i64; n_leaves];
    let mut stack: Vec<i64> = Vec::new();
    for (label, &neg) in heap.iter().enumerate() {
        stack.push(-neg);
        while let Some(node) = stack.pop() {
            if node < n {
                labels[node as usize] = label as i64;
            } else {
                let c = node_children(node)?;
                stack.push(c[0]);
                stack.push(c[1]);
            }
        }
    }
    Ok(labels)
}
