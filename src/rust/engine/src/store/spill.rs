//! Temporary spill files of (u32, u32, u32) little-endian records, one file per block:
//! (cell, gene, count) records bucketed by gene block for the transpose, or by cell block to
//! group an MTX file that is not sorted by cell.

use crate::error::{Error, IoContext, Result};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const RECORD: usize = 12;

pub struct SpillWriter {
    dir: PathBuf,
    files: Vec<BufWriter<File>>,
}

pub fn block_path(dir: &Path, block: usize) -> PathBuf {
    dir.join(format!("block-{block}.bin"))
}

impl SpillWriter {
    /// Creates `dir` and `n_blocks` empty spill files in it.
    pub fn create(dir: &Path, n_blocks: usize) -> Result<Self> {
        std::fs::create_dir(dir).ctx("cannot create", dir)?;
        let files = (0..n_blocks)
            .map(|b| {
                let p = block_path(dir, b);
                File::create(&p)
                    .map(|f| BufWriter::with_capacity(256 << 10, f))
                    .ctx("cannot create", &p)
            })
            .collect::<Result<_>>()?;
        Ok(SpillWriter {
            dir: dir.to_path_buf(),
            files,
        })
    }

    pub fn push(&mut self, block: usize, record: [u32; 3]) -> Result<()> {
        let mut bytes = [0u8; RECORD];
        for (k, v) in record.iter().enumerate() {
            bytes[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
        }
        self.files[block].write_all(&bytes).map_err(|e| {
            Error::io(
                format!("cannot write a temporary file in '{}'", self.dir.display()),
                e,
            )
        })
    }

    pub fn finish(self) -> Result<()> {
        for mut f in self.files {
            f.flush().map_err(|e| {
                Error::io(
                    format!("cannot write a temporary file in '{}'", self.dir.display()),
                    e,
                )
            })?;
        }
        Ok(())
    }
}

/// Calls `f` on every record of block `block` in `dir`, in write order.
pub fn read_block(dir: &Path, block: usize, mut f: impl FnMut([u32; 3])) -> Result<()> {
    let path = block_path(dir, block);
    let mut reader = BufReader::with_capacity(1 << 20, File::open(&path).ctx("cannot open", &path)?);
    let mut buf = vec![0u8; RECORD * 65_536];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]).ctx("cannot read", &path)? {
                0 => break,
                n => filled += n,
            }
        }
        if filled % RECORD != 0 {
            return Err(Error::Corrupt(format!(
                "temporary file '{}' is truncated",
                path.display()
            )));
        }
        for r in buf[..filled].chunks_exact(RECORD) {
            let at = |k: usize| u32::from_le_bytes(r[4 * k..4 * k + 4].try_into().unwrap());
            f([at(0), at(1), at(2)]);
        }
        if filled < buf.len() {
            break;
        }
    }
    Ok(())
}
