//! Jamf Pro: the Jamf Pro API under `/api` and the Classic API under `/JSSResource`, as a Jamf Pro 11.32
//! server with API Roles and Clients.
//!
//! # Auth
//! - `POST /api/v1/oauth/token` and the legacy `POST /api/oauth/token` take the form fields `grant_type`
//!   (`client_credentials`), `client_id`, `client_secret` and an optional `scope` (`api-role:<id> …`, a
//!   subset of the client's roles). They answer `{access_token, scope, token_type, expires_in}`, with
//!   `expires_in` the sandbox's token lifetime in seconds. Refusals are RFC 6749 §5.2 bodies with HTTP 400
//!   (the status the Jamf Pro OpenAPI documents): `invalid_client` for an unknown client or a wrong secret,
//!   `invalid_request`, `unsupported_grant_type`, `invalid_scope`.
//! - Every other route wants `Authorization: Bearer <token>` (Classic too: its Basic auth is gone). A
//!   missing, unknown or expired token gets 401 `ApiError` `INVALID_TOKEN`; a client whose role lacks the
//!   privilege gets 403 `ApiError` `INVALID_PRIVILEGE`. The Classic API answers both with its HTML
//!   "Status page" instead.
//!
//! | Credentials ([`Access`]) | client id | secret | role and privileges |
//! |---|---|---|---|
//! | `Full`, `NoDirectoryDeviceRead` | [`CLIENT_ID`] | [`CLIENT_SECRET`] | `api-role:1`: Read Computers, Read User, Read Smart/Static Computer Groups |
//! | `WrongSecret` | [`CLIENT_ID`] | `wrong-secret` | token request refused (`invalid_client`) |
//! | `NoDeviceRead` | [`NO_COMPUTERS_CLIENT_ID`] | [`NO_COMPUTERS_CLIENT_SECRET`] | `api-role:2`: everything but Read Computers |
//!
//! # Endpoints
//! - `GET /api/v1/jamf-pro-version`: `{"version":"11.32.0-t…"}`; any valid token, no privilege.
//! - `GET /api/v{1,3,4}/computers-inventory`: `section` (repeatable; GENERAL alone without it; sections
//!   not asked for are `null`), `page` (0-based), `page-size` (default 100, silently capped at 2000,
//!   `totalCount` unchanged), `sort` (`field:asc|desc`, comma-separated; default `general.name:asc`) and an
//!   RSQL `filter`. `{totalCount, results}` in the v4 shapes (v1 and v3 name `general.lastContactTime`
//!   where v4 has `lastContact`/`lastCheckIn`); `GROUP_MEMBERSHIPS` gives `groupMemberships[]`.
//!   `/{id}` returns one computer (same sections rules), `-detail/{id}` every section.
//! - `GET /api/v1/users`: `{page, pageSize, totalCount, totalPages, hasNext, hasPrevious, results}`,
//!   `page-size` capped at 1000 (echoed), RSQL filter on `username`, `email`, `realname`, `id`, …
//! - Computer groups: `GET /api/v1/computer-groups` (un-paged array with `smartGroup`);
//!   `/api/v3/computer-groups/smart-groups` and `/static-groups` (paged, filterable, and `/{id}`; static
//!   groups carry no members); `/api/v3/computer-groups/smart-group-membership/{id}` and its deprecated v2
//!   twin (`{"members":[1,2]}`, integer ids; 404 for a static group); Classic
//!   `/JSSResource/computergroups`, `/id/{id}` and `/name/{name}`, in JSON with `Accept: application/json`
//!   and in XML otherwise.
//! - Anything else: 404 (`{"httpStatus":404,"errors":[]}` under `/api`, the HTML status page under
//!   `/JSSResource`), after the token check.
//!
//! # RSQL
//! `==`, `!=`, `<`/`=lt=`, `<=`/`=le=`, `>`/`=gt=`, `>=`/`=ge=`, `=in=`, `=out=`, `;` (and), `,` (or) and
//! parentheses; values bare or double/single quoted with backslash escapes. `*` is a wildcard in `==`/`!=`
//! (as in Jamf's `name=="*foo*"`). String comparisons ignore case: undocumented, assumed from the
//! case-insensitive collation of Jamf's database. An unknown field, a malformed filter,
//! an unknown sort field or section is a 400 `ApiError` `INVALID_FIELD` naming the parameter (the exact
//! code the real server uses there is not documented).
//!
//! # Identifiers and what a correct connector reports
//! Computer id = fleet index + 1, user id = user index + 1, group id = group index + 1 (smart and static
//! groups share one id space, as in Jamf). All are strings of digits in the Jamf Pro API and numbers in the
//! Classic API and in smart-group membership. A group with `smart == true` is a smart group, every other
//! group static. Computer inventory carries no user id, only `userAndLocation.username`, so the user id a
//! connector reports is the `/api/v1/users` record id found by that username (this server is ≥ 11.26, so
//! that API is there). The display name is the user's `realname`, else the computer's `general.name`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use mdmkit_core::{JamfConfig, ProviderConfig};
use serde_json::{json, Value};
use url::Url;

use crate::common::{
    device_named_by_user, expected_groups, header_str, json, json_of, member_devices, query_get,
    query_pairs, window, Call, Ctx, ProviderSim, TokenCheck,
};
use crate::model::{ids, Fleet, SimDevice, SimGroup, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};

mod auth;
mod computers;
mod errors;
mod groups;
mod listing;
mod rsql;
mod users;
use auth::*;
use computers::*;
use errors::*;
use groups::*;
use listing::*;
use users::*;

/// The API client with every privilege the connector needs.
pub(crate) const CLIENT_ID: &str = "sandbox-jamf-client";
/// [`CLIENT_ID`]'s secret.
pub(crate) const CLIENT_SECRET: &str = "sandbox-jamf-secret";
/// An API client whose role lacks "Read Computers".
pub(crate) const NO_COMPUTERS_CLIENT_ID: &str = "sandbox-jamf-no-computers";
/// [`NO_COMPUTERS_CLIENT_ID`]'s secret.
pub(crate) const NO_COMPUTERS_CLIENT_SECRET: &str = "sandbox-jamf-no-computers-secret";
/// What `GET /api/v1/jamf-pro-version` reports: a current release with its build suffix.
pub(crate) const VERSION: &str = "11.32.0-t1789384862411";

/// Jamf Pro API pages are silently cut to this many rows.
const MAX_PAGE_SIZE: usize = 2000;
/// `/api/v1/users` declares (and clamps to) 1000.
const USERS_MAX_PAGE_SIZE: usize = 1000;
const DEFAULT_PAGE_SIZE: usize = 100;

// Namespaces for deterministic ids (Jamf owns 10-19).
const NS_UDID: u8 = 10;
const NS_MANAGEMENT_ID: u8 = 11;
const NS_MAC: u8 = 12;

pub(crate) struct JamfSim;

// ----- the simulator -----

impl ProviderSim for JamfSim {
    fn router(&self) -> Router<Ctx> {
        let mut router = Router::new()
            .route("/api/v1/oauth/token", post(token))
            .route("/api/oauth/token", post(token))
            .route("/api/v1/jamf-pro-version", get(version))
            .route("/api/v1/users", get(users))
            .route("/api/v1/computer-groups", get(computer_groups_v1))
            .route("/JSSResource/computergroups", get(classic_groups))
            .route(
                "/JSSResource/computergroups/id/{id}",
                get(|call: Call, Path(id): Path<String>| async move {
                    let index = index_of(&id);
                    classic_group(&call.ctx, &call.headers, |g| Some(g.index) == index)
                }),
            )
            .route(
                "/JSSResource/computergroups/name/{name}",
                get(|call: Call, Path(name): Path<String>| async move {
                    classic_group(&call.ctx, &call.headers, |g| g.name == name)
                }),
            );
        for (kind, smart) in [("smart", true), ("static", false)] {
            router = router
                .route(
                    &format!("/api/v3/computer-groups/{kind}-groups"),
                    get(move |call: Call| async move {
                        group_list(&call.ctx, &call.headers, call.raw(), smart)
                    }),
                )
                .route(
                    &format!("/api/v3/computer-groups/{kind}-groups/{{id}}"),
                    get(move |call: Call, Path(id): Path<String>| async move {
                        group_one(&call.ctx, &call.headers, &id, smart)
                    }),
                );
        }
        // v2 is deprecated (2026-05-28) but still served, as Jamf keeps deprecated endpoints a year.
        for version in ["v2", "v3"] {
            router = router.route(
                &format!("/api/{version}/computer-groups/smart-group-membership/{{id}}"),
                get(|call: Call, Path(id): Path<String>| async move {
                    smart_membership(&call.ctx, &call.headers, &id)
                }),
            );
        }
        for api in [Inventory::V1, Inventory::V3, Inventory::V4] {
            let v = api.segment();
            router = router
                .route(
                    &format!("/api/{v}/computers-inventory"),
                    get(move |call: Call| async move {
                        inventory_list(&call.ctx, &call.headers, call.raw(), api)
                    }),
                )
                .route(
                    &format!("/api/{v}/computers-inventory/{{id}}"),
                    get(move |call: Call, Path(id): Path<String>| async move {
                        let raw = Some(call.raw().unwrap_or_default());
                        inventory_one(&call.ctx, &call.headers, raw, &id, api)
                    }),
                )
                .route(
                    &format!("/api/{v}/computers-inventory-detail/{{id}}"),
                    get(move |call: Call, Path(id): Path<String>| async move {
                        inventory_one(&call.ctx, &call.headers, None, &id, api)
                    }),
                );
        }
        router.fallback(fallback)
    }

    fn config(&self, base: &Url, access: Access) -> ProviderConfig {
        let (id, secret) = match access {
            Access::WrongSecret => (CLIENT_ID, "wrong-secret"),
            Access::NoDeviceRead => (NO_COMPUTERS_CLIENT_ID, NO_COMPUTERS_CLIENT_SECRET),
            _ => (CLIENT_ID, CLIENT_SECRET),
        };
        ProviderConfig::Jamf(
            JamfConfig::new(base.as_str(), id, secret).expect("sandbox URL is valid"),
        )
    }

    fn expected_device(&self, fleet: &Fleet, device: &SimDevice) -> ExpectedDevice {
        // The listing carries `userAndLocation.realname` too, so both names agree.
        device_named_by_user(fleet, device, computer_id, |u| user_id(u.index))
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        expected_groups(fleet, group_id, computer_id)
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        // Jamf documents no codes for these; the status's reason phrase stands in.
        let code = match status {
            StatusCode::UNAUTHORIZED => "INVALID_TOKEN".to_owned(),
            StatusCode::FORBIDDEN => "INVALID_PRIVILEGE".to_owned(),
            other => other
                .canonical_reason()
                .unwrap_or("ERROR")
                .to_ascii_uppercase()
                .replace([' ', '-'], "_"),
        };
        api_error(status, Some(&code), message, None)
    }

    fn max_page_size(&self) -> usize {
        MAX_PAGE_SIZE
    }

    /// The user directory (`/api/v1/users`, [`USERS_MAX_PAGE_SIZE`] a page), read once per listing when a
    /// computer has a user: inventory carries only usernames, and the user id is the record's. Its first
    /// page is read alongside the first computers, so a fleet without users costs that one page.
    fn listing_directory_requests(&self, fleet: &Fleet) -> usize {
        if fleet.devices.values().any(|d| fleet.user_of(d).is_some()) {
            fleet.users.len().div_ceil(USERS_MAX_PAGE_SIZE).max(1)
        } else {
            1
        }
    }

    fn is_token_endpoint(&self, path: &str) -> bool {
        matches!(path, "/api/v1/oauth/token" | "/api/oauth/token")
    }

    fn issues_tokens(&self) -> bool {
        true
    }
}
