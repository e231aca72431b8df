//! Engine benchmarks without R: `cellstream-bench simulate DIR N_CELLS N_GENES`,
//! `cellstream-bench ingest INPUT OUT_DIR` (chunk files only, no DuckDB; INPUT is a 10x MTX
//! directory or an .h5ad file), `cellstream-bench pass INPUT` (one reading pass: the floor of
//! an ingest, which makes two) and `cellstream-bench read STORE_DIR` (1,000 random cells and
//! 100 random genes).

use cellstream_engine::h5ad::{H5adOptions, H5adSource};
use cellstream_engine::h5matrix::Rounding;
use cellstream_engine::ingest::{ingest, IngestOptions};
use cellstream_engine::mtx::{MtxFiles, MtxSource};
use cellstream_engine::source::{CellBatch, CellSource};
use cellstream_engine::simulate::{simulate_10x, SimOptions};
use cellstream_engine::store::{Layer, Store};
use cellstream_engine::chunkfile::ChunkReader;
use cellstream_engine::manifest::{CELLS_FILE, GENES_FILE};
use rand::seq::index::sample;
use rand::SeedableRng;
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("simulate") if args.len() == 5 => simulate(&args[2], &args[3], &args[4]),
        Some("ingest") if args.len() == 4 => run_ingest(&args[2], &args[3]),
        Some("pass") if args.len() == 3 => pass(&args[2]),
        Some("read") if args.len() == 3 => read(&args[2]),
        _ => Err("usage: cellstream-bench simulate DIR N_CELLS N_GENES | ingest INPUT OUT_DIR | pass INPUT | read STORE_DIR".into()),
    };
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn simulate(dir: &str, n_cells: &str, n_genes: &str) -> Result<(), String> {
    let o = SimOptions { n_cells: n_cells.parse().map_err(|_| "N_CELLS")?, n_genes: n_genes.parse().map_err(|_| "N_GENES")?, n_clusters: 10, median_library: 2500.0, ..Default::default() };
    let t = Instant::now();
    let sim = simulate_10x(Path::new(dir), &o, &|| false).map_err(|e| e.to_string())?;
    println!("simulated {} cells, {} non-zeros in {:.1} s", o.n_cells, sim.nnz, t.elapsed().as_secs_f64());
    Ok(())
}

fn open_input(input: &str) -> Result<Box<dyn CellSource>, String> {
    let path = Path::new(input);
    if input.ends_with(".h5ad") {
        Ok(Box::new(H5adSource::open(path, &H5adOptions { counts: "auto".into(), rounding: Rounding::Refuse }).map_err(|e| e.to_string())?))
    } else {
        Ok(Box::new(MtxSource::open(MtxFiles::in_dir(path).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?))
    }
}

fn pass(input: &str) -> Result<(), String> {
    let t = Instant::now();
    let mut source = open_input(input)?;
    let opened = t.elapsed().as_secs_f64();
    let mut nnz = 0usize;
    source.pass(&mut |b: CellBatch| {
        nnz += b.genes.len();
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    println!("opened in {opened:.1} s; one pass over {nnz} non-zeros in {:.1} s", t.elapsed().as_secs_f64() - opened);
    Ok(())
}

fn run_ingest(input: &str, out: &str) -> Result<(), String> {
    std::fs::create_dir(out).map_err(|e| format!("{out}: {e}"))?;
    let t = Instant::now();
    let mut source = open_input(input)?;
    let done = ingest(source.as_mut(), Path::new(out), &IngestOptions::default(), &|| false).map_err(|e| e.to_string())?;
    println!("ingested {} cells x {} genes, {} non-zeros in {:.1} s", done.manifest.n_cells, done.manifest.n_genes, done.manifest.nnz, t.elapsed().as_secs_f64());
    Ok(())
}

fn read(store: &str) -> Result<(), String> {
    let dir = Path::new(store);
    let cells = ChunkReader::open(&dir.join(CELLS_FILE)).map_err(|e| e.to_string())?;
    let genes = ChunkReader::open(&dir.join(GENES_FILE)).map_err(|e| e.to_string())?;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let pick = |n: usize, k: usize, rng: &mut rand_xoshiro::Xoshiro256PlusPlus| -> Vec<u32> { sample(rng, n, k).into_iter().map(|i| i as u32).collect() };
    let t = Instant::now();
    let nnz: usize = pick(cells.n_major(), 1000, &mut rng).into_iter().map(|c| cells.read(c as usize).map(|ch| ch.nnz())).sum::<Result<usize, _>>().map_err(|e| e.to_string())?;
    println!("1000 random cells ({nnz} non-zeros), one by one: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let nnz: usize = pick(genes.n_major(), 100, &mut rng).into_iter().map(|g| genes.read(g as usize).map(|ch| ch.nnz())).sum::<Result<usize, _>>().map_err(|e| e.to_string())?;
    println!("100 random genes ({nnz} non-zeros), one by one: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    drop((cells, genes));
    if dir.join(cellstream_engine::manifest::MANIFEST_FILE).exists() {
        let s = Store::open(dir).map_err(|e| e.to_string())?;
        let all_genes: Vec<u32> = (0..s.n_genes() as u32).collect();
        let c = pick(s.n_cells(), 1000, &mut rng);
        let t = Instant::now();
        let m = s.submatrix(&c, &all_genes, Layer::Raw).map_err(|e| e.to_string())?;
        println!("submatrix of 1000 random cells x all genes ({} non-zeros): {:.1} ms", m.value.len(), t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(())
}
