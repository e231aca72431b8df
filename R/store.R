#' Open a cellstream store
#'
#' @param path Directory of a store written by [ingest_mtx()].
#' @return A `cellstream_store`: a light handle (the path); every verb reads from disk, so
#'   a store reopened in a new R session shows everything written to it.
#' @export
open_store <- function(path) {
  path <- normalizePath(path.expand(path), mustWork = FALSE)
  info <- rust(wrap__cs_store_info, path)
  structure(list(path = path, dim = c(info$n_cells, info$n_genes)), class = "cellstream_store")
}

store_info <- function(x) rust(wrap__cs_store_info, x$path)

#' Close a store
#'
#' cellstream keeps a store open between calls (a read-only view of its metadata and its chunk
#' tables) for speed; other R sessions can read and write the same store meanwhile (one writer
#' at a time: a second gets an error saying another session is writing). `close_store()`
#' forgets the open store and its cached tables. Any later call on `x` reopens it.
#'
#' @param x A store.
#' @return `TRUE` if the store was open, invisibly.
#' @export
close_store <- function(x) {
  invisible(rust(wrap__cs_close, x$path))
}

#' @export
dim.cellstream_store <- function(x) {
  x$dim
}

#' @export
print.cellstream_store <- function(x, ...) {
  info <- store_info(x)
  mb <- function(b) sprintf("%.1f MB", b / 1e6)
  cat("<cellstream store> ", x$path, "\n", sep = "")
  cat(sprintf("  %s cells x %s genes, %s non-zeros (%.2f%% dense)\n", num(info$n_cells),
              num(info$n_genes), num(info$nnz), 100 * info$nnz / (info$n_cells * info$n_genes)))
  parts <- paste(sprintf("%s %s", info$file_names, mb(info$file_bytes)), collapse = ", ")
  cat(sprintf("  on disk: %s (%s)\n", mb(sum(info$file_bytes)), parts))
  cat(sprintf("  kept cells: %s of %s (generation %s)\n", num(info$n_kept), num(info$n_cells),
              num(info$keep_generation)))
  cat(sprintf("  ingested from %s: %s cells x %s genes, min_cells = %s, min_genes = %s, min_counts = %s\n",
              info$source, num(info$input_cells), num(info$input_genes), num(info$min_cells),
              num(info$min_genes), num(info$min_counts)))
  s <- steps(x)
  if (nrow(s) == 0) {
    cat("  analysis steps: none yet\n")
  } else {
    cat("  analysis steps:\n")
    state <- ifelse(s$current, "current", sprintf("STALE (%s; rerun %s)", s$stale_because, s$rerun))
    on <- ifelse(is.na(s$generation), "all cells", sprintf("kept cells, generation %s", s$generation))
    cat(sprintf("    %s [%s] on %s: %s\n", s$step, s$params, on, state), sep = "")
  }
  invisible(x)
}

#' Query the store's metadata with SQL
#'
#' The metadata live in an embedded DuckDB database with the views `obs` (one row per cell:
#' `cell_index`, `cell_id`, `n_counts`, `n_genes`, `keep`, then the input's and the analysis
#' steps' columns) and `var` (one row per gene: `gene_index`, `gene_id`, `symbol`,
#' `feature_type`, `n_cells`, `n_counts`, ...), and the tables `state` and `steps` (see
#' [steps()]). Unlike [obs()] and [var()], `sql()` shows stale results too. The layout is
#' described in `system.file("FORMAT.md", package = "cellstream")`.
#' `cell_index` / `gene_index` are 1-based positions, as everywhere in R.
#'
#' Queries cannot change the store: one statement per call, which must be a query (`SELECT`,
#' `WITH`, `FROM`, ...), run read-only with DuckDB's access to other files turned off (no
#' `read_csv()`, `COPY`, `ATTACH`) and its settings locked. The store changes only through
#' cellstream's verbs. Ctrl-C stops a long query.
#'
#' Expression joins the metadata through the table function `expr(genes, layer)`: the
#' non-zero values of one or a few genes (comma-separated ids or symbols) as rows
#' `cell_index`, `gene`, `value`, read from their gene-major chunks; `layer` is `'raw'`
#' (counts), `'norm'` (exact log1p(count / library size x 1e4)) or `'cp10k'`. Only non-zeros
#' are rows: for a mean over the cells of a group, join from `obs`
#' (`FROM obs o LEFT JOIN expr('MS4A1', 'cp10k') e USING (cell_index)`, then
#' `coalesce(sum(e.value), 0) / count(*)`), or ask for every cell with `zeros := true`
#' (`avg(value)` is then the mean over cells). [aggregate_expression()] gives the same numbers.
#'
#' @param x A store.
#' @param query One DuckDB query, e.g. `"SELECT count(*) AS n FROM obs"`.
#' @return A data.frame.
#' @examples
#' x <- ingest_mtx(simulate_counts(300, 200, path = tempfile()), tempfile())
#' sql(x, "SELECT count(*) AS n FROM obs WHERE n_genes > 100")
#' sql(x, "SELECT count(*) AS n_expressing, max(value) AS max FROM expr('GENE1', 'raw')")
#' @export
sql <- function(x, query) {
  as_data_frame(rust(wrap__cs_sql, x$path, query))
}

num <- function(v) format(v, big.mark = ",", scientific = FALSE, trim = TRUE)

as_data_frame <- function(columns) {
  as.data.frame(columns, stringsAsFactors = FALSE, check.names = FALSE, optional = TRUE)
}

#' Cell and gene metadata
#'
#' Results of analysis steps that are stale (see [steps()]) are left out, with a message.
#'
#' @param x A store.
#' @return `obs()`: a data.frame with one row per cell in store order (`cell_id`,
#'   `n_counts` = library size, `n_genes` = genes detected, `keep`, and later results);
#'   `var()`: one row per gene (`gene_id`, `symbol`, `feature_type`, `n_cells` = cells
#'   detected, `n_counts` = total counts, and later results).
#' @export
obs <- function(x) {
  table_rows(x, "obs", "cell_index")
}

table_rows <- function(x, table, row_number) {
  leave_out <- paste(sprintf('"%s"', c(row_number, stale_columns(x, table))), collapse = ", ")
  sql(x, sprintf("SELECT * EXCLUDE (%s) FROM %s ORDER BY %s", leave_out, table, row_number))
}

#' @rdname obs
#' @param ... For `var()` on anything but a store: passed to [stats::var()], which
#'   cellstream's `var()` leaves working as before.
#' @export
var <- function(x, ...) {
  UseMethod("var")
}

#' @export
var.default <- function(x, ...) {
  stats::var(x, ...)
}

#' @export
var.cellstream_store <- function(x, ...) {
  table_rows(x, "var", "gene_index")
}

cell_ids <- function(x) rust(wrap__cs_ids, x$path, "cells")
gene_ids <- function(x) rust(wrap__cs_ids, x$path, "genes")
gene_symbols <- function(x) rust(wrap__cs_ids, x$path, "symbols")

#' Annotate cells
#'
#' Stores a column of your own in [obs()] (cell types named from markers, donors, conditions
#' for [de_pseudobulk()] ...), as the step `obs:<name>`; setting it again replaces it.
#'
#' @param x A store.
#' @param name The obs column to write.
#' @param values One value per cell in store order (logical, numeric, character or factor;
#'   `NA` where none), or a vector named by cell id (cells not named get `NA`).
#' @param verbose Print a one-line summary (`TRUE`).
#' @return The store, invisibly.
#' @examples
#' x <- ingest_mtx(simulate_counts(300, 200, path = tempfile()), tempfile())
#' set_obs(x, "half", rep(c("a", "b"), length.out = 300))
#' table(obs(x)$half)
#' @export
set_obs <- function(x, name, values, verbose = TRUE) {
  if (!is.character(name) || length(name) != 1 || is.na(name) || !nzchar(name)) {
    stop("`name` must name the obs column", call. = FALSE)
  }
  if (!is.null(names(values))) {
    ids <- cell_ids(x)
    unknown <- setdiff(names(values), ids)
    if (length(unknown) > 0) {
      stop(sprintf("%d name(s) of `values` are not cell ids of the store, e.g. '%s'", length(unknown), unknown[1]),
           call. = FALSE)
    }
    values <- unname(values[match(ids, names(values))])
  }
  levels <- if (is.factor(values)) levels(values) else NULL
  if (is.factor(values)) values <- as.character(values)
  rust(wrap__cs_set_obs, x$path, name, values, levels)
  say(verbose, "obs column '%s' set (%s cells with a value)", name, num(sum(!is.na(values))))
  invisible(x)
}
