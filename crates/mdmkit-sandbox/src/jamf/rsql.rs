//! The RSQL subset Jamf documents (<https://developer.jamf.com/jamf-pro/docs/filtering-with-rsql>).

use std::borrow::Cow;
use std::cmp::Ordering;

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Number,
    /// A timestamp, compared in time order (RFC 3339 values, quoted or bare).
    Date,
}

/// A field's value on one row.
#[derive(Debug)]
pub(super) enum Value<'a> {
    Text(Cow<'a, str>),
    Number(i64),
    /// Milliseconds since the Unix epoch.
    Date(i64),
    Null,
}

/// A value as a sort key: nulls first, text ignoring case.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum SortValue {
    Null,
    Number(i64),
    Date(i64),
    Text(String),
}

impl Value<'_> {
    pub(super) fn sort_value(&self) -> SortValue {
        match self {
            Value::Text(t) => SortValue::Text(t.to_lowercase()),
            Value::Number(n) => SortValue::Number(*n),
            Value::Date(t) => SortValue::Date(*t),
            Value::Null => SortValue::Null,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Out,
}

#[derive(Debug)]
pub(super) enum Arg {
    /// Lower-cased.
    Text(String),
    Number(i64),
    /// Milliseconds since the Unix epoch.
    Date(i64),
}

/// A parsed filter.
#[derive(Debug)]
pub(super) enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Compare {
        field: &'static str,
        op: Op,
        args: Vec<Arg>,
    },
}

impl Filter {
    pub(super) fn matches<'r>(&self, get: &dyn Fn(&str) -> Value<'r>) -> bool {
        match self {
            Filter::All(parts) => parts.iter().all(|p| p.matches(get)),
            Filter::Any(parts) => parts.iter().any(|p| p.matches(get)),
            Filter::Compare { field, op, args } => compare(&get(field), *op, args),
        }
    }
}

fn compare(value: &Value<'_>, op: Op, args: &[Arg]) -> bool {
    let equal = |arg: &Arg| match (value, arg) {
        (Value::Text(v), Arg::Text(a)) => {
            let v = v.to_lowercase();
            if a.contains('*') {
                glob(a, &v)
            } else {
                v == *a
            }
        }
        (Value::Number(v), Arg::Number(a)) | (Value::Date(v), Arg::Date(a)) => v == a,
        _ => false,
    };
    let order = |arg: &Arg| match (value, arg) {
        (Value::Text(v), Arg::Text(a)) => Some(v.to_lowercase().as_str().cmp(a.as_str())),
        (Value::Number(v), Arg::Number(a)) | (Value::Date(v), Arg::Date(a)) => Some(v.cmp(a)),
        _ => None,
    };
    match op {
        Op::Eq => equal(&args[0]),
        Op::Ne => !equal(&args[0]),
        Op::In => args.iter().any(equal),
        Op::Out => !args.iter().any(equal),
        Op::Lt => order(&args[0]) == Some(Ordering::Less),
        Op::Le => matches!(order(&args[0]), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => order(&args[0]) == Some(Ordering::Greater),
        Op::Ge => matches!(order(&args[0]), Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Parses `text` against the fields a listing accepts.
pub(super) fn parse(text: &str, fields: &'static [(&'static str, Kind)]) -> Result<Filter, String> {
    let mut p = Parser {
        s: text,
        i: 0,
        fields,
    };
    let filter = p.or()?;
    p.skip_ws();
    if p.i < text.len() {
        return Err(format!(
            "Unexpected character at position {} of the filter",
            p.i
        ));
    }
    Ok(filter)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
    fields: &'static [(&'static str, Kind)],
}

const RESERVED: &[u8] = b"\"'();,=!~<> \t";

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        self.joined(b',', Self::and, Filter::Any)
    }

    fn and(&mut self) -> Result<Filter, String> {
        self.joined(b';', Self::constraint, Filter::All)
    }

    /// `item`s separated by `separator`: a single one stands alone, several are `combine`d.
    fn joined(
        &mut self,
        separator: u8,
        item: fn(&mut Self) -> Result<Filter, String>,
        combine: fn(Vec<Filter>) -> Filter,
    ) -> Result<Filter, String> {
        let mut parts = vec![item(self)?];
        while self.eat(separator) {
            parts.push(item(self)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            combine(parts)
        })
    }

    fn constraint(&mut self) -> Result<Filter, String> {
        if self.eat(b'(') {
            let inner = self.or()?;
            if !self.eat(b')') {
                return Err("Missing ) in the filter".to_owned());
            }
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Filter, String> {
        self.skip_ws();
        let start = self.i;
        while self.peek().is_some_and(|c| !RESERVED.contains(&c)) {
            self.i += 1;
        }
        let selector = &self.s[start..self.i];
        if selector.is_empty() {
            return Err(format!(
                "Expected a field name at position {start} of the filter"
            ));
        }
        let (field, kind) = *self
            .fields
            .iter()
            .find(|(name, _)| *name == selector)
            .ok_or_else(|| format!("Unknown filter field {selector}"))?;
        let op = self.operator()?;
        let raw = if self.eat(b'(') {
            let mut values = vec![self.value()?];
            while self.eat(b',') {
                values.push(self.value()?);
            }
            if !self.eat(b')') {
                return Err("Missing ) after the value list".to_owned());
            }
            values
        } else {
            vec![self.value()?]
        };
        if raw.len() > 1 && !matches!(op, Op::In | Op::Out) {
            return Err(format!("{selector} takes one value with this operator"));
        }
        let args = raw
            .into_iter()
            .map(|v| match kind {
                Kind::Text => Ok(Arg::Text(v.to_lowercase())),
                Kind::Number => v
                    .trim()
                    .parse()
                    .map(Arg::Number)
                    .map_err(|_| format!("{selector} needs a number, not {v:?}")),
                Kind::Date => mdmkit_core::changes::parse_timestamp(&v)
                    .map(|t| Arg::Date(t.timestamp_millis()))
                    .ok_or_else(|| format!("{selector} needs a date, not {v:?}")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filter::Compare { field, op, args })
    }

    fn operator(&mut self) -> Result<Op, String> {
        let rest = &self.s[self.i..];
        let fixed = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        if let Some((token, op)) = fixed.iter().find(|(t, _)| rest.starts_with(t)) {
            self.i += token.len();
            return Ok(*op);
        }
        let named = rest
            .strip_prefix('=')
            .and_then(|r| r.find('=').map(|end| &r[..end]))
            .filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic()));
        let op = match named {
            Some("lt") => Op::Lt,
            Some("le") => Op::Le,
            Some("gt") => Op::Gt,
            Some("ge") => Op::Ge,
            Some("in") => Op::In,
            Some("out") => Op::Out,
            _ => {
                return Err(format!(
                    "Unknown operator at position {} of the filter",
                    self.i
                ))
            }
        };
        self.i += named.map_or(0, str::len) + 2;
        Ok(op)
    }

    fn value(&mut self) -> Result<String, String> {
        self.skip_ws();
        match self.peek() {
            Some(quote @ (b'"' | b'\'')) => {
                self.i += 1;
                let mut out = String::new();
                let mut chars = self.s[self.i..].char_indices();
                while let Some((at, c)) = chars.next() {
                    if c == '\\' {
                        match chars.next() {
                            Some((_, escaped)) => out.push(escaped),
                            None => break,
                        }
                    } else if c as u32 == u32::from(quote) {
                        self.i += at + 1;
                        return Ok(out);
                    } else {
                        out.push(c);
                    }
                }
                Err("Unterminated quoted value in the filter".to_owned())
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| !b"\"'();, \t".contains(&c)) {
                    self.i += 1;
                }
                if start == self.i {
                    return Err(format!(
                        "Expected a value at position {start} of the filter"
                    ));
                }
                Ok(self.s[start..self.i].to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[(&str, Kind)] = &[("name", Kind::Text), ("id", Kind::Number)];

    fn hit(filter: &str, name: &str, id: i64) -> bool {
        let f = parse(filter, FIELDS).unwrap();
        f.matches(&|field| match field {
            "name" => Value::Text(Cow::Borrowed(name)),
            "id" => Value::Number(id),
            _ => Value::Null,
        })
    }

    #[test]
    fn comparisons_and_logic() {
        assert!(hit(r#"name=="Ada""#, "ada", 1), "case is ignored");
        assert!(!hit(r#"name=="Ada""#, "Adam", 1));
        assert!(hit(r#"name=="*da*""#, "Adam", 1));
        assert!(hit(r#"name=="A\"B\\C""#, r#"A"B\C"#, 1));
        assert!(hit("id=in=(1,2);name!=x", "y", 2));
        assert!(!hit("id=out=(1,2)", "y", 2));
        assert!(hit("id=gt=1,name==zz", "y", 2));
        assert!(hit("(id<2,id>=3);name==y", "y", 3));
        assert!(!hit("id=le=2", "y", 3));
        assert!(hit("name=in=('a b','c')", "A B", 9));
    }

    #[test]
    fn errors() {
        for bad in [
            "nope==1",
            "id==x",
            "name==",
            "name=~1",
            r#"name=="open"#,
            "(name==a",
            "name==a;",
            "name==(a,b)",
        ] {
            assert!(parse(bad, FIELDS).is_err(), "{bad}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*", ""));
        assert!(!glob("a*c", "abcd"));
        assert!(glob("*b*", "abc"));
    }
}
