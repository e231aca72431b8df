#' The kept-cell set
#'
#' Which cells later steps use. Every change advances a generation number stored in the
#' store; results computed on an older generation are stale (see [steps()]).
#'
#' @param x A store.
#' @param cells A logical vector with one value per cell, 1-based positions, cell ids, or a
#'   single string that is not a cell id: an SQL condition on [obs()] columns (DuckDB
#'   syntax), e.g. `"n_genes > 200 AND n_genes < 2500 AND pct_mt < 5"` (Seurat's PBMC3k
#'   filter). A condition that is NULL for a cell does not keep it. The new set replaces the
#'   old one (write `"keep AND ..."` to narrow it).
#' @param verbose Print a one-line summary (`TRUE`).
#' @return `keep()`: a logical vector, one value per cell. `set_keep()`: the store, invisibly.
#' @export
keep <- function(x) {
  rust(wrap__cs_keep, x$path)
}

#' @rdname keep
#' @export
set_keep <- function(x, cells, verbose = TRUE) {
  if (is.null(cells)) stop("`cells` must select the cells to keep", call. = FALSE)
  if (is_condition(x, cells)) {
    res <- rust(wrap__cs_keep_where, x$path, cells)
    n_kept <- res$n_kept
    generation <- res$generation
  } else {
    pos <- cell_positions(x, cells)
    if (length(pos) == 0) stop("`cells` selects no cell; at least one cell must be kept", call. = FALSE)
    mask <- logical(x$dim[1])
    mask[pos] <- TRUE
    generation <- rust(wrap__cs_set_keep, x$path, mask)
    n_kept <- length(pos)
  }
  say(verbose, "keeping %s of %s cells (generation %d)", num(n_kept), num(x$dim[1]), as.integer(generation))
  invisible(x)
}

# A single string that names no cell is an SQL condition.
is_condition <- function(x, cells) {
  if (!is.character(cells) || length(cells) != 1 || is.na(cells)) return(FALSE)
  quoted <- gsub("'", "''", cells, fixed = TRUE)
  sql(x, sprintf("SELECT count(*) AS n FROM obs WHERE cell_id = '%s'", quoted))$n == 0
}
