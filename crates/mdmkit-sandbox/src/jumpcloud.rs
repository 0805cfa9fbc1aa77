//! JumpCloud: the V1 API under `/api` and the V2 API under `/api/v2`, as the reference documents them
//! (section 2). The sandbox host stands in for `console.jumpcloud.com` (or its EU and IN twins); the paths
//! are the same.
//!
//! # Auth
//! Static administrator API keys in the `x-api-key` header; no token endpoint, no expiry. Multi-tenant
//! administrators name the organisation with `x-org-id`. Every refusal is JumpCloud's error schema
//! `{"code": <HTTP status>, "message": "...", "status": "<canonical code name>"}` (V2 400s add
//! `details[]`). The reference gives only the schema; the `status` names (`UNAUTHENTICATED`,
//! `PERMISSION_DENIED`, ...) are the canonical names of the error format that schema follows, and the
//! message texts are the sandbox's own except the documented multi-tenant ones. Checks run in this order:
//!
//! 1. No `x-api-key` (or a blank one): 401 `Unauthorized: API key required`. A key not listed below: 401
//!    `Unauthorized: invalid API key`.
//! 2. `x-org-id` (a blank header counts as absent, the spec's default is `""`):
//!    - on `/api/organizations`: 403 `ID included on unsupported route` (JumpCloud's own module strips
//!      the header there);
//!    - not a 24-digit hexadecimal id: 400 `Malformed ID`;
//!    - an organisation the key cannot see: 404 `Organization ID Not Found`;
//!    - absent, with the multi-tenant key: 401 `ID not included for multi-tenant admin`. A single-org key
//!      needs no header (and accepts its own organisation's id).
//! 3. The key without device access on a device or device-group route: 403 `PERMISSION_DENIED`.
//!
//! The documented 400 `x-org-id and Organization path ID do not match` needs a route with an organisation
//! id in its path; none of the simulated routes has one.
//!
//! | Credentials ([`Access`]) | key | organisations | device routes |
//! |---|---|---|---|
//! | `Full`, `NoDirectoryDeviceRead` | [`API_KEY`] | [`ORG_ID`] | yes |
//! | `WrongSecret` | [`WRONG_KEY`] (any unlisted key behaves the same) | none: 401 | no |
//! | `NoDeviceRead` | [`NO_DEVICES_KEY`] | [`ORG_ID`] | 403 |
//! | (tests only) | [`MTP_KEY`] | [`ORG_ID`] and [`OTHER_ORG_ID`] (an empty organisation) | yes |
//!
//! # Endpoints
//! Paging everywhere is `limit` (default 10, **silently capped at 100**, 0 means the default; negative or
//! non-numeric is a 400) and `skip` (default 0; negative or non-numeric is a 400).
//!
//! - `GET /api/organizations`: `{"totalCount", "results": [{"_id", "displayName", "logoUrl"}]}` with
//!   `limit`/`skip`; the organisations the key can see (no device permission needed).
//! - `GET /api/systems`: `{"totalCount", "results": [JcSystem]}`. Rows come in enrolment order, or in
//!   `sort` order: space- or comma-separated `_id`, `displayName`, `hostname`, `serialNumber`, each
//!   optionally `-`-prefixed for descending; unknown sort fields are ignored. `filter` takes the V1 form
//!   `<field>:$eq:<value>` or `<field>:$ne:<value>`, exact and case-sensitive, or a range `$gt`, `$gte`,
//!   `$lt`, `$lte` (timestamps such as `lastContact` compare in time order); repeated `filter`s all
//!   apply. Any field may be named (a field a system lacks equals nothing, as in a document store);
//!   another operator (the V2 `eq` form included) is a 400. `fields` (space- or comma-separated, the
//!   spec uses both) projects the rows; `_id` and `id` always stay.
//! - `GET /api/systems/{id}`: one JcSystem, else 404.
//! - JcSystem: `_id` and `id` (the same value: the reference's example response carries both, the spec
//!   lists only `_id`), `displayName` (the fleet device name), `hostname` (an ASCII `.local` name derived
//!   from it), `serialNumber`, `os`, `osFamily`, `version`, `arch`, `hwVendor`, `active`, `lastContact` (the fleet's change time of the device),
//!   `created`, `organization`, `mdm`, and `primarySystemUser`: `{"id": <user id>}` for assigned devices
//!   with an even index, `null` for every other device. Assigned devices with an odd index carry their
//!   user only in the graph, so both of a connector's paths get used.
//! - `GET /api/systemusers`: `{"totalCount", "results": [systemuserreturn]}` with the same paging, `sort`
//!   (`_id`, `username`, `email`, `displayname`, `firstname`, `lastname`) and `filter` rules;
//!   `GET /api/systemusers/{id}`: one user, else 404. Users carry lower-case `displayname` (empty for
//!   every user whose index is 1 modulo 3, as JumpCloud allows; their first and last name still give the
//!   full name), `firstname`, `lastname`, `email`, `username`, `state`, `activated`, `suspended`.
//! - `GET /api/v2/systems/{id}/users`: the users bound to a system, a **bare array** of
//!   `GraphObjectWithPaths` `{"id", "type": "user", "compiledAttributes": {}, "paths": [[hop...]]}` with
//!   the total in `x-total-count`, sorted by user id, paged. The assigned user is bound directly (a
//!   one-hop path). Every device whose index is 3 modulo 4 is also bound to the "Help Desk" user group,
//!   whose members are the first two directory users (two-hop paths `user_group` -> `user`), when the
//!   directory has at least two users. So an unassigned device may still show two users, both through the
//!   group: a shared device, not an assigned one.
//! - `GET /api/v2/users/{id}/systems`: the reverse direction, the systems bound to a user (directly, or
//!   through the Help Desk user group for its two members), `GraphObjectWithPaths` rows of type `system`
//!   with paths from the user, a bare array with `x-total-count`, paged, in enrolment order.
//! - `GET /api/v2/systems/{id}/memberof`: the system groups a device is in (`GraphObjectWithPaths`).
//! - `GET /api/v2/systemgroups`: a bare array of `{"id", "name", "description", "type": "system_group",
//!   "membershipMethod"}` (`DYNAMIC_AUTOMATED` for the fleet's smart group, else `STATIC`), total in
//!   `x-total-count`, paged; V2 `filter` `<field>:eq:<value>` / `<field>:ne:<value>` on `id`, `name`,
//!   `type`, `membershipMethod`, `description`; `sort` `name`, `id` (`-` for descending).
//!   `GET /api/v2/systemgroups/{id}`: one group, else 404.
//! - `GET /api/v2/systemgroups/{id}/members`: **direct** members, `GraphConnection`
//!   `{"to": {"id", "type", "attributes"}, "attributes"}`; `GET /api/v2/systemgroups/{id}/membership`:
//!   **all** member systems as `GraphObjectWithPaths`. Both paged with `x-total-count`. The
//!   highest-numbered group, while it has no members (as seeded), is nested in the lowest-numbered one:
//!   its `system_group` row shows up among the parent's direct members and adds no system to the
//!   parent's membership.
//! - Any other path: 404 `{"code": 404, "message": "Not Found", "status": "NOT_FOUND"}`.
//!
//! # Identifiers and what a correct connector reports
//! System `_id` = `ids::object_id(50, device index)`, user `_id` = `ids::object_id(51, user index)`,
//! system group `id` = `ids::object_id(52, group index)`, the Help Desk user group =
//! `ids::object_id(53, 0)`. The device id is the system `_id`; the user id is the assigned user's `_id`
//! (from `primarySystemUser`, else the one directly bound user); the display name (lookup and listing
//! alike, since the user directory carries names) is the user's full name, else the system's
//! `displayName`. Groups are the system groups with every member system (the `/membership` view).
//!
//! # Cost
//! A correct listing of *D* devices costs `ceil(D/100)` system pages, the user directory's pages, and one
//! graph request per system without a `primarySystemUser` (JumpCloud has no bulk system-to-user
//! listing), or the user-to-systems pages of every user when the directory is smaller than that;
//! `per_device_listing_requests` reports that last count.
//!
//! On the sandbox's side nothing copies the fleet. An unfiltered page in enrolment order walks to its offset; an unfiltered
//! page sorted by `_id` reads a process-wide index of device numbers sorted by their id (built once per
//! fleet size), so it costs O(limit) for a fleet without gaps. Filtered and otherwise sorted pages cost one
//! pass over the fleet plus a partial sort of the matches. Ids in paths are decoded, not searched for.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use mdmkit_core::{JumpCloudConfig, ProviderConfig};
use serde_json::{json, Value};
use url::Url;

use crate::common::{
    header_str, indexes_sorted_by_id, json, query_get, query_pairs, sorted_window, Ctx, ProviderSim,
};
use crate::model::{ids, Fleet, SimDevice, SimGroup, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};
use mdmkit_core::changes::parse_timestamp;

/// The API key of a single-organisation administrator with full access.
pub(crate) const API_KEY: &str = "jca_sandboxFullAccessKey00000000000001";
/// The API key of a multi-tenant administrator: sees two organisations and must send `x-org-id`.
pub(crate) const MTP_KEY: &str = "jca_sandboxMultiTenantKey0000000000002";
/// The API key of an administrator whose role cannot read devices or device groups.
pub(crate) const NO_DEVICES_KEY: &str = "jca_sandboxNoDeviceAccessKey000000003";
/// A key JumpCloud does not know (any unlisted key behaves the same).
pub(crate) const WRONG_KEY: &str = "jca_sandboxRevokedKey00000000000000004";
/// The organisation that holds the fleet.
pub(crate) const ORG_ID: &str = "6523a1b0c0ffee0000000001";
/// A second organisation only the multi-tenant key sees; it is empty.
pub(crate) const OTHER_ORG_ID: &str = "6523a1b0c0ffee0000000002";

const NS_SYSTEM: u8 = 50;
const NS_USER: u8 = 51;
const NS_GROUP: u8 = 52;
const NS_USER_GROUP: u8 = 53;

const LIMIT_DEFAULT: usize = 10;
const LIMIT_MAX: usize = 100;

pub(crate) struct JumpCloudSim;

fn system_id(index: u32) -> String {
    ids::object_id(NS_SYSTEM, index)
}

fn user_id(index: u32) -> String {
    ids::object_id(NS_USER, index)
}

fn group_id(index: u32) -> String {
    ids::object_id(NS_GROUP, index)
}

/// A 24-digit hexadecimal (ObjectId-style) id, either case.
fn is_object_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The number behind an id of `namespace`: the id ends in the number in hex, checked against the full id.
fn index_of(namespace: u8, id: &str) -> Option<u32> {
    let id = id.trim().to_ascii_lowercase();
    if !is_object_id(&id) {
        return None;
    }
    let index = u32::from_str_radix(&id[16..], 16).ok()?;
    (ids::object_id(namespace, index) == id).then_some(index)
}

// ---------------------------------------------------------------------------------------------------
// Errors and auth

/// The canonical code name JumpCloud's error schema carries in `status`.
fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        410 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        500..=599 => "INTERNAL",
        _ => "UNKNOWN",
    }
}

fn error_body(status: StatusCode, message: &str) -> Response {
    json(
        status,
        json!({"code": status.as_u16(), "message": message, "status": status_name(status)}),
    )
}

/// Which API a request is on: V2 400s carry `details[]` (`ErrorDetails`), V1 400s do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    V1,
    V2,
}

fn invalid(api: Api, field: &str, message: &str) -> Response {
    let status = StatusCode::BAD_REQUEST;
    let mut body = json!({"code": 400, "message": format!("Bad Request: {message}"), "status": status_name(status)});
    if api == Api::V2 {
        body["details"] = json!([{"field": field, "message": message}]);
    }
    json(status, body)
}

fn not_found() -> Response {
    error_body(StatusCode::NOT_FOUND, "Not Found")
}

/// The organisation a request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Org {
    /// [`ORG_ID`], which holds the fleet.
    Main,
    /// [`OTHER_ORG_ID`], empty.
    Other,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `/api/organizations`: refuses `x-org-id`.
    Organizations,
    /// Organisation-scoped, no device permission needed (the user directory).
    Users,
    /// Organisation-scoped, device permission needed (systems, system groups, the system graph).
    Devices,
}

/// The organisations a known key can see.
fn orgs_of(key: &str) -> &'static [(&'static str, Org)] {
    if key == MTP_KEY {
        &[(ORG_ID, Org::Main), (OTHER_ORG_ID, Org::Other)]
    } else {
        &[(ORG_ID, Org::Main)]
    }
}

fn authorize(headers: &HeaderMap, route: Route) -> Result<Org, Response> {
    let unauthorized = |message: &str| error_body(StatusCode::UNAUTHORIZED, message);
    let key = header_str(headers, "x-api-key")
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() {
        return Err(unauthorized("Unauthorized: API key required"));
    }
    if ![API_KEY, MTP_KEY, NO_DEVICES_KEY].contains(&key) {
        return Err(unauthorized("Unauthorized: invalid API key"));
    }
    let org_header = headers
        .get("x-org-id")
        .map(|v| v.to_str().unwrap_or("?").trim())
        .filter(|v| !v.is_empty());
    let org = match (route, org_header) {
        (Route::Organizations, Some(_)) => {
            return Err(error_body(
                StatusCode::FORBIDDEN,
                "ID included on unsupported route",
            ));
        }
        (Route::Organizations, None) => Org::Main,
        (_, Some(id)) if !is_object_id(id) => {
            return Err(error_body(StatusCode::BAD_REQUEST, "Malformed ID"));
        }
        (_, Some(id)) => match orgs_of(key)
            .iter()
            .find(|(org, _)| org.eq_ignore_ascii_case(id))
        {
            Some((_, org)) => *org,
            None => {
                return Err(error_body(
                    StatusCode::NOT_FOUND,
                    "Organization ID Not Found",
                ))
            }
        },
        (_, None) if key == MTP_KEY => {
            return Err(unauthorized("ID not included for multi-tenant admin"));
        }
        (_, None) => Org::Main,
    };
    if route == Route::Devices && key == NO_DEVICES_KEY {
        return Err(error_body(
            StatusCode::FORBIDDEN,
            "Forbidden: this administrator's role does not include device access",
        ));
    }
    Ok(org)
}

// ---------------------------------------------------------------------------------------------------
// Query parameters

/// A non-negative integer parameter; absent or blank gives `None`.
fn count_param(pairs: &[(String, String)], key: &str, api: Api) -> Result<Option<usize>, Response> {
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
fn paging(pairs: &[(String, String)], api: Api) -> Result<(usize, usize), Response> {
    let limit = match count_param(pairs, "limit", api)? {
        None | Some(0) => LIMIT_DEFAULT,
        Some(n) => n.min(LIMIT_MAX),
    };
    let skip = count_param(pairs, "skip", api)?.unwrap_or(0);
    Ok((skip, limit))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
struct Filter {
    field: String,
    op: Op,
    value: String,
}

impl Filter {
    fn accepts(&self, actual: Option<&str>) -> bool {
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
fn filters(pairs: &[(String, String)], api: Api) -> Result<Vec<Filter>, Response> {
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
fn sort_keys(pairs: &[(String, String)], known: &[&'static str]) -> Vec<(&'static str, bool)> {
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
fn projection(pairs: &[(String, String)]) -> Option<Vec<String>> {
    let fields: Vec<String> = query_get(pairs, "fields")?
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!fields.is_empty()).then_some(fields)
}

fn project(mut row: Value, fields: Option<&[String]>) -> Value {
    if let (Some(fields), Value::Object(map)) = (fields, &mut row) {
        map.retain(|k, _| k == "_id" || k == "id" || fields.iter().any(|f| f == k));
    }
    row
}

// ---------------------------------------------------------------------------------------------------
// Selecting a page

/// Compares two records by `sort` keys, read with `a` and `b`; `tie` when every key is equal.
fn compare_keys<'v>(
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

/// One page of a V1 collection keyed by number (`records`), with its total: filtered, sorted and
/// windowed. `field` reads a record's field as served; `namespace` gives the `_id` order.
fn select<'f, T>(
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

fn v1_list(total: usize, results: Vec<Value>) -> Response {
    json(
        StatusCode::OK,
        json!({"totalCount": total, "results": results}),
    )
}

/// A V2 list: a bare array, the total in `x-total-count`.
fn v2_list(total: usize, rows: Vec<Value>) -> Response {
    let mut response = json(StatusCode::OK, Value::Array(rows));
    response
        .headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    response
}

// ---------------------------------------------------------------------------------------------------
// Systems

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    Mac,
    Windows,
}

/// The platform, read from the model the fleet put in the device name.
fn platform(d: &SimDevice) -> Platform {
    if d.name.contains("ThinkPad") || d.name.contains("Surface") {
        Platform::Windows
    } else {
        Platform::Mac
    }
}

fn os(d: &SimDevice) -> (&'static str, &'static str) {
    match platform(d) {
        Platform::Mac => ("Mac OS X", "darwin"),
        Platform::Windows => ("Windows", "windows"),
    }
}

/// An ASCII host name derived from the device name, the way an OS derives one: `Zoë’s MacBook Pro` ->
/// `Zos-MacBook-Pro.local`.
fn hostname(d: &SimDevice) -> String {
    let words: Vec<String> = d
        .name
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        format!("system-{}.local", d.index)
    } else {
        format!("{}.local", words.join("-"))
    }
}

/// Whether an assigned device names its user in `primarySystemUser` (about half do; the rest are known
/// only to the graph).
fn has_primary_user(d: &SimDevice) -> bool {
    d.index % 2 == 0
}

fn timestamp(day: u32, minutes: u32) -> String {
    format!(
        "2026-{:02}-{:02}T{:02}:{:02}:00.000Z",
        1 + (day / 28) % 12,
        1 + day % 28,
        (minutes / 60) % 24,
        minutes % 60
    )
}

/// `lastContact`: the fleet's change time of the device.
fn last_contact(fleet: &Fleet, d: &SimDevice) -> Option<String> {
    fleet
        .changed_at(d.index)
        .map(|t| t.to_rfc3339_opts(mdmkit_core::chrono::SecondsFormat::Millis, true))
}

fn system_field<'f>(fleet: &Fleet, d: &'f SimDevice, field: &str) -> Option<Cow<'f, str>> {
    Some(match field {
        "lastContact" => Cow::Owned(last_contact(fleet, d)?),
        "_id" | "id" => Cow::Owned(system_id(d.index)),
        "serialNumber" => Cow::Borrowed(d.serial.as_str()),
        "displayName" => Cow::Borrowed(d.name.as_str()),
        "hostname" => Cow::Owned(hostname(d)),
        "os" => Cow::Borrowed(os(d).0),
        "osFamily" => Cow::Borrowed(os(d).1),
        "organization" => Cow::Borrowed(ORG_ID),
        _ => return None,
    })
}

fn system_json(fleet: &Fleet, d: &SimDevice) -> Value {
    let id = system_id(d.index);
    let (os_name, family) = os(d);
    let (version, arch, vendor) = match platform(d) {
        Platform::Mac => ("15.2", "arm64", "Apple Inc."),
        Platform::Windows if d.name.contains("Surface") => {
            ("10.0.22631", "x86_64", "Microsoft Corporation")
        }
        Platform::Windows => ("10.0.22631", "x86_64", "LENOVO"),
    };
    let user = fleet.user_of(d);
    let primary = match user {
        Some(u) if has_primary_user(d) => json!({"id": user_id(u.index)}),
        _ => Value::Null,
    };
    let mdm = match platform(d) {
        Platform::Mac => {
            json!({"vendor": "internal", "dep": d.index % 3 != 0, "userApproved": true})
        }
        Platform::Windows => {
            json!({"vendor": "internal", "windows": {"upn": user.map(|u| u.email.as_str())}})
        }
    };
    json!({
        "_id": id,
        "id": id,
        "organization": ORG_ID,
        "displayName": d.name,
        "hostname": hostname(d),
        "serialNumber": d.serial,
        "os": os_name,
        "osFamily": family,
        "version": version,
        "arch": arch,
        "hwVendor": vendor,
        "agentVersion": "2.9.0",
        "active": d.index % 7 != 6,
        "lastContact": last_contact(fleet, d),
        "created": timestamp(d.index % 300, d.index * 13),
        "primarySystemUser": primary,
        "mdm": mdm,
    })
}

const SYSTEM_SORT: &[&str] = &["_id", "displayName", "hostname", "serialNumber"];

async fn list_systems(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let pairs = query_pairs(raw.as_deref());
    let window = paging(&pairs, Api::V1)?;
    let filters = filters(&pairs, Api::V1)?;
    let sort = sort_keys(&pairs, SYSTEM_SORT);
    let fields = projection(&pairs);
    if org == Org::Other {
        return Ok(v1_list(0, Vec::new()));
    }
    let fleet = ctx.fleet();
    let (total, page) = select(
        &fleet.devices,
        NS_SYSTEM,
        &filters,
        &sort,
        window,
        |_, d, f| system_field(&fleet, d, f),
    );
    let results = page
        .into_iter()
        .map(|d| project(system_json(&fleet, d), fields.as_deref()))
        .collect();
    Ok(v1_list(total, results))
}

fn device_in<'f>(fleet: &'f Fleet, org: Org, id: &str) -> Result<&'f SimDevice, Response> {
    (org == Org::Main)
        .then(|| index_of(NS_SYSTEM, id))
        .flatten()
        .and_then(|i| fleet.devices.get(&i))
        .ok_or_else(not_found)
}

async fn get_system(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let fields = projection(&query_pairs(raw.as_deref()));
    let fleet = ctx.fleet();
    let d = device_in(&fleet, org, &id)?;
    Ok(json(
        StatusCode::OK,
        project(system_json(&fleet, d), fields.as_deref()),
    ))
}

// ---------------------------------------------------------------------------------------------------
// Users

/// `displayname` as served: empty for one user in three (the field is optional in JumpCloud).
fn displayname(u: &SimUser) -> &str {
    if u.index % 3 == 1 {
        ""
    } else {
        &u.full_name
    }
}

fn first_last(u: &SimUser) -> (&str, &str) {
    u.full_name
        .split_once(' ')
        .unwrap_or((u.full_name.as_str(), ""))
}

fn user_field<'f>(index: u32, u: &'f SimUser, field: &str) -> Option<Cow<'f, str>> {
    Some(match field {
        "_id" | "id" => Cow::Owned(user_id(index)),
        "username" => Cow::Borrowed(u.username.as_str()),
        "email" => Cow::Borrowed(u.email.as_str()),
        "displayname" => Cow::Borrowed(displayname(u)),
        "firstname" => Cow::Borrowed(first_last(u).0),
        "lastname" => Cow::Borrowed(first_last(u).1),
        "state" => Cow::Borrowed("ACTIVATED"),
        "organization" => Cow::Borrowed(ORG_ID),
        _ => return None,
    })
}

fn user_json(u: &SimUser) -> Value {
    let (first, last) = first_last(u);
    json!({
        "_id": user_id(u.index),
        "username": u.username,
        "email": u.email,
        "displayname": displayname(u),
        "firstname": first,
        "lastname": last,
        "state": "ACTIVATED",
        "activated": true,
        "suspended": false,
        "account_locked": false,
        "organization": ORG_ID,
        "created": timestamp(u.index % 300, u.index * 11),
    })
}

const USER_SORT: &[&str] = &[
    "_id",
    "username",
    "email",
    "displayname",
    "firstname",
    "lastname",
];

async fn list_users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Users)?;
    let pairs = query_pairs(raw.as_deref());
    let window = paging(&pairs, Api::V1)?;
    let filters = filters(&pairs, Api::V1)?;
    let sort = sort_keys(&pairs, USER_SORT);
    let fields = projection(&pairs);
    if org == Org::Other {
        return Ok(v1_list(0, Vec::new()));
    }
    let fleet = ctx.fleet();
    let (total, page) = select(&fleet.users, NS_USER, &filters, &sort, window, user_field);
    let results = page
        .into_iter()
        .map(|u| project(user_json(u), fields.as_deref()))
        .collect();
    Ok(v1_list(total, results))
}

async fn get_user(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Users)?;
    let fields = projection(&query_pairs(raw.as_deref()));
    let fleet = ctx.fleet();
    let user = (org == Org::Main)
        .then(|| index_of(NS_USER, &id))
        .flatten()
        .and_then(|i| fleet.users.get(&i))
        .ok_or_else(not_found)?;
    Ok(json(
        StatusCode::OK,
        project(user_json(user), fields.as_deref()),
    ))
}

// ---------------------------------------------------------------------------------------------------
// The V2 graph

/// One hop of a graph path.
fn hop(id: &str, kind: &str) -> Value {
    json!({"to": {"id": id, "type": kind}, "attributes": null})
}

/// A `GraphConnection` row (`/members`).
fn connection(id: &str, kind: &str) -> Value {
    json!({"to": {"id": id, "type": kind, "attributes": null}, "attributes": null})
}

/// A `GraphObjectWithPaths` row.
fn with_paths(id: &str, kind: &str, paths: Vec<Value>) -> Value {
    json!({"id": id, "type": kind, "compiledAttributes": {}, "paths": paths})
}

/// The members of the Help Desk user group: the first two directory users (none with fewer than two,
/// so the group never makes a device look assigned).
fn help_desk(fleet: &Fleet) -> Vec<&SimUser> {
    let users: Vec<&SimUser> = fleet.users.values().take(2).collect();
    if users.len() == 2 {
        users
    } else {
        Vec::new()
    }
}

fn bound_to_help_desk(d: &SimDevice) -> bool {
    d.index % 4 == 3
}

/// The users bound to a system, one row per user with every path, sorted by user id.
fn bound_users(fleet: &Fleet, d: &SimDevice) -> Vec<Value> {
    let mut rows: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    if let Some(u) = fleet.user_of(d) {
        let id = user_id(u.index);
        rows.entry(id.clone())
            .or_default()
            .push(json!([hop(&id, "user")]));
    }
    if bound_to_help_desk(d) {
        let group = ids::object_id(NS_USER_GROUP, 0);
        for u in help_desk(fleet) {
            let id = user_id(u.index);
            rows.entry(id.clone())
                .or_default()
                .push(json!([hop(&group, "user_group"), hop(&id, "user")]));
        }
    }
    rows.into_iter()
        .map(|(id, paths)| with_paths(&id, "user", paths))
        .collect()
}

async fn system_users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let (skip, limit) = paging(&query_pairs(raw.as_deref()), Api::V2)?;
    let fleet = ctx.fleet();
    let d = device_in(&fleet, org, &id)?;
    let rows = bound_users(&fleet, d);
    let total = rows.len();
    Ok(v2_list(
        total,
        rows.into_iter().skip(skip).take(limit).collect(),
    ))
}

/// The systems bound to a user, one row per system with every path from the user, in enrolment order:
/// the user's own devices directly, and every Help Desk device through the user group when the user is
/// in it.
fn bound_systems<'f>(fleet: &'f Fleet, u: &SimUser) -> Vec<(&'f SimDevice, Vec<Value>)> {
    let in_help_desk = help_desk(fleet).iter().any(|h| h.index == u.index);
    let group = ids::object_id(NS_USER_GROUP, 0);
    fleet
        .devices
        .values()
        .filter_map(|d| {
            let mut paths = Vec::new();
            if d.user == Some(u.index) {
                paths.push(json!([hop(&system_id(d.index), "system")]));
            }
            if in_help_desk && bound_to_help_desk(d) {
                paths.push(json!([
                    hop(&group, "user_group"),
                    hop(&system_id(d.index), "system")
                ]));
            }
            (!paths.is_empty()).then_some((d, paths))
        })
        .collect()
}

async fn user_systems(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let (skip, limit) = paging(&query_pairs(raw.as_deref()), Api::V2)?;
    let fleet = ctx.fleet();
    let user = (org == Org::Main)
        .then(|| index_of(NS_USER, &id))
        .flatten()
        .and_then(|i| fleet.users.get(&i))
        .ok_or_else(not_found)?;
    let rows = bound_systems(&fleet, user);
    let total = rows.len();
    Ok(v2_list(
        total,
        rows.into_iter()
            .skip(skip)
            .take(limit)
            .map(|(d, paths)| with_paths(&system_id(d.index), "system", paths))
            .collect(),
    ))
}

async fn system_memberof(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let (skip, limit) = paging(&query_pairs(raw.as_deref()), Api::V2)?;
    let fleet = ctx.fleet();
    let d = device_in(&fleet, org, &id)?;
    let groups: Vec<&SimGroup> = fleet.groups_of(d.index).collect();
    let rows = groups
        .iter()
        .skip(skip)
        .take(limit)
        .map(|g| {
            let id = group_id(g.index);
            with_paths(&id, "system_group", vec![json!([hop(&id, "system_group")])])
        })
        .collect();
    Ok(v2_list(groups.len(), rows))
}

// ---------------------------------------------------------------------------------------------------
// System groups

fn membership_method(g: &SimGroup) -> &'static str {
    if g.smart {
        "DYNAMIC_AUTOMATED"
    } else {
        "STATIC"
    }
}

fn group_field<'f>(g: &'f SimGroup, field: &str) -> Option<Cow<'f, str>> {
    Some(match field {
        "id" => Cow::Owned(group_id(g.index)),
        "name" => Cow::Borrowed(g.name.as_str()),
        "type" => Cow::Borrowed("system_group"),
        "membershipMethod" => Cow::Borrowed(membership_method(g)),
        "description" => Cow::Borrowed(""),
        _ => return None,
    })
}

fn group_json(g: &SimGroup) -> Value {
    json!({
        "id": group_id(g.index),
        "name": g.name,
        "description": "",
        "type": "system_group",
        "membershipMethod": membership_method(g),
        "attributes": null,
        "email": "",
    })
}

/// The group nested in another: the highest-numbered group, while it has no members, sits in the
/// lowest-numbered one. Returns (parent, child).
fn nesting(fleet: &Fleet) -> Option<(u32, &SimGroup)> {
    let parent = fleet.groups.values().next()?;
    let child = fleet.groups.values().next_back()?;
    (parent.index != child.index && child.members.is_empty()).then_some((parent.index, child))
}

fn group_in<'f>(fleet: &'f Fleet, org: Org, id: &str) -> Result<&'f SimGroup, Response> {
    (org == Org::Main)
        .then(|| index_of(NS_GROUP, id))
        .flatten()
        .and_then(|i| fleet.groups.get(&i))
        .ok_or_else(not_found)
}

/// The member devices of a group that exist.
fn member_devices<'f>(
    fleet: &'f Fleet,
    g: &'f SimGroup,
) -> impl Iterator<Item = &'f SimDevice> + 'f {
    g.members.iter().filter_map(|i| fleet.devices.get(i))
}

async fn list_groups(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let pairs = query_pairs(raw.as_deref());
    let (skip, limit) = paging(&pairs, Api::V2)?;
    let filters = filters(&pairs, Api::V2)?;
    let sort = sort_keys(&pairs, &["name", "id"]);
    if org == Org::Other {
        return Ok(v2_list(0, Vec::new()));
    }
    let fleet = ctx.fleet();
    let mut groups: Vec<&SimGroup> = fleet
        .groups
        .values()
        .filter(|g| {
            filters
                .iter()
                .all(|f| f.accepts(group_field(g, &f.field).as_deref()))
        })
        .collect();
    groups.sort_by(|a, b| {
        compare_keys(
            &sort,
            |k| group_field(a, k),
            |k| group_field(b, k),
            a.index.cmp(&b.index),
        )
    });
    let rows = groups
        .iter()
        .skip(skip)
        .take(limit)
        .map(|g| group_json(g))
        .collect();
    Ok(v2_list(groups.len(), rows))
}

async fn get_group(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let fleet = ctx.fleet();
    Ok(json(
        StatusCode::OK,
        group_json(group_in(&fleet, org, &id)?),
    ))
}

async fn group_members(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let (skip, limit) = paging(&query_pairs(raw.as_deref()), Api::V2)?;
    let fleet = ctx.fleet();
    let g = group_in(&fleet, org, &id)?;
    let nested = nesting(&fleet)
        .filter(|(parent, _)| *parent == g.index)
        .map(|(_, child)| connection(&group_id(child.index), "system_group"));
    let systems = member_devices(&fleet, g).count();
    let rows = member_devices(&fleet, g)
        .map(|d| connection(&system_id(d.index), "system"))
        .chain(nested.clone())
        .skip(skip)
        .take(limit)
        .collect();
    Ok(v2_list(systems + usize::from(nested.is_some()), rows))
}

async fn group_membership(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let (skip, limit) = paging(&query_pairs(raw.as_deref()), Api::V2)?;
    let fleet = ctx.fleet();
    let g = group_in(&fleet, org, &id)?;
    let total = member_devices(&fleet, g).count();
    let rows = member_devices(&fleet, g)
        .skip(skip)
        .take(limit)
        .map(|d| {
            let id = system_id(d.index);
            with_paths(&id, "system", vec![json!([hop(&id, "system")])])
        })
        .collect();
    Ok(v2_list(total, rows))
}

// ---------------------------------------------------------------------------------------------------
// Organizations

async fn organizations(headers: HeaderMap, RawQuery(raw): RawQuery) -> Result<Response, Response> {
    authorize(&headers, Route::Organizations)?;
    let (skip, limit) = paging(&query_pairs(raw.as_deref()), Api::V1)?;
    let key = header_str(&headers, "x-api-key")
        .map(str::trim)
        .unwrap_or_default();
    let orgs = orgs_of(key);
    let results = orgs
        .iter()
        .skip(skip)
        .take(limit)
        .map(|(id, org)| {
            let name = match org {
                Org::Main => "Sandbox Corp",
                Org::Other => "Sandbox Subsidiary",
            };
            json!({"_id": id, "displayName": name, "logoUrl": ""})
        })
        .collect();
    Ok(v1_list(orgs.len(), results))
}

impl ProviderSim for JumpCloudSim {
    fn router(&self) -> Router<Ctx> {
        Router::new()
            .route("/api/organizations", get(organizations))
            .route("/api/systems", get(list_systems))
            .route("/api/systems/{id}", get(get_system))
            .route("/api/systemusers", get(list_users))
            .route("/api/systemusers/{id}", get(get_user))
            .route("/api/v2/systems/{id}/users", get(system_users))
            .route("/api/v2/users/{id}/systems", get(user_systems))
            .route("/api/v2/systems/{id}/memberof", get(system_memberof))
            .route("/api/v2/systemgroups", get(list_groups))
            .route("/api/v2/systemgroups/{id}", get(get_group))
            .route("/api/v2/systemgroups/{id}/members", get(group_members))
            .route(
                "/api/v2/systemgroups/{id}/membership",
                get(group_membership),
            )
            .fallback(|| async { not_found() })
    }

    fn config(&self, base: &Url, access: Access) -> ProviderConfig {
        let key = match access {
            Access::WrongSecret => WRONG_KEY,
            Access::NoDeviceRead => NO_DEVICES_KEY,
            _ => API_KEY,
        };
        let mut config = JumpCloudConfig::new(key).expect("the sandbox key is not blank");
        config.base_url = Some(base.clone());
        ProviderConfig::JumpCloud(config)
    }

    fn expected_device(&self, fleet: &Fleet, device: &SimDevice) -> ExpectedDevice {
        let user = fleet.user_of(device);
        let display_name = user
            .map(|u| u.full_name.clone())
            .unwrap_or_else(|| device.name.clone());
        ExpectedDevice {
            index: device.index,
            serial_number: device.serial.clone(),
            device_id: system_id(device.index),
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
                let mut members: Vec<String> = member_devices(fleet, g)
                    .map(|d| system_id(d.index))
                    .collect();
                members.sort();
                ExpectedGroup {
                    id: group_id(g.index),
                    name: g.name.clone(),
                    members,
                }
            })
            .collect()
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        error_body(status, message)
    }

    fn max_page_size(&self) -> usize {
        LIMIT_MAX
    }

    /// One `/api/v2/systems/{id}/users` page for every system without a `primarySystemUser` (a system is
    /// never bound to more than a page of users), or, when the directory holds fewer users than that,
    /// the `/api/v2/users/{id}/systems` pages of every user instead.
    fn per_device_listing_requests(&self, fleet: &Fleet) -> usize {
        let per_system = fleet
            .devices
            .values()
            .filter(|d| fleet.user_of(d).is_none() || !has_primary_user(d))
            .count();
        if fleet.users.len() >= per_system || per_system <= LIMIT_MAX {
            return per_system;
        }
        fleet
            .users
            .values()
            .map(|u| bound_systems(fleet, u).len().div_ceil(LIMIT_MAX).max(1))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_decode_to_their_numbers() {
        let id = system_id(4242);
        assert_eq!(index_of(NS_SYSTEM, &id), Some(4242));
        assert_eq!(index_of(NS_SYSTEM, &id.to_ascii_uppercase()), Some(4242));
        assert_eq!(index_of(NS_USER, &id), None, "another namespace's id");
        assert_eq!(index_of(NS_SYSTEM, "not-an-id"), None);
        let mut forged = id.clone();
        forged.replace_range(0..1, if id.starts_with('0') { "1" } else { "0" });
        assert_eq!(index_of(NS_SYSTEM, &forged), None);
    }

    #[test]
    fn sorted_order_is_id_order() {
        let order = indexes_sorted_by_id(NS_SYSTEM, 500, ids::object_id);
        let ids: Vec<String> = order.iter().map(|i| system_id(*i)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(order.len(), 500);
    }

    #[test]
    fn hostnames_are_ascii() {
        let d = SimDevice {
            index: 3,
            serial: "X".into(),
            name: "Zoë’s MacBook Pro".into(),
            user: None,
        };
        assert_eq!(hostname(&d), "Zos-MacBook-Pro.local");
        let d = SimDevice {
            name: "’’".into(),
            ..d
        };
        assert_eq!(hostname(&d), "system-3.local");
    }
}
