//! Query results as typed columns (what R turns into a data.frame).

use duckdb::types::ValueRef;
use duckdb::Connection;

#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub names: Vec<String>,
    pub columns: Vec<Column>,
}

/// One cell of a result, reduced to the four kinds R distinguishes.
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
}

fn cell(v: ValueRef) -> Cell {
    match v {
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
        other => Cell::Text(format!("{other:?}")),
    }
}

/// Collects each column as the first non-null kind it meets; integers widen to reals and
/// anything mixed with text becomes text.
struct Builder {
    kind: Option<u8>, // 0 bool, 1 int, 2 real, 3 text
    cells: Vec<Cell>,
}

impl Builder {
    fn finish(self) -> Column {
        let n = self.cells.len();
        let kind = self.cells.iter().fold(self.kind.unwrap_or(0), |k, c| match c {
            Cell::Real(_) if k == 1 => 2,
            Cell::Text(_) => 3,
            _ => k,
        });
        let mut out = match kind {
            0 => Column::Bool(Vec::with_capacity(n)),
            1 => Column::Int(Vec::with_capacity(n)),
            2 => Column::Real(Vec::with_capacity(n)),
            _ => Column::Text(Vec::with_capacity(n)),
        };
        for c in self.cells {
            match (&mut out, c) {
                (Column::Bool(v), Cell::Bool(b)) => v.push(Some(b)),
                (Column::Int(v), Cell::Int(i)) => v.push(Some(i)),
                (Column::Real(v), Cell::Int(i)) => v.push(Some(i as f64)),
                (Column::Real(v), Cell::Real(f)) => v.push(Some(f)),
                (Column::Text(v), Cell::Text(t)) => v.push(Some(t)),
                (Column::Text(v), Cell::Int(i)) => v.push(Some(i.to_string())),
                (Column::Text(v), Cell::Real(f)) => v.push(Some(f.to_string())),
                (Column::Text(v), Cell::Bool(b)) => v.push(Some(b.to_string())),
                (Column::Bool(v), _) => v.push(None),
                (Column::Int(v), _) => v.push(None),
                (Column::Real(v), _) => v.push(None),
                (Column::Text(v), _) => v.push(None),
            }
        }
        out
    }
}

pub fn query(conn: &Connection, sql: &str) -> Result<Table, String> {
    let mut stmt = conn.prepare(sql).map_err(|e| format!("SQL error: {e}"))?;
    let mut rows = stmt.query([]).map_err(|e| format!("SQL error: {e}"))?;
    let names = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut builders: Vec<Builder> = names.iter().map(|_| Builder { kind: None, cells: Vec::new() }).collect();
    while let Some(row) = rows.next().map_err(|e| format!("SQL error: {e}"))? {
        for (i, b) in builders.iter_mut().enumerate() {
            let c = cell(row.get_ref(i).map_err(|e| format!("SQL error: {e}"))?);
            if b.kind.is_none() {
                b.kind = match c {
                    Cell::Null => None,
                    Cell::Bool(_) => Some(0),
                    Cell::Int(_) => Some(1),
                    Cell::Real(_) => Some(2),
                    Cell::Text(_) => Some(3),
                };
            }
            b.cells.push(c);
        }
    }
    Ok(Table { names, columns: builders.into_iter().map(Builder::finish).collect() })
}
