//! Ingest: a store from 10x MTX, 10x HDF5 or h5ad files, one sample or several.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, Res};
use cellstream_engine::input::combine::one_or_combined;
use cellstream_engine::input::h5ad::{H5adOptions, H5adSource};
use cellstream_engine::input::h5matrix::Rounding;
use cellstream_engine::input::mtx::{MtxFiles, MtxSource};
use cellstream_engine::input::tenx_h5::{TenxH5Options, TenxH5Source};
use cellstream_engine::input::CellSource;
use cellstream_steps::create_store;
use extendr_api::prelude::*;

/// Opens every input, combines them when named (several samples), and builds the store.
/// Returns the store path and the notes for the user.
fn build_store(
    store: &Robj,
    samples: &Robj,
    genes: &Robj,
    filters: &Robj,
    progress: &Robj,
    open: &dyn Fn(usize) -> Res<Box<dyn CellSource>>,
    n_inputs: usize,
) -> Res<Robj> {
    let target = path(store, "store")?;
    let opts = ingest_options(filters)?;
    let sources = (0..n_inputs).map(open).collect::<Res<Vec<_>>>()?;
    let mut source = one_or_combined(
        optional_strings(samples, "samples")?,
        sources,
        gene_universe(genes)?,
    )
    .map_err(|e| e.to_string())?;
    let notes = with_progress(progress, |monitor| {
        create_store(&target, source.as_mut(), &opts, monitor)
    })?;
    Ok(list!(path = target.to_string_lossy().into_owned(), notes = notes).into())
}

#[extendr]
fn cs_ingest_mtx(
    matrix: Robj,
    features: Robj,
    barcodes: Robj,
    samples: Robj,
    genes: Robj,
    store: Robj,
    filters: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let matrix = paths(&matrix, "path")?;
        let explicit = !features.is_null();
        let (features, barcodes) = if explicit {
            (paths(&features, "features")?, paths(&barcodes, "barcodes")?)
        } else {
            (vec![], vec![])
        };
        let open = |i: usize| -> Res<Box<dyn CellSource>> {
            let files = if explicit {
                MtxFiles {
                    matrix: matrix[i].clone(),
                    features: features[i].clone(),
                    barcodes: barcodes[i].clone(),
                }
            } else {
                MtxFiles::in_dir(&matrix[i]).map_err(|e| e.to_string())?
            };
            Ok(Box::new(MtxSource::open(files).map_err(|e| e.to_string())?))
        };
        build_store(&store, &samples, &genes, &filters, &progress, &open, matrix.len())
    })
}

#[extendr]
fn cs_ingest_h5ad(
    files: Robj,
    counts: Robj,
    allow_non_integer: Robj,
    samples: Robj,
    genes: Robj,
    store: Robj,
    filters: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let files = paths(&files, "path")?;
        let rounding = if flag(&allow_non_integer, "allow_non_integer")? {
            Rounding::Nearest
        } else {
            Rounding::Refuse
        };
        let opts = H5adOptions {
            counts: string(&counts, "counts")?,
            rounding,
        };
        let open = |i: usize| -> Res<Box<dyn CellSource>> {
            Ok(Box::new(
                H5adSource::open(&files[i], &opts).map_err(|e| e.to_string())?,
            ))
        };
        build_store(&store, &samples, &genes, &filters, &progress, &open, files.len())
    })
}

#[extendr]
fn cs_ingest_10x_h5(
    files: Robj,
    genome: Robj,
    feature_types: Robj,
    samples: Robj,
    genes: Robj,
    store: Robj,
    filters: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let files = paths(&files, "path")?;
        let opts = TenxH5Options {
            genome: if genome.is_null() {
                None
            } else {
                Some(string(&genome, "genome")?)
            },
            feature_types: optional_strings(&feature_types, "feature_types")?.unwrap_or_default(),
        };
        let open = |i: usize| -> Res<Box<dyn CellSource>> {
            Ok(Box::new(
                TenxH5Source::open(&files[i], &opts).map_err(|e| e.to_string())?,
            ))
        };
        build_store(&store, &samples, &genes, &filters, &progress, &open, files.len())
    })
}

extendr_module! {
    mod ingest;
    fn cs_ingest_mtx;
    fn cs_ingest_h5ad;
    fn cs_ingest_10x_h5;
}
