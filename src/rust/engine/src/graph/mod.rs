//! Cell graphs from an embedding: k nearest neighbours, shared-nearest-neighbour and UMAP
//! (fuzzy simplicial set) graphs, Leiden clustering, and their files in a store.

pub mod file;
pub mod fuzzy;
pub mod knn;
pub mod leiden;
pub mod snn;

/// A symmetric weighted graph in compressed rows, columns ascending within each row; a
/// self-loop is one entry on the diagonal.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph<W = f32> {
    pub row_ptr: Vec<usize>,
    pub col: Vec<u32>,
    pub weight: Vec<W>,
}

impl<W: Copy> Graph<W> {
    pub fn n_nodes(&self) -> usize {
        self.row_ptr.len() - 1
    }

    /// Weighted degree of every node (a self-loop counted once).
    pub fn strength(&self) -> Vec<f64>
    where
        W: Into<f64> + Sync,
    {
        use rayon::prelude::*;
        (0..self.n_nodes())
            .into_par_iter()
            .map(|i| self.edges(i).map(|(_, w)| w.into()).sum())
            .collect()
    }

    /// Removes the diagonal in place (Seurat's modularity optimiser and igraph on a simplified
    /// graph do not count self-loops); returns how many entries were removed.
    pub fn drop_self_loops(&mut self) -> usize {
        let mut kept = 0;
        let mut start = 0;
        for i in 0..self.n_nodes() {
            let end = self.row_ptr[i + 1];
            for e in start..end {
                if self.col[e] as usize != i {
                    self.col[kept] = self.col[e];
                    self.weight[kept] = self.weight[e];
                    kept += 1;
                }
            }
            start = end;
            self.row_ptr[i + 1] = kept;
        }
        let removed = self.col.len() - kept;
        self.col.truncate(kept);
        self.weight.truncate(kept);
        removed
    }

    pub fn edges(&self, i: usize) -> impl Iterator<Item = (usize, W)> + '_ {
        let range = self.row_ptr[i]..self.row_ptr[i + 1];
        self.col[range.clone()]
            .iter()
            .map(|&j| j as usize)
            .zip(self.weight[range].iter().copied())
    }
}
