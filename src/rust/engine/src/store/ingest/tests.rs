//! Tests of the ingest writer.

use super::*;
use crate::input::mtx::{MtxFiles, MtxSource};
use crate::simulate::{simulate_10x, SimOptions};
use crate::testdir::TestDir;
use std::cell::Cell;

#[test]
fn an_interrupt_stops_the_ingest_between_batches() {
    let dir = TestDir::new();
    let sim = dir.path().join("sim");
    simulate_10x(
        &sim,
        &SimOptions {
            n_cells: 3000,
            n_genes: 500,
            ..Default::default()
        },
        Monitor::quiet(),
    )
    .unwrap();
    let open = || MtxSource::open(MtxFiles::in_dir(&sim).unwrap()).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let asked = Cell::new(0);
    let after_two = || {
        asked.set(asked.get() + 1);
        asked.get() > 2
    };
    let err = ingest(
        &mut open(),
        &out,
        &IngestOptions::default(),
        Monitor::new(&after_two, &|_, _, _| ()),
    )
    .err()
    .unwrap();
    assert!(matches!(err, Error::Interrupted), "{err}");
    assert_eq!(asked.get(), 3);
    let out2 = dir.path().join("out2");
    std::fs::create_dir(&out2).unwrap();
    let done = ingest(&mut open(), &out2, &IngestOptions::default(), Monitor::quiet()).unwrap();
    assert_eq!(done.manifest.n_cells, 3000);
}
