#' Summarise expression per group of cells
#'
#' Genes x groups statistics over the kept cells (and those where `where` holds), read from
#' each gene's gene-major chunk in Rust; counts never come to R. Means and variances include
#' the zeros of every cell of the group. The same numbers come from SQL with [sql()] and the
#' table function `expr()` (see [sql()]).
#'
#' @param x A store.
#' @param features Genes (ids, unique symbols or positions); `NULL` for every gene.
#' @param group_by An obs column of groups, or `NULL` for one group `"all"`.
#' @param fun One or more of `"sum"` (the default, as Seurat's `AggregateExpression()`),
#'   `"mean"`, `"count_nonzero"`, `"pct"` (percent of the group's cells with a non-zero value),
#'   `"max"`, `"var"` (sample variance, n - 1, as R's `var()`), `"mean_nonzero"`.
#' @param layer `"raw"` counts, `"norm"` (log1p(count / library size x 1e4), computed exactly
#'   from the counts, not the stored 16-bit values) or `"cp10k"` (count / library size x 1e4).
#' @param where An SQL condition on obs that further restricts the cells, or `NULL`.
#' @param format `"matrix"`: a genes x groups matrix (a list of them, named by `fun`, for several
#'   statistics); `"long"`: a data.frame with `gene`, `gene_id`, `group`, `n_cells` and one
#'   column per statistic.
#' @param verbose Show a progress bar (`FALSE`).
#' @return See `format`. Row names are the gene symbols made unique as Seurat's
#'   (`make.unique()`); attribute `n_cells` gives each group's number of cells.
#' @examples
#' sim <- simulate_counts(500, 200, n_clusters = 3, path = tempfile())
#' x <- ingest_mtx(sim, tempfile())
#' set_obs(x, "type", attr(sim, "truth")$cluster)
#' aggregate_expression(x, features = 1:5, group_by = "type")
#' aggregate_expression(x, features = 1:3, group_by = "type", fun = c("mean", "pct"), format = "long")
#' @export
aggregate_expression <- function(x, features = NULL, group_by = NULL, fun = "sum",
                                 layer = c("raw", "norm", "cp10k"), where = NULL,
                                 format = c("matrix", "long"), verbose = FALSE) {
  fun <- match.arg(fun, c("sum", "mean", "count_nonzero", "pct", "max", "var", "mean_nonzero"), several.ok = TRUE)
  layer <- match.arg(layer)
  format <- match.arg(format)
  genes <- gene_positions(x, features)
  res <- rust(wrap__cs_aggregate, x$path, rust_index(genes), group_by, where, fun, layer, progress_reporter(verbose))
  names <- make.unique(gene_symbols(x))[genes]
  if (format == "long") {
    n_groups <- length(res$levels)
    long <- data.frame(gene = rep(names, n_groups), gene_id = rep(gene_ids(x)[genes], n_groups),
                       group = rep(res$levels, each = length(genes)),
                       n_cells = rep(res$n_cells, each = length(genes)), stringsAsFactors = FALSE)
    long$group <- factor(long$group, levels = res$levels)
    for (k in seq_along(fun)) long[[fun[k]]] <- res$values[[k]]
    return(long)
  }
  mats <- lapply(res$values, function(values) {
    matrix(values, nrow = length(genes), dimnames = list(names, res$levels))
  })
  out <- if (length(fun) == 1) mats[[1]] else stats::setNames(mats, fun)
  attr(out, "n_cells") <- stats::setNames(res$n_cells, res$levels)
  out
}

#' Average expression per group, as Seurat
#'
#' Seurat's `AverageExpression()`: the mean of expm1 of the log-normalised values, which is
#' the mean number of counts per 10,000 (CP10k) over every cell of the group, zeros included.
#'
#' @inheritParams aggregate_expression
#' @return A genes x groups matrix.
#' @export
average_expression <- function(x, features = NULL, group_by = NULL, where = NULL) {
  aggregate_expression(x, features, group_by, fun = "mean", layer = "cp10k", where = where)
}

#' Pseudobulk counts
#'
#' Raw counts summed per sample (and per group, e.g. cell type) over the kept cells, in one
#' pass over the cell-major chunks: the input of bulk differential-expression tools.
#'
#' @param x A store.
#' @param sample_by The obs column of samples (donors, replicates).
#' @param group_by An obs column of groups (cell types), or `NULL`.
#' @param where An SQL condition on obs that further restricts the cells, or `NULL`.
#' @param verbose Show a progress bar (`FALSE`).
#' @return A genes x pseudosamples `dgCMatrix` (row names: gene ids; columns named
#'   `<sample>` or `<sample>_<group>`), with attribute `samples`: a data.frame of `pseudosample`,
#'   `sample`, `group`, `n_cells` and `n_counts`. Pseudosamples without cells are left out.
#' @export
pseudobulk <- function(x, sample_by, group_by = NULL, where = NULL, verbose = FALSE) {
  res <- rust(wrap__cs_pseudobulk, x$path, sample_by, group_by, where, progress_reporter(verbose))
  name <- if (is.null(group_by)) res$sample else paste(res$sample, res$group, sep = "_")
  m <- Matrix::sparseMatrix(i = res$i, p = as.integer(res$p), x = res$x, dims = as.integer(res$dims), index1 = FALSE,
                            dimnames = list(gene_ids(x), name), repr = "C")
  attr(m, "samples") <- data.frame(pseudosample = name, sample = res$sample,
                                   group = if (is.null(group_by)) NA_character_ else res$group,
                                   n_cells = res$n_cells, n_counts = res$n_counts, stringsAsFactors = FALSE)
  m
}

#' Differential expression between conditions across samples (pseudobulk)
#'
#' Sums each sample's counts ([pseudobulk()]), per cell type when `cell_type_by` is given, and
#' compares the samples of condition `ident_1` with those of `ident_2` with a bulk method, so
#' that samples, not cells, are the replicates. The calls, on the pseudobulk matrix `y` with
#' `condition` a factor with levels `c(ident_2, ident_1)`:
#'
#' - `"edgeR"`: `DGEList(y, group = condition)`, `filterByExpr()`, `calcNormFactors()`,
#'   `estimateDisp(design = model.matrix(~condition))`, `glmQLFit()`, `glmQLFTest()`, `topTags(n = Inf)`;
#' - `"DESeq2"`: `DESeqDataSetFromMatrix(y, data.frame(condition), ~condition)`, `DESeq()`,
#'   `results(contrast = c("condition", ident_1, ident_2))`;
#' - `"limma-voom"`: `DGEList()`, `filterByExpr()`, `calcNormFactors()`, `voom()`, `lmFit()`,
#'   `eBayes()`, `topTable(coef = 2, n = Inf)`.
#'
#' @param x A store.
#' @param sample_by The obs column of samples (each sample in one condition).
#' @param condition_by The obs column of conditions.
#' @param ident_1,ident_2 The two conditions; fold changes are `ident_1` over `ident_2`.
#' @param cell_type_by An obs column of cell types (one comparison per type), or `NULL`.
#' @param method `"edgeR"`, `"DESeq2"` or `"limma-voom"` (package in Suggests).
#' @param min_cells,min_counts Pseudosamples with fewer cells (10) or counts (1000) are dropped.
#' @param where An SQL condition on obs that further restricts the cells, or `NULL`.
#' @return A data.frame: `gene_id`, `gene`, `cell_type` (with `cell_type_by`), `logFC`
#'   (log2, `ident_1` over `ident_2`), `p_val`, `p_val_adj` (the method's FDR / padj) and the
#'   method's own columns. Attribute `samples` lists the pseudosamples used.
#' @export
de_pseudobulk <- function(x, sample_by, condition_by, ident_1, ident_2, cell_type_by = NULL,
                          method = c("edgeR", "DESeq2", "limma-voom"), min_cells = 10, min_counts = 1000,
                          where = NULL) {
  method <- match.arg(method)
  require_package(c(edgeR = "edgeR", DESeq2 = "DESeq2", `limma-voom` = "edgeR")[[method]])
  if (method == "limma-voom") require_package("limma")
  pb <- pseudobulk(x, sample_by, cell_type_by, where)
  info <- attr(pb, "samples")
  conditions <- sql(x, sprintf('SELECT DISTINCT CAST("%s" AS VARCHAR) AS sample, CAST("%s" AS VARCHAR) AS condition
                               FROM obs WHERE keep', sample_by, condition_by))
  mixed <- conditions$sample[duplicated(conditions$sample)]
  if (length(mixed) > 0) {
    stop(sprintf("sample '%s' has cells of several conditions in '%s'; each sample must be in one condition",
                 mixed[1], condition_by), call. = FALSE)
  }
  info$condition <- conditions$condition[match(info$sample, conditions$sample)]
  used <- info$condition %in% c(ident_1, ident_2) & info$n_cells >= min_cells & info$n_counts >= min_counts
  types <- if (is.null(cell_type_by)) NA_character_ else unique(info$group[used])
  results <- lapply(types, function(type) {
    cols <- which(used & (is.na(type) | info$group %in% type))
    cond <- info$condition[cols]
    n <- table(factor(cond, levels = c(ident_1, ident_2)))
    if (any(n < 2)) {
      stop(sprintf("%s%s has %d sample(s) of '%s' and %d of '%s' (after min_cells = %d, min_counts = %d); pseudobulk DE needs at least 2 replicates per condition: compare cells with find_markers() instead",
                   if (is.na(type)) "the comparison" else "cell type ", if (is.na(type)) "" else sprintf("'%s'", type),
                   n[[1]], ident_1, n[[2]], ident_2, min_cells, min_counts), call. = FALSE)
    }
    res <- bulk_test(pb[, cols, drop = FALSE], factor(cond, levels = c(ident_2, ident_1)), method, ident_1, ident_2)
    if (!is.na(type)) res <- cbind(res[1], cell_type = type, res[-1])
    res
  })
  out <- do.call(rbind, results)
  symbols <- var(x)$symbol[match(out$gene_id, gene_ids(x))]
  out <- cbind(out[1], gene = symbols, out[-1])
  rownames(out) <- NULL
  attr(out, "samples") <- info[used, , drop = FALSE]
  out
}

# One bulk test on a pseudobulk matrix `y` (genes x samples) with condition factor `cond`
# (levels: reference, then the tested condition).
bulk_test <- function(y, cond, method, ident_1, ident_2) {
  y <- as.matrix(y)
  design <- stats::model.matrix(~cond)
  if (method == "DESeq2") {
    dds <- suppressMessages(DESeq2::DESeqDataSetFromMatrix(y, data.frame(condition = cond), ~condition))
    dds <- DESeq2::DESeq(dds, quiet = TRUE)
    r <- as.data.frame(DESeq2::results(dds, contrast = c("condition", ident_1, ident_2)))
    return(data.frame(gene_id = rownames(r), logFC = r$log2FoldChange, p_val = r$pvalue, p_val_adj = r$padj,
                      baseMean = r$baseMean, lfcSE = r$lfcSE, stat = r$stat, stringsAsFactors = FALSE))
  }
  d <- edgeR::DGEList(y, group = cond)
  d <- d[edgeR::filterByExpr(d, group = cond), , keep.lib.sizes = FALSE]
  d <- edgeR::calcNormFactors(d)
  if (method == "edgeR") {
    d <- edgeR::estimateDisp(d, design)
    r <- edgeR::topTags(edgeR::glmQLFTest(edgeR::glmQLFit(d, design)), n = Inf)$table
    return(data.frame(gene_id = rownames(r), logFC = r$logFC, p_val = r$PValue, p_val_adj = r$FDR,
                      logCPM = r$logCPM, F = r$F, stringsAsFactors = FALSE))
  }
  v <- limma::voom(d, design)
  r <- limma::topTable(limma::eBayes(limma::lmFit(v, design)), coef = 2, number = Inf)
  data.frame(gene_id = rownames(r), logFC = r$logFC, p_val = r$P.Value, p_val_adj = r$adj.P.Val,
             AveExpr = r$AveExpr, t = r$t, stringsAsFactors = FALSE)
}
