//! The text of matrix.mtx: its header, and its data section read ahead by a thread and parsed
//! in parallel, block by block.

use crate::error::{Error, IoContext, Result};
use crate::input::textio::open_maybe_gz;
use rayon::prelude::*;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

const BLOCK_BYTES: usize = 4 << 20;
const BLOCKS_PER_BATCH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Integer,
    Real,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    pub(super) n_genes: u64,
    pub(super) n_cells: u64,
    pub(super) nnz: u64,
    pub(super) field: Field,
    pub(super) lines: u64,
}

/// Parses the banner, comments and size line; returns them and the reader positioned after.
pub(super) fn read_header(path: &Path) -> Result<(Header, BufReader<Box<dyn Read + Send>>)> {
    let mut reader = BufReader::with_capacity(1 << 20, open_maybe_gz(path)?);
    let bad = |what: String| {
        Error::Input(format!(
            "'{}' is not a valid MatrixMarket file: {what}",
            path.display()
        ))
    };
    let mut line = String::new();
    let mut lines = 0u64;
    let mut next_line = |line: &mut String, reader: &mut BufReader<Box<dyn Read + Send>>| {
        line.clear();
        lines += 1;
        reader.read_line(line).map(|n| n > 0)
    };
    // Bytes that are not UTF-8 are a file that is not text; other errors (a damaged gzip
    // stream) are reported as they are.
    let first = next_line(&mut line, &mut reader).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData && e.to_string().contains("UTF-8") {
            bad("it is not text".into())
        } else {
            Error::io(format!("cannot read '{}'", path.display()), e)
        }
    })?;
    if !first {
        return Err(bad("the file is empty".into()));
    }
    let banner: Vec<String> = line.split_whitespace().map(|w| w.to_ascii_lowercase()).collect();
    if banner.len() < 5 || banner[0] != "%%matrixmarket" || banner[1] != "matrix" {
        return Err(bad(
            "the first line must start with '%%MatrixMarket matrix'".into()
        ));
    }
    if banner[2] != "coordinate" {
        return Err(bad(format!(
            "'{}' (dense) storage is not supported; 10x files use 'coordinate'",
            banner[2]
        )));
    }
    let field = match banner[3].as_str() {
        "integer" => Field::Integer,
        "real" | "double" => Field::Real,
        other => {
            return Err(bad(format!(
                "value type '{other}' cannot hold counts (need integer or real)"
            )))
        }
    };
    if banner[4] != "general" {
        return Err(bad(format!(
            "symmetry '{}' is not supported; count matrices are 'general'",
            banner[4]
        )));
    }
    loop {
        if !next_line(&mut line, &mut reader).ctx("cannot read", path)? {
            return Err(bad("the size line is missing".into()));
        }
        if !line.starts_with('%') && !line.trim().is_empty() {
            break;
        }
    }
    let size: Vec<u64> = line
        .split_whitespace()
        .map(|w| w.parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            bad(format!(
                "size line '{}' must be three integers (rows, columns, non-zeros)",
                line.trim()
            ))
        })?;
    if size.len() != 3 {
        return Err(bad(format!(
            "size line '{}' must be three integers (rows, columns, non-zeros)",
            line.trim()
        )));
    }
    if size[0] > u32::MAX as u64 || size[1] > u32::MAX as u64 {
        return Err(bad("more than 2^32 genes or cells".into()));
    }
    Ok((
        Header {
            n_genes: size[0],
            n_cells: size[1],
            nnz: size[2],
            field,
            lines,
        },
        reader,
    ))
}

/// Entries parsed from one block of text (0-based gene and cell).
#[derive(Default)]
pub(super) struct Parsed {
    pub(super) genes: Vec<u32>,
    pub(super) cells: Vec<u32>,
    pub(super) counts: Vec<u32>,
    pub(super) lines: u64,
    pub(super) data_lines: u64,
}

/// A parsed block, or the line number within the block and the reason it is invalid.
type ParsedBlock = std::result::Result<Parsed, (u64, String)>;

/// Parses "gene cell value" lines. Errors carry the line number within the block.
fn parse_block(text: &[u8], h: &Header) -> ParsedBlock {
    let mut p = Parsed::default();
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    for line in text.split(|&b| b == b'\n') {
        p.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        p.data_lines += 1;
        let mut fields = line
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|f| !f.is_empty());
        let (g, c, v) = match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some(g), Some(c), Some(v), None) => (g, c, v),
            _ => return Err((p.lines, "expected three fields: gene, cell, count".into())),
        };
        let index = |f: &[u8], n: u64, what: &str| -> std::result::Result<u32, (u64, String)> {
            match parse_u64(f) {
                Some(i) if i >= 1 && i <= n => Ok((i - 1) as u32),
                _ => Err((
                    p.lines,
                    format!(
                        "{what} index '{}' is outside 1..{n} declared in the header",
                        String::from_utf8_lossy(f)
                    ),
                )),
            }
        };
        let gene = index(g, h.n_genes, "gene (row)")?;
        let cell = index(c, h.n_cells, "cell (column)")?;
        let count = parse_count(v, h.field).map_err(|why| (p.lines, why))?;
        if count > 0 {
            p.genes.push(gene);
            p.cells.push(cell);
            p.counts.push(count);
        }
    }
    Ok(p)
}

fn parse_u64(f: &[u8]) -> Option<u64> {
    if f.is_empty() || f.len() > 19 {
        return None;
    }
    f.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64)
    })
}

fn parse_count(f: &[u8], field: Field) -> std::result::Result<u32, String> {
    let shown = || String::from_utf8_lossy(f).into_owned();
    if let Some(v) = parse_u64(f) {
        return u32::try_from(v).map_err(|_| format!("count {} exceeds 4,294,967,295", shown()));
    }
    let v: f64 = std::str::from_utf8(f)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("count '{}' is not a number", shown()))?;
    if v < 0.0 {
        return Err(format!(
            "count {} is negative; cellstream needs raw UMI counts",
            shown()
        ));
    }
    if field == Field::Integer || v.fract() != 0.0 || !v.is_finite() {
        return Err(format!(
            "count {} is not a whole number; cellstream needs raw (integer) UMI counts, not \
            normalised values",
            shown()
        ));
    }
    if v > u32::MAX as f64 {
        return Err(format!("count {} exceeds 4,294,967,295", shown()));
    }
    Ok(v as u32)
}

/// A thread that reads (and decompresses) the data section ahead of the parser.
struct BlockReader {
    /// Newline-terminated blocks of text, in file order.
    blocks: std::sync::mpsc::Receiver<Result<Vec<u8>>>,
    thread: std::thread::JoinHandle<()>,
    header: Header,
}

fn spawn_block_reader(path: PathBuf) -> Result<BlockReader> {
    let (header, mut reader) = read_header(&path)?;
    let (tx, rx) = sync_channel::<Result<Vec<u8>>>(2 * BLOCKS_PER_BATCH);
    let handle = std::thread::spawn(move || {
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let mut block = std::mem::take(&mut carry);
            let start = block.len();
            block.resize(start + BLOCK_BYTES, 0);
            let mut filled = start;
            while filled < block.len() {
                match reader.read(&mut block[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) => {
                        let _ = tx.send(Err(Error::io(
                            format!("cannot read '{}' (truncated or damaged?)", path.display()),
                            e,
                        )));
                        return;
                    }
                }
            }
            block.truncate(filled);
            let eof = filled < start + BLOCK_BYTES;
            if !eof {
                match block.iter().rposition(|&b| b == b'\n') {
                    Some(cut) => carry = block.split_off(cut + 1),
                    None => {
                        carry = block;
                        continue;
                    }
                }
            }
            if !block.is_empty() && tx.send(Ok(block)).is_err() {
                return;
            }
            if eof {
                return;
            }
        }
    });
    Ok(BlockReader {
        blocks: rx,
        thread: handle,
        header,
    })
}

/// Parses the data section in parallel and hands each batch of parsed blocks to `f`, with
/// whether it is the last batch and the number of lines read so far; checks the declared
/// number of non-zeros at the end.
pub(super) fn for_each_parsed(
    path: &Path,
    mut f: impl FnMut(Vec<Parsed>, bool, u64) -> Result<()>,
) -> Result<()> {
    let BlockReader {
        blocks: rx,
        thread: reader,
        header,
    } = spawn_block_reader(path.to_path_buf())?;
    let mut lines_before = header.lines;
    let mut data_lines = 0u64;
    let mut end = false;
    while !end {
        let mut blocks = Vec::with_capacity(BLOCKS_PER_BATCH);
        while blocks.len() < BLOCKS_PER_BATCH {
            match rx.recv() {
                Ok(block) => blocks.push(block?),
                Err(_) => {
                    end = true;
                    break;
                }
            }
        }
        let parsed: Vec<ParsedBlock> = blocks.par_iter().map(|b| parse_block(b, &header)).collect();
        let mut ok = Vec::with_capacity(parsed.len());
        for p in parsed {
            match p {
                Ok(p) => {
                    lines_before += p.lines;
                    data_lines += p.data_lines;
                    ok.push(p);
                }
                Err((line, why)) => {
                    return Err(Error::Input(format!(
                        "'{}' line {}: {why}",
                        path.display(),
                        lines_before + line
                    )))
                }
            }
        }
        f(ok, end, lines_before)?;
    }
    drop(rx);
    let _ = reader.join();
    if data_lines != header.nnz {
        return Err(Error::Input(format!(
            "'{}' declares {} non-zeros in its header but holds {data_lines} entries (truncated file or \
                wrong header)",
            path.display(),
            header.nnz
        )));
    }
    Ok(())
}
