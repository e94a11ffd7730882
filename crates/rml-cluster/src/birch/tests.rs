use super::*;
use ndarray::Array2;

fn data(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut s = seed.wrapping_add(12345);
    Array2::from_shape_fn((n, d), |(i, _)| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 3.0 + (i % 4) as f64 * 10.0
    })
}

#[test]
fn every_sample_is_counted_once_and_leaves_cover_all() {
    let x = data(500, 3, 1);
    let p = BirchParams::new(0.25, 5).unwrap();
    let mut t = CfTree::<f64>::new(3).unwrap();
    insert_rows(&mut t, x.view(), &p, &mut RustSplitDistances, &Cancel::new()).unwrap();
    let st = t.to_state();
    let leaf_total: i64 = st
        .leaf_order
        .iter()
        .flat_map(|&l| (st.node_ptr[l as usize]..st.node_ptr[l as usize + 1]).map(|p| st.n_samples[st.node_subs[p as usize] as usize]))
        .sum();
    assert_eq!(leaf_total, 500);
    assert_eq!(st.n_samples[st.node_subs[0] as usize..].len() > 0, true);
    // Every node holds at most branching_factor subclusters.
    for k in 0..st.node_is_leaf.len() {
        assert!(st.node_ptr[k + 1] - st.node_ptr[k] <= 5);
    }
    assert_eq!(t.subcluster_centers().nrows(), st.leaf_order.iter().map(|&l| (st.node_ptr[l as usize + 1] - st.node_ptr[l as usize]) as usize).sum::<usize>());
}

#[test]
fn state_round_trip_continues_identically() {
    let x = data(600, 4, 2);
    let p = BirchParams::new(0.5, 4).unwrap();
    let mut full = CfTree::<f64>::new(4).unwrap();
    insert_rows(&mut full, x.view(), &p, &mut RustSplitDistances, &Cancel::new()).unwrap();

    let mut part = CfTree::<f64>::new(4).unwrap();
    insert_rows(&mut part, x.slice(ndarray::s![..250, ..]), &p, &mut RustSplitDistances, &Cancel::new()).unwrap();
    let st = part.to_state();
    let mut resumed = CfTree::from_state(&st).unwrap();
    assert_eq!(resumed.to_state(), st);
    insert_rows(&mut resumed, x.slice(ndarray::s![250.., ..]), &p, &mut RustSplitDistances, &Cancel::new()).unwrap();
    assert_eq!(resumed.subcluster_centers(), full.subcluster_centers());
    assert_eq!(resumed.to_state(), full.to_state());
}

#[test]
fn corrupt_state_is_an_error() {
    let x = data(100, 2, 3);
    let p = BirchParams::new(0.5, 3).unwrap();
    let mut t = CfTree::<f64>::new(2).unwrap();
    insert_rows(&mut t, x.view(), &p, &mut RustSplitDistances, &Cancel::new()).unwrap();
    let mut st = t.to_state();
    st.node_subs[0] = 10_000;
    assert!(CfTree::from_state(&st).is_err());
    let mut st = t.to_state();
    st.node_ptr.pop();
    assert!(CfTree::from_state(&st).is_err());
    let mut st = t.to_state();
    st.child[0] = 99;
    assert!(CfTree::from_state(&st).is_err());
    // A child pointing back at the root (a cycle) is rejected, not recursed into.
    let mut st = t.to_state();
    let first_internal = st.child.iter().position(|&c| c >= 0).unwrap();
    st.child[first_internal] = st.root;
    assert!(CfTree::from_state(&st).is_err());
}

#[test]
fn params_are_checked() {
    assert!(BirchParams::new(0.0, 10).is_err());
    assert!(BirchParams::new(f64::NAN, 10).is_err());
    assert!(BirchParams::new(1.0, 1).is_err());
    assert!(CfTree::<f64>::new(0).is_err());
}

#[test]
fn nearest_matches_brute_force_with_ties_to_smallest_index() {
    let c = data(300, 3, 4);
    let mut c2 = c.clone();
    c2.row_mut(7).assign(&c.row(3)); // duplicate center: the tie goes to index 3
    let q = data(400, 3, 5);
    let got = nearest::nearest(q.view(), c2.view(), &Cancel::new()).unwrap();
    for (i, row) in q.rows().into_iter().enumerate() {
        let mut best = (f64::INFINITY, 0usize);
        for (j, cr) in c2.rows().into_iter().enumerate() {
            let s: f64 = row.iter().zip(cr.iter()).map(|(a, b)| (a - b) * (a - b)).sum();
            if s < best.0 {
                best = (s, j);
            }
        }
        assert_eq!(got[i], best.1 as i64);
    }
    let q = c2.slice(ndarray::s![7..8, ..]).to_owned();
    assert_eq!(nearest::nearest(q.view(), c2.view(), &Cancel::new()).unwrap(), vec![3]);
}
