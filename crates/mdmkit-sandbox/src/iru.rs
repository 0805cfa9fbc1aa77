//! Iru Endpoint Management, formerly Kandji: the tenant API under `/api/v1`, as documented in the reference
//! (section 2). The sandbox host stands in for `TENANT.api.kandji.io`; the API paths are the same.
//!
//! # Auth
//! Static tenant API tokens, `Authorization: Bearer <token>`, no token endpoint and no expiry. Each token
//! carries per-endpoint permissions. The refusals follow the API's framework (Django REST framework):
//!
//! - No `Authorization` header, or a scheme other than `Bearer`: 401
//!   `{"detail":"Authentication credentials were not provided."}`.
//! - `Bearer` with no token: 401 `{"detail":"Invalid token header. No credentials provided."}`. A token with
//!   spaces in it: 401 `{"detail":"Invalid token header. Token string should not contain spaces."}`.
//! - An unknown (wrong, revoked) token: 401 `{"detail":"Invalid token."}`. Every 401 carries
//!   `WWW-Authenticate: Bearer`. The reference calls the exact 401 body unconfirmed; this is the
//!   framework's own text.
//! - A valid token without the endpoint's permission: 403
//!   `{"detail":"You do not have permission to perform this action."}`.
//!
//! | Credentials ([`Access`]) | token | permissions |
//! |---|---|---|
//! | `Full`, `NoDirectoryDeviceRead` | [`TOKEN`] | all |
//! | `WrongSecret` | [`WRONG_TOKEN`] (any token not listed here behaves the same) | none: 401 |
//! | `NoDeviceRead` | [`NO_DEVICE_READ_TOKEN`] | all but "Device list" and "Device details" |
//!
//! Tokens are UUID-shaped, as the vendor's own CLI expects.
//!
//! # Endpoints
//! - `GET /api/v1/devices` (permission "Device list"): a **bare JSON array** of device rows, no total.
//!   `limit` (default 300, silently capped at 300; a value that is not a positive integer means the
//!   default, as in the framework's limit/offset paging) and `offset` (default 0). `ordering` is a
//!   comma-separated list of `device_id`, `serial_number`, `device_name`, `platform`, `model`,
//!   `last_check_in` (the fleet's change time of the device, so `-last_check_in` lists newest first), each
//!   optionally prefixed with `-` for descending; unknown fields are ignored; with no valid field the rows
//!   come in enrolment order. Filters: `serial_number` (**substring**, case-insensitive: `C02X` matches
//!   every serial containing it), `device_id` (exact), `device_name`, `model`, `asset_tag`, `user`
//!   (name or e-mail), `user_name`, `user_email` (case-insensitive substrings), `user_email_exact`,
//!   `user_id` (the user's UUID, or its `deprecated_user_id`), `platform` (exact), `blueprint_id`
//!   (documented as "containing"), `tag_id`, `tag_name` (exact, case-sensitive), `tag_id_in`,
//!   `tag_name_in` (comma-separated). Empty values are ignored; other documented filters
//!   (`filevault_enabled`, `mac_address`, `os_version`) are accepted and have no effect (every simulated
//!   device would pass them).
//! - `GET /api/v1/devices/{device_id}` (same row) and `/api/v1/devices/{device_id}/details` (nested
//!   `general`, `mdm`, `hardware_overview`, `network`, `tags`; the user is `general.assigned_user`), both
//!   "Device details". A UUID that names no device: 404 `{"detail":"Not found."}`; a path segment that is
//!   not a UUID does not match the URL pattern at all: the HTML 404 page.
//! - `GET /api/v1/tags` (permission "Tags"): `{count, next, previous, results:[{id, name}]}`, `search`
//!   (case-insensitive substring), `limit`/`offset` paging with **10 tags a page** (the default and the
//!   maximum; the vendor documents no page size, and a small one makes multi-page listings happen).
//!   `next`/`previous` are absolute URLs on the host the request named (`Host`; the scheme from
//!   `X-Forwarded-Proto`, else `http`), with the query keys sorted as the framework writes them.
//!   Limitation: the handlers cannot tell whether the sandbox serves HTTPS (the framework's `Ctx` does
//!   not say), so in TLS mode the links say `http://` and a client that checks the origin refuses them.
//! - `GET /api/v1/blueprints` (permission "Blueprints"): `{count, next, previous, results}` with `limit`
//!   (default and maximum 300) and `offset`, filters `id`, `id__in`, `name`; `/api/v1/blueprints/{id}`.
//!   Three blueprints; every device is in exactly one.
//! - `GET /api/v1/users` (permission "Users"): `{next, previous, results}`, 300 users a page, cursor
//!   paging (`cursor`, an opaque token in the `next`/`previous` links; a bad one is 404
//!   `{"detail":"Invalid cursor"}`), filters `email` (case-insensitive exact), `id`, `integration_id`,
//!   `archived`; `/api/v1/users/{user_id}`.
//! - `GET /api/v1/settings/licensing` (permission "Licensing"): counts and limits.
//! - Another method on a known path: 405 `{"detail":"Method \"POST\" not allowed."}` (after the token
//!   check, as the framework does). An unknown path: the HTML 404 page, before any token check (URL
//!   resolution comes first).
//!
//! # Identifiers and what a correct connector reports
//! Device id = `ids::uuid(20, device index)`; tag id = `ids::uuid(21, group index)` (every fleet group is a
//! tag, including the empty one; `smart` has no meaning here); user id = `ids::uuid(22, user index)`, the
//! UUID the reference documents for `user.id` (`deprecated_user_id`, on `/api/v1/users` only, is the user
//! index + 1); blueprint id = `ids::uuid(23, n)`. Device rows carry `user` as `{email, name, id,
//! is_archived}` or `""` when unassigned, and `tags` as tag **names**. The display name is the user's
//! `name` (the fleet user's full name), else `device_name`. Groups are the tags with their members.
//!
//! # Cost
//! A device page is built from the fleet without copying it. Without filters, the default order and
//! `ordering=device_id` cost O(limit) while the device numbers are `0..n` (the latter through a
//! process-wide index of numbers sorted by their UUID, built once per fleet size), and one walk otherwise;
//! the page's tag names come from one pass over the group members in the page's range of numbers.
//! Filtered listings and other orderings cost one pass over the fleet plus a partial sort of the matches
//! (no full sort, no copy of the rows).

use std::cmp::Ordering;
use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use mdmkit_core::{IruConfig, ProviderConfig};
use serde_json::{json, Value};
use url::Url;

use crate::common::{
    header_str, indexes_sorted_by_id, json, query_get, query_pairs, sorted_window, window, Ctx,
    ProviderSim,
};
use crate::model::{ids, Fleet, SimDevice, SimGroup, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};

/// The token with every permission.
pub(crate) const TOKEN: &str = "5a4db0c0-1e50-4c0d-9e7a-0a5ad60bf011";
/// A token without the "Device list" and "Device details" permissions (everything else allowed).
pub(crate) const NO_DEVICE_READ_TOKEN: &str = "5a4db0c0-1e50-4c0d-9e7a-0a5ad60bf403";
/// The token [`Access::WrongSecret`] hands out: well-formed, but not a token of this tenant.
pub(crate) const WRONG_TOKEN: &str = "5a4db0c0-1e50-4c0d-9e7a-0a5ad60bf401";

/// Devices: the documented hard maximum and default of `limit`.
const DEVICE_LIMIT: usize = 300;
/// Tags per page (default and maximum).
const TAG_PAGE: usize = 10;
/// Blueprints per page (default and maximum).
const BLUEPRINT_PAGE: usize = 300;
/// Users per page.
const USER_PAGE: usize = 300;

const NS_DEVICE: u8 = 20;
const NS_TAG: u8 = 21;
const NS_USER: u8 = 22;
const NS_BLUEPRINT: u8 = 23;
const NS_MISC: u8 = 24;

const NOT_FOUND_PAGE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n";

pub(crate) struct IruSim;

// ---------------------------------------------------------------------------------------------------
// Identifiers

fn device_id(index: u32) -> String {
    ids::uuid(NS_DEVICE, index)
}

fn tag_id(index: u32) -> String {
    ids::uuid(NS_TAG, index)
}

fn user_id(index: u32) -> String {
    ids::uuid(NS_USER, index)
}

fn blueprint_uuid(n: usize) -> String {
    ids::uuid(NS_BLUEPRINT, n as u32)
}

/// Whether `s` has the 8-4-4-4-12 hexadecimal shape of a UUID (what a `<uuid:…>` URL pattern accepts).
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A UUID's 128-bit value (0 for text that is not hexadecimal).
fn uuid_value(uuid: &str) -> u128 {
    uuid.bytes().filter(|b| *b != b'-').fold(0u128, |acc, b| {
        (acc << 4) | u128::from(char::from(b).to_digit(16).unwrap_or(0))
    })
}

/// The number whose UUID in `namespace` is `id` (any case), among `0..n`.
fn number_of(namespace: u8, n: u32, id: &str) -> Option<u32> {
    if !is_uuid(id) {
        return None;
    }
    let id = uuid_value(id);
    let sorted = indexes_sorted_by_id(namespace, n, ids::uuid);
    sorted
        .binary_search_by(|&i| uuid_value(&ids::uuid(namespace, i)).cmp(&id))
        .ok()
        .map(|at| sorted[at])
}

/// One past the highest key of a map (0 when empty).
fn key_span<V>(map: &std::collections::BTreeMap<u32, V>) -> u32 {
    map.keys().next_back().map_or(0, |k| k + 1)
}

fn device_by_id<'f>(fleet: &'f Fleet, id: &str) -> Option<&'f SimDevice> {
    number_of(NS_DEVICE, key_span(&fleet.devices), id).and_then(|i| fleet.devices.get(&i))
}

fn user_by_id<'f>(fleet: &'f Fleet, id: &str) -> Option<&'f SimUser> {
    number_of(NS_USER, key_span(&fleet.users), id).and_then(|i| fleet.users.get(&i))
}

fn group_by_tag_id<'f>(fleet: &'f Fleet, id: &str) -> Option<&'f SimGroup> {
    let id = id.trim().to_ascii_lowercase();
    fleet.groups.values().find(|g| tag_id(g.index) == id)
}

// ---------------------------------------------------------------------------------------------------
// Errors and auth

fn detail(status: StatusCode, message: &str) -> Response {
    json(status, json!({ "detail": message }))
}

fn unauthorized(message: &str) -> Response {
    let mut response = detail(StatusCode::UNAUTHORIZED, message);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not found.")
}

fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        NOT_FOUND_PAGE,
    )
        .into_response()
}

/// The per-endpoint permissions a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permission {
    /// Any valid token (used before answering 405).
    Any,
    DeviceList,
    DeviceDetails,
    Tags,
    Blueprints,
    Users,
    Licensing,
}

/// `None`: not a token of this tenant; `Some(granted)` otherwise.
fn grants(token: &str, permission: Permission) -> Option<bool> {
    match token {
        TOKEN => Some(true),
        NO_DEVICE_READ_TOKEN => Some(!matches!(
            permission,
            Permission::DeviceList | Permission::DeviceDetails
        )),
        _ => None,
    }
}

/// Checks `Authorization: Bearer <token>` the way the API's framework does: the refusal, if any.
fn refusal(headers: &HeaderMap, permission: Permission) -> Option<Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Some(unauthorized(
            "Authentication credentials were not provided.",
        ));
    };
    let Ok(text) = value.to_str() else {
        return Some(unauthorized(
            "Invalid token header. Token string should not contain invalid characters.",
        ));
    };
    let mut words = text.split_whitespace();
    if !words
        .next()
        .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
    {
        return Some(unauthorized(
            "Authentication credentials were not provided.",
        ));
    }
    let token = match (words.next(), words.next()) {
        (None, _) => {
            return Some(unauthorized(
                "Invalid token header. No credentials provided.",
            ))
        }
        (Some(_), Some(_)) => {
            return Some(unauthorized(
                "Invalid token header. Token string should not contain spaces.",
            ))
        }
        (Some(token), None) => token,
    };
    match grants(token, permission) {
        None => Some(unauthorized("Invalid token.")),
        Some(false) => Some(detail(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        )),
        Some(true) => None,
    }
}

// ---------------------------------------------------------------------------------------------------
// Paging helpers

/// A query value as a positive integer (`strict`: zero refused too), as the framework's paging reads it.
fn positive(value: Option<&str>, strict: bool) -> Option<usize> {
    let n: usize = value?.trim().parse().ok()?;
    (!strict || n > 0).then_some(n)
}

/// `(limit, offset)` for limit/offset paging with the given default-and-maximum page size.
fn limit_offset(pairs: &[(String, String)], page: usize) -> (usize, usize) {
    let limit = positive(query_get(pairs, "limit"), true).map_or(page, |n| n.min(page));
    let offset = positive(query_get(pairs, "offset"), false).unwrap_or(0);
    (limit, offset)
}

/// An absolute link to `path` on the host the request named, with `pairs` as the query (keys sorted, as
/// the framework writes its paging links). Without a `Host` header the link is host-relative.
fn link(headers: &HeaderMap, path: &str, pairs: &[(String, String)]) -> String {
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

/// The `next` and `previous` links of a limit/offset page over `count` items.
fn limit_offset_links(
    headers: &HeaderMap,
    path: &str,
    pairs: &[(String, String)],
    (limit, offset): (usize, usize),
    count: usize,
) -> (Value, Value) {
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
    (next, previous)
}

/// Whether `hay` contains `needle_lower` (already lower-cased), ignoring case.
fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    if hay.is_ascii() && needle_lower.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
        n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        hay.to_lowercase().contains(needle_lower)
    }
}

/// A non-empty query value.
fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query_get(pairs, key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The items of a comma-separated list parameter.
fn list_param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<Vec<&'a str>> {
    param(pairs, key).map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------------
// The device model as Iru shows it

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    Mac,
    Windows,
}

impl Platform {
    fn name(self) -> &'static str {
        match self {
            Platform::Mac => "Mac",
            Platform::Windows => "Windows",
        }
    }
}

/// The marketing model and platform, read from the model the fleet put in the device name.
fn model_of(d: &SimDevice) -> (&'static str, Platform) {
    const MODELS: &[(&str, &str, Platform)] = &[
        (
            "MacBook Pro",
            "MacBook Pro (14-inch, Nov 2023)",
            Platform::Mac,
        ),
        ("MacBook Air", "MacBook Air (M2, 2022)", Platform::Mac),
        ("iMac", "iMac (24-inch, 2023)", Platform::Mac),
        ("Mac mini", "Mac mini (2023)", Platform::Mac),
        ("Mac Studio", "Mac Studio (2023)", Platform::Mac),
        (
            "ThinkPad X1",
            "ThinkPad X1 Carbon Gen 11",
            Platform::Windows,
        ),
        ("Surface Laptop", "Surface Laptop 5", Platform::Windows),
    ];
    MODELS
        .iter()
        .find(|(marker, _, _)| d.name.contains(marker))
        .map_or(("Mac", Platform::Mac), |(_, model, platform)| {
            (model, *platform)
        })
}

/// The blueprints: `(name, description, type)`.
const BLUEPRINTS: &[(&str, &str, &str)] = &[
    ("Standard Macs", "Baseline for every Mac", "classic"),
    (
        "Engineering Macs",
        "Developer tools and looser restrictions",
        "map",
    ),
    ("Windows Devices", "Windows endpoints", "classic"),
];

/// Every device is in exactly one blueprint.
fn blueprint_of(d: &SimDevice) -> usize {
    match model_of(d).1 {
        Platform::Windows => 2,
        Platform::Mac => (d.index % 2) as usize,
    }
}

fn asset_tag(d: &SimDevice) -> String {
    if d.index % 4 == 0 {
        format!("ASSET-{:05}", d.index)
    } else {
        String::new()
    }
}

/// `last_check_in`: the fleet's change time of the device, with the microseconds Iru prints.
fn last_check_in(fleet: &Fleet, d: &SimDevice) -> String {
    fleet
        .changed_at(d.index)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

/// The space-separated timestamp format the enrolment fields use.
fn enrollment(i: u32, year: u32) -> String {
    let i = u64::from(i);
    format!(
        "{year}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00:00",
        1 + i % 12,
        1 + (i * 3) % 28,
        (i * 5) % 24,
        (i * 11) % 60,
        (i * 17) % 60,
        (i * 104_729) % 1_000_000
    )
}

fn user_object(u: &SimUser) -> Value {
    json!({"email": u.email, "name": u.full_name, "id": user_id(u.index), "is_archived": false})
}

/// `user` / `assigned_user`: an object, or the empty string when nobody is assigned.
fn assigned(fleet: &Fleet, d: &SimDevice) -> Value {
    fleet
        .user_of(d)
        .map_or_else(|| Value::String(String::new()), user_object)
}

fn tag_names(fleet: &Fleet, d: &SimDevice) -> Value {
    Value::Array(
        fleet
            .groups_of(d.index)
            .map(|g| Value::String(g.name.clone()))
            .collect(),
    )
}

/// The tag names of every device on a page, in group order: one pass over the groups' members between
/// the page's lowest and highest device number, testing each against a bitmap of the page (sequential
/// reads, where a membership test per device and group would jump around every group's tree).
fn page_tags<'f>(fleet: &'f Fleet, page: &[&SimDevice]) -> HashMap<u32, Vec<&'f str>> {
    let mut tags: HashMap<u32, Vec<&str>> = page.iter().map(|d| (d.index, Vec::new())).collect();
    let (Some(lo), Some(hi)) = (
        page.iter().map(|d| d.index).min(),
        page.iter().map(|d| d.index).max(),
    ) else {
        return tags;
    };
    let mut bits = vec![0u64; ((hi - lo) as usize / 64) + 1];
    for d in page {
        let at = (d.index - lo) as usize;
        bits[at / 64] |= 1 << (at % 64);
    }
    for g in fleet.groups.values() {
        for &member in g.members.range(lo..=hi) {
            let at = (member - lo) as usize;
            if bits[at / 64] & (1 << (at % 64)) != 0 {
                if let Some(names) = tags.get_mut(&member) {
                    names.push(&g.name);
                }
            }
        }
    }
    tags
}

/// A row of `GET /api/v1/devices` (and the body of `GET /api/v1/devices/{id}`), with its tag names.
fn device_row(fleet: &Fleet, d: &SimDevice, tags: Value) -> Value {
    let (model, platform) = model_of(d);
    let bp = blueprint_of(d);
    let mut row = json!({
        "device_id": device_id(d.index),
        "device_name": d.name,
        "model": model,
        "serial_number": d.serial,
        "platform": platform.name(),
        "os_version": if platform == Platform::Mac { "15.1.1" } else { "10.0.22631" },
        "last_check_in": last_check_in(fleet, d),
        "user": assigned(fleet, d),
        "asset_tag": asset_tag(d),
        "blueprint_id": blueprint_uuid(bp),
        "blueprint_name": BLUEPRINTS[bp].0,
        "mdm_enabled": true,
        "agent_installed": platform == Platform::Mac,
        "is_missing": false,
        "is_removed": false,
        "first_enrollment": enrollment(d.index, 2024),
        "last_enrollment": enrollment(d.index, 2025),
        "tags": tags,
    });
    if platform == Platform::Mac {
        row["agent_version"] = json!("4.5.9 (5160)");
    }
    row
}

/// The body of `GET /api/v1/devices/{id}/details`.
fn device_details(fleet: &Fleet, d: &SimDevice) -> Value {
    let (model, platform) = model_of(d);
    let bp = blueprint_of(d);
    json!({
        "general": {
            "device_id": device_id(d.index),
            "device_name": d.name,
            "last_enrollment": enrollment(d.index, 2025),
            "first_enrollment": enrollment(d.index, 2024),
            "model": model,
            "platform": platform.name(),
            "os_version": if platform == Platform::Mac { "15.1.1" } else { "10.0.22631" },
            "asset_tag": asset_tag(d),
            "assigned_user": assigned(fleet, d),
            "blueprint_name": BLUEPRINTS[bp].0,
            "blueprint_uuid": blueprint_uuid(bp),
        },
        "mdm": {
            "mdm_enabled": true,
            "supervised": true,
            "last_check_in": last_check_in(fleet, d),
        },
        "hardware_overview": {
            "model_name": model,
            "serial_number": d.serial,
        },
        "network": {
            "local_hostname": format!("device-{}", d.index),
        },
        "tags": tag_names(fleet, d),
    })
}

// ---------------------------------------------------------------------------------------------------
// Device listing

/// The device filters of one request, resolved against the fleet.
#[derive(Default)]
struct DeviceFilter {
    active: bool,
    serial: Option<String>,
    device: Option<Option<u32>>,
    device_name: Option<String>,
    model: Option<String>,
    asset_tag: Option<String>,
    platform: Option<String>,
    blueprints: Option<Vec<usize>>,
    /// Each entry: the device must be in one of these groups.
    tag_sets: Vec<Vec<u32>>,
    user_any: Option<String>,
    user_name: Option<String>,
    user_email: Option<String>,
    user_email_exact: Option<String>,
    user: Option<Option<u32>>,
}

impl DeviceFilter {
    fn parse(fleet: &Fleet, pairs: &[(String, String)]) -> DeviceFilter {
        let lower = |key: &str| param(pairs, key).map(str::to_lowercase);
        let mut f = DeviceFilter {
            serial: lower("serial_number"),
            device_name: lower("device_name"),
            model: lower("model"),
            asset_tag: lower("asset_tag"),
            platform: param(pairs, "platform").map(str::to_owned),
            user_any: lower("user"),
            user_name: lower("user_name"),
            user_email: lower("user_email"),
            user_email_exact: lower("user_email_exact"),
            ..DeviceFilter::default()
        };
        f.device =
            param(pairs, "device_id").map(|id| number_of(NS_DEVICE, key_span(&fleet.devices), id));
        f.user = param(pairs, "user_id").map(|id| match id.parse::<u32>() {
            Ok(n) => n.checked_sub(1),
            Err(_) => number_of(NS_USER, key_span(&fleet.users), id),
        });
        f.blueprints = param(pairs, "blueprint_id").map(|needle| {
            let needle = needle.to_ascii_lowercase();
            (0..BLUEPRINTS.len())
                .filter(|n| blueprint_uuid(*n).contains(&needle))
                .collect()
        });
        let by_id = |ids: &[&str]| -> Vec<u32> {
            ids.iter()
                .filter_map(|id| group_by_tag_id(fleet, id))
                .map(|g| g.index)
                .collect()
        };
        let by_name = |names: &[&str]| -> Vec<u32> {
            fleet
                .groups
                .values()
                .filter(|g| names.contains(&g.name.as_str()))
                .map(|g| g.index)
                .collect()
        };
        if let Some(id) = param(pairs, "tag_id") {
            f.tag_sets.push(by_id(&[id]));
        }
        if let Some(ids) = list_param(pairs, "tag_id_in") {
            f.tag_sets.push(by_id(&ids));
        }
        if let Some(name) = param(pairs, "tag_name") {
            f.tag_sets.push(by_name(&[name]));
        }
        if let Some(names) = list_param(pairs, "tag_name_in") {
            f.tag_sets.push(by_name(&names));
        }
        f.active = f.serial.is_some()
            || f.device.is_some()
            || f.device_name.is_some()
            || f.model.is_some()
            || f.asset_tag.is_some()
            || f.platform.is_some()
            || f.blueprints.is_some()
            || !f.tag_sets.is_empty()
            || f.user_any.is_some()
            || f.user_name.is_some()
            || f.user_email.is_some()
            || f.user_email_exact.is_some()
            || f.user.is_some();
        f
    }

    fn matches(&self, fleet: &Fleet, d: &SimDevice) -> bool {
        if !self.active {
            return true;
        }
        let text = |filter: &Option<String>, value: &str| {
            filter.as_deref().is_none_or(|n| contains_ci(value, n))
        };
        if !text(&self.serial, &d.serial) || !text(&self.device_name, &d.name) {
            return false;
        }
        if self.device.is_some_and(|want| want != Some(d.index)) {
            return false;
        }
        let (model, platform) = model_of(d);
        if !text(&self.model, model) || !text(&self.asset_tag, &asset_tag(d)) {
            return false;
        }
        if self
            .platform
            .as_deref()
            .is_some_and(|p| p != platform.name())
        {
            return false;
        }
        if let Some(bps) = &self.blueprints {
            if !bps.contains(&blueprint_of(d)) {
                return false;
            }
        }
        for set in &self.tag_sets {
            let member = set.iter().any(|g| {
                fleet
                    .groups
                    .get(g)
                    .is_some_and(|g| g.members.contains(&d.index))
            });
            if !member {
                return false;
            }
        }
        let user_filters = self.user_any.is_some()
            || self.user_name.is_some()
            || self.user_email.is_some()
            || self.user_email_exact.is_some()
            || self.user.is_some();
        if user_filters {
            let Some(u) = fleet.user_of(d) else {
                return false;
            };
            if let Some(any) = &self.user_any {
                if !contains_ci(&u.full_name, any) && !contains_ci(&u.email, any) {
                    return false;
                }
            }
            if !text(&self.user_name, &u.full_name) || !text(&self.user_email, &u.email) {
                return false;
            }
            if self
                .user_email_exact
                .as_deref()
                .is_some_and(|e| !u.email.eq_ignore_ascii_case(e))
            {
                return false;
            }
            if self.user.is_some_and(|want| want != Some(u.index)) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    DeviceId,
    Serial,
    Name,
    Platform,
    Model,
    LastCheckIn,
}

/// `ordering`: comma-separated fields, `-` for descending; unknown fields are dropped.
fn parse_ordering(value: Option<&str>) -> Vec<(SortKey, bool)> {
    let Some(value) = value else {
        return Vec::new();
    };
    value
        .split(',')
        .filter_map(|field| {
            let field = field.trim();
            let (desc, name) = match field.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, field),
            };
            let key = match name {
                "device_id" => SortKey::DeviceId,
                "serial_number" => SortKey::Serial,
                "device_name" => SortKey::Name,
                "platform" => SortKey::Platform,
                "model" => SortKey::Model,
                "last_check_in" => SortKey::LastCheckIn,
                _ => return None,
            };
            Some((key, desc))
        })
        .collect()
}

/// The page of devices a listing request asks for.
fn select_devices<'f>(
    fleet: &'f Fleet,
    filter: &DeviceFilter,
    ordering: &[(SortKey, bool)],
    offset: usize,
    limit: usize,
) -> Vec<&'f SimDevice> {
    // Keys after a device_id key never matter: device ids are unique.
    let ordering: Vec<(SortKey, bool)> =
        match ordering.iter().position(|(k, _)| *k == SortKey::DeviceId) {
            Some(at) => ordering[..=at].to_vec(),
            None => ordering.to_vec(),
        };
    match ordering.as_slice() {
        [] if !filter.active && fleet.devices.len() == key_span(&fleet.devices) as usize => {
            // Device numbers are exactly 0..n: the offset is the first number.
            let start = u32::try_from(offset).unwrap_or(u32::MAX);
            fleet
                .devices
                .range(start..)
                .map(|(_, d)| d)
                .take(limit)
                .collect()
        }
        [] => fleet
            .devices
            .values()
            .filter(|d| filter.matches(fleet, d))
            .skip(offset)
            .take(limit)
            .collect(),
        [(SortKey::DeviceId, desc)] if !filter.active => {
            let span = key_span(&fleet.devices);
            let sorted = indexes_sorted_by_id(NS_DEVICE, span, ids::uuid);
            let dense = fleet.devices.len() == span as usize;
            let order: Box<dyn Iterator<Item = &u32>> = if *desc {
                Box::new(sorted.iter().rev())
            } else {
                Box::new(sorted.iter())
            };
            if dense {
                order
                    .skip(offset)
                    .take(limit)
                    .filter_map(|i| fleet.devices.get(i))
                    .collect()
            } else {
                order
                    .filter_map(|i| fleet.devices.get(i))
                    .skip(offset)
                    .take(limit)
                    .collect()
            }
        }
        [(first, first_desc), ..] => {
            let (first, first_desc) = (*first, *first_desc);
            let needs_id = ordering.iter().any(|(k, _)| *k == SortKey::DeviceId);
            let needs_check_in = ordering.iter().any(|(k, _)| *k == SortKey::LastCheckIn);
            let matches: Vec<Keyed<'f>> = fleet
                .devices
                .values()
                .filter(|d| filter.matches(fleet, d))
                .map(|d| {
                    let id = needs_id.then(|| device_id(d.index));
                    let check_in = needs_check_in.then(|| last_check_in(fleet, d));
                    let prefix = prefix16(sort_text(first, d, id.as_deref(), check_in.as_deref()));
                    Keyed {
                        prefix,
                        id,
                        check_in,
                        d,
                    }
                })
                .collect();
            let full = |a: &Keyed, b: &Keyed| {
                for (key, desc) in &ordering {
                    let o = sort_text(*key, a.d, a.id.as_deref(), a.check_in.as_deref())
                        .cmp(sort_text(*key, b.d, b.id.as_deref(), b.check_in.as_deref()));
                    let o = if *desc { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.d.index.cmp(&b.d.index)
            };
            // The inline prefix decides most comparisons without touching the strings.
            let cmp = |a: &Keyed, b: &Keyed| {
                let o = a.prefix.cmp(&b.prefix);
                match if first_desc { o.reverse() } else { o } {
                    Ordering::Equal => full(a, b),
                    decided => decided,
                }
            };
            sorted_window(matches, offset, limit, cmp)
                .into_iter()
                .map(|k| k.d)
                .collect()
        }
    }
}

/// A device with the first 16 bytes of its first sort key inline (zero-padded: where two prefixes differ,
/// they order as the whole strings do).
struct Keyed<'f> {
    prefix: [u8; 16],
    id: Option<String>,
    /// `last_check_in` (fixed-width, so text order is time order) when it is among the keys.
    check_in: Option<String>,
    d: &'f SimDevice,
}

fn prefix16(text: &str) -> [u8; 16] {
    let mut prefix = [0; 16];
    let n = text.len().min(16);
    prefix[..n].copy_from_slice(&text.as_bytes()[..n]);
    prefix
}

/// The text a sort key compares (`id` and `check_in`: the device's id and check-in time when those are
/// among the keys).
fn sort_text<'a>(
    key: SortKey,
    d: &'a SimDevice,
    id: Option<&'a str>,
    check_in: Option<&'a str>,
) -> &'a str {
    match key {
        SortKey::DeviceId => id.unwrap_or_default(),
        SortKey::LastCheckIn => check_in.unwrap_or_default(),
        SortKey::Serial => &d.serial,
        SortKey::Name => &d.name,
        SortKey::Platform => model_of(d).1.name(),
        SortKey::Model => model_of(d).0,
    }
}

async fn list_devices(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(e) = refusal(&headers, Permission::DeviceList) {
        return e;
    }
    let pairs = query_pairs(raw.as_deref());
    let (limit, offset) = limit_offset(&pairs, DEVICE_LIMIT);
    let fleet = ctx.fleet();
    let filter = DeviceFilter::parse(&fleet, &pairs);
    let ordering = parse_ordering(query_get(&pairs, "ordering"));
    let page = select_devices(&fleet, &filter, &ordering, offset, limit);
    let mut tags = page_tags(&fleet, &page);
    let rows: Vec<Value> = page
        .iter()
        .map(|d| {
            let names = tags.remove(&d.index).unwrap_or_default();
            device_row(&fleet, d, names.into_iter().map(Value::from).collect())
        })
        .collect();
    json(StatusCode::OK, Value::Array(rows))
}

async fn get_device(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !is_uuid(&id) {
        return not_found_page();
    }
    if let Some(e) = refusal(&headers, Permission::DeviceDetails) {
        return e;
    }
    let fleet = ctx.fleet();
    match device_by_id(&fleet, &id) {
        Some(d) => json(StatusCode::OK, device_row(&fleet, d, tag_names(&fleet, d))),
        None => not_found(),
    }
}

async fn get_device_details(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !is_uuid(&id) {
        return not_found_page();
    }
    if let Some(e) = refusal(&headers, Permission::DeviceDetails) {
        return e;
    }
    let fleet = ctx.fleet();
    match device_by_id(&fleet, &id) {
        Some(d) => json(StatusCode::OK, device_details(&fleet, d)),
        None => not_found(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Tags and blueprints

async fn list_tags(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(e) = refusal(&headers, Permission::Tags) {
        return e;
    }
    let pairs = query_pairs(raw.as_deref());
    let paging = limit_offset(&pairs, TAG_PAGE);
    let search = param(&pairs, "search").map(str::to_lowercase);
    let fleet = ctx.fleet();
    let matching: Vec<&SimGroup> = fleet
        .groups
        .values()
        .filter(|g| search.as_deref().is_none_or(|s| contains_ci(&g.name, s)))
        .collect();
    let results: Vec<Value> = window(&matching, paging.1, paging.0)
        .iter()
        .map(|g| json!({"id": tag_id(g.index), "name": g.name}))
        .collect();
    let (next, previous) =
        limit_offset_links(&headers, "/api/v1/tags", &pairs, paging, matching.len());
    json(
        StatusCode::OK,
        json!({"count": matching.len(), "next": next, "previous": previous, "results": results}),
    )
}

fn blueprint_json(n: usize, computers: usize) -> Value {
    let (name, description, kind) = BLUEPRINTS[n];
    json!({
        "id": blueprint_uuid(n),
        "name": name,
        "description": description,
        "icon": "ss-briefcase",
        "color": "aqua-800",
        "params": {},
        "computers_count": computers,
        "enrollment_code": {"code": format!("{:06}", 100_000 + n * 137_911), "is_active": true},
        "type": kind,
    })
}

fn blueprint_counts(fleet: &Fleet) -> [usize; 3] {
    let mut counts = [0; 3];
    for d in fleet.devices.values() {
        counts[blueprint_of(d)] += 1;
    }
    counts
}

async fn list_blueprints(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(e) = refusal(&headers, Permission::Blueprints) {
        return e;
    }
    let pairs = query_pairs(raw.as_deref());
    let paging = limit_offset(&pairs, BLUEPRINT_PAGE);
    let id = param(&pairs, "id").map(str::to_ascii_lowercase);
    let id_in = list_param(&pairs, "id__in").map(|ids| {
        ids.iter()
            .map(|s| s.to_ascii_lowercase())
            .collect::<Vec<_>>()
    });
    let name = param(&pairs, "name");
    let matching: Vec<usize> = (0..BLUEPRINTS.len())
        .filter(|n| id.as_deref().is_none_or(|id| blueprint_uuid(*n) == id))
        .filter(|n| {
            id_in
                .as_ref()
                .is_none_or(|ids| ids.contains(&blueprint_uuid(*n)))
        })
        .filter(|n| name.is_none_or(|name| BLUEPRINTS[*n].0 == name))
        .collect();
    let counts = blueprint_counts(&ctx.fleet());
    let results: Vec<Value> = window(&matching, paging.1, paging.0)
        .iter()
        .map(|n| blueprint_json(*n, counts[*n]))
        .collect();
    let (next, previous) = limit_offset_links(
        &headers,
        "/api/v1/blueprints",
        &pairs,
        paging,
        matching.len(),
    );
    json(
        StatusCode::OK,
        json!({"count": matching.len(), "next": next, "previous": previous, "results": results}),
    )
}

async fn get_blueprint(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !is_uuid(&id) {
        return not_found_page();
    }
    if let Some(e) = refusal(&headers, Permission::Blueprints) {
        return e;
    }
    let id = id.to_ascii_lowercase();
    match (0..BLUEPRINTS.len()).find(|n| blueprint_uuid(*n) == id) {
        Some(n) => json(
            StatusCode::OK,
            blueprint_json(n, blueprint_counts(&ctx.fleet())[n]),
        ),
        None => not_found(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Users

const INTEGRATION_ID: u32 = 1;
const DEPARTMENTS: &[&str] = &["Engineering", "Design", "Sales", "Finance", "Support"];

fn user_json(u: &SimUser, device_count: usize) -> Value {
    json!({
        "id": user_id(u.index),
        "email": u.email,
        "name": u.full_name,
        "active": true,
        "archived": false,
        "department": DEPARTMENTS[u.index as usize % DEPARTMENTS.len()],
        "job_title": "Staff",
        "device_count": device_count,
        "integration": {
            "id": INTEGRATION_ID,
            "name": "Sandbox Directory",
            "uuid": ids::uuid(NS_MISC, 0),
            "type": "scim",
        },
        "deprecated_user_id": u.index + 1,
        "created_at": format!("2024-{:02}-{:02}T09:00:00.000000Z", 1 + u.index % 12, 1 + u.index % 28),
        "updated_at": "2026-10-01T09:00:00.000000Z",
    })
}

/// A users cursor: after (`reverse == false`) or before (`true`) the user numbered `position`.
fn encode_cursor(reverse: bool, position: u32) -> String {
    let raw = if reverse {
        format!("r=1&p={position}")
    } else {
        format!("p={position}")
    };
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn decode_cursor(cursor: &str) -> Option<(bool, u32)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut reverse = false;
    let mut position = None;
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        match k.as_ref() {
            "r" => reverse = v == "1",
            "p" => position = Some(v.parse().ok()?),
            _ => return None,
        }
    }
    Some((reverse, position?))
}

async fn list_users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(e) = refusal(&headers, Permission::Users) {
        return e;
    }
    let pairs = query_pairs(raw.as_deref());
    let cursor = match query_get(&pairs, "cursor") {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(c) => Some(c),
            None => return detail(StatusCode::NOT_FOUND, "Invalid cursor"),
        },
    };
    let fleet = ctx.fleet();
    let email = param(&pairs, "email");
    let id = param(&pairs, "id").map(str::to_ascii_lowercase);
    let id_index = id
        .as_deref()
        .map(|id| user_by_id(&fleet, id).map(|u| u.index));
    let archived = param(&pairs, "archived");
    let integration = param(&pairs, "integration_id");
    let keep = |u: &&SimUser| {
        email.is_none_or(|e| u.email.eq_ignore_ascii_case(e))
            && id_index.is_none_or(|want| want == Some(u.index))
            && archived != Some("true")
            && integration.is_none_or(|i| i == INTEGRATION_ID.to_string())
    };
    // One more than a page, to know whether another page follows.
    let mut page: Vec<&SimUser> = match cursor {
        None => fleet
            .users
            .values()
            .filter(keep)
            .take(USER_PAGE + 1)
            .collect(),
        Some((false, after)) => fleet
            .users
            .range(after.saturating_add(1)..)
            .map(|(_, u)| u)
            .filter(keep)
            .take(USER_PAGE + 1)
            .collect(),
        Some((true, before)) => {
            let mut v: Vec<&SimUser> = fleet
                .users
                .range(..before)
                .rev()
                .map(|(_, u)| u)
                .filter(keep)
                .take(USER_PAGE + 1)
                .collect();
            v.reverse();
            v
        }
    };
    let more = page.len() > USER_PAGE;
    let (has_next, has_previous) = match cursor {
        None => {
            page.truncate(USER_PAGE);
            (more, false)
        }
        Some((false, _)) => {
            page.truncate(USER_PAGE);
            (more, true)
        }
        Some((true, _)) => {
            if more {
                page.remove(0);
            }
            (true, more)
        }
    };
    let cursor_link = |reverse: bool, position: u32| {
        let mut q: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        q.push(("cursor".into(), encode_cursor(reverse, position)));
        Value::String(link(&headers, "/api/v1/users", &q))
    };
    let next = match page.last() {
        Some(last) if has_next => cursor_link(false, last.index),
        _ => Value::Null,
    };
    let previous = match page.first() {
        Some(first) if has_previous => cursor_link(true, first.index),
        _ => Value::Null,
    };
    let mut counts = vec![0usize; page.len()];
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let (lo, hi) = (first.index, last.index);
        for d in fleet.devices.values() {
            if let Some(u) = d.user.filter(|u| (lo..=hi).contains(u)) {
                if let Ok(at) = page.binary_search_by_key(&u, |p| p.index) {
                    counts[at] += 1;
                }
            }
        }
    }
    let results: Vec<Value> = page
        .iter()
        .zip(counts)
        .map(|(u, n)| user_json(u, n))
        .collect();
    json(
        StatusCode::OK,
        json!({"next": next, "previous": previous, "results": results}),
    )
}

async fn get_user(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(e) = refusal(&headers, Permission::Users) {
        return e;
    }
    let fleet = ctx.fleet();
    match user_by_id(&fleet, &id) {
        Some(u) => {
            let count = fleet
                .devices
                .values()
                .filter(|d| d.user == Some(u.index))
                .count();
            json(StatusCode::OK, user_json(u, count))
        }
        None => not_found(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Settings

async fn licensing(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if let Some(e) = refusal(&headers, Permission::Licensing) {
        return e;
    }
    let fleet = ctx.fleet();
    let macs = fleet
        .devices
        .values()
        .filter(|d| model_of(d).1 == Platform::Mac)
        .count();
    let total = fleet.devices.len();
    json(
        StatusCode::OK,
        json!({
            "counts": {
                "computers_count": macs,
                "ios_count": 0,
                "ipados_count": 0,
                "tvos_count": 0,
                "windows_count": total - macs,
            },
            "limits": {
                "plan_type": "single_limit",
                "max_devices": total.max(10).next_multiple_of(100),
                "max_computers": null,
                "max_ios": null,
                "max_ipados": null,
                "max_tvos": null,
            },
            "tenantOverLicenseLimit": false,
        }),
    )
}

async fn method_not_allowed(method: Method, headers: HeaderMap) -> Response {
    if let Some(e) = refusal(&headers, Permission::Any) {
        return e;
    }
    detail(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method \"{method}\" not allowed."),
    )
}

impl ProviderSim for IruSim {
    fn router(&self) -> Router<Ctx> {
        Router::new()
            .route("/api/v1/devices", get(list_devices))
            .route("/api/v1/devices/{device_id}", get(get_device))
            .route(
                "/api/v1/devices/{device_id}/details",
                get(get_device_details),
            )
            .route("/api/v1/tags", get(list_tags))
            .route("/api/v1/blueprints", get(list_blueprints))
            .route("/api/v1/blueprints/{blueprint_id}", get(get_blueprint))
            .route("/api/v1/users", get(list_users))
            .route("/api/v1/users/{user_id}", get(get_user))
            .route("/api/v1/settings/licensing", get(licensing))
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(|| async { not_found_page() })
    }

    fn config(&self, base: &Url, access: Access) -> ProviderConfig {
        let token = match access {
            Access::WrongSecret => WRONG_TOKEN,
            Access::NoDeviceRead => NO_DEVICE_READ_TOKEN,
            _ => TOKEN,
        };
        ProviderConfig::Iru(
            IruConfig::with_base_url(base.as_str(), token)
                .expect("the sandbox URL is a valid base"),
        )
    }

    fn expected_device(&self, fleet: &Fleet, device: &SimDevice) -> ExpectedDevice {
        // List rows and single rows carry the same `user` object, so lookup and listing agree.
        let user = fleet.user_of(device);
        let display_name = user.map_or_else(|| device.name.clone(), |u| u.full_name.clone());
        ExpectedDevice {
            index: device.index,
            serial_number: device.serial.clone(),
            device_id: device_id(device.index),
            user_id: user.map(|u| user_id(u.index)),
            list_display_name: display_name.clone(),
            display_name,
        }
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        fleet
            .groups
            .values()
            .map(|g| {
                let mut members: Vec<String> = g
                    .members
                    .iter()
                    .filter(|i| fleet.devices.contains_key(i))
                    .map(|i| device_id(*i))
                    .collect();
                members.sort();
                ExpectedGroup {
                    id: tag_id(g.index),
                    name: g.name.clone(),
                    members,
                }
            })
            .collect()
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        detail(status, message)
    }

    fn max_page_size(&self) -> usize {
        DEVICE_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn uuid_index_round_trips_and_is_sorted() {
        let sorted = indexes_sorted_by_id(NS_DEVICE, 500, ids::uuid);
        assert_eq!(sorted.len(), 500);
        let uuids: Vec<String> = sorted.iter().map(|i| device_id(*i)).collect();
        assert!(uuids.windows(2).all(|w| w[0] < w[1]));
        for i in [0, 1, 250, 499] {
            assert_eq!(number_of(NS_DEVICE, 500, &device_id(i)), Some(i));
            assert_eq!(
                number_of(NS_DEVICE, 500, &device_id(i).to_uppercase()),
                Some(i)
            );
        }
        assert_eq!(number_of(NS_DEVICE, 500, &device_id(500)), None);
        assert_eq!(number_of(NS_DEVICE, 500, "not-a-uuid"), None);
        let set: BTreeSet<u32> = sorted.iter().copied().collect();
        assert_eq!(set.len(), 500);
    }

    #[test]
    fn sorted_window_matches_a_full_sort() {
        let items: Vec<u32> = (0..1000).map(|i| (i * 7919) % 1000).collect();
        let mut all = items.clone();
        all.sort_unstable();
        for (offset, limit) in [(0, 10), (5, 300), (990, 300), (1000, 5), (0, 5000)] {
            let got = sorted_window(items.clone(), offset, limit, |a, b| a.cmp(b));
            assert_eq!(got, window(&all, offset, limit), "{offset} {limit}");
        }
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(
            decode_cursor(&encode_cursor(false, 299)),
            Some((false, 299))
        );
        assert_eq!(decode_cursor(&encode_cursor(true, 7)), Some((true, 7)));
        assert_eq!(decode_cursor("!!"), None);
        assert_eq!(
            decode_cursor(&base64::engine::general_purpose::STANDARD.encode("x=1")),
            None
        );
    }

    #[test]
    fn case_insensitive_substrings() {
        assert!(contains_ci("C02ABC", "02a"));
        assert!(contains_ci("Zoë’s iMac", "zoë"));
        assert!(!contains_ci("C02ABC", "c03"));
        assert!(contains_ci("anything", ""));
    }
}
