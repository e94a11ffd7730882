//! Nearest-neighbour indexes for rml: brute force and KD-tree behind one query interface
//! (k nearest and within radius), with a stable tie order.

pub mod kdtree;

pub use kdtree::{KdTree, KdTreeView};
