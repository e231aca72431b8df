//! AnnData data frames (`obs`, `var`, `raw/var`) as typed columns. Both encodings are read:
//! the current one (`encoding-type` attributes: `dataframe`, `categorical`, `string-array`,
//! `array`, `nullable-integer`, `nullable-boolean`, `nullable-string-array`) and the one
//! anndata wrote before 0.7.2 (categorical codes as a plain dataset with the categories in
//! `__categories/<column>`).

use crate::error::{Error, Result};
use crate::frame::{Column, Frame};
use crate::input::h5;
use hdf5::types::TypeDescriptor;
use hdf5::{Dataset, Group};
use std::path::Path;

/// A data frame: its index (cell or gene names), its columns, and notes on the columns left out.
pub struct DataFrame {
    pub index: Vec<String>,
    pub columns: Frame,
    pub left_out: Vec<String>,
}

/// HDF5 says this of an object written in a newer encoding than the library reads (e.g. a
/// datatype of h5py's `libver='latest'` under Debian's libhdf5 1.10).
const TOO_NEW: &str = "bad version number";

pub fn read(g: &Group, file: &Path) -> Result<DataFrame> {
    let where_ = || format!("'{}': data frame '{}'", file.display(), g.name());
    let index_name = h5::attr_string(g, "_index").unwrap_or_else(|| "_index".to_owned());
    if !h5::is_dataset(g, &index_name) {
        return Err(Error::Input(format!(
            "{} has no index dataset '{index_name}'",
            where_()
        )));
    }
    let index = h5::read_strings(&h5::dataset(g, &index_name, file)?, None, file)?;
    let n = index.len();
    let mut names = h5::attr_strings(g, "column-order");
    if names.is_empty() {
        names = g
            .member_names()
            .map_err(h5::err(file, &g.name()))?
            .into_iter()
            .filter(|m| *m != index_name && m != "__categories")
            .collect();
    }
    let mut columns = Frame::default();
    let mut left_out = Vec::new();
    for name in names {
        let col = match read_column(g, &name, file) {
            Ok(col) => col,
            Err(why) if why.contains(TOO_NEW) => {
                let (major, minor, release) = hdf5::library_version();
                left_out.push(format!(
                    "column '{name}' of {} was left out: it is stored in an HDF5 encoding newer than this \
                        system's HDF5 library ({major}.{minor}.{release}) reads (h5py's libver='latest'); \
                        write the file with anndata's defaults to keep it",
                    g.name()
                ));
                continue;
            }
            Err(why) => return Err(Error::Input(format!("{}, column '{name}': {why}", where_()))),
        };
        if col.len() != n {
            return Err(Error::Input(format!(
                "{}, column '{name}' has {} values but the index has {n}",
                where_(),
                col.len()
            )));
        }
        columns.push(name, col);
    }
    Ok(DataFrame {
        index,
        columns,
        left_out,
    })
}

/// Errors here are the reason only; `read` adds where.
fn read_column(g: &Group, name: &str, file: &Path) -> std::result::Result<Column, String> {
    let msg = |e: Error| e.to_string();
    if h5::is_group(g, name) {
        let cg = g.group(name).map_err(|e| h5::short(&e))?;
        let encoding = h5::attr_string(&cg, "encoding-type").unwrap_or_default();
        let part = |p: &str| h5::dataset(&cg, p, file).map_err(msg);
        return match encoding.as_str() {
            "categorical" => {
                let ordered = cg
                    .attr("ordered")
                    .ok()
                    .and_then(|a| a.read_scalar::<bool>().ok())
                    .unwrap_or(false);
                categorical(&part("codes")?, &part("categories")?, ordered, file)
            }
            "nullable-integer" | "nullable-boolean" | "nullable-string-array" => {
                let values = plain(&part("values")?, file)?;
                let mask: Vec<bool> = h5::read_all::<bool>(&part("mask")?, file).map_err(msg)?;
                Ok(masked(values, &mask))
            }
            other => Err(format!(
                "unknown encoding '{other}' (cellstream reads categorical, string-array, \
                array and nullable columns)"
            )),
        };
    }
    let ds = h5::dataset(g, name, file).map_err(msg)?;
    let old_categories = format!("__categories/{name}");
    if g.link_exists("__categories") && g.link_exists(&old_categories) {
        return categorical(
            &ds,
            &h5::dataset(g, &old_categories, file).map_err(msg)?,
            false,
            file,
        );
    }
    plain(&ds, file)
}

fn plain(ds: &Dataset, file: &Path) -> std::result::Result<Column, String> {
    let msg = |e: Error| e.to_string();
    if ds.ndim() != 1 {
        return Err(format!(
            "it has {} dimensions; a data-frame column has 1",
            ds.ndim()
        ));
    }
    let descriptor = ds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| h5::short(&e))?;
    Ok(match descriptor {
        TypeDescriptor::Boolean => Column::Bool(
            h5::read_all::<bool>(ds, file)
                .map_err(msg)?
                .into_iter()
                .map(Some)
                .collect(),
        ),
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => Column::Int(
            h5::read_all::<i64>(ds, file)
                .map_err(msg)?
                .into_iter()
                .map(Some)
                .collect(),
        ),
        TypeDescriptor::Float(_) => Column::Real(
            h5::read_all::<f64>(ds, file)
                .map_err(msg)?
                .into_iter()
                .map(|f| (!f.is_nan()).then_some(f))
                .collect(),
        ),
        TypeDescriptor::VarLenUnicode
        | TypeDescriptor::VarLenAscii
        | TypeDescriptor::FixedAscii(_)
        | TypeDescriptor::FixedUnicode(_) => Column::Text(
            h5::read_strings(ds, None, file)
                .map_err(msg)?
                .into_iter()
                .map(Some)
                .collect(),
        ),
        other => return Err(format!("values of type {other} are not supported")),
    })
}

fn categorical(
    codes: &Dataset,
    categories: &Dataset,
    ordered: bool,
    file: &Path,
) -> std::result::Result<Column, String> {
    let levels: Vec<String> = plain(categories, file)?
        .to_text()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let raw = h5::read_all::<i64>(codes, file).map_err(|e| e.to_string())?;
    let codes = raw
        .into_iter()
        .map(|c| match c {
            c if c < 0 => Ok(None),
            c if (c as usize) < levels.len() => Ok(Some(c as u32)),
            c => Err(format!(
                "category code {c} is outside its {} categories",
                levels.len()
            )),
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(Column::Category {
        codes,
        levels,
        ordered,
    })
}

/// Values where `mask` is true become missing.
fn masked(values: Column, mask: &[bool]) -> Column {
    fn apply<T>(v: Vec<Option<T>>, mask: &[bool]) -> Vec<Option<T>> {
        v.into_iter()
            .zip(mask)
            .map(|(x, &m)| if m { None } else { x })
            .collect()
    }
    match values {
        Column::Bool(v) => Column::Bool(apply(v, mask)),
        Column::Int(v) => Column::Int(apply(v, mask)),
        Column::Real(v) => Column::Real(apply(v, mask)),
        Column::Text(v) => Column::Text(apply(v, mask)),
        Column::Category {
            codes,
            levels,
            ordered,
        } => Column::Category {
            codes: apply(codes, mask),
            levels,
            ordered,
        },
    }
}
