//! Reading HDF5 (h5ad, 10x HDF5) with messages a user can act on. The library's own error
//! stacks are silenced (hdf5-metno does so on first use); each failure names the file and the
//! object. Strings may be stored variable- or fixed-length, ASCII or UTF-8; all are checked to
//! be valid UTF-8.

use crate::error::{Error, IoContext, Result};
use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Container, Dataset, File, Group, Location};
use std::io::Read;
use std::ops::Range;
use std::path::Path;

const SIGNATURE: [u8; 8] = *b"\x89HDF\r\n\x1a\n";

/// Opens an HDF5 file for reading; `what` names the expected kind ("h5ad file", …).
pub fn open(path: &Path, what: &str) -> Result<File> {
    if !path.is_file() {
        return Err(Error::Input(format!("file '{}' does not exist", path.display())));
    }
    let mut head = [0u8; 8];
    let n = std::fs::File::open(path)
        .ctx("cannot open", path)?
        .read(&mut head)
        .ctx("cannot read", path)?;
    if n < 8 || head != SIGNATURE {
        return Err(Error::Input(format!(
            "'{}' is not an HDF5 file, so it cannot be an {what}",
            path.display()
        )));
    }
    File::open(path).map_err(|e| {
        Error::Input(format!(
            "cannot open '{}' as HDF5 (truncated or damaged file?): {}",
            path.display(),
            short(&e)
        ))
    })
}

/// The first line of an HDF5 error without the C function name (its stack is not shown).
pub fn short(e: &hdf5::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.split_once("(): ")
        .filter(|(f, _)| f.starts_with('H'))
        .map_or(line, |(_, rest)| rest)
        .to_owned()
}

/// Maps an HDF5 error on object `name` of `file` to an input error.
pub fn err<'a>(file: &'a Path, name: &'a str) -> impl Fn(hdf5::Error) -> Error + 'a {
    move |e| {
        Error::Input(format!(
            "'{}': cannot read '{name}' ({}); the file may be truncated or damaged",
            file.display(),
            short(&e)
        ))
    }
}

pub fn dataset(g: &Group, name: &str, file: &Path) -> Result<Dataset> {
    g.dataset(name).map_err(|e| {
        if g.link_exists(name) {
            Error::Input(format!(
                "'{}': cannot open the dataset '{}' ({})",
                file.display(),
                join(g, name),
                short(&e)
            ))
        } else {
            Error::Input(format!("'{}' has no dataset '{}'", file.display(), join(g, name)))
        }
    })
}

pub fn group(g: &Group, name: &str, file: &Path) -> Result<Group> {
    g.group(name)
        .map_err(|_| Error::Input(format!("'{}' has no group '{}'", file.display(), join(g, name))))
}

/// The full HDF5 path of member `name` of `g`, for messages.
pub fn join(g: &Group, name: &str) -> String {
    let base = g.name();
    if base == "/" {
        format!("/{name}")
    } else {
        format!("{base}/{name}")
    }
}

pub fn is_group(g: &Group, name: &str) -> bool {
    g.link_exists(name) && g.group(name).is_ok()
}

pub fn is_dataset(g: &Group, name: &str) -> bool {
    g.link_exists(name) && g.dataset(name).is_ok()
}

/// A string attribute (scalar or one-element array), if present and a string.
pub fn attr_string(loc: &Location, name: &str) -> Option<String> {
    let a = loc.attr(name).ok()?;
    strings_of(&a, None).ok()?.into_iter().next()
}

/// A string-array attribute (e.g. anndata's `column-order`); empty when absent or not strings.
pub fn attr_strings(loc: &Location, name: &str) -> Vec<String> {
    loc.attr(name)
        .ok()
        .and_then(|a| strings_of(&a, None).ok())
        .unwrap_or_default()
}

/// An integer-array attribute (e.g. the `shape` of an anndata sparse matrix).
pub fn attr_ints(loc: &Location, name: &str) -> Option<Vec<i64>> {
    loc.attr(name).ok()?.read_raw::<i64>().ok()
}

pub fn len(ds: &Dataset) -> usize {
    ds.shape().first().copied().unwrap_or(0)
}

/// Whether values are integers (as opposed to floats), or `None` for other types.
pub fn is_integer_type(ds: &Dataset) -> Option<bool> {
    match ds.dtype().ok()?.to_descriptor().ok()? {
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Boolean => Some(true),
        TypeDescriptor::Float(_) => Some(false),
        _ => None,
    }
}

/// Reads `range` of a 1-D numeric dataset, converted to `T` by HDF5.
pub fn read_range<T: hdf5::H5Type>(ds: &Dataset, range: Range<usize>, file: &Path) -> Result<Vec<T>> {
    let name = ds.name();
    if range.is_empty() {
        return Ok(Vec::new());
    }
    ds.read_slice_1d::<T, _>(range)
        .map(|a| a.into_raw_vec_and_offset().0)
        .map_err(err(file, &name))
}

pub fn read_all<T: hdf5::H5Type>(ds: &Dataset, file: &Path) -> Result<Vec<T>> {
    ds.read_raw::<T>().map_err(err(file, &ds.name()))
}

/// Reads an index array (indptr, indices) as u64, refusing negative values.
pub fn read_index(ds: &Dataset, range: Range<usize>, file: &Path) -> Result<Vec<u64>> {
    let v = read_range::<i64>(ds, range, file)?;
    if let Some(bad) = v.iter().find(|&&x| x < 0) {
        return Err(Error::Input(format!(
            "'{}': '{}' holds the negative index {bad}",
            file.display(),
            ds.name()
        )));
    }
    Ok(v.into_iter().map(|x| x as u64).collect())
}

/// Reads `range` (or all) of a 1-D string dataset.
pub fn read_strings(ds: &Dataset, range: Option<Range<usize>>, file: &Path) -> Result<Vec<String>> {
    strings_of(ds, range).map_err(|why| Error::Input(format!("'{}': '{}' {why}", file.display(), ds.name())))
}

fn strings_of(c: &Container, range: Option<Range<usize>>) -> std::result::Result<Vec<String>, String> {
    let total = if c.is_scalar() {
        1
    } else {
        c.shape().first().copied().unwrap_or(0)
    };
    let range = range.unwrap_or(0..total);
    let decode = |bytes: &[u8], i: usize| {
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| {
            format!(
                "holds a string that is not valid UTF-8 (element {})",
                range.start + i + 1
            )
        })
    };
    let descriptor = c
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| format!("has an unreadable type ({})", short(&e)))?;
    let read_err = |e: hdf5::Error| {
        format!(
            "cannot be read ({}); the file may be truncated or damaged",
            short(&e)
        )
    };
    match descriptor {
        TypeDescriptor::VarLenUnicode => {
            let v: Vec<VarLenUnicode> = read_varlen(c, &range, total).map_err(read_err)?;
            v.iter()
                .enumerate()
                .map(|(i, s)| decode(s.as_bytes(), i))
                .collect()
        }
        TypeDescriptor::VarLenAscii => {
            let v: Vec<VarLenAscii> = read_varlen(c, &range, total).map_err(read_err)?;
            v.iter()
                .enumerate()
                .map(|(i, s)| decode(s.as_bytes(), i))
                .collect()
        }
        TypeDescriptor::FixedAscii(size) | TypeDescriptor::FixedUnicode(size) => {
            let bytes = fixed::read(c, range.clone(), total, size)
                .map_err(|e| format!("cannot be read ({e}); the file may be truncated or damaged"))?;
            bytes
                .chunks(size.max(1))
                .take(range.len())
                .enumerate()
                .map(|(i, s)| decode(&s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())], i))
                .collect()
        }
        other => Err(format!("holds {other} values, not strings")),
    }
}

/// Variable-length strings: scalar, whole (attributes allow no slicing) or a slice.
fn read_varlen<T: hdf5::H5Type>(c: &Container, range: &Range<usize>, total: usize) -> hdf5::Result<Vec<T>> {
    if c.is_scalar() {
        Ok(vec![c.read_scalar()?])
    } else if *range == (0..total) {
        c.read_raw()
    } else {
        Ok(c.read_slice_1d(range.clone())?.into_raw_vec_and_offset().0)
    }
}

/// Fixed-length strings of a size known only at run time, read as raw bytes through the C
/// API (hdf5-metno's typed reads need the size at compile time).
mod fixed {
    use hdf5::Container;
    use hdf5_sys::h5a::{H5Aget_type, H5Aread};
    use hdf5_sys::h5d::{H5Dget_space, H5Dget_type, H5Dread};
    use hdf5_sys::h5i::{H5I_type_t, H5Iget_type};
    use hdf5_sys::h5p::H5P_DEFAULT;
    use hdf5_sys::h5s::{H5S_seloper_t, H5Sclose, H5Screate_simple, H5Sselect_hyperslab};
    use hdf5_sys::h5t::H5Tclose;
    use std::ops::Range;

    pub fn read(c: &Container, range: Range<usize>, total: usize, size: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; range.len() * size];
        if range.is_empty() {
            return Ok(buf);
        }
        if range.end > total {
            return Err(format!(
                "elements {}..{} asked of {total}",
                range.start, range.end
            ));
        }
        let id = c.id();
        // SAFETY: `buf` holds range.len() elements of the file's own string type (size bytes
        // each); the spaces and type ids opened here are closed before returning; all calls run
        // under hdf5-metno's library lock.
        let status = hdf5::sync::sync(|| unsafe {
            if H5Iget_type(id) == H5I_type_t::H5I_ATTR {
                let t = H5Aget_type(id);
                let s = H5Aread(id, t, buf.as_mut_ptr().cast());
                H5Tclose(t);
                return s;
            }
            let t = H5Dget_type(id);
            let file_space = H5Dget_space(id);
            let (start, count) = ([range.start as u64], [range.len() as u64]);
            let mut s = H5Sselect_hyperslab(
                file_space,
                H5S_seloper_t::H5S_SELECT_SET,
                start.as_ptr(),
                std::ptr::null(),
                count.as_ptr(),
                std::ptr::null(),
            );
            let mem_space = H5Screate_simple(1, count.as_ptr(), std::ptr::null());
            if s >= 0 {
                s = H5Dread(id, t, mem_space, file_space, H5P_DEFAULT, buf.as_mut_ptr().cast());
            }
            H5Sclose(mem_space);
            H5Sclose(file_space);
            H5Tclose(t);
            s
        });
        if status < 0 {
            return Err("HDF5 read failed".into());
        }
        Ok(buf)
    }
}
