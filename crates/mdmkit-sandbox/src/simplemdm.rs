//! SimpleMDM: the REST API under `/api/v1` on the account's host (`https://a.simplemdm.com` in real life),
//! as described by the API documentation dumps (v1.20–1.39), the SDK models validated against API 1.51
//! and the captured `assignment_groups` payloads cited in the shared reference (section 3).
//!
//! # Auth
//! HTTP Basic on every route: the API key is the **user name**, the password is empty (`curl -u KEY:`).
//! The password is not checked (the vendor documents it as empty; what it does with a non-empty one is
//! not documented). No `Authorization` header, another scheme (`Bearer KEY` included) or an unknown key
//! gets `401 {"errors":[{"title":"Unauthorized"}]}` with `WWW-Authenticate: Basic realm="SimpleMDM API"`
//! (the exact 401 body is UNCONFIRMED in the reference; this is the shape community fixtures use). Keys
//! can be restricted per permission domain: a key without a domain gets
//! `403 {"errors":[{"title":"Forbidden"}]}` on that domain's routes (the 403 body is UNCONFIRMED too).
//!
//! | Credentials ([`Access`]) | API key (user name) | permission domains |
//! |---|---|---|
//! | `Full`, `NoDirectoryDeviceRead` | [`API_KEY`] | every domain |
//! | `WrongSecret` | [`WRONG_API_KEY`] | none: 401 everywhere |
//! | `NoDeviceRead` | [`ACCOUNT_ONLY_API_KEY`] | account only: `GET /api/v1/account` is 200, devices, custom attributes and assignment groups are 403 |
//!
//! Every configuration handed out also sets `SimpleMdmConfig::user_attribute` to [`USER_ATTRIBUTE`]
//! (`"owner"`), the custom attribute that carries the assigned user (below).
//!
//! # Endpoints
//! - `GET /api/v1/account`: `{"data":{"type":"account","attributes":{"name","apple_store_country_code",
//!   "subscription":{"licenses":{"available","total"}}}}}`.
//! - `GET /api/v1/devices`: cursor-paged `{"data":[device…],"has_more":bool}` in ascending id order.
//!   - `limit`: 1–100, default 10. The reference documents the range but not what the server does
//!     outside it; this server clamps (`limit=500` serves 100 rows, `limit=0` one row) and answers 400
//!     `{"errors":[{"title":"limit is invalid"}]}` to a value that is not an integer (a sandbox choice).
//!   - `starting_after=<device id>`: rows with a greater id (a smaller one with `direction=desc`). The id
//!     need not exist any more (a deleted device's id still works as a cursor). Not an integer: 400
//!     `starting_after is invalid` (a sandbox choice).
//!   - `direction`: `asc` (default) or `desc`.
//!   - `has_more`: exact, so the last page, even a full one, says `false`.
//!   - `search`: fuzzy, as the vendor describes it: a case-insensitive substring match on any of `name`,
//!     `device_name`, `unique_identifier` (UDID), `serial_number`, `imei`, `wifi_mac` and
//!     `phone_number`. A serial therefore also finds every device whose serial or name contains it (device
//!     1's serial is device 0's plus one character), and the client must keep exact matches itself.
//!   - `include_awaiting_enrollment` (`true`/`1`; default false): devices "awaiting enrollment" are left
//!     out unless it is set. Every device whose fleet index is 5 mod 16 awaits enrollment (an ADE record
//!     created before the device checked in): it has its serial and SimpleMDM name, but `device_name`,
//!     `unique_identifier`, `wifi_mac` and the OS fields are `null`.
//!   - `include_secret_custom_attributes` (`true`/`1`; default false): adds the secret custom attribute
//!     `recovery_pin` to each row's `custom_attribute_values`.
//! - `GET /api/v1/devices/{id}`: `{"data":device}` (awaiting-enrollment records included), 404
//!   `{"errors":[{"title":"object not found"}]}` for an unknown id; also takes
//!   `include_secret_custom_attributes`.
//! - `GET /api/v1/devices/{id}/custom_attribute_values`: `{"data":[custom_attribute_value…]}`.
//! - `GET /api/v1/custom_attributes`: the account's attribute definitions (`owner`, `email`,
//!   `recovery_pin`), `{"data":[…],"has_more":false}`.
//! - `GET /api/v1/assignment_groups`: cursor-paged like devices (`limit`, `starting_after`, `direction`,
//!   `has_more`), each `{"type":"assignment_group","id":int,"attributes":{"name","auto_deploy","priority",
//!   "app_track_location","type","install_type","group_type"},"relationships":{"apps","device_groups",
//!   "devices","media"}}`. Members come embedded in `relationships.devices.data[{type:"device",id}]`, and,
//!   as in the captured live data, some ids appear twice: every member whose fleet index is 3 mod 7 is
//!   listed twice. `group_type` is `dynamic` for the fleet's smart group, `static` otherwise.
//! - `GET /api/v1/assignment_groups/{id}`: `{"data":group}`, or 404.
//! - Anything else: 404 `{"errors":[{"title":"object not found"}]}` (before any credential check, as a
//!   routing miss would be).
//! - The vendor's error body for injected faults (429, 503): `{"errors":[{"title":message}]}`.
//!
//! # Device rows
//! JSON:API-like: `{"type":"device","id":int,"attributes":{…},"relationships":{"groups":{"data":
//! [{"type":"assignment_group","id":int,"group_type":…}]},"custom_attribute_values":{"data":[{"type":
//! "custom_attribute_value","id":"<attribute name>","attributes":{"value":…,"secret":bool}}]}}}`.
//! Attributes: `name` (the fleet's device name, the label set in SimpleMDM), `device_name` (the same
//! name, as the device reports it; `null` while awaiting enrollment), `status` (`enrolled` or
//! `awaiting enrollment`), `serial_number`, `unique_identifier`, `model_name`, `product_name`,
//! `os_version`, `imei`, `wifi_mac`, `phone_number` (iPhones only: fleet index 4 mod 6), `last_seen_at`,
//! `enrolled_at`, `is_supervised`, `dep_enrolled`.
//!
//! # The assigned user
//! SimpleMDM has no assigned-user field. This account exposes the fleet's assignment as the custom
//! attribute [`USER_ATTRIBUTE`] (`owner`), whose value is the assigned user's full name, plus `email`
//! with the user's e-mail address. Both are `""` on an unassigned device, which is how SimpleMDM reports
//! an attribute a device has no value for.
//!
//! # Identifiers and what a correct connector reports
//! Device id = 100000 + fleet index, assignment group id = 5000 + group index, both integers on the wire.
//! With `user_attribute = "owner"`, the user id and the user's name are both the `owner` value (the user's
//! full name: SimpleMDM has no other handle on the user, so two users who share a full name share a user
//! id); unassigned devices have none. The R4 display name is that full name, else the device's `name`,
//! in the listing as in a lookup (rows carry their custom attributes). Groups are every assignment group,
//! members de-duplicated and sorted.

use std::collections::BTreeMap;
use std::ops::Bound;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use mdmkit_core::{ProviderConfig, SimpleMdmConfig};
use serde_json::{json, Value};
use url::Url;

use crate::common::{
    basic, device_named_by_user, expected_groups, json, query_get, query_pairs, Ctx, ProviderSim,
};
use crate::model::{ids, Fleet, SimDevice, SimGroup};
use crate::{Access, ExpectedDevice, ExpectedGroup};

/// The API key with every permission.
pub(crate) const API_KEY: &str = "sandbox-simplemdm-api-key";
/// An API key whose only permission domain is the account.
pub(crate) const ACCOUNT_ONLY_API_KEY: &str = "sandbox-simplemdm-account-only-key";
/// A key the account does not know.
pub(crate) const WRONG_API_KEY: &str = "sandbox-simplemdm-revoked-key";
/// The custom attribute holding the assigned user's full name.
pub(crate) const USER_ATTRIBUTE: &str = "owner";
/// Device ids are this plus the fleet index.
const DEVICE_ID_BASE: i64 = 100_000;
/// Assignment group ids are this plus the group index.
const GROUP_ID_BASE: i64 = 5_000;
/// The most rows a list serves.
const MAX_LIMIT: i64 = 100;
/// Rows a list serves when `limit` is absent.
const DEFAULT_LIMIT: i64 = 10;
/// Namespace for this module's deterministic ids.
const NS: u8 = 40;

pub(crate) struct SimpleMdmSim;

/// A permission domain of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Domain {
    Account,
    Devices,
    CustomAttributes,
    AssignmentGroups,
}

fn error_body(status: StatusCode, title: &str) -> Response {
    json(status, json!({"errors": [{"title": title}]}))
}

fn not_found() -> Response {
    error_body(StatusCode::NOT_FOUND, "object not found")
}

fn unauthorized() -> Response {
    let mut response = error_body(StatusCode::UNAUTHORIZED, "Unauthorized");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"SimpleMDM API\""),
    );
    response
}

/// Checks the Basic credentials (key as user name) against the domain the route belongs to; returns the
/// refusal, if any.
fn refusal(headers: &HeaderMap, domain: Domain) -> Option<Response> {
    match basic(headers) {
        Some((key, _)) if key == API_KEY => None,
        Some((key, _)) if key == ACCOUNT_ONLY_API_KEY => {
            (domain != Domain::Account).then(|| error_body(StatusCode::FORBIDDEN, "Forbidden"))
        }
        _ => Some(unauthorized()),
    }
}

fn device_id(index: u32) -> i64 {
    DEVICE_ID_BASE + i64::from(index)
}

fn group_id(index: u32) -> i64 {
    GROUP_ID_BASE + i64::from(index)
}

/// Whether a device is still awaiting enrollment (an ADE record the device has not checked in to yet).
fn awaiting_enrollment(index: u32) -> bool {
    index % 16 == 5
}

/// Whether a device is an iPhone (the only ones with an IMEI and a phone number).
fn is_iphone(index: u32) -> bool {
    index % 6 == 4
}

/// Whether a group member is listed twice in `relationships.devices.data`, as live data shows.
fn listed_twice(index: u32) -> bool {
    index % 7 == 3
}

fn truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

fn udid(index: u32) -> String {
    ids::uuid(NS, index).to_uppercase()
}

fn wifi_mac(index: u32) -> String {
    format!(
        "a4:83:e7:{:02x}:{:02x}:{:02x}",
        (index >> 16) & 0xff,
        (index >> 8) & 0xff,
        index & 0xff
    )
}

fn phone_number(index: u32) -> String {
    format!("+1555{:07}", index % 10_000_000)
}

fn imei(index: u32) -> String {
    format!(
        "35 {:06} {:06} {}",
        209_900 + index % 100,
        index % 1_000_000,
        index % 10
    )
}

fn recovery_pin(index: u32) -> String {
    format!("{:06}", (u64::from(index) * 7_919 + 12_345) % 1_000_000)
}

/// The hardware facts of a device: (model name, product name).
fn model(index: u32) -> (&'static str, &'static str) {
    if is_iphone(index) {
        return ("iPhone 15", "iPhone15,4");
    }
    const MACS: &[(&str, &str)] = &[
        ("MacBook Pro (14-inch, 2023)", "Mac14,5"),
        ("MacBook Air (13-inch, M2, 2022)", "Mac14,2"),
        ("iMac (24-inch, 2023)", "Mac15,4"),
        ("Mac mini (2023)", "Mac14,3"),
        ("Mac Studio (2023)", "Mac14,13"),
    ];
    MACS[index as usize % MACS.len()]
}

/// The custom attribute values of a device, secret ones only when asked for.
fn custom_attribute_values(fleet: &Fleet, d: &SimDevice, secrets: bool) -> Vec<Value> {
    let user = fleet.user_of(d);
    let value = |id: &str, value: &str, secret: bool| json!({"type": "custom_attribute_value", "id": id, "attributes": {"value": value, "secret": secret}});
    let mut values = vec![
        value(
            USER_ATTRIBUTE,
            user.map(|u| u.full_name.as_str()).unwrap_or(""),
            false,
        ),
        value("email", user.map(|u| u.email.as_str()).unwrap_or(""), false),
    ];
    if secrets {
        values.push(value("recovery_pin", &recovery_pin(d.index), true));
    }
    values
}

fn group_type(g: &SimGroup) -> &'static str {
    if g.smart {
        "dynamic"
    } else {
        "static"
    }
}

fn device_json(fleet: &Fleet, d: &SimDevice, secrets: bool) -> Value {
    let i = d.index;
    let enrolled = !awaiting_enrollment(i);
    let iphone = is_iphone(i);
    let (model_name, product_name) = model(i);
    let when_enrolled = |v: Value| if enrolled { v } else { Value::Null };
    let groups: Vec<Value> = fleet
        .groups_of(i)
        .map(|g| json!({"type": "assignment_group", "id": group_id(g.index), "group_type": group_type(g)}))
        .collect();
    json!({
        "type": "device",
        "id": device_id(i),
        "attributes": {
            "name": d.name,
            "device_name": when_enrolled(json!(d.name)),
            "status": if enrolled { "enrolled" } else { "awaiting enrollment" },
            "enrollment_channels": if enrolled { json!(["device"]) } else { json!([]) },
            "serial_number": d.serial,
            "unique_identifier": when_enrolled(json!(udid(i))),
            "model_name": when_enrolled(json!(model_name)),
            "product_name": when_enrolled(json!(product_name)),
            "os_version": when_enrolled(json!(if iphone { "18.1" } else { "15.2" })),
            "imei": if enrolled && iphone { json!(imei(i)) } else { Value::Null },
            "wifi_mac": when_enrolled(json!(wifi_mac(i))),
            "phone_number": if enrolled && iphone { json!(phone_number(i)) } else { Value::Null },
            "last_seen_at": when_enrolled(json!("2026-11-02T08:15:00.000-07:00")),
            "enrolled_at": when_enrolled(json!("2025-03-02T11:20:01.000-08:00")),
            "is_supervised": enrolled,
            "dep_enrolled": i % 2 == 0 || !enrolled,
        },
        "relationships": {
            "groups": {"data": groups},
            "custom_attribute_values": {"data": custom_attribute_values(fleet, d, secrets)},
        },
    })
}

fn group_json(fleet: &Fleet, g: &SimGroup) -> Value {
    let mut members = Vec::with_capacity(g.members.len());
    for &index in g.members.iter().filter(|i| fleet.devices.contains_key(i)) {
        let member = json!({"type": "device", "id": device_id(index)});
        if listed_twice(index) {
            members.push(member.clone());
        }
        members.push(member);
    }
    json!({
        "type": "assignment_group",
        "id": group_id(g.index),
        "attributes": {
            "name": g.name,
            "auto_deploy": true,
            "priority": g.index % 10,
            "app_track_location": false,
            "type": "standard",
            "install_type": "managed",
            "group_type": group_type(g),
        },
        "relationships": {
            "apps": {"data": []},
            "device_groups": {"data": []},
            "devices": {"data": members},
            "media": {"data": []},
        },
    })
}

/// The cursor parameters of a list request.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    limit: usize,
    after: Option<i64>,
    desc: bool,
}

/// A list request's query and cursor, checked in SimpleMDM's order: the key's `domain`, then the cursor
/// parameters (a malformed one is a 400).
fn list_request(
    headers: &HeaderMap,
    raw: Option<&str>,
    domain: Domain,
) -> Result<(Vec<(String, String)>, Cursor), Response> {
    if let Some(refused) = refusal(headers, domain) {
        return Err(refused);
    }
    let pairs = query_pairs(raw);
    let cursor = cursor(&pairs).map_err(|title| error_body(StatusCode::BAD_REQUEST, title))?;
    Ok((pairs, cursor))
}

/// The cursor parameters, or the title of the 400 a malformed one gets.
fn cursor(pairs: &[(String, String)]) -> Result<Cursor, &'static str> {
    let limit = match query_get(pairs, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .trim()
            .parse::<i64>()
            .map_err(|_| "limit is invalid")?
            .clamp(1, MAX_LIMIT),
    };
    let after = match query_get(pairs, "starting_after").map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .map_err(|_| "starting_after is invalid")?,
        ),
    };
    let desc = query_get(pairs, "direction").is_some_and(|d| d.eq_ignore_ascii_case("desc"));
    Ok(Cursor {
        limit: limit as usize,
        after,
        desc,
    })
}

/// One page of `items` (keyed by index, ids = `base` + index) after the cursor, keeping only rows that
/// pass `keep`; returns the rows and whether more passing rows follow. Costs O(log n + rows scanned).
fn cursor_page<T>(
    items: &BTreeMap<u32, T>,
    base: i64,
    cursor: Cursor,
    mut keep: impl FnMut(&T) -> bool,
) -> (Vec<&T>, bool) {
    let take = cursor.limit + 1;
    let mut rows: Vec<&T> = if cursor.desc {
        let upper = match cursor.after.map(|id| id - base) {
            None => Bound::Unbounded,
            Some(bound) if bound <= 0 => return (Vec::new(), false),
            Some(bound) => match u32::try_from(bound) {
                Ok(bound) => Bound::Excluded(bound),
                Err(_) => Bound::Unbounded,
            },
        };
        items
            .range((Bound::Unbounded, upper))
            .rev()
            .map(|(_, v)| v)
            .filter(|v| keep(v))
            .take(take)
            .collect()
    } else {
        let lower = match cursor.after.map(|id| id - base) {
            None => Bound::Unbounded,
            Some(bound) if bound < 0 => Bound::Unbounded,
            Some(bound) => match u32::try_from(bound) {
                Ok(bound) => Bound::Excluded(bound),
                Err(_) => return (Vec::new(), false),
            },
        };
        items
            .range((lower, Bound::Unbounded))
            .map(|(_, v)| v)
            .filter(|v| keep(v))
            .take(take)
            .collect()
    };
    let has_more = rows.len() > cursor.limit;
    rows.truncate(cursor.limit);
    (rows, has_more)
}

/// SimpleMDM's fuzzy `search`: a case-insensitive substring of any searchable field.
fn matches_search(d: &SimDevice, needle: &str) -> bool {
    let hit = |field: &str| field.to_lowercase().contains(needle);
    if hit(&d.name) || hit(&d.serial) {
        return true;
    }
    if awaiting_enrollment(d.index) {
        return false;
    }
    hit(&udid(d.index))
        || hit(&wifi_mac(d.index))
        || (is_iphone(d.index) && (hit(&imei(d.index)) || hit(&phone_number(d.index))))
}

async fn account(headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&headers, Domain::Account) {
        return refused;
    }
    json(
        StatusCode::OK,
        json!({"data": {"type": "account", "attributes": {
            "name": "mdmkit Sandbox",
            "apple_store_country_code": "US",
            "subscription": {"licenses": {"available": 100_000, "total": 200_000}},
        }}}),
    )
}

async fn list_devices(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (pairs, cursor) = match list_request(&headers, raw.as_deref(), Domain::Devices) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let awaiting = truthy(query_get(&pairs, "include_awaiting_enrollment"));
    let secrets = truthy(query_get(&pairs, "include_secret_custom_attributes"));
    let needle = query_get(&pairs, "search")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let fleet = ctx.fleet();
    let (rows, has_more) = cursor_page(&fleet.devices, DEVICE_ID_BASE, cursor, |d| {
        (awaiting || !awaiting_enrollment(d.index))
            && needle.as_deref().is_none_or(|n| matches_search(d, n))
    });
    let data: Vec<Value> = rows
        .into_iter()
        .map(|d| device_json(&fleet, d, secrets))
        .collect();
    json(StatusCode::OK, json!({"data": data, "has_more": has_more}))
}

/// The device an id in a path names, if any.
fn device_by_path<'a>(fleet: &'a Fleet, id: &str) -> Option<&'a SimDevice> {
    let index = id.parse::<i64>().ok()? - DEVICE_ID_BASE;
    fleet.devices.get(&u32::try_from(index).ok()?)
}

async fn show_device(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = refusal(&headers, Domain::Devices) {
        return refused;
    }
    let pairs = query_pairs(raw.as_deref());
    let secrets = truthy(query_get(&pairs, "include_secret_custom_attributes"));
    let fleet = ctx.fleet();
    match device_by_path(&fleet, &id) {
        Some(d) => json(
            StatusCode::OK,
            json!({"data": device_json(&fleet, d, secrets)}),
        ),
        None => not_found(),
    }
}

async fn device_attribute_values(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = refusal(&headers, Domain::CustomAttributes) {
        return refused;
    }
    let fleet = ctx.fleet();
    match device_by_path(&fleet, &id) {
        Some(d) => json(
            StatusCode::OK,
            json!({"data": custom_attribute_values(&fleet, d, false)}),
        ),
        None => not_found(),
    }
}

async fn custom_attributes(headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&headers, Domain::CustomAttributes) {
        return refused;
    }
    let definition = |name: &str| json!({"type": "custom_attribute", "id": name, "attributes": {"name": name, "default_value": ""}});
    json(
        StatusCode::OK,
        json!({
            "data": [definition(USER_ATTRIBUTE), definition("email"), definition("recovery_pin")],
            "has_more": false,
        }),
    )
}

async fn list_groups(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (_, cursor) = match list_request(&headers, raw.as_deref(), Domain::AssignmentGroups) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let fleet = ctx.fleet();
    let (rows, has_more) = cursor_page(&fleet.groups, GROUP_ID_BASE, cursor, |_| true);
    let data: Vec<Value> = rows.into_iter().map(|g| group_json(&fleet, g)).collect();
    json(StatusCode::OK, json!({"data": data, "has_more": has_more}))
}

async fn show_group(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = refusal(&headers, Domain::AssignmentGroups) {
        return refused;
    }
    let fleet = ctx.fleet();
    let group = id
        .parse::<i64>()
        .ok()
        .and_then(|id| u32::try_from(id - GROUP_ID_BASE).ok())
        .and_then(|index| fleet.groups.get(&index));
    match group {
        Some(g) => json(StatusCode::OK, json!({"data": group_json(&fleet, g)})),
        None => not_found(),
    }
}

impl ProviderSim for SimpleMdmSim {
    fn router(&self) -> Router<Ctx> {
        Router::new()
            .route("/api/v1/account", get(account))
            .route("/api/v1/devices", get(list_devices))
            .route("/api/v1/devices/{id}", get(show_device))
            .route(
                "/api/v1/devices/{id}/custom_attribute_values",
                get(device_attribute_values),
            )
            .route("/api/v1/custom_attributes", get(custom_attributes))
            .route("/api/v1/assignment_groups", get(list_groups))
            .route("/api/v1/assignment_groups/{id}", get(show_group))
            .fallback(|| async { not_found() })
    }

    fn config(&self, base: &Url, access: Access) -> ProviderConfig {
        let key = match access {
            Access::WrongSecret => WRONG_API_KEY,
            Access::NoDeviceRead => ACCOUNT_ONLY_API_KEY,
            _ => API_KEY,
        };
        let mut config = SimpleMdmConfig::new(key).expect("the sandbox key is not blank");
        config.base_url = Some(base.clone());
        config.user_attribute = Some(USER_ATTRIBUTE.to_owned());
        ProviderConfig::SimpleMdm(config)
    }

    fn expected_device(&self, fleet: &Fleet, device: &SimDevice) -> ExpectedDevice {
        // Rows carry their custom attributes, so the listing names the user as a lookup does; the user is
        // known by the name the attribute holds.
        device_named_by_user(
            fleet,
            device,
            |index| device_id(index).to_string(),
            |u| u.full_name.clone(),
        )
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        expected_groups(fleet, group_id, device_id)
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        error_body(status, message)
    }

    fn max_page_size(&self) -> usize {
        MAX_LIMIT as usize
    }
}
