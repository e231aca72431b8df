//! Simulated 10x data for tests, examples and the demo.

use super::convert::*;
use super::{guarded, user_interrupted};
use cellstream_engine::monitor::Monitor;
use cellstream_engine::simulate::network::{simulate_network, NetworkOptions, PlantedEdge};
use cellstream_engine::simulate::{barcode, simulate_10x, SimOptions};
use extendr_api::prelude::*;

#[extendr]
fn cs_simulate(
    dir: Robj,
    n_cells: Robj,
    n_genes: Robj,
    n_clusters: Robj,
    seed: Robj,
    median_library: Robj,
    library_sdlog: Robj,
    theta: Robj,
    damaged_fraction: Robj,
    empty_fraction: Robj,
    v3: Robj,
) -> Robj {
    guarded(|| {
        let o = SimOptions {
            n_cells: count(&n_cells, "n_cells")? as usize,
            n_genes: count(&n_genes, "n_genes")? as usize,
            n_clusters: count(&n_clusters, "n_clusters")? as usize,
            seed: count(&seed, "seed")?,
            median_library: number(&median_library, "median_library")?,
            library_sdlog: number(&library_sdlog, "library_sdlog")?,
            theta: number(&theta, "theta")?,
            damaged_fraction: number(&damaged_fraction, "damaged_fraction")?,
            empty_fraction: number(&empty_fraction, "empty_fraction")?,
            v3: flag(&v3, "gzip")?,
        };
        if !(o.theta > 0.0
            && o.median_library > 0.0
            && o.library_sdlog >= 0.0
            && (0.0..=1.0).contains(&o.damaged_fraction))
        {
            return Err(
                "theta and median_library must be positive, library_sdlog >= 0, damaged_fraction \
                within [0, 1]"
                    .into(),
            );
        }
        let sim = simulate_10x(
            &path(&dir, "path")?,
            &o,
            Monitor::new(&user_interrupted, &|_, _, _| ()),
        )
        .map_err(|e| e.to_string())?;
        Ok(list!(
            nnz = sim.nnz as f64,
            cell_id = (0..o.n_cells).map(barcode).collect::<Vec<String>>(),
            cluster = sim
                .cluster
                .iter()
                .map(|c| c.map_or(Rint::na(), |k| Rint::from(k as i32 + 1)))
                .collect::<Integers>(),
            damaged = sim.damaged
        )
        .into())
    })
}

/// A 10x directory of a planted network; returns list(regulator, target, sign).
#[extendr]
fn cs_simulate_network(
    dir: Robj,
    n_cells: Robj,
    n_tfs: Robj,
    n_targets: Robj,
    n_types: Robj,
    median_library: Robj,
    theta: Robj,
    seed: Robj,
) -> Robj {
    guarded(|| {
        let o = NetworkOptions {
            n_cells: count(&n_cells, "n_cells")? as usize,
            n_tfs: count(&n_tfs, "n_tfs")? as usize,
            n_targets: count(&n_targets, "n_targets")? as usize,
            n_types: count(&n_types, "n_types")? as usize,
            median_library: number(&median_library, "median_library")?,
            theta: number(&theta, "theta")?,
            seed: count(&seed, "seed")?,
        };
        let edges = simulate_network(&path(&dir, "path")?, &o).map_err(|e| e.to_string())?;
        let text = |f: &dyn Fn(&PlantedEdge) -> &str| Strings::from_values(edges.iter().map(f));
        Ok(list!(
            regulator = text(&|e| &e.regulator),
            target = text(&|e| &e.target),
            sign = text(&|e| if e.activates { "+" } else { "-" })
        )
        .into())
    })
}

extendr_module! {
    mod simulate;
    fn cs_simulate;
    fn cs_simulate_network;
}
