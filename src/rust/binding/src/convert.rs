//! R value -> Rust value conversions with messages naming the R argument.

use super::Res;
use cellstream_engine::input::combine::GeneUniverse;
use cellstream_engine::pca::kernels::Dense;
use cellstream_engine::store::ingest::IngestOptions;
use cellstream_engine::store::Layer;
use cellstream_steps::{Column, Frame};
use extendr_api::prelude::*;
use std::path::PathBuf;

pub fn string(x: &Robj, arg: &str) -> Res<String> {
    match x.as_str_iter().map(|mut v| (v.next(), v.next())) {
        Some((Some(s), None)) if s.is_na() => Err(format!("`{arg}` must be a single string, not NA")),
        Some((Some(s), None)) => Ok(s.to_owned()),
        _ => Err(format!("`{arg}` must be a single string")),
    }
}

/// A single non-empty path without NUL bytes.
pub fn path(x: &Robj, arg: &str) -> Res<PathBuf> {
    let s = string(x, arg)?;
    if s.is_empty() {
        return Err(format!("`{arg}` must be a path, not an empty string"));
    }
    Ok(PathBuf::from(s))
}

/// A character vector of paths (one per input).
pub fn paths(x: &Robj, arg: &str) -> Res<Vec<PathBuf>> {
    Ok(optional_strings(x, arg)?
        .ok_or_else(|| format!("`{arg}` must be a character vector"))?
        .into_iter()
        .map(PathBuf::from)
        .collect())
}

/// A character vector without NA, or `None` for NULL.
pub fn optional_strings(x: &Robj, arg: &str) -> Res<Option<Vec<String>>> {
    if x.is_null() {
        return Ok(None);
    }
    let v = x
        .as_str_iter()
        .ok_or_else(|| format!("`{arg}` must be a character vector"))?;
    v.map(|s| {
        if s.is_na() {
            Err(format!("`{arg}` must not contain NA"))
        } else {
            Ok(s.to_owned())
        }
    })
    .collect::<Res<_>>()
    .map(Some)
}

pub fn gene_universe(x: &Robj) -> Res<GeneUniverse> {
    match string(x, "genes")?.as_str() {
        "union" => Ok(GeneUniverse::Union),
        "intersection" => Ok(GeneUniverse::Intersection),
        other => Err(format!(
            "`genes` must be \"union\" or \"intersection\", not \"{other}\""
        )),
    }
}

/// The elements of the named R list `x` (R's side builds it), looked up by name.
pub fn fields<'a>(x: &'a Robj, arg: &'a str) -> Res<impl Fn(&str) -> Res<Robj> + 'a> {
    let list = x.as_list().ok_or_else(|| format!("`{arg}` must be a list"))?;
    Ok(move |name: &str| {
        list.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("`{arg}` lacks {name}"))
    })
}

/// The ingest filters, from the R list `filters` (min_cells, min_genes, min_counts, target_sum).
pub fn ingest_options(filters: &Robj) -> Res<IngestOptions> {
    let get = fields(filters, "filters")?;
    Ok(IngestOptions {
        min_cells: count(&get("min_cells")?, "min_cells")? as u32,
        min_genes: count(&get("min_genes")?, "min_genes")? as u32,
        min_counts: count(&get("min_counts")?, "min_counts")?,
        target_sum: number(&get("target_sum")?, "target_sum")?,
        ..Default::default()
    })
}

pub fn number(x: &Robj, arg: &str) -> Res<f64> {
    match (x.as_real(), x.as_integer()) {
        (Some(v), _) if !v.is_nan() => Ok(v),
        (_, Some(v)) => Ok(v as f64),
        _ => Err(format!("`{arg}` must be a single number")),
    }
}

/// A non-negative whole number.
pub fn count(x: &Robj, arg: &str) -> Res<u64> {
    let v = number(x, arg)?;
    if v < 0.0 || v.fract() != 0.0 || v > 2f64.powi(53) {
        return Err(format!("`{arg}` must be a non-negative whole number, not {v}"));
    }
    Ok(v as u64)
}

pub fn flag(x: &Robj, arg: &str) -> Res<bool> {
    match x.as_logical_slice() {
        Some([b]) if !b.is_na() => Ok(b.is_true()),
        _ => Err(format!("`{arg}` must be TRUE or FALSE")),
    }
}

pub fn flags(x: &Robj, arg: &str) -> Res<Vec<bool>> {
    let v = x
        .as_logical_slice()
        .ok_or_else(|| format!("`{arg}` must be a logical vector"))?;
    v.iter()
        .map(|b| {
            if b.is_na() {
                Err(format!("`{arg}` must not contain NA"))
            } else {
                Ok(b.is_true())
            }
        })
        .collect()
}

/// 0-based indices from the R side's already validated 0-based integer vector.
pub fn rust_indices(x: &Robj, arg: &str) -> Res<Vec<u32>> {
    let v = x
        .as_integer_slice()
        .ok_or_else(|| format!("`{arg}` must be an integer vector"))?;
    v.iter()
        .map(|&i| u32::try_from(i).map_err(|_| format!("`{arg}` holds an invalid index")))
        .collect()
}

pub fn layer_of(x: &Robj) -> Res<Layer> {
    match string(x, "layer")?.as_str() {
        "raw" => Ok(Layer::Raw),
        "norm" => Ok(Layer::Norm),
        other => Err(format!("`layer` must be \"raw\" or \"norm\", not \"{other}\"")),
    }
}

/// A query result as a named list of R vectors (integers that do not fit R's int become
/// doubles; categoricals become factors).
pub fn table_to_list(t: Frame) -> Robj {
    let columns: Vec<Robj> = t
        .columns
        .into_iter()
        .map(|c| match c {
            Column::Bool(v) => v
                .into_iter()
                .map(|b| b.map_or(Rbool::na(), Rbool::from))
                .collect::<Logicals>()
                .into(),
            Column::Int(v)
                if v.iter()
                    .flatten()
                    .all(|&i| i > i32::MIN as i64 && i <= i32::MAX as i64) =>
            {
                v.into_iter()
                    .map(|i| i.map_or(Rint::na(), |i| Rint::from(i as i32)))
                    .collect::<Integers>()
                    .into()
            }
            Column::Int(v) => v
                .into_iter()
                .map(|i| i.map_or(Rfloat::na(), |i| Rfloat::from(i as f64)))
                .collect::<Doubles>()
                .into(),
            Column::Real(v) => v
                .into_iter()
                .map(|f| f.map_or(Rfloat::na(), Rfloat::from))
                .collect::<Doubles>()
                .into(),
            Column::Text(v) => v
                .into_iter()
                .map(|s| s.map_or(Rstr::na(), |s| Rstr::from(s.as_str())))
                .collect::<Strings>()
                .into(),
            Column::Category {
                codes,
                levels,
                ordered,
            } => {
                let mut f: Robj = codes
                    .into_iter()
                    .map(|c| c.map_or(Rint::na(), |c| Rint::from(c as i32 + 1)))
                    .collect::<Integers>()
                    .into();
                f.set_attrib("levels", levels).expect("levels on a fresh vector");
                f.set_class(if ordered {
                    &["ordered", "factor"][..]
                } else {
                    &["factor"][..]
                })
                .expect("class on a fresh vector");
                f
            }
        })
        .collect();
    let mut list = List::from_values(columns);
    list.set_names(t.names).expect("names match columns");
    list.into()
}

/// An R vector as a typed column: logical, integer, double, or character (a factor's
/// labels, with its `levels`, become a categorical).
pub fn column(x: &Robj, levels: &Robj, arg: &str) -> Res<Column> {
    if let Some(levels) = optional_strings(levels, "levels")? {
        let labels = optional_labels(x, arg)?;
        let codes = labels
            .iter()
            .map(|label| match label {
                None => Ok(None),
                Some(l) => levels
                    .iter()
                    .position(|v| v == l)
                    .map(|k| Some(k as u32))
                    .ok_or_else(|| format!("`{arg}` holds a value outside its levels")),
            })
            .collect::<Res<Vec<_>>>()?;
        return Ok(Column::Category {
            codes,
            levels,
            ordered: false,
        });
    }
    if let Some(v) = x.as_logical_slice() {
        return Ok(Column::Bool(
            v.iter().map(|b| (!b.is_na()).then(|| b.is_true())).collect(),
        ));
    }
    if let Some(v) = x.as_integer_slice() {
        return Ok(Column::Int(
            v.iter().map(|&i| (i != i32::MIN).then_some(i as i64)).collect(),
        ));
    }
    if let Some(v) = x.as_real_slice() {
        return Ok(Column::Real(
            v.iter().map(|&f| (!f.is_nan()).then_some(f)).collect(),
        ));
    }
    Ok(Column::Text(optional_labels(x, arg)?))
}

fn optional_labels(x: &Robj, arg: &str) -> Res<Vec<Option<String>>> {
    let v = x
        .as_str_iter()
        .ok_or_else(|| format!("`{arg}` must be a logical, numeric, character or factor vector"))?;
    Ok(v.map(|s| (!s.is_na()).then(|| s.to_owned())).collect())
}

/// A vector of whole numbers >= 1 (e.g. top-N sizes).
pub fn positive_counts(x: &Robj, arg: &str) -> Res<Vec<usize>> {
    let v: Vec<f64> = if let Some(r) = x.as_real_slice() {
        r.to_vec()
    } else if let Some(i) = x.as_integer_slice() {
        i.iter().map(|&i| i as f64).collect()
    } else {
        return Err(format!("`{arg}` must be numeric"));
    };
    v.iter()
        .map(|&v| {
            if v >= 1.0 && v.fract() == 0.0 {
                Ok(v as usize)
            } else {
                Err(format!("`{arg}` must hold whole numbers >= 1, not {v}"))
            }
        })
        .collect()
}

/// A numeric vector where NA means "none".
pub fn optional_numbers(x: &Robj, arg: &str) -> Res<Vec<Option<f64>>> {
    let v = x
        .as_real_slice()
        .ok_or_else(|| format!("`{arg}` must be a double vector"))?;
    Ok(v.iter().map(|&v| (!v.is_nan()).then_some(v)).collect())
}

pub fn optional_string(x: &Robj, arg: &str) -> Res<Option<String>> {
    if x.is_null() {
        Ok(None)
    } else {
        string(x, arg).map(Some)
    }
}

/// 0-based store rows -> R's 1-based ones.
pub fn one_based(rows: &[u32]) -> Vec<i32> {
    rows.iter().map(|&r| r as i32 + 1).collect()
}

/// A stored embedding for R: its cells (1-based) and a cells x dimensions double matrix.
pub fn embedding_to_r(cells: &[u32], e: &Dense<f32>) -> Robj {
    let matrix = RMatrix::new_matrix(e.rows, e.k, |r, c| e.data[r * e.k + c] as f64);
    list!(cell_index = one_based(cells), embedding = matrix).into()
}

/// The dimensions of an R matrix.
pub fn matrix_dims(x: &Robj) -> Option<(usize, usize)> {
    let dim = x.get_attrib("dim")?;
    match dim.as_integer_slice()? {
        &[rows, cols] => Some((rows as usize, cols as usize)),
        _ => None,
    }
}

/// An R matrix's values (column-major) in row-major order.
pub fn row_major<T: Copy, U>(values: &[T], rows: usize, cols: usize, convert: impl Fn(T) -> U) -> Vec<U> {
    (0..rows)
        .flat_map(|r| (0..cols).map(move |c| values[c * rows + r]))
        .map(convert)
        .collect()
}
