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
    device_named_by_user, expected_groups, header_str, indexes_sorted_by_id, json, query_get,
    query_pairs, sorted_window, window, Ctx, ProviderSim,
};
use crate::model::{ids, Fleet, SimDevice, SimGroup, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};

mod auth;
mod devices;
mod groups;
mod paging;
mod users;
use auth::*;
use devices::*;
use groups::*;
use paging::*;
use users::*;

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
        device_named_by_user(fleet, device, device_id, |u| user_id(u.index))
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        expected_groups(fleet, tag_id, device_id)
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
