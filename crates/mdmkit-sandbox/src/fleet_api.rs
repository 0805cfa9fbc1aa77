//! Fleet (fleetdm) REST API under `/api/v1/fleet`: bearer tokens, 0-based `page` + `per_page` with no
//! total, hosts by identifier, labels and their hosts, the `{"message","errors":[{"name","reason"}]}` error
//! body, and the paging defaults of the real server (no `page` and no `per_page` returns everything;
//! `page` without `per_page` returns 20; `per_page <= 0` is a 400).
//!
//! A path no route serves gets what the server's router (gorilla/mux, with no handler of its own for
//! unknown paths) answers: `404 page not found` as plain text, not Fleet's JSON error body, which only the
//! API's handlers write (an unknown host, an unknown label).

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use mdmkit_core::{FleetConfig, ProviderConfig};
use serde_json::{json, Value};
use url::Url;

use crate::common::{bearer, json, query_get, query_pairs, window, Ctx, ProviderSim};
// Other simulators import it from here too.
pub(crate) use crate::common::sorted;
use crate::model::{ids, Fleet, SimDevice};
use crate::{Access, ExpectedDevice, ExpectedGroup};

/// The API token with full access.
pub(crate) const TOKEN: &str = "sandbox-fleet-token";
/// A token of a user whose role cannot read hosts.
pub(crate) const NO_HOSTS_TOKEN: &str = "sandbox-fleet-no-hosts";
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
                "idp_username": u.email,
                "idp_full_name": u.full_name,
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
        Some(TOKEN) => Ok(()),
        Some(NO_HOSTS_TOKEN) if !needs_hosts => Ok(()),
        Some(NO_HOSTS_TOKEN) => Err(error_body(StatusCode::FORBIDDEN, "forbidden")),
        _ => Err(error_body(
            StatusCode::UNAUTHORIZED,
            "Authentication required",
        )),
    }
}

/// Applies Fleet's `page`/`per_page` rules to `items`.
fn paginate<T: Clone>(raw: Option<&str>, items: &[T]) -> Result<Vec<T>, Response> {
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
    let all: Vec<&SimDevice> = fleet
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
    match paginate(raw.as_deref(), &all) {
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
    match found {
        Some(d) => json(
            StatusCode::OK,
            json!({"host": host_json(&fleet, d, true, false)}),
        ),
        None => error_body(StatusCode::NOT_FOUND, "Resource Not Found"),
    }
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
    match index.and_then(|i| fleet.devices.get(&i)) {
        Some(d) => json(
            StatusCode::OK,
            json!({"host": host_json(&fleet, d, true, false)}),
        ),
        None => error_body(StatusCode::NOT_FOUND, "Resource Not Found"),
    }
}

fn label_members(fleet: &Fleet, label: u32) -> Option<Vec<&SimDevice>> {
    if label == ALL_HOSTS_LABEL {
        return Some(fleet.devices.values().collect());
    }
    let group = fleet.groups.get(&label.checked_sub(LABEL_BASE)?)?;
    Some(
        group
            .members
            .iter()
            .filter_map(|i| fleet.devices.get(i))
            .collect(),
    )
}

async fn labels(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
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
    json(StatusCode::OK, json!({"labels": labels}))
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
        return error_body(StatusCode::NOT_FOUND, "Resource Not Found");
    };
    match paginate(raw.as_deref(), &members) {
        Ok(page) => json(
            StatusCode::OK,
            json!({"hosts": page.iter().map(|d| host_json(&fleet, d, false, false)).collect::<Vec<_>>()}),
        ),
        Err(e) => e,
    }
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
            .fallback(|| async { no_route() })
    }

    fn config(&self, base: &Url, access: Access) -> ProviderConfig {
        let token = match access {
            Access::WrongSecret => "not-a-valid-token",
            Access::NoDeviceRead => NO_HOSTS_TOKEN,
            _ => TOKEN,
        };
        ProviderConfig::Fleet(FleetConfig::new(base.as_str(), token).expect("sandbox URL is valid"))
    }

    fn expected_device(&self, fleet: &Fleet, device: &SimDevice) -> ExpectedDevice {
        let user = fleet.user_of(device);
        let display_name = user
            .map(|u| u.full_name.clone())
            .unwrap_or_else(|| device.name.clone());
        ExpectedDevice {
            index: device.index,
            serial: device.serial.clone(),
            device_id: host_id(device.index),
            user_id: user.map(|u| u.email.clone()),
            display_name: display_name.clone(),
            // The list has only e-mails, but a correct connector reads assigned hosts' records for names.
            list_display_name: display_name,
        }
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        // Builtin labels ("All Hosts") describe platforms, not groups a person made: not synced.
        fleet
            .groups
            .values()
            .map(|g| ExpectedGroup {
                id: (LABEL_BASE + g.index).to_string(),
                name: g.name.clone(),
                members: sorted(
                    g.members
                        .iter()
                        .filter(|i| fleet.devices.contains_key(i))
                        .map(|i| host_id(*i)),
                ),
            })
            .collect()
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        error_body(status, message)
    }

    fn max_page_size(&self) -> usize {
        // Fleet documents no cap; connectors choose their own page size.
        500
    }

    fn per_device_listing_requests(&self, fleet: &Fleet) -> usize {
        // The host list names no users (only their e-mails): each assigned host's record is read.
        fleet.devices.values().filter(|d| d.user.is_some()).count()
    }
}
