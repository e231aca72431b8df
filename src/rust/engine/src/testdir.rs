//! A temporary directory for tests, removed on drop (avoids a dev-dependency, which would
//! change feature resolution and force DuckDB's C++ to be compiled a second time).

use crate::monitor::Monitor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cellstream-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create test directory");
        TestDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store of simulated counts (`n_cells` x `n_genes`, no filters) at `dir/store`.
pub fn simulated_store(dir: &TestDir, n_cells: usize, n_genes: usize) -> crate::store::Store {
    use crate::input::mtx::{MtxFiles, MtxSource};
    use crate::simulate::{simulate_10x, SimOptions};
    use crate::store::ingest::{ingest, IngestOptions};
    use crate::store::manifest::StagedStore;
    let sim = dir.path().join("sim");
    simulate_10x(
        &sim,
        &SimOptions {
            n_cells,
            n_genes,
            ..Default::default()
        },
        Monitor::quiet(),
    )
    .unwrap();
    let target = dir.path().join("store");
    let staged = StagedStore::begin(&target).unwrap();
    let mut source = MtxSource::open(MtxFiles::in_dir(&sim).unwrap()).unwrap();
    let done = ingest(
        &mut source,
        staged.dir(),
        &IngestOptions::default(),
        Monitor::quiet(),
    )
    .unwrap();
    staged.commit(&done.manifest).unwrap();
    crate::store::Store::open(&target).unwrap()
}

/// `n` points in `dims` dimensions around `clusters` well-separated centres (row-major), and
/// each point's true cluster.
pub fn clustered_points(n: usize, dims: usize, clusters: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Normal};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let centres: Vec<f64> = (0..clusters * dims)
        .map(|_| rng.random_range(-20.0..20.0))
        .collect();
    let noise = Normal::new(0.0, 1.0).unwrap();
    let truth: Vec<usize> = (0..n).map(|i| i % clusters).collect();
    let points = truth
        .iter()
        .flat_map(|&c| {
            (0..dims)
                .map(|d| centres[c * dims + d] + noise.sample(&mut rng))
                .collect::<Vec<_>>()
        })
        .collect();
    (points, truth)
}

/// Each cell's library size (total count), from the cell-major chunks.
pub fn library_sizes(store: &crate::store::Store) -> Vec<f64> {
    (0..store.n_cells())
        .map(|c| {
            store
                .cells
                .read(c)
                .unwrap()
                .counts
                .iter()
                .map(|&x| x as f64)
                .sum()
        })
        .collect()
}
