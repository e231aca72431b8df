//! Opening text inputs that may be gzip-compressed (detected by magic bytes, not by name).

use crate::error::{Error, IoContext, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read + Send>> {
    let mut file = File::open(path).ctx("cannot open", path)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).ctx("cannot read", path)?;
    let file = File::open(path).ctx("cannot open", path)?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            BufReader::with_capacity(1 << 20, file),
        )))
    } else {
        Ok(Box::new(file))
    }
}

/// Reads all non-empty lines of a small text file (barcodes, features), split on tabs.
pub fn read_tsv(path: &Path) -> Result<Vec<Vec<String>>> {
    let reader = BufReader::new(open_maybe_gz(path)?);
    let mut rows = Vec::new();
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line.ctx("cannot read", path)?;
        let line = String::from_utf8(line).map_err(|_| {
            Error::Input(format!(
                "'{}' line {} is not valid UTF-8 text",
                path.display(),
                n + 1
            ))
        })?;
        let line = line.trim_end_matches('\r');
        if !line.is_empty() {
            rows.push(line.split('\t').map(str::to_owned).collect());
        }
    }
    Ok(rows)
}
