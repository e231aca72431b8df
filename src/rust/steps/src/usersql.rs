//! The user's own SQL (`sql()`, the conditions of `set_keep()`): exactly one query (SELECT,
//! WITH, FROM, VALUES, …) per call, run on a connection of its own to the readers' snapshot
//! (read-only, no access to other files, configuration locked; see `access`), so that it can
//! change nothing, and on a worker thread so that Ctrl-C interrupts it.

use crate::{table, MetaDb, Result};
use cellstream_engine::frame::Frame;
use cellstream_engine::monitor::Monitor;
use std::time::Duration;

/// The words a query may start with.
const QUERY_WORDS: &[&str] = &[
    "select",
    "with",
    "from",
    "values",
    "table",
    "summarize",
    "describe",
    "show",
    "pivot",
    "unpivot",
];

/// Ok when `sql` holds exactly one statement and it is a query.
pub fn check_query(sql: &str) -> Result<()> {
    let statements = split_statements(sql)?;
    let Some(first) = statements.first() else {
        return Err(
            "the query is empty; give one SELECT statement, e.g. \"SELECT count(*) FROM obs\"".into(),
        );
    };
    if statements.len() > 1 {
        return Err(format!(
            "give one statement at a time; this has {} (separated by ';')",
            statements.len()
        ));
    }
    let word: String = first
        .trim_start_matches(|c: char| c == '(' || c.is_whitespace())
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    if QUERY_WORDS.contains(&word.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "only queries (SELECT …) can be run on a store, not {}: the store changes only through \
                cellstream's verbs",
            if word.is_empty() {
                "this".to_string()
            } else {
                word.to_uppercase()
            }
        ))
    }
}

/// The statements of `sql` with comments removed, split at semicolons outside quotes
/// ('…', "…", $tag$…$tag$) and comments (-- …, /* … */).
fn split_statements(sql: &str) -> Result<Vec<String>> {
    let mut statements = vec![String::new()];
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let (keep, skip) = if c == '\'' || c == '"' {
            let len = quoted_len(rest, c).ok_or_else(|| format!("the query has an unclosed {c}quote{c}"))?;
            (true, len)
        } else if rest.starts_with("--") {
            (false, rest.find('\n').unwrap_or(rest.len()))
        } else if let Some(comment) = rest.strip_prefix("/*") {
            let end = comment.find("*/").ok_or("the query has an unclosed /* comment")?;
            (false, end + 4)
        } else if let Some(tag) = dollar_tag(rest) {
            let end = rest[tag.len()..]
                .find(tag)
                .ok_or("the query has an unclosed $-quoted string")?;
            (true, 2 * tag.len() + end)
        } else if c == ';' {
            statements.push(String::new());
            (false, 1)
        } else {
            (true, c.len_utf8())
        };
        let current = statements.last_mut().unwrap();
        if keep {
            current.push_str(&rest[..skip]);
        } else if c != ';' {
            current.push(' ');
        }
        rest = &rest[skip.min(rest.len())..];
    }
    Ok(statements.into_iter().filter(|s| !s.trim().is_empty()).collect())
}

/// The length of the string quoted by `q` that starts `text` (a doubled `q` is part of it).
fn quoted_len(text: &str, q: char) -> Option<usize> {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((at, c)) = chars.next() {
        if c == q {
            if chars.peek().map(|&(_, d)| d) != Some(q) {
                return Some(at + 1);
            }
            chars.next();
        }
    }
    None
}

/// `$tag$` (or `$$`) when `text` starts with one.
fn dollar_tag(text: &str) -> Option<&str> {
    let body = text.strip_prefix('$')?;
    let len = body.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    body[len..].starts_with('$').then(|| &text[..len + 2])
}

impl MetaDb {
    /// Runs the user's query (see [`check_query`]) on a connection of its own; Ctrl-C, seen
    /// through `monitor`, interrupts it.
    pub fn user_query(&self, sql: &str, monitor: &Monitor) -> Result<Frame> {
        check_query(sql)?;
        let conn = self
            .conn
            .try_clone()
            .map_err(|e| format!("cannot open a connection for the query: {e}"))?;
        let interrupt = conn.interrupt_handle();
        std::thread::scope(|scope| {
            let worker = scope.spawn(move || table::query(&conn, sql));
            let mut interrupted = false;
            while !worker.is_finished() {
                if !interrupted && monitor.check().is_err() {
                    interrupt.interrupt();
                    interrupted = true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let outcome = worker
                .join()
                .unwrap_or_else(|_| Err("the query failed unexpectedly".into()));
            if interrupted {
                Err("interrupted: the query was stopped; the store is unchanged".into())
            } else {
                outcome
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_passes_and_anything_else_is_refused() {
        for ok in [
            "SELECT 1",
            "  with t AS (SELECT 1) SELECT * FROM t;",
            "(SELECT 1)",
            "FROM obs",
            "SELECT ';' AS a, 'it''s' AS b -- trailing; comment",
            "SELECT $x$ ; DROP $x$ /* ; */",
        ] {
            assert_eq!(check_query(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("  ; -- nothing", "empty"),
            ("SELECT 1; DROP TABLE obs_base", "one statement at a time"),
            ("DROP TABLE obs_base CASCADE", "not DROP"),
            ("BEGIN TRANSACTION", "not BEGIN"),
            ("COPY obs TO '/tmp/x.csv'", "not COPY"),
            ("/* */ ATTACH 'x.db'", "not ATTACH"),
            ("SELECT 'open", "unclosed"),
        ] {
            let err = check_query(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
