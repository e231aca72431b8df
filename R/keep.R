#' The kept-cell set
#'
#' Which cells later steps use. Every change advances a generation number stored in the
#' store; results computed on an older generation are recognised as stale.
#'
#' @param x A store.
#' @param cells A logical vector with one value per cell, 1-based positions, or cell ids.
#' @return `keep()`: a logical vector, one value per cell. `set_keep()`: the store, invisibly.
#' @export
keep <- function(x) {
  rust(wrap__cs_keep, x$path)
}

#' @rdname keep
#' @export
set_keep <- function(x, cells) {
  if (is.null(cells)) stop("`cells` must select the cells to keep", call. = FALSE)
  pos <- cell_positions(x, cells)
  if (length(pos) == 0) stop("`cells` selects no cell; at least one cell must be kept", call. = FALSE)
  mask <- logical(x$dim[1])
  mask[pos] <- TRUE
  generation <- rust(wrap__cs_set_keep, x$path, mask)
  message(sprintf("keeping %d of %d cells (generation %d)", length(pos), x$dim[1], as.integer(generation)))
  invisible(x)
}
