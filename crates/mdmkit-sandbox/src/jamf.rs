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
use serde_json::{json, Map, Value};
use url::Url;

use crate::common::sorted;
use crate::common::{
    bearer, header_str, json, query_get, query_pairs, window, Ctx, ProviderSim, TokenCheck,
};
use crate::model::{ids, Fleet, SimDevice, SimGroup, SimUser};
use crate::{Access, ExpectedDevice, ExpectedGroup};

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

// ----- clients, privileges, refusals -----

/// The read privileges of an API role that the simulated endpoints check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Computers,
    Users,
    SmartGroups,
    StaticGroups,
}

struct ApiClient {
    id: &'static str,
    secret: &'static str,
    role: &'static str,
    privileges: &'static [Read],
}

const CLIENTS: &[ApiClient] = &[
    ApiClient {
        id: CLIENT_ID,
        secret: CLIENT_SECRET,
        role: "api-role:1",
        privileges: &[
            Read::Computers,
            Read::Users,
            Read::SmartGroups,
            Read::StaticGroups,
        ],
    },
    ApiClient {
        id: NO_COMPUTERS_CLIENT_ID,
        secret: NO_COMPUTERS_CLIENT_SECRET,
        role: "api-role:2",
        privileges: &[Read::Users, Read::SmartGroups, Read::StaticGroups],
    },
];

fn api_client(id: &str) -> Option<&'static ApiClient> {
    CLIENTS.iter().find(|c| c.id == id)
}

/// Which API answers, and so which error bodies it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Pro,
    Classic,
}

/// Why a request is refused; rendered as the answering API's error body.
#[derive(Debug)]
enum Rejection {
    Unauthorized(Flavor),
    Forbidden(Flavor),
    /// A 400 naming the query parameter at fault.
    BadField {
        field: &'static str,
        description: String,
    },
    /// A Jamf Pro API `/{id}` route with an unknown id.
    NoSuchId(String),
    /// The Jamf Pro API's answer to an unknown route.
    NoRoute,
    /// The Classic API's 404.
    ClassicNotFound,
}

fn bad_field(field: &'static str, description: impl Into<String>) -> Rejection {
    Rejection::BadField {
        field,
        description: description.into(),
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Unauthorized(Flavor::Pro) => api_error(
                StatusCode::UNAUTHORIZED,
                Some("INVALID_TOKEN"),
                "Unauthorized",
                None,
            ),
            Rejection::Forbidden(Flavor::Pro) => api_error(
                StatusCode::FORBIDDEN,
                Some("INVALID_PRIVILEGE"),
                "Forbidden",
                None,
            ),
            Rejection::Unauthorized(Flavor::Classic) => {
                classic_status_page(StatusCode::UNAUTHORIZED)
            }
            Rejection::Forbidden(Flavor::Classic) => classic_status_page(StatusCode::FORBIDDEN),
            Rejection::BadField { field, description } => api_error(
                StatusCode::BAD_REQUEST,
                Some("INVALID_FIELD"),
                &description,
                Some(field),
            ),
            Rejection::NoSuchId(id) => api_error(
                StatusCode::NOT_FOUND,
                Some("INVALID_ID"),
                &format!("Object with id {id} does not exist"),
                Some("id"),
            ),
            Rejection::NoRoute => api_error(StatusCode::NOT_FOUND, None, "", None),
            Rejection::ClassicNotFound => classic_status_page(StatusCode::NOT_FOUND),
        }
    }
}

/// A handler's outcome.
type Answer = Result<Response, Rejection>;

/// The API client behind the request's bearer token (missing, unknown and expired tokens alike are
/// Unauthorized).
fn caller(ctx: &Ctx, headers: &HeaderMap, flavor: Flavor) -> Result<&'static ApiClient, Rejection> {
    match bearer(headers).map(|t| ctx.check_token(t)) {
        Some(TokenCheck::Valid(grant)) => {
            api_client(&grant.client).ok_or(Rejection::Unauthorized(flavor))
        }
        _ => Err(Rejection::Unauthorized(flavor)),
    }
}

/// The caller, if its role holds any of `privileges`.
fn authorize(
    ctx: &Ctx,
    headers: &HeaderMap,
    flavor: Flavor,
    privileges: &[Read],
) -> Result<&'static ApiClient, Rejection> {
    let client = caller(ctx, headers, flavor)?;
    if privileges.iter().any(|p| client.privileges.contains(p)) {
        Ok(client)
    } else {
        Err(Rejection::Forbidden(flavor))
    }
}

// ----- error bodies -----

/// The Jamf Pro API `ApiError` body; `code: None` gives an empty `errors` list.
fn api_error(
    status: StatusCode,
    code: Option<&str>,
    description: &str,
    field: Option<&str>,
) -> Response {
    let errors = match code {
        Some(code) => {
            json!([{"code": code, "description": description, "id": "0", "field": field}])
        }
        None => json!([]),
    };
    json(
        status,
        json!({"httpStatus": status.as_u16(), "errors": errors}),
    )
}

/// The Classic API's HTML status page.
fn classic_status_page(status: StatusCode) -> Response {
    let (title, text) = match status {
        StatusCode::UNAUTHORIZED => ("Unauthorized", "The request requires user authentication"),
        StatusCode::FORBIDDEN => (
            "Forbidden",
            "The server understood the request, but is refusing to fulfill it",
        ),
        StatusCode::NOT_FOUND => (
            "Not Found",
            "The server has not found anything matching the request URI",
        ),
        _ => (
            status.canonical_reason().unwrap_or("Error"),
            "The server encountered an unexpected condition",
        ),
    };
    let page = format!(
        "<html>\n<head>\n   <title>Status page</title>\n</head>\n<body style=\"font-family: sans-serif;\">\n\
         <p style=\"font-size: 1.2em;font-weight: bold;margin: 1em 0px;\">{title}</p>\n<p>{text}</p>\n\
         <p>You can get technical details <a href=\"http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html\">here</a>.<br>\n\
         Please continue your visit at our <a href=\"/\">home page</a>.\n</p>\n</body>\n</html>\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        page,
    )
        .into_response()
}

/// An RFC 6749 §5.2 token error.
fn oauth_error(error: &str, description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        json!({"error": error, "error_description": description}),
    )
}

// ----- token endpoint and version -----

async fn token(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let form = header_str(&headers, header::CONTENT_TYPE.as_str()).is_some_and(|t| {
        t.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form {
        return oauth_error(
            "invalid_request",
            "The token request must be application/x-www-form-urlencoded",
        );
    }
    let pairs = query_pairs(std::str::from_utf8(&body).ok());
    let field = |name| query_get(&pairs, name).filter(|v| !v.is_empty());
    let (Some(grant_type), Some(client_id), Some(secret)) = (
        field("grant_type"),
        field("client_id"),
        field("client_secret"),
    ) else {
        return oauth_error(
            "invalid_request",
            "grant_type, client_id and client_secret are required",
        );
    };
    if grant_type != "client_credentials" {
        return oauth_error(
            "unsupported_grant_type",
            "Only the client_credentials grant is supported",
        );
    }
    let Some(client) = api_client(client_id).filter(|c| c.secret == secret) else {
        return oauth_error("invalid_client", "Client authentication failed");
    };
    let scope = match field("scope") {
        None => client.role.to_owned(),
        Some(asked) => {
            if asked.split_whitespace().any(|role| role != client.role) {
                return oauth_error(
                    "invalid_scope",
                    "The requested scope names a role the client does not have",
                );
            }
            asked.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    let (access_token, expires_in) = ctx.issue_token(client.id);
    json(
        StatusCode::OK,
        json!({"access_token": access_token, "scope": scope, "token_type": "Bearer", "expires_in": expires_in}),
    )
}

async fn version(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    caller(&ctx, &headers, Flavor::Pro)?;
    Ok(json(StatusCode::OK, json!({"version": VERSION})))
}

// ----- listing: paging, sorting, filtering -----

/// A row a listing can filter and sort.
trait Record: Copy {
    fn field(&self, name: &str) -> rsql::Value<'_>;
}

#[derive(Debug, Clone)]
struct SortKey {
    field: &'static str,
    descending: bool,
}

/// A parsed `page`/`page-size`/`sort`/`filter` query.
struct ListQuery {
    page: usize,
    size: usize,
    sort: Vec<SortKey>,
    filter: Option<rsql::Filter>,
}

/// What a listing endpoint accepts.
struct ListSpec {
    max_size: usize,
    default_sort: &'static str,
    sorts: &'static [&'static str],
    filters: &'static [(&'static str, rsql::Kind)],
}

impl ListQuery {
    fn parse(pairs: &[(String, String)], spec: &ListSpec) -> Result<ListQuery, Rejection> {
        let number = |name: &'static str, default: usize| match query_get(pairs, name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<usize>()
                .map_err(|_| bad_field(name, format!("{name} must be a non-negative integer"))),
        };
        let page = number("page", 0)?;
        let size = number("page-size", DEFAULT_PAGE_SIZE)?;
        if size == 0 {
            return Err(bad_field("page-size", "page-size must be at least 1"));
        }
        let mut sort_texts: Vec<&str> = pairs
            .iter()
            .filter(|(k, v)| k == "sort" && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
            .collect();
        if sort_texts.is_empty() {
            sort_texts.push(spec.default_sort);
        }
        let mut sort = Vec::new();
        for part in sort_texts.iter().flat_map(|t| t.split(',')) {
            let part = part.trim();
            let (name, direction) = part.split_once(':').unwrap_or((part, "asc"));
            let field = spec
                .sorts
                .iter()
                .find(|f| **f == name)
                .copied()
                .ok_or_else(|| bad_field("sort", format!("Cannot sort by {name}")))?;
            let descending = match direction.to_ascii_lowercase().as_str() {
                "asc" => false,
                "desc" => true,
                _ => {
                    return Err(bad_field(
                        "sort",
                        format!("Unknown sort direction {direction}"),
                    ))
                }
            };
            sort.push(SortKey { field, descending });
        }
        let filter = query_get(pairs, "filter")
            .filter(|f| !f.trim().is_empty())
            .map(|text| rsql::parse(text, spec.filters).map_err(|e| bad_field("filter", e)))
            .transpose()?;
        Ok(ListQuery {
            page,
            size: size.min(spec.max_size),
            sort,
            filter,
        })
    }

    fn offset(&self) -> usize {
        self.page.saturating_mul(self.size)
    }

    /// Rows come in id order, so `id:asc` needs no sorting.
    fn natural_order(&self) -> bool {
        matches!(
            self.sort.as_slice(),
            [SortKey {
                field: "id",
                descending: false
            }]
        )
    }

    /// The number of matching rows and the requested page of them. `items` come in id order and there
    /// are `count` of them. Unfiltered `id:asc` pages are taken straight from the iterator; anything
    /// else filters, then sorts on keys computed once per row.
    fn run<R: Record>(&self, items: impl Iterator<Item = R>, count: usize) -> (usize, Vec<R>) {
        if self.filter.is_none() && self.natural_order() {
            return (count, items.skip(self.offset()).take(self.size).collect());
        }
        let rows: Vec<R> = match &self.filter {
            Some(filter) => items.filter(|r| filter.matches(&|f| r.field(f))).collect(),
            None => items.collect(),
        };
        let rows = if self.natural_order() {
            rows
        } else {
            let mut keyed: Vec<(Vec<rsql::SortValue>, R)> = rows
                .into_iter()
                .map(|r| {
                    let keys = self
                        .sort
                        .iter()
                        .map(|k| r.field(k.field).sort_value())
                        .collect();
                    (keys, r)
                })
                .collect();
            // Stable: rows equal on every key stay in id order.
            keyed.sort_by(|(a, _), (b, _)| {
                self.sort
                    .iter()
                    .zip(a.iter().zip(b))
                    .map(|(k, (x, y))| if k.descending { y.cmp(x) } else { x.cmp(y) })
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            });
            keyed.into_iter().map(|(_, r)| r).collect()
        };
        (rows.len(), window(&rows, self.offset(), self.size).to_vec())
    }
}

// ----- computers -----

/// A computers-inventory collection version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inventory {
    V1,
    V3,
    V4,
}

impl Inventory {
    fn segment(self) -> &'static str {
        match self {
            Inventory::V1 => "v1",
            Inventory::V3 => "v3",
            Inventory::V4 => "v4",
        }
    }

    fn has(self, section: &Section) -> bool {
        !section.v1_only || self == Inventory::V1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    General,
    Hardware,
    UserAndLocation,
    OperatingSystem,
    GroupMemberships,
    EmptyList,
    EmptyObject,
}

struct Section {
    name: &'static str,
    key: &'static str,
    content: Content,
    v1_only: bool,
}

const fn section(name: &'static str, key: &'static str, content: Content) -> Section {
    Section {
        name,
        key,
        content,
        v1_only: false,
    }
}

/// The inventory sections (schema `ComputerSectionV4`; v1 also has PLUGINS and FONTS), in response order.
const SECTIONS: &[Section] = &[
    section("GENERAL", "general", Content::General),
    section("DISK_ENCRYPTION", "diskEncryption", Content::EmptyObject),
    section("PURCHASING", "purchasing", Content::EmptyObject),
    section("APPLICATIONS", "applications", Content::EmptyList),
    section("STORAGE", "storage", Content::EmptyObject),
    section(
        "USER_AND_LOCATION",
        "userAndLocation",
        Content::UserAndLocation,
    ),
    section(
        "CONFIGURATION_PROFILES",
        "configurationProfiles",
        Content::EmptyList,
    ),
    section("PRINTERS", "printers", Content::EmptyList),
    section("SERVICES", "services", Content::EmptyList),
    section("HARDWARE", "hardware", Content::Hardware),
    section(
        "LOCAL_USER_ACCOUNTS",
        "localUserAccounts",
        Content::EmptyList,
    ),
    section("CERTIFICATES", "certificates", Content::EmptyList),
    section("ATTACHMENTS", "attachments", Content::EmptyList),
    Section {
        v1_only: true,
        ..section("PLUGINS", "plugins", Content::EmptyList)
    },
    section("PACKAGE_RECEIPTS", "packageReceipts", Content::EmptyObject),
    Section {
        v1_only: true,
        ..section("FONTS", "fonts", Content::EmptyList)
    },
    section("SECURITY", "security", Content::EmptyObject),
    section(
        "OPERATING_SYSTEM",
        "operatingSystem",
        Content::OperatingSystem,
    ),
    section("LICENSED_SOFTWARE", "licensedSoftware", Content::EmptyList),
    section("IBEACONS", "ibeacons", Content::EmptyList),
    section("SOFTWARE_UPDATES", "softwareUpdates", Content::EmptyList),
    section(
        "EXTENSION_ATTRIBUTES",
        "extensionAttributes",
        Content::EmptyList,
    ),
    section("CONTENT_CACHING", "contentCaching", Content::EmptyObject),
    section(
        "GROUP_MEMBERSHIPS",
        "groupMemberships",
        Content::GroupMemberships,
    ),
];

/// Requested sections as a bit set over [`SECTIONS`].
#[derive(Debug, Clone, Copy)]
struct Sections(u32);

impl Sections {
    const ALL: Sections = Sections(u32::MAX);

    /// The `section` parameters; GENERAL alone when there are none.
    fn parse(pairs: &[(String, String)], api: Inventory) -> Result<Sections, Rejection> {
        let mut bits = 0u32;
        for (_, name) in pairs.iter().filter(|(k, _)| k == "section") {
            let index = SECTIONS
                .iter()
                .position(|s| s.name == name.as_str() && api.has(s))
                .ok_or_else(|| bad_field("section", format!("Unknown section {name}")))?;
            bits |= 1 << index;
        }
        Ok(Sections(if bits == 0 { 1 } else { bits }))
    }

    fn contains(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }
}

const COMPUTER_LIST: ListSpec = ListSpec {
    max_size: MAX_PAGE_SIZE,
    default_sort: "general.name:asc",
    sorts: &[
        "id",
        "udid",
        "general.name",
        "general.assetTag",
        "general.platform",
        "hardware.make",
        "hardware.model",
        "userAndLocation.realname",
        "general.reportDate",
    ],
    filters: &[
        ("id", rsql::Kind::Number),
        ("general.reportDate", rsql::Kind::Date),
        ("udid", rsql::Kind::Text),
        ("general.name", rsql::Kind::Text),
        ("general.assetTag", rsql::Kind::Text),
        ("general.platform", rsql::Kind::Text),
        ("general.managementId", rsql::Kind::Text),
        ("hardware.serialNumber", rsql::Kind::Text),
        ("hardware.make", rsql::Kind::Text),
        ("hardware.model", rsql::Kind::Text),
        ("hardware.modelIdentifier", rsql::Kind::Text),
        ("hardware.macAddress", rsql::Kind::Text),
        ("userAndLocation.username", rsql::Kind::Text),
        ("userAndLocation.realname", rsql::Kind::Text),
        ("userAndLocation.email", rsql::Kind::Text),
        ("userAndLocation.position", rsql::Kind::Text),
        ("userAndLocation.phone", rsql::Kind::Text),
    ],
};

const MODELS: &[(&str, &str)] = &[
    ("MacBook Pro (14-inch, 2023)", "Mac14,9"),
    ("MacBook Air (13-inch, M2, 2022)", "Mac14,2"),
    ("iMac (24-inch, 2023)", "Mac15,4"),
    ("Mac mini (2023)", "Mac14,3"),
    ("Mac Studio (2023)", "Mac14,13"),
];

fn model(index: u32) -> (&'static str, &'static str) {
    MODELS[(index as usize * 7 + 3) % MODELS.len()]
}

fn computer_id(index: u32) -> String {
    (index + 1).to_string()
}

fn asset_tag(index: u32) -> String {
    format!("IT-{:05}", index + 1)
}

fn udid(index: u32) -> String {
    ids::uuid(NS_UDID, index).to_ascii_uppercase()
}

fn mac_address(index: u32) -> String {
    let hex: String = ids::uuid(NS_MAC, index)
        .chars()
        .filter(|c| *c != '-')
        .take(10)
        .collect();
    let mut out = String::from("AC");
    for pair in hex.as_bytes().chunks(2) {
        out.push(':');
        out.push_str(&String::from_utf8_lossy(pair).to_ascii_uppercase());
    }
    out
}

/// A deterministic time in November 2026 for a device.
fn timestamp(index: u32, salt: u32) -> String {
    let n = index
        .wrapping_mul(2_654_435_761)
        .wrapping_add(salt.wrapping_mul(97));
    format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}Z",
        1 + n % 25,
        (n / 25) % 24,
        (n / 600) % 60,
        (n / 36_000) % 60
    )
}

#[derive(Clone, Copy)]
struct ComputerRow<'f> {
    fleet: &'f Fleet,
    device: &'f SimDevice,
}

impl<'f> ComputerRow<'f> {
    fn user(&self) -> Option<&'f SimUser> {
        self.fleet.user_of(self.device)
    }
}

impl Record for ComputerRow<'_> {
    fn field(&self, name: &str) -> rsql::Value<'_> {
        use rsql::Value::{Number, Text};
        let d = self.device;
        let user = self.user();
        let user_text = |f: fn(&SimUser) -> &str| Text(Cow::Borrowed(user.map(f).unwrap_or("")));
        match name {
            "id" => Number(i64::from(d.index) + 1),
            "udid" => Text(udid(d.index).into()),
            "general.name" => Text(Cow::Borrowed(&d.name)),
            "general.assetTag" => Text(asset_tag(d.index).into()),
            "general.platform" => Text("Mac".into()),
            "general.managementId" => Text(ids::uuid(NS_MANAGEMENT_ID, d.index).into()),
            "hardware.serialNumber" => Text(Cow::Borrowed(&d.serial)),
            "hardware.make" => Text("Apple".into()),
            "hardware.model" => Text(model(d.index).0.into()),
            "hardware.modelIdentifier" => Text(model(d.index).1.into()),
            "hardware.macAddress" => Text(mac_address(d.index).into()),
            "userAndLocation.username" => user_text(|u| &u.username),
            "userAndLocation.realname" => user_text(|u| &u.full_name),
            "userAndLocation.email" => user_text(|u| &u.email),
            "userAndLocation.position" | "userAndLocation.phone" => Text("".into()),
            "general.reportDate" => self
                .fleet
                .changed_at(d.index)
                .map_or(rsql::Value::Null, |t| {
                    rsql::Value::Date(t.timestamp_millis())
                }),
            _ => rsql::Value::Null,
        }
    }
}

/// A computer with the requested sections filled and every other section of the version `null`.
fn computer_json(row: ComputerRow<'_>, sections: Sections, api: Inventory) -> Value {
    let d = row.device;
    let mut out = Map::new();
    out.insert("id".into(), json!(computer_id(d.index)));
    out.insert("udid".into(), json!(udid(d.index)));
    for (i, section) in SECTIONS.iter().enumerate() {
        if !api.has(section) {
            continue;
        }
        let value = if sections.contains(i) {
            section_json(row, section.content, api)
        } else {
            Value::Null
        };
        out.insert(section.key.into(), value);
    }
    Value::Object(out)
}

fn section_json(row: ComputerRow<'_>, content: Content, api: Inventory) -> Value {
    let d = row.device;
    match content {
        Content::General => {
            let mut general = json!({
                "name": d.name,
                "lastIpAddress": format!("10.{}.{}.{}", (d.index >> 16) & 0xff, (d.index >> 8) & 0xff, d.index & 0xff),
                "platform": "Mac",
                "assetTag": asset_tag(d.index),
                // The last inventory report: the fleet's change time of the device.
                "reportDate": row.fleet.changed_at(d.index).map(|t| t.to_rfc3339_opts(mdmkit_core::chrono::SecondsFormat::Millis, true)),
                "lastEnrolledDate": "2025-03-01T09:00:00Z",
                "managementId": ids::uuid(NS_MANAGEMENT_ID, d.index),
                "site": {"id": "-1", "name": "None"},
                "remoteManagement": {"managed": true},
                "supervised": true,
            });
            // v4 split lastContactTime into lastContact and lastCheckIn.
            if api == Inventory::V4 {
                general["lastContact"] = json!(timestamp(d.index, 0));
                general["lastCheckIn"] = json!(timestamp(d.index, 0));
            } else {
                general["lastContactTime"] = json!(timestamp(d.index, 0));
            }
            general
        }
        Content::Hardware => {
            let (model, identifier) = model(d.index);
            json!({
                "make": "Apple",
                "model": model,
                "modelIdentifier": identifier,
                "serialNumber": d.serial,
                "macAddress": mac_address(d.index),
                "altMacAddress": "",
            })
        }
        Content::UserAndLocation => {
            let user = row.user();
            let text = |f: fn(&SimUser) -> &str| user.map(f).unwrap_or("");
            json!({
                "username": text(|u| &u.username),
                "realname": text(|u| &u.full_name),
                "email": text(|u| &u.email),
                "position": "",
                "phone": "",
                "departmentId": null,
                "buildingId": null,
                "room": "",
                "extensionAttributes": [],
            })
        }
        Content::OperatingSystem => {
            json!({"name": "macOS", "version": "15.2", "build": "24C101"})
        }
        Content::GroupMemberships => Value::Array(
            row.fleet
                .groups_of(d.index)
                .map(|g| {
                    json!({
                        "groupId": group_id(g.index),
                        "groupName": g.name,
                        "groupDescription": "",
                        "smartGroup": g.smart,
                    })
                })
                .collect(),
        ),
        Content::EmptyList => json!([]),
        Content::EmptyObject => json!({}),
    }
}

fn inventory_list(ctx: &Ctx, headers: &HeaderMap, raw: Option<&str>, api: Inventory) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[Read::Computers])?;
    let pairs = query_pairs(raw);
    let sections = Sections::parse(&pairs, api)?;
    let query = ListQuery::parse(&pairs, &COMPUTER_LIST)?;
    let fleet = ctx.fleet();
    let rows = fleet.devices.values().map(|device| ComputerRow {
        fleet: &fleet,
        device,
    });
    let (total, page) = query.run(rows, fleet.devices.len());
    let results: Vec<Value> = page
        .into_iter()
        .map(|row| computer_json(row, sections, api))
        .collect();
    Ok(json(
        StatusCode::OK,
        json!({"totalCount": total, "results": results}),
    ))
}

/// One computer: the requested sections, or every section for the `-detail` route (`raw: None`).
fn inventory_one(
    ctx: &Ctx,
    headers: &HeaderMap,
    raw: Option<&str>,
    id: &str,
    api: Inventory,
) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[Read::Computers])?;
    let sections = match raw {
        Some(raw) => Sections::parse(&query_pairs(Some(raw)), api)?,
        None => Sections::ALL,
    };
    let fleet = ctx.fleet();
    let device = index_of(id)
        .and_then(|i| fleet.devices.get(&i))
        .ok_or_else(|| Rejection::NoSuchId(id.to_owned()))?;
    let row = ComputerRow {
        fleet: &fleet,
        device,
    };
    Ok(json(StatusCode::OK, computer_json(row, sections, api)))
}

/// The fleet index behind a Jamf id (`index + 1`).
fn index_of(id: &str) -> Option<u32> {
    id.parse::<u32>().ok()?.checked_sub(1)
}

// ----- users -----

const USER_LIST: ListSpec = ListSpec {
    max_size: USERS_MAX_PAGE_SIZE,
    default_sort: "id:asc",
    sorts: &["id", "username", "realname", "email"],
    filters: &[
        ("id", rsql::Kind::Number),
        ("username", rsql::Kind::Text),
        ("realname", rsql::Kind::Text),
        ("email", rsql::Kind::Text),
        ("phone", rsql::Kind::Text),
        ("position", rsql::Kind::Text),
    ],
};

fn user_id(index: u32) -> String {
    (index + 1).to_string()
}

#[derive(Clone, Copy)]
struct UserRow<'f>(&'f SimUser);

impl Record for UserRow<'_> {
    fn field(&self, name: &str) -> rsql::Value<'_> {
        use rsql::Value::{Number, Text};
        let u = self.0;
        match name {
            "id" => Number(i64::from(u.index) + 1),
            "username" => Text(Cow::Borrowed(&u.username)),
            "realname" => Text(Cow::Borrowed(&u.full_name)),
            "email" => Text(Cow::Borrowed(&u.email)),
            "phone" | "position" => Text("".into()),
            _ => rsql::Value::Null,
        }
    }
}

async fn users(State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    authorize(&ctx, &headers, Flavor::Pro, &[Read::Users])?;
    let query = ListQuery::parse(&query_pairs(raw.as_deref()), &USER_LIST)?;
    let fleet = ctx.fleet();
    let (total, page) = query.run(fleet.users.values().map(UserRow), fleet.users.len());
    let results: Vec<Value> = page
        .into_iter()
        .map(|UserRow(u)| {
            json!({
                "id": user_id(u.index),
                "username": u.username,
                "realname": u.full_name,
                "email": u.email,
                "phone": "",
                "position": "",
                "managedAppleId": "",
                "ldapServerId": null,
                "extensionAttributes": [],
            })
        })
        .collect();
    let total_pages = total.div_ceil(query.size);
    Ok(json(
        StatusCode::OK,
        json!({
            "page": query.page,
            "pageSize": query.size,
            "totalCount": total,
            "totalPages": total_pages,
            "hasNext": query.page + 1 < total_pages,
            "hasPrevious": query.page > 0,
            "results": results,
        }),
    ))
}

// ----- computer groups -----

fn group_id(index: u32) -> String {
    (index + 1).to_string()
}

/// A group's members that exist, in id order.
fn members<'f>(fleet: &'f Fleet, group: &'f SimGroup) -> impl Iterator<Item = &'f SimDevice> {
    group.members.iter().filter_map(|i| fleet.devices.get(i))
}

#[derive(Clone, Copy)]
struct GroupRow<'f> {
    fleet: &'f Fleet,
    group: &'f SimGroup,
}

impl Record for GroupRow<'_> {
    fn field(&self, name: &str) -> rsql::Value<'_> {
        use rsql::Value::{Number, Text};
        match name {
            "id" => Number(i64::from(self.group.index) + 1),
            "name" => Text(Cow::Borrowed(&self.group.name)),
            "description" => Text("".into()),
            "siteId" => Text("-1".into()),
            _ => rsql::Value::Null,
        }
    }
}

const GROUP_LIST: ListSpec = ListSpec {
    max_size: MAX_PAGE_SIZE,
    default_sort: "id:asc",
    sorts: &["id", "name", "description"],
    filters: &[
        ("id", rsql::Kind::Number),
        ("name", rsql::Kind::Text),
        ("description", rsql::Kind::Text),
        ("siteId", rsql::Kind::Text),
    ],
};

fn group_privilege(smart: bool) -> Read {
    if smart {
        Read::SmartGroups
    } else {
        Read::StaticGroups
    }
}

async fn computer_groups_v1(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    authorize(
        &ctx,
        &headers,
        Flavor::Pro,
        &[Read::SmartGroups, Read::StaticGroups],
    )?;
    let fleet = ctx.fleet();
    let groups: Vec<Value> = fleet
        .groups
        .values()
        .map(|g| {
            json!({"id": group_id(g.index), "name": g.name, "description": "", "smartGroup": g.smart})
        })
        .collect();
    Ok(json(StatusCode::OK, Value::Array(groups)))
}

/// `/api/v3/computer-groups/smart-groups` (`smart`) or `/static-groups`.
fn group_list(ctx: &Ctx, headers: &HeaderMap, raw: Option<&str>, smart: bool) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[group_privilege(smart)])?;
    let query = ListQuery::parse(&query_pairs(raw), &GROUP_LIST)?;
    let fleet = ctx.fleet();
    let rows: Vec<GroupRow<'_>> = fleet
        .groups
        .values()
        .filter(|g| g.smart == smart)
        .map(|group| GroupRow {
            fleet: &fleet,
            group,
        })
        .collect();
    let count = rows.len();
    let (total, page) = query.run(rows.into_iter(), count);
    let results: Vec<Value> = page
        .into_iter()
        .map(|row| group_summary(row, smart))
        .collect();
    Ok(json(
        StatusCode::OK,
        json!({"totalCount": total, "results": results}),
    ))
}

/// A v3 group record: smart groups count members in `membershipCount`, static groups in `count`.
fn group_summary(row: GroupRow<'_>, smart: bool) -> Value {
    let g = row.group;
    let count = members(row.fleet, g).count();
    let mut out =
        json!({"id": group_id(g.index), "name": g.name, "description": "", "siteId": "-1"});
    out[if smart { "membershipCount" } else { "count" }] = json!(count);
    out
}

/// A group of the given kind by its id.
fn find_group<'f>(fleet: &'f Fleet, id: &str, smart: bool) -> Result<&'f SimGroup, Rejection> {
    index_of(id)
        .and_then(|i| fleet.groups.get(&i))
        .filter(|g| g.smart == smart)
        .ok_or_else(|| Rejection::NoSuchId(id.to_owned()))
}

/// `/api/v3/computer-groups/{smart,static}-groups/{id}`: no member list.
fn group_one(ctx: &Ctx, headers: &HeaderMap, id: &str, smart: bool) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[group_privilege(smart)])?;
    let fleet = ctx.fleet();
    let group = find_group(&fleet, id, smart)?;
    let mut body = group_summary(
        GroupRow {
            fleet: &fleet,
            group,
        },
        smart,
    );
    if smart {
        body["criteria"] = json!([{
            "name": "Department", "priority": 0, "andOr": "and", "searchType": "is",
            "value": group.name, "openingParen": false, "closingParen": false,
        }]);
    }
    Ok(json(StatusCode::OK, body))
}

/// `/api/v{2,3}/computer-groups/smart-group-membership/{id}`: integer computer ids.
fn smart_membership(ctx: &Ctx, headers: &HeaderMap, id: &str) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[Read::SmartGroups])?;
    let fleet = ctx.fleet();
    let group = find_group(&fleet, id, true)?;
    let ids: Vec<u32> = members(&fleet, group).map(|d| d.index + 1).collect();
    Ok(json(StatusCode::OK, json!({"members": ids})))
}

// ----- Classic API -----

fn wants_json(headers: &HeaderMap) -> bool {
    header_str(headers, header::ACCEPT.as_str())
        .is_some_and(|a| a.to_ascii_lowercase().contains("application/json"))
}

fn xml_escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn xml(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}"),
    )
        .into_response()
}

async fn classic_groups(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    authorize(
        &ctx,
        &headers,
        Flavor::Classic,
        &[Read::SmartGroups, Read::StaticGroups],
    )?;
    let fleet = ctx.fleet();
    if wants_json(&headers) {
        let groups: Vec<Value> = fleet
            .groups
            .values()
            .map(|g| json!({"id": g.index + 1, "name": g.name, "is_smart": g.smart}))
            .collect();
        return Ok(json(StatusCode::OK, json!({"computer_groups": groups})));
    }
    let mut out = format!("<computer_groups><size>{}</size>", fleet.groups.len());
    for g in fleet.groups.values() {
        let _ = write!(
            out,
            "<computer_group><id>{}</id><name>{}</name><is_smart>{}</is_smart></computer_group>",
            g.index + 1,
            xml_escape(&g.name),
            g.smart
        );
    }
    out.push_str("</computer_groups>");
    Ok(xml(out))
}

/// One Classic group record (any kind, with its computers), found by `pick`.
fn classic_group(ctx: &Ctx, headers: &HeaderMap, pick: impl Fn(&SimGroup) -> bool) -> Answer {
    let client = caller(ctx, headers, Flavor::Classic)?;
    let fleet = ctx.fleet();
    let group = fleet
        .groups
        .values()
        .find(|g| pick(g))
        .ok_or(Rejection::ClassicNotFound)?;
    if !client.privileges.contains(&group_privilege(group.smart)) {
        return Err(Rejection::Forbidden(Flavor::Classic));
    }
    let criteria: &[(&str, &str, &str)] = if group.smart {
        &[("Department", "is", group.name.as_str())]
    } else {
        &[]
    };
    if wants_json(headers) {
        let computers: Vec<Value> = members(&fleet, group)
            .map(|d| {
                json!({
                    "id": d.index + 1, "name": d.name, "mac_address": mac_address(d.index),
                    "alt_mac_address": "", "serial_number": d.serial,
                })
            })
            .collect();
        let criteria: Vec<Value> = criteria
            .iter()
            .map(|(name, search, value)| {
                json!({
                    "name": name, "priority": 0, "and_or": "and", "search_type": search,
                    "value": value, "opening_paren": false, "closing_paren": false,
                })
            })
            .collect();
        return Ok(json(
            StatusCode::OK,
            json!({"computer_group": {
                "id": group.index + 1,
                "name": group.name,
                "is_smart": group.smart,
                "site": {"id": -1, "name": "None"},
                "criteria": criteria,
                "computers": computers,
            }}),
        ));
    }
    let mut out = format!(
        "<computer_group><id>{}</id><name>{}</name><is_smart>{}</is_smart><site><id>-1</id><name>None</name></site><criteria><size>{}</size>",
        group.index + 1,
        xml_escape(&group.name),
        group.smart,
        criteria.len()
    );
    for (name, search, value) in criteria {
        let _ = write!(
            out,
            "<criterion><name>{name}</name><priority>0</priority><and_or>and</and_or><search_type>{search}</search_type><value>{}</value><opening_paren>false</opening_paren><closing_paren>false</closing_paren></criterion>",
            xml_escape(value)
        );
    }
    let computers: Vec<&SimDevice> = members(&fleet, group).collect();
    let _ = write!(
        out,
        "</criteria><computers><size>{}</size>",
        computers.len()
    );
    for d in computers {
        let _ = write!(
            out,
            "<computer><id>{}</id><name>{}</name><mac_address>{}</mac_address><alt_mac_address/><serial_number>{}</serial_number></computer>",
            d.index + 1,
            xml_escape(&d.name),
            mac_address(d.index),
            xml_escape(&d.serial)
        );
    }
    out.push_str("</computers></computer_group>");
    Ok(xml(out))
}

// ----- fallback -----

/// Unknown routes: the token is checked first (as the server's security filters do), then 404.
async fn fallback(State(ctx): State<Ctx>, headers: HeaderMap, uri: Uri) -> Rejection {
    let flavor = if uri.path().starts_with("/JSSResource") {
        Flavor::Classic
    } else {
        Flavor::Pro
    };
    match (caller(&ctx, &headers, flavor), flavor) {
        (Err(refused), _) => refused,
        (Ok(_), Flavor::Classic) => Rejection::ClassicNotFound,
        (Ok(_), Flavor::Pro) => Rejection::NoRoute,
    }
}

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
                get(
                    |State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>| async move {
                        let index = index_of(&id);
                        classic_group(&ctx, &headers, |g| Some(g.index) == index)
                    },
                ),
            )
            .route(
                "/JSSResource/computergroups/name/{name}",
                get(
                    |State(ctx): State<Ctx>, headers: HeaderMap, Path(name): Path<String>| async move {
                        classic_group(&ctx, &headers, |g| g.name == name)
                    },
                ),
            );
        for (kind, smart) in [("smart", true), ("static", false)] {
            router = router
                .route(
                    &format!("/api/v3/computer-groups/{kind}-groups"),
                    get(
                        move |State(ctx): State<Ctx>,
                              headers: HeaderMap,
                              RawQuery(raw): RawQuery| async move {
                            group_list(&ctx, &headers, raw.as_deref(), smart)
                        },
                    ),
                )
                .route(
                    &format!("/api/v3/computer-groups/{kind}-groups/{{id}}"),
                    get(
                        move |State(ctx): State<Ctx>,
                              headers: HeaderMap,
                              Path(id): Path<String>| async move {
                            group_one(&ctx, &headers, &id, smart)
                        },
                    ),
                );
        }
        // v2 is deprecated (2026-05-28) but still served, as Jamf keeps deprecated endpoints a year.
        for version in ["v2", "v3"] {
            router = router.route(
                &format!("/api/{version}/computer-groups/smart-group-membership/{{id}}"),
                get(
                    |State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>| async move {
                        smart_membership(&ctx, &headers, &id)
                    },
                ),
            );
        }
        for api in [Inventory::V1, Inventory::V3, Inventory::V4] {
            let v = api.segment();
            router = router
                .route(
                    &format!("/api/{v}/computers-inventory"),
                    get(
                        move |State(ctx): State<Ctx>,
                              headers: HeaderMap,
                              RawQuery(raw): RawQuery| async move {
                            inventory_list(&ctx, &headers, raw.as_deref(), api)
                        },
                    ),
                )
                .route(
                    &format!("/api/{v}/computers-inventory/{{id}}"),
                    get(
                        move |State(ctx): State<Ctx>,
                              headers: HeaderMap,
                              Path(id): Path<String>,
                              RawQuery(raw): RawQuery| async move {
                            let raw = raw.unwrap_or_default();
                            inventory_one(&ctx, &headers, Some(&raw), &id, api)
                        },
                    ),
                )
                .route(
                    &format!("/api/{v}/computers-inventory-detail/{{id}}"),
                    get(
                        move |State(ctx): State<Ctx>,
                              headers: HeaderMap,
                              Path(id): Path<String>| async move {
                            inventory_one(&ctx, &headers, None, &id, api)
                        },
                    ),
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
        let user = fleet.user_of(device);
        // The listing carries `userAndLocation.realname` too, so both names agree.
        let display_name = user
            .map(|u| u.full_name.clone())
            .unwrap_or_else(|| device.name.clone());
        ExpectedDevice {
            index: device.index,
            serial_number: device.serial.clone(),
            device_id: computer_id(device.index),
            user_id: user.map(|u| user_id(u.index)),
            list_display_name: display_name.clone(),
            display_name,
        }
    }

    fn expected_groups(&self, fleet: &Fleet) -> Vec<ExpectedGroup> {
        fleet
            .groups
            .values()
            .map(|g| ExpectedGroup {
                id: group_id(g.index),
                name: g.name.clone(),
                members: sorted(members(fleet, g).map(|d| computer_id(d.index))),
            })
            .collect()
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

    fn is_token_endpoint(&self, path: &str) -> bool {
        matches!(path, "/api/v1/oauth/token" | "/api/oauth/token")
    }

    fn issues_tokens(&self) -> bool {
        true
    }
}

/// The RSQL subset Jamf documents (<https://developer.jamf.com/jamf-pro/docs/filtering-with-rsql>).
mod rsql {
    use std::borrow::Cow;
    use std::cmp::Ordering;

    /// How a field's values compare.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Kind {
        Text,
        Number,
        /// A timestamp, compared in time order (RFC 3339 values, quoted or bare).
        Date,
    }

    /// A field's value on one row.
    #[derive(Debug)]
    pub(super) enum Value<'a> {
        Text(Cow<'a, str>),
        Number(i64),
        /// Milliseconds since the Unix epoch.
        Date(i64),
        Null,
    }

    /// A value as a sort key: nulls first, text ignoring case.
    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub(super) enum SortValue {
        Null,
        Number(i64),
        Date(i64),
        Text(String),
    }

    impl Value<'_> {
        pub(super) fn sort_value(&self) -> SortValue {
            match self {
                Value::Text(t) => SortValue::Text(t.to_lowercase()),
                Value::Number(n) => SortValue::Number(*n),
                Value::Date(t) => SortValue::Date(*t),
                Value::Null => SortValue::Null,
            }
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Op {
        Eq,
        Ne,
        Lt,
        Le,
        Gt,
        Ge,
        In,
        Out,
    }

    #[derive(Debug)]
    pub(super) enum Arg {
        /// Lower-cased.
        Text(String),
        Number(i64),
        /// Milliseconds since the Unix epoch.
        Date(i64),
    }

    /// A parsed filter.
    #[derive(Debug)]
    pub(super) enum Filter {
        All(Vec<Filter>),
        Any(Vec<Filter>),
        Compare {
            field: &'static str,
            op: Op,
            args: Vec<Arg>,
        },
    }

    impl Filter {
        pub(super) fn matches<'r>(&self, get: &dyn Fn(&str) -> Value<'r>) -> bool {
            match self {
                Filter::All(parts) => parts.iter().all(|p| p.matches(get)),
                Filter::Any(parts) => parts.iter().any(|p| p.matches(get)),
                Filter::Compare { field, op, args } => compare(&get(field), *op, args),
            }
        }
    }

    fn compare(value: &Value<'_>, op: Op, args: &[Arg]) -> bool {
        let equal = |arg: &Arg| match (value, arg) {
            (Value::Text(v), Arg::Text(a)) => {
                let v = v.to_lowercase();
                if a.contains('*') {
                    glob(a, &v)
                } else {
                    v == *a
                }
            }
            (Value::Number(v), Arg::Number(a)) | (Value::Date(v), Arg::Date(a)) => v == a,
            _ => false,
        };
        let order = |arg: &Arg| match (value, arg) {
            (Value::Text(v), Arg::Text(a)) => Some(v.to_lowercase().as_str().cmp(a.as_str())),
            (Value::Number(v), Arg::Number(a)) | (Value::Date(v), Arg::Date(a)) => Some(v.cmp(a)),
            _ => None,
        };
        match op {
            Op::Eq => equal(&args[0]),
            Op::Ne => !equal(&args[0]),
            Op::In => args.iter().any(equal),
            Op::Out => !args.iter().any(equal),
            Op::Lt => order(&args[0]) == Some(Ordering::Less),
            Op::Le => matches!(order(&args[0]), Some(Ordering::Less | Ordering::Equal)),
            Op::Gt => order(&args[0]) == Some(Ordering::Greater),
            Op::Ge => matches!(order(&args[0]), Some(Ordering::Greater | Ordering::Equal)),
        }
    }

    /// `*` matches any run of characters.
    fn glob(pattern: &str, text: &str) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if pi < p.len() && p[pi] == t[ti] {
                pi += 1;
                ti += 1;
            } else if let Some((sp, st)) = star {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }

    /// Parses `text` against the fields a listing accepts.
    pub(super) fn parse(
        text: &str,
        fields: &'static [(&'static str, Kind)],
    ) -> Result<Filter, String> {
        let mut p = Parser {
            s: text,
            i: 0,
            fields,
        };
        let filter = p.or()?;
        p.skip_ws();
        if p.i < text.len() {
            return Err(format!(
                "Unexpected character at position {} of the filter",
                p.i
            ));
        }
        Ok(filter)
    }

    struct Parser<'a> {
        s: &'a str,
        i: usize,
        fields: &'static [(&'static str, Kind)],
    }

    const RESERVED: &[u8] = b"\"'();,=!~<> \t";

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.s.as_bytes().get(self.i).copied()
        }

        fn skip_ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> bool {
            self.skip_ws();
            if self.peek() == Some(c) {
                self.i += 1;
                true
            } else {
                false
            }
        }

        fn or(&mut self) -> Result<Filter, String> {
            let mut parts = vec![self.and()?];
            while self.eat(b',') {
                parts.push(self.and()?);
            }
            Ok(if parts.len() == 1 {
                parts.remove(0)
            } else {
                Filter::Any(parts)
            })
        }

        fn and(&mut self) -> Result<Filter, String> {
            let mut parts = vec![self.constraint()?];
            while self.eat(b';') {
                parts.push(self.constraint()?);
            }
            Ok(if parts.len() == 1 {
                parts.remove(0)
            } else {
                Filter::All(parts)
            })
        }

        fn constraint(&mut self) -> Result<Filter, String> {
            if self.eat(b'(') {
                let inner = self.or()?;
                if !self.eat(b')') {
                    return Err("Missing ) in the filter".to_owned());
                }
                return Ok(inner);
            }
            self.comparison()
        }

        fn comparison(&mut self) -> Result<Filter, String> {
            self.skip_ws();
            let start = self.i;
            while self.peek().is_some_and(|c| !RESERVED.contains(&c)) {
                self.i += 1;
            }
            let selector = &self.s[start..self.i];
            if selector.is_empty() {
                return Err(format!(
                    "Expected a field name at position {start} of the filter"
                ));
            }
            let (field, kind) = *self
                .fields
                .iter()
                .find(|(name, _)| *name == selector)
                .ok_or_else(|| format!("Unknown filter field {selector}"))?;
            let op = self.operator()?;
            let raw = if self.eat(b'(') {
                let mut values = vec![self.value()?];
                while self.eat(b',') {
                    values.push(self.value()?);
                }
                if !self.eat(b')') {
                    return Err("Missing ) after the value list".to_owned());
                }
                values
            } else {
                vec![self.value()?]
            };
            if raw.len() > 1 && !matches!(op, Op::In | Op::Out) {
                return Err(format!("{selector} takes one value with this operator"));
            }
            let args = raw
                .into_iter()
                .map(|v| match kind {
                    Kind::Text => Ok(Arg::Text(v.to_lowercase())),
                    Kind::Number => v
                        .trim()
                        .parse()
                        .map(Arg::Number)
                        .map_err(|_| format!("{selector} needs a number, not {v:?}")),
                    Kind::Date => mdmkit_core::changes::parse_timestamp(&v)
                        .map(|t| Arg::Date(t.timestamp_millis()))
                        .ok_or_else(|| format!("{selector} needs a date, not {v:?}")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Filter::Compare { field, op, args })
        }

        fn operator(&mut self) -> Result<Op, String> {
            let rest = &self.s[self.i..];
            let fixed = [
                ("==", Op::Eq),
                ("!=", Op::Ne),
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("<", Op::Lt),
                (">", Op::Gt),
            ];
            if let Some((token, op)) = fixed.iter().find(|(t, _)| rest.starts_with(t)) {
                self.i += token.len();
                return Ok(*op);
            }
            let named = rest
                .strip_prefix('=')
                .and_then(|r| r.find('=').map(|end| &r[..end]))
                .filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic()));
            let op = match named {
                Some("lt") => Op::Lt,
                Some("le") => Op::Le,
                Some("gt") => Op::Gt,
                Some("ge") => Op::Ge,
                Some("in") => Op::In,
                Some("out") => Op::Out,
                _ => {
                    return Err(format!(
                        "Unknown operator at position {} of the filter",
                        self.i
                    ))
                }
            };
            self.i += named.map_or(0, str::len) + 2;
            Ok(op)
        }

        fn value(&mut self) -> Result<String, String> {
            self.skip_ws();
            match self.peek() {
                Some(quote @ (b'"' | b'\'')) => {
                    self.i += 1;
                    let mut out = String::new();
                    let mut chars = self.s[self.i..].char_indices();
                    while let Some((at, c)) = chars.next() {
                        if c == '\\' {
                            match chars.next() {
                                Some((_, escaped)) => out.push(escaped),
                                None => break,
                            }
                        } else if c as u32 == u32::from(quote) {
                            self.i += at + 1;
                            return Ok(out);
                        } else {
                            out.push(c);
                        }
                    }
                    Err("Unterminated quoted value in the filter".to_owned())
                }
                _ => {
                    let start = self.i;
                    while self.peek().is_some_and(|c| !b"\"'();, \t".contains(&c)) {
                        self.i += 1;
                    }
                    if start == self.i {
                        return Err(format!(
                            "Expected a value at position {start} of the filter"
                        ));
                    }
                    Ok(self.s[start..self.i].to_owned())
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const FIELDS: &[(&str, Kind)] = &[("name", Kind::Text), ("id", Kind::Number)];

        fn hit(filter: &str, name: &str, id: i64) -> bool {
            let f = parse(filter, FIELDS).unwrap();
            f.matches(&|field| match field {
                "name" => Value::Text(Cow::Borrowed(name)),
                "id" => Value::Number(id),
                _ => Value::Null,
            })
        }

        #[test]
        fn comparisons_and_logic() {
            assert!(hit(r#"name=="Ada""#, "ada", 1), "case is ignored");
            assert!(!hit(r#"name=="Ada""#, "Adam", 1));
            assert!(hit(r#"name=="*da*""#, "Adam", 1));
            assert!(hit(r#"name=="A\"B\\C""#, r#"A"B\C"#, 1));
            assert!(hit("id=in=(1,2);name!=x", "y", 2));
            assert!(!hit("id=out=(1,2)", "y", 2));
            assert!(hit("id=gt=1,name==zz", "y", 2));
            assert!(hit("(id<2,id>=3);name==y", "y", 3));
            assert!(!hit("id=le=2", "y", 3));
            assert!(hit("name=in=('a b','c')", "A B", 9));
        }

        #[test]
        fn errors() {
            for bad in [
                "nope==1",
                "id==x",
                "name==",
                "name=~1",
                r#"name=="open"#,
                "(name==a",
                "name==a;",
                "name==(a,b)",
            ] {
                assert!(parse(bad, FIELDS).is_err(), "{bad}");
            }
        }

        #[test]
        fn globs() {
            assert!(glob("a*c", "abbbc"));
            assert!(glob("*", ""));
            assert!(!glob("a*c", "abcd"));
            assert!(glob("*b*", "abc"));
        }
    }
}
