# The one place where R talks to Rust. Rust returns either a value or a string of class
# "cellstream_error", raised here as an R error (Rust never longjmps through R).
rust <- function(routine, ...) {
  res <- .Call(routine, ...)
  if (inherits(res, "cellstream_error")) {
    stop(structure(class = c("cellstream_error", "error", "condition"),
                   list(message = unclass(res), call = sys.call(-1))))
  }
  res
}

# R's 1-based indices -> Rust's 0-based ones. Every index that crosses to Rust passes here.
rust_index <- function(i) {
  as.integer(i - 1L)
}

# Resolves a user's selection of cells or genes (NULL = all, logical mask, 1-based
# positions, or names) to validated 1-based positions.
# `ids` is a function returning the names to match (fetched only when needed); `alt_ids`
# optionally gives secondary names (gene symbols) used when no id matches.
resolve_index <- function(sel, n, what, ids, alt_ids = NULL) {
  if (is.null(sel)) {
    return(seq_len(n))
  }
  if (is.logical(sel)) {
    if (length(sel) != n) {
      stop(sprintf("a logical `%s` selection must have one value per %s (%d), not %d",
                   what, sub("s$", "", what), n, length(sel)), call. = FALSE)
    }
    if (anyNA(sel)) stop(sprintf("the `%s` selection contains NA", what), call. = FALSE)
    return(which(sel))
  }
  if (is.numeric(sel)) {
    bad <- is.na(sel) | sel < 1 | sel > n | sel != round(sel)
    if (any(bad)) {
      stop(sprintf("`%s` positions must be whole numbers within 1..%d; %s is not",
                   what, n, format(sel[bad][1])), call. = FALSE)
    }
    pos <- as.integer(sel)
  } else if (is.character(sel)) {
    pos <- match(sel, ids())
    if (anyNA(pos) && !is.null(alt_ids)) {
      alt <- alt_ids()
      by_alt <- match(sel, alt)
      ambiguous <- sel %in% alt[duplicated(alt)]
      if (any(is.na(pos) & ambiguous)) {
        stop(sprintf("%s name '%s' is ambiguous (several %s share it); use its id",
                     sub("s$", "", what), sel[is.na(pos) & ambiguous][1], what), call. = FALSE)
      }
      pos[is.na(pos)] <- by_alt[is.na(pos)]
    }
    if (anyNA(pos)) {
      missing <- sel[is.na(pos)]
      stop(sprintf("%d %s not found in the store: %s%s", length(missing), what,
                   paste(utils::head(missing, 5), collapse = ", "),
                   if (length(missing) > 5) ", ..." else ""), call. = FALSE)
    }
  } else {
    stop(sprintf("`%s` must be NULL, logical, numeric positions or names", what), call. = FALSE)
  }
  if (anyDuplicated(pos)) {
    stop(sprintf("`%s` selects the same %s twice", what, sub("s$", "", what)), call. = FALSE)
  }
  pos
}

# Stops unless `value` is one whole number >= `min`; `arg` names it in the message.
check_whole <- function(value, arg, min) {
  if (!is.numeric(value) || length(value) != 1 || is.na(value) || value < min || value != round(value)) {
    stop(sprintf("`%s` must be a whole number >= %d", arg, min), call. = FALSE)
  }
}

# Stops unless `value` is one finite number > 0.
check_positive <- function(value, arg) {
  if (!is.numeric(value) || length(value) != 1 || !is.finite(value) || value <= 0) {
    stop(sprintf("`%s` must be a positive number", arg), call. = FALSE)
  }
}

# A step's one-line summary, unless `verbose` is FALSE.
say <- function(verbose, fmt, ...) {
  if (isTRUE(verbose)) message(sprintf(fmt, ...))
}
