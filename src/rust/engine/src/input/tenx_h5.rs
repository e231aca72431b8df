//! 10x Genomics HDF5 reader (`filtered_feature_bc_matrix.h5`). Both layouts store a
//! genes x cells CSC matrix, i.e. cell-major, so cells stream in slices:
//! - Cell Ranger 3+: `/matrix/{data,indices,indptr,shape,barcodes}` and
//!   `/matrix/features/{id,name,feature_type[,genome]}`; features are chosen by type
//!   ("Gene Expression" by default) and optionally genome;
//! - Cell Ranger 2 (legacy): one group per genome, `/<genome>/{data,indices,indptr,shape,
//!   genes,gene_names,barcodes}`; one genome is chosen, or all are combined (same barcodes;
//!   gene ids and names are then prefixed with the genome, as Cell Ranger 3 does).

use crate::error::{Error, Result};
use crate::frame::{Column, Frame};
use crate::input::h5;
use crate::input::h5matrix::{Compressed, Rounding, SLICE_ENTRIES};
use crate::input::isolated::survives;
use crate::input::regroup::sort_within_cells;
use crate::input::{first_repeat, CellBatch, CellSource, Features, Labels};
use hdf5::Group;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct TenxH5Options {
    /// The genome to read; `None` reads all (Cell Ranger 2) or does not filter (Cell Ranger 3).
    pub genome: Option<String>,
    /// Feature types to keep (Cell Ranger 3); empty keeps all.
    pub feature_types: Vec<String>,
}

/// One genome's matrix and where its genes go in the output (`u32::MAX`: dropped).
struct Part {
    matrix: Compressed,
    gene_map: Vec<u32>,
}

pub struct TenxH5Source {
    path: PathBuf,
    parts: Vec<Part>,
    labels: Labels,
}

impl TenxH5Source {
    /// Opens the file, first in a separate process (see `isolated`): a damaged file can crash
    /// the HDF5 library.
    pub fn open(path: &Path, opts: &TenxH5Options) -> Result<Self> {
        survives(path, || drop(Self::open_here(path, opts)))?;
        Self::open_here(path, opts)
    }

    fn open_here(path: &Path, opts: &TenxH5Options) -> Result<Self> {
        let file = h5::open(path, "10x HDF5 file")?;
        let root: &Group = &file;
        let source = if h5::is_group(root, "matrix") {
            open_v3(path, &h5::group(root, "matrix", path)?, opts)?
        } else {
            open_v2(path, root, opts)?
        };
        if let Some(i) = first_repeat(&source.labels.cell_ids) {
            return Err(Error::Input(format!(
                "'{}': barcode '{}' appears twice; barcodes must be unique",
                path.display(),
                source.labels.cell_ids[i]
            )));
        }
        if let Some(i) = first_repeat(&source.labels.features.ids) {
            return Err(Error::Input(format!(
                "'{}': gene id '{}' appears twice; gene ids must be unique",
                path.display(),
                source.labels.features.ids[i]
            )));
        }
        Ok(source)
    }
}

/// `shape` as (genes, cells).
fn shape(g: &Group, path: &Path) -> Result<(usize, usize)> {
    let s = h5::read_all::<i64>(&h5::dataset(g, "shape", path)?, path)?;
    match s[..] {
        [genes, cells] if genes >= 0 && cells >= 0 => Ok((genes as usize, cells as usize)),
        _ => Err(Error::Input(format!(
            "'{}': '{}/shape' must hold two numbers (genes, cells)",
            path.display(),
            g.name()
        ))),
    }
}

fn strings_of_len(g: &Group, name: &str, n: usize, path: &Path) -> Result<Vec<String>> {
    let v = h5::read_strings(&h5::dataset(g, name, path)?, None, path)?;
    if v.len() != n {
        return Err(Error::Input(format!(
            "'{}': '{}' lists {} entries but the matrix shape says {n}",
            path.display(),
            h5::join(g, name),
            v.len()
        )));
    }
    Ok(v)
}

/// The distinct values, sorted (for messages).
fn distinct(v: &[String]) -> BTreeSet<&str> {
    v.iter().map(String::as_str).collect()
}

fn open_v3(path: &Path, g: &Group, opts: &TenxH5Options) -> Result<TenxH5Source> {
    let (n_genes, n_cells) = shape(g, path)?;
    let cell_ids = strings_of_len(g, "barcodes", n_cells, path)?;
    let fg = h5::group(g, "features", path)?;
    let ids = strings_of_len(&fg, "id", n_genes, path)?;
    let names = strings_of_len(&fg, "name", n_genes, path)?;
    let types = strings_of_len(&fg, "feature_type", n_genes, path)?;
    let genomes = if h5::is_dataset(&fg, "genome") {
        Some(strings_of_len(&fg, "genome", n_genes, path)?)
    } else {
        None
    };
    let wanted = |i: usize| {
        (opts.feature_types.is_empty() || opts.feature_types.contains(&types[i]))
            && opts
                .genome
                .as_ref()
                .is_none_or(|want| genomes.as_ref().is_some_and(|gs| &gs[i] == want))
    };
    let kept: Vec<usize> = (0..n_genes).filter(|&i| wanted(i)).collect();
    if kept.is_empty() {
        let mut why = format!(
            "feature types {:?} were asked for; the file holds {:?}",
            opts.feature_types,
            distinct(&types)
        );
        if let Some(want) = &opts.genome {
            why = format!(
                "{why}, and genome '{want}' was asked for; the file holds genomes {:?}",
                distinct(genomes.as_deref().unwrap_or_default())
            );
        }
        return Err(Error::Input(format!(
            "'{}': no feature is left to read: {why}",
            path.display()
        )));
    }
    let mut gene_map = vec![u32::MAX; n_genes];
    kept.iter()
        .enumerate()
        .for_each(|(new, &old)| gene_map[old] = new as u32);
    let pick = |v: &[String]| kept.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
    let mut extra = Frame::default();
    if let Some(gs) = &genomes {
        extra.push("genome", Column::Text(pick(gs).into_iter().map(Some).collect()));
    }
    let features = Features {
        ids: pick(&ids),
        symbols: pick(&names),
        types: pick(&types),
        extra,
    };
    let matrix = Compressed::open(g, path, n_cells, n_genes)?;
    Ok(TenxH5Source {
        path: path.to_path_buf(),
        parts: vec![Part { matrix, gene_map }],
        labels: Labels {
            cell_ids,
            features,
            ..Default::default()
        },
    })
}

fn open_v2(path: &Path, root: &Group, opts: &TenxH5Options) -> Result<TenxH5Source> {
    let names = root.member_names().map_err(h5::err(path, "/"))?;
    let genomes: Vec<String> = names
        .into_iter()
        .filter(|n| h5::is_group(root, n) && root.group(n).is_ok_and(|g| h5::is_dataset(&g, "indptr")))
        .collect();
    if genomes.is_empty() {
        return Err(Error::Input(format!(
            "'{}' is not a 10x HDF5 file: it has neither a /matrix group (Cell Ranger 3 and later) nor a \
                genome group with data, indices, indptr (Cell Ranger 2)",
            path.display()
        )));
    }
    let chosen: Vec<String> = match &opts.genome {
        Some(want) if genomes.contains(want) => vec![want.clone()],
        Some(want) => {
            return Err(Error::Input(format!(
                "'{}' has no genome '{want}'; it holds {genomes:?}",
                path.display()
            )))
        }
        None => genomes,
    };
    let combined = chosen.len() > 1;
    let mut cell_ids: Option<Vec<String>> = None;
    let (mut parts, mut features, mut genome_col) = (Vec::new(), Features::default(), Vec::new());
    for genome in &chosen {
        let g = h5::group(root, genome, path)?;
        let (n_genes, n_cells) = shape(&g, path)?;
        let barcodes = strings_of_len(&g, "barcodes", n_cells, path)?;
        match &cell_ids {
            Some(first) if *first != barcodes => {
                return Err(Error::Input(format!(
                    "'{}': genomes {chosen:?} list different barcodes, so they cannot be read as one \
                        matrix; choose one with `genome`",
                    path.display()
                )))
            }
            Some(_) => {}
            None => cell_ids = Some(barcodes),
        }
        let ids = strings_of_len(&g, "genes", n_genes, path)?;
        let symbols = strings_of_len(&g, "gene_names", n_genes, path)?;
        let prefix = |s: String| if combined { format!("{genome}_{s}") } else { s };
        let start = features.ids.len() as u32;
        features.ids.extend(ids.into_iter().map(prefix));
        features.symbols.extend(symbols.into_iter().map(prefix));
        features
            .types
            .extend(std::iter::repeat_n("Gene Expression".to_owned(), n_genes));
        genome_col.extend(std::iter::repeat_n(Some(genome.clone()), n_genes));
        let matrix = Compressed::open(&g, path, n_cells, n_genes)?;
        parts.push(Part {
            matrix,
            gene_map: (start..start + n_genes as u32).collect(),
        });
    }
    features.extra.push("genome", Column::Text(genome_col));
    Ok(TenxH5Source {
        path: path.to_path_buf(),
        parts,
        labels: Labels {
            cell_ids: cell_ids.unwrap_or_default(),
            features,
            ..Default::default()
        },
    })
}

impl CellSource for TenxH5Source {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn pass(&mut self, visit: &mut dyn FnMut(CellBatch) -> Result<()>) -> Result<()> {
        let what = self.describe();
        let budget = SLICE_ENTRIES / self.parts.len() as u64;
        for cells in self.parts[0].matrix.batches(budget) {
            let read: Vec<CellBatch> = self
                .parts
                .iter()
                .map(|p| p.matrix.read_counts(cells.clone(), Rounding::Refuse).map(|r| r.0))
                .collect::<Result<_>>()?;
            let mut next = vec![0usize; read.len()];
            let mut batch = CellBatch::new();
            for cell in cells.start as u32..cells.end as u32 {
                for (p, part) in read.iter().enumerate() {
                    if next[p] < part.len() && part.cells[next[p]] == cell {
                        let (_, genes, counts) = part.cell(next[p]);
                        batch.push_mapped(genes, counts, &self.parts[p].gene_map);
                        next[p] += 1;
                    }
                }
                batch.end_cell(cell);
            }
            sort_within_cells(&mut batch, &what)?;
            visit(batch)?;
        }
        Ok(())
    }
}
