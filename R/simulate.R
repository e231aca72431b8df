#' Simulate a 10x count matrix
#'
#' Writes a 10x directory of negative-binomial UMI counts with cluster-specific expression,
#' log-normal library sizes, mitochondrial (`MT-`), ribosomal (`RPL`/`RPS`) and haemoglobin
#' (`HBB`, `HBA1`, `HBA2`) genes and a few damaged cells with a high mitochondrial fraction;
#' optionally, as in a raw (unfiltered) Cell Ranger matrix, most barcodes can be empty
#' droplets holding a few UMIs of ambient RNA. The matrix is generated in Rust and streamed to disk, so any
#' size works in constant memory.
#'
#' @param n_cells,n_genes,n_clusters Size of the data set (`n_genes >= 20`).
#' @param path Directory to create (must not exist).
#' @param seed Random seed; the same seed gives the same files.
#' @param median_library Median UMIs per cell (3000, close to 10x PBMC data).
#' @param library_sdlog Standard deviation of log library size.
#' @param theta Negative-binomial size of every gene (variance `mu + mu^2 / theta`).
#' @param damaged_fraction Fraction of cells with mitochondrial expression x10.
#' @param empty_fraction Fraction of barcodes that are empty droplets (0): ambient RNA (the
#'   clusters' mean profile) with a median of 20 UMIs (log-normal, sdlog 1).
#' @param gzip `TRUE` writes the Cell Ranger 3 layout (`matrix.mtx.gz`,
#'   `features.tsv.gz`, `barcodes.tsv.gz`); `FALSE` the Cell Ranger 2 layout
#'   (`matrix.mtx`, `genes.tsv`, `barcodes.tsv`).
#' @return The directory path, invisibly, with attribute `truth`: a data.frame of
#'   `cell_id`, `cluster` (`NA` for an empty droplet), `damaged` and `empty` (also written to
#'   `truth.tsv` in the directory, with cluster 0 for an empty droplet).
#' @examples
#' dir <- simulate_counts(500, 300, n_clusters = 3, path = tempfile())
#' list.files(dir)
#' @export
simulate_counts <- function(n_cells, n_genes = 2000, n_clusters = 5, path = tempfile("sim10x_"),
                            seed = 1, median_library = 3000, library_sdlog = 0.5, theta = 3,
                            damaged_fraction = 0.03, empty_fraction = 0, gzip = TRUE) {
  res <- rust(wrap__cs_simulate, path.expand(path), n_cells, n_genes, n_clusters, seed,
              median_library, library_sdlog, theta, damaged_fraction, empty_fraction, gzip)
  truth <- data.frame(cell_id = res$cell_id, cluster = res$cluster, damaged = res$damaged,
                      empty = is.na(res$cluster))
  invisible(structure(normalizePath(path), truth = truth))
}

#' Simulate counts from a planted regulatory network
#'
#' For testing GRN inference ([infer_grn()]) against a known truth: `n_tfs` TFs whose
#' activity varies by cell type (`n_types`, log-normal around 1) and by cell, and `n_targets`
#' targets each regulated by 1 to 3 TFs through Hill functions (activation x^2 / (K^2 + x^2),
#' repression K^2 / (K^2 + x^2), K in 0.5..1.5, 70% activations; the terms multiply). Every
#' gene's counts are negative binomial around library size x share x expression. Generated
#' in Rust; written as a 10x v3 directory with `network.tsv` (regulator, target, sign).
#'
#' @param n_cells,n_tfs,n_targets,n_types Size of the data set.
#' @param path Directory to create (must not exist).
#' @param median_library Median UMIs per cell.
#' @param theta Negative-binomial size of every gene.
#' @param seed Random seed; the same seed gives the same files.
#' @return The directory path, invisibly, with attributes `tfs` (the TF names) and `truth`
#'   (a data.frame `regulator`, `target`, `sign`).
#' @examples
#' sim <- simulate_network(300, n_tfs = 5, n_targets = 20, path = tempfile())
#' head(attr(sim, "truth"))
#' @export
simulate_network <- function(n_cells = 2000, n_tfs = 20, n_targets = 100, n_types = 5,
                             path = tempfile("simnet_"), median_library = 2000, theta = 10, seed = 1) {
  res <- rust(wrap__cs_simulate_network, path.expand(path), n_cells, n_tfs, n_targets, n_types,
              median_library, theta, seed)
  truth <- data.frame(regulator = res$regulator, target = res$target, sign = res$sign, stringsAsFactors = FALSE)
  invisible(structure(normalizePath(path), tfs = sprintf("TF%02d", seq_len(n_tfs)), truth = truth))
}
