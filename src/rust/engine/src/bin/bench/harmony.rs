//! `cellstream-bench harmony PCS META COLUMN OUT [SEED [THREADS]]`: Harmony (defaults) on the
//! numeric columns of the table PCS (CSV or TSV, optionally gzipped, a header row) with the
//! batches of column COLUMN of the table META (same rows); writes the corrected embedding to
//! OUT as CSV and prints the time, clusters, iterations and objective. Environment:
//! `CS_CENTROIDS` a table of starting centroids (clusters x dims), `CS_ITERATIONS` that many
//! iterations without the convergence check (to compare with a peer's run step by step).

use cellstream_engine::harmony::{harmonize, Batches, HarmonyOptions};
use cellstream_engine::monitor::Monitor;
use std::io::Read;
use std::time::Instant;

/// Header and rows of a CSV / TSV file, gzipped or not.
fn table(path: &str) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(|e| format!("{path}: {e}"))?;
    let text = if path.ends_with(".gz") {
        let mut out = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut out)
            .map_err(|e| format!("{path}: {e}"))?;
        out
    } else {
        String::from_utf8(raw).map_err(|e| format!("{path}: {e}"))?
    };
    let separator = if path.contains(".tsv") { '\t' } else { ',' };
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let split = |l: &str| -> Vec<String> {
        l.split(separator)
            .map(|f| f.trim_matches('"').to_string())
            .collect()
    };
    let header = split(lines.next().ok_or(format!("{path} is empty"))?);
    Ok((header, lines.map(split).collect()))
}

pub fn bench(args: &[String]) -> Result<(), String> {
    let (pcs_path, meta_path, column, out) = (&args[0], &args[1], &args[2], &args[3]);
    let seed: u64 = args.get(4).map_or(Ok(0), |s| s.parse()).map_err(|_| "SEED")?;
    if let Some(threads) = args.get(5) {
        let threads: usize = threads.parse().map_err(|_| "THREADS")?;
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| e.to_string())?;
    }
    let (_, rows) = table(pcs_path)?;
    let numeric: Vec<usize> = (0..rows[0].len())
        .filter(|&c| rows[0][c].parse::<f64>().is_ok())
        .collect();
    let dims = numeric.len();
    let data: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            numeric
                .iter()
                .map(move |&c| r[c].parse::<f64>().unwrap_or(f64::NAN))
        })
        .collect();
    let (header, meta) = table(meta_path)?;
    let at = header
        .iter()
        .position(|h| h == column)
        .ok_or(format!("no column {column} in {meta_path}"))?;
    let mut names: Vec<&str> = meta.iter().map(|r| r[at].as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let codes: Vec<u32> = meta
        .iter()
        .map(|r| names.binary_search(&r[at].as_str()).expect("a listed name") as u32)
        .collect();
    let batches = Batches {
        codes: vec![codes],
        counts: vec![names.len()],
    };
    let mut options = HarmonyOptions {
        seed,
        ..Default::default()
    };
    if let Ok(path) = std::env::var("CS_CENTROIDS") {
        let (_, rows) = table(&path)?;
        options.centroids = Some(
            rows.iter()
                .flatten()
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect(),
        );
    }
    if let Some(n) = std::env::var("CS_ITERATIONS").ok().and_then(|v| v.parse().ok()) {
        options.max_iterations = n;
        options.epsilon_harmony = f64::NEG_INFINITY;
    }
    let t = Instant::now();
    let h = harmonize(&data, dims, &batches, &options, Monitor::quiet()).map_err(|e| e.to_string())?;
    println!(
        "harmony: {} cells x {dims} dims, {} batches, {} clusters, {} iterations (converged: {}), {:.2} s, {} threads; objective {:?}",
        rows.len(),
        names.len(),
        h.n_clusters,
        h.iterations,
        h.converged,
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads(),
        h.objective
    );
    let mut text = (1..=dims).map(|d| format!("PC{d}")).collect::<Vec<_>>().join(",") + "\n";
    for row in h.embedding.chunks(dims) {
        text += &row
            .iter()
            .map(|v| format!("{v:.10e}"))
            .collect::<Vec<_>>()
            .join(",");
        text.push('\n');
    }
    std::fs::write(out, text).map_err(|e| e.to_string())
}
