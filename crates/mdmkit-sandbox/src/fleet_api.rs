//! Fleet (fleetdm) REST API under `/api/v1/fleet`: bearer tokens, 0-based `page` + `per_page` with no
//! total, hosts by identifier, labels and their hosts, the `{"message","errors":[{"name","reason"}]}` error
//! body, and the paging defaults of the real server (no `page` and no `per_page` returns everything;
//! `page` without `per_page` returns 20; `per_page <= 0` is a 400).
//!
//! A path no route serves gets what the server's router (gorilla/mux, with no handler of its own for
//! unknown paths) answers: `404 page not found` as plain text, not Fleet's JSON error body, which only the
//! API's handlers write (an unknown host, an unknown label).
//!
//! # Ordering and keyset paging (Fleet's `appendListOptionsWithCursorToSQL`)
//! `order_key` (`id`, `updated_at`, `hostname`, `hardware_serial`) and `order_direction`
//! (`asc`/`desc`) order the host list; rows equal on the key come in id order. `after` keeps only rows
//! whose key is strictly greater (`desc`: smaller) than its value and **disables `page`**, as Fleet
//! does; `after` or `order_direction` without `order_key` is a 400. `after` on `updated_at` is read as a
//! timestamp (`2026-11-01 10:00:00` or RFC 3339, UTC).
//!
//! Every host carries `updated_at`: the fleet's change time of the device, at second precision.
//!
//! # SCIM (Fleet Premium)
//! `GET /api/v1/fleet/scim/Users` (and `/api/latest/fleet/scim/Users`) serves the IdP users as an RFC 7644
//! `ListResponse` (`schemas`, `totalResults`, `itemsPerPage`, `startIndex`, `Resources`), ordered by id,
//! paged by `startIndex` (1-based, below 1 means 1) and `count` (below 1 means 100; above 100 is a 400
//! `tooMany`), filterable by `userName eq "<name>"` (any other filter gives an empty page, as Fleet's
//! handler does). Fleet authorises every SCIM request as a *write* of SCIM users, so only the admin token
//! ([`TOKEN`]) reads it; the observer token ([`OBSERVER_TOKEN`], [`Access::LeastPrivilege`]) gets 403 and
//! the no-hosts token too; a wrong token 401. Refusals are SCIM error bodies
//! (`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail","status":"403"}`,
//! `application/scim+json`). Without Premium ([`crate::Sandbox::set_fleet_premium`]) the routes are
//! absent: Fleet's 404.
//!
//! Users: SCIM id = user index + 1; `userName` is the user's e-mail, except every 17th user (index 3 mod
//! 17), whose `userName` capitalises it, and every 19th (index 4 mod 19), whose `userName` is the login
//! name with the e-mail only in `emails[]`. Every 11th user (index 5 mod 11) has no `name`; every 13th
//! (index 7 mod 13) was never provisioned and is absent. Fleet links a host's IdP e-mail to a SCIM user by
//! `userName` (case-insensitively), else by e-mail, and then shows that user's `userName` as the host's
//! `end_users[].idp_username` and "given family" as `idp_full_name`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use mdmkit_core::{FleetConfig, ProviderConfig};
use serde_json::{json, Value};
use url::Url;

use crate::common::{
    bearer, expected_groups, json, member_devices, query_get, query_pairs, window, Ctx, ProviderSim,
};
use crate::model::{ids, Fleet, SimDevice, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};

/// The API token with full access.
pub(crate) const TOKEN: &str = "sandbox-fleet-token";
/// A token of a user whose role cannot read hosts.
pub(crate) const NO_HOSTS_TOKEN: &str = "sandbox-fleet-no-hosts";
/// A token of a global observer: reads hosts and labels, but not SCIM users.
pub(crate) const OBSERVER_TOKEN: &str = "sandbox-fleet-observer";
/// Id of the builtin "All Hosts" label every Fleet server has.
const ALL_HOSTS_LABEL: u32 = 6;
const LABEL_BASE: u32 = 100;

pub(crate) struct FleetSim;

fn host_id(index: u32) -> String {
    (index + 1).to_string()
}

fn idp_id(user: u32) -> String {
    ids::uuid(30, user)
}

/// What SCIM holds for a user: `None` when the user was never provisioned.
struct ScimUser<'f> {
    user: &'f SimUser,
    user_name: String,
    /// (given, family), absent for users provisioned without a name.
    name: Option<(&'f str, &'f str)>,
}

fn scim_user(u: &SimUser) -> Option<ScimUser<'_>> {
    if u.index % 13 == 7 {
        return None;
    }
    let user_name = if u.index % 17 == 3 {
        let mut chars = u.email.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    } else if u.index % 19 == 4 {
        u.username.clone()
    } else {
        u.email.clone()
    };
    let name = (u.index % 11 != 5).then(|| {
        u.full_name
            .split_once(' ')
            .unwrap_or((u.full_name.as_str(), ""))
    });
    Some(ScimUser {
        user: u,
        user_name,
        name,
    })
}

/// The IdP identity Fleet shows for a host's user: the SCIM `userName` and "given family" when the user
/// is provisioned, else the e-mail from the MDM enrolment and no name.
fn idp_identity(u: &SimUser) -> (String, String) {
    match scim_user(u) {
        Some(s) => (
            s.user_name,
            s.name
                .map(|(g, f)| format!("{g} {f}").trim().to_owned())
                .unwrap_or_default(),
        ),
        None => (u.email.clone(), String::new()),
    }
}

fn updated_at(fleet: &Fleet, d: &SimDevice) -> String {
    fleet
        .changed_at(d.index)
        .map(|t| t.to_rfc3339_opts(mdmkit_core::chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn host_json(fleet: &Fleet, d: &SimDevice, detail: bool, mapping: bool) -> Value {
    let user = fleet.user_of(d);
    let team = (d.index % 3 == 0).then_some((2, "Workstations"));
    let mut host = json!({
        "id": d.index + 1,
        "uuid": ids::uuid(31, d.index),
        "hostname": format!("host-{}.local", d.index),
        "display_name": d.name,
        "computer_name": d.name,
        "hardware_serial": d.serial,
        "hardware_model": "MacBookPro17,1",
        "platform": "darwin",
        "os_version": "macOS 15.2",
        "status": "online",
        "seen_time": "2026-11-01T10:00:00Z",
        "created_at": "2025-03-01T09:00:00Z",
        "updated_at": updated_at(fleet, d),
        "team_id": team.map(|t| t.0),
        "team_name": team.map(|t| t.1),
        "fleet_id": team.map(|t| t.0),
        "fleet_name": team.map(|t| t.1),
        "mdm": {"enrollment_status": "On (automatic)", "name": "Fleet", "connected_to_fleet": true},
    });
    if detail {
        host["end_users"] = match user {
            Some(u) => json!([{
                "idp_id": idp_id(u.index),
                "idp_username": idp_identity(u).0,
                "idp_full_name": idp_identity(u).1,
                "idp_department": "Engineering",
                "idp_groups": ["Everyone"],
                "other_emails": [],
            }]),
            None => json!([]),
        };
        let mut labels = vec![
            json!({"id": ALL_HOSTS_LABEL, "name": "All Hosts", "label_type": "builtin", "label_membership_type": "dynamic"}),
        ];
        labels.extend(fleet.groups_of(d.index).map(|g| {
            json!({"id": LABEL_BASE + g.index, "name": g.name, "label_type": "regular", "label_membership_type": "manual"})
        }));
        host["labels"] = Value::Array(labels);
    }
    if mapping {
        host["device_mapping"] = match user {
            Some(u) => json!([{"email": u.email, "source": "mdm_idp_accounts"}]),
            None => Value::Null,
        };
    }
    host
}

fn error_body(status: StatusCode, message: &str) -> Response {
    json(
        status,
        json!({
            "message": message,
            "errors": [{"name": "base", "reason": message}],
            "uuid": ids::uuid(32, status.as_u16() as u32),
        }),
    )
}

/// What Go's `http.NotFound` writes, gorilla/mux's answer for a path no route serves.
fn no_route() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        "404 page not found\n",
    )
        .into_response()
}

/// Checks the bearer token; `needs_hosts` routes also refuse the no-hosts role.
fn authorize(headers: &HeaderMap, needs_hosts: bool) -> Result<(), Response> {
    match bearer(headers) {
        Some(TOKEN) | Some(OBSERVER_TOKEN) => Ok(()),
        Some(NO_HOSTS_TOKEN) if !needs_hosts => Ok(()),
        Some(NO_HOSTS_TOKEN) => Err(error_body(StatusCode::FORBIDDEN, "forbidden")),
        _ => Err(error_body(
            StatusCode::UNAUTHORIZED,
            "Authentication required",
        )),
    }
}

/// A host list's sort key: what `order_key` names, for a device.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Number(i64),
    Text(String),
}

fn order_key(fleet: &Fleet, d: &SimDevice, key: &str) -> Option<Key> {
    Some(match key {
        "id" => Key::Number(i64::from(d.index) + 1),
        "updated_at" => Key::Number(fleet.changed_at(d.index)?.timestamp()),
        "hostname" => Key::Text(format!("host-{}.local", d.index)),
        "hardware_serial" => Key::Text(d.serial.clone()),
        _ => return None,
    })
}

/// `after` read as the key's type: a number for ids, a timestamp (in seconds) for `updated_at`.
fn after_key(key: &str, raw: &str) -> Option<Key> {
    match key {
        "id" => raw.trim().parse().ok().map(Key::Number),
        "updated_at" => {
            mdmkit_core::changes::parse_timestamp(raw).map(|t| Key::Number(t.timestamp()))
        }
        _ => Some(Key::Text(raw.to_owned())),
    }
}

/// Orders `devices` by `order_key`/`order_direction` and applies `after` (Fleet's keyset paging). Returns
/// whether `after` was given (it disables `page`).
fn order_hosts(
    fleet: &Fleet,
    raw: Option<&str>,
    devices: &mut Vec<&SimDevice>,
) -> Result<bool, Response> {
    let pairs = query_pairs(raw);
    let key = query_get(&pairs, "order_key").filter(|k| !k.is_empty());
    let after = query_get(&pairs, "after").filter(|a| !a.is_empty());
    let descending = query_get(&pairs, "order_direction") == Some("desc");
    let Some(key) = key else {
        if after.is_some() {
            return Err(error_body(
                StatusCode::BAD_REQUEST,
                "order_key must be specified with after",
            ));
        }
        return Ok(false);
    };
    if let Some(after) = after {
        let Some(after) = after_key(key, after) else {
            return Err(error_body(StatusCode::BAD_REQUEST, "invalid after value"));
        };
        devices.retain(|d| {
            order_key(fleet, d, key).is_some_and(|k| if descending { k < after } else { k > after })
        });
    }
    devices.sort_by(|a, b| {
        let order = order_key(fleet, a, key).cmp(&order_key(fleet, b, key));
        let order = if descending { order.reverse() } else { order };
        order.then(a.index.cmp(&b.index))
    });
    Ok(after.is_some())
}

/// Applies Fleet's `page`/`per_page` rules to `items`; `keyset` (an `after` was given) disables `page`.
fn paginate<T: Clone>(raw: Option<&str>, items: &[T]) -> Result<Vec<T>, Response> {
    paginate_keyset(raw, items, false)
}

fn paginate_keyset<T: Clone>(
    raw: Option<&str>,
    items: &[T],
    keyset: bool,
) -> Result<Vec<T>, Response> {
    let pairs = query_pairs(raw);
    if query_get(&pairs, "order_direction").is_some() && query_get(&pairs, "order_key").is_none() {
        return Err(error_body(
            StatusCode::BAD_REQUEST,
            "order_key must be specified with order_direction",
        ));
    }
    let page = query_get(&pairs, "page").map(str::parse::<i64>);
    let per_page = query_get(&pairs, "per_page").map(str::parse::<i64>);
    let per_page = match (page.is_some(), per_page) {
        (_, Some(Ok(n))) if n > 0 => n as usize,
        (_, Some(_)) => {
            return Err(error_body(
                StatusCode::BAD_REQUEST,
                "invalid per_page value",
            ));
        }
        (true, None) => 20,
        (false, None) => return Ok(items.to_vec()),
    };
    let page = match page {
        _ if keyset => 0,
        Some(Ok(p)) if p >= 0 => p as usize,
        Some(_) => return Err(error_body(StatusCode::BAD_REQUEST, "invalid page value")),
        None => 0,
    };
    Ok(window(items, page.saturating_mul(per_page), per_page).to_vec())
}

async fn me(headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&headers, false) {
        return e;
    }
    // The no-hosts user has neither a global role nor a team: Fleet shows it no hosts at all.
    let (role, teams) = if bearer(&headers) == Some(TOKEN) {
        (json!("admin"), json!([{"id": 2, "name": "Workstations"}]))
    } else {
        (Value::Null, json!([]))
    };
    json(
        StatusCode::OK,
        json!({
            "user": {"id": 1, "name": "API user", "email": "api@example.com", "global_role": role,
                     "api_only": true, "teams": teams, "fleets": teams},
            "available_teams": teams,
            "available_fleets": teams,
        }),
    )
}

async fn version(headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&headers, false) {
        return e;
    }
    json(
        StatusCode::OK,
        json!({"version": "4.86.2", "branch": "HEAD", "revision": "sandbox"}),
    )
}

async fn list_hosts(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(e) = authorize(&headers, true) {
        return e;
    }
    let pairs = query_pairs(raw.as_deref());
    let mapping = query_get(&pairs, "device_mapping") == Some("true");
    let fleet = ctx.fleet();
    // `query` searches hostname, serial, uuid and end-user e-mails (case-insensitive substring).
    let query = query_get(&pairs, "query")
        .map(str::to_lowercase)
        .filter(|q| !q.is_empty());
    let mut all: Vec<&SimDevice> = fleet
        .devices
        .values()
        .filter(|d| match &query {
            None => true,
            Some(q) => {
                d.serial.to_lowercase().contains(q.as_str())
                    || format!("host-{}.local", d.index).contains(q.as_str())
                    || ids::uuid(31, d.index).contains(q.as_str())
                    || fleet
                        .user_of(d)
                        .is_some_and(|u| u.email.to_lowercase().contains(q.as_str()))
            }
        })
        .collect();
    let keyset = match order_hosts(&fleet, raw.as_deref(), &mut all) {
        Ok(keyset) => keyset,
        Err(e) => return e,
    };
    match paginate_keyset(raw.as_deref(), &all, keyset) {
        Ok(page) => json(
            StatusCode::OK,
            json!({"hosts": page.iter().map(|d| host_json(&fleet, d, false, mapping)).collect::<Vec<_>>()}),
        ),
        Err(e) => e,
    }
}

async fn count_hosts(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&headers, true) {
        return e;
    }
    json(StatusCode::OK, json!({"count": ctx.fleet().devices.len()}))
}

async fn host_by_identifier(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
) -> Response {
    if let Err(e) = authorize(&headers, true) {
        return e;
    }
    let fleet = ctx.fleet();
    let found = fleet.devices.values().find(|d| {
        d.serial.eq_ignore_ascii_case(&identifier)
            || format!("host-{}.local", d.index) == identifier
            || ids::uuid(31, d.index) == identifier.to_ascii_lowercase()
    });
    host_answer(&fleet, found)
}

async fn host_by_id(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = authorize(&headers, true) {
        return e;
    }
    let fleet = ctx.fleet();
    let index = id.parse::<u32>().ok().and_then(|n| n.checked_sub(1));
    host_answer(&fleet, index.and_then(|i| fleet.devices.get(&i)))
}

/// One host, as both host lookups answer it, or Fleet's 404.
fn host_answer(fleet: &Fleet, host: Option<&SimDevice>) -> Response {
    match host {
        Some(d) => json(
            StatusCode::OK,
            json!({"host": host_json(fleet, d, true, false)}),
        ),
        None => error_body(StatusCode::NOT_FOUND, "Resource Not Found"),
    }
}

fn label_members(fleet: &Fleet, label: u32) -> Option<Vec<&SimDevice>> {
    if label == ALL_HOSTS_LABEL {
        return Some(fleet.devices.values().collect());
    }
    let group = fleet.groups.get(&label.checked_sub(LABEL_BASE)?)?;
    Some(member_devices(fleet, group).collect())
}

async fn labels(State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    if let Err(e) = authorize(&headers, true) {
        return e;
    }
    let fleet = ctx.fleet();
    let mut labels = vec![json!({
        "id": ALL_HOSTS_LABEL, "name": "All Hosts", "description": "All hosts which have enrolled in Fleet",
        "label_type": "builtin", "label_membership_type": "dynamic", "host_count": fleet.devices.len(),
    })];
    labels.extend(fleet.groups.values().map(|g| {
        json!({
            "id": LABEL_BASE + g.index, "name": g.name, "description": "",
            "label_type": "regular",
            "label_membership_type": if g.smart { "dynamic" } else { "manual" },
            "host_count": g.members.len(),
        })
    }));
    // Labels page like every Fleet list (`page`/`per_page`; neither: all of them).
    match paginate(raw.as_deref(), &labels) {
        Ok(page) => json(StatusCode::OK, json!({ "labels": page })),
        Err(e) => e,
    }
}

async fn label_hosts(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(e) = authorize(&headers, true) {
        return e;
    }
    let fleet = ctx.fleet();
    let Some(members) = id.parse().ok().and_then(|id| label_members(&fleet, id)) else {
        return no_route();
    };
    match paginate(raw.as_deref(), &members) {
        Ok(page) => json(
            StatusCode::OK,
            json!({"hosts": page.iter().map(|d| host_json(&fleet, d, false, false)).collect::<Vec<_>>()}),
        ),
        Err(e) => e,
    }
}

/// A SCIM error body (RFC 7644 §3.12, as Fleet's SCIM library writes it).
fn scim_error(status: StatusCode, detail: &str, scim_type: Option<&str>) -> Response {
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "detail": detail,
        "status": status.as_u16().to_string(),
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    let mut response = json(status, body);
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/scim+json"),
    );
    response
}

fn scim_resource(s: &ScimUser<'_>) -> Value {
    let id = (s.user.index + 1).to_string();
    let mut user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "externalId": ids::uuid(33, s.user.index),
        "userName": s.user_name,
        "active": true,
        "emails": [{"value": s.user.email, "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "location": format!("Users/{id}")},
    });
    if let Some((given, family)) = s.name {
        user["name"] = json!({"givenName": given, "familyName": family});
    }
    user
}

/// `userName eq "<value>"`, the one filter Fleet's SCIM handler applies; `None` for any other filter.
fn user_name_filter(filter: &str) -> Option<String> {
    let (attribute, rest) = filter.trim().split_once(char::is_whitespace)?;
    let (op, value) = rest.trim().split_once(char::is_whitespace)?;
    if !attribute.eq_ignore_ascii_case("userName") || !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    value
        .trim()
        .strip_prefix('"')?
        .strip_suffix('"')
        .map(str::to_owned)
}

async fn scim_users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if ctx
        .shared
        .switches
        .fleet_free
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        return error_body(StatusCode::NOT_FOUND, "Resource Not Found");
    }
    match bearer(&headers) {
        Some(TOKEN) => {}
        Some(OBSERVER_TOKEN) | Some(NO_HOSTS_TOKEN) => {
            return scim_error(StatusCode::FORBIDDEN, "forbidden", None)
        }
        _ => return scim_error(StatusCode::UNAUTHORIZED, "Authentication required", None),
    }
    let pairs = query_pairs(raw.as_deref());
    let number = |key: &str| query_get(&pairs, key).and_then(|v| v.trim().parse::<i64>().ok());
    let start = number("startIndex").unwrap_or(1).max(1) as usize;
    let count = match number("count") {
        Some(n) if n > 100 => {
            return scim_error(
                StatusCode::BAD_REQUEST,
                "The specified filter yields many more results than the server is willing to calculate or process.",
                Some("tooMany"),
            )
        }
        Some(n) if n >= 1 => n as usize,
        _ => 100,
    };
    let fleet = ctx.fleet();
    let mut users: Vec<ScimUser<'_>> = fleet.users.values().filter_map(scim_user).collect();
    if let Some(filter) = query_get(&pairs, "filter").filter(|f| !f.trim().is_empty()) {
        match user_name_filter(filter) {
            Some(name) => users.retain(|u| u.user_name == name),
            None => users.clear(),
        }
    }
    let page: Vec<Value> = users
        .iter()
        .skip(start - 1)
        .take(count)
        .map(scim_resource)
        .collect();
    let mut response = json(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": users.len(),
            "itemsPerPage": page.len(),
            "startIndex": start,
            "Resources": page,
        }),
    );
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/scim+json"),
    );
    response
}

/// The SCIM users a correct connector reads: how many there are.
pub(crate) fn scim_user_count(fleet: &Fleet) -> usize {
    fleet
        .users
        .values()
        .filter(|u| scim_user(u).is_some())
        .count()
}

impl ProviderSim for FleetSim {
    fn router(&self) -> Router<Ctx> {
        Router::new()
            .route("/api/v1/fleet/me", get(me))
            .route("/api/v1/fleet/version", get(version))
            .route("/api/v1/fleet/hosts", get(list_hosts))
            .route("/api/v1/fleet/hosts/count", get(count_hosts))
            .route(
                "/api/v1/fleet/hosts/identifier/{identifier}",
                get(host_by_identifier),
            )
            .route("/api/v1/fleet/hosts/{id}", get(host_by_id))
            .route("/api/v1/fleet/labels", get(labels))
            .route("/api/v1/fleet/labels/{id}/hosts", get(label_hosts))
            .route("/api/v1/fleet/scim/Users", get(scim_users))
            .route("/api/latest/fleet/scim/Users", get(scim_users))
            .fallback(|| async { no_route() })
    }

    fn config(&self, base: &Url, access: Access) -> ProviderConfig {
        let token = match access {
            Access::WrongSecret => "not-a-valid-token",
            Access::NoDeviceRead => NO_HOSTS_TOKEN,
            Access::LeastPrivilege => OBSERVER_TOKEN,
            _ => TOKEN,
        };
        ProviderConfig::Fleet(FleetConfig::new(base.as_str(), token).expect("sandbox URL is valid"))
    }

    fn expected_device(&self, fleet: &Fleet, device: &SimDevice) -> ExpectedDevice {
        let identity = fleet.user_of(device).map(idp_identity);
        let display_name = identity
            .as_ref()
            .map(|(_, name)| name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| device.name.clone());
        ExpectedDevice {
            index: device.index,
            serial_number: device.serial.clone(),
            device_id: host_id(device.index),
            user_id: identity.map(|(id, _)| id),
            display_name: display_name.clone(),
            // The list has only e-mails; a correct connector joins the SCIM users for names.
            list_display_name: display_name,
        }
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        // Builtin labels ("All Hosts") describe platforms, not groups a person made: not synced.
        expected_groups(fleet, |i| LABEL_BASE + i, host_id)
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        error_body(status, message)
    }

    fn max_page_size(&self) -> usize {
        // Fleet documents no cap; connectors choose their own page size.
        500
    }

    fn listing_directory_requests(&self, fleet: &Fleet) -> usize {
        // The host list names no users (only their e-mails): the SCIM user list is read, 100 a page.
        scim_user_count(fleet).div_ceil(100).max(1)
    }
}
