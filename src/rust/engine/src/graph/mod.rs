//! Cell graphs from an embedding: exact k nearest neighbours and Seurat's shared-nearest-
//! neighbour graph.

pub mod knn;
pub mod snn;
