//! Query parameters and `limit`/`offset` paging with absolute `next`/`previous` links.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Paging helpers

/// A query value as a positive integer (`strict`: zero refused too), as the framework's paging reads it.
pub(super) fn positive(value: Option<&str>, strict: bool) -> Option<usize> {
    let n: usize = value?.trim().parse().ok()?;
    (!strict || n > 0).then_some(n)
}

/// `(limit, offset)` for limit/offset paging with the given default-and-maximum page size.
pub(super) fn limit_offset(pairs: &[(String, String)], page: usize) -> (usize, usize) {
    let limit = positive(query_get(pairs, "limit"), true).map_or(page, |n| n.min(page));
    let offset = positive(query_get(pairs, "offset"), false).unwrap_or(0);
    (limit, offset)
}

/// An absolute link to `path` on the host the request named, with `pairs` as the query (keys sorted, as
/// the framework writes its paging links). Without a `Host` header the link is host-relative.
pub(super) fn link(headers: &HeaderMap, path: &str, pairs: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let scheme = match header_str(headers, "x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let mut out = match header_str(headers, "host") {
        Some(host) => format!("{scheme}://{host}{path}"),
        None => path.to_owned(),
    };
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    out
}

/// One limit/offset page of `count` items: `{"count", "next", "previous", "results"}`, the links absolute.
pub(super) fn limit_offset_page(
    headers: &HeaderMap,
    path: &str,
    pairs: &[(String, String)],
    (limit, offset): (usize, usize),
    count: usize,
    results: Vec<Value>,
) -> Response {
    let with = |offset: Option<usize>| {
        let mut q: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "limit" && k != "offset")
            .cloned()
            .collect();
        q.push(("limit".into(), limit.to_string()));
        if let Some(o) = offset {
            q.push(("offset".into(), o.to_string()));
        }
        Value::String(link(headers, path, &q))
    };
    let next = if offset.saturating_add(limit) < count {
        with(Some(offset + limit))
    } else {
        Value::Null
    };
    let previous = if offset == 0 {
        Value::Null
    } else if offset <= limit {
        with(None)
    } else {
        with(Some(offset - limit))
    };
    json(
        StatusCode::OK,
        json!({"count": count, "next": next, "previous": previous, "results": results}),
    )
}

/// Whether `hay` contains `needle_lower` (already lower-cased), ignoring case.
pub(super) fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    if hay.is_ascii() && needle_lower.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
        n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        hay.to_lowercase().contains(needle_lower)
    }
}

/// A non-empty query value.
pub(super) fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query_get(pairs, key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The items of a comma-separated list parameter.
pub(super) fn list_param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<Vec<&'a str>> {
    param(pairs, key).map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    })
}
