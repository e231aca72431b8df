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

#' Dot plot of genes per group
#'
#' Seurat's `DotPlot()`: for each gene and group, the dot's size is the percent of the
#' group's cells that express the gene and its colour the average expression (mean CP10k,
#' [average_expression()]), scaled across groups per gene (z-score clipped to -2.5..2.5) unless
#' `scale = FALSE` (then log1p of the mean). The numbers are those of [aggregate_expression()].
#'
#' @param x A store.
#' @param features Genes (ids or symbols), e.g. the top markers of each cluster.
#' @param group_by An obs column of groups (`"leiden"`).
#' @param scale Scale each gene's averages across groups (`TRUE`, as Seurat).
#' @return A `ggplot` object; its data hold `gene`, `group`, `avg_exp`, `pct_exp` and
#'   `avg_exp_scaled`.
#' @export
plot_dot <- function(x, features, group_by = "leiden", scale = TRUE) {
  a <- aggregate_expression(x, unique(features), group_by, fun = c("mean", "pct"), layer = "cp10k", format = "long")
  names(a)[names(a) == "mean"] <- "avg_exp"
  names(a)[names(a) == "pct"] <- "pct_exp"
  a$avg_exp_scaled <- stats::ave(a$avg_exp, a$gene, FUN = if (scale) scaled_across_groups else log1p)
  a$gene <- factor(a$gene, levels = unique(a$gene))
  ggplot2::ggplot(a, ggplot2::aes(x = .data$gene, y = .data$group)) +
    ggplot2::geom_point(ggplot2::aes(size = .data$pct_exp, colour = .data$avg_exp_scaled)) +
    ggplot2::scale_radius(range = c(0, 6), limits = c(0, 100)) +
    ggplot2::scale_colour_gradient(low = "lightgrey", high = "blue") +
    ggplot2::labs(x = NULL, y = group_by, size = "% expressed",
                  colour = if (scale) "average\n(scaled)" else "log1p(average)") +
    ggplot2::theme_classic() +
    ggplot2::theme(axis.text.x = ggplot2::element_text(angle = 90, hjust = 1, vjust = 0.5))
}

#' Violin plots of genes per group
#'
#' Seurat's `VlnPlot()`: each gene's log-normalised values (the stored layer) over the kept
#' cells, one violin per group, with at most `max_points` cells per gene drawn as points.
#'
#' @inheritParams plot_dot
#' @param max_points Most points drawn per gene (20,000).
#' @return A `ggplot` object, one facet per gene.
#' @export
plot_violin <- function(x, features, group_by = "leiden", max_points = 20000) {
  require_current_column(x, group_by)
  o <- sql(x, sprintf('SELECT "%s" AS grp FROM obs ORDER BY cell_index', gsub('"', '""', group_by)))
  values <- gene_values(x, features)
  kept <- keep(x)
  genes <- names(values)[-1]
  long <- data.frame(gene = factor(rep(genes, each = sum(kept)), levels = genes),
                     group = factor(rep(o$grp[kept], length(genes))),
                     value = unlist(lapply(values[-1], function(v) v[kept]), use.names = FALSE))
  shown <- long[unlist(lapply(split(seq_len(nrow(long)), long$gene), function(i) {
    i[sample.int(length(i), min(length(i), max_points))]
  })), ]
  ggplot2::ggplot(long, ggplot2::aes(x = .data$group, y = .data$value, fill = .data$group)) +
    ggplot2::geom_violin(scale = "width", colour = "black") +
    ggplot2::geom_jitter(data = shown, width = 0.3, height = 0, size = 0.1, alpha = 0.3) +
    ggplot2::facet_wrap(~gene, scales = "free_y") +
    ggplot2::labs(x = group_by, y = "log-normalised expression") +
    ggplot2::guides(fill = "none") +
    ggplot2::theme_classic()
}

#' Heatmap of scaled group means
#'
#' Each gene's mean log-normalised value per group ([aggregate_expression()], exact values),
#' scaled across groups (z-score, clipped to -2.5..2.5): a compact view of markers per cluster.
#'
#' @inheritParams plot_dot
#' @return A `ggplot` object; its data hold `gene`, `group`, `mean` and `scaled`.
#' @export
plot_heatmap <- function(x, features, group_by = "leiden") {
  a <- aggregate_expression(x, unique(features), group_by, fun = "mean", layer = "norm", format = "long")
  a$scaled <- stats::ave(a$mean, a$gene, FUN = scaled_across_groups)
  a$gene <- factor(a$gene, levels = rev(unique(a$gene)))
  ggplot2::ggplot(a, ggplot2::aes(x = .data$group, y = .data$gene, fill = .data$scaled)) +
    ggplot2::geom_tile() +
    ggplot2::scale_fill_gradient2(low = "#3B4CC0", mid = "white", high = "#B40426", limits = c(-2.5, 2.5)) +
    ggplot2::labs(x = group_by, y = NULL, fill = "scaled\nmean") +
    ggplot2::theme_minimal()
}

# One gene's values across groups as z-scores clipped to -2.5..2.5 (Seurat's DotPlot scaling);
# a gene without spread gets 0.
scaled_across_groups <- function(v) {
  z <- if (length(v) > 1 && stats::sd(v) > 0) (v - mean(v)) / stats::sd(v) else 0 * v
  pmin(pmax(z, -2.5), 2.5)
}
