#' Plot an embedding
#'
#' A ggplot2 scatter plot of a stored embedding, coloured by an `obs()` column (a cluster,
#' sample or QC metric) or by a gene's log-normalised expression, read from the gene-major
#' chunks. Point size and transparency shrink with the number of cells so that a million
#' cells draw in seconds and stay readable; categories are drawn in random order (no
#' category hides another), values in increasing order (high values on top).
#'
#' @param x A store.
#' @param reduction `"umap"` or `"pca"` (see [embedding()]).
#' @param color_by An `obs()` column, or a gene id or symbol; `NULL` for none.
#' @param dims The two coordinates to plot (1 and 2).
#' @param point_size,alpha Point size and opacity; `NULL` chooses by the number of cells.
#' @return A `ggplot` object (add layers, `ggplot2::ggsave()` it, or print it).
#' @examples
#' x <- ingest_mtx(simulate_counts(500, 400, path = tempfile()), tempfile(), min_cells = 3)
#' find_hvg(x, n = 200)
#' run_pca(x, n_pcs = 10, verbose = FALSE)
#' find_neighbors(x, n_pcs = 10, verbose = FALSE)
#' cluster_leiden(x, verbose = FALSE)
#' run_umap(x, verbose = FALSE)
#' plot_embedding(x, color_by = "leiden")
#' @export
plot_embedding <- function(x, reduction = c("umap", "pca"), color_by = "leiden", dims = c(1, 2),
                           point_size = NULL, alpha = NULL) {
  reduction <- match.arg(reduction)
  e <- embedding(x, reduction)
  prefix <- if (reduction == "umap") "UMAP_" else "PC_"
  axes <- paste0(prefix, dims)
  if (!all(axes %in% names(e))) stop(sprintf("`dims` must name coordinates of the %s embedding", reduction),
                                     call. = FALSE)
  n <- nrow(e)
  # Chosen by looking at 1k-1M-cell plots at 7 x 6 in, 150 dpi: 70 / sqrt(n) keeps clusters
  # solid but cells visible (0.7 at 10k); below 0.3 a point is under a pixel and clusters fade.
  point_size <- point_size %||% min(1.5, max(0.3, 70 / sqrt(n)))
  alpha <- alpha %||% (if (n <= 10000) 1 else max(0.2, 1 - 0.2 * log10(n / 10000)))
  colour <- NULL
  if (!is.null(color_by)) {
    if (!is.character(color_by) || length(color_by) != 1) stop("`color_by` must be one column or gene name",
                                                               call. = FALSE)
    if (color_by %in% names(e)) {
      colour <- e[[color_by]]
    } else {
      values <- gene_values(x, color_by)
      colour <- values[[2]][match(e$cell_id, values$cell_id)]
    }
    categorical <- is.factor(colour) || is.character(colour) || is.logical(colour)
    order <- if (categorical) sample.int(n) else order(colour, na.last = FALSE)
    e <- e[order, , drop = FALSE]
    e$.colour <- if (categorical) as.factor(colour[order]) else colour[order]
  }
  aesthetics <- if (is.null(colour)) {
    ggplot2::aes(x = .data[[axes[1]]], y = .data[[axes[2]]])
  } else {
    ggplot2::aes(x = .data[[axes[1]]], y = .data[[axes[2]]], colour = .data$.colour)
  }
  p <- ggplot2::ggplot(e, aesthetics) +
    ggplot2::geom_point(size = point_size, alpha = alpha, stroke = 0, shape = 16) +
    ggplot2::labs(x = axes[1], y = axes[2], colour = color_by) +
    ggplot2::theme_classic()
  if (!is.null(colour) && is.factor(e$.colour) && nlevels(e$.colour) > MAX_LEGEND_KEYS) {
    # The default hue wheel gives neighbouring labels (e.g. the largest clusters "0", "1", ...)
    # nearly the same colour when there are hundreds; golden-angle steps keep them apart.
    hues <- (seq_len(nlevels(e$.colour)) * 137.508) %% 360
    p <- p + ggplot2::scale_colour_manual(values = grDevices::hcl(h = hues, c = 90, l = 60), guide = "none") +
      ggplot2::labs(subtitle = sprintf("%s: %d categories (too many for a legend)", color_by,
                                       nlevels(e$.colour)))
  } else if (!is.null(colour) && is.factor(e$.colour)) {
    p <- p + ggplot2::guides(colour = ggplot2::guide_legend(override.aes = list(size = 3, alpha = 1)))
  } else if (!is.null(colour)) {
    p <- p + ggplot2::scale_colour_viridis_c()
  }
  p
}

#' Plot QC metrics
#'
#' Violins of library size, genes detected and mitochondrial percentage per cell (from
#' [calculate_qc_metrics()]), with the outlier calls of [find_outliers()] (an obs column, by
#' default `qc_outlier`) or, without them, the kept cells, as points. Points are a random
#' sample of at most `max_points` cells, so the plot stays fast on millions of cells.
#'
#' @param x A store with QC metrics.
#' @param outliers An obs column of logical outlier calls (`"qc_outlier"`); when it is absent,
#'   points are coloured by whether the cell is kept.
#' @param by An obs column to split the violins by (e.g. `"sample"`); `NULL` for none.
#' @param max_points Most points drawn per panel (20,000).
#' @return A `ggplot` object.
#' @export
plot_qc <- function(x, outliers = "qc_outlier", by = NULL, max_points = 20000) {
  o <- suppressMessages(obs(x))
  metrics <- c("n_counts", "n_genes", "pct_mt")
  missing <- setdiff(metrics, names(o))
  if (length(missing) > 0) stop(sprintf("no %s in obs; run calculate_qc_metrics(x) first", paste(missing,
      collapse = ", ")), call. = FALSE)
  flag <- if (!is.null(outliers) && outliers %in% names(o)) {
    factor(ifelse(o[[outliers]], "outlier", "ok"), levels = c("ok", "outlier"))
  } else {
    factor(ifelse(keep(x), "kept", "dropped"), levels = c("kept", "dropped"))
  }
  group <- if (is.null(by)) factor(rep("all cells", nrow(o))) else as.factor(o[[by]])
  long <- data.frame(metric = factor(rep(c("library size (n_counts)", "genes (n_genes)", "% mitochondrial"),
                                         each = nrow(o)),
                                     levels = c("library size (n_counts)", "genes (n_genes)",
                                                "% mitochondrial")),
                     value = c(o$n_counts, o$n_genes, o$pct_mt), group = rep(group, 3), call = rep(flag, 3))
  shown <- long[unlist(lapply(split(seq_len(nrow(long)), long$metric), function(i) i[sample.int(length(i),
      min(length(i), max_points))])), ]
  ggplot2::ggplot(long, ggplot2::aes(x = .data$group, y = .data$value)) +
    ggplot2::geom_jitter(data = shown, ggplot2::aes(colour = .data$call), width = 0.35, height = 0,
                         size = 0.2, alpha = 0.3) +
    ggplot2::geom_violin(fill = NA, colour = "black", scale = "width") +
    ggplot2::facet_wrap(~metric, scales = "free_y") +
    ggplot2::scale_colour_manual(values = c(ok = "grey30", kept = "grey30", outlier = "firebrick",
                                            dropped = "firebrick"), drop = TRUE) +
    ggplot2::labs(x = NULL, y = NULL, colour = NULL) +
    ggplot2::guides(colour = ggplot2::guide_legend(override.aes = list(size = 3, alpha = 1))) +
    ggplot2::theme_classic()
}

# More categories than this get no legend (it would cover the plot).
MAX_LEGEND_KEYS <- 40

`%||%` <- function(a, b) if (is.null(a)) b else a
