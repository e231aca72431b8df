#' Find marker genes of every group
#'
#' Each group of an obs column (clusters by default) against all other kept cells, over every
#' gene of the store, in one pass over the gene-major chunks: each gene's values are ranked
#' once over the kept cells and every group's rank sum follows (Seurat's `FindAllMarkers()`,
#' scanpy's `rank_genes_groups()`). Counts never leave the store.
#'
#' **Tests.** `"wilcox"`: the Wilcoxon rank-sum test by its normal approximation, with tie and
#' continuity correction, exactly as R's `wilcox.test(exact = FALSE, correct = TRUE)`, limma,
#' presto and Seurat; `correct = FALSE, tie_correct = FALSE` gives scanpy's default
#' (`score` then equals scanpy's `scores`). p-values are computed in log space
#' (`log10_p_val` stays finite where `p_val` underflows to 0). `"roc"`: the AUROC and its power
#' 2|AUC - 0.5| (in `statistic`), no p-value, as Seurat's `"roc"`. `"t"`: Welch's t test on the
#' log-normalised values, as Seurat's `"t"`. Every test reports `auc` = U / (n1 n2).
#'
#' **Values.** Ranks come from the exact log-normalised values, recomputed from the counts
#' and library sizes (the ties of Seurat's `data` slot; zeros form one tie block);
#' `rank_stored = TRUE` ranks the stored f16 values instead (faster, more ties).
#'
#' **Fold change** (`avg_log2FC`), from expm1 of the values, computed exactly as count /
#' library size x 1e4: `"seurat_v5"` (default) log2((sum + 1) / n) of each side (pseudocount
#' added to the sum, Seurat 5); `"seurat_v4"` log2(mean + 1) of each side (pseudocount added to
#' the mean, Seurat 4); `"scanpy"` log2((expm1(mean of log values) + 1e-9) / (same for the rest)),
#' scanpy's `logfoldchanges`. They differ most for genes rarely detected in a small group.
#'
#' **Filters** (before testing, as Seurat): `max(pct.1, pct.2) >= min_pct` on rates rounded to
#' 3 decimals as Seurat rounds them, `|avg_log2FC| >= logfc_threshold`; after testing rows with
#' `p_val < return_thresh` stay (ROC: AUC above it or below 1 - it).
#'
#' The table is also stored as the step `markers:<name>`, stamped with the kept cells and the
#' step that wrote `group_by`: [markers()] reads it back in a later session, and it becomes
#' stale (an error) when either changes.
#'
#' @param x A store.
#' @param group_by The obs column of groups (`"leiden"`); its values on the kept cells.
#' @param test `"wilcox"` (Seurat's default), `"roc"` or `"t"`.
#' @param fc Fold change definition: `"seurat_v5"`, `"seurat_v4"` or `"scanpy"`.
#' @param logfc_threshold Minimum |avg_log2FC| (0.1, as Seurat 5).
#' @param min_pct Minimum fraction of cells detecting the gene in either side (0.01, as Seurat 5).
#' @param only_pos Only genes higher in the group (`FALSE`, as Seurat).
#' @param min_cells_group Groups with fewer kept cells are skipped with a warning (3, as Seurat).
#' @param max_cells_per_ident At most this many cells of each group take part, chosen at random
#'   with `seed` (`Inf`, as Seurat: all). Unlike Seurat the same cells serve every comparison.
#' @param return_thresh Keep rows with `p_val` below it (0.01, as Seurat's `FindAllMarkers`);
#'   `Inf` keeps all.
#' @param correct,tie_correct Continuity and tie correction of the Wilcoxon test (`TRUE`, as
#'   R and Seurat; scanpy: `FALSE`, `FALSE`).
#' @param rank_stored Rank the stored f16 values rather than the exact ones (`FALSE`).
#' @param name Names the stored result for [markers()] (`group_by`).
#' @param seed Random seed for `max_cells_per_ident`.
#' @param verbose Show a progress bar and a one-line summary (`TRUE`).
#' @return A data.frame, one row per gene and group: `gene` (symbol), `cluster` (a factor),
#'   `p_val`, `avg_log2FC`, `pct.1`, `pct.2`, `p_val_adj` (Bonferroni over all genes of the
#'   store, as Seurat), `p_val_adj_bh` (Benjamini-Hochberg, same gene count), `log10_p_val`,
#'   `auc`, `statistic` (W = U of the group as `wilcox.test`; t; ROC power), `score` (signed
#'   normal deviate, scanpy's `scores`; t) and `gene_id`; ordered by cluster, then p-value,
#'   then fold change.
#' @examples
#' sim <- simulate_counts(600, 300, n_clusters = 3, path = tempfile())
#' x <- ingest_mtx(sim, tempfile(), min_cells = 3)
#' set_obs(x, "type", attr(sim, "truth")$cluster)
#' head(find_all_markers(x, group_by = "type", verbose = FALSE))
#' @export
find_all_markers <- function(x, group_by = "leiden", test = c("wilcox", "roc", "t"),
                             fc = c("seurat_v5", "seurat_v4", "scanpy"), logfc_threshold = 0.1,
                             min_pct = 0.01, only_pos = FALSE, min_cells_group = 3,
                             max_cells_per_ident = Inf, return_thresh = 0.01, correct = TRUE,
                             tie_correct = TRUE, rank_stored = FALSE, name = group_by, seed = 1,
                             verbose = TRUE) {
  opts <- markers_options(match.arg(test), match.arg(fc), logfc_threshold, min_pct, only_pos,
                          min_cells_group, max_cells_per_ident, return_thresh, correct, tie_correct,
                          rank_stored, seed)
  run_markers(x, name, group_by, NULL, NULL, opts, verbose)
}

#' Find marker genes of one group
#'
#' One group (or several levels together) against every other kept cell, or against another
#' group: Seurat's `FindMarkers()`. Only the cells of the two sides are ranked when `ident_2`
#' is given. Tests, values, fold changes and filters as [find_all_markers()], whose arguments
#' this takes; `return_thresh` defaults to `Inf` (all rows, as `FindMarkers`).
#'
#' @inheritParams find_all_markers
#' @param ident_1 Level(s) of `group_by` on the first side.
#' @param ident_2 Level(s) on the other side, or `NULL` for every other kept cell.
#' @param ... Further arguments of [find_all_markers()] (`test`, `fc`, `logfc_threshold`, ...).
#' @param name Names the stored result (`"<group_by>:<ident_1>_vs_<ident_2 or rest>"`).
#' @return A data.frame as [find_all_markers()], `cluster` naming the first side.
#' @export
find_markers <- function(x, ident_1, ident_2 = NULL, group_by = "leiden", ...,
                         return_thresh = Inf, name = NULL, verbose = TRUE) {
  args <- list(...)
  unknown <- setdiff(names(args), names(formals(markers_options)))
  if (length(unknown) > 0 || length(args) != sum(nzchar(names(args)))) {
    stop(sprintf("unknown argument(s) of find_markers(): %s", paste(unknown, collapse = ", ")), call. = FALSE)
  }
  defaults <- formals(find_all_markers)
  pick <- function(arg) if (!is.null(args[[arg]])) args[[arg]] else eval(defaults[[arg]])[1]
  opts <- markers_options(pick("test"), pick("fc"), pick("logfc_threshold"), pick("min_pct"),
                          pick("only_pos"), pick("min_cells_group"), pick("max_cells_per_ident"),
                          return_thresh, pick("correct"), pick("tie_correct"), pick("rank_stored"),
                          pick("seed"))
  ident_1 <- as.character(ident_1)
  if (!is.null(ident_2)) ident_2 <- as.character(ident_2)
  if (is.null(name)) {
    name <- sprintf("%s:%s_vs_%s", group_by, paste(ident_1, collapse = "+"),
                    if (is.null(ident_2)) "rest" else paste(ident_2, collapse = "+"))
  }
  run_markers(x, name, group_by, ident_1, ident_2, opts, verbose)
}

markers_options <- function(test, fc, logfc_threshold, min_pct, only_pos, min_cells_group,
                            max_cells_per_ident, return_thresh, correct, tie_correct, rank_stored,
                            seed) {
  number <- function(v, arg) {
    if (!is.numeric(v) || length(v) != 1 || is.na(v)) stop(sprintf("`%s` must be a single number", arg), call. = FALSE)
    as.numeric(v)
  }
  if (!is.infinite(max_cells_per_ident)) check_whole(max_cells_per_ident, "max_cells_per_ident", 1)
  check_whole(min_cells_group, "min_cells_group", 1)
  check_whole(seed, "seed", 0)
  list(test = match.arg(test, c("wilcox", "roc", "t")), fc = match.arg(fc, c("seurat_v5", "seurat_v4", "scanpy")),
       logfc_threshold = number(logfc_threshold, "logfc_threshold"), min_pct = number(min_pct, "min_pct"),
       only_pos = only_pos, min_cells_group = as.numeric(min_cells_group),
       max_cells_per_ident = as.numeric(max_cells_per_ident), return_thresh = number(return_thresh, "return_thresh"),
       correct = correct, tie_correct = tie_correct, rank_stored = rank_stored, seed = as.numeric(seed))
}

run_markers <- function(x, name, group_by, ident_1, ident_2, opts, verbose) {
  res <- rust(wrap__cs_markers, x$path, name, group_by, ident_1, ident_2, opts, progress_reporter(verbose))
  if (length(res$skipped) > 0) {
    warning(sprintf("group(s) %s of '%s' have fewer than min_cells_group = %d kept cells and were skipped",
                    paste(res$skipped, collapse = ", "), group_by, as.integer(opts$min_cells_group)), call. = FALSE)
  }
  table <- with_factor_clusters(as_data_frame(res$table))
  say(verbose, "%s marker rows (%s) for %s group(s) of '%s'; stored as markers(x, \"%s\")", num(nrow(table)),
      opts$test, num(nlevels(table$cluster)), group_by, name)
  table
}

with_factor_clusters <- function(table) {
  table$cluster <- factor(table$cluster, levels = unique(table$cluster))
  table
}

#' Stored marker genes
#'
#' @param x A store.
#' @param name The `name` given to [find_all_markers()] or [find_markers()] (by default the
#'   grouping column, e.g. `"leiden"`).
#' @return The marker table as [find_all_markers()] returned it. An error if it was never
#'   computed, or if the kept cells or the grouping column changed since.
#' @export
markers <- function(x, name = "leiden") {
  step <- paste0("markers:", name)
  rust(wrap__cs_require_current, x$path, step)
  with_factor_clusters(sql(x, sprintf('SELECT * FROM "%s_table"', gsub('"', '""', step))))
}
