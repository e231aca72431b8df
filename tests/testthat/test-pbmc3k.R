# Real 10x PBMC3k (../shared); skipped when the shared data are absent.

pbmc_dir <- function() skip_without_shared("data", "pbmc3k", "filtered_gene_bc_matrices", "hg19")

test_that("PBMC3k without filters: 2,700 x 32,738 and 6,390,631 counts", {
  x <- ingest_mtx(pbmc_dir(), tempfile("pbmc_"))
  expect_equal(dim(x), c(2700, 32738))
  expect_equal(sum(obs(x)$n_counts), 6390631)
  expect_equal(sum(var(x)$n_counts), 6390631)
  expect_equal(sql(x, "SELECT sum(n_genes) AS nnz FROM obs")$nnz, 2286884)
})

test_that("PBMC3k with min_cells = 3, min_genes = 200 matches Seurat exactly", {
  x <- ingest_mtx(pbmc_dir(), tempfile("pbmc_"), min_cells = 3, min_genes = 200)
  expect_equal(dim(x), c(2700, 13714))
  seurat <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "qc_before_filter.csv"),
                            row.names = 1)
  o <- obs(x)
  expect_identical(o$cell_id, rownames(seurat))
  expect_equal(o$n_counts, seurat$nCount_RNA)
  expect_equal(o$n_genes, seurat$nFeature_RNA)
})

test_that("PBMC3k at min_genes = 1000: Seurat's cells, genes, nCount_RNA and nFeature_RNA", {
  m <- read_10x_oracle(pbmc_dir())
  x <- ingest_mtx(pbmc_dir(), tempfile("pbmc_"), min_cells = 3, min_genes = 1000)
  expect_seurat_filter(x, m, min_cells = 3, min_genes = 1000)
  expect_equal(dim(x), c(534, 11519))
  expect_equal(min(var(x)$n_cells), 3)
})

test_that("PBMC3k subsets equal the source matrix; normalised values within f16 precision", {
  dir <- pbmc_dir()
  x <- ingest_mtx(dir, tempfile("pbmc_"))
  src <- read_10x_oracle(dir)
  set.seed(3)
  for (k in 1:3) {
    cells <- sample(2700, 50)
    genes <- sample(32738, 200)
    expect_equal(counts(x, cells = cells), src[, cells])
    expect_equal(counts(x, genes = genes), src[genes, ])
    expect_equal(counts(x, cells = cells, genes = genes), src[genes, cells])
  }
  lib <- Matrix::colSums(src)
  norm <- counts(x, layer = "norm")
  expected <- src %*% Matrix::Diagonal(x = 1e4 / lib)
  expect_identical(norm@p, src@p)
  rel <- abs(norm@x - log1p(expected@x)) / log1p(expected@x)
  expect_lt(max(rel), 2^-11)
  g <- gene_values(x, "MS4A1", layer = "norm")$MS4A1
  expect_equal(g, as.numeric(norm[match("MS4A1", var(x)$symbol), ]))
})

test_that("PBMC3k QC equals Seurat's, its filter keeps Seurat's 2,638 cells, HVGs match Seurat and scanpy", {
  x <- ingest_mtx(pbmc_dir(), tempfile("pbmc_"), min_cells = 3, min_genes = 200)
  seurat <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "qc_before_filter.csv"),
                            row.names = 1)
  qc <- x |> calculate_qc_metrics() |> qc_metrics()
  expect_identical(qc$cell_id, rownames(seurat))
  expect_identical(as.numeric(qc$n_counts), as.numeric(seurat$nCount_RNA))
  expect_identical(as.numeric(qc$n_genes), as.numeric(seurat$nFeature_RNA))
  expect_lt(max(abs(qc$pct_mt - seurat$percent.mt)), 1e-6)

  set_keep(x, "n_genes > 200 AND n_genes < 2500 AND pct_mt < 5")
  expected <- seurat$nFeature_RNA > 200 & seurat$nFeature_RNA < 2500 & seurat$percent.mt < 5
  expect_equal(sum(keep(x)), 2638)
  expect_identical(keep(x), expected)

  jaccard <- function(a, b) length(intersect(a, b)) / length(union(a, b))
  # Seurat names duplicated symbols with make.unique (".1"), scanpy with "-1".
  top <- x |> find_hvg(n = 2000) |> hvg()
  v <- hvg(x, all = TRUE)
  seurat_names <- make.unique(v$symbol)
  hvg_seurat <- readLines(skip_without_shared("reference", "pbmc3k_seurat", "hvg_genes.txt"))
  expect_gte(jaccard(seurat_names[v$highly_variable], hvg_seurat), 0.95)
  table <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "hvg_table.csv"))
  at <- match(table$gene, seurat_names)
  expect_gt(mean(!is.na(at)), 0.99)
  expect_gte(stats::cor(table$variance.standardized, v$hvg_variance_standardized[at], use = "complete.obs"),
             0.99)
  # Same loess as R's default: the standardised variances agree to rounding.
  expect_lt(max(abs(table$variance.standardized - v$hvg_variance_standardized[at]), na.rm = TRUE), 1e-9)

  find_hvg(x, n = 2000, method = "dispersion")
  v <- hvg(x, all = TRUE)
  hvg_scanpy <- utils::read.csv(skip_without_shared("reference", "pbmc3k_scanpy", "hvg_genes.csv"))$gene
  expect_gte(jaccard(make.unique(v$symbol, sep = "-")[v$highly_variable], hvg_scanpy), 0.95)
})
