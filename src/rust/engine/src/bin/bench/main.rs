//! Engine benchmarks without R: `cellstream-bench simulate DIR N_CELLS N_GENES`,
//! `cellstream-bench ingest INPUT OUT_DIR` (chunk files only, no DuckDB; INPUT is a 10x MTX
//! directory or an .h5ad file), `cellstream-bench pass INPUT` (one reading pass: the floor of
//! an ingest, which makes two), `cellstream-bench open INPUT.h5ad` (opening an h5ad: names,
//! annotation and matrix layout, first in a child process, then here) and `cellstream-bench read STORE_DIR` (1,000 random cells and
//! 100 random genes), `cellstream-bench passes STORE_DIR` (the QC and pseudobulk passes, the
//! markers pass (9 groups) and the HVG pass, each next to a plain lz4 decompress loop over the
//! same chunks: the floor of any pass),
//! `cellstream-bench graph STORE_DIR METHOD` (kNN k = 20 on 30 PCs of the store's PCA with
//! METHOD exact / hnsw / nndescent, its recall on 2,000 rows, sNN and Leiden at resolution 1),
//! `cellstream-bench umap STORE_DIR` (UMAP from the store's kNN and PCA, 15 neighbours, all
//! threads), `cellstream-bench grn MATRIX_TSV TFS METHOD OUT_TSV [OPTION=VALUE ...]` (a GRN
//! of every gene of a dense genes x cells TSV, first column the gene, already transformed, on
//! the TFs listed one per line in TFS; options n_trees, batch_size, max_depth, max_features,
//! subsample, seed, threads, first_target (targets are the genes from that row on); writes arboreto's `TF target importance`),
//! `cellstream-bench gpu N [DIMS] [ADAPTER]` (exact kNN, UMAP and PCA of N seeded cells on the
//! GPU and on the CPU, each result checked against the CPU's: see `gpu.rs`),
//! `cellstream-bench harmony PCS META COLUMN OUT [SEED [THREADS]]` (Harmony on a table of PCs:
//! see `harmony.rs`).

use cellstream_engine::aggregate::pseudobulk::pseudobulk;
use cellstream_engine::hvg::genestats::CellGroups;
use cellstream_engine::hvg::{find_hvg, Method};
use cellstream_engine::input::h5ad::{H5adOptions, H5adSource};
use cellstream_engine::input::h5matrix::Rounding;
use cellstream_engine::input::mtx::{MtxFiles, MtxSource};
use cellstream_engine::input::{CellBatch, CellSource};
use cellstream_engine::markers::ranks::{Cells, Ranking};
use cellstream_engine::markers::table::Filters;
use cellstream_engine::markers::test::{FoldChange, Test, TestOptions};
use cellstream_engine::markers::{find_markers, MarkerRequest};
use cellstream_engine::monitor::{Meter, Monitor};
use cellstream_engine::qc::cell_qc;
use cellstream_engine::simulate::{simulate_10x, SimOptions};
use cellstream_engine::store::chunkfile::ChunkReader;
use cellstream_engine::store::ingest::{ingest, IngestOptions};
use cellstream_engine::store::manifest::{CELLS_FILE, GENES_FILE};
use cellstream_engine::store::{Layer, Store};
use rand::seq::index::sample;
use rand::SeedableRng;
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;

mod gpu;
mod harmony;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("simulate") if args.len() == 5 => simulate(&args[2], &args[3], &args[4]),
        Some("ingest") if args.len() == 4 => run_ingest(&args[2], &args[3]),
        Some("pass") if args.len() == 3 => pass(&args[2]),
        Some("open") if args.len() == 3 => open(&args[2]),
        Some("read") if args.len() == 3 => read(&args[2]),
        Some("passes") if args.len() == 3 => passes(&args[2]),
        Some("pca") if args.len() == 6 => pca(&args[2], &args[3], &args[4], &args[5]),
        Some("graph") if args.len() == 4 => graph(&args[2], &args[3]),
        Some("umap") if args.len() == 3 => umap(&args[2]),
        Some("grn") if args.len() >= 6 => grn(&args[2..]),
        Some("gpu") if (3..=5).contains(&args.len()) => gpu::bench(&args[2..]),
        Some("harmony") if (6..=8).contains(&args.len()) => harmony::bench(&args[2..]),
        _ => Err(
            "usage: cellstream-bench simulate DIR N_CELLS N_GENES | ingest INPUT OUT_DIR | pass INPUT \
            | read STORE_DIR | passes STORE_DIR | pca STORE_DIR CELLS GENES OUT_CSV | graph \
            EMBEDDING_FILE METHOD | umap STORE_DIR | grn MATRIX_TSV TFS METHOD OUT_TSV [OPTION=VALUE ...] \
            | gpu N [DIMS] [ADAPTER] | harmony PCS META COLUMN OUT [SEED [THREADS]]"
                .into(),
        ),
    };
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn simulate(dir: &str, n_cells: &str, n_genes: &str) -> Result<(), String> {
    let o = SimOptions {
        n_cells: n_cells.parse().map_err(|_| "N_CELLS")?,
        n_genes: n_genes.parse().map_err(|_| "N_GENES")?,
        n_clusters: 10,
        median_library: 2500.0,
        ..Default::default()
    };
    let t = Instant::now();
    let sim = simulate_10x(Path::new(dir), &o, Monitor::quiet()).map_err(|e| e.to_string())?;
    println!(
        "simulated {} cells, {} non-zeros in {:.1} s",
        o.n_cells,
        sim.nnz,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn open_input(input: &str) -> Result<Box<dyn CellSource>, String> {
    let path = Path::new(input);
    if input.ends_with(".h5ad") {
        Ok(Box::new(
            H5adSource::open(
                path,
                &H5adOptions {
                    counts: "auto".into(),
                    rounding: Rounding::Refuse,
                },
            )
            .map_err(|e| e.to_string())?,
        ))
    } else {
        Ok(Box::new(
            MtxSource::open(MtxFiles::in_dir(path).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?,
        ))
    }
}

fn pass(input: &str) -> Result<(), String> {
    let t = Instant::now();
    let mut source = open_input(input)?;
    let opened = t.elapsed().as_secs_f64();
    let mut nnz = 0usize;
    source
        .pass(&mut |b: CellBatch| {
            nnz += b.genes.len();
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    println!(
        "opened in {opened:.1} s; one pass over {nnz} non-zeros in {:.1} s",
        t.elapsed().as_secs_f64() - opened
    );
    Ok(())
}

fn run_ingest(input: &str, out: &str) -> Result<(), String> {
    std::fs::create_dir(out).map_err(|e| format!("{out}: {e}"))?;
    let t = Instant::now();
    let mut source = open_input(input)?;
    let done = ingest(
        source.as_mut(),
        Path::new(out),
        &IngestOptions::default(),
        Monitor::quiet(),
    )
    .map_err(|e| e.to_string())?;
    println!(
        "ingested {} cells x {} genes, {} non-zeros in {:.1} s",
        done.manifest.n_cells,
        done.manifest.n_genes,
        done.manifest.nnz,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn read(store: &str) -> Result<(), String> {
    let dir = Path::new(store);
    let cells = ChunkReader::open(&dir.join(CELLS_FILE)).map_err(|e| e.to_string())?;
    let genes = ChunkReader::open(&dir.join(GENES_FILE)).map_err(|e| e.to_string())?;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let pick = |n: usize, k: usize, rng: &mut rand_xoshiro::Xoshiro256PlusPlus| -> Vec<u32> {
        sample(rng, n, k).into_iter().map(|i| i as u32).collect()
    };
    let t = Instant::now();
    let nnz: usize = pick(cells.n_major(), 1000, &mut rng)
        .into_iter()
        .map(|c| cells.read(c as usize).map(|ch| ch.nnz()))
        .sum::<Result<usize, _>>()
        .map_err(|e| e.to_string())?;
    println!(
        "1000 random cells ({nnz} non-zeros), one by one: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let nnz: usize = pick(genes.n_major(), 100, &mut rng)
        .into_iter()
        .map(|g| genes.read(g as usize).map(|ch| ch.nnz()))
        .sum::<Result<usize, _>>()
        .map_err(|e| e.to_string())?;
    println!(
        "100 random genes ({nnz} non-zeros), one by one: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    drop((cells, genes));
    if dir
        .join(cellstream_engine::store::manifest::MANIFEST_FILE)
        .exists()
    {
        let s = Store::open(dir).map_err(|e| e.to_string())?;
        let all_genes: Vec<u32> = (0..s.n_genes() as u32).collect();
        let c = pick(s.n_cells(), 1000, &mut rng);
        let t = Instant::now();
        let m = s
            .submatrix(&c, &all_genes, Layer::Raw)
            .map_err(|e| e.to_string())?;
        println!(
            "submatrix of 1000 random cells x all genes ({} non-zeros): {:.1} ms",
            m.value.len(),
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// Decompresses every chunk of `reader` (rayon, no decoding); returns the payload bytes.
fn lz4_floor(reader: &ChunkReader) -> Result<u64, String> {
    (0..reader.n_major())
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(buf, payload), i| reader.read_payload(i, buf, payload).map(|p| p.len() as u64),
        )
        .sum::<Result<u64, _>>()
        .map_err(|e| e.to_string())
}

fn payload_bytes(reader: &ChunkReader) -> u64 {
    (0..reader.n_major())
        .map(|i| reader.payload_len_of(i) as u64)
        .sum()
}

fn report(what: &str, bytes: u64, seconds: f64) {
    println!(
        "{what}: {seconds:.1} s, {:.2} GB/s decompressed ({:.2} GB)",
        bytes as f64 / seconds / 1e9,
        bytes as f64 / 1e9
    );
}

fn passes(store: &str) -> Result<(), String> {
    let s = Store::open(Path::new(store)).map_err(|e| e.to_string())?;
    let (cells_bytes, genes_bytes) = (payload_bytes(&s.cells), payload_bytes(&s.genes));
    let t = Instant::now();
    lz4_floor(&s.cells)?;
    report(
        "floor, lz4 decompress of cells.chunks",
        cells_bytes,
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    let mt: Vec<u32> = (0..13).collect();
    let qc = cell_qc(&s, &[mt], &[50, 100, 200, 500], Monitor::quiet()).map_err(|e| e.to_string())?;
    report(
        "QC pass (1 gene set, 4 top-N)",
        cells_bytes,
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    let samples: Vec<u32> = (0..s.n_cells() as u32).map(|c| c % 8).collect();
    pseudobulk(&s, &samples, 8, Monitor::quiet()).map_err(|e| e.to_string())?;
    report(
        "pseudobulk pass (8 pseudosamples, all genes)",
        cells_bytes,
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    lz4_floor(&s.genes)?;
    report(
        "floor, lz4 decompress of genes.chunks",
        genes_bytes,
        t.elapsed().as_secs_f64(),
    );
    let group = vec![0u32; s.n_cells()];
    let scale: Vec<f64> = qc
        .n_counts
        .iter()
        .map(|&l| if l > 0 { 1e4 / l as f64 } else { 0.0 })
        .collect();
    let library: Vec<f64> = qc.n_counts.iter().map(|&l| l as f64).collect();
    let groups: Vec<u32> = (0..s.n_cells() as u32).map(|c| c % 9).collect();
    let t = Instant::now();
    let markers = find_markers(
        &s,
        &Cells::new(groups, 9, library, 1e4),
        &MarkerRequest {
            report: &(0..9).collect::<Vec<_>>(),
            ranking: Ranking::Exact,
            test: TestOptions {
                test: Test::Wilcox,
                correct: true,
                tie_correct: true,
                fold_change: FoldChange::SeuratV5,
            },
            filters: Filters {
                logfc_threshold: 0.1,
                min_pct: 0.01,
                only_pos: false,
                return_thresh: Some(0.01),
            },
        },
        Monitor::quiet(),
    )
    .map_err(|e| e.to_string())?;
    report(
        &format!(
            "markers pass (Wilcoxon, 9 groups vs rest, {} rows)",
            markers.len()
        ),
        genes_bytes,
        t.elapsed().as_secs_f64(),
    );
    for method in [Method::Vst, Method::Dispersion] {
        let t = Instant::now();
        find_hvg(
            &s,
            &CellGroups::new(&group, 1, &scale),
            method,
            2000,
            Monitor::quiet(),
        )
        .map_err(|e| e.to_string())?;
        report(
            &format!("HVG pass ({method:?}, all cells)"),
            genes_bytes,
            t.elapsed().as_secs_f64(),
        );
    }
    Ok(())
}

fn indices(spec: &str, n: usize) -> Result<Vec<u32>, String> {
    if spec == "all" {
        return Ok((0..n as u32).collect());
    }
    std::fs::read_to_string(spec)
        .map_err(|e| format!("{spec}: {e}"))?
        .lines()
        .map(|l| l.trim().parse::<u32>().map_err(|e| format!("{spec}: {e}")))
        .collect()
}

fn pca(store: &str, cells: &str, genes: &str, out: &str) -> Result<(), String> {
    use cellstream_engine::pca::{run_pca, PcaOptions, Solver};
    let s = Store::open(Path::new(store)).map_err(|e| e.to_string())?;
    let cells: Vec<usize> = indices(cells, s.n_cells())?
        .into_iter()
        .map(|c| c as usize)
        .collect();
    let library: Vec<f64> = cell_qc(&s, &[], &[], Monitor::quiet())
        .map_err(|e| e.to_string())?
        .n_counts
        .iter()
        .map(|&l| l as f64)
        .collect();
    let genes: Vec<u32> = match genes.strip_prefix("top:") {
        Some(n) => {
            let mut by_counts: Vec<u32> = (0..s.n_genes() as u32).collect();
            by_counts.sort_by_key(|&g| std::cmp::Reverse(s.genes.nnz_of(g as usize)));
            by_counts.truncate(n.parse().map_err(|_| "top:N")?);
            by_counts
        }
        None => indices(genes, s.n_genes())?,
    };
    let mut columns = Vec::new();
    // CS_OVERSAMPLE / CS_BLOCKS override the randomized settings, to measure their effect.
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let randomized = Solver::Randomized {
        oversample: env("CS_OVERSAMPLE", 10),
        blocks: env("CS_BLOCKS", 4),
    };
    for (name, solver) in [("randomized", randomized), ("exact", Solver::Exact)] {
        let t = Instant::now();
        let p = run_pca(
            &s,
            &cells,
            &genes,
            &library,
            1e4,
            &PcaOptions {
                n_pcs: 50,
                scale: true,
                clip: 10.0,
                solver,
                seed: 42,
            },
            None,
            Monitor::quiet(),
        )
        .map_err(|e| e.to_string())?;
        println!(
            "{name}: {} cells x {} genes, 50 PCs in {:.1} s; stdev {:.4} .. {:.4}",
            cells.len(),
            genes.len(),
            t.elapsed().as_secs_f64(),
            p.stdev[0],
            p.stdev[49]
        );
        columns.push(p);
    }
    let mut text = String::new();
    for r in 0..cells.len() {
        let row: Vec<String> = columns
            .iter()
            .flat_map(|p| p.embedding.row(r).iter().map(|v| v.to_string()))
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(out, text).map_err(|e| e.to_string())?;
    let stdev: Vec<String> = columns
        .iter()
        .flat_map(|p| p.stdev.iter().map(|v| v.to_string()))
        .collect();
    std::fs::write(format!("{out}.stdev"), stdev.join("\n")).map_err(|e| e.to_string())
}

/// The store at `dir` and its result file of `kind` (a store holds one per kind once its
/// writer finished; the step records that name them are in DuckDB, which this tool skips).
fn result_file(dir: &str, kind: &str) -> Result<(Store, std::path::PathBuf), String> {
    let store = Store::open(Path::new(dir)).map_err(|e| e.to_string())?;
    let file = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{kind}.")))
        })
        .ok_or(format!("'{dir}' has no {kind}"))?;
    Ok((store, file))
}

fn open(input: &str) -> Result<(), String> {
    let t = Instant::now();
    let opts = H5adOptions {
        counts: "auto".into(),
        rounding: Rounding::Nearest,
    };
    let source = H5adSource::open(Path::new(input), &opts).map_err(|e| e.to_string())?;
    println!(
        "opened {} cells x {} genes in {:.2} s (the same open runs first in a child process)",
        source.labels().cell_ids.len(),
        source.labels().features.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn graph(dir: &str, method: &str) -> Result<(), String> {
    use cellstream_engine::graph::knn::{find_knn, recall, Knn, Method, Metric, HNSW_DEFAULT};
    use cellstream_engine::graph::leiden::{leiden, LeidenOptions, Objective};
    use cellstream_engine::graph::snn::{snn, SnnWeight};
    let (store, file) = result_file(dir, "pca.embedding")?;
    let (_, pcs) =
        cellstream_engine::pca::file::read_embedding(&file, &store.expect("pca.embedding", "run_pca(x)"))
            .map_err(|e| e.to_string())?;
    let dims = 30;
    let data: Vec<f32> = (0..pcs.rows).flat_map(|r| pcs.row(r)[..dims].to_vec()).collect();
    drop(pcs);
    let method = match method {
        "exact" => Method::Exact,
        "hnsw" => HNSW_DEFAULT,
        _ => Method::NnDescent,
    };
    let t = Instant::now();
    let knn = find_knn(&data, dims, 20, method, Metric::Euclidean, 42, &Meter::default())
        .map_err(|e| e.to_string())?;
    println!(
        "kNN {method:?}: {} rows in {:.1} s",
        knn.n_rows(),
        t.elapsed().as_secs_f64()
    );
    // Recall on a sample of rows against their exact neighbours.
    let rows: Vec<usize> = (0..2000).map(|i| i * knn.n_rows() / 2000).collect();
    let exact_rows: Vec<Knn> = rows
        .par_iter()
        .map(|&i| {
            let q = &data[i * dims..(i + 1) * dims];
            let mut d: Vec<(f32, u32)> = data
                .chunks_exact(dims)
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(j, r)| (q.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum(), j as u32))
                .collect();
            d.select_nth_unstable_by(18, |a, b| a.0.total_cmp(&b.0));
            Knn {
                k: 20,
                index: std::iter::once(i as u32)
                    .chain(d[..19].iter().map(|p| p.1))
                    .collect(),
                distance: vec![0.0; 20],
            }
        })
        .collect();
    let sample = |k: &Knn| Knn {
        k: 20,
        index: rows.iter().flat_map(|&i| k.row(i).to_vec()).collect(),
        distance: vec![0.0; 20 * rows.len()],
    };
    let truth = Knn {
        k: 20,
        index: exact_rows.iter().flat_map(|k| k.index.clone()).collect(),
        distance: vec![0.0; 20 * rows.len()],
    };
    println!(
        "recall@20 on {} rows: {:.4}",
        rows.len(),
        recall(&sample(&knn), &truth)
    );
    let t = Instant::now();
    let g =
        snn(&knn, SnnWeight::Jaccard { prune: 1.0 / 15.0 }, &Meter::default()).map_err(|e| e.to_string())?;
    println!(
        "sNN: {} entries in {:.1} s",
        g.col.len(),
        t.elapsed().as_secs_f64()
    );
    drop(knn);
    let t = Instant::now();
    let c = leiden(
        &g,
        &LeidenOptions {
            resolution: 1.0,
            objective: Objective::Modularity,
            seed: 42,
            max_iterations: None,
            randomness: 0.01,
        },
        &Meter::default(),
    )
    .map_err(|e| e.to_string())?;
    println!(
        "Leiden: {} clusters, modularity {:.4}, {} iterations in {:.1} s",
        c.n_clusters,
        c.quality,
        c.iterations,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn umap(store: &str) -> Result<(), String> {
    use cellstream_engine::umap::{umap, Init, UmapOptions};
    let (opened, file) = result_file(store, "knn.graph")?;
    let (_, knn) =
        cellstream_engine::graph::file::read_knn(&file, &opened.expect("knn.graph", "find_neighbors(x)"))
            .map_err(|e| e.to_string())?;
    let (_, file) = result_file(store, "pca.embedding")?;
    let (_, pcs) =
        cellstream_engine::pca::file::read_embedding(&file, &opened.expect("pca.embedding", "run_pca(x)"))
            .map_err(|e| e.to_string())?;
    let options = UmapOptions {
        n_neighbors: 15.min(knn.k),
        min_dist: 0.3,
        spread: 1.0,
        n_epochs: None,
        init: Init::Spectral,
        seed: 42,
        threads: None,
    };
    let t = Instant::now();
    let layout = umap(&knn, &pcs, &options, None, Monitor::quiet()).map_err(|e| e.to_string())?;
    println!(
        "UMAP of {} cells ({} start, {} epochs) in {:.1} s",
        knn.n_rows(),
        layout.init,
        layout.n_epochs,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn grn(args: &[String]) -> Result<(), String> {
    use cellstream_engine::grn::network::edges;
    use cellstream_engine::grn::{fit_targets, Columns, GrnParams, Method as GrnMethod, Regulators};
    let text = std::fs::read_to_string(&args[0]).map_err(|e| format!("{}: {e}", args[0]))?;
    let (mut names, mut rows) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut fields = line.split('\t');
        names.push(fields.next().unwrap_or_default().to_string());
        rows.push(
            fields
                .map(|v| v.parse::<f32>().map_err(|_| format!("not a number: {v}")))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let columns = |genes: &[usize]| {
        let mut out = Columns {
            n_cells: rows[0].len(),
            ptr: vec![0],
            ..Default::default()
        };
        for &g in genes {
            for (c, &v) in rows[g].iter().enumerate().filter(|e| *e.1 != 0.0) {
                out.cells.push(c as u32);
                out.values.push(v);
            }
            out.ptr.push(out.cells.len());
        }
        out
    };
    let tf_names = std::fs::read_to_string(&args[1]).map_err(|e| e.to_string())?;
    let tf_genes: Vec<usize> = tf_names
        .split_whitespace()
        .filter_map(|t| names.iter().position(|n| n == t))
        .collect();
    let mut params = GrnParams {
        method: GrnMethod::parse(&args[2]).ok_or(format!("unknown method {}", args[2]))?,
        ..GrnParams::default()
    };
    let (mut threads, mut first_target) = (0, 0);
    for opt in &args[4..] {
        let (k, v) = opt.split_once('=').ok_or("OPTION=VALUE")?;
        let bad = |_: std::num::ParseIntError| format!("bad value in {opt}");
        let badf = |_: std::num::ParseFloatError| format!("bad value in {opt}");
        match k {
            "n_trees" => params.n_trees = v.parse().map_err(bad)?,
            "batch_size" => params.batch_size = v.parse().map_err(bad)?,
            "max_depth" => params.max_depth = Some(v.parse().map_err(bad)?),
            "max_features" => params.max_features = Some(v.parse().map_err(badf)?),
            "subsample" => params.subsample = Some(v.parse().map_err(badf)?),
            "seed" => params.seed = v.parse().map_err(bad)?,
            "screen_k" => params.screen_k = Some(v.parse().map_err(bad)?),
            "threads" => threads = v.parse().map_err(bad)?,
            "first_target" => first_target = v.parse().map_err(bad)?,
            _ => return Err(format!("unknown option {k}")),
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    let tf_columns = columns(&tf_genes);
    let targets: Vec<usize> = (first_target..names.len()).collect();
    let t = Instant::now();
    let fits = pool.install(|| {
        let regulators = Regulators::new(&tf_columns, &tf_genes, &params).map_err(|e| e.to_string())?;
        fit_targets(&regulators, &columns(&targets), &targets, &params).map_err(|e| e.to_string())
    })?;
    let seconds = t.elapsed().as_secs_f64();
    let mut out = String::from("TF\ttarget\timportance\n");
    for e in edges(&fits) {
        out.push_str(&format!(
            "{}\t{}\t{}\n",
            names[tf_genes[e.tf]], names[e.target], e.importance
        ));
    }
    std::fs::write(&args[3], out).map_err(|e| e.to_string())?;
    let trees: f64 = fits.iter().map(|f| f.fit.n_trees as f64).sum::<f64>() / fits.len() as f64;
    println!(
        "grn {}: {} targets x {} TFs x {} cells in {seconds:.2} s ({:.2} ms per target, {trees:.0} trees per target)",
        args[2],
        targets.len(),
        tf_genes.len(),
        rows[0].len(),
        1e3 * seconds / targets.len() as f64
    );
    Ok(())
}
