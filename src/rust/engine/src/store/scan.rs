//! Streaming passes over every chunk of a chunk file: chunks are read and decoded in
//! parallel (rayon), batch by batch, so memory holds one batch's outputs and one chunk per
//! thread, never the matrix. Between batches the pass reports its progress as `task` and
//! asks whether to stop.

use crate::error::{Error, Result};
use crate::monitor::Monitor;
use crate::store::chunk::Chunk;
use crate::store::chunkfile::{ChunkReader, ReadBuffers};
use rayon::prelude::*;

/// Non-zeros per batch: enough work for every thread, and a check for Ctrl-C every second
/// or so.
const BATCH_NNZ: u64 = 1 << 24;

/// Calls `visit(scratch, i, chunk)` for every chunk `i` in `majors` (without repeats;
/// ascending reads the file in order) and returns the values it gave, in the order of `majors`. `scratch` is reusable
/// space of one thread, made by `new_scratch`.
pub fn scan<S, R>(
    reader: &ChunkReader,
    majors: &[usize],
    task: &str,
    monitor: Monitor,
    new_scratch: impl Fn() -> S + Sync + Send,
    visit: impl Fn(&mut S, usize, &Chunk) -> R + Sync + Send,
) -> Result<Vec<R>>
where
    S: Send,
    R: Send,
{
    struct Worker<S, R> {
        scratch: S,
        out: Vec<R>,
        buf: ReadBuffers,
        chunk: Chunk,
        error: Option<Error>,
    }
    if majors.is_empty() {
        return Ok(Vec::new());
    }
    let mut results = Vec::with_capacity(majors.len());
    let mut at = 0;
    while at < majors.len() {
        monitor.tick(task, at as u64, majors.len() as u64)?;
        let mut nnz = 0u64;
        let end = majors[at..].iter().position(|&i| {
            nnz += reader.nnz_of(i) as u64;
            nnz >= BATCH_NNZ
        });
        let end = end.map_or(majors.len(), |k| at + k + 1);
        let workers: Vec<Worker<S, R>> = majors[at..end]
            .par_iter()
            .fold(
                || Worker {
                    scratch: new_scratch(),
                    out: Vec::new(),
                    buf: ReadBuffers::default(),
                    chunk: Chunk::default(),
                    error: None,
                },
                |mut w, &i| {
                    if w.error.is_none() {
                        match reader.read_into(i, &mut w.buf, &mut w.chunk) {
                            Ok(()) => w.out.push(visit(&mut w.scratch, i, &w.chunk)),
                            Err(e) => w.error = Some(e),
                        }
                    }
                    w
                },
            )
            .collect();
        // `fold` splits an indexed iterator into contiguous pieces and `collect` keeps them in
        // order, so appending the pieces keeps the order of `majors`.
        for w in workers {
            if let Some(e) = w.error {
                return Err(e);
            }
            results.extend(w.out);
        }
        at = end;
    }
    monitor.tick(task, majors.len() as u64, majors.len() as u64)?;
    Ok(results)
}

/// Every major of `reader`, for a full pass.
pub fn all(reader: &ChunkReader) -> Vec<usize> {
    (0..reader.n_major()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::chunkfile::{Axis, ChunkWriter};
    use half::f16;

    #[test]
    fn scan_returns_per_chunk_values_in_order_and_stops_when_interrupted() {
        let dir = crate::testdir::TestDir::new();
        let path = dir.path().join("m.chunks");
        let mut w = ChunkWriter::create(&path, Axis::Cells, 10, 0).unwrap();
        for i in 0..3000u32 {
            let n = (i % 7) as usize;
            let idx: Vec<u32> = (0..n as u32).collect();
            let counts: Vec<u32> = (0..n as u32).map(|k| k + i).collect();
            w.push(&idx, &counts, &vec![f16::ONE; n]).unwrap();
        }
        w.finish().unwrap();
        let r = ChunkReader::open(&path).unwrap();
        let majors: Vec<usize> = (0..3000).filter(|i| i % 3 != 1).collect();
        let sums = scan(
            &r,
            &majors,
            "sums",
            Monitor::quiet(),
            || (),
            |_, _, c| c.counts.iter().map(|&x| x as u64).sum::<u64>(),
        )
        .unwrap();
        let expected: Vec<u64> = majors
            .iter()
            .map(|&i| (0..(i as u64 % 7)).map(|k| k + i as u64).sum())
            .collect();
        assert_eq!(sums, expected);
        assert!(matches!(
            scan(
                &r,
                &majors,
                "sums",
                Monitor::new(&|| true, &|_, _, _| ()),
                || (),
                |_, _, _| ()
            ),
            Err(Error::Interrupted)
        ));
    }
}
