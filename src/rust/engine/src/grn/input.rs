//! The fitting cells and the TF / target columns over them, read from the gene-major chunks.
//! At most `max_cells` kept cells are fitted (drawn once, seeded, optionally in proportion
//! to the groups of a column), so the TF codes and one chunk of targets bound the memory
//! whatever the number of cells.

use super::Columns;
use crate::error::{Error, Result};
use crate::hvg::genestats::NO_GROUP;
use crate::monitor::Monitor;
use crate::store::scan::scan;
use crate::store::Store;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The value a target (and a TF, for its correlation) is fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// log1p(count / library size x target sum), exactly (the normalised layer's values
    /// before f16).
    Norm,
    /// log1p(count), no library normalisation.
    Log1pRaw,
    /// The raw count.
    Raw,
}

impl Transform {
    fn of(self, count: u32, library: f64, target_sum: f64) -> f32 {
        match self {
            Transform::Norm => (count as f64 / library * target_sum).ln_1p() as f32,
            Transform::Log1pRaw => (count as f64).ln_1p() as f32,
            Transform::Raw => count as f32,
        }
    }
}

/// The store cells fitted on (ascending) and where each store cell sits among them.
pub struct FittingCells {
    pub cells: Vec<u32>,
    slot: Vec<u32>,
}

impl FittingCells {
    /// `kept` (ascending store cells) or, when there are more, `max_cells` of them drawn
    /// with `seed`; with `strata` (a group per store cell) each group keeps its share.
    pub fn draw(
        kept: &[u32],
        n_store_cells: usize,
        max_cells: usize,
        strata: Option<&[u32]>,
        seed: u64,
    ) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut cells: Vec<u32> = if kept.len() <= max_cells {
            kept.to_vec()
        } else if let Some(groups) = strata {
            stratified(kept, groups, max_cells, &mut rng)
        } else {
            let mut all = kept.to_vec();
            all.shuffle(&mut rng);
            all.truncate(max_cells);
            all
        };
        cells.sort_unstable();
        let mut slot = vec![u32::MAX; n_store_cells];
        cells
            .iter()
            .enumerate()
            .for_each(|(k, &c)| slot[c as usize] = k as u32);
        FittingCells { cells, slot }
    }

    /// The columns of `genes` over the fitting cells.
    pub fn read(
        &self,
        store: &Store,
        genes: &[usize],
        library: &[f64],
        transform: Transform,
        monitor: Monitor,
    ) -> Result<Columns> {
        if library.len() != store.n_cells() {
            return Err(Error::Request("one library size per cell is needed".into()));
        }
        let target_sum = store.manifest.target_sum;
        let per_gene = scan(
            &store.genes,
            genes,
            "grn: reading genes",
            monitor,
            || (),
            |_, _, chunk| {
                let mut col: Vec<(u32, f32)> = (0..chunk.nnz())
                    .filter_map(|k| {
                        let c = chunk.indices[k] as usize;
                        let s = self.slot[c];
                        (s != u32::MAX).then(|| (s, transform.of(chunk.counts[k], library[c], target_sum)))
                    })
                    .collect();
                col.sort_unstable_by_key(|e| e.0);
                col
            },
        )?;
        let mut out = Columns {
            n_cells: self.cells.len(),
            ptr: vec![0],
            ..Default::default()
        };
        for col in per_gene {
            for (c, v) in col.into_iter().filter(|e| e.1 != 0.0) {
                out.cells.push(c);
                out.values.push(v);
            }
            out.ptr.push(out.cells.len());
        }
        Ok(out)
    }
}

/// `max` of `kept`, each group of `groups` keeping its share (largest remainders first).
fn stratified(kept: &[u32], groups: &[u32], max: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<u32> {
    let n_groups = kept
        .iter()
        .map(|&c| groups[c as usize])
        .filter(|&g| g != NO_GROUP)
        .max()
        .map_or(0, |g| g as usize + 1);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); n_groups + 1];
    for &c in kept {
        let g = groups[c as usize];
        members[if g == NO_GROUP { n_groups } else { g as usize }].push(c);
    }
    let n = kept.len() as f64;
    let exact: Vec<f64> = members.iter().map(|m| max as f64 * m.len() as f64 / n).collect();
    let mut quota: Vec<usize> = exact.iter().map(|&e| e as usize).collect();
    let mut by_remainder: Vec<usize> = (0..members.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        (exact[b] - quota[b] as f64)
            .total_cmp(&(exact[a] - quota[a] as f64))
            .then(a.cmp(&b))
    });
    let short = max - quota.iter().sum::<usize>();
    by_remainder.iter().take(short).for_each(|&g| quota[g] += 1);
    let mut out = Vec::with_capacity(max);
    for (m, q) in members.iter_mut().zip(quota) {
        m.shuffle(rng);
        out.extend_from_slice(&m[..q.min(m.len())]);
    }
    out
}
