#' Infer a gene regulatory network
#'
#' For every target gene, which transcription factors (TFs) predict its expression, scored by
#' tree-ensemble importance: GRNBoost2 / GENIE3, the first step of SCENIC. Each TF's values
#' over the fitting cells are quantised once to at most `n_bins` codes (0 = exactly zero,
#' non-zero values cut at quantiles, ties collapsed) and every tree is grown on those codes
#' by histogram split finding, level by level; a target is never its own predictor. Counts
#' stay in the store: TFs and then targets, a chunk at a time, are read from the gene-major
#' chunks over the fitting cells.
#'
#' **Methods.** `"batched"` (the default) is GENIE3's random forest (each target scaled to unit
#' variance, `n_trees` trees on 63.2% subsamples, sqrt(p) TFs per split), `batch_size` targets'
#' trees grown in one pass over the TF codes; `"rf"` grows the same trees one target at a time
#' (identical output). Tree t of every target is fitted on the same cells and its node at each
#' position meets the TFs in the same random order (each target still skips its own TF and TFs
#' constant in its node), so the targets of a batch mostly draw the same TFs and one pass over a
#' TF's non-zero cells builds all their histograms. The forests' trees stop at depth 6 (`max_depth`; a large value such as
#' 100 grows GENIE3's trees to pure leaves) and their `importance` is arboreto's GENIE3 one
#' (scikit-learn's `feature_importances_`: each tree's variance reductions normalised, averaged;
#' it sums to 1 per target). `"gbm"` is GRNBoost2 as arboreto 0.1.6 runs scikit-learn 1.2's
#' `GradientBoostingRegressor`: learning rate 0.01, depth 3, 10% of the TFs per split,
#' subsample 0.9 per tree, stopped when the mean out-of-bag improvement of the last 25 trees
#' is below 0 (the improvement measured on the same out-of-bag cells before and after each
#' tree, which scikit-learn >= 1.3 no longer does; arboreto then stops after ~25 trees), at
#' most `max_trees`; its `importance` is arboreto's (the normalised importance times the trees
#' used), so SCENIC thresholds carry over. `"shared_splits"` (bixverse's fast mode, opt-in) grows
#' one forest per batch of 16 correlated targets (batched by k-means on their loadings on the
#' leading principal components of their correlations): each split maximises the variance
#' reduction summed over the batch, and each target is credited its own share (a target's own
#' TF may split the batch's trees but never counts for it).
#'
#' Why `"batched"` is the default: on the SERGIO benchmarks (DS1 clean / UMI / noisy, DS2 UMI,
#' two seeds, scored as BEELINE) its median AUPR is 0.619 against faithful GRNBoost2's 0.565
#' and `"gbm"`'s 0.573, better on DS2 (0.34 / 0.33 against 0.32 / 0.31), and on 10,000 cells x
#' 500 TFs it takes about a quarter of `"gbm"`'s time per target (0.39 s against 1.45 s, one
#' thread; faithful arboreto GRNBoost2 takes 30.7 s). `"gbm"` is the faithful GRNBoost2 (at parity on every set) for pipelines calibrated
#' on arboreto's importances. `"shared_splits"` keeps 93-96% of the default's AUPR on DS2 (median
#' 0.593 over the sets) at about a third of its time.
#'
#' **Screening.** `screen_k` fits each target only on its `screen_k` TFs of largest |rho| (all
#' TFs when `NULL`, the default); with `"shared_splits"` a batch's trees use the union of its
#' targets' TFs. On SERGIO a screen to 5 or 10 TFs kept the median AUPR (0.616 / 0.615 against
#' 0.615 unscreened, measured before the forests shared their TF order) and raised DS2's, but
#' networks of at most 37 TFs cannot show what a screen to 50 of 1,000 TFs loses, so it is off
#' by default; it more than halves the forests' time (10,000 cells x 500 TFs, `screen_k = 50`:
#' 0.15 s per target against 0.39 s).
#'
#' **Values.** Trees ignore monotone transforms of the TFs but not of the target:
#' `transform = "norm"` (default, log1p(CP10k) as Seurat's `data`, what pySCENIC users feed),
#' `"log1p_raw"` (log1p of the counts: no library-size normalisation; better on small panels
#' whose few genes dominate every cell's total) or `"raw"`. `rho` is the Pearson correlation of
#' the TF and the target on those values (SCENIC's module step needs its sign).
#'
#' **Cells.** At most `max_cells` of the kept cells (optionally only those where the logical
#' obs column `cells` is TRUE) are fitted, drawn once with `seed`, in proportion to the groups
#' of `stratify_by` if given.
#'
#' On a store the network is stored as the step `grn:<name>` ([grn()] reads it back), stale
#' when the kept cells or the `cells` / `stratify_by` columns change. On a plain genes x cells
#' matrix (dense or `dgCMatrix`, gene names as row names) its values are used as they are.
#'
#' @param x A store, or a genes x cells matrix of non-negative values.
#' @param tfs TF genes (ids or symbols; those not found are dropped with a warning).
#' @param targets Target genes (`NULL`: every gene); an unknown one is an error.
#' @param method `"batched"`, `"gbm"`, `"rf"` or `"shared_splits"` (see above).
#' @param cells The name of a logical obs column: only kept cells where it is TRUE (`NULL`:
#'   every kept cell).
#' @param transform The values fitted: `"norm"`, `"log1p_raw"` or `"raw"` (store only).
#' @param n_trees Trees per target (per batch for `"shared_splits"`) of the forests (100:
#'   as accurate as 500 on the SERGIO benchmarks).
#' @param max_trees At most this many trees per target of `"gbm"` (5000, as GRNBoost2).
#' @param learning_rate Shrinkage of `"gbm"` (0.01, as GRNBoost2).
#' @param max_depth Depth limit (`NULL`: 3 for `"gbm"` as GRNBoost2, 6 for the forests).
#' @param max_features Share of the TFs visited per split (`NULL`: 0.1 for `"gbm"`, sqrt(p)
#'   TFs for the forests).
#' @param subsample Share of the fitting cells per tree (`NULL`: 0.9 for `"gbm"`, 0.632 for
#'   the forests).
#' @param screen_k Fit each target on its this many TFs of largest |rho| only (`NULL`: all).
#' @param early_stop_window Trees of `"gbm"`'s early-stopping window (25, as arboreto).
#' @param batch_size Targets per pass of `"batched"` (4).
#' @param n_bins Non-zero codes per TF, at most 255.
#' @param binning `"quantile"` (default) or `"equal_width"` cut points.
#' @param max_cells Fitting cells at most (50,000).
#' @param stratify_by An obs column whose groups keep their share of the fitting cells.
#' @param name Names the stored network (`"grn"`).
#' @param seed Random seed (777, as the arboreto runs of the reference; results are identical
#'   for any number of threads).
#' @param verbose Progress bar with an ETA, and a one-line summary (`TRUE`).
#' @return A data.frame, one row per (TF, target) with a positive importance: `TF`, `target`,
#'   `importance`, `importance_norm` (share of the target's total; sums to 1 per target),
#'   `rank_in_target` (1 = most important), `rho`, and on a store `TF_id`, `target_id`;
#'   target by target, each by importance. Attribute `targets`: per target the trees used and a
#'   note when nothing was learned (a constant target).
#' @examples
#' sim <- simulate_network(n_cells = 400, n_tfs = 8, n_targets = 20, path = tempfile())
#' x <- ingest_mtx(sim, tempfile())
#' net <- infer_grn(x, tfs = attr(sim, "tfs"), verbose = FALSE)
#' head(net)
#' @export
infer_grn <- function(x, tfs, targets = NULL, method = c("batched", "gbm", "rf", "shared_splits"),
                      cells = NULL, transform = c("norm", "log1p_raw", "raw"), n_trees = 100,
                      max_trees = 5000, learning_rate = 0.01, max_depth = NULL, max_features = NULL,
                      subsample = NULL, screen_k = NULL, early_stop_window = 25, batch_size = 4,
                      n_bins = 255, binning = c("quantile", "equal_width"), max_cells = 50000,
                      stratify_by = NULL, name = "grn", seed = 777, verbose = TRUE) {
  method <- match.arg(method)
  transform <- match.arg(transform)
  for (arg in c("n_trees", "max_trees", "early_stop_window", "batch_size", "n_bins", "max_cells")) {
    check_whole(get(arg), arg, 1)
  }
  check_whole(seed, "seed", 0)
  if (!is.null(max_depth)) check_whole(max_depth, "max_depth", 1)
  if (!is.null(screen_k)) check_whole(screen_k, "screen_k", 1)
  opts <- list(method = method, n_trees = n_trees, max_trees = max_trees, learning_rate = learning_rate,
               max_depth = optional_number(max_depth), max_features = optional_number(max_features),
               subsample = optional_number(subsample), screen_k = optional_number(screen_k),
               early_stop_window = early_stop_window,
               batch_size = batch_size, n_bins = n_bins, binning = match.arg(binning), seed = seed)
  if (is.matrix(x) || inherits(x, "Matrix")) return(grn_on_matrix(x, tfs, targets, opts, verbose))
  genes <- gene_ids(x)
  tf_pos <- grn_tfs(tfs, match(tfs, genes), match(tfs, gene_symbols(x)))
  target_pos <- if (is.null(targets)) seq_along(genes) else gene_positions(x, targets)
  res <- rust(wrap__cs_grn, x$path, name, rust_index(tf_pos), rust_index(target_pos), cells, stratify_by,
              max_cells, transform, opts, progress_reporter(verbose))
  net <- as_data_frame(res$edges)
  attr(net, "targets") <- as_data_frame(res$targets)
  say(verbose, "%s edges from %s TFs to %s targets (%s, %s cells); stored as grn(x, \"%s\")",
      num(nrow(net)), num(length(tf_pos)), num(length(target_pos)), method, num(res$n_cells), name)
  net
}

#' A stored gene regulatory network
#'
#' @param x A store.
#' @param name The `name` given to [infer_grn()].
#' @return The edge table as [infer_grn()] returned it; an error if it was never computed or
#'   the kept cells (or its `cells` / `stratify_by` columns) changed since.
#' @export
grn <- function(x, name = "grn") {
  step <- paste0("grn:", name)
  rust(wrap__cs_require_current, x$path, step)
  quoted <- gsub('"', '""', step)
  net <- sql(x, sprintf('SELECT * FROM "%s_table"', quoted))
  attr(net, "targets") <- sql(x, sprintf('SELECT * FROM "%s_targets"', quoted))
  net
}

#' Write a network in arboreto's format
#'
#' `TF\ttarget\timportance`, with a header, by importance (highest first): the adjacencies
#' file pySCENIC's `ctx` step reads.
#'
#' @param net A network from [infer_grn()] or [grn()].
#' @param path The file to write.
#' @return `path`, invisibly.
#' @export
write_grn_tsv <- function(net, path) {
  out <- net[order(-net$importance, net$TF, net$target), c("TF", "target", "importance")]
  utils::write.table(out, path, sep = "\t", quote = FALSE, row.names = FALSE)
  invisible(path)
}

#' Score a network against a ground truth, as BEELINE
#'
#' BEELINE's metrics (Pratapa et al. 2020) over the universe regulators x genes without self
#' loops: `AUPR` (trapezoid under the precision-recall curve, as BEELINE and scikit-learn's
#' `auc(recall, precision)`), `AUROC`, and `EPR`, the early precision ratio: the precision of
#' the top-k predictions (k = the number of true edges; ties at the cut kept, zeros never)
#' over the density of true edges. Scores are |importance|; pairs absent from `net` score 0.
#'
#' @param net A data.frame with columns `TF`, `target`, `importance`.
#' @param truth A data.frame whose first two columns are regulator and target.
#' @param regulators,genes The universe (default: the regulators and genes of `truth`).
#' @return A one-row data.frame: `AUPR`, `AUROC`, `EPR`, `density`, `n_true`, `n_universe`.
#' @examples
#' truth <- data.frame(regulator = c("a", "a", "b"), target = c("b", "c", "c"))
#' net <- data.frame(TF = c("a", "b", "a"), target = c("b", "c", "c"), importance = c(3, 2, 1))
#' grn_scores(net, truth)
#' @export
grn_scores <- function(net, truth, regulators = unique(as.character(truth[[1]])),
                       genes = unique(as.character(c(truth[[1]], truth[[2]])))) {
  universe <- expand.grid(TF = regulators, target = genes, stringsAsFactors = FALSE)
  universe <- universe[universe$TF != universe$target, ]
  key <- function(a, b) paste(a, b, sep = "\r")
  u <- key(universe$TF, universe$target)
  truth_keys <- unique(key(as.character(truth[[1]]), as.character(truth[[2]])))
  label <- u %in% truth_keys
  w <- abs(net$importance)
  pred_keys <- key(as.character(net$TF), as.character(net$target))
  best <- tapply(w, pred_keys, max)
  score <- unname(best[u])
  score[is.na(score)] <- 0
  n_true <- sum(label)
  density <- n_true / length(u)
  # Cumulative true / false positives at each distinct score, highest first.
  o <- order(-score)
  last <- c(diff(score[o]) != 0, TRUE)
  tps <- cumsum(label[o])[last]
  fps <- cumsum(!label[o])[last]
  precision <- c(1, tps / (tps + fps))
  recall <- c(0, tps / n_true)
  trapezoid <- function(x, y) sum(diff(x) * (utils::head(y, -1) + utils::tail(y, -1)) / 2)
  aupr <- trapezoid(recall, precision)
  auroc <- trapezoid(c(0, fps / sum(!label)), c(0, tps / n_true))
  in_u <- pred_keys %in% u & w > 0
  ranked <- sort(best[unique(pred_keys[in_u])], decreasing = TRUE)
  epr <- 0
  if (length(ranked) > 0) {
    cut <- max(min(ranked), ranked[min(length(ranked), n_true)])
    top <- names(ranked)[ranked >= cut]
    epr <- mean(top %in% truth_keys) / density
  }
  data.frame(AUPR = aupr, AUROC = auroc, EPR = epr, density = density, n_true = n_true,
             n_universe = length(u))
}

optional_number <- function(v) {
  if (is.null(v)) return(Inf)
  if (!is.numeric(v) || length(v) != 1 || is.na(v) || v <= 0) stop("expected one positive number or NULL", call. = FALSE)
  as.numeric(v)
}

# 1-based positions of the TFs found by id or else by symbol: a warning for those missing,
# an error when none is found.
grn_tfs <- function(tfs, by_id, by_symbol) {
  if (length(tfs) == 0) stop("`tfs` is empty; give the transcription factors to fit on", call. = FALSE)
  pos <- ifelse(is.na(by_id), by_symbol, by_id)
  missing <- is.na(pos)
  if (all(missing)) {
    stop(sprintf("none of the %d TFs is a gene here (first: '%s'); give gene ids or symbols",
                 length(tfs), tfs[1]), call. = FALSE)
  }
  if (any(missing)) {
    warning(sprintf("%d of %d TFs are not genes here and were dropped (first: '%s')", sum(missing),
                    length(tfs), tfs[missing][1]), call. = FALSE)
  }
  unique(pos[!missing])
}

grn_on_matrix <- function(m, tfs, targets, opts, verbose) {
  genes <- rownames(m)
  if (is.null(genes)) stop("the matrix needs gene names as row names", call. = FALSE)
  cols <- methods::as(Matrix::t(methods::as(m, "CsparseMatrix")), "dgCMatrix")
  if (length(cols@x) > 0 && min(cols@x) < 0) stop("the matrix holds negative values; give counts or log-normalised values", call. = FALSE)
  tf_pos <- grn_tfs(tfs, match(tfs, genes), rep(NA_integer_, length(tfs)))
  target_pos <- if (is.null(targets)) seq_along(genes) else match(targets, genes)
  if (anyNA(target_pos)) {
    stop(sprintf("target '%s' is not a row of the matrix", targets[is.na(target_pos)][1]), call. = FALSE)
  }
  res <- rust(wrap__cs_grn_matrix, cols@i, cols@p, as.numeric(cols@x), nrow(cols), rust_index(tf_pos),
              rust_index(target_pos), opts, progress_reporter(verbose))
  net <- data.frame(TF = genes[res$tf + 1L], target = genes[res$target + 1L], importance = res$importance,
                    importance_norm = res$importance_norm, rank_in_target = res$rank_in_target, rho = res$rho,
                    stringsAsFactors = FALSE)
  attr(net, "targets") <- data.frame(target = genes[target_pos], n_trees = res$n_trees,
                                     note = ifelse(nzchar(res$notes), res$notes, NA_character_))
  say(verbose, "%s edges from %s TFs to %s targets (%s)", num(nrow(net)), num(length(tf_pos)),
      num(length(target_pos)), opts$method)
  net
}
