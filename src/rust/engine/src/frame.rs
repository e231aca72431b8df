//! Typed metadata columns (obs / var annotations): what h5ad data frames hold, what the
//! metadata database stores and what R receives as a data.frame. `None` is a missing value.

#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    /// A categorical (R factor, pandas Categorical): codes index `levels`; `None` is missing.
    Category {
        codes: Vec<Option<u32>>,
        levels: Vec<String>,
        ordered: bool,
    },
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Bool(v) => v.len(),
            Column::Int(v) => v.len(),
            Column::Real(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Category { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows at `rows`, in that order.
    pub fn take(&self, rows: &[u32]) -> Column {
        fn pick<T: Clone>(v: &[T], rows: &[u32]) -> Vec<T> {
            rows.iter().map(|&r| v[r as usize].clone()).collect()
        }
        match self {
            Column::Bool(v) => Column::Bool(pick(v, rows)),
            Column::Int(v) => Column::Int(pick(v, rows)),
            Column::Real(v) => Column::Real(pick(v, rows)),
            Column::Text(v) => Column::Text(pick(v, rows)),
            Column::Category {
                codes,
                levels,
                ordered,
            } => Column::Category {
                codes: pick(codes, rows),
                levels: levels.clone(),
                ordered: *ordered,
            },
        }
    }

    /// The values as text (categoricals resolved), e.g. to use a column as ids.
    pub fn to_text(&self) -> Vec<Option<String>> {
        match self {
            Column::Bool(v) => v
                .iter()
                .map(|x| x.map(|b| if b { "TRUE".into() } else { "FALSE".into() }))
                .collect(),
            Column::Int(v) => v.iter().map(|x| x.map(|i| i.to_string())).collect(),
            Column::Real(v) => v.iter().map(|x| x.map(|f| f.to_string())).collect(),
            Column::Text(v) => v.clone(),
            Column::Category { codes, levels, .. } => codes
                .iter()
                .map(|c| c.map(|c| levels[c as usize].clone()))
                .collect(),
        }
    }

    /// A column of `n` missing values of the same kind (categoricals keep their levels).
    pub fn missing_like(&self, n: usize) -> Column {
        match self {
            Column::Bool(_) => Column::Bool(vec![None; n]),
            Column::Int(_) => Column::Int(vec![None; n]),
            Column::Real(_) => Column::Real(vec![None; n]),
            Column::Text(_) => Column::Text(vec![None; n]),
            Column::Category { levels, ordered, .. } => Column::Category {
                codes: vec![None; n],
                levels: levels.clone(),
                ordered: *ordered,
            },
        }
    }

    /// Appends `other` below `self`. Kinds that differ widen: Int with Real gives Real, two
    /// categoricals merge their levels (in order of first appearance), anything else gives Text.
    pub fn append(self, other: Column) -> Column {
        match (self, other) {
            (Column::Bool(mut a), Column::Bool(b)) => {
                a.extend(b);
                Column::Bool(a)
            }
            (Column::Int(mut a), Column::Int(b)) => {
                a.extend(b);
                Column::Int(a)
            }
            (Column::Real(mut a), Column::Real(b)) => {
                a.extend(b);
                Column::Real(a)
            }
            (Column::Int(a), Column::Real(b)) => {
                Column::Real(a.into_iter().map(|x| x.map(|i| i as f64)).chain(b).collect())
            }
            (Column::Real(mut a), Column::Int(b)) => {
                a.extend(b.into_iter().map(|x| x.map(|i| i as f64)));
                Column::Real(a)
            }
            (
                Column::Category {
                    codes: mut a,
                    mut levels,
                    ordered,
                },
                Column::Category {
                    codes: b,
                    levels: b_levels,
                    ordered: b_ordered,
                },
            ) => {
                let remap: Vec<u32> = b_levels
                    .iter()
                    .map(|l| match levels.iter().position(|x| x == l) {
                        Some(i) => i as u32,
                        None => {
                            levels.push(l.clone());
                            levels.len() as u32 - 1
                        }
                    })
                    .collect();
                a.extend(b.into_iter().map(|c| c.map(|c| remap[c as usize])));
                Column::Category {
                    codes: a,
                    levels,
                    ordered: ordered && b_ordered,
                }
            }
            (a, b) => {
                let mut t = a.to_text();
                t.extend(b.to_text());
                Column::Text(t)
            }
        }
    }
}

/// Named columns of equal length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    pub names: Vec<String>,
    pub columns: Vec<Column>,
}

impl Frame {
    pub fn push(&mut self, name: impl Into<String>, column: Column) {
        self.names.push(name.into());
        self.columns.push(column);
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.columns[i])
    }

    /// Removes and returns the column `name`.
    pub fn remove(&mut self, name: &str) -> Option<Column> {
        let i = self.names.iter().position(|n| n == name)?;
        self.names.remove(i);
        Some(self.columns.remove(i))
    }

    pub fn take(&self, rows: &[u32]) -> Frame {
        Frame {
            names: self.names.clone(),
            columns: self.columns.iter().map(|c| c.take(rows)).collect(),
        }
    }

    /// Stacks frames of `n_rows[k]` rows each; a column missing from a frame is filled with
    /// missing values there.
    pub fn stack(frames: Vec<Frame>, n_rows: &[usize]) -> Frame {
        let mut out = Frame::default();
        for f in &frames {
            for (name, col) in f.names.iter().zip(&f.columns) {
                if !out.names.contains(name) {
                    out.push(name.clone(), col.missing_like(0));
                }
            }
        }
        for (name, acc) in out.names.iter().zip(out.columns.iter_mut()) {
            for (f, &n) in frames.iter().zip(n_rows) {
                let part = f.column(name).cloned().unwrap_or_else(|| acc.missing_like(n));
                *acc = std::mem::replace(acc, Column::Bool(Vec::new())).append(part);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacking_merges_levels_and_fills_missing_columns() {
        let a = Frame {
            names: vec!["cat".into(), "x".into()],
            columns: vec![
                Column::Category {
                    codes: vec![Some(0), Some(1)],
                    levels: vec!["B".into(), "A".into()],
                    ordered: false,
                },
                Column::Int(vec![Some(1), None]),
            ],
        };
        let b = Frame {
            names: vec!["cat".into(), "y".into()],
            columns: vec![
                Column::Category {
                    codes: vec![Some(1), None],
                    levels: vec!["A".into(), "C".into()],
                    ordered: false,
                },
                Column::Real(vec![Some(0.5), Some(1.5)]),
            ],
        };
        let s = Frame::stack(vec![a, b], &[2, 2]);
        assert_eq!(s.names, vec!["cat", "x", "y"]);
        assert_eq!(
            s.columns[0],
            Column::Category {
                codes: vec![Some(0), Some(1), Some(2), None],
                levels: vec!["B".into(), "A".into(), "C".into()],
                ordered: false
            }
        );
        assert_eq!(s.columns[1], Column::Int(vec![Some(1), None, None, None]));
        assert_eq!(s.columns[2], Column::Real(vec![None, None, Some(0.5), Some(1.5)]));
        assert_eq!(s.take(&[3, 0]).columns[2], Column::Real(vec![Some(1.5), None]));
    }
}
