# Expression per group (aggregate_expression, expr() in SQL), pseudobulk and its DE, and the
# plots built on them: against Matrix operations on counts(), Seurat's AggregateExpression on
# PBMC3k, and edgeR / DESeq2 called directly.

typed_store <- function(n_cells = 500, n_genes = 200) {
  sim <- simulate_counts(n_cells, n_genes, n_clusters = 3, path = tempfile("sim_"), seed = 11)
  x <- ingest_mtx(sim, tempfile("store_"), verbose = FALSE)
  set_obs(x, "type", paste0("t", attr(sim, "truth")$cluster), verbose = FALSE)
  set_keep(x, "n_genes > 40", verbose = FALSE)
  x
}

plain <- function(m) {
  attr(m, "n_cells") <- NULL
  unname(m)
}

by_group <- function(m, group, f) sapply(split(seq_len(ncol(m)), group), function(i) f(m[, i, drop = FALSE]))

test_that("sums, counts and max equal Matrix operations on counts(); means and variances to 1e-12", {
  x <- typed_store()
  kept <- keep(x)
  m <- counts(x)[, kept]
  type <- obs(x)$type[kept]
  genes <- c(1, 5, 60, 200)
  a <- aggregate_expression(x, genes, "type", fun = c("sum", "count_nonzero", "max", "mean", "var", "pct", "mean_nonzero"))
  sub <- m[genes, ]
  expect_identical(unname(a$sum), unname(by_group(sub, type, Matrix::rowSums)))
  expect_identical(unname(a$count_nonzero), unname(by_group(sub, type, function(s) Matrix::rowSums(s > 0))) + 0)
  expect_identical(unname(a$max), unname(by_group(sub, type, function(s) apply(as.matrix(s), 1, max))))
  rel <- function(a, b) max(abs(a - b) / pmax(abs(b), 1e-300), na.rm = TRUE)
  expect_lt(rel(unname(a$mean), unname(by_group(sub, type, Matrix::rowMeans))), 1e-12)
  expect_lt(rel(unname(a$var), unname(by_group(sub, type, function(s) apply(as.matrix(s), 1, stats::var)))), 1e-12)
  expect_equal(unname(a$pct), unname(100 * a$count_nonzero / rep(table(type), each = length(genes))))
  expect_equal(attr(a, "n_cells"), c(table(type)))

  lib <- Matrix::colSums(counts(x))[kept]
  cp <- sub %*% Matrix::Diagonal(x = 1e4 / lib)
  b <- aggregate_expression(x, genes, "type", fun = c("mean", "var"), layer = "cp10k")
  expect_lt(rel(unname(b$mean), unname(by_group(cp, type, Matrix::rowMeans))), 1e-12)
  expect_lt(rel(unname(b$var), unname(by_group(cp, type, function(s) apply(as.matrix(s), 1, stats::var)))), 1e-12)
  expect_equal(average_expression(x, genes, "type"), b$mean, ignore_attr = TRUE)
  n <- aggregate_expression(x, genes, "type", fun = "mean", layer = "norm")
  ln <- cp
  ln@x <- log1p(ln@x)
  expect_lt(rel(unname(n), unname(by_group(ln, type, Matrix::rowMeans))), 1e-12)

  w <- aggregate_expression(x, genes, "type", where = "n_counts > 2000")
  sel <- obs(x)$n_counts[kept] > 2000
  expect_identical(plain(w), unname(by_group(sub[, sel], type[sel], Matrix::rowSums)))
})

test_that("expr() in sql() gives the same numbers; a mean over all cells divides by the group's cells", {
  x <- typed_store()
  gene <- var(x)$symbol[60]
  a <- aggregate_expression(x, 60, "type", fun = c("count_nonzero", "mean", "max"), layer = "cp10k", format = "long")
  q <- sql(x, sprintf("SELECT o.type AS grp, count(e.value) AS n, coalesce(sum(e.value), 0) / count(*) AS mean,
                        max(e.value) AS max FROM obs o LEFT JOIN expr('%s', 'cp10k') e USING (cell_index)
                        WHERE o.keep GROUP BY o.type ORDER BY o.type", gene))
  expect_equal(q$n, a$count_nonzero)
  expect_equal(q$mean, a$mean, tolerance = 1e-12)
  expect_equal(q$max, a$max)
  z <- sql(x, sprintf("SELECT o.type AS grp, avg(e.value) AS mean FROM expr('%s', 'cp10k', zeros := true) e
                        JOIN obs o USING (cell_index) WHERE o.keep GROUP BY o.type ORDER BY o.type", gene))
  expect_equal(z$mean, a$mean, tolerance = 1e-12)
  raw <- sql(x, sprintf("SELECT sum(value) AS s, count(*) AS n FROM expr('%s', 'raw')", var(x)$gene_id[60]))
  expect_equal(raw$s, sum(counts(x, genes = 60)))
  expect_equal(raw$n, sum(counts(x, genes = 60) > 0))
  two <- sql(x, sprintf("SELECT gene, count(*) AS n FROM expr('%s,%s', 'norm') GROUP BY gene ORDER BY gene",
                        var(x)$symbol[1], var(x)$symbol[2]))
  expect_equal(nrow(two), 2)
  expect_error(sql(x, "SELECT * FROM expr('NOT_A_GENE', 'raw')"), "no gene 'NOT_A_GENE'")
  expect_error(sql(x, sprintf("SELECT * FROM expr('%s', 'scaled')", gene)), "layer must be 'raw', 'norm' or 'cp10k'")
})

test_that("pseudobulk sums equal Matrix sums over counts(); edgeR and DESeq2 equal direct calls", {
  skip_if_not_installed("edgeR")
  skip_if_not_installed("DESeq2")
  x <- typed_store(800, 150)
  o <- obs(x)
  donor <- paste0("d", (seq_len(nrow(o)) %% 6) + 1)
  set_obs(x, "donor", donor, verbose = FALSE)
  set_obs(x, "condition", ifelse(donor %in% c("d1", "d2", "d3"), "ctrl", "stim"), verbose = FALSE)
  pb <- pseudobulk(x, "donor", "type")
  kept <- keep(x)
  m <- counts(x)[, kept]
  key <- paste(donor, o$type, sep = "_")[kept]
  expected <- sapply(split(seq_len(ncol(m)), key), function(i) Matrix::rowSums(m[, i, drop = FALSE]))
  expect_identical(as.matrix(pb)[, colnames(expected)], expected)
  expect_equal(attr(pb, "samples")$n_cells, as.numeric(table(key)[colnames(pb)]))
  expect_equal(attr(pb, "samples")$n_counts, unname(colSums(expected)[colnames(pb)]))

  de <- de_pseudobulk(x, "donor", "condition", "stim", "ctrl", min_cells = 1, min_counts = 0)
  y <- pseudobulk(x, "donor")
  cond <- factor(ifelse(colnames(y) %in% c("d1", "d2", "d3"), "ctrl", "stim"), levels = c("ctrl", "stim"))
  d <- edgeR::DGEList(as.matrix(y), group = cond)
  d <- d[edgeR::filterByExpr(d, group = cond), , keep.lib.sizes = FALSE]
  d <- edgeR::calcNormFactors(d)
  design <- stats::model.matrix(~cond)
  d <- edgeR::estimateDisp(d, design)
  direct <- edgeR::topTags(edgeR::glmQLFTest(edgeR::glmQLFit(d, design)), n = Inf)$table
  expect_identical(de$gene_id, rownames(direct))
  expect_identical(de$p_val, direct$PValue)
  expect_identical(de$logFC, direct$logFC)

  ds <- de_pseudobulk(x, "donor", "condition", "stim", "ctrl", method = "DESeq2", min_cells = 1, min_counts = 0)
  dds <- DESeq2::DESeq(DESeq2::DESeqDataSetFromMatrix(as.matrix(y), data.frame(condition = cond), ~condition),
                       quiet = TRUE)
  r <- as.data.frame(DESeq2::results(dds, contrast = c("condition", "stim", "ctrl")))
  expect_identical(ds$p_val, r$pvalue)
  expect_identical(ds$logFC, r$log2FoldChange)

  set_obs(x, "few", ifelse(donor == "d1", "ctrl", "stim"), verbose = FALSE)
  expect_error(de_pseudobulk(x, "donor", "few", "stim", "ctrl", min_cells = 1, min_counts = 0),
               "and 1 of 'ctrl'.*at least 2 replicates.*find_markers")
})

test_that("pseudobulk DE recovers the genes planted in a two-condition, four-donor design", {
  skip_if_not_installed("edgeR")
  set.seed(7)
  n_genes <- 400
  planted <- 1:40
  donors <- paste0("donor", 1:8)
  condition <- rep(c("ctrl", "stim"), each = 4)
  base <- stats::rgamma(n_genes, shape = 0.6, rate = 0.3)
  cells <- lapply(seq_along(donors), function(d) {
    mu <- base * exp(stats::rnorm(n_genes, 0, 0.1))
    if (condition[d] == "stim") mu[planted] <- mu[planted] * rep(c(3, 1 / 3), length.out = length(planted))
    matrix(stats::rnbinom(n_genes * 150, mu = mu, size = 2), nrow = n_genes)
  })
  m <- Matrix::Matrix(do.call(cbind, cells), sparse = TRUE)
  dir <- tempfile("de10x_")
  dir.create(dir)
  Matrix::writeMM(methods::as(m, "CsparseMatrix"), file.path(dir, "matrix.mtx"))
  writeLines(paste0("G", seq_len(n_genes), "\tGENE", seq_len(n_genes), "\tGene Expression"), file.path(dir, "genes.tsv"))
  writeLines(paste0("cell", seq_len(ncol(m))), file.path(dir, "barcodes.tsv"))
  x <- ingest_mtx(dir, tempfile("store_"), verbose = FALSE)
  donor_of <- rep(donors, each = 150)
  set_obs(x, "donor", donor_of, verbose = FALSE)
  set_obs(x, "condition", rep(condition, each = 150), verbose = FALSE)
  de <- de_pseudobulk(x, "donor", "condition", "stim", "ctrl")
  called <- de$gene_id[de$p_val_adj < 0.05]
  truth <- paste0("G", planted)
  precision <- mean(called %in% truth)
  recall <- mean(truth %in% called)
  message(sprintf("pseudobulk edgeR: %d called, precision %.3f, recall %.3f", length(called), precision, recall))
  expect_gte(precision, 0.9)
  expect_gte(recall, 0.8)
})

test_that("PBMC3k: sums of counts and of CP10k equal Seurat 4.3's AggregateExpression", {
  dir <- skip_without_shared("data", "pbmc3k", "filtered_gene_bc_matrices", "hg19")
  seurat <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "obs.csv"), row.names = 1)
  x <- ingest_mtx(dir, tempfile("pbmc_"), min_cells = 3, min_genes = 200, verbose = FALSE)
  set_obs(x, "cl", stats::setNames(as.character(seurat$seurat_clusters), rownames(seurat)), verbose = FALSE)
  set_keep(x, "cl IS NOT NULL", verbose = FALSE)
  ref <- utils::read.csv(skip_without_shared("reference", "pbmc3k_markers", "aggregate_counts.csv.gz"),
                         check.names = FALSE, row.names = 1)
  a <- aggregate_expression(x, group_by = "cl")
  expect_identical(unname(seurat_names(x)), rownames(ref))
  expect_identical(plain(a), unname(as.matrix(ref)) + 0)
  expect_equal(sum(a), 6254880)
  ref <- utils::read.csv(skip_without_shared("reference", "pbmc3k_markers", "aggregate_data.csv.gz"),
                         check.names = FALSE, row.names = 1)
  d <- aggregate_expression(x, group_by = "cl", layer = "cp10k")
  big <- as.matrix(ref) > 0
  expect_lt(max(abs(d[big] - as.matrix(ref)[big]) / as.matrix(ref)[big]), 1e-12)
})

test_that("the dot plot, violins and heatmap show the numbers of aggregate_expression", {
  x <- typed_store()
  genes <- var(x)$symbol[c(2, 30, 77)]
  p <- plot_dot(x, genes, group_by = "type")
  built <- ggplot2::ggplot_build(p)
  d <- built$plot$data
  a <- aggregate_expression(x, genes, "type", fun = c("mean", "pct"), layer = "cp10k", format = "long")
  expect_equal(d$avg_exp, a$mean)
  expect_equal(d$pct_exp, a$pct)
  expect_equal(nrow(built$data[[1]]), length(genes) * 3)
  z <- d$avg_exp_scaled[d$gene == genes[1]]
  expect_equal(mean(z), 0, tolerance = 1e-12)
  h <- ggplot2::ggplot_build(plot_heatmap(x, genes, group_by = "type"))
  expect_equal(h$plot$data$mean, aggregate_expression(x, genes, "type", fun = "mean", layer = "norm", format = "long")$mean)
  v <- ggplot2::ggplot_build(plot_violin(x, genes[1:2], group_by = "type"))
  expect_equal(nrow(v$plot$data), 2 * sum(keep(x)))
  expect_equal(sort(unique(as.character(v$plot$data$group))), c("t1", "t2", "t3"))
})
