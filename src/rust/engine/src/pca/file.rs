//! A cell embedding on disk (`pca.embedding`, `umap.embedding` in the store; see `cellfile`
//! for the header, the cells and the checksums): magic "CSEMBED2", m = the number of
//! columns, then the values row by row (f32).

use super::kernels::Dense;
use crate::error::Result;
use crate::store::cellfile::{put, read, take, write, Expect};
use std::path::Path;

const MAGIC: &[u8; 8] = b"CSEMBED2";

pub fn write_embedding(path: &Path, store_tag: u64, cells: &[usize], values: &Dense<f32>) -> Result<()> {
    let cells: Vec<u32> = cells.iter().map(|&c| c as u32).collect();
    write(path, MAGIC, store_tag, &cells, values.k as u64, |out| {
        put(out, &values.data)
    })
}

/// The cells (0-based store indices) and values of an embedding file.
pub fn read_embedding(path: &Path, expect: &Expect) -> Result<(Vec<u32>, Dense<f32>)> {
    read(
        path,
        MAGIC,
        expect,
        |rows, k| rows.checked_mul(k)?.checked_mul(4),
        |input, rows, k| {
            let data = take::<f32>(input, rows * k as usize)?;
            Ok(Dense {
                rows,
                k: k as usize,
                data,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_roundtrip_and_truncation_is_detected() {
        let dir = crate::testdir::TestDir::new();
        let path = dir.path().join("pca.embedding");
        let values = Dense {
            rows: 3,
            k: 2,
            data: vec![1.0, -2.5, 3.0, 4.0, f32::MIN_POSITIVE, 6.0],
        };
        let expect = Expect {
            name: "pca.embedding",
            store_tag: 7,
            n_cells: 10,
            rerun: "run_pca(x)",
        };
        write_embedding(&path, 7, &[0, 7, 9], &values).unwrap();
        let (cells, back) = read_embedding(&path, &expect).unwrap();
        assert_eq!((cells, back), (vec![0, 7, 9], values));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = read_embedding(&path, &expect).unwrap_err().to_string();
        assert!(
            err.contains("pca.embedding is damaged") && err.contains("rerun run_pca(x)"),
            "{err}"
        );
    }
}
