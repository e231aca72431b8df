//! Damaged inputs: MTX text (random damage and targeted lies), and h5ad files written by
//! cellstream's own writer then damaged. HDF5 is opened as the product opens it, first in a
//! child process (see `input::isolated`), so a crash of the C library is an error here too.

use super::{damage, no_panic, rng};
use crate::frame::{Column, Frame};
use crate::input::h5ad::{H5adOptions, H5adSource};
use crate::input::h5matrix::Rounding;
use crate::input::mtx::{MtxFiles, MtxSource};
use crate::input::CellSource;
use crate::monitor::Monitor;
use crate::output::h5ad::{write_h5ad, FrameOut, H5adContent};
use crate::store::ingest::{ingest, IngestOptions};
use crate::testdir::{simulated_store, TestDir};
use std::fs;
use std::path::Path;

/// Ingests `source` into a fresh folder under `dir`; the error text, if any.
fn ingest_into(dir: &Path, source: crate::error::Result<impl CellSource>) -> Result<u64, String> {
    let mut source = source.map_err(|e| e.to_string())?;
    let out = dir.join("out");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir(&out).unwrap();
    ingest(&mut source, &out, &IngestOptions::default(), Monitor::quiet())
        .map(|done| done.manifest.nnz)
        .map_err(|e| e.to_string())
}

struct Mtx {
    matrix: String,
    features: String,
    barcodes: String,
}

fn valid_mtx() -> Mtx {
    let mut entries = Vec::new();
    for cell in 1..=10 {
        for gene in 1..=12 {
            if (cell * 7 + gene * 3) % 4 == 0 {
                entries.push(format!("{gene} {cell} {}", (cell + gene) % 9 + 1));
            }
        }
    }
    Mtx {
        matrix: format!(
            "%%MatrixMarket matrix coordinate integer general\n%\n12 10 {}\n{}\n",
            entries.len(),
            entries.join("\n")
        ),
        features: (1..=12)
            .map(|g| format!("ENSG{g:03}\tGENE{g}\tGene Expression\n"))
            .collect(),
        barcodes: (1..=10).map(|c| format!("CELL{c:02}-1\n")).collect(),
    }
}

fn write_mtx(dir: &Path, m: &Mtx) -> MtxFiles {
    fs::write(dir.join("matrix.mtx"), &m.matrix).unwrap();
    fs::write(dir.join("features.tsv"), &m.features).unwrap();
    fs::write(dir.join("barcodes.tsv"), &m.barcodes).unwrap();
    MtxFiles::in_dir(dir).unwrap()
}

#[test]
fn randomly_damaged_mtx_inputs_never_panic() {
    let dir = TestDir::new();
    let valid = valid_mtx();
    let files = write_mtx(dir.path(), &valid);
    let truth = ingest_into(dir.path(), MtxSource::open(files)).unwrap();
    let mut rng = rng(21);
    for case in 0..240 {
        let mut m = valid_mtx();
        let part = match case % 3 {
            0 => &mut m.matrix,
            1 => &mut m.features,
            _ => &mut m.barcodes,
        };
        let (bytes, what) = damage(part.as_bytes(), &mut rng);
        *part = String::from_utf8_lossy(&bytes).into_owned();
        let files = write_mtx(dir.path(), &m);
        let case = format!("MTX case {case}, {what}");
        match no_panic(&case, || ingest_into(dir.path(), MtxSource::open(files))) {
            Ok(nnz) => assert!(nnz <= truth + 2, "{case}: {nnz} non-zeros"),
            Err(e) => assert!(!e.is_empty(), "{case}: an empty error"),
        }
    }
}

#[test]
fn mtx_inputs_that_lie_are_refused_with_the_reason() {
    let dir = TestDir::new();
    let v = valid_mtx();
    let header = "%%MatrixMarket matrix coordinate integer general\n";
    let cases: Vec<(&str, Mtx, &str)> = vec![
        (
            "more entries announced than given",
            Mtx {
                matrix: v.matrix.replacen("12 10 ", "12 10 9", 1),
                ..valid_mtx()
            },
            "matrix.mtx",
        ),
        (
            "gene index beyond the shape",
            Mtx {
                matrix: format!("{header}12 10 1\n13 1 5\n"),
                ..valid_mtx()
            },
            "matrix.mtx",
        ),
        (
            "zero index",
            Mtx {
                matrix: format!("{header}12 10 1\n0 1 5\n"),
                ..valid_mtx()
            },
            "matrix.mtx",
        ),
        (
            "cell index beyond the shape",
            Mtx {
                matrix: format!("{header}12 10 1\n1 11 5\n"),
                ..valid_mtx()
            },
            "matrix.mtx",
        ),
        (
            "shape disagreeing with the genes",
            Mtx {
                matrix: format!("{header}11 10 1\n1 1 5\n"),
                ..valid_mtx()
            },
            "features",
        ),
        (
            "negative count",
            Mtx {
                matrix: format!("{header}12 10 1\n1 1 -5\n"),
                ..valid_mtx()
            },
            "matrix.mtx",
        ),
        (
            "complex values",
            Mtx {
                matrix: v.matrix.replace("integer", "complex"),
                ..valid_mtx()
            },
            "complex",
        ),
        (
            "dense array layout",
            Mtx {
                matrix: "%%MatrixMarket matrix array integer general\n12 10\n1\n".into(),
                ..valid_mtx()
            },
            "array",
        ),
        (
            "empty matrix file",
            Mtx {
                matrix: String::new(),
                ..valid_mtx()
            },
            "matrix.mtx",
        ),
        (
            "NUL byte in a barcode",
            Mtx {
                barcodes: v.barcodes.replacen("CELL03", "CE\0L03", 1),
                ..valid_mtx()
            },
            "NUL byte",
        ),
        (
            "NUL byte in a gene id",
            Mtx {
                features: v.features.replacen("ENSG004", "EN\0G004", 1),
                ..valid_mtx()
            },
            "NUL byte",
        ),
        (
            "repeated barcode",
            Mtx {
                barcodes: v.barcodes.replacen("CELL03", "CELL02", 1),
                ..valid_mtx()
            },
            "appears twice",
        ),
        (
            "repeated gene id",
            Mtx {
                features: v.features.replacen("ENSG004", "ENSG003", 1),
                ..valid_mtx()
            },
            "appears twice",
        ),
    ];
    for (what, m, expected) in cases {
        let files = write_mtx(dir.path(), &m);
        let err = no_panic(what, || ingest_into(dir.path(), MtxSource::open(files)))
            .expect_err(what)
            .to_lowercase();
        assert!(err.contains(&expected.to_lowercase()), "{what}: {err}");
    }
}

/// An h5ad file of a small simulated store, with a text and a categorical obs column.
fn h5ad_of_store(dir: &TestDir) -> std::path::PathBuf {
    let store = simulated_store(dir, 40, 30);
    let cells: Vec<u32> = (0..store.n_cells() as u32).collect();
    let genes: Vec<u32> = (0..store.n_genes() as u32).collect();
    let cell_ids: Vec<String> = cells.iter().map(|c| format!("cell{c}")).collect();
    let gene_ids: Vec<String> = genes.iter().map(|g| format!("gene{g}")).collect();
    let mut obs = Frame::default();
    obs.push(
        "donor",
        Column::Text(cells.iter().map(|c| Some(format!("d{}", c % 3))).collect()),
    );
    obs.push(
        "group",
        Column::Category {
            codes: cells.iter().map(|c| Some(c % 2)).collect(),
            levels: vec!["a".into(), "b".into()],
            ordered: false,
        },
    );
    let path = dir.path().join("x.h5ad");
    let content = H5adContent {
        cells: &cells,
        genes: &genes,
        obs: FrameOut {
            index: &cell_ids,
            columns: &obs,
        },
        var: FrameOut {
            index: &gene_ids,
            columns: &Frame::default(),
        },
        norm_layer: false,
    };
    write_h5ad(&store, &path, &content, Monitor::quiet()).unwrap();
    path
}

#[test]
fn damaged_h5ad_files_give_an_error_or_a_store_and_never_crash() {
    let dir = TestDir::new();
    let path = h5ad_of_store(&dir);
    let opts = H5adOptions {
        counts: "auto".into(),
        rounding: Rounding::Refuse,
    };
    let truth = ingest_into(dir.path(), H5adSource::open(&path, &opts)).unwrap();
    let original = fs::read(&path).unwrap();
    let mut rng = rng(22);
    let damaged = dir.path().join("damaged.h5ad");
    let mut errors = 0;
    for case in 0..160 {
        let (bytes, what) = damage(&original, &mut rng);
        fs::write(&damaged, &bytes).unwrap();
        let case = format!("h5ad case {case}, {what}");
        match no_panic(&case, || {
            ingest_into(dir.path(), H5adSource::open(&damaged, &opts))
        }) {
            Ok(nnz) => assert!(nnz <= truth + 8, "{case}: {nnz} non-zeros"),
            Err(e) => {
                errors += 1;
                assert!(!e.is_empty(), "{case}: an empty error")
            }
        }
    }
    assert!(errors > 20, "only {errors} of 160 damaged files were refused");
}
