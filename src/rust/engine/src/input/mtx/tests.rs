//! Tests of the 10x MTX reader.

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
    simulate_10x(
        &sorted,
        &SimOptions {
            n_cells: 300,
            n_genes: 120,
            v3: false,
            ..Default::default()
        },
        Monitor::quiet(),
    )
    .unwrap();
    let text = std::fs::read_to_string(sorted.join("matrix.mtx")).unwrap();
    // The simulator writes three header lines: banner, a comment, the size line.
    let head: Vec<&str> = text.lines().take(3).collect();
    let mut body: Vec<&str> = text.lines().skip(3).collect();
    body.reverse();
    body.swap(10, 500);
    let shuffled = dir.path().join("shuffled");
    std::fs::create_dir(&shuffled).unwrap();
    std::fs::write(
        shuffled.join("matrix.mtx"),
        format!("{}\n{}\n", head.join("\n"), body.join("\n")),
    )
    .unwrap();
    for f in ["genes.tsv", "barcodes.tsv"] {
        std::fs::copy(sorted.join(f), shuffled.join(f)).unwrap();
    }

    let expected = all_cells(&mut MtxSource::open(MtxFiles::in_dir(&sorted).unwrap()).unwrap()).unwrap();
    let mut source = MtxSource::open(MtxFiles::in_dir(&shuffled).unwrap()).unwrap();
    assert!(matches!(all_cells(&mut source), Err(Error::NotGroupedByCell(_))));
    source.cell_block_entries = 1000;
    source
        .group_by_cell(&dir.path().join("scratch"), Monitor::quiet())
        .unwrap();
    assert!(source.by_cell.as_ref().unwrap().n_blocks() > 5);
    assert_eq!(all_cells(&mut source).unwrap(), expected);
    assert_eq!(
        all_cells(&mut source).unwrap(),
        expected,
        "a second pass gives the same cells"
    );
}
