//! Microsoft Intune read through Microsoft Graph v1.0, with Entra ID client-credentials tokens. One server
//! answers both the Entra login host paths (`/{tenant}/oauth2/v2.0/token`) and the Graph paths (`/v1.0/…`),
//! so a configuration points its login host and its Graph root at the same base URL.
//!
//! # Auth
//! - `POST /{tenant}/oauth2/v2.0/token`, `application/x-www-form-urlencoded` with `client_id`,
//!   `client_secret`, `scope` and `grant_type=client_credentials` (HTTP Basic client auth is accepted in
//!   place of the two client fields). The scope must be `<Graph root>/.default`, the Graph root being this
//!   server's origin as the client reaches it (`http://127.0.0.1:PORT/.default`; the host is checked against
//!   the `Host` header, the scheme against the one in use: `https` in TLS mode). Success is
//!   `{"token_type":"Bearer","expires_in":N,"ext_expires_in":N,"access_token":"…"}` with `N` the sandbox's
//!   token lifetime; no refresh token. The token's audience is the scope's origin, and the absolute
//!   `@odata.nextLink`s of that token's listings are built on it.
//! - Refusals are Entra's OAuth JSON `{error, error_description: "AADSTSnnnn: …\r\nTrace ID: …\r\n
//!   Correlation ID: …\r\nTimestamp: …", error_codes: [n], timestamp, trace_id, correlation_id, error_uri}`.
//!   Checked in this order (the real order is not documented):
//!
//!   | Case | Code | `error` | HTTP |
//!   |---|---|---|---|
//!   | `GET` on the token endpoint | 900561 | `invalid_request` | 400 |
//!   | tenant neither a GUID nor a dotted DNS name (`common`, `token`, a 35-character GUID, …) | 900023 | `invalid_request` | 400 |
//!   | well-formed tenant other than [`TENANT_ID`] / [`TENANT_DOMAIN`] | 90002 | `invalid_request` | 400 |
//!   | missing `grant_type`, `client_id` or `scope` (a non-form body counts as empty) | 900144 | `invalid_request` | 400 |
//!   | `grant_type` other than `client_credentials` | 70003 | `unsupported_grant_type` | 400 |
//!   | unknown client id | 700016 | `unauthorized_client` | 400 |
//!   | no `/.default` scope at all (`User.Read`, `<root>/Device.Read.All`) | 1002012 | `invalid_scope` | 400 |
//!   | any other scope than `<Graph root>/.default` (another cloud's Graph, two scopes, …) | 70011 | `invalid_scope` | 400 |
//!   | missing `client_secret` | 7000218 | `invalid_client` | 401 |
//!   | wrong secret (or the secret's ID pasted instead of its value) | 7000215 | `invalid_client` | 401 |
//!   | the right secret of [`EXPIRED_SECRET_CLIENT_ID`] (it has expired) | 7000222 | `invalid_client` | 401 |
//!
//!   The reference marks the HTTP status per code unconfirmed; these follow its table.
//! - Graph wants `Authorization: Bearer <token>`. Errors are `{"error":{"code","message","innerError":
//!   {"date","request-id","client-request-id"}}}` with `request-id`/`client-request-id` headers (the
//!   client's `client-request-id` is echoed). 401 `InvalidAuthenticationToken` (with `WWW-Authenticate`) for a
//!   missing ("Access token is empty."), unknown, expired ("Lifetime validation failed, the token is
//!   expired.") or other-audience token. Without `DeviceManagementManagedDevices.Read.All`, every
//!   managed-device read is Intune's 403 `Forbidden` whose `message` is a JSON document in a string
//!   (`{"_version": 3, "Message": "Application is not authorized to perform this operation. Application must
//!   have one of the following scopes: … - Operation ID …: 0000… - Activity ID: … - Url: https://fef.…",
//!   …}`). Without `GroupMember.Read.All`, group reads are 403 `Authorization_RequestDenied`; without
//!   `Device.Read.All`, `/devices` is the same 403 and device members of groups are shown with only
//!   `@odata.type` and `id`, every other property `null`.
//!
//! | Credentials ([`Access`]) | client id | secret | application permissions |
//! |---|---|---|---|
//! | `Full` | [`CLIENT_ID`] | [`CLIENT_SECRET`] | `DeviceManagementManagedDevices.Read.All`, `GroupMember.Read.All`, `Device.Read.All` |
//! | `WrongSecret` | [`CLIENT_ID`] | [`WRONG_SECRET`] | token refused, AADSTS7000215 |
//! | `NoDeviceRead` | [`NO_DEVICES_CLIENT_ID`] | [`NO_DEVICES_CLIENT_SECRET`] | `GroupMember.Read.All`, `Device.Read.All` |
//! | `NoDirectoryDeviceRead` | [`NO_DIRECTORY_DEVICES_CLIENT_ID`] | [`NO_DIRECTORY_DEVICES_CLIENT_SECRET`] | `DeviceManagementManagedDevices.Read.All`, `GroupMember.Read.All` |
//! | (none) | [`NO_GROUPS_CLIENT_ID`] | [`NO_GROUPS_CLIENT_SECRET`] | `DeviceManagementManagedDevices.Read.All`, `Device.Read.All` |
//! | (none) | [`EXPIRED_SECRET_CLIENT_ID`] | [`EXPIRED_SECRET`] | its only secret expired: AADSTS7000222 |
//!
//! Every configuration uses the tenant [`TENANT_ID`]; [`TENANT_DOMAIN`] names the same tenant.
//!
//! # Endpoints (all `GET`)
//! - `/v1.0/deviceManagement/managedDevices`: `$select`, `$filter`, `$top`, `$count=true`, `$skiptoken`
//!   (and `$skip`, accepted and ignored: the reference calls it unreliable). Default page 1000; `$top` above
//!   1000 is silently cut to 1000 (the real maximum is unconfirmed), `$top=0` gives an empty page with no
//!   link, a negative or non-numeric `$top` is a 400. `/{id}` returns the bare object with
//!   `@odata.context: …/$metadata#deviceManagement/managedDevices/$entity` (404 `ResourceNotFound`, in
//!   Intune's JSON-string form, for an unknown id).
//! - `/v1.0/groups` (`$select`, `$filter`, `$top` 1-999 with default 100, else a 400 "Must be between 1 and
//!   999 inclusive", `$count`, `$skiptoken`) and `/v1.0/groups/{id}` (404 `Request_ResourceNotFound`).
//! - `/v1.0/groups/{id}/members` and `/transitiveMembers`, uncast (devices, users) or cast with
//!   `/microsoft.graph.device` or `/microsoft.graph.user` (`/microsoft.graph.group` is empty for security
//!   groups and a 400 `Request_UnsupportedQuery` for the Microsoft 365 group, as documented); `$select`
//!   (e.g. `id,deviceId`), `$top` (1-999, default 100), `$count`, `$skiptoken`, and `$filter` on the device
//!   cast as an advanced query only. The fleet has no nested groups, so `transitiveMembers` lists the same
//!   members as `members`; neither needs `ConsistencyLevel` for the cast (the reference does not say that
//!   Graph requires it there).
//! - `/v1.0/devices` and `/v1.0/devices/{id}` (Entra device objects; `Device.Read.All`).
//! - `/v1.0/groups/delta` (`GroupMember.Read.All`; `$select`, `$deltatoken`, `$skiptoken`): without a
//!   token, every group with all its direct members in `members@delta` (`{"@odata.type", "id"}`); with
//!   the `$deltatoken` of a previous round's `@odata.deltaLink`, only the groups that changed since: the
//!   properties that changed, `members@delta` additions and removals (`"@removed": {"reason":
//!   "deleted"}`), and deleted groups as `{"id", "@removed": {"reason": "changed"}}`. Pages hold 20
//!   entries and follow `@odata.nextLink`; a group with more than 200 member changes continues in further
//!   entries holding only `id` and `members@delta`. The last page carries `@odata.deltaLink`. A token the
//!   server no longer knows ([`crate::Sandbox::expire_group_delta_links`]) is HTTP 410
//!   `syncStateNotFound`. Nested group changes are not reported (the fleet nests none).
//! - `$count=true` on any directory listing (groups, members, devices) needs `ConsistencyLevel: eventual`,
//!   else 400 `Request_BadRequest` "$count is not currently supported."; it adds `@odata.count`.
//! - Unknown `$` options are a 400 (`$orderby`, `$search` and `$expand` are not simulated). Unknown paths
//!   under `/v1.0` are Graph's 400 `BadRequest` "Resource not found for the segment '…'.", a wrong method
//!   is 405.
//!
//! # Paging
//! Server-driven: `@odata.nextLink` is absolute (the token's audience origin plus the request path), keeps
//! the request's other query options and carries an opaque `$skiptoken` (a tampered one is a 400). Every
//! listing has `@odata.context` (`…/$metadata#deviceManagement/managedDevices(id,deviceName)` with a
//! `$select`). A link is given only when rows remain. Pages may be empty, as the Graph paging docs warn:
//! deterministically, the third page of every listing that reaches one is empty (`"value": []`) and still
//! carries a next link, so a fleet of more than 2,000 devices read with the default page makes one extra
//! request.
//!
//! `lastSyncDateTime` is the fleet's change time of the device. [`crate::Sandbox::set_graph_ignores_filter`]
//! makes the managed-device listing ignore `$filter` altogether and return every device.
//!
//! # Filters
//! Only the OData the connector sends (`serialNumber eq`, `lastSyncDateTime gt`, `securityEnabled eq true`)
//! and what the tests probe around it: `eq gt lt`, `contains()`, `startswith()`, `any()` lambdas, `and`,
//! `or`, `not` and parentheses; string literals in single quotes with `''` for a quote. Other operators
//! (`ne`, `ge`, `le`, `endswith()`, `null`) are not simulated and are a 400. String comparisons ignore
//! case (assumed: connectors rely on it for serials, and the directory's compares do). On managed devices
//! the properties and operators are those the reference lists (`serialNumber eq`, `deviceName eq|contains`,
//! `userPrincipalName eq`, `azureADDeviceId eq`, `emailAddress contains`, `lastSyncDateTime lt|gt`, …);
//! a clause on a known property that does not support the operator (`userId eq …`, `userDisplayName eq …`,
//! `startswith(serialNumber, …)`, `not …`) is silently ignored, so it matches every device, as reported for
//! the real service. An unknown property is a 400. `or` works only between `eq` clauses on one property
//! (`serialNumber eq 'A' or serialNumber eq 'B'`); other `or`s are a 400. On groups: `id`, `displayName`,
//! `mailNickname` (`eq`, `startswith`), `securityEnabled`, `mailEnabled` (`eq`), `groupTypes/any(c:c eq
//! 'Unified')`; on devices `id`, `deviceId`, `displayName`, `operatingSystem`, `trustType`, `mdmAppId`,
//! `accountEnabled`; anything else on the directory is a 400 `Request_UnsupportedQuery`.
//!
//! # Identifiers and shapes
//! - Managed device: `id` = `ids::uuid(60, index)`, `azureADDeviceId` = `ids::uuid(61, index)` (every device
//!   is Entra-registered), `deviceName`, `serialNumber`, `userId` = `ids::uuid(62, user)`, `userDisplayName` =
//!   the user's full name, `userPrincipalName`/`emailAddress` = the user's e-mail, plus the usual Intune
//!   properties (`operatingSystem`, `osVersion`, `model`, `manufacturer`, `complianceState`, dates, …).
//! - Unassigned devices vary by `index % 3`: the user properties are `""` (0), `null` (1) or absent (2).
//! - Entra device of managed device `i`: `id` = `ids::uuid(64, i)` (the directory object id), `deviceId` =
//!   `ids::uuid(61, i)` (= `azureADDeviceId`). Every group with an even index also holds one Entra device
//!   Intune does not manage (`id` = `ids::uuid(64, 2^31 + g)`, `deviceId` = `ids::uuid(65, g)`, listed by
//!   `/devices` too) that a correct join leaves out, and every non-dynamic fleet group holds one user, so the
//!   uncast member list is not devices only.
//! - Groups: fleet group `g` is a security group `id` = `ids::uuid(63, g)` (`securityEnabled: true`,
//!   `mailEnabled: false`; the smart group is a dynamic device group, `groupTypes: ["DynamicMembership"]`).
//!   One more group, "All Company" (`ids::uuid(67, 0)`), is a Microsoft 365 group (`groupTypes:
//!   ["Unified"]`, `securityEnabled: false`, `mailEnabled: true`) with two users: `securityEnabled eq true`
//!   excludes it.
//!
//! # What a correct connector reports
//! Device id = the managed device `id`; user id = `userId` (the Entra user object id), absent when
//! unassigned; display name (lookup and list alike) = `userDisplayName`, else `deviceName`. Groups = the
//! fleet's groups (security groups only), members = the managed-device ids of their device members, joined
//! on `deviceId == azureADDeviceId` (so the unmanaged Entra devices drop out).

use std::ops::Bound;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use base64::Engine as _;
use mdmkit_core::{IntuneConfig, ProviderConfig};
use serde_json::{json, Map, Value};
use url::Url;

use crate::common::{
    basic, device_named_by_user, expected_groups, header_str, json, json_of, query_pairs, Call,
    Ctx, ProviderSim, TokenCheck,
};
use crate::model::{ids, Fleet, SimDevice, SimGroup, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};
use mdmkit_core::changes::parse_timestamp;

mod auth;
mod delta;
mod devices;
mod directory;
mod errors;
mod odata;
use auth::*;
pub(crate) use delta::DeltaState;
use delta::*;
use devices::*;
use directory::*;
use errors::*;
use odata::*;

/// The sandbox tenant's directory (tenant) ID.
pub(crate) const TENANT_ID: &str = "7c3e9a41-2f6b-4d85-b0e2-5a9d1c8f4e60";
/// The sandbox tenant's verified domain (accepted wherever the tenant ID is).
pub(crate) const TENANT_DOMAIN: &str = "mdmkit-sandbox.onmicrosoft.com";
/// The app registration with every permission the connector needs.
pub(crate) const CLIENT_ID: &str = "0b6f1d2e-3c4a-4e5f-8a9b-1c2d3e4f5a60";
/// [`CLIENT_ID`]'s secret value.
pub(crate) const CLIENT_SECRET: &str = "Sbx8Q~fullAccess.3fK9vLq2Zr7Tn1Wm5Yp8Hc4Jd6";
/// What `Access::WrongSecret` sends with [`CLIENT_ID`].
pub(crate) const WRONG_SECRET: &str = "Sbx8Q~not.the.secret.value.0000000000000";
/// An app without `DeviceManagementManagedDevices.Read.All`.
pub(crate) const NO_DEVICES_CLIENT_ID: &str = "0b6f1d2e-3c4a-4e5f-8a9b-1c2d3e4f5a61";
/// [`NO_DEVICES_CLIENT_ID`]'s secret value.
pub(crate) const NO_DEVICES_CLIENT_SECRET: &str = "Sbx8Q~noDevices.7hR2mXc9Qw4Ls8Vb1Nk6Tz3Pf5";
/// An app without `Device.Read.All`: group members come back without `deviceId`.
pub(crate) const NO_DIRECTORY_DEVICES_CLIENT_ID: &str = "0b6f1d2e-3c4a-4e5f-8a9b-1c2d3e4f5a62";
/// [`NO_DIRECTORY_DEVICES_CLIENT_ID`]'s secret value.
pub(crate) const NO_DIRECTORY_DEVICES_CLIENT_SECRET: &str =
    "Sbx8Q~noDirectory.2gT7kWp4Xs9Mc1Rv6Bn3Lh8Dq";
/// An app without `GroupMember.Read.All` (not handed out by any [`Access`]).
pub(crate) const NO_GROUPS_CLIENT_ID: &str = "0b6f1d2e-3c4a-4e5f-8a9b-1c2d3e4f5a63";
/// [`NO_GROUPS_CLIENT_ID`]'s secret value.
pub(crate) const NO_GROUPS_CLIENT_SECRET: &str = "Sbx8Q~noGroups.5jN1cVx8Rt3Wq7Ke2Ym9Fs4Gb6";
/// An app whose only client secret has expired (not handed out by any [`Access`]).
pub(crate) const EXPIRED_SECRET_CLIENT_ID: &str = "0b6f1d2e-3c4a-4e5f-8a9b-1c2d3e4f5a64";
/// [`EXPIRED_SECRET_CLIENT_ID`]'s (expired) secret value.
pub(crate) const EXPIRED_SECRET: &str = "Sbx8Q~expired.9pL4bMz1Xc6Tv8Qr3Wn5Hk7Js2";

/// The managed-device page without `$top`, and the most `$top` gets.
const DEVICE_PAGE: usize = 1000;
/// Directory listings: default page and the largest `$top` accepted.
const DIRECTORY_DEFAULT_PAGE: usize = 100;
const DIRECTORY_MAX_PAGE: usize = 999;
/// The 0-based page of every listing that is served empty (with a next link).
const EMPTY_PAGE: u32 = 2;

// Namespaces for deterministic ids (Intune owns 60-69).
const NS_MANAGED_DEVICE: u8 = 60;
const NS_AAD_DEVICE_ID: u8 = 61;
const NS_USER: u8 = 62;
const NS_GROUP: u8 = 63;
const NS_DIRECTORY_DEVICE: u8 = 64;
const NS_UNMANAGED_DEVICE_ID: u8 = 65;
const NS_REQUEST: u8 = 66;
const NS_M365_GROUP: u8 = 67;
const NS_MAC: u8 = 68;

/// Directory object index offset of the unmanaged Entra devices (`ids::uuid(64, UNMANAGED_BASE + g)`).
const UNMANAGED_BASE: u32 = 1 << 31;
/// Listing keys at or above this are the extra (non-fleet-device) rows of a listing.
const EXTRA_KEYS: u64 = 1 << 32;
/// Intune's own application id, the `mdmAppId` of devices it manages.
const INTUNE_MDM_APP_ID: &str = "0000000a-0000-0000-c000-000000000000";
const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

pub(crate) struct IntuneSim;

impl ProviderSim for IntuneSim {
    fn router(&self) -> Router<Ctx> {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token).get(token_get))
            .route(
                "/v1.0/deviceManagement/managedDevices",
                get(managed_devices),
            )
            .route(
                "/v1.0/deviceManagement/managedDevices/{id}",
                get(managed_device),
            )
            .route("/v1.0/groups", get(groups))
            .route("/v1.0/groups/delta", get(groups_delta))
            .route("/v1.0/groups/{id}", GROUPS.handler())
            .route("/v1.0/groups/{id}/members", get(members))
            .route("/v1.0/groups/{id}/transitiveMembers", get(members))
            .route("/v1.0/groups/{id}/members/{cast}", get(members_cast))
            .route(
                "/v1.0/groups/{id}/transitiveMembers/{cast}",
                get(members_cast),
            )
            .route("/v1.0/devices", get(devices))
            .route("/v1.0/devices/{id}", DEVICES.handler())
            .fallback(fallback)
            .method_not_allowed_fallback(wrong_method)
    }

    fn config(&self, base: &Url, access: Access) -> ProviderConfig {
        let (client, secret) = match access {
            Access::WrongSecret => (CLIENT_ID, WRONG_SECRET),
            Access::NoDeviceRead => (NO_DEVICES_CLIENT_ID, NO_DEVICES_CLIENT_SECRET),
            Access::NoDirectoryDeviceRead => (
                NO_DIRECTORY_DEVICES_CLIENT_ID,
                NO_DIRECTORY_DEVICES_CLIENT_SECRET,
            ),
            _ => (CLIENT_ID, CLIENT_SECRET),
        };
        let mut config = IntuneConfig::new(TENANT_ID, client, secret)
            .expect("the sandbox credentials are valid");
        config.graph_url = Some(base.clone());
        config.login_url = Some(base.clone());
        ProviderConfig::Intune(config)
    }

    fn expected_device(&self, fleet: &Fleet, device: &SimDevice) -> ExpectedDevice {
        device_named_by_user(fleet, device, managed_id, |u| user_id(u.index))
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        // Security groups only (the Microsoft 365 group is not one); members joined on
        // deviceId == azureADDeviceId, so unmanaged Entra devices drop out.
        expected_groups(fleet, group_id, managed_id)
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        let code = match status {
            StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
            StatusCode::SERVICE_UNAVAILABLE => "serviceNotAvailable",
            StatusCode::UNAUTHORIZED => "InvalidAuthenticationToken",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::NOT_FOUND => "NotFound",
            s if s.is_server_error() => "generalException",
            _ => "BadRequest",
        };
        let id = fresh_id();
        let mut response = error_body(status, code, message, &id, &id);
        for name in ["request-id", "client-request-id"] {
            if let Ok(v) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(name, v);
            }
        }
        response
    }

    fn max_page_size(&self) -> usize {
        DEVICE_PAGE
    }

    fn is_token_endpoint(&self, path: &str) -> bool {
        path.ends_with("/oauth2/v2.0/token")
    }

    fn issues_tokens(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_with_doubled_quotes_and_precedence() {
        let e = parse_filter("serialNumber eq 'AB''C' and contains(deviceName,'x') or not a eq 1")
            .unwrap();
        let Expr::Or(left, right) = e else {
            panic!("or binds loosest: {e:?}")
        };
        assert!(matches!(*left, Expr::And(..)));
        assert!(matches!(*right, Expr::Not(..)));
        let e = parse_filter("serialNumber eq 'AB''C'").unwrap();
        assert_eq!(
            e,
            Expr::Cmp {
                prop: "serialNumber".into(),
                op: Op::Eq,
                lit: Lit::Str("AB'C".into())
            }
        );
        assert!(parse_filter("groupTypes/any(c:c eq 'Unified')").is_ok());
        assert!(parse_filter("lastSyncDateTime gt 2026-01-01T00:00:00Z").is_ok());
        assert!(parse_filter("serialNumber eq 'open").is_err());
        assert!(parse_filter("serialNumber eq").is_err());
        assert!(parse_filter("serialNumber eq 'a' 'b'").is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_other_listings() {
        let options = Options {
            skiptoken: Some(encode_cursor('d', 1234, 3)),
            ..Options::default()
        };
        let c = cursor(&options, 'd', Dialect::Intune).unwrap();
        assert_eq!((c.after, c.page), (Some(1234), 3));
        assert!(cursor(&options, 'g', Dialect::Directory).is_err());
    }

    #[test]
    fn tenant_shapes() {
        assert!(is_guid(TENANT_ID));
        assert!(!is_guid("e63649b2-07c0-49ed-a24b-87381dac292"));
        assert!(is_dns_name(TENANT_DOMAIN));
        assert!(!is_dns_name("organizations"));
        assert!(!is_dns_name("a..b"));
    }

    #[test]
    fn timestamps_are_current_utc_in_each_services_format() {
        use mdmkit_core::chrono::{NaiveDateTime, Utc};
        let before = Utc::now().naive_utc() - mdmkit_core::chrono::Duration::seconds(1);
        let graph = NaiveDateTime::parse_from_str(&graph_date(), "%Y-%m-%dT%H:%M:%S").unwrap();
        let entra =
            NaiveDateTime::parse_from_str(&entra_timestamp(), "%Y-%m-%d %H:%M:%SZ").unwrap();
        let after = Utc::now().naive_utc() + mdmkit_core::chrono::Duration::seconds(1);
        for t in [graph, entra] {
            assert!(before <= t && t <= after, "{t} is not now");
        }
    }
}
