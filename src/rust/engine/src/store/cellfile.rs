//! Files of per-cell results in a store (`pca.embedding`, `knn.graph`, `snn.graph`), all
//! little-endian: a 64-byte header `magic (8 bytes), n_rows u64, m u64, 40 zero bytes`, the
//! 0-based store index of each row's cell (u32 each), then the file's own arrays. Written to
//! a temporary name and renamed, so a reader sees a whole file or none; sizes are checked
//! against the header before anything is read.

use crate::error::{Error, IoContext, Result};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const HEADER_LEN: usize = 64;

pub fn write(
    path: &Path,
    magic: &[u8; 8],
    cells: &[u32],
    m: u64,
    body: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut out = BufWriter::new(std::fs::File::create(&tmp).ctx("cannot create", &tmp)?);
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(magic);
    header[8..16].copy_from_slice(&(cells.len() as u64).to_le_bytes());
    header[16..24].copy_from_slice(&m.to_le_bytes());
    out.write_all(&header).ctx("cannot write", &tmp)?;
    put(&mut out, cells).ctx("cannot write", &tmp)?;
    body(&mut out).ctx("cannot write", &tmp)?;
    out.into_inner()
        .map_err(|e| Error::io("cannot flush", e.into_error()))?
        .sync_all()
        .ctx("cannot sync", &tmp)?;
    std::fs::rename(&tmp, path).ctx("cannot rename", &tmp)
}

/// `body_len(n_rows, m)`: the bytes after the cells, checked before anything is allocated;
/// `rerun`: the call that rewrites the file, for the message when it is damaged.
pub fn read<T>(
    path: &Path,
    magic: &[u8; 8],
    body_len: impl Fn(u64, u64) -> u64,
    rerun: &str,
    body: impl FnOnce(&mut BufReader<std::fs::File>, usize, u64) -> Result<T>,
) -> Result<(Vec<u32>, T)> {
    let file = std::fs::File::open(path).ctx("cannot open", path)?;
    let len = file.metadata().ctx("cannot read", path)?.len();
    let mut input = BufReader::with_capacity(1 << 20, file);
    let corrupt = || {
        Error::Corrupt(format!(
            "'{}' is damaged or incomplete; rerun {rerun}",
            path.display()
        ))
    };
    let mut header = [0u8; HEADER_LEN];
    input.read_exact(&mut header).map_err(|_| corrupt())?;
    if &header[..8] != magic {
        return Err(corrupt());
    }
    let n = u64::from_le_bytes(header[8..16].try_into().unwrap()) as usize;
    let m = u64::from_le_bytes(header[16..24].try_into().unwrap());
    if len != HEADER_LEN as u64 + 4 * n as u64 + body_len(n as u64, m) {
        return Err(corrupt());
    }
    let cells = take::<u32>(&mut input, n).map_err(|_| corrupt())?;
    let value = body(&mut input, n, m).map_err(|_| corrupt())?;
    Ok((cells, value))
}

/// Plain numbers written and read as little-endian bytes.
pub trait Le: Copy {
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

pub fn put<T: Le>(out: &mut impl Write, values: &[T]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(T::SIZE * 65536);
    for block in values.chunks(65536) {
        bytes.clear();
        block.iter().for_each(|&v| v.put(&mut bytes));
        out.write_all(&bytes)?;
    }
    Ok(())
}

pub fn take<T: Le>(input: &mut impl Read, n: usize) -> Result<Vec<T>> {
    let mut values = Vec::with_capacity(n);
    let mut bytes = vec![0u8; T::SIZE * 65536];
    let mut left = n;
    while left > 0 {
        let now = left.min(65536);
        input
            .read_exact(&mut bytes[..now * T::SIZE])
            .map_err(|e| Error::io("cannot read", e))?;
        values.extend(bytes[..now * T::SIZE].chunks_exact(T::SIZE).map(T::get));
        left -= now;
    }
    Ok(values)
}
