//! Harmony and LISI on embeddings given by R.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, Res};
use cellstream_engine::harmony::lisi::lisi;
use cellstream_engine::harmony::{harmonize, Batches, HarmonyOptions, Lambda};
use extendr_api::prelude::*;

/// Per batch variable its 0-based codes, from R's list of integer vectors, and the numbers of
/// batches.
fn batches_of(codes: &Robj, counts: &Robj) -> Res<Batches> {
    let list = codes.as_list().ok_or("`batches` must be a list")?;
    let codes = list
        .values()
        .map(|v| rust_indices(&v, "batches"))
        .collect::<Res<Vec<_>>>()?;
    Ok(Batches {
        codes,
        counts: positive_counts(counts, "counts")?,
    })
}

/// Harmony's options from the R list `o` (R's side checks them).
fn harmony_options(o: &Robj) -> Res<HarmonyOptions> {
    let get = fields(o, "options")?;
    let lambda = get("lambda")?;
    let nclust = get("nclust")?;
    let centroids = get("centroids")?;
    Ok(HarmonyOptions {
        theta: get("theta")?.as_real_vector().ok_or("`theta` must be numeric")?,
        sigma: number(&get("sigma")?, "sigma")?,
        lambda: if lambda.is_null() {
            Lambda::Estimate {
                alpha: number(&get("alpha")?, "alpha")?,
            }
        } else {
            Lambda::Fixed(number(&lambda, "lambda")?)
        },
        n_clusters: if nclust.is_null() {
            None
        } else {
            Some(count(&nclust, "nclust")? as usize)
        },
        block_size: number(&get("block_size")?, "block_size")?,
        max_iterations: count(&get("max_iter")?, "max_iter")? as usize,
        max_kmeans_iterations: count(&get("max_iter_kmeans")?, "max_iter_kmeans")? as usize,
        epsilon_cluster: number(&get("epsilon_cluster")?, "epsilon_cluster")?,
        epsilon_harmony: number(&get("epsilon_harmony")?, "epsilon_harmony")?,
        seed: count(&get("seed")?, "seed")?,
        centroids: if centroids.is_null() {
            None
        } else {
            let (rows, cols) = matrix_dims(&centroids).ok_or("`centroids` must be a matrix")?;
            let values = centroids
                .as_real_slice()
                .ok_or("`centroids` must be a double matrix")?;
            Some(row_major(values, rows, cols, |v| v))
        },
    })
}

/// Harmony on `data` (a cells x dims double matrix): the corrected matrix, clusters,
/// iterations, whether it converged and the objective.
#[extendr]
fn cs_harmony_matrix(data: Robj, batches: Robj, counts: Robj, options: Robj, progress: Robj) -> Robj {
    guarded(|| {
        let (n, d) = matrix_dims(&data).ok_or("the embedding must be a matrix (cells x dimensions)")?;
        let values = data
            .as_real_slice()
            .ok_or("the embedding must be a double matrix")?;
        let rows = row_major(values, n, d, |v| v);
        let batches = batches_of(&batches, &counts)?;
        let o = harmony_options(&options)?;
        let h = with_progress(&progress, |monitor| {
            harmonize(&rows, d, &batches, &o, monitor).map_err(|e| e.to_string())
        })?;
        let corrected = RMatrix::new_matrix(n, d, |r, c| h.embedding[r * d + c]);
        Ok(list!(
            embedding = corrected,
            n_clusters = h.n_clusters as i32,
            iterations = h.iterations as i32,
            converged = h.converged,
            objective = h.objective
        )
        .into())
    })
}

/// LISI of every row of `data` (a cells x dims double matrix) for 0-based label `codes`.
#[extendr]
fn cs_lisi_matrix(data: Robj, codes: Robj, n_labels: Robj, perplexity: Robj, progress: Robj) -> Robj {
    guarded(|| {
        let (n, d) = matrix_dims(&data).ok_or("the embedding must be a matrix (cells x dimensions)")?;
        let values = data
            .as_real_slice()
            .ok_or("the embedding must be a double matrix")?;
        let rows = row_major(values, n, d, |v| v);
        let codes = rust_indices(&codes, "labels")?;
        let n_labels = count(&n_labels, "n_labels")? as usize;
        let perplexity = number(&perplexity, "perplexity")?;
        let values = with_progress(&progress, |monitor| {
            monitor
                .watch("LISI: neighbours", n as u64, |meter| {
                    lisi(&rows, d, &codes, n_labels, perplexity, meter)
                })
                .map_err(|e| e.to_string())
        })?;
        Ok(values.into())
    })
}

extendr_module! {
    mod harmony;
    fn cs_harmony_matrix;
    fn cs_lisi_matrix;
}
