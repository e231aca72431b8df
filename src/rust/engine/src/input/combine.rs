//! Several samples read as one source: cells of each sample follow those of the previous one,
//! barcodes become `<sample>_<barcode>` (as Seurat's `merge(add.cell.ids =)`), a `sample`
//! column joins the cell annotation, and genes (matched by id) are the union or the
//! intersection of the samples' genes, in order of first appearance.

use crate::error::{Error, IoContext, Result};
use crate::frame::{Column, Frame};
use crate::input::regroup::sort_within_cells;
use crate::input::{first_repeat, CellBatch, CellSource, Features, Labels};
use crate::monitor::Monitor;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneUniverse {
    Union,
    Intersection,
}

pub struct Combined {
    samples: Vec<String>,
    sources: Vec<Box<dyn CellSource>>,
    labels: Labels,
    /// Per sample: each input gene's combined index (`u32::MAX`: not in the universe).
    gene_maps: Vec<Vec<u32>>,
    /// Per sample: whether its map keeps gene order (no re-sorting within cells needed).
    in_order: Vec<bool>,
    first_cell: Vec<u32>,
    /// The sample whose last pass asked to be grouped by cell.
    ungrouped: Option<usize>,
}

impl Combined {
    pub fn new(samples: Vec<String>, sources: Vec<Box<dyn CellSource>>, genes: GeneUniverse) -> Result<Self> {
        if let Some(i) = first_repeat(&samples) {
            return Err(Error::Request(format!(
                "sample name '{}' is given twice; sample names must be unique",
                samples[i]
            )));
        }
        let mut position: HashMap<&str, u32> = HashMap::new();
        let mut origin: Vec<(usize, u32)> = Vec::new();
        let mut seen_in = Vec::new();
        for (s, src) in sources.iter().enumerate() {
            for (g, id) in src.labels().features.ids.iter().enumerate() {
                let at = *position.entry(id.as_str()).or_insert_with(|| {
                    origin.push((s, g as u32));
                    seen_in.push(0usize);
                    origin.len() as u32 - 1
                });
                seen_in[at as usize] += 1;
            }
        }
        let universe: Vec<usize> = (0..origin.len())
            .filter(|&g| genes == GeneUniverse::Union || seen_in[g] == sources.len())
            .collect();
        if universe.is_empty() {
            return Err(Error::Input(format!(
                "the samples {samples:?} share no gene id, so their \
                intersection is empty; use genes = \"union\" or check that the inputs use the same gene \
                    ids"
            )));
        }
        let mut combined_of = vec![u32::MAX; origin.len()];
        universe
            .iter()
            .enumerate()
            .for_each(|(new, &g)| combined_of[g] = new as u32);
        let gene_maps: Vec<Vec<u32>> = sources
            .iter()
            .map(|src| {
                src.labels()
                    .features
                    .ids
                    .iter()
                    .map(|id| combined_of[position[id.as_str()] as usize])
                    .collect()
            })
            .collect();
        let in_order = gene_maps
            .iter()
            .map(|m| m.iter().filter(|&&g| g != u32::MAX).is_sorted())
            .collect();

        let mut features = Features::default();
        let mut parts: Vec<Vec<u32>> = vec![Vec::new(); sources.len()];
        for &g in &universe {
            let (s, local) = origin[g];
            let f = &sources[s].labels().features;
            features.ids.push(f.ids[local as usize].clone());
            features.symbols.push(f.symbols[local as usize].clone());
            features.types.push(f.types[local as usize].clone());
            parts[s].push(local);
        }
        let gene_frames = sources
            .iter()
            .zip(&parts)
            .map(|(src, rows)| src.labels().features.extra.take(rows))
            .collect();
        features.extra = Frame::stack(gene_frames, &parts.iter().map(Vec::len).collect::<Vec<_>>());

        let n_cells: Vec<usize> = sources.iter().map(|s| s.labels().cell_ids.len()).collect();
        let mut first_cell = Vec::with_capacity(sources.len());
        let mut cell_ids = Vec::with_capacity(n_cells.iter().sum());
        let mut sample_codes = Vec::with_capacity(cell_ids.capacity());
        for (s, src) in sources.iter().enumerate() {
            first_cell.push(cell_ids.len() as u32);
            cell_ids.extend(
                src.labels()
                    .cell_ids
                    .iter()
                    .map(|b| format!("{}_{b}", samples[s])),
            );
            sample_codes.extend(std::iter::repeat_n(Some(s as u32), n_cells[s]));
        }
        if cell_ids.len() > u32::MAX as usize {
            return Err(Error::Input("more than 4,294,967,295 cells in all".into()));
        }
        let mut obs = Frame::default();
        obs.push(
            "sample",
            Column::Category {
                codes: sample_codes,
                levels: samples.clone(),
                ordered: false,
            },
        );
        let stacked = Frame::stack(sources.iter().map(|s| s.labels().obs.clone()).collect(), &n_cells);
        stacked
            .names
            .into_iter()
            .zip(stacked.columns)
            .for_each(|(n, c)| obs.push(n, c));
        Ok(Combined {
            samples,
            sources,
            labels: Labels {
                cell_ids,
                features,
                obs,
            },
            gene_maps,
            in_order,
            first_cell,
            ungrouped: None,
        })
    }
}

/// One unnamed source as it is; named sources (even one) combined.
pub fn one_or_combined(
    samples: Option<Vec<String>>,
    mut sources: Vec<Box<dyn CellSource>>,
    genes: GeneUniverse,
) -> Result<Box<dyn CellSource>> {
    match samples {
        None if sources.len() == 1 => Ok(sources.pop().unwrap()),
        None => Err(Error::Request("several inputs need sample names".into())),
        Some(s) if s.len() != sources.len() => Err(Error::Request(format!(
            "{} sample names for {} inputs",
            s.len(),
            sources.len()
        ))),
        Some(s) => Ok(Box::new(Combined::new(s, sources, genes)?)),
    }
}

impl CellSource for Combined {
    fn describe(&self) -> String {
        self.sources
            .iter()
            .map(|s| s.describe())
            .collect::<Vec<_>>()
            .join(", ")
    }
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn notes(&self) -> Vec<String> {
        self.samples
            .iter()
            .zip(&self.sources)
            .flat_map(|(name, s)| s.notes().into_iter().map(move |n| format!("{name}: {n}")))
            .collect()
    }

    fn pass(&mut self, visit: &mut dyn FnMut(CellBatch) -> Result<()>) -> Result<()> {
        for s in 0..self.sources.len() {
            let (map, in_order, offset) = (&self.gene_maps[s], self.in_order[s], self.first_cell[s]);
            let what = self.sources[s].describe();
            let outcome = self.sources[s].pass(&mut |batch: CellBatch| {
                let mut out = CellBatch::new();
                for k in 0..batch.len() {
                    let (cell, genes, counts) = batch.cell(k);
                    out.push_mapped(genes, counts, map);
                    out.end_cell(offset + cell);
                }
                if !in_order {
                    sort_within_cells(&mut out, &what)?;
                }
                visit(out)
            });
            if let Err(Error::NotGroupedByCell(why)) = outcome {
                self.ungrouped = Some(s);
                return Err(Error::NotGroupedByCell(why));
            }
            outcome?;
        }
        Ok(())
    }

    fn group_by_cell(&mut self, scratch: &Path, monitor: Monitor) -> Result<()> {
        let s = self
            .ungrouped
            .take()
            .ok_or_else(|| Error::Input(format!("'{}': entries are not grouped by cell", self.describe())))?;
        std::fs::create_dir_all(scratch).ctx("cannot create", scratch)?;
        self.sources[s].group_by_cell(&scratch.join(format!("sample-{s}")), monitor)
    }
}
