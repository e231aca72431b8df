# Gene regulatory networks: planted truth, invariants, bad input, SERGIO against faithful
# GRNBoost2 (shared/reference/grn_arboreto) and BEELINE scoring against its score_grn.py.

planted <- function(n_cells = 1500, n_tfs = 12, n_targets = 60, seed = 1) {
  sim <- simulate_network(n_cells, n_tfs = n_tfs, n_targets = n_targets, path = tempfile(), seed = seed)
  list(sim = sim, x = ingest_mtx(sim, tempfile(), verbose = FALSE), tfs = attr(sim, "tfs"),
       truth = attr(sim, "truth"))
}

test_that("the planted network is recovered; importances are normalised per target, never self edges", {
  p <- planted()
  genes <- c(p$tfs, unique(p$truth$target))
  net <- infer_grn(p$x, tfs = p$tfs, verbose = FALSE)
  expect_false(any(net$TF == net$target))
  sums <- tapply(net$importance_norm, net$target, sum)
  expect_equal(as.vector(sums), rep(1, length(sums)), tolerance = 1e-12)
  expect_true(all(tapply(net$rank_in_target, net$target, function(r) identical(sort(r), seq_along(r)))))
  # The forests' importance is arboreto's GENIE3 one (scikit-learn's feature_importances_):
  # it sums to 1 per target; gbm's sums to the trees it used, as arboreto's GRNBoost2.
  expect_equal(net$importance, net$importance_norm, tolerance = 1e-12)
  boosted <- infer_grn(p$x, tfs = p$tfs, method = "gbm", name = "gbm", verbose = FALSE)
  trees <- attr(boosted, "targets")
  used <- tapply(boosted$importance, boosted$target, sum)
  expect_equal(as.vector(used[trees$target]), trees$n_trees, tolerance = 1e-9)
  s <- grn_scores(net, p$truth, regulators = p$tfs, genes = genes)
  expect_gt(s$AUPR, 0.7)
  expect_gt(s$EPR, 4)
  # The sign of rho follows the planted sign for the top regulator of single-regulator targets.
  single <- names(which(table(p$truth$target) == 1))
  top <- net[net$rank_in_target == 1 & net$target %in% single, ]
  truth1 <- p$truth[match(top$target, p$truth$target), ]
  hit <- top$TF == truth1$regulator
  expect_gt(mean(hit), 0.9)
  expect_true(all(sign(top$rho[hit]) == ifelse(truth1$sign[hit] == "+", 1, -1)))
})

test_that("batched grows rf's trees; stored, read back in a new session, stale after a keep change", {
  p <- planted(600, 6, 20)
  rf <- infer_grn(p$x, tfs = p$tfs, method = "rf", n_trees = 30, name = "rf", verbose = FALSE)
  batched <- infer_grn(p$x, tfs = p$tfs, method = "batched", n_trees = 30, batch_size = 7, name = "b",
                       verbose = FALSE)
  expect_identical(batched[names(batched)], rf[names(rf)])
  y <- open_store(p$x$path)
  close_store(p$x)
  back <- grn(y, "rf")
  expect_equal(back$importance, rf$importance)
  expect_identical(back$TF, rf$TF)
  expect_identical(attr(back, "targets")$n_trees, rep(30L, 26))
  path <- tempfile(fileext = ".tsv")
  write_grn_tsv(back, path)
  tsv <- utils::read.delim(path)
  expect_identical(names(tsv), c("TF", "target", "importance"))
  expect_true(all(diff(tsv$importance) <= 0))
  set_keep(y, "n_genes > 3", verbose = FALSE)
  expect_error(grn(y, "rf"), "stale.*kept cells changed.*infer_grn")
})

test_that("shared_splits and screen_k: never self edges, normalised, each target on its top-k TFs", {
  p <- planted(800, 8, 40)
  genes <- c(p$tfs, unique(p$truth$target))
  shared <- infer_grn(p$x, tfs = p$tfs, targets = genes, method = "shared_splits", n_trees = 50,
                      name = "shared", verbose = FALSE)
  expect_false(any(shared$TF == shared$target))
  sums <- tapply(shared$importance_norm, shared$target, sum)
  expect_equal(as.vector(sums), rep(1, length(sums)), tolerance = 1e-12)
  expect_gt(grn_scores(shared, p$truth, regulators = p$tfs, genes = genes)$AUPR, 0.5)
  expect_match(steps(p$x)$params[steps(p$x)$step == "grn:shared"], "16 correlated targets per tree")
  screened <- infer_grn(p$x, tfs = p$tfs, screen_k = 2, n_trees = 30, name = "screened", verbose = FALSE)
  expect_lte(max(table(screened$target)), 2)
  expect_match(steps(p$x)$params[steps(p$x)$step == "grn:screened"], "the 2 TFs of largest \\|rho\\|")
  expect_error(infer_grn(p$x, tfs = p$tfs, screen_k = 0, verbose = FALSE), "screen_k")
})

test_that("bad input: unknown TFs and targets, too few cells, missing or stale cell selections, constant targets", {
  p <- planted(300, 4, 10)
  expect_error(infer_grn(p$x, tfs = c("NOPE1", "NOPE2"), verbose = FALSE), "none of the 2 TFs")
  expect_warning(net <- infer_grn(p$x, tfs = c(p$tfs, "NOPE"), verbose = FALSE), "1 of 5 TFs are not genes")
  expect_gt(nrow(net), 0)
  expect_error(infer_grn(p$x, tfs = p$tfs, targets = c("TG001", "NOPE"), verbose = FALSE), "NOPE")
  expect_error(infer_grn(p$x, tfs = p$tfs, cells = "nope", verbose = FALSE), "obs has no column 'nope'")
  set_obs(p$x, "few", seq_len(300) <= 5)
  expect_error(infer_grn(p$x, tfs = p$tfs, cells = "few", verbose = FALSE), "5 cell\\(s\\) are selected")
  set_obs(p$x, "half", seq_len(300) <= 150)
  half <- infer_grn(p$x, tfs = p$tfs, cells = "half", name = "half", verbose = FALSE)
  expect_gt(nrow(half), 0)
  set_obs(p$x, "half", seq_len(300) > 150)
  expect_error(grn(p$x, "half"), "stale")
  m <- as.matrix(counts(p$x, genes = 1:8))
  if (nrow(m) != 8) m <- t(m)
  rownames(m) <- gene_symbols(p$x)[1:8]
  m <- rbind(m, flat = 1)
  net <- infer_grn(log1p(m), tfs = p$tfs, targets = c("TG001", "flat"), verbose = FALSE)
  notes <- attr(net, "targets")
  expect_identical(notes$note, c(NA, "constant over the fitting cells"))
  expect_false("flat" %in% net$target)
  expect_error(infer_grn(-m, tfs = p$tfs, verbose = FALSE), "negative")
})

test_that("grn_scores reproduces BEELINE's AUPR, AUROC and EPR of the reference score_grn.py", {
  ref <- skip_without_shared("reference", "grn_arboreto", "scores.csv")
  scores <- utils::read.csv(ref)
  for (set in c("DS1_noisy", "DS2_umi")) {
    ds <- sub("_.*", "", set)
    net <- utils::read.delim(file.path(dirname(ref), sprintf("net_%s_seed1.tsv", set)), colClasses = "character")
    net$importance <- as.numeric(net$importance)
    truth <- utils::read.csv(file.path(shared_dir(), "data", "grn", ds, "topology", "gt_GRN.csv"),
                             header = FALSE, colClasses = "character")
    truth[] <- lapply(truth, function(v) as.character(as.integer(v)))
    got <- grn_scores(net, truth)
    want <- scores[scores$label == sprintf("%s_seed1", set), ]
    expect_equal(got$AUPR, want$AUPR, tolerance = 1e-5)
    expect_equal(got$AUROC, want$AUROC, tolerance = 1e-5)
    expect_equal(got$EPR, want$EPR, tolerance = 1e-5)
  }
})

test_that("gbm is at parity with faithful GRNBoost2 on SERGIO DS1 (same input: log1p(CP10k)); the default beats it", {
  ref <- skip_without_shared("reference", "grn_arboreto", "scores.csv")
  scores <- utils::read.csv(ref)
  ds <- file.path(shared_dir(), "data", "grn", "DS1")
  truth <- utils::read.csv(file.path(ds, "topology", "gt_GRN.csv"), header = FALSE, colClasses = "character")
  tfs <- readLines(file.path(ds, "regulators.txt"))
  default <- list()
  for (tier in c("noisy", "umi")) {
    counts <- Matrix::readMM(file.path(ds, "seed1", tier, "matrix.mtx.gz"))
    rownames(counts) <- readLines(file.path(ds, "genes.tsv"))
    lib <- Matrix::colSums(counts)
    values <- log1p(counts %*% Matrix::Diagonal(x = 1e4 / pmax(lib, 1)))
    rownames(values) <- rownames(counts)
    net <- infer_grn(values, tfs = tfs, method = "gbm", verbose = FALSE)
    got <- grn_scores(net, truth)
    peer <- scores[scores$label == sprintf("DS1_%s_seed1", tier), ]
    expect_gte(got$AUPR, peer$AUPR - 0.02)
    expect_gte(got$EPR, peer$EPR - 0.1)
    default[[tier]] <- c(ours = grn_scores(infer_grn(values, tfs = tfs, verbose = FALSE), truth)$AUPR,
                         peer = peer$AUPR)
  }
  # The default (batched forests) on the two tiers, on average at least GRNBoost2's.
  expect_gte(mean(sapply(default, `[[`, "ours")), mean(sapply(default, `[[`, "peer")))
})
