//! The neighbour files of a store, little-endian, each behind a 64-byte header
//! `magic (8 bytes), n_rows u64, m u64, 40 zero bytes`, then the 0-based store index of each
//! row's cell (u32 each):
//! - `knn.graph` ("CSKNN001", m = k): neighbour rows (u32, n_rows x k, positions among the
//!   file's rows, the row itself first), then distances (f32, n_rows x k);
//! - `snn.graph` ("CSSNN001", m = number of entries): row offsets (u64, n_rows + 1), columns
//!   (u32, m), weights (f32, m) of the symmetric graph in compressed rows.
//!
//! Written to a temporary name and renamed, so a reader sees a whole file or none.

use super::knn::Knn;
use super::Graph;
use crate::error::{Error, IoContext, Result};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const KNN_MAGIC: &[u8; 8] = b"CSKNN001";
const SNN_MAGIC: &[u8; 8] = b"CSSNN001";
const HEADER_LEN: usize = 64;

pub fn write_knn(path: &Path, cells: &[u32], knn: &Knn) -> Result<()> {
    write_file(path, KNN_MAGIC, cells, knn.k as u64, |out| {
        put(out, &knn.index)?;
        put(out, &knn.distance)
    })
}

pub fn write_snn(path: &Path, cells: &[u32], g: &Graph) -> Result<()> {
    write_file(path, SNN_MAGIC, cells, g.col.len() as u64, |out| {
        let offsets: Vec<u64> = g.row_ptr.iter().map(|&p| p as u64).collect();
        put(out, &offsets)?;
        put(out, &g.col)?;
        put(out, &g.weight)
    })
}

/// The cells (0-based store indices) and kNN of a `knn.graph` file.
pub fn read_knn(path: &Path) -> Result<(Vec<u32>, Knn)> {
    read_file(path, KNN_MAGIC, |input, n, k| {
        let index = take::<u32>(input, n * k as usize)?;
        let distance = take::<f32>(input, n * k as usize)?;
        Ok(Knn { k: k as usize, index, distance })
    })
}

/// The cells (0-based store indices) and graph of an `snn.graph` file.
pub fn read_snn(path: &Path) -> Result<(Vec<u32>, Graph)> {
    read_file(path, SNN_MAGIC, |input, n, nnz| {
        let row_ptr = take::<u64>(input, n + 1)?.into_iter().map(|p| p as usize).collect::<Vec<_>>();
        let col = take::<u32>(input, nnz as usize)?;
        let weight = take::<f32>(input, nnz as usize)?;
        (row_ptr.last() == Some(&(nnz as usize))).then_some(Graph { row_ptr, col, weight }).ok_or(Error::Corrupt(String::new()))
    })
}

fn write_file(path: &Path, magic: &[u8; 8], cells: &[u32], m: u64, body: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut out = BufWriter::new(std::fs::File::create(&tmp).ctx("cannot create", &tmp)?);
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(magic);
    header[8..16].copy_from_slice(&(cells.len() as u64).to_le_bytes());
    header[16..24].copy_from_slice(&m.to_le_bytes());
    out.write_all(&header).ctx("cannot write", &tmp)?;
    put(&mut out, cells).ctx("cannot write", &tmp)?;
    body(&mut out).ctx("cannot write", &tmp)?;
    out.into_inner().map_err(|e| Error::io("cannot flush", e.into_error()))?.sync_all().ctx("cannot sync", &tmp)?;
    std::fs::rename(&tmp, path).ctx("cannot rename", &tmp)
}

fn read_file<T>(path: &Path, magic: &[u8; 8], body: impl FnOnce(&mut BufReader<std::fs::File>, usize, u64) -> Result<T>) -> Result<(Vec<u32>, T)> {
    let file = std::fs::File::open(path).ctx("cannot open", path)?;
    let len = file.metadata().ctx("cannot read", path)?.len();
    let mut input = BufReader::with_capacity(1 << 20, file);
    let corrupt = || Error::Corrupt(format!("'{}' is not a complete cellstream neighbour file; rerun find_neighbors(x)", path.display()));
    let mut header = [0u8; HEADER_LEN];
    input.read_exact(&mut header).map_err(|_| corrupt())?;
    if &header[..8] != magic {
        return Err(corrupt());
    }
    let n = u64::from_le_bytes(header[8..16].try_into().unwrap()) as usize;
    let m = u64::from_le_bytes(header[16..24].try_into().unwrap());
    // Sizes are checked against the file before anything of that size is allocated.
    let expected = if magic == KNN_MAGIC { 4 * n as u64 * (1 + 2 * m) } else { 4 * n as u64 + 8 * (n as u64 + 1) + 8 * m };
    if len != HEADER_LEN as u64 + expected {
        return Err(corrupt());
    }
    let cells = take::<u32>(&mut input, n).map_err(|_| corrupt())?;
    let value = body(&mut input, n, m).map_err(|_| corrupt())?;
    Ok((cells, value))
}

/// Plain numbers written and read as little-endian bytes.
trait Le: Copy {
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! le {
    ($($t:ty),*) => {$(
        impl Le for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().unwrap())
            }
        }
    )*};
}
le!(u32, u64, f32);

fn put<T: Le>(out: &mut impl Write, values: &[T]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(T::SIZE * 65536);
    for block in values.chunks(65536) {
        bytes.clear();
        block.iter().for_each(|&v| v.put(&mut bytes));
        out.write_all(&bytes)?;
    }
    Ok(())
}

fn take<T: Le>(input: &mut impl Read, n: usize) -> Result<Vec<T>> {
    let mut values = Vec::with_capacity(n);
    let mut bytes = vec![0u8; T::SIZE * 65536];
    let mut left = n;
    while left > 0 {
        let now = left.min(65536);
        input.read_exact(&mut bytes[..now * T::SIZE]).map_err(|e| Error::io("cannot read", e))?;
        values.extend(bytes[..now * T::SIZE].chunks_exact(T::SIZE).map(T::get));
        left -= now;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_files_roundtrip_and_truncation_is_detected() {
        let dir = crate::testdir::TestDir::new();
        let knn = Knn { k: 2, index: vec![0, 1, 1, 0, 2, 1], distance: vec![0.0, 1.5, 0.0, 1.5, 0.0, 2.25] };
        let path = dir.path().join("knn.graph");
        write_knn(&path, &[3, 5, 9], &knn).unwrap();
        assert_eq!(read_knn(&path).unwrap(), (vec![3, 5, 9], knn));
        let g = Graph { row_ptr: vec![0, 2, 3, 4], col: vec![0, 1, 0, 2], weight: vec![1.0, 0.25, 0.25, 1.0] };
        let spath = dir.path().join("snn.graph");
        write_snn(&spath, &[3, 5, 9], &g).unwrap();
        assert_eq!(read_snn(&spath).unwrap(), (vec![3, 5, 9], g));
        let bytes = std::fs::read(&spath).unwrap();
        std::fs::write(&spath, &bytes[..bytes.len() - 1]).unwrap();
        assert!(matches!(read_snn(&spath), Err(Error::Corrupt(_))));
        assert!(matches!(read_knn(&spath), Err(Error::Corrupt(_))));
    }
}
