//! Exact k nearest neighbours on the GPU. The shader (`knn.wgsl`) finds, in f32, each row's
//! `k + MARGIN` nearest rows by (distance, row number); the CPU then ranks those candidates
//! again in f64 exactly as its own exact search ranks all rows, so the neighbours and
//! distances are the CPU's unless more than `MARGIN` rows sit within f32 rounding of a row's
//! k-th distance.
//!
//! The rows are uploaded once, in chunks that each fit one storage binding; every chunk of
//! query rows meets every chunk of base rows, `BASE_ROWS_PER_DISPATCH` base rows per dispatch:
//! no dispatch runs long enough to trip an operating system's GPU watchdog, and lavapipe was
//! seen to drop invocations of long ones silently (3,000 query x 3,000 base rows x 16
//! dimensions in one dispatch). Every invocation counts itself when it has stored its list,
//! and a count short of the queries is an error, never a result.

use super::Gpu;
use crate::error::{Error, Result};
use crate::graph::knn::{checked_rows, exact_among, in_metric, prepared, Knn, Metric};
use crate::monitor::Meter;
use std::time::Instant;

/// Columns the shader holds per row (workgroup memory: 32 rows of 128 f32).
pub const MAX_DIMS: usize = 128;
/// Candidates the shader keeps per row.
const MAX_CANDIDATES: usize = 64;
/// Candidates beyond k kept against f32 rounding.
const MARGIN: usize = 16;
const WORKGROUP: usize = 64;
const BASE_ROWS_PER_DISPATCH: usize = 1024;
/// Dispatches submitted between two waits for the device: an interrupt is seen within this
/// many.
const DISPATCHES_PER_WAIT: u64 = 8;

/// The shader's parameters (`Params` in knn.wgsl).
#[derive(Clone, Copy)]
struct Params {
    n_queries: u32,
    m: u32,
    first: u32,
    base_offset: u32,
    base_start: u32,
    base_end: u32,
}

impl Params {
    fn bytes(&self) -> Vec<u8> {
        [
            self.n_queries,
            self.m,
            self.first,
            self.base_offset,
            self.base_start,
            self.base_end,
            0,
            0,
        ]
        .map(u32::to_le_bytes)
        .concat()
    }
}

/// Where a GPU search spent its time, in seconds (each phase waits for the device).
#[derive(Debug, Clone, Copy, Default)]
pub struct KnnTimes {
    /// Shader compilation and the rows' upload.
    pub setup: f64,
    pub kernels: f64,
    pub download: f64,
    /// The f64 ranking of the candidates on the CPU.
    pub rank: f64,
}

/// As [`crate::graph::knn::find_knn`] with `Method::Exact`, the distances computed on `gpu`;
/// with the time each phase took.
pub fn exact_knn<T: Copy + Into<f64> + Sync>(
    gpu: &Gpu,
    data: &[T],
    dims: usize,
    k: usize,
    metric: Metric,
    meter: &Meter,
) -> Result<(Knn, KnnTimes)> {
    let n = checked_rows(data, dims, k)?;
    if dims > MAX_DIMS {
        return Err(Error::Request(format!(
            "the GPU neighbour search takes at most {MAX_DIMS} dimensions, not {dims}; use device = \"cpu\""
        )));
    }
    if n > u32::MAX as usize - 1 {
        return Err(Error::Request(format!(
            "too many cells ({n}) for the GPU neighbour search"
        )));
    }
    let rows = prepared(data, dims, metric, |v| v);
    let m = (k + MARGIN).min(MAX_CANDIDATES).min(n);
    let mut times = KnnTimes::default();
    let candidates = candidates(gpu, &rows, dims, m, meter, &mut times)?;
    let ranking = Instant::now();
    let knn = exact_among(&rows, dims, k, meter, |i| {
        candidates[i * m..(i + 1) * m].iter().copied()
    })?;
    times.rank = ranking.elapsed().as_secs_f64();
    Ok((in_metric(knn, metric), times))
}

/// Per row its `m` nearest rows by f32 distance on the GPU (itself among them), `m` per row.
fn candidates(
    gpu: &Gpu,
    rows: &[f64],
    dims: usize,
    m: usize,
    meter: &Meter,
    times: &mut KnnTimes,
) -> Result<Vec<u32>> {
    let n = rows.len() / dims;
    let per_row = (dims * 4).max(m * 4) as u64;
    let max_dispatch_rows = 65_535 * WORKGROUP;
    let chunk_rows = ((gpu.max_binding() / per_row) as usize).clamp(1, max_dispatch_rows);
    let chunks: Vec<std::ops::Range<usize>> = (0..n)
        .step_by(chunk_rows)
        .map(|s| s..(s + chunk_rows).min(n))
        .collect();
    gpu.run("the exact neighbour search", || {
        let mut clock = Instant::now();
        let mut lap = |phase: &mut f64| -> Result<()> {
            gpu.finish()?;
            *phase += clock.elapsed().as_secs_f64();
            clock = Instant::now();
            Ok(())
        };
        let device = gpu.device();
        let source = include_str!("knn.wgsl").replace("{DIMS}", &dims.to_string());
        let pipeline = gpu.pipeline("knn", &source);
        let uploaded: Vec<wgpu::Buffer> = chunks
            .iter()
            .map(|r| {
                let values: Vec<u8> = rows[r.start * dims..r.end * dims]
                    .iter()
                    .flat_map(|&v| (v as f32).to_le_bytes())
                    .collect();
                gpu.upload("rows", &values)
            })
            .collect();
        let params = gpu.uniform("knn params", 32);
        lap(&mut times.setup)?;
        let mut out = vec![0u32; n * m];
        for (queries, query_rows) in uploaded.iter().zip(&chunks) {
            let list_bytes = (query_rows.len() * m * 4) as u64;
            let best_distance = gpu.storage("best distance", list_bytes);
            let best_index = gpu.storage("best index", list_bytes);
            let finished = gpu.storage("finished", 4);
            let mut first = true;
            let mut dispatches = 0u64;
            for (base, base_rows) in uploaded.iter().zip(&chunks) {
                let bind = gpu.bind(
                    &pipeline,
                    &[&params, queries, base, &best_distance, &best_index, &finished],
                );
                for start in (0..base_rows.len()).step_by(BASE_ROWS_PER_DISPATCH) {
                    let p = Params {
                        n_queries: query_rows.len() as u32,
                        m: m as u32,
                        first: first as u32,
                        base_offset: base_rows.start as u32,
                        base_start: start as u32,
                        base_end: (start + BASE_ROWS_PER_DISPATCH).min(base_rows.len()) as u32,
                    };
                    first = false;
                    dispatches += 1;
                    gpu.queue().write_buffer(&params, 0, &p.bytes());
                    let mut encoder = device.create_command_encoder(&Default::default());
                    {
                        let mut pass = encoder.begin_compute_pass(&Default::default());
                        pass.set_pipeline(&pipeline);
                        pass.set_bind_group(0, &bind, &[]);
                        pass.dispatch_workgroups(query_rows.len().div_ceil(WORKGROUP) as u32, 1, 1);
                    }
                    gpu.queue().submit([encoder.finish()]);
                    if dispatches.is_multiple_of(DISPATCHES_PER_WAIT) {
                        gpu.finish()?;
                        meter.check()?;
                    }
                }
            }
            lap(&mut times.kernels)?;
            let count = gpu.download(&finished, 4)?;
            let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]);
            // The counter wraps past 2^32 invocations.
            let expected = (dispatches * query_rows.len() as u64) as u32;
            if count != expected {
                return Err(Error::Request(format!(
                    "the GPU ran {count} of the {expected} neighbour-search invocations asked of it: \
                    its driver dropped work; use device = \"cpu\""
                )));
            }
            let found = gpu.download(&best_index, list_bytes)?;
            for (o, b) in out[query_rows.start * m..query_rows.end * m]
                .iter_mut()
                .zip(found.chunks_exact(4))
            {
                *o = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            lap(&mut times.download)?;
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::Choice;
    use crate::graph::knn::{find_knn, Method};

    /// The software adapter (lavapipe), or None where it is not installed: these tests then
    /// have nothing to run on.
    fn lavapipe() -> Option<Gpu> {
        Gpu::open(&Choice::Named("llvmpipe".into())).ok()
    }

    fn clustered(n: usize, dims: usize, seed: u64) -> Vec<f64> {
        crate::testdir::clustered_points(n, dims, 8, seed).0
    }

    #[test]
    fn gpu_exact_neighbours_equal_the_cpu_ones_in_small_chunks() {
        let Some(mut gpu) = lavapipe() else {
            eprintln!("no lavapipe adapter: skipped");
            return;
        };
        let (n, dims, k) = (3000, 10, 15);
        let mut data = clustered(n, dims, 1);
        // Duplicated rows: ties broken by row number on both paths.
        data.copy_within(0..50 * dims, 100 * dims);
        // 700 rows per chunk: five query chunks, five base chunks, partial last ones.
        gpu.limit_bindings((700 * (k + MARGIN) * 4) as u64);
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let cpu = find_knn(&data, dims, k, Method::Exact, metric, 0, &Meter::default()).unwrap();
            let on_gpu = exact_knn(&gpu, &data, dims, k, metric, &Meter::default())
                .unwrap()
                .0;
            assert_eq!(on_gpu.index, cpu.index, "{metric:?}");
            for (a, b) in on_gpu.distance.iter().zip(&cpu.distance) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-6), "{a} {b}");
            }
        }
    }

    #[test]
    fn twenty_thousand_rows_equal_the_cpu_exact_search_and_repeat_bit_for_bit() {
        let Some(gpu) = lavapipe() else {
            return;
        };
        let (dims, k) = (10, 20);
        let data = clustered(20_000, dims, 3);
        let cpu = find_knn(
            &data,
            dims,
            k,
            Method::Exact,
            Metric::Euclidean,
            0,
            &Meter::default(),
        )
        .unwrap();
        let on_gpu = exact_knn(&gpu, &data, dims, k, Metric::Euclidean, &Meter::default())
            .unwrap()
            .0;
        assert_eq!(on_gpu, cpu);
        let again = exact_knn(&gpu, &data, dims, k, Metric::Euclidean, &Meter::default())
            .unwrap()
            .0;
        assert_eq!(again, on_gpu);
    }

    #[test]
    fn an_interrupt_stops_the_search_and_the_device_stays_usable() {
        use crate::error::Error;
        use crate::monitor::Monitor;
        let Some(gpu) = lavapipe() else {
            return;
        };
        let data = clustered(12_000, 10, 4);
        let (stop, quiet) = (|| true, |_: &str, _: u64, _: u64| ());
        let stopped = Monitor::new(&stop, &quiet).watch("knn", 0, |meter| {
            exact_knn(&gpu, &data, 10, 15, Metric::Euclidean, meter)
        });
        assert!(matches!(stopped, Err(Error::Interrupted)));
        let small = &data[..500 * 10];
        let after = exact_knn(&gpu, small, 10, 15, Metric::Euclidean, &Meter::default())
            .unwrap()
            .0;
        let cpu = find_knn(
            small,
            10,
            15,
            Method::Exact,
            Metric::Euclidean,
            0,
            &Meter::default(),
        )
        .unwrap();
        assert_eq!(after.index, cpu.index);
    }

    #[test]
    fn bad_requests_are_errors() {
        let Some(gpu) = lavapipe() else {
            return;
        };
        let data = clustered(100, MAX_DIMS + 1, 2);
        let e = exact_knn(&gpu, &data, MAX_DIMS + 1, 5, Metric::Euclidean, &Meter::default());
        assert!(e.unwrap_err().to_string().contains("at most 128 dimensions"));
        assert!(Gpu::open(&Choice::Named("no such adapter".into()))
            .err()
            .unwrap()
            .to_string()
            .contains("no GPU adapter"));
    }
}
