//! PCA's two products on the GPU: the staged matrix X = B - 1 cᵀ is uploaded once in both
//! orientations, in tiles of consecutive cells, and the block Krylov solver (`pca::rsvd`)
//! asks [`ScaledOnGpu`] for X Ω and Xᵀ X V as it asks the CPU's kernels.
//!
//! A tile holds its cells' rows of B twice: compressed rows, for Y = B Ω - 1 (cᵀ Ω)
//! (`pca_times.wgsl`, each output the gather of one row's non-zeros), and compressed columns,
//! for Bᵀ Y (`pca_gram.wgsl`, each output the gather of one gene's non-zeros in the tile,
//! added across tiles with a compensated sum). Neither needs atomics, so a product repeats bit
//! for bit. Xᵀ Y = Bᵀ Y - c (1ᵀ Y) is finished in f64 on the CPU, with 1ᵀ Y = (1ᵀ B) Ω - n cᵀ Ω
//! from B's column sums: only gene-space blocks cross the bus between products.
//!
//! Column and row numbers within a tile are u16 (two per word), so a tile has at most 65,536
//! cells; its per-cell arrays each fit one storage binding ([`Gpu::limit_bindings`] forces
//! smaller tiles in tests). The gene-space blocks (genes x block columns) are bound whole.
//! As in `knn`, every invocation counts itself and a count short of the invocations asked
//! for is an error, never a result.

use super::{context::grid, Gpu};
use crate::error::{Error, Result};
use crate::pca::kernels::{Dense, Products, SparseRows};
use std::cell::Cell;
use std::ops::Range;
use std::time::Instant;

const WORKGROUP: usize = 64;
/// Invocation counters (one per workgroup number modulo this): one counter for all would be
/// a hot spot.
const COUNTERS: usize = 256;
/// Cells per tile at most: a tile's row numbers are u16.
const MAX_TILE_ROWS: usize = 1 << 16;

/// Where the GPU's products spent their time so far, in seconds (each phase waits for the
/// device).
#[derive(Debug, Clone, Copy, Default)]
pub struct PcaTimes {
    /// Building the tiles, compiling the shaders and uploading the matrix.
    pub setup: f64,
    /// Uploading the dense blocks and running the kernels.
    pub kernels: f64,
    pub download: f64,
}

/// One tile: consecutive cells' rows of B as compressed rows and as compressed columns.
struct Tile {
    rows: Range<usize>,
    params: wgpu::Buffer,
    times: wgpu::BindGroup,
    gram: wgpu::BindGroup,
}

/// X = B - 1 cᵀ on the GPU, for products with blocks of at most `most_columns` columns.
pub struct ScaledOnGpu<'a> {
    gpu: &'a Gpu,
    n_rows: usize,
    offset: Vec<f32>,
    /// 1ᵀ B.
    column_sums: Vec<f64>,
    most_columns: usize,
    tiles: Vec<Tile>,
    times_pipeline: wgpu::ComputePipeline,
    gram_pipeline: wgpu::ComputePipeline,
    omega: wgpu::Buffer,
    shift: wgpu::Buffer,
    y: wgpu::Buffer,
    z: wgpu::Buffer,
    z_compensation: wgpu::Buffer,
    counters: wgpu::Buffer,
    spent: Cell<PcaTimes>,
}

fn words<T: Copy>(values: &[T], bytes: impl Fn(T) -> [u8; 4]) -> Vec<u8> {
    let mut out: Vec<u8> = values.iter().flat_map(|&v| bytes(v)).collect();
    // wgpu binds no empty buffer.
    if out.is_empty() {
        out.extend([0; 4]);
    }
    out
}

/// u16 numbers two to a little-endian word.
fn packed(numbers: impl ExactSizeIterator<Item = u16>) -> Vec<u8> {
    let mut out: Vec<u8> = numbers.flat_map(u16::to_le_bytes).collect();
    out.resize(out.len().div_ceil(4).max(1) * 4, 0);
    out
}

fn floats(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Consecutive rows of `b` whose per-cell arrays (`most_columns` f32 per row, an f32 per
/// non-zero) each fit `max_binding` bytes; at least one row per tile.
fn tile_rows(b: &SparseRows, most_columns: usize, max_binding: u64) -> Vec<Range<usize>> {
    let fits = |rows: usize, nnz: usize| {
        rows <= MAX_TILE_ROWS
            && (rows * most_columns * 4) as u64 <= max_binding
            && (nnz * 4) as u64 <= max_binding
    };
    let mut tiles = Vec::new();
    let mut start = 0;
    while start < b.n_rows() {
        let mut end = start + 1;
        while end < b.n_rows() && fits(end + 1 - start, b.row_ptr[end + 1] - b.row_ptr[start]) {
            end += 1;
        }
        tiles.push(start..end);
        start = end;
    }
    tiles
}

impl<'a> ScaledOnGpu<'a> {
    /// Uploads `b` (cells x genes) with offsets `c`.
    pub fn new(gpu: &'a Gpu, b: &SparseRows, c: &[f32], most_columns: usize) -> Result<ScaledOnGpu<'a>> {
        let started = Instant::now();
        let (n_rows, n_cols) = (b.n_rows(), b.n_cols);
        let gene_block = (n_cols * most_columns * 4) as u64;
        let device_limit = gpu.adapter.max_storage_binding.min(gpu.adapter.max_buffer);
        if gene_block > device_limit {
            return Err(Error::Request(format!(
                "{n_cols} genes x {most_columns} columns do not fit one GPU storage binding \
                ({} MiB); use device = \"cpu\"",
                device_limit >> 20
            )));
        }
        let mut column_sums = vec![0f64; n_cols];
        b.col
            .iter()
            .zip(&b.val)
            .for_each(|(&j, &v)| column_sums[j as usize] += v as f64);
        let ranges = tile_rows(b, most_columns, gpu.max_binding());
        let most_rows = ranges.iter().map(|r| r.len()).max().unwrap_or(1);
        gpu.run("uploading the PCA matrix", || {
            let times_pipeline = gpu.pipeline("pca times", include_str!("pca_times.wgsl"));
            let gram_pipeline = gpu.pipeline("pca gram", include_str!("pca_gram.wgsl"));
            let omega = gpu.storage("pca block", gene_block);
            let shift = gpu.storage("pca shift", (most_columns * 4) as u64);
            let y = gpu.storage("pca y", (most_rows * most_columns * 4) as u64);
            let z = gpu.storage("pca z", gene_block);
            let z_compensation = gpu.storage("pca z compensation", gene_block);
            let counters = gpu.storage("pca counters", (COUNTERS * 4) as u64);
            let tiles = ranges
                .into_iter()
                .map(|rows| {
                    let (first, last) = (b.row_ptr[rows.start], b.row_ptr[rows.end]);
                    let row_ptr: Vec<u32> = b.row_ptr[rows.start..=rows.end]
                        .iter()
                        .map(|&p| (p - first) as u32)
                        .collect();
                    let (col_ptr, row_index, column_values) = transposed(b, rows.clone());
                    let params = gpu.uniform("pca params", 16);
                    let row_ptr = gpu.upload("pca row starts", &words(&row_ptr, u32::to_le_bytes));
                    let cols = gpu.upload("pca columns", &packed(b.col[first..last].iter().copied()));
                    let vals = gpu.upload("pca values", &words(&b.val[first..last], f32::to_le_bytes));
                    let col_ptr = gpu.upload("pca column starts", &words(&col_ptr, u32::to_le_bytes));
                    let row_index = gpu.upload("pca rows", &packed(row_index.into_iter()));
                    let column_values =
                        gpu.upload("pca column values", &words(&column_values, f32::to_le_bytes));
                    let times = gpu.bind(
                        &times_pipeline,
                        &[&params, &row_ptr, &cols, &vals, &omega, &shift, &y, &counters],
                    );
                    let gram = gpu.bind(
                        &gram_pipeline,
                        &[
                            &params,
                            &col_ptr,
                            &row_index,
                            &column_values,
                            &y,
                            &z,
                            &z_compensation,
                            &counters,
                        ],
                    );
                    Tile {
                        rows,
                        params,
                        times,
                        gram,
                    }
                })
                .collect();
            gpu.finish()?;
            Ok(ScaledOnGpu {
                gpu,
                n_rows,
                offset: c.to_vec(),
                column_sums,
                most_columns,
                tiles,
                times_pipeline,
                gram_pipeline,
                omega,
                shift,
                y,
                z,
                z_compensation,
                counters,
                spent: Cell::new(PcaTimes {
                    setup: started.elapsed().as_secs_f64(),
                    ..Default::default()
                }),
            })
        })
    }

    pub fn times_spent(&self) -> PcaTimes {
        self.spent.get()
    }

    /// Number of tiles the matrix is held in.
    pub fn n_tiles(&self) -> usize {
        self.tiles.len()
    }

    fn add_time(&self, phase: fn(&mut PcaTimes) -> &mut f64, since: Instant) {
        let mut t = self.spent.get();
        *phase(&mut t) += since.elapsed().as_secs_f64();
        self.spent.set(t);
    }

    /// Writes Ω (n_cols x k) and cᵀ Ω, and each tile's parameters; zeroes the counters.
    /// Returns cᵀ Ω as the kernel uses it.
    fn load_block(&self, omega: &Dense<f32>) -> Result<Vec<f32>> {
        let (n_cols, k) = (self.offset.len(), omega.k);
        if omega.rows != n_cols || k == 0 || k > self.most_columns {
            return Err(Error::Request(format!(
                "a PCA block of {} x {k} does not fit the uploaded {n_cols} genes x {} columns",
                omega.rows, self.most_columns
            )));
        }
        let mut shift = vec![0f64; k];
        for (j, &cj) in self.offset.iter().enumerate() {
            shift
                .iter_mut()
                .zip(omega.row(j))
                .for_each(|(s, &w)| *s += cj as f64 * w as f64);
        }
        let shift: Vec<f32> = shift.iter().map(|&s| s as f32).collect();
        let queue = self.gpu.queue();
        queue.write_buffer(&self.omega, 0, &words(&omega.data, f32::to_le_bytes));
        queue.write_buffer(&self.shift, 0, &words(&shift, f32::to_le_bytes));
        queue.write_buffer(&self.counters, 0, &[0; COUNTERS * 4]);
        for (t, tile) in self.tiles.iter().enumerate() {
            let first_tile = (t == 0) as u32;
            let params = [tile.rows.len() as u32, n_cols as u32, k as u32, first_tile];
            queue.write_buffer(&tile.params, 0, &params.map(u32::to_le_bytes).concat());
        }
        Ok(shift)
    }

    /// Dispatches `threads` invocations of `pipeline` with `group`.
    fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        group: &wgpu::BindGroup,
        threads: usize,
    ) {
        let (x, y) = grid(threads, WORKGROUP);
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// Errors unless the counters add up to `expected` invocations (modulo 2^32, as they wrap).
    fn check_counters(&self, expected: u64) -> Result<()> {
        let bytes = self.gpu.download(&self.counters, (COUNTERS * 4) as u64)?;
        let count = bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .fold(0u32, u32::wrapping_add);
        if count != expected as u32 {
            return Err(Error::Request(format!(
                "the GPU ran {count} of the {} PCA invocations asked of it: its driver dropped \
                work; use device = \"cpu\"",
                expected as u32
            )));
        }
        Ok(())
    }

    fn download_floats(&self, buffer: &wgpu::Buffer, count: usize) -> Result<Vec<f32>> {
        Ok(floats(&self.gpu.download(buffer, (count * 4) as u64)?).collect())
    }
}

/// The rows `rows` of `b` as compressed columns: column starts, row numbers within the
/// tile (ascending in each column), values.
fn transposed(b: &SparseRows, rows: Range<usize>) -> (Vec<u32>, Vec<u16>, Vec<f32>) {
    let (first, last) = (b.row_ptr[rows.start], b.row_ptr[rows.end]);
    let mut col_ptr = vec![0u32; b.n_cols + 1];
    b.col[first..last]
        .iter()
        .for_each(|&j| col_ptr[j as usize + 1] += 1);
    for j in 0..b.n_cols {
        col_ptr[j + 1] += col_ptr[j];
    }
    let mut next: Vec<u32> = col_ptr[..b.n_cols].to_vec();
    let mut row_index = vec![0u16; last - first];
    let mut values = vec![0f32; last - first];
    for (local, r) in rows.enumerate() {
        for p in b.row_ptr[r]..b.row_ptr[r + 1] {
            let slot = &mut next[b.col[p] as usize];
            row_index[*slot as usize] = local as u16;
            values[*slot as usize] = b.val[p];
            *slot += 1;
        }
    }
    (col_ptr, row_index, values)
}

impl Products for ScaledOnGpu<'_> {
    fn n_rows(&self) -> usize {
        self.n_rows
    }

    fn n_cols(&self) -> usize {
        self.offset.len()
    }

    fn times(&self, omega: &Dense<f32>) -> Result<Dense<f32>> {
        self.gpu.run("the PCA product X Ω", || {
            let k = omega.k;
            let mut clock = Instant::now();
            self.load_block(omega)?;
            let mut y = Dense::zeros(self.n_rows, k);
            for tile in &self.tiles {
                let mut encoder = self.gpu.device().create_command_encoder(&Default::default());
                self.dispatch(
                    &mut encoder,
                    &self.times_pipeline,
                    &tile.times,
                    tile.rows.len() * k,
                );
                self.gpu.queue().submit([encoder.finish()]);
                self.gpu.finish()?;
                self.add_time(|t| &mut t.kernels, clock);
                clock = Instant::now();
                let values = self.download_floats(&self.y, tile.rows.len() * k)?;
                y.data[tile.rows.start * k..tile.rows.end * k].copy_from_slice(&values);
                self.add_time(|t| &mut t.download, clock);
                clock = Instant::now();
            }
            self.check_counters((self.n_rows * k) as u64)?;
            Ok(y)
        })
    }

    fn gram_times(&self, v: &Dense<f32>) -> Result<Dense<f64>> {
        self.gpu.run("the PCA product Xᵀ X V", || {
            let (n_cols, k) = (self.offset.len(), v.k);
            let clock = Instant::now();
            let shift = self.load_block(v)?;
            let mut encoder = self.gpu.device().create_command_encoder(&Default::default());
            for tile in &self.tiles {
                self.dispatch(
                    &mut encoder,
                    &self.times_pipeline,
                    &tile.times,
                    tile.rows.len() * k,
                );
                self.dispatch(&mut encoder, &self.gram_pipeline, &tile.gram, n_cols * k);
            }
            self.gpu.queue().submit([encoder.finish()]);
            self.gpu.finish()?;
            self.add_time(|t| &mut t.kernels, clock);
            let clock = Instant::now();
            self.check_counters(((self.n_rows + self.tiles.len() * n_cols) * k) as u64)?;
            let sums = self.download_floats(&self.z, n_cols * k)?;
            let compensation = self.download_floats(&self.z_compensation, n_cols * k)?;
            self.add_time(|t| &mut t.download, clock);
            // 1ᵀ Y = (1ᵀ B) V - n cᵀ V.
            let mut ones_y: Vec<f64> = shift.iter().map(|&s| -(self.n_rows as f64) * s as f64).collect();
            for (j, &sum) in self.column_sums.iter().enumerate() {
                ones_y
                    .iter_mut()
                    .zip(v.row(j))
                    .for_each(|(o, &w)| *o += sum * w as f64);
            }
            let mut z = Dense::zeros(n_cols, k);
            for (i, out) in z.data.iter_mut().enumerate() {
                let (j, t) = (i / k, i % k);
                *out = sums[i] as f64 - compensation[i] as f64 - self.offset[j] as f64 * ones_y[t];
            }
            Ok(z)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::Choice;
    use crate::pca::kernels::Scaled;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn lavapipe() -> Option<Gpu> {
        Gpu::open(&Choice::Named("llvmpipe".into())).ok()
    }

    /// Cells x genes with one dense gene, empty rows and a gene without non-zeros.
    fn matrix(n_rows: usize, n_cols: usize, seed: u64) -> (SparseRows, Vec<f32>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut b = SparseRows {
            n_cols,
            row_ptr: vec![0],
            col: Vec::new(),
            val: Vec::new(),
        };
        for r in 0..n_rows {
            for j in 0..n_cols - 1 {
                if r % 97 != 5 && (j == 0 || rng.random_bool(0.15)) {
                    b.col.push(j as u16);
                    b.val.push(rng.random_range(-2.0..10.0));
                }
            }
            b.row_ptr.push(b.col.len());
        }
        let c = (0..n_cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        (b, c)
    }

    #[test]
    fn products_in_small_tiles_equal_the_cpu_kernels_and_repeat_bit_for_bit() {
        let Some(mut gpu) = lavapipe() else {
            eprintln!("no lavapipe adapter: skipped");
            return;
        };
        let (n_rows, n_cols, k) = (1500, 40, 12);
        let (b, c) = matrix(n_rows, n_cols, 3);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        let omega = Dense {
            rows: n_cols,
            k,
            data: (0..n_cols * k).map(|_| rng.random_range(-1.0..1.0)).collect(),
        };
        // 100 rows of 12 f32 per tile: 15 tiles.
        gpu.limit_bindings(100 * 12 * 4);
        let on_gpu = ScaledOnGpu::new(&gpu, &b, &c, k).unwrap();
        assert_eq!(on_gpu.n_tiles(), 15);
        let cpu = Scaled {
            b: &b,
            c: &c,
            simd: true,
        };
        let (y_cpu, y_gpu) = (cpu.times(&omega).unwrap(), on_gpu.times(&omega).unwrap());
        let scale = y_cpu.data.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, b) in y_gpu.data.iter().zip(&y_cpu.data) {
            assert!((a - b).abs() <= 1e-5 * scale, "X Ω: {a} vs {b}");
        }
        let (z_cpu, z_gpu) = (
            cpu.gram_times(&omega).unwrap(),
            on_gpu.gram_times(&omega).unwrap(),
        );
        let scale = z_cpu.data.iter().fold(0f64, |m, v| m.max(v.abs()));
        for (a, b) in z_gpu.data.iter().zip(&z_cpu.data) {
            assert!((a - b).abs() <= 1e-5 * scale, "Xᵀ X Ω: {a} vs {b}");
        }
        assert_eq!(on_gpu.gram_times(&omega).unwrap(), z_gpu);
        // A narrower block than the widest uploaded.
        let narrow = Dense {
            rows: n_cols,
            k: 5,
            data: (0..n_cols * 5).map(|t| omega.data[t / 5 * k + t % 5]).collect(),
        };
        let z5 = on_gpu.gram_times(&narrow).unwrap();
        for (i, v) in z5.data.iter().enumerate() {
            let want = z_cpu.data[i / 5 * k + i % 5];
            assert!((v - want).abs() <= 1e-5 * scale, "k = 5: {v} vs {want}");
        }
        let too_wide = Dense::<f32>::zeros(n_cols, k + 1);
        assert!(on_gpu
            .times(&too_wide)
            .unwrap_err()
            .to_string()
            .contains("does not fit"));
    }

    #[test]
    fn the_block_krylov_svd_on_the_gpu_gives_the_cpu_components() {
        use crate::monitor::Monitor;
        use crate::pca::rsvd::{block_krylov_svd, SvdOptions};
        let Some(mut gpu) = lavapipe() else {
            return;
        };
        let (b, c) = matrix(2000, 60, 8);
        let o = SvdOptions {
            n: 8,
            oversample: 6,
            blocks: 6,
            until_converged: false,
            seed: 3,
        };
        gpu.limit_bindings(300 * 14 * 4);
        let on_gpu = ScaledOnGpu::new(&gpu, &b, &c, o.block_columns(60)).unwrap();
        assert_eq!(on_gpu.n_tiles(), 7);
        let svd_gpu = block_krylov_svd(&on_gpu, &o, Monitor::quiet()).unwrap();
        let cpu = Scaled {
            b: &b,
            c: &c,
            simd: true,
        };
        let svd_cpu = block_krylov_svd(&cpu, &o, Monitor::quiet()).unwrap();
        for (g, c) in svd_gpu.s.iter().zip(&svd_cpu.s) {
            assert!((g - c).abs() <= 1e-5 * c, "singular value {g} vs {c}");
        }
        for t in 0..o.n {
            let dot: f64 = (0..60)
                .map(|j| svd_gpu.v.data[j * o.n + t] * svd_cpu.v.data[j * o.n + t])
                .sum();
            assert!(dot.abs() >= 0.9999, "loading {t}: |cos| = {}", dot.abs());
        }
    }

    #[test]
    fn tiles_hold_at_most_65536_rows_and_at_least_one() {
        let (b, _) = matrix(200, 10, 1);
        let tiles = tile_rows(&b, 4, 1);
        assert_eq!(tiles.len(), 200);
        assert!(tiles.iter().enumerate().all(|(i, r)| *r == (i..i + 1)));
        let empty = SparseRows {
            n_cols: 3,
            row_ptr: vec![0; 70_001],
            col: Vec::new(),
            val: Vec::new(),
        };
        assert_eq!(tile_rows(&empty, 4, u64::MAX), vec![0..65_536, 65_536..70_000]);
    }
}
