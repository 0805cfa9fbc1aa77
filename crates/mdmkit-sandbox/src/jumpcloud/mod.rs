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
//! `Sandbox::listing_binding_requests` reports that last count, `Sandbox::listing_directory_requests`
//! the directory's pages.
//!
//! On the sandbox's side nothing copies the fleet. An unfiltered page in enrolment order walks to its offset; an unfiltered
//! page sorted by `_id` reads a process-wide index of device numbers sorted by their id (built once per
//! fleet size), so it costs O(limit) for a fleet without gaps. Filtered and otherwise sorted pages cost one
//! pass over the fleet plus a partial sort of the matches. Ids in paths are decoded, not searched for.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::RwLockReadGuard;

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use mdmkit_core::{JumpCloudConfig, ProviderConfig};
use serde_json::{json, Value};
use url::Url;

use crate::common::{
    device_named_by_user, expected_groups, header_str, indexes_sorted_by_id, json, member_devices,
    query_get, query_pairs, sorted_window, Ctx, ProviderSim,
};
use crate::model::{ids, Fleet, SimDevice, SimGroup, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};

mod auth;
mod graph;
mod groups;
mod query;
mod systems;
mod users;
use auth::*;
use graph::*;
use groups::*;
use mdmkit_core::changes::parse_timestamp;
use query::*;
use systems::*;
use users::*;

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

/// The record behind an id of `namespace`, in the organisation that holds the fleet; else JumpCloud's 404
/// (the empty organisation holds nothing).
fn find_in<'f, T>(
    records: &'f BTreeMap<u32, T>,
    org: Org,
    namespace: u8,
    id: &str,
) -> Result<&'f T, Response> {
    (org == Org::Main)
        .then(|| index_of(namespace, id))
        .flatten()
        .and_then(|i| records.get(&i))
        .ok_or_else(not_found)
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
        device_named_by_user(fleet, device, system_id, |u| user_id(u.index))
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        expected_groups(fleet, group_id, system_id)
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        error_body(status, message)
    }

    fn max_page_size(&self) -> usize {
        LIMIT_MAX
    }

    /// The `/api/systemusers` pages, read once per listing when a system names a primary user (the
    /// directory names them) or when more than a page of systems needs a graph read (the directory's
    /// size decides how bindings are read).
    fn listing_directory_requests(&self, fleet: &Fleet) -> usize {
        let names_primary_users = fleet
            .devices
            .values()
            .any(|d| has_primary_user(d) && fleet.user_of(d).is_some());
        if names_primary_users || systems_needing_graph(fleet) > LIMIT_MAX {
            fleet.users.len().div_ceil(LIMIT_MAX).max(1)
        } else {
            0
        }
    }

    /// One `/api/v2/systems/{id}/users` page for every system without a `primarySystemUser` (a system is
    /// never bound to more than a page of users), or, when the directory holds fewer users than that,
    /// the `/api/v2/users/{id}/systems` pages of every user instead.
    fn listing_binding_requests(&self, fleet: &Fleet) -> usize {
        let per_system = systems_needing_graph(fleet);
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

/// Systems whose user only the graph knows: no user at all, or one without `primarySystemUser`.
fn systems_needing_graph(fleet: &Fleet) -> usize {
    fleet
        .devices
        .values()
        .filter(|d| fleet.user_of(d).is_none() || !has_primary_user(d))
        .count()
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
