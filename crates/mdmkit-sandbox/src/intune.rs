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
//! OData `eq ne gt ge lt le`, `contains()`, `startswith()`, `endswith()`, `any()` lambdas, `and`, `or`,
//! `not` and parentheses; string literals in single quotes with `''` for a quote. String comparisons ignore
//! case (assumed: connectors rely on it for serials, and the directory's compares do). On managed devices
//! the properties and operators are those the reference lists (`serialNumber eq`, `deviceName eq|contains`,
//! `userPrincipalName eq|ne`, `azureADDeviceId eq`, `emailAddress contains`, `lastSyncDateTime lt|gt`, …);
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
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use mdmkit_core::{IntuneConfig, ProviderConfig};
use serde_json::{json, Map, Value};
use url::Url;

use crate::common::{basic, bearer, header_str, json, query_pairs, Ctx, ProviderSim, TokenCheck};
use crate::fleet_api::sorted;
use crate::model::{ids, Fleet, SimDevice, SimGroup, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};
use mdmkit_core::changes::parse_timestamp;

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

// ----- apps and permissions -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permission {
    /// `DeviceManagementManagedDevices.Read.All`.
    ManagedDevices,
    /// `GroupMember.Read.All`.
    GroupMembers,
    /// `Device.Read.All`.
    Devices,
}

struct App {
    id: &'static str,
    secret: &'static str,
    secret_expired: bool,
    name: &'static str,
    permissions: &'static [Permission],
}

impl App {
    fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

const APPS: &[App] = &[
    App {
        id: CLIENT_ID,
        secret: CLIENT_SECRET,
        secret_expired: false,
        name: "mdmkit sandbox",
        permissions: &[
            Permission::ManagedDevices,
            Permission::GroupMembers,
            Permission::Devices,
        ],
    },
    App {
        id: NO_DEVICES_CLIENT_ID,
        secret: NO_DEVICES_CLIENT_SECRET,
        secret_expired: false,
        name: "mdmkit sandbox (no Intune devices)",
        permissions: &[Permission::GroupMembers, Permission::Devices],
    },
    App {
        id: NO_DIRECTORY_DEVICES_CLIENT_ID,
        secret: NO_DIRECTORY_DEVICES_CLIENT_SECRET,
        secret_expired: false,
        name: "mdmkit sandbox (no Entra devices)",
        permissions: &[Permission::ManagedDevices, Permission::GroupMembers],
    },
    App {
        id: NO_GROUPS_CLIENT_ID,
        secret: NO_GROUPS_CLIENT_SECRET,
        secret_expired: false,
        name: "mdmkit sandbox (no groups)",
        permissions: &[Permission::ManagedDevices, Permission::Devices],
    },
    App {
        id: EXPIRED_SECRET_CLIENT_ID,
        secret: EXPIRED_SECRET,
        secret_expired: true,
        name: "mdmkit sandbox (expired secret)",
        permissions: &[
            Permission::ManagedDevices,
            Permission::GroupMembers,
            Permission::Devices,
        ],
    },
];

fn app(id: &str) -> Option<&'static App> {
    APPS.iter().find(|a| a.id.eq_ignore_ascii_case(id.trim()))
}

// ----- time and ids -----

static REQUEST_SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh request, trace or activity id.
fn fresh_id() -> String {
    ids::uuid(NS_REQUEST, REQUEST_SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Now in UTC as (year, month, day, hour, minute, second).
fn utc_now() -> (i64, u32, u32, u32, u32, u32) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let rem = rem as u32;
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Graph's `innerError.date`: `2026-11-01T10:00:00`.
fn graph_date() -> String {
    let (y, mo, d, h, mi, s) = utc_now();
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
}

/// Entra's `timestamp`: `2026-11-01 10:00:00Z`.
fn entra_timestamp() -> String {
    let (y, mo, d, h, mi, s) = utc_now();
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}Z")
}

// ----- Entra token endpoint -----

/// Entra's OAuth error body.
fn entra_error(status: StatusCode, error: &str, code: u32, text: &str) -> Response {
    let trace = fresh_id();
    let correlation = fresh_id();
    let timestamp = entra_timestamp();
    let mut response = json(
        status,
        json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    if let Ok(v) = HeaderValue::from_str(&trace) {
        headers.insert("x-ms-request-id", v);
    }
    response
}

fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_dns_name(text: &str) -> bool {
    text.contains('.')
        && text.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The audience origin a scope names, if it is exactly `<scheme>://<host>/.default` for this server.
fn graph_audience(scope: &str, scheme: &str, host: &str) -> Option<String> {
    let resource = scope.strip_suffix("/.default")?;
    let (asked, authority) = resource.split_once("://")?;
    (asked.eq_ignore_ascii_case(scheme) && authority.eq_ignore_ascii_case(host))
        .then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// The scheme clients reach this server with: the framework sets `X-Forwarded-Proto: https` in TLS mode.
fn request_scheme(headers: &HeaderMap) -> &'static str {
    match header_str(headers, "x-forwarded-proto") {
        Some(p) if p.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

async fn token_get(Path(_tenant): Path<String>) -> Response {
    entra_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900561,
        "This endpoint takes POST requests only; a GET request was received.",
    )
}

async fn token(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = StatusCode::BAD_REQUEST;
    if !is_guid(&tenant) && !is_dns_name(&tenant) {
        return entra_error(
            bad,
            "invalid_request",
            900023,
            &format!("The tenant identifier '{tenant}' is not a valid GUID or DNS domain name."),
        );
    }
    if !tenant.eq_ignore_ascii_case(TENANT_ID) && !tenant.eq_ignore_ascii_case(TENANT_DOMAIN) {
        return entra_error(
            bad,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. The tenant ID may be mistyped, or the tenant belongs to another national cloud."
            ),
        );
    }
    let form = header_str(&headers, header::CONTENT_TYPE.as_str()).is_some_and(|t| {
        t.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    let pairs = if form {
        query_pairs(std::str::from_utf8(&body).ok())
    } else {
        Vec::new()
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let basic = basic(&headers);
    let client_id = field("client_id").or_else(|| basic.as_ref().map(|(u, _)| u.clone()));
    let secret = field("client_secret").or_else(|| basic.as_ref().map(|(_, p)| p.clone()));
    let missing = |name: &str| {
        entra_error(
            bad,
            "invalid_request",
            900144,
            &format!("The request body must contain the parameter '{name}'."),
        )
    };
    let Some(grant_type) = field("grant_type") else {
        return missing("grant_type");
    };
    let Some(client_id) = client_id else {
        return missing("client_id");
    };
    let Some(scope) = field("scope") else {
        return missing("scope");
    };
    if grant_type != "client_credentials" {
        return entra_error(
            bad,
            "unsupported_grant_type",
            70003,
            &format!(
                "The grant type '{grant_type}' is not supported here: use client_credentials."
            ),
        );
    }
    let Some(app) = app(&client_id) else {
        return entra_error(
            bad,
            "unauthorized_client",
            700016,
            &format!(
                "No application with the identifier '{client_id}' exists in the directory '{tenant}'. It may be installed in another tenant, or the identifier may be mistyped."
            ),
        );
    };
    let host = header_str(&headers, header::HOST.as_str()).unwrap_or_default();
    let entries: Vec<&str> = scope.split_whitespace().collect();
    let audience = match entries.as_slice() {
        [one] => graph_audience(one, request_scheme(&headers), host),
        _ => None,
    };
    let Some(audience) = audience else {
        if !entries.iter().any(|e| e.ends_with("/.default")) {
            return entra_error(
                bad,
                "invalid_scope",
                1002012,
                &format!(
                    "The scope '{scope}' cannot be used with client credentials, which need '<resource>/.default'."
                ),
            );
        }
        return entra_error(
            bad,
            "invalid_scope",
            70011,
            &format!("The value of the 'scope' parameter is not valid: '{scope}'."),
        );
    };
    let unauthorized = StatusCode::UNAUTHORIZED;
    let Some(secret) = secret else {
        return entra_error(
            unauthorized,
            "invalid_client",
            7000218,
            "The request body must contain 'client_secret' or 'client_assertion'.",
        );
    };
    if secret != app.secret {
        return entra_error(
            unauthorized,
            "invalid_client",
            7000215,
            &format!(
                "The client secret sent for app '{}' is not valid. Send the secret's value, not its secret ID.",
                app.id
            ),
        );
    }
    if app.secret_expired {
        return entra_error(
            unauthorized,
            "invalid_client",
            7000222,
            &format!(
                "The client secret keys of app '{}' ({}) have expired. Create a new secret in the app registration.",
                app.id, app.name
            ),
        );
    }
    let (access_token, expires_in) = ctx.issue_token(&format!("{} {audience}", app.id));
    let mut response = json(
        StatusCode::OK,
        json!({
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": access_token,
        }),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    response
}

// ----- Graph errors -----

/// A Graph refusal; rendered with the request's ids by [`finish`].
#[derive(Debug)]
struct Fault {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Fault {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Fault {
        Fault {
            status,
            code,
            message: message.into(),
        }
    }

    fn unauthenticated(message: &str) -> Fault {
        Fault::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    }

    fn directory_denied() -> Fault {
        Fault::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    /// Intune's refusal: the message is a JSON document serialised into a string.
    fn intune(status: StatusCode, code: &'static str, text: &str, path: &str) -> Fault {
        let service_path = path.strip_prefix("/v1.0").unwrap_or(path);
        let message = format!(
            "{text} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: {} - Url: https://fef.msua06.manage.microsoft.com/DeviceFE/StatelessDeviceFEService{service_path}?api-version=2025-03-14",
            fresh_id()
        );
        let document = format!(
            "{{\r\n  \"_version\": 3,\r\n  \"Message\": {},\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null,\r\n  \"ErrorSourceService\": \"\",\r\n  \"HttpHeaders\": \"{{}}\"\r\n}}",
            Value::String(message)
        );
        Fault::new(status, code, document)
    }

    fn intune_forbidden(path: &str) -> Fault {
        Fault::intune(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementManagedDevices.Read.All, DeviceManagementManagedDevices.ReadWrite.All",
            path,
        )
    }
}

/// Which Graph workload answers, and so which error codes it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Intune,
    Directory,
}

impl Dialect {
    fn bad_request(self, message: impl Into<String>) -> Fault {
        let code = match self {
            Dialect::Intune => "BadRequest",
            Dialect::Directory => "Request_BadRequest",
        };
        Fault::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn unsupported(self, message: impl Into<String>) -> Fault {
        let code = match self {
            Dialect::Intune => "BadRequest",
            Dialect::Directory => "Request_UnsupportedQuery",
        };
        Fault::new(StatusCode::BAD_REQUEST, code, message)
    }
}

/// Graph's error body for `status`, with fresh ids.
fn error_body(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
    client_request_id: &str,
) -> Response {
    let mut response = json(
        status,
        json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": graph_date(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }}),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
    }
    response
}

/// A handler's outcome.
type Answer = Result<Response, Fault>;

/// Renders a Graph answer with `request-id` and `client-request-id` (echoed when the client sent one).
fn finish(headers: &HeaderMap, answer: Answer) -> Response {
    let request_id = fresh_id();
    let client_request_id = header_str(headers, "client-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 100)
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let mut response = match answer {
        Ok(response) => response,
        Err(fault) => error_body(
            fault.status,
            fault.code,
            &fault.message,
            &request_id,
            &client_request_id,
        ),
    };
    let out = response.headers_mut();
    for (name, value) in [
        ("request-id", &request_id),
        ("client-request-id", &client_request_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    }
    response
}

fn odata(value: Value) -> Response {
    let mut response = json(StatusCode::OK, value);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
    response
}

// ----- Graph authentication -----

/// Who is calling, and the origin their token was issued for (the base of next links).
struct Caller {
    app: &'static App,
    origin: String,
}

fn authenticate(ctx: &Ctx, headers: &HeaderMap) -> Result<Caller, Fault> {
    let Some(token) = bearer(headers).filter(|t| !t.is_empty()) else {
        return Err(Fault::unauthenticated("Access token is empty."));
    };
    match ctx.check_token(token) {
        TokenCheck::Valid(grant) => {
            let (client, origin) = grant.client.split_once(' ').unwrap_or_default();
            let app = app(client).ok_or_else(|| {
                Fault::unauthenticated("Access token validation failure. Invalid token.")
            })?;
            let host = header_str(headers, header::HOST.as_str()).unwrap_or_default();
            let audience_host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
            if !audience_host.eq_ignore_ascii_case(host) {
                return Err(Fault::unauthenticated(
                    "Access token validation failure. Invalid audience.",
                ));
            }
            Ok(Caller {
                app,
                origin: origin.to_owned(),
            })
        }
        TokenCheck::Expired => Err(Fault::unauthenticated(
            "Lifetime validation failed, the token is expired.",
        )),
        TokenCheck::Unknown => Err(Fault::unauthenticated(
            "Access token validation failure. The token was not issued by this tenant.",
        )),
    }
}

// ----- query options -----

/// The OData system query options of a request.
#[derive(Debug, Default)]
struct Options {
    select: Option<String>,
    filter: Option<String>,
    top: Option<String>,
    skiptoken: Option<String>,
    count: bool,
    /// Every pair but `$skiptoken`, in order, for next links.
    keep: Vec<(String, String)>,
}

fn parse_options(raw: Option<&str>, dialect: Dialect, allowed: &[&str]) -> Result<Options, Fault> {
    let mut options = Options::default();
    for (key, value) in query_pairs(raw) {
        let lower = key.to_ascii_lowercase();
        if lower.starts_with('$') {
            if !allowed.contains(&lower.as_str()) {
                return Err(dialect.bad_request(format!(
                    "Query option '{key}' is not supported on this resource."
                )));
            }
            let slot = match lower.as_str() {
                "$select" => Some(&mut options.select),
                "$filter" => Some(&mut options.filter),
                "$top" => Some(&mut options.top),
                "$skiptoken" => Some(&mut options.skiptoken),
                "$count" => {
                    options.count = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(dialect.bad_request(format!(
                                "Invalid value '{value}' for $count: expected true or false."
                            )))
                        }
                    };
                    None
                }
                _ => None,
            };
            if let Some(slot) = slot {
                if slot.is_some() {
                    return Err(dialect
                        .bad_request(format!("Query option '{key}' was given more than once.")));
                }
                *slot = Some(value.clone());
            }
        }
        if lower != "$skiptoken" {
            options.keep.push((key, value));
        }
    }
    Ok(options)
}

/// The `$select` list mapped to canonical property names; `None` means every default property.
fn parse_select(
    options: &Options,
    props: &'static [&'static str],
    type_name: &str,
    dialect: Dialect,
) -> Result<Option<Vec<&'static str>>, Fault> {
    let Some(raw) = options.select.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let mut chosen = Vec::new();
    for name in raw.split(',').map(str::trim) {
        if name == "*" {
            return Ok(None);
        }
        match props.iter().find(|p| p.eq_ignore_ascii_case(name)) {
            Some(p) if !chosen.contains(p) => chosen.push(*p),
            Some(_) => {}
            None => {
                return Err(dialect.bad_request(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            )))
            }
        }
    }
    Ok(Some(chosen))
}

/// The page size: Intune defaults to and silently caps at 1000; the directory defaults to 100 and
/// refuses anything outside 1-999.
fn page_size(options: &Options, dialect: Dialect) -> Result<usize, Fault> {
    let Some(raw) = options.top.as_deref() else {
        return Ok(match dialect {
            Dialect::Intune => DEVICE_PAGE,
            Dialect::Directory => DIRECTORY_DEFAULT_PAGE,
        });
    };
    let parsed = raw.trim().parse::<u64>().ok();
    match dialect {
        Dialect::Intune => match parsed {
            Some(n) => Ok((n as usize).min(DEVICE_PAGE)),
            None => Err(dialect.bad_request(format!(
                "Invalid value '{raw}' for the $top query option: it must be a non-negative integer."
            ))),
        },
        Dialect::Directory => match parsed {
            Some(n) if (1..=DIRECTORY_MAX_PAGE as u64).contains(&n) => Ok(n as usize),
            _ => Err(dialect.bad_request(format!(
                "Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."
            ))),
        },
    }
}

/// Directory `$count` needs the advanced-query header.
fn advanced(headers: &HeaderMap) -> bool {
    header_str(headers, "consistencylevel")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

fn check_count(options: &Options, headers: &HeaderMap) -> Result<(), Fault> {
    if options.count && !advanced(headers) {
        return Err(Dialect::Directory.bad_request("$count is not currently supported."));
    }
    Ok(())
}

// ----- paging -----

/// Where a listing continues: after the row with key `after`, as page number `page` (0-based).
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    after: Option<u64>,
    page: u32,
}

fn encode_cursor(tag: char, after: u64, page: u32) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("sbx{tag}.{after:x}.{page}"))
}

fn cursor(options: &Options, tag: char, dialect: Dialect) -> Result<Cursor, Fault> {
    let Some(token) = options.skiptoken.as_deref() else {
        return Ok(Cursor::default());
    };
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|text| {
            let rest = text
                .strip_prefix("sbx")?
                .strip_prefix(tag)?
                .strip_prefix('.')?;
            let (after, page) = rest.split_once('.')?;
            Some(Cursor {
                after: Some(u64::from_str_radix(after, 16).ok()?),
                page: page.parse().ok().filter(|p| *p > 0)?,
            })
        });
    decoded.ok_or_else(|| dialect.bad_request("The $skiptoken is not valid for this request."))
}

/// Characters left as they are in next links (Graph keeps `$`, `,`, quotes and parentheses readable).
fn link_encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        let c = byte as char;
        if c.is_ascii_alphanumeric() || "-._~$,'()*:@/!".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// One page of a listing: the rows and, when more remain, the key to continue after.
fn take_page<T>(items: impl Iterator<Item = (u64, T)>, size: usize) -> (Vec<T>, Option<u64>) {
    let mut rows = Vec::with_capacity(size.min(DEVICE_PAGE));
    let mut last = None;
    for (key, item) in items {
        if rows.len() == size {
            return (rows, last);
        }
        last = Some(key);
        rows.push(item);
    }
    (rows, None)
}

/// Everything a listing response needs besides its rows.
struct Listing<'a> {
    caller: &'a Caller,
    path: &'a str,
    options: &'a Options,
    tag: char,
    cursor: Cursor,
    context: String,
}

impl Listing<'_> {
    /// Serves one page from `items` (already positioned after the cursor and filtered): applies the page
    /// size and the empty third page, and builds the body.
    fn respond<T>(
        &self,
        items: impl Iterator<Item = (u64, T)>,
        size: usize,
        count: Option<usize>,
        render: impl Fn(T) -> Value,
    ) -> Response {
        let (rows, next_after) = if size == 0 {
            (Vec::new(), None)
        } else if self.cursor.page == EMPTY_PAGE {
            (Vec::new(), self.cursor.after)
        } else {
            take_page(items, size)
        };
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            Value::String(format!(
                "{}/v1.0/$metadata#{}",
                self.caller.origin, self.context
            )),
        );
        if let Some(count) = count {
            body.insert("@odata.count".into(), json!(count));
        }
        if let Some(after) = next_after {
            let mut link = format!("{}{}?", self.caller.origin, self.path);
            for (key, value) in &self.options.keep {
                link_encode(key, &mut link);
                link.push('=');
                link_encode(value, &mut link);
                link.push('&');
            }
            link.push_str("$skiptoken=");
            link.push_str(&encode_cursor(self.tag, after, self.cursor.page + 1));
            body.insert("@odata.nextLink".into(), Value::String(link));
        }
        body.insert(
            "value".into(),
            Value::Array(rows.into_iter().map(render).collect()),
        );
        odata(Value::Object(body))
    }
}

/// `(name1,name2)` after an entity set in `@odata.context`, when a `$select` is in force.
fn context_select(select: &Option<Vec<&'static str>>) -> String {
    select
        .as_ref()
        .map(|s| format!("({})", s.join(",")))
        .unwrap_or_default()
}

/// A map range starting after `after` (keys above `u32::MAX` give an empty range).
fn range_after<V>(
    map: &std::collections::BTreeMap<u32, V>,
    after: Option<u64>,
) -> std::collections::btree_map::Range<'_, u32, V> {
    let start = match after {
        None => Bound::Unbounded,
        Some(a) => Bound::Excluded(a.min(u64::from(u32::MAX)) as u32),
    };
    map.range((start, Bound::Unbounded))
}

// ----- filters -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Null,
    /// An unquoted token: a number, a date, a GUID.
    Raw(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        prop: String,
        op: Op,
        lit: Lit,
    },
    Call {
        func: Func,
        prop: String,
        lit: Lit,
    },
    Any {
        prop: String,
        op: Op,
        lit: Lit,
    },
    /// A clause the service ignores: matches everything.
    Always,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
    Colon,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' => {
                toks.push(Tok::Colon);
                i += 1;
            }
            '\'' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated string literal at position {i}")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            value.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            value.push(*other);
                            i += 1;
                        }
                    }
                }
                toks.push(Tok::Str(value));
            }
            _ if c.is_alphanumeric() || "_./-+$".contains(c) => {
                let start = i;
                // Dates carry colons: `2026-01-01T10:00:00Z`.
                let date_like = c.is_ascii_digit();
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || "_./-+$".contains(chars[i])
                        || (date_like && chars[i] == ':'))
                {
                    i += 1;
                }
                toks.push(Tok::Word(chars[start..i].iter().collect()));
            }
            _ => return Err(format!("character '{c}' is not valid at position {i}")),
        }
    }
    Ok(toks)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn keyword(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), String> {
        match self.next() {
            Some(t) if t == tok => Ok(()),
            other => Err(format!("expected {tok:?}, found {other:?}")),
        }
    }

    fn word(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let inner = self.or()?;
            self.expect(Tok::Close)?;
            return Ok(inner);
        }
        let name = self.word()?;
        let lower = name.to_ascii_lowercase();
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            if let Some(prop) = lower.strip_suffix("/any").map(|_| &name[..name.len() - 4]) {
                let var = self.word()?;
                self.expect(Tok::Colon)?;
                let var_again = self.word()?;
                if var_again != var {
                    return Err(format!(
                        "the lambda variable '{var}' is not used as '{var_again}'"
                    ));
                }
                let op = self.op()?;
                let lit = self.literal()?;
                self.expect(Tok::Close)?;
                return Ok(Expr::Any {
                    prop: prop.to_owned(),
                    op,
                    lit,
                });
            }
            let func = match lower.as_str() {
                "contains" => Func::Contains,
                "startswith" => Func::StartsWith,
                "endswith" => Func::EndsWith,
                _ => return Err(format!("unknown function '{name}'")),
            };
            let prop = self.word()?;
            self.expect(Tok::Comma)?;
            let lit = self.literal()?;
            self.expect(Tok::Close)?;
            return Ok(Expr::Call { func, prop, lit });
        }
        let op = self.op()?;
        let lit = self.literal()?;
        Ok(Expr::Cmp {
            prop: name,
            op,
            lit,
        })
    }

    fn op(&mut self) -> Result<Op, String> {
        let word = self.word()?;
        Ok(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return Err(format!("unknown operator '{word}'")),
        })
    }

    fn literal(&mut self) -> Result<Lit, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Word(w)) => Ok(match w.as_str() {
                "true" => Lit::Bool(true),
                "false" => Lit::Bool(false),
                "null" => Lit::Null,
                _ => Lit::Raw(w),
            }),
            other => Err(format!("expected a literal, found {other:?}")),
        }
    }
}

fn parse_filter(text: &str) -> Result<Expr, String> {
    let mut parser = Parser {
        toks: tokenize(text)?,
        pos: 0,
    };
    let expr = parser.or()?;
    if parser.pos < parser.toks.len() {
        return Err(format!("unexpected {:?}", parser.toks[parser.pos]));
    }
    Ok(expr)
}

/// How a clause uses a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Op(Op),
    Func(Func),
    AnyEq,
}

/// What a resource lets `$filter` do.
struct FilterRules {
    resource: &'static str,
    type_name: &'static str,
    dialect: Dialect,
    /// Every property of the type.
    props: &'static [&'static str],
    /// The properties that can be filtered, and how.
    filterable: &'static [(&'static str, &'static [Use])],
}

impl FilterRules {
    fn leaf(&self, prop: &str, usage: Use) -> Result<Option<&'static str>, Fault> {
        let Some(canonical) = self.props.iter().find(|p| p.eq_ignore_ascii_case(prop)) else {
            return Err(self.dialect.bad_request(match self.dialect {
                Dialect::Intune => format!(
                    "Could not find a property named '{prop}' on type 'microsoft.graph.{}'.",
                    self.type_name
                ),
                Dialect::Directory => format!(
                    "Property '{prop}' does not exist as a declared property or extension property."
                ),
            }));
        };
        let supported = self
            .filterable
            .iter()
            .any(|(p, uses)| p == canonical && uses.contains(&usage));
        match (supported, self.dialect) {
            (true, _) => Ok(Some(canonical)),
            // Intune ignores what it cannot filter on.
            (false, Dialect::Intune) => Ok(None),
            (false, Dialect::Directory) => Err(self.dialect.unsupported(format!(
                "Unsupported or invalid query filter clause specified for property '{canonical}' of resource '{}'.",
                self.resource
            ))),
        }
    }

    /// Validates `expr`, canonicalises property names and replaces ignored clauses by [`Expr::Always`].
    fn check(&self, expr: Expr) -> Result<Expr, Fault> {
        Ok(match expr {
            Expr::Or(a, b) => Expr::Or(Box::new(self.check(*a)?), Box::new(self.check(*b)?)),
            Expr::And(a, b) => Expr::And(Box::new(self.check(*a)?), Box::new(self.check(*b)?)),
            Expr::Not(inner) => {
                self.check(*inner)?;
                match self.dialect {
                    Dialect::Intune => Expr::Always,
                    Dialect::Directory => {
                        return Err(self.dialect.unsupported(
                            "The 'not' operator needs an advanced query, which this resource does not take here.",
                        ))
                    }
                }
            }
            Expr::Cmp { prop, op, lit } => match self.leaf(&prop, Use::Op(op))? {
                Some(p) => Expr::Cmp {
                    prop: p.to_owned(),
                    op,
                    lit,
                },
                None => Expr::Always,
            },
            Expr::Call { func, prop, lit } => match self.leaf(&prop, Use::Func(func))? {
                Some(p) => Expr::Call {
                    func,
                    prop: p.to_owned(),
                    lit,
                },
                None => Expr::Always,
            },
            Expr::Any { prop, op, lit } => {
                let usage = if op == Op::Eq {
                    Use::AnyEq
                } else {
                    Use::Op(op)
                };
                match self.leaf(&prop, usage)? {
                    Some(p) => Expr::Any {
                        prop: p.to_owned(),
                        op,
                        lit,
                    },
                    None => Expr::Always,
                }
            }
            Expr::Always => Expr::Always,
        })
    }

    /// Parses and checks a `$filter`; `None` without one.
    fn compile(&self, filter: Option<&str>) -> Result<Option<Expr>, Fault> {
        let Some(text) = filter.filter(|f| !f.trim().is_empty()) else {
            return Ok(None);
        };
        let expr = parse_filter(text).map_err(|e| {
            self.dialect
                .bad_request(format!("Invalid filter clause: {e}."))
        })?;
        if self.dialect == Dialect::Intune && contains_or(&expr) && !or_of_one_property(&expr) {
            return Err(self.dialect.bad_request(
                "Filters on managed devices combine clauses with 'and'; 'or' only joins 'eq' clauses on one property.",
            ));
        }
        self.check(expr).map(Some)
    }
}

fn contains_or(expr: &Expr) -> bool {
    match expr {
        Expr::Or(..) => true,
        Expr::And(a, b) => contains_or(a) || contains_or(b),
        Expr::Not(a) => contains_or(a),
        _ => false,
    }
}

/// Whether every leaf is `<prop> eq <literal>` on one property, joined by `or` only.
fn or_of_one_property(expr: &Expr) -> bool {
    fn leaves<'a>(expr: &'a Expr, out: &mut Vec<&'a str>) -> bool {
        match expr {
            Expr::Or(a, b) => leaves(a, out) && leaves(b, out),
            Expr::Cmp {
                prop, op: Op::Eq, ..
            } => {
                out.push(prop);
                true
            }
            _ => false,
        }
    }
    let mut props = Vec::new();
    leaves(expr, &mut props) && props.windows(2).all(|w| w[0].eq_ignore_ascii_case(w[1]))
}

fn fold(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn compare(value: Option<&Value>, op: Op, lit: &Lit) -> bool {
    match lit {
        Lit::Null => {
            let null = value.is_none_or(Value::is_null);
            match op {
                Op::Eq => null,
                Op::Ne => !null,
                _ => false,
            }
        }
        Lit::Bool(b) => {
            let v = value.and_then(Value::as_bool);
            match op {
                Op::Eq => v == Some(*b),
                Op::Ne => v != Some(*b),
                _ => false,
            }
        }
        Lit::Str(s) | Lit::Raw(s) => {
            let Some(v) = value.and_then(fold) else {
                return op == Op::Ne;
            };
            // Dates compare in time order whatever their precision (`…:00Z` against `…:00.000Z`).
            if let (Some(a), Some(b)) = (parse_timestamp(&v), parse_timestamp(s)) {
                let order = a.cmp(&b);
                return match op {
                    Op::Eq => order.is_eq(),
                    Op::Ne => order.is_ne(),
                    Op::Gt => order.is_gt(),
                    Op::Ge => order.is_ge(),
                    Op::Lt => order.is_lt(),
                    Op::Le => order.is_le(),
                };
            }
            let s = s.to_lowercase();
            match op {
                Op::Eq => v == s,
                Op::Ne => v != s,
                Op::Gt => v > s,
                Op::Ge => v >= s,
                Op::Lt => v < s,
                Op::Le => v <= s,
            }
        }
    }
}

fn eval(expr: &Expr, get: &dyn Fn(&str) -> Option<Value>) -> bool {
    match expr {
        Expr::Or(a, b) => eval(a, get) || eval(b, get),
        Expr::And(a, b) => eval(a, get) && eval(b, get),
        Expr::Not(a) => !eval(a, get),
        Expr::Cmp { prop, op, lit } => compare(get(prop).as_ref(), *op, lit),
        Expr::Call { func, prop, lit } => {
            let (Some(v), Lit::Str(s) | Lit::Raw(s)) = (get(prop).as_ref().and_then(fold), lit)
            else {
                return false;
            };
            let s = s.to_lowercase();
            match func {
                Func::Contains => v.contains(&s),
                Func::StartsWith => v.starts_with(&s),
                Func::EndsWith => v.ends_with(&s),
            }
        }
        Expr::Any { prop, op, lit } => match get(prop) {
            Some(Value::Array(items)) => items.iter().any(|item| compare(Some(item), *op, lit)),
            _ => false,
        },
        Expr::Always => true,
    }
}

fn matches(filter: &Option<Expr>, get: impl Fn(&str) -> Option<Value>) -> bool {
    filter.as_ref().is_none_or(|f| eval(f, &get))
}

// ----- managed devices -----

const MANAGED_DEVICE_PROPS: &[&str] = &[
    "id",
    "userId",
    "deviceName",
    "managedDeviceOwnerType",
    "enrolledDateTime",
    "lastSyncDateTime",
    "operatingSystem",
    "complianceState",
    "jailBroken",
    "managementAgent",
    "osVersion",
    "easActivated",
    "easDeviceId",
    "easActivationDateTime",
    "azureADRegistered",
    "deviceEnrollmentType",
    "activationLockBypassCode",
    "emailAddress",
    "azureADDeviceId",
    "deviceRegistrationState",
    "deviceCategoryDisplayName",
    "isSupervised",
    "exchangeLastSuccessfulSyncDateTime",
    "exchangeAccessState",
    "exchangeAccessStateReason",
    "remoteAssistanceSessionUrl",
    "remoteAssistanceSessionErrorDetails",
    "isEncrypted",
    "userPrincipalName",
    "model",
    "manufacturer",
    "imei",
    "complianceGracePeriodExpirationDateTime",
    "serialNumber",
    "phoneNumber",
    "androidSecurityPatchLevel",
    "userDisplayName",
    "configurationManagerClientEnabledFeatures",
    "wiFiMacAddress",
    "deviceHealthAttestationState",
    "subscriberCarrier",
    "meid",
    "totalStorageSpaceInBytes",
    "freeStorageSpaceInBytes",
    "managedDeviceName",
    "partnerReportedThreatState",
    "managementState",
    "deviceActionResults",
];

const MANAGED_DEVICE_FILTERS: FilterRules = FilterRules {
    resource: "managedDevices",
    type_name: "managedDevice",
    dialect: Dialect::Intune,
    props: MANAGED_DEVICE_PROPS,
    filterable: &[
        ("serialNumber", &[Use::Op(Op::Eq)]),
        ("imei", &[Use::Op(Op::Eq)]),
        ("manufacturer", &[Use::Op(Op::Eq)]),
        ("operatingSystem", &[Use::Op(Op::Eq)]),
        ("complianceState", &[Use::Op(Op::Eq)]),
        ("managementAgent", &[Use::Op(Op::Eq)]),
        ("managementState", &[Use::Op(Op::Eq)]),
        ("deviceCategoryDisplayName", &[Use::Op(Op::Eq)]),
        ("exchangeAccessState", &[Use::Op(Op::Eq)]),
        ("jailBroken", &[Use::Op(Op::Eq)]),
        ("deviceName", &[Use::Op(Op::Eq), Use::Func(Func::Contains)]),
        ("model", &[Use::Op(Op::Eq), Use::Func(Func::Contains)]),
        ("userPrincipalName", &[Use::Op(Op::Eq), Use::Op(Op::Ne)]),
        ("azureADDeviceId", &[Use::Op(Op::Eq)]),
        ("emailAddress", &[Use::Func(Func::Contains)]),
        ("osVersion", &[Use::Func(Func::Contains)]),
        ("phoneNumber", &[Use::Func(Func::Contains)]),
        ("enrolledDateTime", &[Use::Op(Op::Lt), Use::Op(Op::Gt)]),
        ("lastSyncDateTime", &[Use::Op(Op::Lt), Use::Op(Op::Gt)]),
    ],
};

const MODELS: &[(&str, &str, bool)] = &[
    // (model, manufacturer, Windows?)
    ("MacBook Pro", "Apple", false),
    ("MacBook Air", "Apple", false),
    ("iMac", "Apple", false),
    ("Mac mini", "Apple", false),
    ("Mac Studio", "Apple", false),
    ("ThinkPad X1", "Lenovo", true),
    ("Surface Laptop", "Microsoft", true),
];

/// The hardware a device name suggests (the fleet names devices after their model).
fn hardware(d: &SimDevice) -> (&'static str, &'static str, bool) {
    MODELS
        .iter()
        .copied()
        .filter(|(model, _, _)| d.name.contains(model))
        .max_by_key(|(model, _, _)| model.len())
        .unwrap_or(MODELS[d.index as usize % MODELS.len()])
}

fn managed_id(index: u32) -> String {
    ids::uuid(NS_MANAGED_DEVICE, index)
}

fn aad_device_id(index: u32) -> String {
    ids::uuid(NS_AAD_DEVICE_ID, index)
}

fn user_id(user: u32) -> String {
    ids::uuid(NS_USER, user)
}

/// A managed device as Intune shows it.
struct ManagedView<'a> {
    d: &'a SimDevice,
    user: Option<&'a SimUser>,
    /// `lastSyncDateTime`: the fleet's change time of the device.
    synced: Option<String>,
}

impl<'a> ManagedView<'a> {
    fn new(fleet: &'a Fleet, d: &'a SimDevice) -> Self {
        ManagedView {
            d,
            user: fleet.user_of(d),
            synced: fleet
                .changed_at(d.index)
                .map(|t| t.to_rfc3339_opts(mdmkit_core::chrono::SecondsFormat::Secs, true)),
        }
    }

    /// A user property of an unassigned device: `""`, `null` or absent, by index.
    fn unassigned(&self) -> Option<Value> {
        match self.d.index % 3 {
            0 => Some(json!("")),
            1 => Some(Value::Null),
            _ => None,
        }
    }

    fn user_prop(&self, f: impl FnOnce(&SimUser) -> String) -> Option<Value> {
        match self.user {
            Some(u) => Some(Value::String(f(u))),
            None => self.unassigned(),
        }
    }

    /// One property; `None` when the device leaves it out.
    fn prop(&self, name: &str) -> Option<Value> {
        let d = self.d;
        let i = d.index;
        // Only the properties asked for are computed.
        let windows = || hardware(d).2;
        Some(match name {
            "id" => json!(managed_id(i)),
            "deviceName" => json!(d.name),
            "serialNumber" => json!(d.serial),
            "azureADDeviceId" => json!(aad_device_id(i)),
            "userId" => return self.user_prop(|u| user_id(u.index)),
            "userDisplayName" => return self.user_prop(|u| u.full_name.clone()),
            "userPrincipalName" | "emailAddress" => return self.user_prop(|u| u.email.clone()),
            "managedDeviceOwnerType" => json!(if i % 9 == 4 { "personal" } else { "company" }),
            "enrolledDateTime" => json!(format!(
                "2025-{:02}-{:02}T{:02}:{:02}:00Z",
                1 + i % 12,
                1 + i % 28,
                i % 24,
                i % 60
            )),
            "lastSyncDateTime" => json!(self.synced.clone()?),
            "operatingSystem" => json!(if windows() { "Windows" } else { "macOS" }),
            "osVersion" => json!(if windows() {
                "10.0.26100.2605"
            } else {
                "15.2 (24C101)"
            }),
            "complianceState" => json!(if i % 11 == 5 {
                "noncompliant"
            } else {
                "compliant"
            }),
            "jailBroken" => json!("Unknown"),
            "managementAgent" => json!("mdm"),
            "managementState" => json!("managed"),
            "easActivated" => json!(false),
            "easDeviceId"
            | "imei"
            | "meid"
            | "phoneNumber"
            | "subscriberCarrier"
            | "androidSecurityPatchLevel" => json!(""),
            "easActivationDateTime" | "exchangeLastSuccessfulSyncDateTime" => {
                json!("0001-01-01T00:00:00Z")
            }
            "azureADRegistered" => json!(true),
            "deviceEnrollmentType" => json!(if windows() {
                "windowsAzureADJoin"
            } else {
                "appleBulkWithUser"
            }),
            "activationLockBypassCode"
            | "remoteAssistanceSessionUrl"
            | "remoteAssistanceSessionErrorDetails"
            | "configurationManagerClientEnabledFeatures"
            | "deviceHealthAttestationState" => Value::Null,
            "deviceRegistrationState" => json!("registered"),
            "deviceCategoryDisplayName" => json!("Unknown Category"),
            "isSupervised" => json!(!windows()),
            "exchangeAccessState" | "exchangeAccessStateReason" => json!("none"),
            "isEncrypted" => json!(true),
            "model" => json!(hardware(d).0),
            "manufacturer" => json!(hardware(d).1),
            "complianceGracePeriodExpirationDateTime" => json!("9999-12-31T23:59:59Z"),
            "wiFiMacAddress" => json!(ids::uuid(NS_MAC, i).replace('-', "")[..12].to_owned()),
            "totalStorageSpaceInBytes" => json!(494_384_795_648_u64),
            "freeStorageSpaceInBytes" => {
                json!(100_000_000_000_u64 + u64::from(i % 97) * 1_073_741_824)
            }
            "managedDeviceName" => json!(format!(
                "{}{}_{}/{}/2025_{}:{:02} {}",
                self.user
                    .map(|u| format!("{}_", u.username))
                    .unwrap_or_default(),
                if windows() { "Windows" } else { "MacOS" },
                1 + i % 12,
                1 + i % 28,
                1 + i % 12,
                i % 60,
                if i % 2 == 0 { "AM" } else { "PM" }
            )),
            "partnerReportedThreatState" => json!("unknown"),
            "deviceActionResults" => json!([]),
            _ => return None,
        })
    }

    fn render(&self, select: &Option<Vec<&'static str>>) -> Value {
        let props = select.as_deref().unwrap_or(MANAGED_DEVICE_PROPS);
        let mut object = Map::new();
        for p in props {
            if let Some(v) = self.prop(p) {
                object.insert((*p).to_owned(), v);
            }
        }
        Value::Object(object)
    }
}

async fn managed_devices(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = list_managed_devices(&ctx, &headers, uri.path(), raw.as_deref());
    finish(&headers, answer)
}

fn list_managed_devices(ctx: &Ctx, headers: &HeaderMap, path: &str, raw: Option<&str>) -> Answer {
    let caller = authenticate(ctx, headers)?;
    if !caller.app.has(Permission::ManagedDevices) {
        return Err(Fault::intune_forbidden(path));
    }
    let dialect = Dialect::Intune;
    let options = parse_options(
        raw,
        dialect,
        &[
            "$select",
            "$filter",
            "$top",
            "$skiptoken",
            "$count",
            "$skip",
        ],
    )?;
    let select = parse_select(&options, MANAGED_DEVICE_PROPS, "managedDevice", dialect)?;
    let filter = MANAGED_DEVICE_FILTERS.compile(options.filter.as_deref())?;
    // Graph sometimes ignores `$filter` on managed devices and returns everything.
    let filter = if ctx
        .shared
        .switches
        .graph_ignores_filter
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        None
    } else {
        filter
    };
    let size = page_size(&options, dialect)?;
    let cursor = cursor(&options, 'd', dialect)?;
    let fleet = ctx.fleet();
    let count = options.count.then(|| match &filter {
        None => fleet.devices.len(),
        Some(_) => fleet
            .devices
            .values()
            .filter(|d| matches(&filter, |p| ManagedView::new(&fleet, d).prop(p)))
            .count(),
    });
    let items = range_after(&fleet.devices, cursor.after)
        .filter(|(_, d)| matches(&filter, |p| ManagedView::new(&fleet, d).prop(p)))
        .map(|(i, d)| (u64::from(*i), d));
    let listing = Listing {
        caller: &caller,
        path,
        options: &options,
        tag: 'd',
        cursor,
        context: format!("deviceManagement/managedDevices{}", context_select(&select)),
    };
    Ok(listing.respond(items, size, count, |d| {
        ManagedView::new(&fleet, d).render(&select)
    }))
}

async fn managed_device(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = get_managed_device(&ctx, &headers, uri.path(), &id, raw.as_deref());
    finish(&headers, answer)
}

fn get_managed_device(
    ctx: &Ctx,
    headers: &HeaderMap,
    path: &str,
    id: &str,
    raw: Option<&str>,
) -> Answer {
    let caller = authenticate(ctx, headers)?;
    if !caller.app.has(Permission::ManagedDevices) {
        return Err(Fault::intune_forbidden(path));
    }
    let options = parse_options(raw, Dialect::Intune, &["$select"])?;
    let select = parse_select(
        &options,
        MANAGED_DEVICE_PROPS,
        "managedDevice",
        Dialect::Intune,
    )?;
    let fleet = ctx.fleet();
    let wanted = id.to_ascii_lowercase();
    let Some(d) = fleet
        .devices
        .values()
        .find(|d| managed_id(d.index) == wanted)
    else {
        return Err(Fault::intune(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "Resource not found",
            path,
        ));
    };
    let mut object = ManagedView::new(&fleet, d).render(&select);
    object.as_object_mut().expect("an object").insert(
        "@odata.context".into(),
        json!(format!(
            "{}/v1.0/$metadata#deviceManagement/managedDevices{}/$entity",
            caller.origin,
            context_select(&select)
        )),
    );
    Ok(odata(object))
}

// ----- directory: devices, users, groups -----

const DEVICE_PROPS: &[&str] = &[
    "id",
    "deviceId",
    "displayName",
    "operatingSystem",
    "operatingSystemVersion",
    "accountEnabled",
    "isManaged",
    "isCompliant",
    "mdmAppId",
    "trustType",
    "approximateLastSignInDateTime",
    "registrationDateTime",
    "deletedDateTime",
];

const USER_PROPS: &[&str] = &[
    "id",
    "displayName",
    "givenName",
    "surname",
    "userPrincipalName",
    "mail",
    "jobTitle",
    "businessPhones",
];

/// Directory objects a member list may hold (for `$select` on uncast lists).
const MEMBER_PROPS: &[&str] = &[
    "id",
    "deviceId",
    "displayName",
    "operatingSystem",
    "operatingSystemVersion",
    "accountEnabled",
    "isManaged",
    "isCompliant",
    "mdmAppId",
    "trustType",
    "approximateLastSignInDateTime",
    "registrationDateTime",
    "deletedDateTime",
    "givenName",
    "surname",
    "userPrincipalName",
    "mail",
    "jobTitle",
    "businessPhones",
];

const DEVICE_FILTERS: FilterRules = FilterRules {
    resource: "Device",
    type_name: "device",
    dialect: Dialect::Directory,
    props: DEVICE_PROPS,
    filterable: &[
        ("id", &[Use::Op(Op::Eq)]),
        (
            "deviceId",
            &[
                Use::Op(Op::Eq),
                Use::Op(Op::Ne),
                Use::Func(Func::StartsWith),
            ],
        ),
        (
            "displayName",
            &[Use::Op(Op::Eq), Use::Func(Func::StartsWith)],
        ),
        (
            "operatingSystem",
            &[Use::Op(Op::Eq), Use::Func(Func::StartsWith)],
        ),
        ("trustType", &[Use::Op(Op::Eq)]),
        ("mdmAppId", &[Use::Op(Op::Eq)]),
        ("accountEnabled", &[Use::Op(Op::Eq)]),
    ],
};

/// An Entra device object: the registration of a managed device, or one Intune does not manage.
#[derive(Clone, Copy)]
enum EntraDevice<'a> {
    Managed(&'a SimDevice),
    /// The unmanaged device in group `g`.
    Unmanaged(u32),
}

impl EntraDevice<'_> {
    fn prop(&self, name: &str) -> Option<Value> {
        Some(match (self, name) {
            (EntraDevice::Managed(d), "id") => json!(ids::uuid(NS_DIRECTORY_DEVICE, d.index)),
            (EntraDevice::Unmanaged(g), "id") => {
                json!(ids::uuid(NS_DIRECTORY_DEVICE, UNMANAGED_BASE + g))
            }
            (EntraDevice::Managed(d), "deviceId") => json!(aad_device_id(d.index)),
            (EntraDevice::Unmanaged(g), "deviceId") => json!(ids::uuid(NS_UNMANAGED_DEVICE_ID, *g)),
            (EntraDevice::Managed(d), "displayName") => json!(d.name),
            (EntraDevice::Unmanaged(g), "displayName") => json!(format!("DESKTOP-BYOD{g:03}")),
            (EntraDevice::Managed(d), "operatingSystem") => {
                json!(if hardware(d).2 { "Windows" } else { "MacMDM" })
            }
            (EntraDevice::Unmanaged(_), "operatingSystem") => json!("Windows"),
            (EntraDevice::Managed(d), "operatingSystemVersion") => {
                json!(if hardware(d).2 {
                    "10.0.26100.2605"
                } else {
                    "15.2"
                })
            }
            (EntraDevice::Unmanaged(_), "operatingSystemVersion") => json!("10.0.22631.4602"),
            (_, "accountEnabled") => json!(true),
            (EntraDevice::Managed(_), "isManaged") => json!(true),
            (EntraDevice::Unmanaged(_), "isManaged") => json!(false),
            (EntraDevice::Managed(d), "isCompliant") => json!(d.index % 11 != 5),
            (EntraDevice::Unmanaged(_), "isCompliant") => Value::Null,
            (EntraDevice::Managed(_), "mdmAppId") => json!(INTUNE_MDM_APP_ID),
            (EntraDevice::Unmanaged(_), "mdmAppId") => Value::Null,
            (EntraDevice::Managed(d), "trustType") => {
                json!(if hardware(d).2 {
                    "AzureAd"
                } else {
                    "Workplace"
                })
            }
            (EntraDevice::Unmanaged(_), "trustType") => json!("Workplace"),
            (_, "approximateLastSignInDateTime") => json!("2026-10-30T08:15:00Z"),
            (_, "registrationDateTime") => json!("2025-01-15T09:00:00Z"),
            (_, "deletedDateTime") => Value::Null,
            _ => return None,
        })
    }
}

/// An Entra user: the directory view of a fleet user.
fn user_prop(u: &SimUser, name: &str) -> Option<Value> {
    let (given, surname) = u.full_name.split_once(' ').unwrap_or((&u.full_name, ""));
    Some(match name {
        "id" => json!(user_id(u.index)),
        "displayName" => json!(u.full_name),
        "givenName" => json!(given),
        "surname" => json!(surname),
        "userPrincipalName" | "mail" => json!(u.email),
        "jobTitle" => Value::Null,
        "businessPhones" => json!([]),
        _ => return None,
    })
}

/// A directory object in a member list.
#[derive(Clone, Copy)]
enum Member<'a> {
    Device(EntraDevice<'a>),
    User(&'a SimUser),
}

impl Member<'_> {
    fn is_device(&self) -> bool {
        matches!(self, Member::Device(_))
    }

    /// The member with `@odata.type`; device properties are `null` (all but `id`) when the caller may not
    /// read devices.
    fn render(&self, select: &Option<Vec<&'static str>>, devices_visible: bool) -> Value {
        let mut object = Map::new();
        match self {
            Member::Device(device) => {
                object.insert("@odata.type".into(), json!("#microsoft.graph.device"));
                let props = select.as_deref().unwrap_or(DEVICE_PROPS);
                for p in props.iter().filter(|p| DEVICE_PROPS.contains(p)) {
                    let value = if devices_visible || *p == "id" {
                        device.prop(p)
                    } else {
                        Some(Value::Null)
                    };
                    if let Some(v) = value {
                        object.insert((*p).to_owned(), v);
                    }
                }
            }
            Member::User(user) => {
                object.insert("@odata.type".into(), json!("#microsoft.graph.user"));
                let props = select.as_deref().unwrap_or(USER_PROPS);
                for p in props.iter().filter(|p| USER_PROPS.contains(p)) {
                    if let Some(v) = user_prop(user, p) {
                        object.insert((*p).to_owned(), v);
                    }
                }
            }
        }
        Value::Object(object)
    }
}

fn render_device(device: EntraDevice<'_>, select: &Option<Vec<&'static str>>) -> Value {
    let props = select.as_deref().unwrap_or(DEVICE_PROPS);
    Value::Object(
        props
            .iter()
            .filter_map(|p| device.prop(p).map(|v| ((*p).to_owned(), v)))
            .collect(),
    )
}

/// The groups, fleet groups and the Microsoft 365 group alike.
#[derive(Clone, Copy)]
enum GroupView<'a> {
    Fleet(&'a SimGroup),
    AllCompany,
}

const GROUP_PROPS: &[&str] = &[
    "id",
    "displayName",
    "description",
    "groupTypes",
    "securityEnabled",
    "mailEnabled",
    "mailNickname",
    "mail",
    "membershipRule",
    "membershipRuleProcessingState",
    "visibility",
    "createdDateTime",
    "deletedDateTime",
];

const GROUP_FILTERS: FilterRules = FilterRules {
    resource: "Group",
    type_name: "group",
    dialect: Dialect::Directory,
    props: GROUP_PROPS,
    filterable: &[
        ("id", &[Use::Op(Op::Eq)]),
        (
            "displayName",
            &[Use::Op(Op::Eq), Use::Func(Func::StartsWith)],
        ),
        (
            "mailNickname",
            &[Use::Op(Op::Eq), Use::Func(Func::StartsWith)],
        ),
        ("securityEnabled", &[Use::Op(Op::Eq)]),
        ("mailEnabled", &[Use::Op(Op::Eq)]),
        ("groupTypes", &[Use::AnyEq]),
    ],
};

fn group_id(index: u32) -> String {
    ids::uuid(NS_GROUP, index)
}

fn all_company_id() -> String {
    ids::uuid(NS_M365_GROUP, 0)
}

/// Listing key of a group: the Microsoft 365 group first, then the fleet's by index.
fn group_key(group: &GroupView<'_>) -> u64 {
    match group {
        GroupView::AllCompany => 0,
        GroupView::Fleet(g) => u64::from(g.index) + 1,
    }
}

impl GroupView<'_> {
    fn prop(&self, name: &str) -> Option<Value> {
        let nickname = |text: &str| -> String {
            text.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        };
        Some(match (self, name) {
            (GroupView::Fleet(g), "id") => json!(group_id(g.index)),
            (GroupView::AllCompany, "id") => json!(all_company_id()),
            (GroupView::Fleet(g), "displayName") => json!(g.name),
            (GroupView::AllCompany, "displayName") => json!("All Company"),
            (GroupView::Fleet(g), "description") => json!(format!("Devices of {}", g.name)),
            (GroupView::AllCompany, "description") => json!("Everyone in the company"),
            (GroupView::Fleet(g), "groupTypes") if g.smart => json!(["DynamicMembership"]),
            (GroupView::Fleet(_), "groupTypes") => json!([]),
            (GroupView::AllCompany, "groupTypes") => json!(["Unified"]),
            (GroupView::Fleet(_), "securityEnabled") => json!(true),
            (GroupView::AllCompany, "securityEnabled") => json!(false),
            (GroupView::Fleet(_), "mailEnabled") => json!(false),
            (GroupView::AllCompany, "mailEnabled") => json!(true),
            (GroupView::Fleet(g), "mailNickname") => {
                json!(format!("{}{}", nickname(&g.name), g.index))
            }
            (GroupView::AllCompany, "mailNickname") => json!("allcompany"),
            (GroupView::Fleet(_), "mail") => Value::Null,
            (GroupView::AllCompany, "mail") => json!(format!("allcompany@{TENANT_DOMAIN}")),
            (GroupView::Fleet(g), "membershipRule") if g.smart => {
                json!("(device.deviceOSType -eq \"MacMDM\")")
            }
            (GroupView::Fleet(g), "membershipRuleProcessingState") if g.smart => json!("On"),
            (GroupView::Fleet(_), "membershipRule" | "membershipRuleProcessingState") => {
                Value::Null
            }
            (GroupView::AllCompany, "membershipRule" | "membershipRuleProcessingState") => {
                Value::Null
            }
            (GroupView::Fleet(_), "visibility") => Value::Null,
            (GroupView::AllCompany, "visibility") => json!("Public"),
            (_, "createdDateTime") => json!("2024-06-03T12:00:00Z"),
            (_, "deletedDateTime") => Value::Null,
            _ => return None,
        })
    }

    fn render(&self, select: &Option<Vec<&'static str>>) -> Value {
        let props = select.as_deref().unwrap_or(GROUP_PROPS);
        Value::Object(
            props
                .iter()
                .filter_map(|p| self.prop(p).map(|v| ((*p).to_owned(), v)))
                .collect(),
        )
    }
}

/// A group's members from key `after` on: fleet devices by index, then the unmanaged Entra device (even
/// groups), then users.
fn group_members<'a>(
    fleet: &'a Fleet,
    group: GroupView<'a>,
    after: Option<u64>,
) -> Box<dyn Iterator<Item = (u64, Member<'a>)> + 'a> {
    let mut extras: Vec<(u64, Member<'a>)> = Vec::new();
    let user = |i: u32| fleet.users.get(&i).map(Member::User);
    let devices: Box<dyn Iterator<Item = (u64, Member<'a>)> + 'a> = match group {
        GroupView::AllCompany => {
            extras.extend(
                (0..2u32).filter_map(|i| user(i).map(|m| (EXTRA_KEYS + 1 + u64::from(i), m))),
            );
            Box::new(std::iter::empty())
        }
        GroupView::Fleet(g) => {
            if g.index % 2 == 0 {
                extras.push((EXTRA_KEYS, Member::Device(EntraDevice::Unmanaged(g.index))));
            }
            if !g.smart && !fleet.users.is_empty() {
                if let Some(m) = user(g.index % fleet.users.len() as u32) {
                    extras.push((EXTRA_KEYS + 1, m));
                }
            }
            let start = match after {
                None => Bound::Unbounded,
                Some(a) => Bound::Excluded(a.min(u64::from(u32::MAX)) as u32),
            };
            Box::new(
                g.members
                    .range((start, Bound::Unbounded))
                    .filter_map(move |i| {
                        fleet
                            .devices
                            .get(i)
                            .map(|d| (u64::from(*i), Member::Device(EntraDevice::Managed(d))))
                    }),
            )
        }
    };
    Box::new(
        devices.chain(
            extras
                .into_iter()
                .filter(move |(k, _)| after.is_none_or(|a| *k > a)),
        ),
    )
}

fn find_group<'a>(fleet: &'a Fleet, id: &str) -> Option<GroupView<'a>> {
    let wanted = id.to_ascii_lowercase();
    if wanted == all_company_id() {
        return Some(GroupView::AllCompany);
    }
    fleet
        .groups
        .values()
        .find(|g| group_id(g.index) == wanted)
        .map(GroupView::Fleet)
}

fn require(caller: &Caller, permission: Permission) -> Result<(), Fault> {
    if caller.app.has(permission) {
        Ok(())
    } else {
        Err(Fault::directory_denied())
    }
}

fn group_not_found(id: &str) -> Fault {
    Fault::new(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

async fn groups(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = list_groups(&ctx, &headers, uri.path(), raw.as_deref());
    finish(&headers, answer)
}

fn list_groups(ctx: &Ctx, headers: &HeaderMap, path: &str, raw: Option<&str>) -> Answer {
    let caller = authenticate(ctx, headers)?;
    require(&caller, Permission::GroupMembers)?;
    let dialect = Dialect::Directory;
    let options = parse_options(
        raw,
        dialect,
        &["$select", "$filter", "$top", "$skiptoken", "$count"],
    )?;
    let select = parse_select(&options, GROUP_PROPS, "group", dialect)?;
    let filter = GROUP_FILTERS.compile(options.filter.as_deref())?;
    let size = page_size(&options, dialect)?;
    let cursor = cursor(&options, 'g', dialect)?;
    check_count(&options, headers)?;
    let fleet = ctx.fleet();
    let all = std::iter::once(GroupView::AllCompany)
        .chain(fleet.groups.values().map(GroupView::Fleet))
        .filter(|g| matches(&filter, |p| g.prop(p)));
    let count = options.count.then(|| all.clone().count());
    let items = all
        .map(|g| (group_key(&g), g))
        .filter(|(k, _)| cursor.after.is_none_or(|a| *k > a));
    let listing = Listing {
        caller: &caller,
        path,
        options: &options,
        tag: 'g',
        cursor,
        context: format!("groups{}", context_select(&select)),
    };
    Ok(listing.respond(items, size, count, |g| g.render(&select)))
}

async fn group(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = get_group(&ctx, &headers, &id, raw.as_deref());
    finish(&headers, answer)
}

fn get_group(ctx: &Ctx, headers: &HeaderMap, id: &str, raw: Option<&str>) -> Answer {
    let caller = authenticate(ctx, headers)?;
    require(&caller, Permission::GroupMembers)?;
    let options = parse_options(raw, Dialect::Directory, &["$select"])?;
    let select = parse_select(&options, GROUP_PROPS, "group", Dialect::Directory)?;
    let fleet = ctx.fleet();
    let group = find_group(&fleet, id).ok_or_else(|| group_not_found(id))?;
    let mut object = group.render(&select);
    object.as_object_mut().expect("an object").insert(
        "@odata.context".into(),
        json!(format!(
            "{}/v1.0/$metadata#groups{}/$entity",
            caller.origin,
            context_select(&select)
        )),
    );
    Ok(odata(object))
}

// ----- groups delta -----

/// What a group looked like when a delta token was issued.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupState {
    name: String,
    security: bool,
    /// Direct members: directory object id to `@odata.type`.
    members: std::collections::BTreeMap<String, &'static str>,
}

/// What Graph keeps behind delta tokens and the pages of a round in progress.
#[derive(Debug, Clone)]
pub(crate) enum DeltaState {
    /// The groups as of a delta token.
    Token(std::collections::BTreeMap<String, GroupState>),
    /// A round being paged: its entries, and the state its delta token will stand for.
    Round {
        entries: Vec<Value>,
        state: std::collections::BTreeMap<String, GroupState>,
    },
}

/// Entries (group objects and continuations) per delta page, and members per entry.
const DELTA_PAGE: usize = 20;
const DELTA_MEMBER_CHUNK: usize = 200;

fn member_object(m: &Member<'_>) -> Option<(String, &'static str)> {
    match m {
        Member::Device(d) => Some((
            d.prop("id")?.as_str()?.to_owned(),
            "#microsoft.graph.device",
        )),
        Member::User(u) => Some((
            user_prop(u, "id")?.as_str()?.to_owned(),
            "#microsoft.graph.user",
        )),
    }
}

/// Every group's state now.
fn group_states(fleet: &Fleet) -> std::collections::BTreeMap<String, GroupState> {
    std::iter::once(GroupView::AllCompany)
        .chain(fleet.groups.values().map(GroupView::Fleet))
        .map(|g| {
            let text = |p: &str| g.prop(p).and_then(|v| v.as_str().map(str::to_owned));
            let state = GroupState {
                name: text("displayName").unwrap_or_default(),
                security: g.prop("securityEnabled").and_then(|v| v.as_bool()) == Some(true),
                members: group_members(fleet, g, None)
                    .filter_map(|(_, m)| member_object(&m))
                    .collect(),
            };
            (text("id").unwrap_or_default(), state)
        })
        .collect()
}

/// The delta entries from `old` (none: a first round, everything) to `new`: changed groups with the
/// properties that changed and their member additions and removals, deleted groups with `@removed`.
/// Long member lists continue in further entries carrying only `id` and `members@delta`.
fn delta_entries(
    old: Option<&std::collections::BTreeMap<String, GroupState>>,
    new: &std::collections::BTreeMap<String, GroupState>,
    select: &[String],
) -> Vec<Value> {
    let wants = |p: &str| select.is_empty() || select.iter().any(|s| s.eq_ignore_ascii_case(p));
    let mut entries = Vec::new();
    for (id, state) in new {
        let before = old.and_then(|o| o.get(id));
        if before == Some(state) {
            continue;
        }
        let mut first = Map::new();
        first.insert("id".into(), json!(id));
        if wants("displayName") && before.is_none_or(|b| b.name != state.name) {
            first.insert("displayName".into(), json!(state.name));
        }
        if wants("securityEnabled") && before.is_none_or(|b| b.security != state.security) {
            first.insert("securityEnabled".into(), json!(state.security));
        }
        let mut changes: Vec<Value> = Vec::new();
        if wants("members") {
            for (member, kind) in &state.members {
                if before.is_none_or(|b| !b.members.contains_key(member)) {
                    changes.push(json!({"@odata.type": kind, "id": member}));
                }
            }
            if let Some(b) = before {
                for (member, kind) in &b.members {
                    if !state.members.contains_key(member) {
                        changes.push(
                            json!({"@odata.type": kind, "id": member, "@removed": {"reason": "deleted"}}),
                        );
                    }
                }
            }
        }
        if changes.is_empty() && first.len() == 1 {
            continue;
        }
        let mut chunks = changes.chunks(DELTA_MEMBER_CHUNK);
        if let Some(chunk) = chunks.next() {
            first.insert("members@delta".into(), json!(chunk));
        }
        entries.push(Value::Object(first));
        for chunk in chunks {
            entries.push(json!({"id": id, "members@delta": chunk}));
        }
    }
    if let Some(old) = old {
        for id in old.keys().filter(|id| !new.contains_key(*id)) {
            entries.push(json!({"id": id, "@removed": {"reason": "changed"}}));
        }
    }
    entries
}

fn sync_state_not_found() -> Fault {
    Fault::new(
        StatusCode::GONE,
        "syncStateNotFound",
        "The sync state generation is not found or has expired. Please restart the sync without a token.",
    )
}

async fn groups_delta(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = read_groups_delta(&ctx, &headers, raw.as_deref());
    finish(&headers, answer)
}

fn read_groups_delta(ctx: &Ctx, headers: &HeaderMap, raw: Option<&str>) -> Answer {
    let caller = authenticate(ctx, headers)?;
    require(&caller, Permission::GroupMembers)?;
    let pairs = query_pairs(raw);
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    for (key, _) in &pairs {
        let lower = key.to_ascii_lowercase();
        if lower.starts_with('$')
            && !["$select", "$deltatoken", "$skiptoken"].contains(&lower.as_str())
        {
            return Err(Dialect::Directory.bad_request(format!(
                "Query option '{key}' is not supported on this resource."
            )));
        }
    }
    let select: Vec<String> = get("$select")
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let states = &ctx.shared.switches.group_delta_states;
    let fresh_key = || fresh_id();
    // Which round, and which page of it.
    let (round, page) = match (get("$skiptoken"), get("$deltatoken")) {
        (Some(skip), _) => {
            let (round, page) = skip.rsplit_once('.').ok_or_else(sync_state_not_found)?;
            let page: usize = page.parse().map_err(|_| sync_state_not_found())?;
            (round.to_owned(), page)
        }
        (None, token) => {
            let fleet = ctx.fleet();
            let now = group_states(&fleet);
            let mut map = states.lock().unwrap();
            let old = match token {
                Some(token) => match map.get(token) {
                    Some(DeltaState::Token(old)) => Some(old.clone()),
                    _ => return Err(sync_state_not_found()),
                },
                None => None,
            };
            let entries = delta_entries(old.as_ref(), &now, &select);
            let round = fresh_key();
            map.insert(
                round.clone(),
                DeltaState::Round {
                    entries,
                    state: now,
                },
            );
            (round, 0)
        }
    };
    let mut map = states.lock().unwrap();
    let Some(DeltaState::Round { entries, state }) = map.get(&round).cloned() else {
        return Err(sync_state_not_found());
    };
    let start = page * DELTA_PAGE;
    let rows: Vec<Value> = entries
        .iter()
        .skip(start)
        .take(DELTA_PAGE)
        .cloned()
        .collect();
    let mut body = Map::new();
    let context = if select.is_empty() {
        "groups".to_owned()
    } else {
        format!("groups({})", select.join(","))
    };
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#{context}", caller.origin)),
    );
    if start + DELTA_PAGE < entries.len() {
        body.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/v1.0/groups/delta?$skiptoken={round}.{}",
                caller.origin,
                page + 1
            )),
        );
    } else {
        let token = fresh_key();
        map.insert(token.clone(), DeltaState::Token(state));
        map.remove(&round);
        body.insert(
            "@odata.deltaLink".into(),
            json!(format!(
                "{}/v1.0/groups/delta?$deltatoken={token}",
                caller.origin
            )),
        );
    }
    body.insert("value".into(), Value::Array(rows));
    Ok(odata(Value::Object(body)))
}

/// Which member types a member listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cast {
    All,
    Devices,
    Users,
    Groups,
}

async fn members(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = list_members(&ctx, &headers, uri.path(), &id, None, raw.as_deref());
    finish(&headers, answer)
}

async fn members_cast(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    Path((id, cast)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = list_members(&ctx, &headers, uri.path(), &id, Some(&cast), raw.as_deref());
    finish(&headers, answer)
}

fn list_members(
    ctx: &Ctx,
    headers: &HeaderMap,
    path: &str,
    id: &str,
    cast: Option<&str>,
    raw: Option<&str>,
) -> Answer {
    let caller = authenticate(ctx, headers)?;
    require(&caller, Permission::GroupMembers)?;
    let dialect = Dialect::Directory;
    let cast = match cast {
        None => Cast::All,
        Some(c) if c.eq_ignore_ascii_case("microsoft.graph.device") => Cast::Devices,
        Some(c) if c.eq_ignore_ascii_case("microsoft.graph.user") => Cast::Users,
        Some(c) if c.eq_ignore_ascii_case("microsoft.graph.group") => Cast::Groups,
        Some(c) => {
            return Err(dialect.bad_request(format!("Resource not found for the segment '{c}'.")))
        }
    };
    let options = parse_options(
        raw,
        dialect,
        &["$select", "$filter", "$top", "$skiptoken", "$count"],
    )?;
    let (props, type_name) = match cast {
        Cast::All => (MEMBER_PROPS, "directoryObject"),
        Cast::Devices => (DEVICE_PROPS, "device"),
        Cast::Users => (USER_PROPS, "user"),
        Cast::Groups => (GROUP_PROPS, "group"),
    };
    let select = parse_select(&options, props, type_name, dialect)?;
    let filter = match (&options.filter, cast) {
        (None, _) => None,
        (Some(f), Cast::Devices) if advanced(headers) && options.count => {
            DEVICE_FILTERS.compile(Some(f))?
        }
        (Some(_), _) => {
            return Err(dialect.unsupported(
                "Filtering members needs the device cast and an advanced query (ConsistencyLevel: eventual and $count=true).",
            ))
        }
    };
    let size = page_size(&options, dialect)?;
    let cursor = cursor(&options, 'm', dialect)?;
    check_count(&options, headers)?;
    let fleet = ctx.fleet();
    let group = find_group(&fleet, id).ok_or_else(|| group_not_found(id))?;
    if cast == Cast::Groups && matches!(group, GroupView::AllCompany) {
        return Err(dialect.unsupported(
            "Microsoft 365 groups cannot have groups as members, so this cast is not supported here.",
        ));
    }
    let devices_visible = caller.app.has(Permission::Devices);
    let keep = move |m: &Member<'_>| match cast {
        Cast::All => true,
        Cast::Devices => m.is_device(),
        Cast::Users => !m.is_device(),
        // The fleet does not nest groups.
        Cast::Groups => false,
    };
    let passes = |m: &Member<'_>| {
        keep(m)
            && match m {
                Member::Device(d) => matches(&filter, |p| d.prop(p)),
                Member::User(_) => filter.is_none(),
            }
    };
    let count = options.count.then(|| {
        group_members(&fleet, group, None)
            .filter(|(_, m)| passes(m))
            .count()
    });
    let items = group_members(&fleet, group, cursor.after).filter(|(_, m)| passes(m));
    let entity_set = match cast {
        Cast::All => "directoryObjects",
        Cast::Devices => "devices",
        Cast::Users => "users",
        Cast::Groups => "groups",
    };
    let listing = Listing {
        caller: &caller,
        path,
        options: &options,
        tag: 'm',
        cursor,
        context: format!("{entity_set}{}", context_select(&select)),
    };
    Ok(listing.respond(items, size, count, |m| m.render(&select, devices_visible)))
}

/// Every Entra device from key `after` on: managed devices' registrations by index, then the unmanaged
/// devices of even groups.
fn entra_devices<'a>(
    fleet: &'a Fleet,
    after: Option<u64>,
) -> impl Iterator<Item = (u64, EntraDevice<'a>)> + 'a {
    let managed =
        range_after(&fleet.devices, after).map(|(i, d)| (u64::from(*i), EntraDevice::Managed(d)));
    let unmanaged = fleet
        .groups
        .keys()
        .filter(|g| *g % 2 == 0)
        .map(|g| (EXTRA_KEYS + u64::from(*g), EntraDevice::Unmanaged(*g)))
        .filter(move |(k, _)| after.is_none_or(|a| *k > a));
    managed.chain(unmanaged)
}

async fn devices(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = list_devices(&ctx, &headers, uri.path(), raw.as_deref());
    finish(&headers, answer)
}

fn list_devices(ctx: &Ctx, headers: &HeaderMap, path: &str, raw: Option<&str>) -> Answer {
    let caller = authenticate(ctx, headers)?;
    require(&caller, Permission::Devices)?;
    let dialect = Dialect::Directory;
    let options = parse_options(
        raw,
        dialect,
        &["$select", "$filter", "$top", "$skiptoken", "$count"],
    )?;
    let select = parse_select(&options, DEVICE_PROPS, "device", dialect)?;
    let filter = DEVICE_FILTERS.compile(options.filter.as_deref())?;
    let size = page_size(&options, dialect)?;
    let cursor = cursor(&options, 'e', dialect)?;
    check_count(&options, headers)?;
    let fleet = ctx.fleet();
    let count = options.count.then(|| {
        entra_devices(&fleet, None)
            .filter(|(_, d)| matches(&filter, |p| d.prop(p)))
            .count()
    });
    let items =
        entra_devices(&fleet, cursor.after).filter(|(_, d)| matches(&filter, |p| d.prop(p)));
    let listing = Listing {
        caller: &caller,
        path,
        options: &options,
        tag: 'e',
        cursor,
        context: format!("devices{}", context_select(&select)),
    };
    Ok(listing.respond(items, size, count, |d| render_device(d, &select)))
}

async fn device(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = get_device(&ctx, &headers, &id, raw.as_deref());
    finish(&headers, answer)
}

fn get_device(ctx: &Ctx, headers: &HeaderMap, id: &str, raw: Option<&str>) -> Answer {
    let caller = authenticate(ctx, headers)?;
    require(&caller, Permission::Devices)?;
    let options = parse_options(raw, Dialect::Directory, &["$select"])?;
    let select = parse_select(&options, DEVICE_PROPS, "device", Dialect::Directory)?;
    let fleet = ctx.fleet();
    let wanted = Some(json!(id.to_ascii_lowercase()));
    let Some((_, found)) = entra_devices(&fleet, None).find(|(_, d)| d.prop("id") == wanted) else {
        return Err(group_not_found(id));
    };
    let mut object = render_device(found, &select);
    object.as_object_mut().expect("an object").insert(
        "@odata.context".into(),
        json!(format!(
            "{}/v1.0/$metadata#devices{}/$entity",
            caller.origin,
            context_select(&select)
        )),
    );
    Ok(odata(object))
}

// ----- unknown routes -----

async fn fallback(headers: HeaderMap, uri: Uri) -> Response {
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let fault = match segments.as_slice() {
        ["v1.0" | "beta", rest @ ..] => {
            let known = ["deviceManagement", "managedDevices", "groups", "devices"];
            let segment = rest
                .iter()
                .find(|s| !known.contains(s))
                .or(rest.last())
                .copied()
                .unwrap_or_default();
            Dialect::Intune.bad_request(format!("Resource not found for the segment '{segment}'."))
        }
        [first, ..] => Dialect::Intune.bad_request(format!("Invalid version: {first}")),
        [] => Dialect::Intune.bad_request("Invalid version"),
    };
    finish(&headers, Err(fault))
}

async fn wrong_method(headers: HeaderMap) -> Response {
    finish(
        &headers,
        Err(Fault::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "Specified HTTP method is not allowed for the request uri.",
        )),
    )
}

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
            .route("/v1.0/groups/{id}", get(group))
            .route("/v1.0/groups/{id}/members", get(members))
            .route("/v1.0/groups/{id}/transitiveMembers", get(members))
            .route("/v1.0/groups/{id}/members/{cast}", get(members_cast))
            .route(
                "/v1.0/groups/{id}/transitiveMembers/{cast}",
                get(members_cast),
            )
            .route("/v1.0/devices", get(devices))
            .route("/v1.0/devices/{id}", get(device))
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
        let user = fleet.user_of(device);
        let display_name = user
            .map(|u| u.full_name.clone())
            .unwrap_or_else(|| device.name.clone());
        ExpectedDevice {
            index: device.index,
            serial_number: device.serial.clone(),
            device_id: managed_id(device.index),
            user_id: user.map(|u| user_id(u.index)),
            list_display_name: display_name.clone(),
            display_name,
        }
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        // Security groups only (the Microsoft 365 group is not one); members joined on
        // deviceId == azureADDeviceId, so unmanaged Entra devices drop out.
        fleet
            .groups
            .values()
            .map(|g| ExpectedGroup {
                id: group_id(g.index),
                name: g.name.clone(),
                members: sorted(
                    g.members
                        .iter()
                        .filter(|i| fleet.devices.contains_key(i))
                        .map(|i| managed_id(*i)),
                ),
            })
            .collect()
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
    fn civil_dates_are_plausible() {
        let (y, mo, d, h, mi, s) = utc_now();
        assert!(y >= 2024 && (1..=12).contains(&mo) && (1..=31).contains(&d));
        assert!(h < 24 && mi < 60 && s < 60);
    }
}
