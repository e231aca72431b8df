//! A chunk file: a fixed header, the lz4-compressed chunks one after another, and an offset
//! table at the end. Cell-major files hold one chunk per cell (CSR), gene-major files one
//! chunk per gene (CSC). Any chunk is one positioned read plus one decompress.
//!
//! Header (64 bytes, little-endian): magic `CSTRCHNK`, version u32, axis u32, n_major u64,
//! n_minor u64, nnz u64, table_offset u64, table_crc u32, store tag u64 (the store it
//! belongs to), header_crc u32 (of bytes 0..60). Table: n_major entries of 24 bytes (offset u64, compressed_len u32,
//! payload_len u32, nnz u32, crc32 of the compressed bytes u32).

use crate::error::{Error, IoContext, Result};
use crate::store::chunk::{self, Chunk};
use half::f16;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"CSTRCHNK";
pub const VERSION: u32 = 2;
const HEADER_LEN: u64 = 64;
const ENTRY_LEN: usize = 24;

/// Which dimension the chunks run along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// One chunk per cell, indices are genes (CSR).
    Cells = 0,
    /// One chunk per gene, indices are cells (CSC).
    Genes = 1,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry {
    pub offset: u64,
    pub compressed_len: u32,
    pub payload_len: u32,
    pub nnz: u32,
    pub crc: u32,
}

impl Entry {
    fn to_bytes(self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.compressed_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.payload_len.to_le_bytes());
        b[16..20].copy_from_slice(&self.nnz.to_le_bytes());
        b[20..24].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8]) -> Self {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        Entry {
            offset: u64::from_le_bytes(b[0..8].try_into().unwrap()),
            compressed_len: u32_at(8),
            payload_len: u32_at(12),
            nnz: u32_at(16),
            crc: u32_at(20),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    axis: Axis,
    n_major: u64,
    n_minor: u64,
    nnz: u64,
    table_offset: u64,
    table_crc: u32,
    store_tag: u64,
}

impl Header {
    fn to_bytes(self) -> [u8; HEADER_LEN as usize] {
        let mut b = [0u8; HEADER_LEN as usize];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(self.axis as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.n_major.to_le_bytes());
        b[24..32].copy_from_slice(&self.n_minor.to_le_bytes());
        b[32..40].copy_from_slice(&self.nnz.to_le_bytes());
        b[40..48].copy_from_slice(&self.table_offset.to_le_bytes());
        b[48..52].copy_from_slice(&self.table_crc.to_le_bytes());
        b[52..60].copy_from_slice(&self.store_tag.to_le_bytes());
        let crc = crc32fast::hash(&b[0..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8], path: &Path) -> Result<Self> {
        let corrupt = |what: &str| Error::Corrupt(format!("'{}' {what}", path.display()));
        if &b[0..8] != MAGIC {
            return Err(corrupt("is not a cellstream chunk file (wrong magic bytes)"));
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let version = u32_at(8);
        if version != VERSION {
            return Err(corrupt(&format!(
                "has format version {version}; this cellstream reads version {VERSION}"
            )));
        }
        if crc32fast::hash(&b[0..60]) != u32_at(60) {
            return Err(corrupt("has a damaged header (checksum mismatch)"));
        }
        let axis = match u32_at(12) {
            0 => Axis::Cells,
            1 => Axis::Genes,
            _ => return Err(corrupt("has an unknown axis")),
        };
        Ok(Header {
            axis,
            n_major: u64_at(16),
            n_minor: u64_at(24),
            nnz: u64_at(32),
            table_offset: u64_at(40),
            table_crc: u32_at(48),
            store_tag: u64_at(52),
        })
    }
}

/// Appends chunks in major order; [`ChunkWriter::finish`] writes the table and the header.
/// Until then the header is all zeros, so a half-written file never opens.
pub struct ChunkWriter {
    path: PathBuf,
    out: BufWriter<File>,
    axis: Axis,
    n_minor: u64,
    store_tag: u64,
    position: u64,
    nnz: u64,
    table: Vec<Entry>,
    payload: Vec<u8>,
}

impl ChunkWriter {
    pub fn create(path: &Path, axis: Axis, n_minor: u64, store_tag: u64) -> Result<Self> {
        let file = File::create(path).ctx("cannot create", path)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&[0u8; HEADER_LEN as usize])
            .ctx("cannot write", path)?;
        Ok(ChunkWriter {
            path: path.to_path_buf(),
            out,
            axis,
            n_minor,
            store_tag,
            position: HEADER_LEN,
            nnz: 0,
            table: Vec::new(),
            payload: Vec::new(),
        })
    }

    /// Appends the next major's non-zeros (indices strictly increasing, below n_minor).
    pub fn push(&mut self, indices: &[u32], counts: &[u32], norm: &[f16]) -> Result<()> {
        chunk::encode(indices, counts, norm, &mut self.payload);
        let compressed = lz4_flex::block::compress(&self.payload);
        self.push_compressed(&compressed, self.payload.len(), indices.len())
    }

    /// Appends a chunk compressed elsewhere (e.g. on a worker thread) by [`compress_chunk`].
    pub fn push_compressed(&mut self, compressed: &[u8], payload_len: usize, nnz: usize) -> Result<()> {
        self.out.write_all(compressed).ctx("cannot write", &self.path)?;
        self.table.push(Entry {
            offset: self.position,
            compressed_len: compressed.len() as u32,
            payload_len: payload_len as u32,
            nnz: nnz as u32,
            crc: crc32fast::hash(compressed),
        });
        self.position += compressed.len() as u64;
        self.nnz += nnz as u64;
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        let mut table = Vec::with_capacity(self.table.len() * ENTRY_LEN);
        self.table
            .iter()
            .for_each(|e| table.extend_from_slice(&e.to_bytes()));
        self.out.write_all(&table).ctx("cannot write", &self.path)?;
        let header = Header {
            axis: self.axis,
            n_major: self.table.len() as u64,
            n_minor: self.n_minor,
            nnz: self.nnz,
            table_offset: self.position,
            table_crc: crc32fast::hash(&table),
            store_tag: self.store_tag,
        };
        let mut file = self
            .out
            .into_inner()
            .map_err(|e| Error::io("cannot flush chunk file", e.into_error()))?;
        file.seek(SeekFrom::Start(0)).ctx("cannot write", &self.path)?;
        file.write_all(&header.to_bytes())
            .ctx("cannot write", &self.path)?;
        file.sync_all().ctx("cannot sync", &self.path)
    }
}

/// Compresses one chunk; returns (compressed bytes, payload length).
pub fn compress_chunk(
    indices: &[u32],
    counts: &[u32],
    norm: &[f16],
    scratch: &mut Vec<u8>,
) -> (Vec<u8>, usize) {
    chunk::encode(indices, counts, norm, scratch);
    (lz4_flex::block::compress(scratch), scratch.len())
}

/// Reusable scratch space for reading chunks (one per thread).
#[derive(Default)]
pub struct ReadBuffers {
    compressed: Vec<u8>,
    payload: Vec<u8>,
}

/// Random and sequential access to a chunk file. Reads are positioned (`pread`), so one
/// reader serves many threads.
pub struct ChunkReader {
    path: PathBuf,
    file: File,
    header: Header,
    table: Vec<Entry>,
}

impl ChunkReader {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).ctx("cannot open", path)?;
        let len = file.metadata().ctx("cannot read", path)?.len();
        let corrupt = |what: &str| Error::Corrupt(format!("'{}' {what}", path.display()));
        if len < HEADER_LEN {
            return Err(corrupt("is truncated (shorter than its header)"));
        }
        let mut head = [0u8; HEADER_LEN as usize];
        file.read_exact_at(&mut head, 0).ctx("cannot read", path)?;
        let header = Header::from_bytes(&head, path)?;
        let table_len = header
            .n_major
            .checked_mul(ENTRY_LEN as u64)
            .ok_or_else(|| corrupt("has a damaged header"))?;
        if header.table_offset.checked_add(table_len) != Some(len) {
            return Err(corrupt("is truncated or has trailing bytes"));
        }
        let mut table_bytes = vec![0u8; table_len as usize];
        file.read_exact_at(&mut table_bytes, header.table_offset)
            .ctx("cannot read", path)?;
        if crc32fast::hash(&table_bytes) != header.table_crc {
            return Err(corrupt("has a damaged offset table (checksum mismatch)"));
        }
        let table: Vec<Entry> = table_bytes
            .chunks_exact(ENTRY_LEN)
            .map(Entry::from_bytes)
            .collect();
        for e in &table {
            if e.offset + e.compressed_len as u64 > header.table_offset {
                return Err(corrupt("has an offset table pointing past its chunks"));
            }
        }
        Ok(ChunkReader {
            path: path.to_path_buf(),
            file,
            header,
            table,
        })
    }

    pub fn axis(&self) -> Axis {
        self.header.axis
    }
    pub fn n_major(&self) -> usize {
        self.header.n_major as usize
    }
    pub fn n_minor(&self) -> usize {
        self.header.n_minor as usize
    }
    pub fn nnz(&self) -> u64 {
        self.header.nnz
    }
    /// The tag of the store the file was written for.
    pub fn store_tag(&self) -> u64 {
        self.header.store_tag
    }
    /// Non-zeros of major `i`, from the table (no read).
    pub fn nnz_of(&self, i: usize) -> u32 {
        self.table[i].nnz
    }

    /// Uncompressed payload size of chunk `i`, from the table (no read).
    pub fn payload_len_of(&self, i: usize) -> u32 {
        self.table[i].payload_len
    }

    fn damaged(&self, i: usize, what: &str) -> Error {
        Error::Corrupt(format!(
            "'{}': chunk {} is damaged ({what}); the store must be re-ingested",
            self.path.display(),
            i + 1
        ))
    }

    /// Reads, verifies and decompresses chunk `i` (not decoded); returns its payload. `buf`
    /// and `payload` are reusable scratch space that only grows, so reading many chunks does
    /// not zero memory again and again.
    pub fn read_payload<'a>(
        &self,
        i: usize,
        buf: &mut Vec<u8>,
        payload: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let entry = *self.table.get(i).ok_or_else(|| {
            Error::Request(format!(
                "index {} is out of range (there are {})",
                i + 1,
                self.n_major()
            ))
        })?;
        let (compressed_len, payload_len) = (entry.compressed_len as usize, entry.payload_len as usize);
        if buf.len() < compressed_len {
            buf.resize(compressed_len, 0);
        }
        if payload.len() < payload_len {
            payload.resize(payload_len, 0);
        }
        let compressed = &mut buf[..compressed_len];
        self.file
            .read_exact_at(compressed, entry.offset)
            .ctx("cannot read", &self.path)?;
        if crc32fast::hash(compressed) != entry.crc {
            return Err(self.damaged(i, "checksum mismatch"));
        }
        match lz4_flex::block::decompress_into(compressed, &mut payload[..payload_len]) {
            Ok(n) if n == payload_len => Ok(&payload[..payload_len]),
            _ => Err(self.damaged(i, "lz4 data")),
        }
    }

    /// Reads, verifies and decodes chunk `i` into `into`; `buf` holds scratch space.
    pub fn read_into(&self, i: usize, buf: &mut ReadBuffers, into: &mut Chunk) -> Result<()> {
        let payload = self.read_payload(i, &mut buf.compressed, &mut buf.payload)?;
        chunk::decode(payload, self.header.n_minor, into).map_err(|e| self.damaged(i, &e.to_string()))?;
        if into.nnz() != self.table[i].nnz as usize {
            return Err(self.damaged(i, "non-zero count differs from the table"));
        }
        Ok(())
    }

    pub fn read(&self, i: usize) -> Result<Chunk> {
        let mut chunk = Chunk::default();
        self.read_into(i, &mut ReadBuffers::default(), &mut chunk)?;
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    type Rows = Vec<(Vec<u32>, Vec<u32>)>;

    fn random_sparse(rng: &mut Xoshiro256PlusPlus, n_major: usize, n_minor: u32, density: f64) -> Rows {
        (0..n_major)
            .map(|_| {
                let indices: Vec<u32> = (0..n_minor).filter(|_| rng.random_bool(density)).collect();
                let counts = indices
                    .iter()
                    .map(|_| {
                        if rng.random_bool(0.02) {
                            rng.random_range(65_536..10_000_000)
                        } else {
                            rng.random_range(1..300)
                        }
                    })
                    .collect();
                (indices, counts)
            })
            .collect()
    }

    fn norm_of(counts: &[u32]) -> Vec<f16> {
        counts
            .iter()
            .map(|&c| f16::from_f64((c as f64).ln_1p()))
            .collect()
    }

    fn write(path: &Path, rows: &Rows, n_minor: u64) {
        let mut w = ChunkWriter::create(path, Axis::Cells, n_minor, 0).unwrap();
        for (i, c) in rows {
            w.push(i, c, &norm_of(c)).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn random_matrices_roundtrip_with_random_access() {
        let dir = crate::testdir::TestDir::new();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for (n_major, n_minor, density) in [(50, 40, 0.3), (200, 1000, 0.01), (10, 5, 0.0), (30, 3, 1.0)] {
            let rows = random_sparse(&mut rng, n_major, n_minor, density);
            let path = dir.path().join("m.chunks");
            write(&path, &rows, n_minor as u64);
            let r = ChunkReader::open(&path).unwrap();
            assert_eq!((r.n_major(), r.n_minor()), (n_major, n_minor as usize));
            assert_eq!(r.nnz(), rows.iter().map(|r| r.0.len() as u64).sum::<u64>());
            for _ in 0..100 {
                let i = rng.random_range(0..n_major);
                let chunk = r.read(i).unwrap();
                assert_eq!(chunk.indices, rows[i].0);
                assert_eq!(chunk.counts, rows[i].1);
                assert_eq!(chunk.norm, norm_of(&rows[i].1));
                assert_eq!(r.nnz_of(i) as usize, rows[i].0.len());
            }
        }
    }

    #[test]
    fn flipped_byte_in_a_chunk_is_detected_and_names_the_chunk() {
        let dir = crate::testdir::TestDir::new();
        let path = dir.path().join("m.chunks");
        let rows = vec![(vec![1, 2, 3], vec![4, 5, 6]), (vec![0, 9], vec![1, 70_000])];
        write(&path, &rows, 10);
        let entry = ChunkReader::open(&path).unwrap().table[1];
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[entry.offset as usize + 2] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let r = ChunkReader::open(&path).unwrap();
        assert_eq!(
            r.read(0).unwrap().counts,
            vec![4, 5, 6],
            "undamaged chunks stay readable"
        );
        let msg = r.read(1).unwrap_err().to_string();
        assert!(msg.contains("chunk 2 is damaged (checksum mismatch)"), "{msg}");
    }

    #[test]
    fn damaged_header_table_or_truncation_refuse_to_open() {
        let dir = crate::testdir::TestDir::new();
        let path = dir.path().join("m.chunks");
        write(&path, &vec![(vec![1], vec![1]); 5], 4);
        let good = std::fs::read(&path).unwrap();
        type Damage = Box<dyn Fn(&mut Vec<u8>)>;
        let cases: [(&str, Damage); 4] = [
            ("wrong magic", Box::new(|b| b[0] = b'X')),
            ("damaged header", Box::new(|b| b[20] ^= 1)),
            (
                "damaged offset table",
                Box::new(|b| {
                    let n = b.len();
                    b[n - 3] ^= 1
                }),
            ),
            ("truncated", Box::new(|b| b.truncate(b.len() - 10))),
        ];
        for (expect, damage) in cases {
            let mut bytes = good.clone();
            damage(&mut bytes);
            std::fs::write(&path, &bytes).unwrap();
            let msg = ChunkReader::open(&path).err().expect(expect).to_string();
            assert!(msg.contains(expect), "{expect}: {msg}");
        }
    }

    #[test]
    fn unfinished_file_never_opens() {
        let dir = crate::testdir::TestDir::new();
        let path = dir.path().join("m.chunks");
        let mut w = ChunkWriter::create(&path, Axis::Genes, 3, 0).unwrap();
        w.push(&[0, 2], &[1, 1], &[f16::ONE, f16::ONE]).unwrap();
        drop(w); // killed before finish()
        assert!(ChunkReader::open(&path)
            .err()
            .unwrap()
            .to_string()
            .contains("wrong magic"));
    }
}
