//! Files of per-cell results in a store (`pca.embedding`, `knn.graph`, `snn.graph`,
//! `umap.embedding`), all little-endian: a 64-byte header `magic (8 bytes), n_rows u64, m u64,
//! store tag u64, block_len u32, 24 zero bytes, header CRC-32 u32 (of bytes 0..60)`; the
//! content: the 0-based store index of each row's cell (u32 each, increasing), then the file's
//! own arrays; then one CRC-32 per `block_len` bytes of content. Every block is checked as it
//! is read, so a damaged byte is an error and never a value. Written to a temporary name,
//! synced and renamed, so a reader sees a whole file or none; sizes are checked against the
//! header before anything is allocated.

use crate::error::{Error, IoContext, Result};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

const HEADER_LEN: usize = 64;
const BLOCK_LEN: u32 = 1 << 20;

/// What a result file must match to be read: the store it belongs to and its cells.
pub struct Expect<'a> {
    /// The file's kind as users know it ("knn.graph"), for messages.
    pub name: &'a str,
    pub store_tag: u64,
    pub n_cells: u64,
    /// The call that rewrites the file, for the message when it is damaged.
    pub rerun: &'a str,
}

impl Expect<'_> {
    pub fn damaged(&self, why: &str) -> Error {
        Error::Corrupt(format!("{} is damaged ({why}): rerun {}", self.name, self.rerun))
    }
}

pub fn write(
    path: &Path,
    magic: &[u8; 8],
    store_tag: u64,
    cells: &[u32],
    m: u64,
    body: impl FnOnce(&mut Checksummed<BufWriter<std::fs::File>>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let written = (|| {
        let mut out = BufWriter::new(std::fs::File::create(&tmp).ctx("cannot create", &tmp)?);
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(magic);
        header[8..16].copy_from_slice(&(cells.len() as u64).to_le_bytes());
        header[16..24].copy_from_slice(&m.to_le_bytes());
        header[24..32].copy_from_slice(&store_tag.to_le_bytes());
        header[32..36].copy_from_slice(&BLOCK_LEN.to_le_bytes());
        let crc = crc32fast::hash(&header[..60]);
        header[60..].copy_from_slice(&crc.to_le_bytes());
        out.write_all(&header).ctx("cannot write", &tmp)?;
        let mut content = Checksummed::new(out);
        put(&mut content, cells).ctx("cannot write", &tmp)?;
        body(&mut content).ctx("cannot write", &tmp)?;
        let (mut out, crcs) = content.finish();
        put(&mut out, &crcs).ctx("cannot write", &tmp)?;
        out.into_inner()
            .map_err(|e| Error::io(format!("cannot write '{}'", tmp.display()), e.into_error()))?
            .sync_all()
            .ctx("cannot sync", &tmp)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    std::fs::rename(&tmp, path).ctx("cannot rename", &tmp)
}

/// `body_len(n_rows, m)`: the content bytes after the cells, checked before anything is
/// allocated. The cells must be increasing store indices.
pub fn read<T>(
    path: &Path,
    magic: &[u8; 8],
    expect: &Expect,
    body_len: impl Fn(u64, u64) -> Option<u64>,
    body: impl FnOnce(&mut Verified<BufReader<std::fs::File>>, usize, u64) -> Result<T>,
) -> Result<(Vec<u32>, T)> {
    let mut file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Corrupt(format!(
            "{} is missing from the store: rerun {}",
            expect.name, expect.rerun
        )),
        _ => Error::io(format!("cannot open '{}'", path.display()), e),
    })?;
    let len = file.metadata().ctx("cannot read", path)?.len();
    let mut header = [0u8; HEADER_LEN];
    file.read_exact(&mut header)
        .map_err(|_| expect.damaged("shorter than its header"))?;
    if &header[..8] != magic {
        return Err(expect.damaged("not a file of this kind"));
    }
    if crc32fast::hash(&header[..60]) != u32::from_le_bytes(header[60..].try_into().unwrap()) {
        return Err(expect.damaged("its header fails its checksum"));
    }
    let u64_at = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap());
    let (n, m, tag) = (u64_at(8), u64_at(16), u64_at(24));
    let block_len = u32::from_le_bytes(header[32..36].try_into().unwrap()) as u64;
    if tag != expect.store_tag {
        return Err(Error::Corrupt(format!(
            "{} belongs to another store (it was copied in from elsewhere): rerun {}",
            expect.name, expect.rerun
        )));
    }
    let content = body_len(n, m).and_then(|b| b.checked_add(n.checked_mul(4)?));
    let blocks = content
        .zip(Some(block_len).filter(|&b| b > 0))
        .map(|(c, b)| c.div_ceil(b));
    let expected_len = content
        .zip(blocks)
        .and_then(|(c, b)| (HEADER_LEN as u64).checked_add(c)?.checked_add(b.checked_mul(4)?));
    if n > expect.n_cells || expected_len != Some(len) {
        return Err(expect.damaged("its size does not match its header"));
    }
    let (content, blocks) = (content.unwrap(), blocks.unwrap());
    file.seek(SeekFrom::Start(HEADER_LEN as u64 + content))
        .ctx("cannot read", path)?;
    let crcs = take::<u32>(&mut BufReader::new(&mut file), blocks as usize)
        .map_err(|_| expect.damaged("its checksums cannot be read"))?;
    file.seek(SeekFrom::Start(HEADER_LEN as u64))
        .ctx("cannot read", path)?;
    let mut input = Verified {
        inner: BufReader::with_capacity(1 << 20, file),
        crcs,
        block_len,
        left: content,
        in_block: 0,
        hasher: crc32fast::Hasher::new(),
    };
    let damaged = |e: Error| match e {
        Error::Corrupt(why) if !why.is_empty() => expect.damaged(&why),
        _ => expect.damaged("a block fails its checksum"),
    };
    let cells = take::<u32>(&mut input, n as usize).map_err(damaged)?;
    if cells.windows(2).any(|w| w[0] >= w[1]) || cells.last().is_some_and(|&c| c as u64 >= expect.n_cells) {
        return Err(expect.damaged("its cell indices are not increasing store rows"));
    }
    let value = body(&mut input, n as usize, m).map_err(damaged)?;
    Ok((cells, value))
}

/// A writer that keeps the CRC-32 of every `BLOCK_LEN` bytes written through it.
pub struct Checksummed<W: Write> {
    inner: W,
    crcs: Vec<u32>,
    in_block: u64,
    hasher: crc32fast::Hasher,
}

impl<W: Write> Checksummed<W> {
    fn new(inner: W) -> Self {
        Checksummed {
            inner,
            crcs: Vec::new(),
            in_block: 0,
            hasher: crc32fast::Hasher::new(),
        }
    }

    fn finish(mut self) -> (W, Vec<u32>) {
        if self.in_block > 0 {
            self.crcs.push(self.hasher.finalize());
        }
        (self.inner, self.crcs)
    }
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = (BLOCK_LEN as u64 - self.in_block) as usize;
        let n = self.inner.write(&buf[..buf.len().min(room)])?;
        self.hasher.update(&buf[..n]);
        self.in_block += n as u64;
        if self.in_block == BLOCK_LEN as u64 {
            let hasher = std::mem::replace(&mut self.hasher, crc32fast::Hasher::new());
            self.crcs.push(hasher.finalize());
            self.in_block = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader of a file's content that checks each block against its CRC-32 once it is read
/// whole, and ends at the content's end.
pub struct Verified<R: Read> {
    inner: R,
    crcs: Vec<u32>,
    block_len: u64,
    left: u64,
    in_block: u64,
    hasher: crc32fast::Hasher,
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (buf.len() as u64)
            .min(self.left)
            .min(self.block_len - self.in_block) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.hasher.update(&buf[..n]);
        self.in_block += n as u64;
        self.left -= n as u64;
        if self.in_block == self.block_len || self.left == 0 {
            let block = self.crcs.len() - self.left.div_ceil(self.block_len) as usize - 1;
            let hasher = std::mem::replace(&mut self.hasher, crc32fast::Hasher::new());
            if hasher.finalize() != self.crcs[block] {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("block {} fails its checksum", block + 1),
                ));
            }
            self.in_block = 0;
        }
        Ok(n)
    }
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

/// Reads `n` values; a failed read (a block failing its checksum) is `Corrupt` with the why.
pub fn take<T: Le>(input: &mut impl Read, n: usize) -> Result<Vec<T>> {
    let mut values = Vec::with_capacity(n);
    let mut bytes = vec![0u8; T::SIZE * 65536];
    let mut left = n;
    while left > 0 {
        let now = left.min(65536);
        input.read_exact(&mut bytes[..now * T::SIZE]).map_err(|e| {
            Error::Corrupt(match e.kind() {
                std::io::ErrorKind::InvalidData => e.to_string(),
                _ => "it ends early".into(),
            })
        })?;
        values.extend(bytes[..now * T::SIZE].chunks_exact(T::SIZE).map(T::get));
        left -= now;
    }
    Ok(values)
}
