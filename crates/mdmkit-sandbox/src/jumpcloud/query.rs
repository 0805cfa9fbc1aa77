//! The V1 and V2 query parameters (`limit`, `skip`, `filter`, `sort`, `fields`) and page selection.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Query parameters

/// A non-negative integer parameter; absent or blank gives `None`.
pub(super) fn count_param(
    pairs: &[(String, String)],
    key: &str,
    api: Api,
) -> Result<Option<usize>, Response> {
    match query_get(pairs, key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n < 0 => Err(invalid(api, key, &format!("{key} must not be negative"))),
            Ok(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            Err(_) => Err(invalid(api, key, &format!("{key} must be an integer"))),
        },
    }
}

/// `skip` and `limit` (default 10, at most 100, 0 meaning the default).
pub(super) fn paging(pairs: &[(String, String)], api: Api) -> Result<(usize, usize), Response> {
    let limit = match count_param(pairs, "limit", api)? {
        None | Some(0) => LIMIT_DEFAULT,
        Some(n) => n.min(LIMIT_MAX),
    };
    let skip = count_param(pairs, "skip", api)?.unwrap_or(0);
    Ok((skip, limit))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
pub(super) struct Filter {
    pub(super) field: String,
    pub(super) op: Op,
    pub(super) value: String,
}

impl Filter {
    pub(super) fn accepts(&self, actual: Option<&str>) -> bool {
        let equal = actual == Some(self.value.as_str());
        // Ranges compare timestamps in time order when both sides are timestamps, else as text; a
        // field the record lacks is in no range (as in a document store).
        let order = || {
            let actual = actual?;
            Some(
                match (parse_timestamp(actual), parse_timestamp(&self.value)) {
                    (Some(a), Some(b)) => a.cmp(&b),
                    _ => actual.cmp(self.value.as_str()),
                },
            )
        };
        match self.op {
            Op::Eq => equal,
            Op::Ne => !equal,
            Op::Gt => order() == Some(Ordering::Greater),
            Op::Ge => matches!(order(), Some(Ordering::Greater | Ordering::Equal)),
            Op::Lt => order() == Some(Ordering::Less),
            Op::Le => matches!(order(), Some(Ordering::Less | Ordering::Equal)),
        }
    }
}

/// Every `filter` parameter, `<field>:<op>:<value>`, with V1 (`$eq`) or V2 (`eq`) operators.
pub(super) fn filters(pairs: &[(String, String)], api: Api) -> Result<Vec<Filter>, Response> {
    let mut out = Vec::new();
    for (_, raw) in pairs.iter().filter(|(k, _)| k == "filter") {
        if raw.trim().is_empty() {
            continue;
        }
        let mut parts = raw.splitn(3, ':');
        let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(
                api,
                "filter",
                &format!("invalid filter {raw:?}: expected <field>:<operator>:<value>"),
            ));
        };
        let op = match (api, op) {
            (Api::V1, "$eq") | (Api::V2, "eq") => Op::Eq,
            (Api::V1, "$ne") | (Api::V2, "ne") => Op::Ne,
            (Api::V1, "$gt") | (Api::V2, "gt") => Op::Gt,
            (Api::V1, "$gte") | (Api::V2, "ge") => Op::Ge,
            (Api::V1, "$lt") | (Api::V2, "lt") => Op::Lt,
            (Api::V1, "$lte") | (Api::V2, "le") => Op::Le,
            _ => {
                return Err(invalid(
                    api,
                    "filter",
                    &format!("unsupported filter operator {op:?}"),
                ))
            }
        };
        out.push(Filter {
            field: field.trim().to_owned(),
            op,
            value: value.to_owned(),
        });
    }
    Ok(out)
}

/// `sort` as (field, descending) pairs; fields outside `known` are ignored.
pub(super) fn sort_keys(
    pairs: &[(String, String)],
    known: &[&'static str],
) -> Vec<(&'static str, bool)> {
    let Some(raw) = query_get(pairs, "sort") else {
        return Vec::new();
    };
    raw.split([' ', ','])
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let (name, desc) = match s.strip_prefix('-') {
                Some(rest) => (rest, true),
                None => (s, false),
            };
            known.iter().find(|k| **k == name).map(|k| (*k, desc))
        })
        .collect()
}

/// The `fields` projection, if one is asked for.
pub(super) fn projection(pairs: &[(String, String)]) -> Option<Vec<String>> {
    let fields: Vec<String> = query_get(pairs, "fields")?
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!fields.is_empty()).then_some(fields)
}

pub(super) fn project(mut row: Value, fields: Option<&[String]>) -> Value {
    if let (Some(fields), Value::Object(map)) = (fields, &mut row) {
        map.retain(|k, _| k == "_id" || k == "id" || fields.iter().any(|f| f == k));
    }
    row
}

// ---------------------------------------------------------------------------------------------------
// Selecting a page

/// Compares two records by `sort` keys, read with `a` and `b`; `tie` when every key is equal.
pub(super) fn compare_keys<'v>(
    sort: &[(&'static str, bool)],
    a: impl Fn(&str) -> Option<Cow<'v, str>>,
    b: impl Fn(&str) -> Option<Cow<'v, str>>,
    tie: Ordering,
) -> Ordering {
    sort.iter()
        .map(|(key, desc)| {
            let order = a(key).cmp(&b(key));
            if *desc {
                order.reverse()
            } else {
                order
            }
        })
        .find(|o| o.is_ne())
        .unwrap_or(tie)
}

/// One page of a collection keyed by number (`records`), with its total: filtered, sorted and
/// windowed. `field` reads a record's field as served; `namespace` gives the `_id` order.
pub(super) fn select<'f, T>(
    records: &'f BTreeMap<u32, T>,
    namespace: u8,
    filters: &[Filter],
    sort: &[(&'static str, bool)],
    (skip, limit): (usize, usize),
    field: impl Fn(u32, &'f T, &str) -> Option<Cow<'f, str>>,
) -> (usize, Vec<&'f T>) {
    let total = records.len();
    let span = records.keys().next_back().map_or(0, |k| k + 1);
    // The cached `_id` order covers every number below the highest; not worth it for a sparse map.
    let id_order_fits = span as usize <= total.saturating_mul(2).max(1024);
    match (filters.is_empty(), sort) {
        (true, []) => (total, records.values().skip(skip).take(limit).collect()),
        (true, [("_id", desc)]) if id_order_fits => {
            let order = indexes_sorted_by_id(namespace, span, ids::object_id);
            let at = |position: usize| {
                if *desc {
                    order[order.len() - 1 - position]
                } else {
                    order[position]
                }
            };
            let page = if order.len() == total {
                // No gaps: every position holds a record.
                (skip.min(total)..skip.saturating_add(limit).min(total))
                    .filter_map(|p| records.get(&at(p)))
                    .collect()
            } else {
                (0..order.len())
                    .filter_map(|p| records.get(&at(p)))
                    .skip(skip)
                    .take(limit)
                    .collect()
            };
            (total, page)
        }
        _ => {
            let matching: Vec<(u32, &'f T)> = records
                .iter()
                .filter(|(i, r)| {
                    filters
                        .iter()
                        .all(|f| f.accepts(field(**i, r, &f.field).as_deref()))
                })
                .map(|(i, r)| (*i, r))
                .collect();
            let total = matching.len();
            let page = if sort.is_empty() {
                matching
                    .into_iter()
                    .skip(skip)
                    .take(limit)
                    .collect::<Vec<_>>()
            } else {
                sorted_window(matching, skip, limit, |(ia, a), (ib, b)| {
                    compare_keys(sort, |k| field(*ia, a, k), |k| field(*ib, b, k), ia.cmp(ib))
                })
            };
            (total, page.into_iter().map(|(_, r)| r).collect())
        }
    }
}

pub(super) fn v1_list(total: usize, results: Vec<Value>) -> Response {
    json(
        StatusCode::OK,
        json!({"totalCount": total, "results": results}),
    )
}

/// A V2 list: a bare array, the total in `x-total-count`.
pub(super) fn v2_list(total: usize, rows: Vec<Value>) -> Response {
    let mut response = json(StatusCode::OK, Value::Array(rows));
    response
        .headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    response
}

// ---------------------------------------------------------------------------------------------------
// Checked requests

/// What a collection listing checks: the reach the key needs, the API (its error form and filter
/// syntax) and the fields `sort` takes.
pub(super) struct Collection {
    pub(super) route: Route,
    pub(super) api: Api,
    pub(super) sortable: &'static [&'static str],
}

/// A collection listing's request, checked in JumpCloud's order: the key, then `limit` and `skip`, then
/// `filter`; `sort` keeps the collection's sortable fields and `fields` projects V1 rows.
pub(super) struct Listing {
    org: Org,
    window: (usize, usize),
    filters: Vec<Filter>,
    sort: Vec<(&'static str, bool)>,
    fields: Option<Vec<String>>,
}

impl Listing {
    pub(super) fn read(
        headers: &HeaderMap,
        raw: Option<&str>,
        collection: &Collection,
    ) -> Result<Self, Response> {
        let org = authorize(headers, collection.route)?;
        let pairs = query_pairs(raw);
        Ok(Listing {
            org,
            window: paging(&pairs, collection.api)?,
            filters: filters(&pairs, collection.api)?,
            sort: sort_keys(&pairs, collection.sortable),
            fields: projection(&pairs),
        })
    }

    /// The requested page of `records`, with the total of those the filters keep; nothing in the empty
    /// organisation. `field` reads a record's field as served; `namespace` gives the `_id` order.
    pub(super) fn select<'f, T>(
        &self,
        records: &'f BTreeMap<u32, T>,
        namespace: u8,
        field: impl Fn(u32, &'f T, &str) -> Option<Cow<'f, str>>,
    ) -> (usize, Vec<&'f T>) {
        if self.org == Org::Other {
            return (0, Vec::new());
        }
        select(
            records,
            namespace,
            &self.filters,
            &self.sort,
            self.window,
            field,
        )
    }

    /// The V1 answer: `rows` projected to the requested fields, with the total.
    pub(super) fn v1_answer(&self, total: usize, rows: impl Iterator<Item = Value>) -> Response {
        let results = rows
            .map(|row| project(row, self.fields.as_deref()))
            .collect();
        v1_list(total, results)
    }
}

/// A V2 graph request (a system's users or groups, a user's systems, a group's members), checked in
/// JumpCloud's order: the key must reach devices, then `limit` and `skip` must parse. Extracting it is
/// the whole preamble of a graph handler.
pub(super) struct GraphRequest {
    ctx: Ctx,
    pub(super) org: Org,
    skip: usize,
    limit: usize,
}

impl FromRequestParts<Ctx> for GraphRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, Response> {
        let org = authorize(&parts.headers, Route::Devices)?;
        let (skip, limit) = paging(&query_pairs(parts.uri.query()), Api::V2)?;
        Ok(GraphRequest {
            ctx: ctx.clone(),
            org,
            skip,
            limit,
        })
    }
}

impl GraphRequest {
    pub(super) fn fleet(&self) -> RwLockReadGuard<'_, Fleet> {
        self.ctx.fleet()
    }

    /// The requested page of `rows`, as a V2 list with the total.
    pub(super) fn page(&self, total: usize, rows: impl Iterator<Item = Value>) -> Response {
        v2_list(total, rows.skip(self.skip).take(self.limit).collect())
    }
}
