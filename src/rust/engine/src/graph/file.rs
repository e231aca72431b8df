//! The neighbour files of a store (see `cellfile` for the header, the cells and the
//! checksums); indices are checked to lie among the file's rows before they are used:
//! - `knn.graph` ("CSKNN002", m = k): neighbour rows (u32, n_rows x k, positions among the
//!   file's rows, the row itself first), then distances (f32, n_rows x k);
//! - `snn.graph` ("CSSNN002", m = number of entries): row offsets (u64, n_rows + 1), columns
//!   (u32, m), weights (f32, m) of the symmetric graph in compressed rows.

use super::knn::Knn;
use super::Graph;
use crate::error::{Error, Result};
use crate::store::cellfile::{put, read, take, write, Expect};
use std::path::Path;

const KNN_MAGIC: &[u8; 8] = b"CSKNN002";
const SNN_MAGIC: &[u8; 8] = b"CSSNN002";

pub fn write_knn(path: &Path, store_tag: u64, cells: &[u32], knn: &Knn) -> Result<()> {
    write(path, KNN_MAGIC, store_tag, cells, knn.k as u64, |out| {
        put(out, &knn.index)?;
        put(out, &knn.distance)
    })
}

pub fn write_snn(path: &Path, store_tag: u64, cells: &[u32], g: &Graph) -> Result<()> {
    write(path, SNN_MAGIC, store_tag, cells, g.col.len() as u64, |out| {
        let offsets: Vec<u64> = g.row_ptr.iter().map(|&p| p as u64).collect();
        put(out, &offsets)?;
        put(out, &g.col)?;
        put(out, &g.weight)
    })
}

/// The cells (0-based store indices) and kNN of a `knn.graph` file.
pub fn read_knn(path: &Path, expect: &Expect) -> Result<(Vec<u32>, Knn)> {
    read(
        path,
        KNN_MAGIC,
        expect,
        |n, k| n.checked_mul(k)?.checked_mul(8),
        |input, n, k| {
            let index = take::<u32>(input, n * k as usize)?;
            let distance = take::<f32>(input, n * k as usize)?;
            if index.iter().any(|&i| i as usize >= n) {
                return Err(Error::Corrupt(
                    "a neighbour index lies outside the file's rows".into(),
                ));
            }
            Ok(Knn {
                k: k as usize,
                index,
                distance,
            })
        },
    )
}

/// The cells (0-based store indices) and graph of an `snn.graph` file.
pub fn read_snn(path: &Path, expect: &Expect) -> Result<(Vec<u32>, Graph)> {
    read(
        path,
        SNN_MAGIC,
        expect,
        |n, nnz| n.checked_add(1)?.checked_add(nnz)?.checked_mul(8),
        |input, n, nnz| {
            let row_ptr = take::<u64>(input, n + 1)?
                .into_iter()
                .map(|p| p as usize)
                .collect::<Vec<_>>();
            let col = take::<u32>(input, nnz as usize)?;
            let weight = take::<f32>(input, nnz as usize)?;
            if row_ptr[0] != 0 || row_ptr[n] != nnz as usize || row_ptr.windows(2).any(|w| w[0] > w[1]) {
                return Err(Error::Corrupt("its row offsets are out of order".into()));
            }
            if col.iter().any(|&c| c as usize >= n) {
                return Err(Error::Corrupt(
                    "a neighbour index lies outside the file's rows".into(),
                ));
            }
            Ok(Graph { row_ptr, col, weight })
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
        let expect = Expect {
            name: "knn.graph",
            store_tag: 1,
            n_cells: 10,
            rerun: "find_neighbors(x)",
        };
        let path = dir.path().join("knn.graph");
        write_knn(&path, 1, &[3, 5, 9], &knn).unwrap();
        assert_eq!(read_knn(&path, &expect).unwrap(), (vec![3, 5, 9], knn));
        let g = Graph {
            row_ptr: vec![0, 2, 3, 4],
            col: vec![0, 1, 0, 2],
            weight: vec![1.0, 0.25, 0.25, 1.0],
        };
        let spath = dir.path().join("snn.graph");
        write_snn(&spath, 1, &[3, 5, 9], &g).unwrap();
        assert_eq!(read_snn(&spath, &expect).unwrap(), (vec![3, 5, 9], g));
        let bytes = std::fs::read(&spath).unwrap();
        std::fs::write(&spath, &bytes[..bytes.len() - 1]).unwrap();
        assert!(matches!(read_snn(&spath, &expect), Err(Error::Corrupt(_))));
        assert!(matches!(read_knn(&spath, &expect), Err(Error::Corrupt(_))));
    }
}
