//! Query results as typed columns (what R turns into a data.frame); ENUM columns come back as
//! categoricals with their levels.

use cellstream_engine::frame::{Column, Frame};
use duckdb::arrow::array::AsArray;
use duckdb::arrow::datatypes::DataType;
use duckdb::types::{EnumType, ValueRef};
use duckdb::Connection;

/// One cell of a result, reduced to the kinds R distinguishes.
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
    Level(u32),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Bool,
    Int,
    Real,
    Level,
    Text,
}

/// A value, and the levels of an ENUM when `need_levels` (they are the same for every row).
fn cell(v: ValueRef, need_levels: bool) -> (Cell, Option<Vec<String>>) {
    let c = match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Boolean(b) => Cell::Bool(b),
        ValueRef::TinyInt(i) => Cell::Int(i as i64),
        ValueRef::SmallInt(i) => Cell::Int(i as i64),
        ValueRef::Int(i) => Cell::Int(i as i64),
        ValueRef::BigInt(i) => Cell::Int(i),
        ValueRef::UTinyInt(i) => Cell::Int(i as i64),
        ValueRef::USmallInt(i) => Cell::Int(i as i64),
        ValueRef::UInt(i) => Cell::Int(i as i64),
        ValueRef::UBigInt(i) => Cell::Real(i as f64),
        ValueRef::HugeInt(i) => Cell::Real(i as f64),
        ValueRef::UHugeInt(i) => Cell::Real(i as f64),
        ValueRef::Float(f) => Cell::Real(f as f64),
        ValueRef::Double(f) => Cell::Real(f),
        ValueRef::Decimal(d) => Cell::Real(d.to_string().parse().unwrap_or(f64::NAN)),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Enum(e, row) => {
            let (values, key) = match e {
                EnumType::UInt8(a) => (a.values(), a.key(row)),
                EnumType::UInt16(a) => (a.values(), a.key(row)),
                EnumType::UInt32(a) => (a.values(), a.key(row)),
            };
            let levels = need_levels.then(|| {
                values
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap_or_default().to_owned())
                    .collect()
            });
            return (key.map_or(Cell::Null, |k| Cell::Level(k as u32)), levels);
        }
        other => Cell::Text(format!("{other:?}")),
    };
    (c, None)
}

/// Collects each column; integers widen to reals and anything mixed with text becomes text.
#[derive(Default)]
struct Builder {
    kind: Option<Kind>,
    cells: Vec<Cell>,
    levels: Option<Vec<String>>,
}

impl Builder {
    fn push(&mut self, (c, levels): (Cell, Option<Vec<String>>)) {
        let kind = match c {
            Cell::Null => None,
            Cell::Bool(_) => Some(Kind::Bool),
            Cell::Int(_) => Some(Kind::Int),
            Cell::Real(_) => Some(Kind::Real),
            Cell::Level(_) => Some(Kind::Level),
            Cell::Text(_) => Some(Kind::Text),
        };
        if self.levels.is_none() {
            self.levels = levels;
        }
        self.kind = match (self.kind, kind) {
            (None, k) | (k, None) => k,
            (Some(a), Some(b)) if a == b => Some(a),
            (Some(Kind::Int), Some(Kind::Real)) | (Some(Kind::Real), Some(Kind::Int)) => Some(Kind::Real),
            _ => Some(Kind::Text),
        };
        self.cells.push(c);
    }

    fn finish(self) -> Column {
        let levels = self.levels.unwrap_or_default();
        let text = |c: Cell| match c {
            Cell::Null => None,
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Real(f) => Some(f.to_string()),
            Cell::Text(t) => Some(t),
            Cell::Level(l) => Some(levels[l as usize].clone()),
        };
        match self.kind.unwrap_or(Kind::Bool) {
            Kind::Bool => Column::Bool(
                self.cells
                    .into_iter()
                    .map(|c| if let Cell::Bool(b) = c { Some(b) } else { None })
                    .collect(),
            ),
            Kind::Int => Column::Int(
                self.cells
                    .into_iter()
                    .map(|c| if let Cell::Int(i) = c { Some(i) } else { None })
                    .collect(),
            ),
            Kind::Real => Column::Real(
                self.cells
                    .into_iter()
                    .map(|c| match c {
                        Cell::Int(i) => Some(i as f64),
                        Cell::Real(f) => Some(f),
                        _ => None,
                    })
                    .collect(),
            ),
            Kind::Level => {
                let codes = self
                    .cells
                    .into_iter()
                    .map(|c| if let Cell::Level(l) = c { Some(l) } else { None })
                    .collect();
                Column::Category {
                    codes,
                    levels,
                    ordered: false,
                }
            }
            Kind::Text => Column::Text(self.cells.into_iter().map(text).collect()),
        }
    }
}

pub fn query(conn: &Connection, sql: &str) -> Result<Frame, String> {
    let mut stmt = conn.prepare(sql).map_err(|e| format!("SQL error: {e}"))?;
    let mut rows = stmt.query([]).map_err(|e| format!("SQL error: {e}"))?;
    let names = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    // A column of the NULL type (`SELECT NULL AS n`) holds nothing the driver can read.
    let untyped: Vec<bool> = (0..names.len())
        .map(|i| rows.as_ref().is_some_and(|s| s.column_type(i) == DataType::Null))
        .collect();
    let mut builders: Vec<Builder> = names.iter().map(|_| Builder::default()).collect();
    while let Some(row) = rows.next().map_err(|e| format!("SQL error: {e}"))? {
        for (i, b) in builders.iter_mut().enumerate() {
            if untyped[i] {
                b.push((Cell::Null, None));
                continue;
            }
            let need_levels = b.levels.is_none();
            b.push(cell(
                row.get_ref(i).map_err(|e| format!("SQL error: {e}"))?,
                need_levels,
            ));
        }
    }
    Ok(Frame {
        names,
        columns: builders.into_iter().map(Builder::finish).collect(),
    })
}
