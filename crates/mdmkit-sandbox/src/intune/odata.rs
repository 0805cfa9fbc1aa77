//! OData query options: `$select`, `$top`, `$count`, skip-token paging with absolute next links, and
//! the `$filter` subset the connectors and tests use.

use serde::Serialize;

use super::*;

// ----- query options -----

/// The OData system query options of a request.
#[derive(Debug, Default)]
pub(super) struct Options {
    pub(super) select: Option<String>,
    pub(super) filter: Option<String>,
    pub(super) top: Option<String>,
    pub(super) skiptoken: Option<String>,
    pub(super) count: bool,
    /// Every pair but `$skiptoken`, in order, for next links.
    pub(super) keep: Vec<(String, String)>,
}

pub(super) fn parse_options(
    raw: Option<&str>,
    dialect: Dialect,
    allowed: &[&str],
) -> Result<Options, Fault> {
    let mut options = Options::default();
    for (key, value) in query_pairs(raw) {
        let lower = key.to_ascii_lowercase();
        if lower.starts_with('$') {
            if !allowed.contains(&lower.as_str()) {
                return Err(dialect.bad_request(format!(
                    "Query option '{key}' is not supported on this resource."
                )));
            }
            let slot = match lower.as_str() {
                "$select" => Some(&mut options.select),
                "$filter" => Some(&mut options.filter),
                "$top" => Some(&mut options.top),
                "$skiptoken" => Some(&mut options.skiptoken),
                "$count" => {
                    options.count = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(dialect.bad_request(format!(
                                "Invalid value '{value}' for $count: expected true or false."
                            )))
                        }
                    };
                    None
                }
                _ => None,
            };
            if let Some(slot) = slot {
                if slot.is_some() {
                    return Err(dialect
                        .bad_request(format!("Query option '{key}' was given more than once.")));
                }
                *slot = Some(value.clone());
            }
        }
        if lower != "$skiptoken" {
            options.keep.push((key, value));
        }
    }
    Ok(options)
}

/// The `$select` list mapped to canonical property names; `None` means every default property.
pub(super) fn parse_select(
    options: &Options,
    props: &'static [&'static str],
    type_name: &str,
    dialect: Dialect,
) -> Result<Option<Vec<&'static str>>, Fault> {
    let Some(raw) = options.select.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let mut chosen = Vec::new();
    for name in raw.split(',').map(str::trim) {
        if name == "*" {
            return Ok(None);
        }
        match props.iter().find(|p| p.eq_ignore_ascii_case(name)) {
            Some(p) if !chosen.contains(p) => chosen.push(*p),
            Some(_) => {}
            None => {
                return Err(dialect.bad_request(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            )))
            }
        }
    }
    Ok(Some(chosen))
}

/// The page size: Intune defaults to and silently caps at 1000; the directory defaults to 100 and
/// refuses anything outside 1-999.
pub(super) fn page_size(options: &Options, dialect: Dialect) -> Result<usize, Fault> {
    let Some(raw) = options.top.as_deref() else {
        return Ok(match dialect {
            Dialect::Intune => DEVICE_PAGE,
            Dialect::Directory => DIRECTORY_DEFAULT_PAGE,
        });
    };
    let parsed = raw.trim().parse::<u64>().ok();
    match dialect {
        Dialect::Intune => match parsed {
            Some(n) => Ok((n as usize).min(DEVICE_PAGE)),
            None => Err(dialect.bad_request(format!(
                "Invalid value '{raw}' for the $top query option: it must be a non-negative integer."
            ))),
        },
        Dialect::Directory => match parsed {
            Some(n) if (1..=DIRECTORY_MAX_PAGE as u64).contains(&n) => Ok(n as usize),
            _ => Err(dialect.bad_request(format!(
                "Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."
            ))),
        },
    }
}

/// Directory `$count` needs the advanced-query header.
pub(super) fn advanced(headers: &HeaderMap) -> bool {
    header_str(headers, "consistencylevel")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

pub(super) fn check_count(options: &Options, headers: &HeaderMap) -> Result<(), Fault> {
    if options.count && !advanced(headers) {
        return Err(Dialect::Directory.bad_request("$count is not currently supported."));
    }
    Ok(())
}

// ----- paging -----

/// Where a listing continues: after the row with key `after`, as page number `page` (0-based).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cursor {
    pub(super) after: Option<u64>,
    pub(super) page: u32,
}

pub(super) fn encode_cursor(tag: char, after: u64, page: u32) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("sbx{tag}.{after:x}.{page}"))
}

pub(super) fn cursor(options: &Options, tag: char, dialect: Dialect) -> Result<Cursor, Fault> {
    let Some(token) = options.skiptoken.as_deref() else {
        return Ok(Cursor::default());
    };
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|text| {
            let rest = text
                .strip_prefix("sbx")?
                .strip_prefix(tag)?
                .strip_prefix('.')?;
            let (after, page) = rest.split_once('.')?;
            Some(Cursor {
                after: Some(u64::from_str_radix(after, 16).ok()?),
                page: page.parse().ok().filter(|p| *p > 0)?,
            })
        });
    decoded.ok_or_else(|| dialect.bad_request("The $skiptoken is not valid for this request."))
}

/// Characters left as they are in next links (Graph keeps `$`, `,`, quotes and parentheses readable).
pub(super) fn link_encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        let c = byte as char;
        if c.is_ascii_alphanumeric() || "-._~$,'()*:@/!".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// One page of a listing: the rows and, when more remain, the key to continue after.
pub(super) fn take_page<T>(
    items: impl Iterator<Item = (u64, T)>,
    size: usize,
) -> (Vec<T>, Option<u64>) {
    let mut rows = Vec::with_capacity(size.min(DEVICE_PAGE));
    let mut last = None;
    for (key, item) in items {
        if rows.len() == size {
            return (rows, last);
        }
        last = Some(key);
        rows.push(item);
    }
    (rows, None)
}

/// Everything a listing response needs besides its rows.
pub(super) struct Listing<'a> {
    pub(super) caller: &'a Caller,
    pub(super) path: &'a str,
    pub(super) options: &'a Options,
    pub(super) tag: char,
    pub(super) cursor: Cursor,
    pub(super) context: String,
}

impl Listing<'_> {
    /// Serves one page from `items` (already positioned after the cursor and filtered): applies the page
    /// size and the empty third page, and builds the body.
    pub(super) fn respond<T, R: Serialize>(
        &self,
        items: impl Iterator<Item = (u64, T)>,
        size: usize,
        count: Option<usize>,
        render: impl Fn(T) -> R,
    ) -> Response {
        let (rows, next_after) = if size == 0 {
            (Vec::new(), None)
        } else if self.cursor.page == EMPTY_PAGE {
            (Vec::new(), self.cursor.after)
        } else {
            take_page(items, size)
        };
        let next_link = next_after.map(|after| {
            let mut link = format!("{}{}?", self.caller.origin, self.path);
            for (key, value) in &self.options.keep {
                link_encode(key, &mut link);
                link.push('=');
                link_encode(value, &mut link);
                link.push('&');
            }
            link.push_str("$skiptoken=");
            link.push_str(&encode_cursor(self.tag, after, self.cursor.page + 1));
            link
        });
        odata_of(&CollectionPage {
            context: format!("{}/v1.0/$metadata#{}", self.caller.origin, self.context),
            count,
            next_link,
            value: rows.into_iter().map(render).collect(),
        })
    }
}

/// A page of a collection, serialised as it is written (a page of a thousand rows is not first built
/// as a tree of values).
#[derive(Serialize)]
struct CollectionPage<R> {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "@odata.count", skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
    value: Vec<R>,
}

/// One object's answer: `object` with the `@odata.context` of an entity of `entity_set` under `select`.
pub(super) fn entity(
    mut object: Value,
    caller: &Caller,
    entity_set: &str,
    select: &Option<Vec<&'static str>>,
) -> Response {
    object.as_object_mut().expect("an object").insert(
        "@odata.context".into(),
        json!(format!(
            "{}/v1.0/$metadata#{entity_set}{}/$entity",
            caller.origin,
            context_select(select)
        )),
    );
    odata(object)
}

/// `(name1,name2)` after an entity set in `@odata.context`, when a `$select` is in force.
pub(super) fn context_select(select: &Option<Vec<&'static str>>) -> String {
    select
        .as_ref()
        .map(|s| format!("({})", s.join(",")))
        .unwrap_or_default()
}

/// A map range starting after `after` (keys above `u32::MAX` give an empty range).
pub(super) fn range_after<V>(
    map: &std::collections::BTreeMap<u32, V>,
    after: Option<u64>,
) -> std::collections::btree_map::Range<'_, u32, V> {
    let start = match after {
        None => Bound::Unbounded,
        Some(a) => Bound::Excluded(a.min(u64::from(u32::MAX)) as u32),
    };
    map.range((start, Bound::Unbounded))
}

// ----- filters -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Gt,
    Lt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    Contains,
    StartsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Lit {
    Str(String),
    Bool(bool),
    /// An unquoted token: a number, a date, a GUID.
    Raw(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        prop: String,
        op: Op,
        lit: Lit,
    },
    Call {
        func: Func,
        prop: String,
        lit: Lit,
    },
    Any {
        prop: String,
        op: Op,
        lit: Lit,
    },
    /// A clause the service ignores: matches everything.
    Always,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
    Colon,
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' => {
                toks.push(Tok::Colon);
                i += 1;
            }
            '\'' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated string literal at position {i}")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            value.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            value.push(*other);
                            i += 1;
                        }
                    }
                }
                toks.push(Tok::Str(value));
            }
            _ if c.is_alphanumeric() || "_./-+$".contains(c) => {
                let start = i;
                // Dates carry colons: `2026-01-01T10:00:00Z`.
                let date_like = c.is_ascii_digit();
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || "_./-+$".contains(chars[i])
                        || (date_like && chars[i] == ':'))
                {
                    i += 1;
                }
                toks.push(Tok::Word(chars[start..i].iter().collect()));
            }
            _ => return Err(format!("character '{c}' is not valid at position {i}")),
        }
    }
    Ok(toks)
}

pub(super) struct Parser {
    pub(super) toks: Vec<Tok>,
    pub(super) pos: usize,
}

impl Parser {
    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    pub(super) fn next(&mut self) -> Option<Tok> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    pub(super) fn keyword(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    pub(super) fn expect(&mut self, tok: Tok) -> Result<(), String> {
        match self.next() {
            Some(t) if t == tok => Ok(()),
            other => Err(format!("expected {tok:?}, found {other:?}")),
        }
    }

    pub(super) fn word(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    pub(super) fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    pub(super) fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    pub(super) fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let inner = self.or()?;
            self.expect(Tok::Close)?;
            return Ok(inner);
        }
        let name = self.word()?;
        let lower = name.to_ascii_lowercase();
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            if let Some(prop) = lower.strip_suffix("/any").map(|_| &name[..name.len() - 4]) {
                let var = self.word()?;
                self.expect(Tok::Colon)?;
                let var_again = self.word()?;
                if var_again != var {
                    return Err(format!(
                        "the lambda variable '{var}' is not used as '{var_again}'"
                    ));
                }
                let op = self.op()?;
                let lit = self.literal()?;
                self.expect(Tok::Close)?;
                return Ok(Expr::Any {
                    prop: prop.to_owned(),
                    op,
                    lit,
                });
            }
            let func = match lower.as_str() {
                "contains" => Func::Contains,
                "startswith" => Func::StartsWith,
                _ => return Err(format!("unknown function '{name}'")),
            };
            let prop = self.word()?;
            self.expect(Tok::Comma)?;
            let lit = self.literal()?;
            self.expect(Tok::Close)?;
            return Ok(Expr::Call { func, prop, lit });
        }
        let op = self.op()?;
        let lit = self.literal()?;
        Ok(Expr::Cmp {
            prop: name,
            op,
            lit,
        })
    }

    pub(super) fn op(&mut self) -> Result<Op, String> {
        let word = self.word()?;
        Ok(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "gt" => Op::Gt,
            "lt" => Op::Lt,
            _ => return Err(format!("unknown operator '{word}'")),
        })
    }

    pub(super) fn literal(&mut self) -> Result<Lit, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Word(w)) => Ok(match w.as_str() {
                "true" => Lit::Bool(true),
                "false" => Lit::Bool(false),
                _ => Lit::Raw(w),
            }),
            other => Err(format!("expected a literal, found {other:?}")),
        }
    }
}

pub(super) fn parse_filter(text: &str) -> Result<Expr, String> {
    let mut parser = Parser {
        toks: tokenize(text)?,
        pos: 0,
    };
    let expr = parser.or()?;
    if parser.pos < parser.toks.len() {
        return Err(format!("unexpected {:?}", parser.toks[parser.pos]));
    }
    Ok(expr)
}

/// How a clause uses a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    Op(Op),
    Func(Func),
    AnyEq,
}

/// What a resource lets `$filter` do.
pub(super) struct FilterRules {
    pub(super) resource: &'static str,
    pub(super) type_name: &'static str,
    pub(super) dialect: Dialect,
    /// Every property of the type.
    pub(super) props: &'static [&'static str],
    /// The properties that can be filtered, and how.
    pub(super) filterable: &'static [(&'static str, &'static [Use])],
}

impl FilterRules {
    pub(super) fn leaf(&self, prop: &str, usage: Use) -> Result<Option<&'static str>, Fault> {
        let Some(canonical) = self.props.iter().find(|p| p.eq_ignore_ascii_case(prop)) else {
            return Err(self.dialect.bad_request(match self.dialect {
                Dialect::Intune => format!(
                    "Could not find a property named '{prop}' on type 'microsoft.graph.{}'.",
                    self.type_name
                ),
                Dialect::Directory => format!(
                    "Property '{prop}' does not exist as a declared property or extension property."
                ),
            }));
        };
        let supported = self
            .filterable
            .iter()
            .any(|(p, uses)| p == canonical && uses.contains(&usage));
        match (supported, self.dialect) {
            (true, _) => Ok(Some(canonical)),
            // Intune ignores what it cannot filter on.
            (false, Dialect::Intune) => Ok(None),
            (false, Dialect::Directory) => Err(self.dialect.unsupported(format!(
                "Unsupported or invalid query filter clause specified for property '{canonical}' of resource '{}'.",
                self.resource
            ))),
        }
    }

    /// Validates `expr`, canonicalises property names and replaces ignored clauses by [`Expr::Always`].
    pub(super) fn check(&self, expr: Expr) -> Result<Expr, Fault> {
        Ok(match expr {
            Expr::Or(a, b) => Expr::Or(Box::new(self.check(*a)?), Box::new(self.check(*b)?)),
            Expr::And(a, b) => Expr::And(Box::new(self.check(*a)?), Box::new(self.check(*b)?)),
            Expr::Not(inner) => {
                self.check(*inner)?;
                match self.dialect {
                    Dialect::Intune => Expr::Always,
                    Dialect::Directory => {
                        return Err(self.dialect.unsupported(
                            "The 'not' operator needs an advanced query, which this resource does not take here.",
                        ))
                    }
                }
            }
            Expr::Cmp { prop, op, lit } => match self.leaf(&prop, Use::Op(op))? {
                Some(p) => Expr::Cmp {
                    prop: p.to_owned(),
                    op,
                    lit,
                },
                None => Expr::Always,
            },
            Expr::Call { func, prop, lit } => match self.leaf(&prop, Use::Func(func))? {
                Some(p) => Expr::Call {
                    func,
                    prop: p.to_owned(),
                    lit,
                },
                None => Expr::Always,
            },
            Expr::Any { prop, op, lit } => {
                let usage = if op == Op::Eq {
                    Use::AnyEq
                } else {
                    Use::Op(op)
                };
                match self.leaf(&prop, usage)? {
                    Some(p) => Expr::Any {
                        prop: p.to_owned(),
                        op,
                        lit,
                    },
                    None => Expr::Always,
                }
            }
            Expr::Always => Expr::Always,
        })
    }

    /// Parses and checks a `$filter`; `None` without one.
    pub(super) fn compile(&self, filter: Option<&str>) -> Result<Option<Expr>, Fault> {
        let Some(text) = filter.filter(|f| !f.trim().is_empty()) else {
            return Ok(None);
        };
        let expr = parse_filter(text).map_err(|e| {
            self.dialect
                .bad_request(format!("Invalid filter clause: {e}."))
        })?;
        if self.dialect == Dialect::Intune && contains_or(&expr) && !or_of_one_property(&expr) {
            return Err(self.dialect.bad_request(
                "Filters on managed devices combine clauses with 'and'; 'or' only joins 'eq' clauses on one property.",
            ));
        }
        self.check(expr).map(Some)
    }
}

pub(super) fn contains_or(expr: &Expr) -> bool {
    match expr {
        Expr::Or(..) => true,
        Expr::And(a, b) => contains_or(a) || contains_or(b),
        Expr::Not(a) => contains_or(a),
        _ => false,
    }
}

/// Whether every leaf is `<prop> eq <literal>` on one property, joined by `or` only.
pub(super) fn or_of_one_property(expr: &Expr) -> bool {
    fn leaves<'a>(expr: &'a Expr, out: &mut Vec<&'a str>) -> bool {
        match expr {
            Expr::Or(a, b) => leaves(a, out) && leaves(b, out),
            Expr::Cmp {
                prop, op: Op::Eq, ..
            } => {
                out.push(prop);
                true
            }
            _ => false,
        }
    }
    let mut props = Vec::new();
    leaves(expr, &mut props) && props.windows(2).all(|w| w[0].eq_ignore_ascii_case(w[1]))
}

pub(super) fn fold(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn compare(value: Option<&Value>, op: Op, lit: &Lit) -> bool {
    match lit {
        Lit::Bool(b) => {
            let v = value.and_then(Value::as_bool);
            op == Op::Eq && v == Some(*b)
        }
        Lit::Str(s) | Lit::Raw(s) => {
            let Some(v) = value.and_then(fold) else {
                return false;
            };
            // Dates compare in time order whatever their precision (`…:00Z` against `…:00.000Z`).
            if let (Some(a), Some(b)) = (parse_timestamp(&v), parse_timestamp(s)) {
                let order = a.cmp(&b);
                return match op {
                    Op::Eq => order.is_eq(),
                    Op::Gt => order.is_gt(),
                    Op::Lt => order.is_lt(),
                };
            }
            let s = s.to_lowercase();
            match op {
                Op::Eq => v == s,
                Op::Gt => v > s,
                Op::Lt => v < s,
            }
        }
    }
}

pub(super) fn eval(expr: &Expr, get: &dyn Fn(&str) -> Option<Value>) -> bool {
    match expr {
        Expr::Or(a, b) => eval(a, get) || eval(b, get),
        Expr::And(a, b) => eval(a, get) && eval(b, get),
        Expr::Not(a) => !eval(a, get),
        Expr::Cmp { prop, op, lit } => compare(get(prop).as_ref(), *op, lit),
        Expr::Call { func, prop, lit } => {
            let (Some(v), Lit::Str(s) | Lit::Raw(s)) = (get(prop).as_ref().and_then(fold), lit)
            else {
                return false;
            };
            let s = s.to_lowercase();
            match func {
                Func::Contains => v.contains(&s),
                Func::StartsWith => v.starts_with(&s),
            }
        }
        Expr::Any { prop, op, lit } => match get(prop) {
            Some(Value::Array(items)) => items.iter().any(|item| compare(Some(item), *op, lit)),
            _ => false,
        },
        Expr::Always => true,
    }
}

pub(super) fn matches(filter: &Option<Expr>, get: impl Fn(&str) -> Option<Value>) -> bool {
    filter.as_ref().is_none_or(|f| eval(f, &get))
}
