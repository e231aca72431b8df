//! 10x MTX reader (v2: matrix.mtx, genes.tsv, barcodes.tsv; v3: the same gzipped with
//! features.tsv.gz). The matrix is genes x cells; entries must be grouped by cell in
//! increasing column order, as Cell Ranger writes them. A thread decompresses/reads blocks of
//! text while rayon parses the previous ones.

use crate::error::{check, Error, Interrupt, IoContext, Result};
use crate::source::{first_repeat, CellBatch, CellSource, Features, Labels};
use crate::regroup::{sort_within_cells, CellBlocks, CELL_BLOCK_ENTRIES};
use crate::textio::{open_maybe_gz, read_tsv};
use rayon::prelude::*;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

const BLOCK_BYTES: usize = 4 << 20;
const BLOCKS_PER_BATCH: usize = 8;

/// The three files of a 10x matrix directory.
#[derive(Debug, Clone)]
pub struct MtxFiles {
    pub matrix: PathBuf,
    pub features: PathBuf,
    pub barcodes: PathBuf,
}

impl MtxFiles {
    /// Finds matrix.mtx[.gz], features.tsv[.gz] or genes.tsv[.gz], barcodes.tsv[.gz] in `dir`.
    pub fn in_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Input(format!("'{}' is not a directory", dir.display())));
        }
        let find = |names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| p.is_file());
        let missing = |what: &str| {
            Error::Input(format!("'{}' has no {what} file; a 10x matrix directory holds matrix.mtx(.gz), features.tsv(.gz) or genes.tsv, and barcodes.tsv(.gz)", dir.display()))
        };
        Ok(MtxFiles {
            matrix: find(&["matrix.mtx.gz", "matrix.mtx"]).ok_or_else(|| missing("matrix.mtx"))?,
            features: find(&["features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"])
                .ok_or_else(|| missing("features.tsv / genes.tsv"))?,
            barcodes: find(&["barcodes.tsv.gz", "barcodes.tsv"]).ok_or_else(|| missing("barcodes.tsv"))?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Integer,
    Real,
}

#[derive(Debug, Clone, Copy)]
struct Header {
    n_genes: u64,
    n_cells: u64,
    nnz: u64,
    field: Field,
    lines: u64,
}

pub struct MtxSource {
    files: MtxFiles,
    labels: Labels,
    /// Set once an unsorted file has been grouped by cell into temporary block files.
    by_cell: Option<CellBlocks>,
    cell_block_entries: u64,
}

impl MtxSource {
    pub fn open(files: MtxFiles) -> Result<Self> {
        for p in [&files.matrix, &files.features, &files.barcodes] {
            if !p.is_file() {
                return Err(Error::Input(format!("file '{}' does not exist", p.display())));
            }
        }
        let (header, _) = read_header(&files.matrix)?;
        let features = read_features(&files.features)?;
        let cell_ids = read_barcodes(&files.barcodes)?;
        if features.len() as u64 != header.n_genes || cell_ids.len() as u64 != header.n_cells {
            return Err(Error::Input(format!(
                "dimension mismatch: '{}' declares {} genes x {} cells, but '{}' lists {} features and '{}' lists {} barcodes",
                files.matrix.display(), header.n_genes, header.n_cells,
                files.features.display(), features.len(), files.barcodes.display(), cell_ids.len()
            )));
        }
        if header.n_cells == 0 || header.n_genes == 0 || header.nnz == 0 {
            return Err(Error::Input(format!("'{}' is an empty matrix ({} genes x {} cells, {} non-zeros)", files.matrix.display(), header.n_genes, header.n_cells, header.nnz)));
        }
        Ok(MtxSource { files, labels: Labels { cell_ids, features, ..Default::default() }, by_cell: None, cell_block_entries: CELL_BLOCK_ENTRIES })
    }
}

fn read_features(path: &Path) -> Result<Features> {
    let mut f = Features::default();
    for row in read_tsv(path)? {
        let id = row[0].clone();
        f.symbols.push(row.get(1).cloned().unwrap_or_else(|| id.clone()));
        f.types.push(row.get(2).cloned().unwrap_or_else(|| "Gene Expression".to_owned()));
        f.ids.push(id);
    }
    if let Some(n) = first_repeat(&f.ids) {
        return Err(Error::Input(format!("'{}' line {}: gene id '{}' appears twice; gene ids must be unique", path.display(), n + 1, f.ids[n])));
    }
    Ok(f)
}

fn read_barcodes(path: &Path) -> Result<Vec<String>> {
    let ids: Vec<String> = read_tsv(path)?.into_iter().map(|mut row| row.swap_remove(0)).collect();
    if let Some(n) = first_repeat(&ids) {
        return Err(Error::Input(format!("'{}' line {}: barcode '{}' appears twice; barcodes must be unique", path.display(), n + 1, ids[n])));
    }
    Ok(ids)
}

/// Parses the banner, comments and size line; returns them and the reader positioned after.
fn read_header(path: &Path) -> Result<(Header, BufReader<Box<dyn Read + Send>>)> {
    let mut reader = BufReader::with_capacity(1 << 20, open_maybe_gz(path)?);
    let bad = |what: String| Error::Input(format!("'{}' is not a valid MatrixMarket file: {what}", path.display()));
    let mut line = String::new();
    let mut lines = 0u64;
    let mut next_line = |line: &mut String, reader: &mut BufReader<Box<dyn Read + Send>>| -> Result<bool> {
        line.clear();
        lines += 1;
        Ok(reader.read_line(line).ctx("cannot read", path)? > 0)
    };
    if !next_line(&mut line, &mut reader).map_err(|_| bad("it is not text".into()))? {
        return Err(bad("the file is empty".into()));
    }
    let banner: Vec<String> = line.split_whitespace().map(|w| w.to_ascii_lowercase()).collect();
    if banner.len() < 5 || banner[0] != "%%matrixmarket" || banner[1] != "matrix" {
        return Err(bad("the first line must start with '%%MatrixMarket matrix'".into()));
    }
    if banner[2] != "coordinate" {
        return Err(bad(format!("'{}' (dense) storage is not supported; 10x files use 'coordinate'", banner[2])));
    }
    let field = match banner[3].as_str() {
        "integer" => Field::Integer,
        "real" | "double" => Field::Real,
        other => return Err(bad(format!("value type '{other}' cannot hold counts (need integer or real)"))),
    };
    if banner[4] != "general" {
        return Err(bad(format!("symmetry '{}' is not supported; count matrices are 'general'", banner[4])));
    }
    loop {
        if !next_line(&mut line, &mut reader)? {
            return Err(bad("the size line is missing".into()));
        }
        if !line.starts_with('%') && !line.trim().is_empty() {
            break;
        }
    }
    let size: Vec<u64> = line.split_whitespace().map(|w| w.parse::<u64>()).collect::<std::result::Result<_, _>>()
        .map_err(|_| bad(format!("size line '{}' must be three integers (rows, columns, non-zeros)", line.trim())))?;
    if size.len() != 3 {
        return Err(bad(format!("size line '{}' must be three integers (rows, columns, non-zeros)", line.trim())));
    }
    if size[0] > u32::MAX as u64 || size[1] > u32::MAX as u64 {
        return Err(bad("more than 2^32 genes or cells".into()));
    }
    Ok((Header { n_genes: size[0], n_cells: size[1], nnz: size[2], field, lines }, reader))
}

/// Entries parsed from one block of text (0-based gene and cell).
#[derive(Default)]
struct Parsed {
    genes: Vec<u32>,
    cells: Vec<u32>,
    counts: Vec<u32>,
    lines: u64,
    data_lines: u64,
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
        let mut fields = line.split(|b| *b == b' ' || *b == b'\t').filter(|f| !f.is_empty());
        let (g, c, v) = match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some(g), Some(c), Some(v), None) => (g, c, v),
            _ => return Err((p.lines, "expected three fields: gene, cell, count".into())),
        };
        let index = |f: &[u8], n: u64, what: &str| -> std::result::Result<u32, (u64, String)> {
            match parse_u64(f) {
                Some(i) if i >= 1 && i <= n => Ok((i - 1) as u32),
                _ => Err((p.lines, format!("{what} index '{}' is outside 1..{n} declared in the header", String::from_utf8_lossy(f)))),
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
    f.iter().try_fold(0u64, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64))
}

fn parse_count(f: &[u8], field: Field) -> std::result::Result<u32, String> {
    let shown = || String::from_utf8_lossy(f).into_owned();
    if let Some(v) = parse_u64(f) {
        return u32::try_from(v).map_err(|_| format!("count {} exceeds 4,294,967,295", shown()));
    }
    let v: f64 = std::str::from_utf8(f).ok().and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("count '{}' is not a number", shown()))?;
    if v < 0.0 {
        return Err(format!("count {} is negative; cellstream needs raw UMI counts", shown()));
    }
    if field == Field::Integer || v.fract() != 0.0 || !v.is_finite() {
        return Err(format!("count {} is not a whole number; cellstream needs raw (integer) UMI counts, not normalised values", shown()));
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
                        let _ = tx.send(Err(Error::io(format!("cannot read '{}' (truncated or damaged?)", path.display()), e)));
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
    Ok(BlockReader { blocks: rx, thread: handle, header })
}

/// Groups parsed entries into whole cells, enforcing increasing cell order.
struct CellGrouper {
    last_cell: Option<u32>,
    pending: Parsed,
}

impl CellGrouper {
    /// Appends entries; returns the batch of cells that are complete (all but the last cell
    /// seen, unless `end`). Sorting within cells and duplicate detection happen in parallel.
    fn push(&mut self, parsed: Vec<Parsed>, end: bool, path: &Path, near_line: u64) -> Result<CellBatch> {
        for block in parsed {
            for k in 0..block.cells.len() {
                let cell = block.cells[k];
                if let Some(last) = self.last_cell {
                    if cell < last {
                        return Err(Error::NotGroupedByCell(format!(
                            "'{}': entries are not grouped by cell in increasing column order (column {} after column {}, near line {})",
                            path.display(), cell + 1, last + 1, near_line
                        )));
                    }
                }
                self.last_cell = Some(cell);
                self.pending.genes.push(block.genes[k]);
                self.pending.cells.push(cell);
                self.pending.counts.push(block.counts[k]);
            }
        }
        let n = self.pending.cells.len();
        let take = if end || n == 0 { n } else { self.pending.cells.iter().rposition(|&c| c != self.pending.cells[n - 1]).map_or(0, |i| i + 1) };
        let mut batch = CellBatch {
            genes: self.pending.genes.drain(..take).collect(),
            counts: self.pending.counts.drain(..take).collect(),
            offsets: vec![0],
            cells: Vec::new(),
        };
        let cells: Vec<u32> = self.pending.cells.drain(..take).collect();
        for (k, &c) in cells.iter().enumerate() {
            if k + 1 == cells.len() || cells[k + 1] != c {
                batch.cells.push(c);
                batch.offsets.push(k + 1);
            }
        }
        sort_within_cells(&mut batch, &path.display().to_string())?;
        Ok(batch)
    }
}

impl CellSource for MtxSource {
    fn describe(&self) -> String {
        self.files.matrix.display().to_string()
    }
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn pass(&mut self, visit: &mut dyn FnMut(CellBatch) -> Result<()>) -> Result<()> {
        let path = self.files.matrix.clone();
        if let Some(blocks) = &self.by_cell {
            return blocks.pass(&path.display().to_string(), visit);
        }
        let mut grouper = CellGrouper { last_cell: None, pending: Parsed::default() };
        for_each_parsed(&path, |parsed, end, near_line| {
            let batch = grouper.push(parsed, end, &path, near_line)?;
            if batch.is_empty() {
                Ok(())
            } else {
                visit(batch)
            }
        })
    }

    /// One pass that writes every entry to the file of its block of cells.
    fn group_by_cell(&mut self, scratch: &Path, interrupted: Interrupt) -> Result<()> {
        let path = self.files.matrix.clone();
        let (header, _) = read_header(&path)?;
        let blocks = CellBlocks::write(scratch, self.labels.cell_ids.len(), header.nnz, self.cell_block_entries, |spill| {
            for_each_parsed(&path, |parsed, _, _| {
                check(interrupted)?;
                for p in parsed {
                    for k in 0..p.cells.len() {
                        spill.push(p.cells[k], p.genes[k], p.counts[k])?;
                    }
                }
                Ok(())
            })
        })?;
        self.by_cell = Some(blocks);
        Ok(())
    }
}

/// Parses the data section in parallel and hands each batch of parsed blocks to `f`, with
/// whether it is the last batch and the number of lines read so far; checks the declared
/// number of non-zeros at the end.
fn for_each_parsed(path: &Path, mut f: impl FnMut(Vec<Parsed>, bool, u64) -> Result<()>) -> Result<()> {
    let BlockReader { blocks: rx, thread: reader, header } = spawn_block_reader(path.to_path_buf())?;
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
                Err((line, why)) => return Err(Error::Input(format!("'{}' line {}: {why}", path.display(), lines_before + line))),
            }
        }
        f(ok, end, lines_before)?;
    }
    drop(rx);
    let _ = reader.join();
    if data_lines != header.nnz {
        return Err(Error::Input(format!(
            "'{}' declares {} non-zeros in its header but holds {data_lines} entries (truncated file or wrong header)",
            path.display(), header.nnz
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{simulate_10x, SimOptions};
    use crate::testdir::TestDir;

    /// (cell, genes, counts) of every cell a pass yields.
    type Cells = Vec<(u32, Vec<u32>, Vec<u32>)>;

    fn all_cells(source: &mut MtxSource) -> Result<Cells> {
        let mut out = Vec::new();
        source.pass(&mut |b: CellBatch| {
            (0..b.len()).for_each(|k| {
                let (c, g, n) = b.cell(k);
                out.push((c, g.to_vec(), n.to_vec()));
            });
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn unsorted_file_is_grouped_by_cell_across_several_blocks() {
        let dir = TestDir::new();
        let sorted = dir.path().join("sorted");
        simulate_10x(&sorted, &SimOptions { n_cells: 300, n_genes: 120, v3: false, ..Default::default() }, &|| false).unwrap();
        let text = std::fs::read_to_string(sorted.join("matrix.mtx")).unwrap();
        // The simulator writes three header lines: banner, a comment, the size line.
        let head: Vec<&str> = text.lines().take(3).collect();
        let mut body: Vec<&str> = text.lines().skip(3).collect();
        body.reverse();
        body.swap(10, 500);
        let shuffled = dir.path().join("shuffled");
        std::fs::create_dir(&shuffled).unwrap();
        std::fs::write(shuffled.join("matrix.mtx"), format!("{}\n{}\n", head.join("\n"), body.join("\n"))).unwrap();
        for f in ["genes.tsv", "barcodes.tsv"] {
            std::fs::copy(sorted.join(f), shuffled.join(f)).unwrap();
        }

        let expected = all_cells(&mut MtxSource::open(MtxFiles::in_dir(&sorted).unwrap()).unwrap()).unwrap();
        let mut source = MtxSource::open(MtxFiles::in_dir(&shuffled).unwrap()).unwrap();
        assert!(matches!(all_cells(&mut source), Err(Error::NotGroupedByCell(_))));
        source.cell_block_entries = 1000;
        source.group_by_cell(&dir.path().join("scratch"), &|| false).unwrap();
        assert!(source.by_cell.as_ref().unwrap().n_blocks() > 5);
        assert_eq!(all_cells(&mut source).unwrap(), expected);
        assert_eq!(all_cells(&mut source).unwrap(), expected, "a second pass gives the same cells");
    }
}
