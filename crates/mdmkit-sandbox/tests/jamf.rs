//! The simulated Jamf Pro API, over HTTP: OAuth client credentials, ApiError bodies, computers inventory
//! (sections, paging and its silent cap, sorting, RSQL filters), users, computer groups (Jamf Pro and
//! Classic API) and agreement with `expected_*`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mdmkit_core::ProviderKind;
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use serde_json::Value;

const CLIENT_ID: &str = "sandbox-jamf-client";
const CLIENT_SECRET: &str = "sandbox-jamf-secret";

struct Jamf {
    sandbox: Sandbox,
    base: String,
    http: reqwest::Client,
}

impl Jamf {
    async fn start(devices: usize) -> Jamf {
        let sandbox = Sandbox::start(SandboxConfig {
            devices,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let base = sandbox.url(ProviderKind::Jamf).to_string();
        Jamf {
            sandbox,
            base,
            http: reqwest::Client::new(),
        }
    }

    /// The client id and secret `Sandbox::config` hands out for `access`.
    fn credentials(&self, access: Access) -> (String, String) {
        let config = serde_json::to_value(
            self.sandbox
                .config(ProviderKind::Jamf, access)
                .expose_secrets(),
        )
        .unwrap();
        assert_eq!(config["provider"], "jamf");
        assert_eq!(config["base_url"], self.base.as_str());
        (
            config["client_id"].as_str().unwrap().to_owned(),
            config["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn token_request(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap(),
        )
    }

    async fn token_for(&self, access: Access) -> String {
        let (id, secret) = self.credentials(access);
        let (status, body) = self
            .token_request(
                "api/v1/oauth/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn token(&self) -> String {
        self.token_for(Access::Full).await
    }

    async fn raw(
        &self,
        path: &str,
        token: Option<&str>,
        accept: Option<&str>,
    ) -> (u16, String, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, r.text().await.unwrap())
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let (status, _, body) = self.raw(path, Some(token), Some("application/json")).await;
        let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        (status, value)
    }

    async fn ok(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.get(path, token).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_api_error(body: &Value, status: u16, code: &str) {
    assert_eq!(body["httpStatus"], status, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["code"], code, "{body}");
    assert!(error["description"].is_string(), "{body}");
    assert!(error["id"].is_string(), "{body}");
    assert!(error.as_object().unwrap().contains_key("field"), "{body}");
}

#[tokio::test]
async fn token_endpoints_issue_tokens_and_refuse_bad_requests_the_rfc_6749_way() {
    let jamf = Jamf::start(5).await;
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    for path in ["api/v1/oauth/token", "api/oauth/token"] {
        let (status, body) = jamf.token_request(path, &good).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "api-role:1");
        assert_eq!(
            body["expires_in"], 300,
            "the sandbox's default token lifetime"
        );
        let token = body["access_token"].as_str().unwrap();
        assert!(!token.is_empty());
        jamf.ok("api/v1/jamf-pro-version", token).await;
    }

    let (id, secret) = jamf.credentials(Access::WrongSecret);
    assert_eq!(id, CLIENT_ID);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", CLIENT_SECRET),
            ],
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("scope", "api-role:2"),
            ],
            "invalid_scope",
        ),
    ];
    for (form, error) in cases {
        let (status, body) = jamf.token_request("api/v1/oauth/token", &form).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], error, "{form:?}");
        assert!(body["error_description"].is_string());
    }
    let mut narrowed = good.to_vec();
    narrowed.push(("scope", "api-role:1"));
    let (status, body) = jamf.token_request("api/oauth/token", &narrowed).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("api-role:1")));

    // The documented encoding is a form; a JSON body is refused.
    let r = jamf
        .http
        .post(format!("{}api/v1/oauth/token", jamf.base))
        .header("content-type", "application/json")
        .body(format!(r#"{{"grant_type":"client_credentials","client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn bad_expired_and_underprivileged_tokens_get_api_errors() {
    let jamf = Jamf::start(5).await;
    let token = jamf.token().await;
    let inventory = "api/v4/computers-inventory?page-size=1";

    let (status, _, body) = jamf.raw(inventory, None, None).await;
    assert_eq!(status, 401);
    assert_api_error(&serde_json::from_str(&body).unwrap(), 401, "INVALID_TOKEN");
    let (status, body) = jamf.get(inventory, "not-a-token").await;
    assert_eq!(status, 401);
    assert_api_error(&body, 401, "INVALID_TOKEN");
    assert_eq!(body["errors"][0]["field"], Value::Null);

    // A client without "Read Computers": the token is fine, the inventory is Forbidden.
    let limited = jamf.token_for(Access::NoDeviceRead).await;
    jamf.ok("api/v1/jamf-pro-version", &limited).await;
    for path in [
        inventory,
        "api/v3/computers-inventory",
        "api/v1/computers-inventory",
        "api/v4/computers-inventory/1",
    ] {
        let (status, body) = jamf.get(path, &limited).await;
        assert_eq!(status, 403, "{path}");
        assert_api_error(&body, 403, "INVALID_PRIVILEGE");
    }
    jamf.ok("api/v1/users", &limited).await;
    jamf.ok("api/v1/computer-groups", &limited).await;

    // Expiry: every issued token, then a short lifetime.
    jamf.ok(inventory, &token).await;
    jamf.sandbox.expire_tokens(ProviderKind::Jamf);
    let (status, body) = jamf.get(inventory, &token).await;
    assert_eq!(status, 401);
    assert_api_error(&body, 401, "INVALID_TOKEN");
    let (status, _, page) = jamf
        .raw("JSSResource/computergroups/id/1", Some(&token), None)
        .await;
    assert_eq!(status, 401);
    assert!(
        page.contains("<title>Status page</title>") && page.contains(">Unauthorized</p>"),
        "{page}"
    );

    jamf.sandbox.set_token_lifetime(Duration::from_millis(300));
    let (status, body) = jamf
        .token_request(
            "api/v1/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
        )
        .await;
    assert_eq!((status, body["expires_in"].as_u64()), (200, Some(0)));
    let short = body["access_token"].as_str().unwrap().to_owned();
    jamf.ok(inventory, &short).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = jamf.get(inventory, &short).await;
    assert_eq!(status, 401);
    assert_api_error(&body, 401, "INVALID_TOKEN");
}

#[tokio::test]
async fn version_is_a_current_release_with_a_build_suffix() {
    let jamf = Jamf::start(3).await;
    let token = jamf.token().await;
    let body = jamf.ok("api/v1/jamf-pro-version", &token).await;
    let version = body["version"].as_str().unwrap();
    let (release, build) = version.split_once("-t").expect("a -t<build> suffix");
    let parts: Vec<u32> = release.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], 11);
    assert!(
        (30..40).contains(&parts[1]),
        "v4 inventory and v3 groups exist from 11.30: {version}"
    );
    assert!(build.chars().all(|c| c.is_ascii_digit()) && !build.is_empty());
    let (status, _, _) = jamf.raw("api/v1/jamf-pro-version", None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn inventory_pages_are_zero_based_and_silently_capped_at_2000() {
    let jamf = Jamf::start(2300).await;
    let token = jamf.token().await;
    assert_eq!(jamf.sandbox.max_page_size(ProviderKind::Jamf), 2000);

    // Defaults: 100 rows, GENERAL only, every other section null, sorted by general.name.
    let page = jamf.ok("api/v4/computers-inventory", &token).await;
    assert_eq!(page["totalCount"], 2300);
    let rows = page["results"].as_array().unwrap();
    assert_eq!(rows.len(), 100);
    let first = &rows[0];
    assert!(first["general"]["name"].is_string());
    for key in [
        "hardware",
        "userAndLocation",
        "groupMemberships",
        "diskEncryption",
        "operatingSystem",
    ] {
        assert_eq!(first[key], Value::Null, "{key} was not asked for");
    }
    assert!(first["udid"].is_string());
    let names: Vec<String> = rows
        .iter()
        .map(|c| c["general"]["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(
        names.windows(2).all(|w| w[0] <= w[1]),
        "general.name:asc by default"
    );

    // An oversized page is cut to 2000 without complaint; totalCount stays.
    let big = jamf
        .ok(
            "api/v4/computers-inventory?page=0&page-size=5000&sort=id:asc",
            &token,
        )
        .await;
    assert_eq!(big["totalCount"], 2300);
    assert_eq!(big["results"].as_array().unwrap().len(), 2000);
    let next = jamf
        .ok(
            "api/v4/computers-inventory?page=1&page-size=2000&sort=id:asc",
            &token,
        )
        .await;
    assert_eq!(next["results"].as_array().unwrap().len(), 300);
    let mut all = ids(&big);
    all.extend(ids(&next));
    let expected: Vec<String> = (1..=2300).map(|i| i.to_string()).collect();
    assert_eq!(
        all, expected,
        "id:asc, every computer once, ids are index + 1"
    );
    let past = jamf
        .ok("api/v4/computers-inventory?page=2&page-size=2000", &token)
        .await;
    assert_eq!(
        (
            past["totalCount"].as_u64(),
            past["results"].as_array().unwrap().len()
        ),
        (Some(2300), 0)
    );

    // Descending and multi-key sorts.
    let desc = jamf
        .ok(
            "api/v4/computers-inventory?page-size=3&sort=id:desc",
            &token,
        )
        .await;
    assert_eq!(ids(&desc), ["2300", "2299", "2298"]);
    let multi = jamf
        .ok(
            "api/v4/computers-inventory?page-size=50&sort=general.platform:asc,id:desc",
            &token,
        )
        .await;
    assert_eq!(ids(&multi)[0], "2300");

    // Bad parameters are 400 ApiErrors naming the parameter.
    for (query, field) in [
        ("section=NOPE", "section"),
        ("page-size=0", "page-size"),
        ("page=-1", "page"),
        ("sort=hardware.serialNumber:sideways", "sort"),
        ("sort=notAField:asc", "sort"),
        ("filter=nope%3D%3D1", "filter"),
    ] {
        let (status, body) = jamf
            .get(&format!("api/v4/computers-inventory?{query}"), &token)
            .await;
        assert_eq!(status, 400, "{query}");
        assert_api_error(&body, 400, "INVALID_FIELD");
        assert_eq!(body["errors"][0]["field"], field);
    }
}

#[tokio::test]
async fn inventory_versions_and_sections_have_their_documented_shapes() {
    let jamf = Jamf::start(30).await;
    let token = jamf.token().await;
    let fleet = jamf.sandbox.fleet();
    let query =
        "?section=GENERAL&section=HARDWARE&section=USER_AND_LOCATION&page-size=100&sort=id:asc";
    let v4 = jamf
        .ok(&format!("api/v4/computers-inventory{query}"), &token)
        .await;
    let v3 = jamf
        .ok(&format!("api/v3/computers-inventory{query}"), &token)
        .await;
    let v1 = jamf
        .ok(&format!("api/v1/computers-inventory{query}"), &token)
        .await;
    assert_eq!(ids(&v4), ids(&v3));
    assert_eq!(ids(&v4), ids(&v1));
    let c4 = &v4["results"][0];
    assert!(c4["general"]["lastContact"].is_string() && c4["general"]["lastCheckIn"].is_string());
    assert!(c4["general"].get("lastContactTime").is_none());
    assert!(v3["results"][0]["general"]["lastContactTime"].is_string());
    assert!(v1["results"][0]["general"]["lastContactTime"].is_string());
    assert!(
        v1["results"][0]
            .as_object()
            .unwrap()
            .contains_key("plugins"),
        "v1 still has PLUGINS"
    );
    assert!(!c4.as_object().unwrap().contains_key("plugins"));
    let (status, _) = jamf
        .get("api/v4/computers-inventory?section=PLUGINS", &token)
        .await;
    assert_eq!(status, 400, "PLUGINS is gone from v4");

    let mut assigned = 0;
    for c in v4["results"].as_array().unwrap() {
        let index: u32 = c["id"].as_str().unwrap().parse::<u32>().unwrap() - 1;
        let device = &fleet.devices[&index];
        assert_eq!(c["general"]["name"], device.name.as_str());
        assert_eq!(c["hardware"]["serialNumber"], device.serial.as_str());
        assert_eq!(c["hardware"]["make"], "Apple");
        let ul = &c["userAndLocation"];
        match fleet.user_of(device) {
            Some(user) => {
                assigned += 1;
                assert_eq!(ul["username"], user.username.as_str());
                assert_eq!(
                    ul["realname"],
                    user.full_name.as_str(),
                    "realname, not realName"
                );
                assert_eq!(ul["email"], user.email.as_str());
            }
            None => {
                for key in ["username", "realname", "email"] {
                    assert_eq!(ul[key], "", "unassigned computers carry empty strings");
                }
            }
        }
        assert!(
            ul.get("realName").is_none() && ul.get("id").is_none(),
            "no user id on a computer"
        );
    }
    assert!(assigned > 0 && assigned < 30);

    // One computer: same shape without the wrapper; -detail has every section.
    let one = jamf
        .ok("api/v4/computers-inventory/3?section=HARDWARE", &token)
        .await;
    assert_eq!(one["id"], "3");
    assert_eq!(
        one["hardware"]["serialNumber"],
        fleet.devices[&2].serial.as_str()
    );
    assert_eq!(one["general"], Value::Null);
    let detail = jamf.ok("api/v4/computers-inventory-detail/3", &token).await;
    for key in [
        "general",
        "hardware",
        "userAndLocation",
        "groupMemberships",
        "operatingSystem",
        "applications",
    ] {
        assert_ne!(detail[key], Value::Null, "{key}");
    }
    for path in [
        "api/v4/computers-inventory/999",
        "api/v4/computers-inventory-detail/0",
        "api/v1/computers-inventory/abc",
    ] {
        let (status, body) = jamf.get(path, &token).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["httpStatus"], 404);
        assert!(!body["errors"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn serial_lookups_use_rsql_with_quoting_escapes_and_wildcards() {
    let jamf = Jamf::start(40).await;
    let token = jamf.token().await;
    let fleet = jamf.sandbox.fleet();
    let serial0 = fleet.devices[&0].serial.clone();
    assert_eq!(fleet.devices[&1].serial, format!("{serial0}Z"));
    let lookup = |filter: String| {
        format!(
            "api/v4/computers-inventory?section=GENERAL&section=HARDWARE&section=USER_AND_LOCATION&page=0&page-size=100&sort=id:asc&filter={}",
            enc(&filter)
        )
    };

    // == is exact: device 1's serial extends device 0's and is not matched.
    let page = jamf
        .ok(
            &lookup(format!(r#"hardware.serialNumber=="{serial0}""#)),
            &token,
        )
        .await;
    assert_eq!(page["totalCount"], 1);
    assert_eq!(ids(&page), ["1"]);
    assert_eq!(
        page["results"][0]["hardware"]["serialNumber"],
        serial0.as_str()
    );
    // Case is ignored (the database's collation), as are single quotes vs double quotes.
    let page = jamf
        .ok(
            &lookup(format!(
                "hardware.serialNumber=='{}'",
                serial0.to_lowercase()
            )),
            &token,
        )
        .await;
    assert_eq!(ids(&page), ["1"]);
    // A bare value works too; * is a wildcard.
    let page = jamf
        .ok(
            &lookup(format!("hardware.serialNumber=={serial0}*")),
            &token,
        )
        .await;
    assert_eq!(ids(&page), ["1", "2"]);
    // Backslash escapes inside quotes; nothing matches, and that is a 200 with totalCount 0.
    let page = jamf
        .ok(
            &lookup(r#"hardware.serialNumber=="C02\"X\\Y""#.to_owned()),
            &token,
        )
        .await;
    assert_eq!(
        (page["totalCount"].as_u64(), ids(&page).len()),
        (Some(0), 0)
    );
    let page = jamf
        .ok(
            &lookup(r#"hardware.serialNumber=="NOSUCHSERIAL""#.to_owned()),
            &token,
        )
        .await;
    assert_eq!(page["totalCount"], 0);

    // =in=, OR, AND and other documented fields.
    let serial5 = &fleet.devices[&5].serial;
    let page = jamf
        .ok(
            &lookup(format!(
                r#"hardware.serialNumber=in=("{serial0}","{serial5}")"#
            )),
            &token,
        )
        .await;
    assert_eq!(ids(&page), ["1", "6"]);
    let page = jamf
        .ok(
            &lookup(format!(
                r#"id==3,hardware.serialNumber=="{serial5}";id=gt=5"#
            )),
            &token,
        )
        .await;
    assert_eq!(ids(&page), ["3", "6"]);
    let (index, user) = fleet
        .devices
        .values()
        .find_map(|d| fleet.user_of(d).map(|u| (d.index, u.clone())))
        .unwrap();
    let page = jamf
        .ok(
            &lookup(format!(r#"userAndLocation.username=="{}""#, user.username)),
            &token,
        )
        .await;
    assert!(ids(&page).contains(&(index + 1).to_string()));
    let name = &fleet.devices[&7].name;
    let page = jamf
        .ok(&lookup(format!(r#"general.name=="{name}""#)), &token)
        .await;
    assert!(
        ids(&page).contains(&"8".to_owned()),
        "non-ASCII names filter: {name}"
    );

    for bad in [
        format!(r#"hardware.serialNumber=="{serial0}"#),
        "hardware.serialNumber~=X".to_owned(),
        "id==abc".to_owned(),
        "(id==1".to_owned(),
    ] {
        let (status, body) = jamf.get(&lookup(bad.clone()), &token).await;
        assert_eq!(status, 400, "{bad}");
        assert_api_error(&body, 400, "INVALID_FIELD");
    }
}

#[tokio::test]
async fn users_are_paged_capped_at_1000_and_filterable_by_username() {
    let jamf = Jamf::start(1200).await;
    let token = jamf.token().await;
    let fleet = jamf.sandbox.fleet();
    let users = fleet.users.len();
    assert!(users > 1000);

    let page = jamf
        .ok("api/v1/users?page=0&page-size=5000&sort=id:asc", &token)
        .await;
    assert_eq!(page["pageSize"], 1000, "clamped and echoed");
    assert_eq!(page["page"], 0);
    assert_eq!(page["totalCount"], users);
    assert_eq!(page["totalPages"], 2);
    assert_eq!(
        (page["hasNext"].as_bool(), page["hasPrevious"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(page["results"].as_array().unwrap().len(), 1000);
    let last = jamf.ok("api/v1/users?page=1&page-size=1000", &token).await;
    assert_eq!(last["results"].as_array().unwrap().len(), users - 1000);
    assert_eq!(
        (last["hasNext"].as_bool(), last["hasPrevious"].as_bool()),
        (Some(false), Some(true))
    );
    let defaults = jamf.ok("api/v1/users", &token).await;
    assert_eq!(defaults["pageSize"], 100);

    let user = &fleet.users[&17];
    let filter = enc(&format!(r#"username=="{}""#, user.username));
    let found = jamf
        .ok(
            &format!("api/v1/users?filter={filter}&page-size=1000"),
            &token,
        )
        .await;
    assert_eq!(found["totalCount"], 1);
    let record = &found["results"][0];
    assert_eq!(record["id"], "18", "user id = index + 1, a string");
    assert_eq!(record["username"], user.username.as_str());
    assert_eq!(record["realname"], user.full_name.as_str());
    assert_eq!(record["email"], user.email.as_str());

    let other = &fleet.users[&900];
    let filter = enc(&format!(
        r#"username=in=("{}","{}")"#,
        user.username, other.username
    ));
    let found = jamf
        .ok(&format!("api/v1/users?filter={filter}"), &token)
        .await;
    assert_eq!(ids(&found), ["18", "901"]);
    let (status, body) = jamf
        .get("api/v1/users?filter=shoeSize%3D%3D1", &token)
        .await;
    assert_eq!(status, 400);
    assert_api_error(&body, 400, "INVALID_FIELD");
}

#[tokio::test]
async fn groups_are_served_by_every_documented_endpoint() {
    let jamf = Jamf::start(120).await;
    let token = jamf.token().await;
    let fleet = jamf.sandbox.fleet();
    let expected = jamf.sandbox.expected_groups(ProviderKind::Jamf);
    assert_eq!(expected.len(), fleet.groups.len());
    let by_id: BTreeMap<&str, _> = expected.iter().map(|g| (g.id.as_str(), g)).collect();

    // v1: the whole list, un-paged, with smartGroup.
    let list = jamf.ok("api/v1/computer-groups", &token).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), expected.len());
    let mut smart_ids = Vec::new();
    for g in list {
        let id = g["id"].as_str().unwrap();
        assert_eq!(g["name"], by_id[id].name.as_str());
        let index: u32 = id.parse::<u32>().unwrap() - 1;
        assert_eq!(g["smartGroup"], fleet.groups[&index].smart);
        if fleet.groups[&index].smart {
            smart_ids.push(id.to_owned());
        }
    }
    assert_eq!(smart_ids.len(), 1, "the seeded fleet has one smart group");

    // Members: smart groups through smart-group-membership (integers), every group through Classic JSON.
    for version in ["v2", "v3"] {
        for g in list {
            let id = g["id"].as_str().unwrap();
            let (status, body) = jamf
                .get(
                    &format!("api/{version}/computer-groups/smart-group-membership/{id}"),
                    &token,
                )
                .await;
            if g["smartGroup"] == true {
                assert_eq!(status, 200);
                let mut members: Vec<String> = body["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m.as_u64().expect("integer ids").to_string())
                    .collect();
                members.sort();
                assert_eq!(members, by_id[id].members);
            } else {
                assert_eq!(status, 404, "a static group has no smart membership");
            }
        }
    }
    for g in &expected {
        let (status, content_type, body) = jamf
            .raw(
                &format!("JSSResource/computergroups/id/{}", g.id),
                Some(&token),
                Some("application/json"),
            )
            .await;
        assert_eq!(status, 200);
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        let group = &body["computer_group"];
        assert_eq!(group["id"].as_u64().unwrap().to_string(), g.id);
        assert_eq!(group["name"], g.name.as_str());
        let mut members: Vec<String> = group["computers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_u64().unwrap().to_string())
            .collect();
        members.sort();
        assert_eq!(members, g.members);
        for c in group["computers"].as_array().unwrap() {
            let index = c["id"].as_u64().unwrap() as u32 - 1;
            assert_eq!(c["serial_number"], fleet.devices[&index].serial.as_str());
        }
    }
    let empty = expected
        .iter()
        .find(|g| g.members.is_empty())
        .expect("one empty group");
    assert!(!empty.id.is_empty());

    // Classic without Accept: XML.
    let (status, content_type, body) = jamf
        .raw(
            &format!("JSSResource/computergroups/id/{}", expected[0].id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert!(body.starts_with("<?xml") && body.contains("<computer_group><id>1</id>"));
    assert!(body.contains(&format!(
        "<computers><size>{}</size>",
        expected[0].members.len()
    )));
    let (_, _, body) = jamf
        .raw(
            "JSSResource/computergroups",
            Some(&token),
            Some("application/json"),
        )
        .await;
    let classic_list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        classic_list["computer_groups"].as_array().unwrap().len(),
        expected.len()
    );
    let name = enc(&expected[1].name).replace('+', "%20");
    let (status, _, body) = jamf
        .raw(
            &format!("JSSResource/computergroups/name/{name}"),
            Some(&token),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!("\"id\":{}", expected[1].id)));
    let (status, content_type, body) = jamf
        .raw(
            "JSSResource/computergroups/id/9999",
            Some(&token),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, 404);
    assert!(content_type.starts_with("text/html") && body.contains(">Not Found</p>"));

    // v3 lists: smart groups with membershipCount, static groups with count and no members.
    let smart = jamf
        .ok(
            "api/v3/computer-groups/smart-groups?page=0&page-size=100",
            &token,
        )
        .await;
    assert_eq!(smart["totalCount"], 1);
    let s = &smart["results"][0];
    assert_eq!(s["id"], smart_ids[0].as_str());
    assert_eq!(
        s["membershipCount"],
        by_id[smart_ids[0].as_str()].members.len()
    );
    assert_eq!(s["siteId"], "-1");
    let static_groups = jamf
        .ok(
            "api/v3/computer-groups/static-groups?page=0&page-size=2&sort=id:asc",
            &token,
        )
        .await;
    assert_eq!(static_groups["totalCount"], expected.len() - 1);
    assert_eq!(static_groups["results"].as_array().unwrap().len(), 2);
    for g in static_groups["results"].as_array().unwrap() {
        assert_eq!(g["count"], by_id[g["id"].as_str().unwrap()].members.len());
    }
    let filter = enc(&format!(r#"name=="*{}*""#, &expected[2].name[1..4]));
    let filtered = jamf
        .ok(
            &format!("api/v3/computer-groups/static-groups?filter={filter}"),
            &token,
        )
        .await;
    assert!(ids(&filtered).contains(&expected[2].id));
    let one = jamf
        .ok(
            &format!("api/v3/computer-groups/static-groups/{}", expected[0].id),
            &token,
        )
        .await;
    assert_eq!(one["name"], expected[0].name.as_str());
    assert!(
        one.get("computerIds").is_none() && one.get("members").is_none(),
        "no members in v3"
    );
    let one = jamf
        .ok(
            &format!("api/v3/computer-groups/smart-groups/{}", smart_ids[0]),
            &token,
        )
        .await;
    assert!(one["criteria"].is_array());
    let (status, _) = jamf
        .get(
            &format!("api/v3/computer-groups/smart-groups/{}", expected[0].id),
            &token,
        )
        .await;
    assert_eq!(status, 404, "a static group is not a smart group");
}

#[tokio::test]
async fn group_memberships_section_agrees_with_expected_groups() {
    let jamf = Jamf::start(90).await;
    let token = jamf.token().await;
    let mut by_group: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let page = jamf
        .ok(
            "api/v4/computers-inventory?section=GROUP_MEMBERSHIPS&page-size=2000&sort=id:asc",
            &token,
        )
        .await;
    assert_eq!(page["results"].as_array().unwrap().len(), 90);
    for c in page["results"].as_array().unwrap() {
        assert_eq!(c["general"], Value::Null, "only the section asked for");
        for m in c["groupMemberships"].as_array().unwrap() {
            let gid = m["groupId"].as_str().unwrap().to_owned();
            names.insert(gid.clone(), m["groupName"].as_str().unwrap().to_owned());
            assert!(m["smartGroup"].is_boolean());
            by_group
                .entry(gid)
                .or_default()
                .insert(c["id"].as_str().unwrap().to_owned());
        }
    }
    for g in jamf.sandbox.expected_groups(ProviderKind::Jamf) {
        let members: Vec<String> = by_group
            .remove(&g.id)
            .unwrap_or_default()
            .into_iter()
            .collect();
        assert_eq!(members, g.members, "group {}", g.id);
        if !g.members.is_empty() {
            assert_eq!(names[&g.id], g.name);
        }
    }
    assert!(by_group.is_empty());
}

#[tokio::test]
async fn expected_devices_agree_with_what_the_api_serves() {
    let jamf = Jamf::start(150).await;
    let token = jamf.token().await;
    let users = jamf.ok("api/v1/users?page-size=1000", &token).await;
    let user_ids: BTreeMap<String, String> = users["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().to_owned(),
                u["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let page = jamf
        .ok(
            "api/v4/computers-inventory?section=GENERAL&section=HARDWARE&section=USER_AND_LOCATION&page-size=2000&sort=id:asc",
            &token,
        )
        .await;
    let served: BTreeMap<String, &Value> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["hardware"]["serialNumber"].as_str().unwrap().to_owned(),
                c,
            )
        })
        .collect();
    let expected = jamf.sandbox.expected_devices(ProviderKind::Jamf);
    assert_eq!(expected.len(), served.len());
    for e in &expected {
        let c = served[&e.serial_number];
        assert_eq!(c["id"], e.device_id.as_str());
        let ul = &c["userAndLocation"];
        let username = ul["username"].as_str().unwrap();
        let realname = ul["realname"].as_str().unwrap();
        let user_id = (!username.is_empty()).then(|| user_ids[username].clone());
        assert_eq!(e.user_id, user_id, "the user record id found by username");
        let display = if realname.is_empty() {
            c["general"]["name"].as_str().unwrap()
        } else {
            realname
        };
        assert_eq!(e.display_name, display, "user name, else device name");
        assert_eq!(
            e.list_display_name, display,
            "the listing carries realname as well"
        );
    }
    assert!(expected.iter().any(|e| e.user_id.is_none()));
    assert!(expected.iter().any(|e| !e.display_name.is_ascii()));
}

#[tokio::test]
async fn mutations_show_at_once() {
    let jamf = Jamf::start(4).await;
    let token = jamf.token().await;
    let added = jamf
        .sandbox
        .mutate(|f| f.add_device("NEWMAC0001", "Loaner Mac", Some(0)));
    let filter = enc(r#"hardware.serialNumber=="NEWMAC0001""#);
    let page = jamf
        .ok(
            &format!("api/v4/computers-inventory?section=USER_AND_LOCATION&filter={filter}"),
            &token,
        )
        .await;
    assert_eq!(ids(&page), [(added + 1).to_string()]);
    assert_eq!(
        page["results"][0]["userAndLocation"]["username"],
        jamf.sandbox.fleet().users[&0].username.as_str()
    );
    let group = jamf.sandbox.mutate(|f| f.add_group("Loaners 2", [added]));
    let body = jamf
        .ok(
            &format!("JSSResource/computergroups/id/{}", group + 1),
            &token,
        )
        .await;
    assert_eq!(body["computer_group"]["computers"][0]["id"], added + 1);
    jamf.sandbox.mutate(|f| f.remove_device(added));
    let page = jamf
        .ok(
            &format!("api/v4/computers-inventory?filter={filter}"),
            &token,
        )
        .await;
    assert_eq!(page["totalCount"], 0);
    let body = jamf
        .ok(
            &format!("JSSResource/computergroups/id/{}", group + 1),
            &token,
        )
        .await;
    assert_eq!(body["computer_group"]["computers"], serde_json::json!([]));
}

#[tokio::test]
async fn unknown_routes_and_injected_faults_use_the_vendor_bodies() {
    let jamf = Jamf::start(3).await;
    let token = jamf.token().await;
    let (status, body) = jamf.get("api/v9/computers-inventory", &token).await;
    assert_eq!(status, 404);
    assert_eq!(body, serde_json::json!({"httpStatus": 404, "errors": []}));
    let (status, body) = jamf.get("api/v2/computers-inventory", &token).await;
    assert_eq!((status, body["httpStatus"].as_u64()), (404, Some(404)));
    // The token is checked before the route is looked up.
    let (status, _, body) = jamf.raw("api/v9/computers-inventory", None, None).await;
    assert_eq!(status, 401);
    assert!(body.contains("INVALID_TOKEN"));
    let (status, content_type, _) = jamf.raw("JSSResource/nothing", Some(&token), None).await;
    assert_eq!(status, 404);
    assert!(content_type.starts_with("text/html"));

    jamf.sandbox.set_faults(
        ProviderKind::Jamf,
        Faults {
            server_errors: 1.0,
            ..Faults::default()
        },
    );
    let (status, body) = jamf.get("api/v1/jamf-pro-version", &token).await;
    assert_eq!(status, 503);
    assert_eq!(body["httpStatus"], 503);
    assert!(body["errors"][0]["code"].is_string());
}

#[tokio::test]
async fn a_large_fleet_is_served_page_by_page() {
    let jamf = Jamf::start(100_000).await;
    let token = jamf.token().await;
    let serial = jamf.sandbox.fleet().devices[&99_998].serial.clone();
    let filter = enc(&format!(r#"hardware.serialNumber=="{serial}""#));
    let found = jamf
        .ok(
            &format!("api/v4/computers-inventory?section=HARDWARE&filter={filter}&sort=id:asc"),
            &token,
        )
        .await;
    assert_eq!(ids(&found), ["99999"]);
    let last = jamf
        .ok(
            "api/v4/computers-inventory?section=GENERAL&page=49&page-size=2000&sort=id:asc",
            &token,
        )
        .await;
    assert_eq!(last["totalCount"], 100_000);
    let got = ids(&last);
    assert_eq!(
        (got.len(), got[0].as_str(), got[1999].as_str()),
        (2000, "98001", "100000")
    );
    let by_name = jamf
        .ok("api/v4/computers-inventory?page=999&page-size=100", &token)
        .await;
    assert_eq!(by_name["results"].as_array().unwrap().len(), 100);
}
