#' Quality-control metrics per cell
#'
#' One streaming pass over the cell-major chunks computes, for every cell, the library size
#' (`n_counts`, Seurat's `nCount_RNA`), the genes detected (`n_genes`, `nFeature_RNA`), the
#' percentage of its counts in each gene set (`pct_<name>`, Seurat's `PercentageFeatureSet`,
#' scanpy's `pct_counts_<name>`) and in its `N` most-expressed genes (`pct_top_<N>`, scanpy's
#' `pct_counts_in_top_<N>_genes`). They are stored as [obs()] columns; [var()] gains each
#' gene's `mean_counts` and `pct_dropout` (% of cells without it). QC uses every cell of the
#' store, whatever the kept cells.
#'
#' @param x A store.
#' @param patterns Named regular expressions matched against gene symbols (R's `grepl()`);
#'   each names a gene set. The defaults cover human and mouse: mitochondrial `^MT-`/`^mt-`,
#'   ribosomal `^RP[SL]`/`^Rp[sl]` and haemoglobin `^HB[^P]`/`^Hb[^p]` (as in the Seurat and
#'   OSCA tutorials). A pattern that matches no gene gives a warning.
#' @param gene_sets Named list of further gene sets, each a vector of gene ids or unique
#'   symbols; an unknown gene is an error.
#' @param top_n The `N` of the top-gene metrics (default `c(50, 100, 200, 500)`, as scanpy).
#' @param verbose Show a progress bar and a one-line summary (`TRUE`); see
#'   `options(cellstream.progress)` in [cellstream-package].
#' @return The store, invisibly; [qc_metrics()] reads the metrics.
#' @examples
#' x <- ingest_mtx(simulate_counts(300, 200, path = tempfile()), tempfile())
#' x |> calculate_qc_metrics()
#' summary(qc_metrics(x)$pct_mt)
#' @export
calculate_qc_metrics <- function(x, patterns = c(mt = "^(MT|mt)-", ribo = "^(RP[SL]|Rp[sl])",
                                                 hb = "^(HB[^P]|Hb[^p])"),
                                 gene_sets = list(), top_n = c(50, 100, 200, 500), verbose = TRUE) {
  check_set_names(patterns, "patterns")
  check_set_names(gene_sets, "gene_sets")
  symbols <- gene_symbols(x)
  by_pattern <- lapply(names(patterns), function(name) {
    hits <- which(grepl(patterns[[name]], symbols))
    if (length(hits) == 0) {
      warning(sprintf("pattern '%s' for gene set '%s' matches no gene symbol; pct_%s is 0 for every cell",
                      patterns[[name]], name, name), call. = FALSE)
    }
    hits
  })
  by_ids <- lapply(gene_sets, function(genes) gene_positions(x, genes))
  sets <- c(by_pattern, by_ids)
  set_names <- c(names(patterns), names(gene_sets))
  if (anyDuplicated(set_names)) stop("gene set names must be unique", call. = FALSE)
  rust(wrap__cs_qc, x$path, as.character(set_names), lapply(sets, rust_index), as.numeric(top_n),
       progress_reporter(verbose))
  if (isTRUE(verbose)) {
    # Medians in DuckDB: the metrics stay in the store. A cell without counts has pct NaN.
    has_mt <- "mt" %in% set_names
    m <- sql(x, paste0("SELECT count(*) AS cells, median(n_counts) AS counts, median(n_genes) AS genes",
                       if (has_mt) ", median(pct_mt) FILTER (WHERE NOT isnan(pct_mt)) AS mt", " FROM obs"))
    say(verbose, "QC metrics for %s cells: median %s counts, %s genes%s", num(m$cells), num(m$counts),
        num(m$genes), if (has_mt) sprintf(", %.1f%% mitochondrial", m$mt) else "")
  }
  invisible(x)
}

#' QC metrics per cell
#'
#' @param x A store on which [calculate_qc_metrics()] has run.
#' @return A data.frame with `cell_id`, `n_counts`, `n_genes` and the metrics of
#'   [calculate_qc_metrics()] (`pct_<set>`, `pct_top_<N>`), one row per cell in store order.
#' @export
qc_metrics <- function(x) {
  rust(wrap__cs_require_current, x$path, "qc")
  s <- steps(x)
  columns <- in_table(s$columns[s$step == "qc"], "obs")
  sql(x, sprintf("SELECT cell_id, n_counts, n_genes, %s FROM obs ORDER BY cell_index",
                 paste(sprintf('"%s"', columns), collapse = ", ")))
}

check_set_names <- function(sets, arg) {
  if (length(sets) > 0 && (is.null(names(sets)) || any(!nzchar(names(sets))))) {
    stop(sprintf("every element of `%s` needs a name (it names the column pct_<name>)", arg), call. = FALSE)
  }
}

#' Flag outlier cells
#'
#' A cell is an outlier for a metric when it lies more than `nmads` median absolute
#' deviations from the median on the side(s) given (scater's `isOutlier()`; MAD scaled by
#' 1.4826 as R's `mad()`), or outside the fixed `min` / `max`. With `by`, medians and MADs
#' are taken within each group (e.g. `"sample"`). All cells are judged, whatever the kept
#' cells; combine the result with [set_keep()], e.g. `set_keep(x, "NOT qc_outlier")`.
#'
#' @param x A store.
#' @param metrics Named character vector: obs column = side, one of `"lower"`, `"higher"`,
#'   `"both"`. The default, library size and genes detected too low or % mitochondrial too
#'   high, is scater's `perCellQCFilters()`.
#' @param nmads Number of MADs (3, as scater).
#' @param log Metrics judged on the log1p scale (default: library size and genes detected,
#'   as scater).
#' @param min,max Named numeric vectors of fixed thresholds (e.g. `max = c(pct_mt = 5)`);
#'   their metrics need not be in `metrics`.
#' @param by An obs column that groups cells (MADs per group), or `NULL`.
#' @param column The obs column that gets the overall flag (`"qc_outlier"`); it also names
#'   the result for [outliers()].
#' @param verbose Print a one-line summary (`TRUE`).
#' @return The store, invisibly; [outliers()] reads the calls and thresholds.
#' @examples
#' x <- ingest_mtx(simulate_counts(500, 300, path = tempfile()), tempfile())
#' x |> calculate_qc_metrics() |> find_outliers()
#' attr(outliers(x), "thresholds")
#' @export
find_outliers <- function(x, metrics = c(n_counts = "lower", n_genes = "lower", pct_mt = "higher"),
                          nmads = 3, log = c("n_counts", "n_genes"), min = NULL, max = NULL,
                          by = NULL, column = "qc_outlier", verbose = TRUE) {
  all_metrics <- unique(c(names(metrics), names(min), names(max)))
  if (length(all_metrics) == 0) stop("give at least one metric", call. = FALSE)
  if (length(metrics) > 0 && is.null(names(metrics))) stop("`metrics` must be named by obs column",
                                                           call. = FALSE)
  if (!is.numeric(nmads) || length(nmads) != 1 || !(nmads > 0)) stop("`nmads` must be a positive number",
                                                                     call. = FALSE)
  side <- unname(ifelse(all_metrics %in% names(metrics), metrics[all_metrics], "none"))
  bound <- function(v) unname(as.numeric(ifelse(all_metrics %in% names(v), v[all_metrics], NA)))
  if (!is.character(column) || length(column) != 1 || is.na(column) || !nzchar(column)) {
    stop("`column` must name the obs column for the outlier flag", call. = FALSE)
  }
  n_outliers <- rust(wrap__cs_outliers, x$path, all_metrics, side, as.numeric(nmads), all_metrics %in% log,
                     bound(min), bound(max), by, column)
  say(verbose, "%s of %s cells are outliers (obs column '%s')", num(n_outliers), num(x$dim[1]), column)
  invisible(x)
}

#' Outlier calls
#'
#' @param x A store on which [find_outliers()] has run.
#' @param column The `column` given to [find_outliers()] (`"qc_outlier"`).
#' @return A data.frame, one row per cell: `cell_id`, one logical column per metric, and
#'   `outlier` (any metric). Its attribute `"thresholds"` gives, per metric and group, the
#'   median, MAD, bounds and number of outliers.
#' @export
outliers <- function(x, column = "qc_outlier") {
  step <- paste0("outliers:", column)
  rust(wrap__cs_require_current, x$path, step)
  flags <- cbind(data.frame(cell_id = cell_ids(x), stringsAsFactors = FALSE),
                 sql(x, sprintf('SELECT * FROM "%s_flags"', step)))
  attr(flags, "thresholds") <- sql(x, sprintf('SELECT * FROM "%s_thresholds"', step))
  flags
}
