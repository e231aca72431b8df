//! The neighbour files of a store (see `cellfile` for the header and the cells):
//! - `knn.graph` ("CSKNN001", m = k): neighbour rows (u32, n_rows x k, positions among the
//!   file's rows, the row itself first), then distances (f32, n_rows x k);
//! - `snn.graph` ("CSSNN001", m = number of entries): row offsets (u64, n_rows + 1), columns
//!   (u32, m), weights (f32, m) of the symmetric graph in compressed rows.

use super::knn::Knn;
use super::Graph;
use crate::error::{Error, Result};
use crate::store::cellfile::{put, read, take, write};
use std::path::Path;

const KNN_MAGIC: &[u8; 8] = b"CSKNN001";
const SNN_MAGIC: &[u8; 8] = b"CSSNN001";
const RERUN: &str = "find_neighbors(x)";

pub fn write_knn(path: &Path, cells: &[u32], knn: &Knn) -> Result<()> {
    write(path, KNN_MAGIC, cells, knn.k as u64, |out| {
        put(out, &knn.index)?;
        put(out, &knn.distance)
    })
}

pub fn write_snn(path: &Path, cells: &[u32], g: &Graph) -> Result<()> {
    write(path, SNN_MAGIC, cells, g.col.len() as u64, |out| {
        let offsets: Vec<u64> = g.row_ptr.iter().map(|&p| p as u64).collect();
        put(out, &offsets)?;
        put(out, &g.col)?;
        put(out, &g.weight)
    })
}

/// The cells (0-based store indices) and kNN of a `knn.graph` file.
pub fn read_knn(path: &Path) -> Result<(Vec<u32>, Knn)> {
    read(
        path,
        KNN_MAGIC,
        |n, k| 8 * n * k,
        RERUN,
        |input, n, k| {
            let index = take::<u32>(input, n * k as usize)?;
            let distance = take::<f32>(input, n * k as usize)?;
            Ok(Knn {
                k: k as usize,
                index,
                distance,
            })
        },
    )
}

/// The cells (0-based store indices) and graph of an `snn.graph` file.
pub fn read_snn(path: &Path) -> Result<(Vec<u32>, Graph)> {
    read(
        path,
        SNN_MAGIC,
        |n, nnz| 8 * (n + 1) + 8 * nnz,
        RERUN,
        |input, n, nnz| {
            let row_ptr = take::<u64>(input, n + 1)?
                .into_iter()
                .map(|p| p as usize)
                .collect::<Vec<_>>();
            let col = take::<u32>(input, nnz as usize)?;
            let weight = take::<f32>(input, nnz as usize)?;
            (row_ptr.last() == Some(&(nnz as usize)))
                .then_some(Graph { row_ptr, col, weight })
                .ok_or(Error::Corrupt(String::new()))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_files_roundtrip_and_truncation_is_detected() {
        let dir = crate::testdir::TestDir::new();
        let knn = Knn {
            k: 2,
            index: vec![0, 1, 1, 0, 2, 1],
            distance: vec![0.0, 1.5, 0.0, 1.5, 0.0, 2.25],
        };
        let path = dir.path().join("knn.graph");
        write_knn(&path, &[3, 5, 9], &knn).unwrap();
        assert_eq!(read_knn(&path).unwrap(), (vec![3, 5, 9], knn));
        let g = Graph {
            row_ptr: vec![0, 2, 3, 4],
            col: vec![0, 1, 0, 2],
            weight: vec![1.0, 0.25, 0.25, 1.0],
        };
        let spath = dir.path().join("snn.graph");
        write_snn(&spath, &[3, 5, 9], &g).unwrap();
        assert_eq!(read_snn(&spath).unwrap(), (vec![3, 5, 9], g));
        let bytes = std::fs::read(&spath).unwrap();
        std::fs::write(&spath, &bytes[..bytes.len() - 1]).unwrap();
        assert!(matches!(read_snn(&spath), Err(Error::Corrupt(_))));
        assert!(matches!(read_knn(&spath), Err(Error::Corrupt(_))));
    }
}
