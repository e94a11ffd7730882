//! Nearest-neighbour indexes for rml: brute force and KD-tree behind one query interface
//! (k nearest and within radius), with a stable tie order; and the pre-filter approximate
//! index.

pub mod kdtree;
pub mod prefilter;

pub use kdtree::{KdTree, KdTreeView};
