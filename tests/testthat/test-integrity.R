# A store cannot be changed by user SQL, and damaged or mixed-up files are refused with an
# error that names the file and the remedy.

analysed <- function(seed = 1) {
  x <- ingest_mtx(simulate_counts(600, 300, n_clusters = 3, path = tempfile(), seed = seed), tempfile(),
                  verbose = FALSE)
  x |>
    find_hvg(n = 100, verbose = FALSE) |>
    run_pca(n_pcs = 10, verbose = FALSE) |>
    find_neighbors(k = 10, n_pcs = 10, verbose = FALSE) |>
    run_umap(n_neighbors = 10, verbose = FALSE)
}

test_that("sql() runs one query and cannot change the store or touch other files", {
  x <- analysed()
  before <- obs(x)
  expect_error(sql(x, "DROP TABLE obs_base CASCADE"), "only queries \\(SELECT …\\) can be run on a store, not DROP")
  expect_error(sql(x, "SELECT 1; DROP TABLE obs_base"), "give one statement at a time; this has 2")
  expect_error(sql(x, "BEGIN TRANSACTION"), "not BEGIN")
  expect_error(sql(x, ""), "the query is empty")
  expect_error(sql(x, "UPDATE obs_base SET keep = false"), "not UPDATE")
  out <- tempfile(fileext = ".csv")
  expect_error(sql(x, sprintf("COPY obs_base TO '%s'", out)), "not COPY")
  expect_false(file.exists(out))
  expect_error(sql(x, "SELECT * FROM read_csv('/etc/hostname')"), "disabled")
  expect_error(sql(x, "WITH t AS (SELECT 1) SELECT * FROM read_text('/etc/hostname')"), "disabled")
  expect_error(sql(x, "SELECT * FROM obs; SET enable_external_access = true"), "one statement")
  expect_error(sql(x, NA_character_), "`query` must be a single string, not NA")
  expect_error(sql(x, c("SELECT 1", "SELECT 2")), "`query` must be a single string")
  # A query that is fine keeps working, and NULL-only columns come back as NA.
  expect_identical(sql(x, "SELECT NULL AS n, 1 AS one")$n, NA)
  expect_identical(sql(x, "-- a comment\nSELECT count(*) AS n FROM obs")$n, 600L)
  expect_identical(obs(x), before)
  y <- open_store(x$path)
  expect_identical(steps(y)$step, steps(x)$step)
})

test_that("set_keep() conditions are evaluated read-only and cannot carry a second statement", {
  x <- analysed()
  expect_error(set_keep(x, "true; DROP TABLE obs_base"), "one statement at a time")
  expect_error(set_keep(x, "n_genes > (SELECT count(*) FROM read_csv('/etc/hostname'))"), "disabled")
  expect_identical(sum(keep(x)), 600L)
  set_keep(x, "n_genes > 0", verbose = FALSE)
  expect_identical(sum(keep(x)), 600L)
})

test_that("a damaged result file is an error naming it and the step to rerun", {
  x <- analysed()
  for (case in list(c("pca.embedding", "pca", "run_pca"), c("knn.graph", "neighbors", "find_neighbors"),
                    c("snn.graph", "snn_graph", "find_neighbors"), c("umap.embedding", "umap", "run_umap"))) {
    file <- result_file(x, case[1])
    original <- readBin(file, "raw", file.size(file))
    read <- function() if (case[2] == "umap") embedding(x, "umap") else get(case[2])(x)
    expect_no_error(read())
    for (at in c(5, 30, 200, length(original) - 2)) {
      flip_byte(file, at)
      expect_error(read(), sprintf("%s is damaged \\(.*\\): rerun %s\\(x\\)", case[1], case[3]),
                   class = "cellstream_error")
      writeBin(original, file)
    }
    writeBin(original[1:100], file)
    expect_error(read(), sprintf("%s is damaged", case[1]))
    writeBin(original, file)
  }
})

test_that("files of another store are refused, by name", {
  x <- analysed(1)
  y <- analysed(2)
  close_store(x)
  file.copy(result_file(y, "knn.graph"), result_file(x, "knn.graph"), overwrite = TRUE)
  expect_error(neighbors(x), "knn.graph belongs to another store .*: rerun find_neighbors\\(x\\)")
  find_neighbors(x, k = 10, n_pcs = 10, verbose = FALSE)
  expect_no_error(neighbors(x))
  for (f in c("meta.duckdb", "meta.snapshot.duckdb")) {
    saved <- tempfile()
    file.copy(file.path(x$path, f), saved)
    file.copy(file.path(y$path, f), file.path(x$path, f), overwrite = TRUE)
    close_store(x)
    expect_error(if (f == "meta.duckdb") find_hvg(x, n = 100, verbose = FALSE) else obs(x),
                 "meta.duckdb belongs to another store \\(tag [0-9a-f]+, not this store's [0-9a-f]+, id ")
    file.copy(saved, file.path(x$path, f), overwrite = TRUE)
  }
  close_store(x)
  file.copy(file.path(y$path, "cells.chunks"), file.path(x$path, "cells.chunks"), overwrite = TRUE)
  expect_error(open_store(x$path), "cells.chunks of store .* belongs to another store")
})

test_that("an edited manifest and a version-1 store are refused", {
  x <- ingest_mtx(simulate_counts(200, 100, path = tempfile()), tempfile(), verbose = FALSE)
  close_store(x)
  m <- file.path(x$path, "manifest.json")
  text <- readLines(m, warn = FALSE)
  writeLines(sub('"target_sum": 10000.0', '"target_sum": 20000.0', text, fixed = TRUE), m)
  expect_error(open_store(x$path), "manifest.json' is damaged: its content does not match its checksum")
  writeLines(sub('"format_version": 2', '"format_version": 1', text, fixed = TRUE), m)
  expect_error(open_store(x$path), "has format version 1; this cellstream reads version 2.*ingest the input again")
  writeLines(text, m)
  expect_no_error(open_store(x$path))
})

test_that("names with a NUL byte are refused", {
  dir <- write_mtx(c("1 1 3", "2 2 1"), 2, 2)
  bc <- file.path(dir, "barcodes.tsv")
  writeBin(c(charToRaw("C1\n"), charToRaw("C"), as.raw(0), charToRaw("2\n")), bc)
  parent <- tempfile()
  dir.create(parent)
  expect_error(ingest_mtx(dir, file.path(parent, "s"), verbose = FALSE),
               "cell id number 2 \\(\"C\\\\\\\\02\"\\) contains a NUL byte")
  expect_only_files(parent)
})

test_that("Ctrl-C stops a long query; the session and the store stay usable", {
  skip_on_os("windows")
  x <- ingest_mtx(simulate_counts(200, 100, path = tempfile()), tempfile(), verbose = FALSE)
  run <- child_r(c(
    sprintf("x <- cellstream::open_store('%s')", x$path),
    "cat('started\\n')",
    "t <- system.time(r <- tryCatch(cellstream::sql(x, 'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 1e12) SELECT max(n) FROM t'), error = function(e) conditionMessage(e)))",
    "cat('result:', r, '\\n')",
    "cat('after:', nrow(cellstream::obs(x)), '\\n')"
  ), wait = FALSE)
  for (i in 1:100) if (any(grepl("started", readLines(run$log)))) break else Sys.sleep(0.1)
  Sys.sleep(1.5)
  tools::pskill(run$pid, tools::SIGINT)
  expect_true(wait_for_exit(run$pid, 20))
  log <- paste(readLines(run$log), collapse = "\n")
  expect_match(log, "result: interrupted: the query was stopped; the store is unchanged")
  expect_match(log, "after: 200")
})

test_that("valid h5ad files read: an all-missing categorical, and h5py's libver='latest'", {
  made <- tempfile(fileext = ".h5ad")
  latest <- tempfile(fileext = ".h5ad")
  run_python('
import sys, numpy as np, pandas as pd, anndata as ad, h5py, scipy.sparse as sp
n, g = 30, 20
rng = np.random.default_rng(0)
obs = pd.DataFrame(index=[f"c{i}" for i in range(n)])
obs["empty_cat"] = pd.Categorical([np.nan] * n)
obs["flag"] = np.arange(n) % 3 == 0
X = sp.csr_matrix(rng.poisson(1.0, (n, g)).astype(np.float32))
ad.AnnData(X, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(g)])).write_h5ad(sys.argv[1])
# The same written by hand with h5py, libver="latest": newer HDF5 encodings for the bool column.
def attrs(obj, kind):
    obj.attrs["encoding-type"] = kind
    obj.attrs["encoding-version"] = "0.2.0"
with h5py.File(sys.argv[2], "w", libver="latest") as f:
    f.attrs["encoding-type"] = "anndata"; f.attrs["encoding-version"] = "0.1.0"
    f.create_dataset("X", data=X.toarray()); attrs(f["X"], "array")
    for name, ids, cols in [("obs", list(obs.index), {"flag": obs["flag"].values}), ("var", [f"g{j}" for j in range(g)], {})]:
        grp = f.create_group(name); attrs(grp, "dataframe")
        grp.attrs["_index"] = "_index"
        grp.attrs["column-order"] = np.array(list(cols), dtype=h5py.string_dtype()) if cols else np.array([], dtype="float64")
        grp.create_dataset("_index", data=np.array(ids, dtype=h5py.string_dtype())); attrs(grp["_index"], "string-array")
        for c, v in cols.items():
            grp.create_dataset(c, data=v); attrs(grp[c], "array")
', made, latest)
  x <- ingest_h5ad(made, tempfile(), verbose = FALSE)
  o <- obs(x)
  expect_true(all(is.na(o$empty_cat)))
  expect_identical(o$flag, seq_len(30) %% 3 == 1)
  expect_message(y <- ingest_h5ad(latest, tempfile()),
                 "column 'flag' of /obs was left out: it is stored in an HDF5 encoding newer than")
  expect_identical(counts(y), counts(x))
})
