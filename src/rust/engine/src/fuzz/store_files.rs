//! Damaged store files: both chunk files, the manifest, and each kind of per-cell result file.

use super::{damage, no_panic, rng};
use crate::graph::file::{read_knn, read_snn, write_knn, write_snn};
use crate::graph::knn::Knn;
use crate::pca::file::{read_embedding, write_embedding};
use crate::pca::kernels::Dense;
use crate::store::cellfile::Expect;
use crate::store::chunkfile::ChunkReader;
use crate::store::manifest::{Manifest, CELLS_FILE, GENES_FILE, MANIFEST_FILE};
use crate::testdir::{simulated_store, TestDir};
use rand::Rng;
use std::fs;
use std::path::Path;

const CASES: u64 = 120;

fn all_chunks(path: &Path) -> crate::error::Result<Vec<crate::store::chunk::Chunk>> {
    let r = ChunkReader::open(path)?;
    (0..r.n_major()).map(|i| r.read(i)).collect()
}

#[test]
fn damaged_chunk_files_give_an_error_or_the_right_chunks() {
    let dir = TestDir::new();
    let store = simulated_store(&dir, 80, 40);
    for name in [CELLS_FILE, GENES_FILE] {
        let path = store.path.join(name);
        let original = fs::read(&path).unwrap();
        let truth = all_chunks(&path).unwrap();
        let mut rng = rng(11);
        for case in 0..CASES {
            let (bytes, what) = damage(&original, &mut rng);
            fs::write(&path, &bytes).unwrap();
            let case = format!("{name} case {case}, {what}");
            match no_panic(&case, || {
                (all_chunks(&path), crate::store::Store::open(&store.path).err())
            }) {
                (Ok(chunks), _) => assert_eq!(chunks, truth, "{case}: wrong chunks"),
                (Err(e), _) => assert!(e.to_string().contains(name), "{case}: {e}"),
            }
        }
        fs::write(&path, &original).unwrap();
    }
}

#[test]
fn a_chunk_file_of_another_store_is_refused() {
    let (a, b) = (TestDir::new(), TestDir::new());
    let (sa, sb) = (simulated_store(&a, 30, 25), simulated_store(&b, 30, 25));
    fs::copy(sb.path.join(CELLS_FILE), sa.path.join(CELLS_FILE)).unwrap();
    let err = crate::store::Store::open(&sa.path).err().unwrap().to_string();
    assert!(
        err.contains("cells.chunks") && err.contains("belongs to another store"),
        "{err}"
    );
}

#[test]
fn a_damaged_manifest_gives_an_error_or_the_same_manifest() {
    let dir = TestDir::new();
    let store = simulated_store(&dir, 20, 25);
    let path = store.path.join(MANIFEST_FILE);
    let original = fs::read(&path).unwrap();
    let mut rng = rng(12);
    for case in 0..CASES {
        let (bytes, what) = damage(&original, &mut rng);
        fs::write(&path, &bytes).unwrap();
        let case = format!("manifest case {case}, {what}");
        if let Ok(m) = no_panic(&case, || Manifest::read(&store.path)) {
            assert_eq!(m, store.manifest, "{case}: a changed manifest was accepted");
        }
    }
}

/// Each result file kind: writes it, then reads damaged copies.
fn fuzz_result_file<T: PartialEq + std::fmt::Debug>(
    name: &str,
    write: impl Fn(&Path),
    read: impl Fn(&Path, &Expect) -> crate::error::Result<T>,
    seed: u64,
) {
    let dir = TestDir::new();
    let path = dir.path().join(name);
    write(&path);
    let expect = Expect {
        name,
        store_tag: 42,
        n_cells: 1000,
        rerun: "the step",
    };
    let truth = read(&path, &expect).unwrap();
    let original = fs::read(&path).unwrap();
    let mut rng = rng(seed);
    let mut cases = Vec::new();
    for _ in 0..CASES {
        cases.push(damage(&original, &mut rng));
    }
    // Lying headers with a valid header checksum: rows, columns and block length.
    for (at, value) in [(8, 1u64 << 40), (8, 2), (16, 1 << 33), (16, 0), (32, 1)] {
        let mut bytes = original.clone();
        bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..60]);
        bytes[60..64].copy_from_slice(&crc.to_le_bytes());
        cases.push((
            bytes,
            format!("header field at {at} set to {value}, checksum redone"),
        ));
    }
    for (k, (bytes, what)) in cases.into_iter().enumerate() {
        fs::write(&path, &bytes).unwrap();
        let case = format!("{name} case {k}, {what}");
        match no_panic(&case, || read(&path, &expect)) {
            Ok(value) => assert_eq!(value, truth, "{case}: wrong values"),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("{name} is damaged")) && msg.contains("rerun the step"),
                    "{case}: {msg}"
                );
            }
        }
    }
    let other = Expect {
        store_tag: 7,
        ..expect
    };
    fs::write(&path, &original).unwrap();
    let msg = read(&path, &other).unwrap_err().to_string();
    assert!(msg.contains("belongs to another store"), "{msg}");
}

fn cells(n: usize) -> Vec<u32> {
    (0..n as u32).map(|i| 3 * i + 1).collect()
}

#[test]
fn damaged_result_files_give_an_error_naming_the_file_and_the_step() {
    let mut r = rng(13);
    let rows = 150;
    let data: Vec<f32> = (0..rows * 4).map(|_| r.random_range(-5.0..5.0)).collect();
    let embedding = Dense { rows, k: 4, data };
    fuzz_result_file(
        "pca.embedding",
        |p| {
            let cells: Vec<usize> = cells(rows).iter().map(|&c| c as usize).collect();
            write_embedding(p, 42, &cells, &embedding).unwrap()
        },
        read_embedding,
        14,
    );
    let k = 3;
    let knn = Knn {
        k,
        index: (0..rows * k)
            .map(|i| {
                if i % k == 0 {
                    (i / k) as u32
                } else {
                    r.random_range(0..rows as u32)
                }
            })
            .collect(),
        distance: (0..rows * k).map(|_| r.random_range(0.0..2.0)).collect(),
    };
    fuzz_result_file(
        "knn.graph",
        |p| write_knn(p, 42, &cells(rows), &knn).unwrap(),
        read_knn,
        15,
    );
    let graph = crate::graph::snn::snn(
        &knn,
        crate::graph::snn::SnnWeight::Jaccard { prune: 0.0 },
        &Default::default(),
    )
    .unwrap();
    fuzz_result_file(
        "snn.graph",
        |p| write_snn(p, 42, &cells(rows), &graph).unwrap(),
        read_snn,
        16,
    );
}
