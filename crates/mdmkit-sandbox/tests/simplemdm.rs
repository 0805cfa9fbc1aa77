//! The SimpleMDM simulator over HTTP: Basic auth with the key as user name, permission domains, cursor
//! paging (`limit` 1–100, `starting_after`, `has_more`), the fuzzy `search`, awaiting-enrollment records,
//! the device row and assignment group shapes, error bodies, and `expected_*` against what is served.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use mdmkit_core::{ExposeSecret, ProviderConfig, ProviderKind};
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use serde_json::Value;

const KIND: ProviderKind = ProviderKind::SimpleMdm;

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    /// `Authorization: Basic base64(user:password)`.
    Basic(&'a str, &'a str),
    /// Any other `Authorization` value.
    Raw(&'a str),
}

struct Api {
    sandbox: Sandbox,
    client: reqwest::Client,
    key: String,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

fn key_of(sandbox: &Sandbox, access: Access) -> String {
    match sandbox.config(KIND, access) {
        ProviderConfig::SimpleMdm(c) => c.api_key.expose_secret().to_owned(),
        other => panic!("not a SimpleMDM configuration: {:?}", other.kind()),
    }
}

impl Api {
    async fn start(devices: usize) -> Api {
        let sandbox = Sandbox::start(SandboxConfig {
            devices,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let key = key_of(&sandbox, Access::Full);
        Api {
            sandbox,
            client: reqwest::Client::new(),
            key,
        }
    }

    async fn send(&self, auth: Auth<'_>, path: &str) -> Answer {
        let url = format!("{}{}", self.sandbox.url(KIND), path.trim_start_matches('/'));
        let mut request = self.client.get(url);
        match auth {
            Auth::None => {}
            Auth::Basic(user, password) => {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                request = request.header("authorization", format!("Basic {encoded}"));
            }
            Auth::Raw(value) => request = request.header("authorization", value),
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A request with the full-access key (the key as user name, an empty password).
    async fn get(&self, path: &str) -> Answer {
        self.send(Auth::Basic(&self.key, ""), path).await
    }

    /// A 200 list page: its rows and `has_more`.
    async fn page(&self, path: &str) -> (Vec<Value>, bool) {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        let rows = answer.body["data"]
            .as_array()
            .expect("data is an array")
            .clone();
        let has_more = answer.body["has_more"]
            .as_bool()
            .expect("has_more is a boolean");
        (rows, has_more)
    }

    /// Every row of a list, following `starting_after` while `has_more`; also returns the request count.
    async fn walk(&self, path: &str, query: &str) -> (Vec<Value>, usize) {
        self.walk_from(path, query, None).await
    }

    /// Like [`Api::walk`], the first request starting after `start`.
    async fn walk_from(&self, path: &str, query: &str, start: Option<i64>) -> (Vec<Value>, usize) {
        let mut rows: Vec<Value> = Vec::new();
        let mut requests = 0;
        loop {
            let after = rows
                .last()
                .map(|r| r["id"].as_i64().unwrap())
                .or(start)
                .map(|id| format!("&starting_after={id}"))
                .unwrap_or_default();
            let (page, has_more) = self.page(&format!("{path}?{query}{after}")).await;
            requests += 1;
            rows.extend(page);
            if !has_more {
                return (rows, requests);
            }
            assert!(requests < 2_000, "the walk ends");
        }
    }
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| r["id"].as_i64().expect("integer ids"))
        .collect()
}

fn title(answer: &Answer) -> &str {
    answer.body["errors"][0]["title"]
        .as_str()
        .unwrap_or_else(|| panic!("an errors body: {}", answer.body))
}

/// The value of a custom attribute in a device row.
fn attribute<'a>(row: &'a Value, name: &str) -> Option<&'a Value> {
    row["relationships"]["custom_attribute_values"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == name)
        .map(|v| &v["attributes"])
}

fn owner(row: &Value) -> &str {
    attribute(row, "owner").expect("an owner attribute")["value"]
        .as_str()
        .unwrap()
}

#[tokio::test]
async fn auth_is_basic_with_the_key_as_user_name_and_an_empty_password() {
    let api = Api::start(5).await;
    let ok = api.get("/api/v1/account").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["data"]["type"], "account");
    assert!(ok.body["data"]["attributes"]["name"].as_str().is_some());
    assert!(ok.body["data"]["attributes"]["subscription"]["licenses"]["total"].is_number());

    let bearer = format!("Bearer {}", api.key);
    let refusals = [
        Auth::None,
        Auth::Basic("not-the-key", ""),
        Auth::Basic("", &api.key),
        Auth::Raw(&bearer),
        Auth::Raw("Basic !!!not-base64"),
    ];
    for auth in refusals {
        for path in [
            "/api/v1/account",
            "/api/v1/devices",
            "/api/v1/assignment_groups",
        ] {
            let answer = api.send(auth, path).await;
            assert_eq!(answer.status, 401, "{path}: {}", answer.body);
            assert_eq!(title(&answer), "Unauthorized");
            assert!(answer.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic "));
        }
    }

    let wrong = key_of(&api.sandbox, Access::WrongSecret);
    assert_ne!(wrong, api.key);
    assert_eq!(
        api.send(Auth::Basic(&wrong, ""), "/api/v1/account")
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn a_key_without_device_permission_reads_the_account_but_gets_403_on_devices() {
    let api = Api::start(5).await;
    let limited = key_of(&api.sandbox, Access::NoDeviceRead);
    let as_limited = |path: &'static str| api.send(Auth::Basic(&limited, ""), path);
    assert_eq!(as_limited("/api/v1/account").await.status, 200);
    for path in [
        "/api/v1/devices?limit=1",
        "/api/v1/devices/100000",
        "/api/v1/devices/100000/custom_attribute_values",
        "/api/v1/custom_attributes",
        "/api/v1/assignment_groups",
        "/api/v1/assignment_groups/5000",
    ] {
        let answer = as_limited(path).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
        assert_eq!(title(&answer), "Forbidden");
    }
    // Other Access variants get the full key.
    assert_eq!(key_of(&api.sandbox, Access::NoDirectoryDeviceRead), api.key);
}

#[tokio::test]
async fn unknown_records_and_routes_get_the_documented_404() {
    let api = Api::start(5).await;
    for path in [
        "/api/v1/devices/999999",
        "/api/v1/devices/12",
        "/api/v1/devices/abc",
        "/api/v1/devices/999999/custom_attribute_values",
        "/api/v1/assignment_groups/4999",
        "/api/v1/assignment_groups/9999",
        "/api/v1/device_groups",
        "/api/v2/devices",
    ] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert_eq!(title(&answer), "object not found");
    }
    // A routing miss answers before any credential check.
    let answer = api.send(Auth::None, "/api/v1/nothing-here").await;
    assert_eq!(answer.status, 404);
}

#[tokio::test]
async fn devices_are_cursor_paged_with_limit_1_to_100() {
    let api = Api::start(250).await;
    let all = "include_awaiting_enrollment=true";

    // Default page: 10 rows in ascending id order.
    let (rows, has_more) = api.page("/api/v1/devices").await;
    assert_eq!(
        ids(&rows),
        (100_000..100_011)
            .filter(|id| (id - 100_000) % 16 != 5)
            .take(10)
            .collect::<Vec<_>>()
    );
    assert!(has_more);

    // The limit is clamped into 1..=100; a non-integer is refused.
    for (limit, served) in [
        ("100", 100),
        ("500", 100),
        ("101", 100),
        ("1", 1),
        ("0", 1),
        ("-3", 1),
        ("37", 37),
    ] {
        let (rows, _) = api
            .page(&format!("/api/v1/devices?{all}&limit={limit}"))
            .await;
        assert_eq!(rows.len(), served, "limit={limit}");
    }
    for bad in ["limit=ten", "limit=2.5", "starting_after=abc"] {
        let answer = api.get(&format!("/api/v1/devices?{bad}")).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert!(title(&answer).contains("invalid"), "{}", answer.body);
    }

    // Walking the cursor gives every device once, in order, in ceil(250 / 100) requests.
    let (rows, requests) = api
        .walk("/api/v1/devices", &format!("limit=100&{all}"))
        .await;
    assert_eq!(ids(&rows), (100_000..100_250).collect::<Vec<_>>());
    assert_eq!(requests, 3);

    // Without the flag, devices awaiting enrollment are left out.
    let (enrolled, _) = api.walk("/api/v1/devices", "limit=100").await;
    let expected: Vec<i64> = (100_000..100_250)
        .filter(|id| (id - 100_000) % 16 != 5)
        .collect();
    assert_eq!(ids(&enrolled), expected);
    assert!(enrolled
        .iter()
        .all(|r| r["attributes"]["status"] == "enrolled"));

    // has_more is exact: a full last page says false.
    let (rows, has_more) = api
        .page(&format!(
            "/api/v1/devices?{all}&limit=100&starting_after=100149"
        ))
        .await;
    assert_eq!(rows.len(), 100);
    assert!(!has_more);
    let (rows, has_more) = api
        .page(&format!(
            "/api/v1/devices?{all}&limit=100&starting_after=100249"
        ))
        .await;
    assert!(rows.is_empty() && !has_more);
    // A cursor below every id starts at the beginning.
    let (rows, _) = api
        .page(&format!("/api/v1/devices?{all}&limit=2&starting_after=7"))
        .await;
    assert_eq!(ids(&rows), [100_000, 100_001]);

    // A deleted device's id still works as a cursor.
    api.sandbox.mutate(|f| f.remove_device(10));
    let (rows, _) = api
        .page(&format!(
            "/api/v1/devices?{all}&limit=2&starting_after=100010"
        ))
        .await;
    assert_eq!(ids(&rows), [100_011, 100_012]);
    let (rows, _) = api
        .page(&format!(
            "/api/v1/devices?{all}&limit=2&starting_after=100009"
        ))
        .await;
    assert_eq!(ids(&rows), [100_011, 100_012]);

    // direction=desc walks from the top.
    let (rows, has_more) = api
        .page(&format!("/api/v1/devices?{all}&limit=3&direction=desc"))
        .await;
    assert_eq!(ids(&rows), [100_249, 100_248, 100_247]);
    assert!(has_more);
    let (rows, has_more) = api
        .page(&format!(
            "/api/v1/devices?{all}&limit=3&direction=desc&starting_after=100002"
        ))
        .await;
    assert_eq!(ids(&rows), [100_001, 100_000]);
    assert!(!has_more);
}

#[tokio::test]
async fn device_rows_have_the_documented_shape() {
    let api = Api::start(40).await;
    let fleet = api.sandbox.fleet();
    let assigned = fleet
        .devices
        .values()
        .find(|d| d.user.is_some() && d.index % 16 != 5)
        .unwrap();
    let unassigned = fleet.devices.values().find(|d| d.user.is_none()).unwrap();

    for device in [assigned, unassigned] {
        let answer = api
            .get(&format!("/api/v1/devices/{}", 100_000 + device.index))
            .await;
        assert_eq!(answer.status, 200);
        let row = &answer.body["data"];
        assert_eq!(row["type"], "device");
        assert_eq!(row["id"], 100_000 + device.index);
        assert_eq!(row["attributes"]["serial_number"], device.serial.as_str());
        assert_eq!(row["attributes"]["name"], device.name.as_str());
        let groups: BTreeSet<i64> = row["relationships"]["groups"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .inspect(|g| assert_eq!(g["type"], "assignment_group"))
            .map(|g| g["id"].as_i64().unwrap())
            .collect();
        let want: BTreeSet<i64> = fleet
            .groups_of(device.index)
            .map(|g| 5_000 + i64::from(g.index))
            .collect();
        assert_eq!(groups, want);
        let user = fleet.user_of(device);
        assert_eq!(owner(row), user.map(|u| u.full_name.as_str()).unwrap_or(""));
        assert_eq!(
            attribute(row, "email").unwrap()["value"],
            user.map(|u| u.email.as_str()).unwrap_or("")
        );
        assert_eq!(attribute(row, "owner").unwrap()["secret"], false);
        assert!(
            attribute(row, "recovery_pin").is_none(),
            "secret attributes only on request"
        );
    }

    // Secret custom attributes come only with include_secret_custom_attributes.
    let (rows, _) = api
        .page("/api/v1/devices?limit=3&include_secret_custom_attributes=true")
        .await;
    for row in &rows {
        assert_eq!(attribute(row, "recovery_pin").unwrap()["secret"], true);
    }
    let answer = api
        .get("/api/v1/devices/100000?include_secret_custom_attributes=true")
        .await;
    assert!(attribute(&answer.body["data"], "recovery_pin").is_some());

    // A record awaiting enrollment has its serial and name but nothing the device reports.
    let awaiting = &fleet.devices[&5];
    let answer = api.get("/api/v1/devices/100005").await;
    let row = &answer.body["data"];
    assert_eq!(row["attributes"]["status"], "awaiting enrollment");
    assert_eq!(row["attributes"]["serial_number"], awaiting.serial.as_str());
    assert_eq!(row["attributes"]["name"], awaiting.name.as_str());
    assert!(row["attributes"]["device_name"].is_null());
    assert!(row["attributes"]["unique_identifier"].is_null());

    // The per-device values and the attribute definitions.
    let answer = api
        .get(&format!(
            "/api/v1/devices/{}/custom_attribute_values",
            100_000 + assigned.index
        ))
        .await;
    assert_eq!(answer.status, 200);
    let values = answer.body["data"].as_array().unwrap();
    assert!(values.iter().any(|v| v["id"] == "owner"
        && v["attributes"]["value"] == fleet.user_of(assigned).unwrap().full_name.as_str()));
    let answer = api.get("/api/v1/custom_attributes").await;
    let names: Vec<&str> = answer.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"owner"), "{names:?}");
}

#[tokio::test]
async fn search_is_fuzzy_over_several_fields_and_awaiting_enrollment_is_opt_in() {
    let api = Api::start(40).await;
    let fleet = api.sandbox.fleet();
    let search = |q: &str, extra: &str| {
        let q = url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
        format!("/api/v1/devices?limit=100&search={q}{extra}")
    };

    // Device 1's serial is device 0's plus a character: searching device 0's finds both, in any case.
    let serial0 = fleet.devices[&0].serial.to_lowercase();
    let (rows, has_more) = api.page(&search(&serial0, "")).await;
    assert_eq!(ids(&rows), [100_000, 100_001]);
    assert!(!has_more);
    let exact: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            r["attributes"]["serial_number"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&serial0)
        })
        .collect();
    assert_eq!(exact.len(), 1);
    let (rows, _) = api.page(&search(&fleet.devices[&1].serial, "")).await;
    assert_eq!(ids(&rows), [100_001]);

    // Name, UDID, MAC address and phone number are searched too.
    let row2 = api.get("/api/v1/devices/100002").await.body["data"].clone();
    let row4 = api.get("/api/v1/devices/100004").await.body["data"].clone();
    let phone = row4["attributes"]["phone_number"]
        .as_str()
        .expect("device 4 is an iPhone");
    assert!(row4["attributes"]["imei"].is_string());
    for (needle, id) in [
        (fleet.devices[&2].name.to_uppercase(), 100_002),
        (
            row2["attributes"]["unique_identifier"]
                .as_str()
                .unwrap()
                .to_lowercase(),
            100_002,
        ),
        (
            row2["attributes"]["wifi_mac"].as_str().unwrap().to_owned(),
            100_002,
        ),
        (phone.to_owned(), 100_004),
    ] {
        let (rows, _) = api.page(&search(&needle, "")).await;
        assert!(
            ids(&rows).contains(&id),
            "{needle} finds {id}: {:?}",
            ids(&rows)
        );
    }

    // A record awaiting enrollment is found only with include_awaiting_enrollment.
    let serial5 = &fleet.devices[&5].serial;
    let (rows, _) = api.page(&search(serial5, "")).await;
    assert!(rows.is_empty());
    let (rows, _) = api
        .page(&search(serial5, "&include_awaiting_enrollment=true"))
        .await;
    assert_eq!(ids(&rows), [100_005]);
    let (rows, has_more) = api
        .page(&search(
            "NOSUCHSERIAL9",
            "&include_awaiting_enrollment=true",
        ))
        .await;
    assert!(rows.is_empty() && !has_more);

    // Search results page with the same cursor.
    let (everything, _) = api
        .walk(
            "/api/v1/devices",
            "limit=100&include_awaiting_enrollment=true",
        )
        .await;
    let want: Vec<i64> = everything
        .iter()
        .filter(|r| {
            r["attributes"]["name"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("mac")
        })
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(want.len() > 3);
    let (paged, requests) = api
        .walk(
            "/api/v1/devices",
            "limit=2&search=MAC&include_awaiting_enrollment=true",
        )
        .await;
    let got = ids(&paged);
    assert!(
        want.iter().all(|id| got.contains(id)),
        "every name match: {want:?} in {got:?}"
    );
    assert_eq!(
        got.len(),
        got.iter().collect::<BTreeSet<_>>().len(),
        "no row twice"
    );
    assert!(requests >= got.len() / 2);
}

#[tokio::test]
async fn assignment_groups_are_cursor_paged_with_members_embedded_and_repeated() {
    let api = Api::start(120).await;
    let fleet = api.sandbox.fleet();
    let expected = api.sandbox.expected_groups(KIND);
    assert_eq!(expected.len(), fleet.groups.len());

    let (rows, has_more) = api.page("/api/v1/assignment_groups").await;
    assert_eq!(
        ids(&rows),
        (5_000..5_000 + fleet.groups.len() as i64).collect::<Vec<_>>()
    );
    assert!(!has_more);
    let (walked, requests) = api.walk("/api/v1/assignment_groups", "limit=1").await;
    assert_eq!(ids(&walked), ids(&rows));
    assert_eq!(requests, rows.len());

    let mut saw_repeat = false;
    for (row, want) in rows.iter().zip(&expected) {
        assert_eq!(row["type"], "assignment_group");
        assert_eq!(row["id"].as_i64().unwrap().to_string(), want.id);
        assert_eq!(row["attributes"]["name"], want.name.as_str());
        let raw: Vec<String> = row["relationships"]["devices"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .inspect(|m| assert_eq!(m["type"], "device"))
            .map(|m| m["id"].as_i64().unwrap().to_string())
            .collect();
        let unique: BTreeSet<String> = raw.iter().cloned().collect();
        saw_repeat |= unique.len() < raw.len();
        assert_eq!(
            unique.into_iter().collect::<Vec<_>>(),
            want.members,
            "{}",
            want.name
        );
        let index = (row["id"].as_i64().unwrap() - 5_000) as u32;
        let kind = if fleet.groups[&index].smart {
            "dynamic"
        } else {
            "static"
        };
        assert_eq!(row["attributes"]["group_type"], kind);
    }
    assert!(
        saw_repeat,
        "live data repeats member ids, and so does the sandbox"
    );
    assert!(
        expected.last().unwrap().members.is_empty(),
        "the last group is empty"
    );

    let one = api.get("/api/v1/assignment_groups/5001").await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["data"], rows[1]);

    // Changes show at once.
    let added = api.sandbox.mutate(|f| f.add_group("Fresh", [0, 3]));
    api.sandbox.mutate(|f| f.rename_group(0, "Renamed"));
    let (rows, _) = api.page("/api/v1/assignment_groups?limit=100").await;
    let last = rows.last().unwrap();
    assert_eq!(last["id"], 5_000 + added);
    assert_eq!(last["attributes"]["name"], "Fresh");
    assert_eq!(
        ids(last["relationships"]["devices"]["data"].as_array().unwrap()),
        [100_000, 100_003, 100_003]
    );
    assert_eq!(rows[0]["attributes"]["name"], "Renamed");
}

#[tokio::test]
async fn expected_devices_agree_with_what_is_served() {
    let api = Api::start(60).await;
    let (rows, _) = api
        .walk(
            "/api/v1/devices",
            "limit=100&include_awaiting_enrollment=true",
        )
        .await;
    let expected = api.sandbox.expected_devices(KIND);
    assert_eq!(rows.len(), expected.len());
    let mut assigned = 0;
    for (row, want) in rows.iter().zip(&expected) {
        assert_eq!(row["id"].as_i64().unwrap().to_string(), want.device_id);
        assert_eq!(
            row["attributes"]["serial_number"],
            want.serial_number.as_str()
        );
        let user = Some(owner(row)).filter(|v| !v.is_empty());
        assert_eq!(user, want.user_id.as_deref());
        let display = user.unwrap_or_else(|| row["attributes"]["name"].as_str().unwrap());
        assert_eq!(display, want.display_name);
        assert_eq!(want.list_display_name, want.display_name);
        assigned += usize::from(user.is_some());
    }
    assert!(
        assigned > 0 && assigned < rows.len(),
        "assigned and unassigned devices"
    );
    assert_eq!(api.sandbox.max_page_size(KIND), 100);

    // Reassignments show in the owner attribute at once.
    let fleet = api.sandbox.fleet();
    let other = fleet.users.keys().last().copied().unwrap();
    api.sandbox.mutate(|f| f.assign_user(0, Some(other)));
    let row = api.get("/api/v1/devices/100000").await.body["data"].clone();
    assert_eq!(owner(&row), fleet.users[&other].full_name);
    api.sandbox.mutate(|f| f.assign_user(0, None));
    let row = api.get("/api/v1/devices/100000").await.body["data"].clone();
    assert_eq!(owner(&row), "");
    assert_eq!(api.sandbox.expected_devices(KIND)[0].user_id, None);
    let added = api
        .sandbox
        .mutate(|f| f.add_device("NEWSERIAL77", "Loaner", None));
    let (rows, _) = api.page("/api/v1/devices?search=newserial77").await;
    assert_eq!(ids(&rows), [100_000 + i64::from(added)]);
}

#[tokio::test]
async fn configurations_point_at_the_sandbox_and_read_the_owner_attribute() {
    let api = Api::start(3).await;
    for access in [
        Access::Full,
        Access::WrongSecret,
        Access::NoDeviceRead,
        Access::NoDirectoryDeviceRead,
    ] {
        let ProviderConfig::SimpleMdm(config) = api.sandbox.config(KIND, access) else {
            panic!("a SimpleMDM configuration");
        };
        assert_eq!(config.base_url.as_ref(), Some(api.sandbox.url(KIND)));
        assert_eq!(config.user_attribute.as_deref(), Some("owner"));
    }
}

#[tokio::test]
async fn injected_faults_use_the_vendor_error_body() {
    let api = Api::start(3).await;
    api.sandbox.set_faults(
        KIND,
        Faults {
            server_errors: 1.0,
            ..Faults::default()
        },
    );
    let answer = api.get("/api/v1/devices").await;
    assert_eq!(answer.status, 503);
    assert!(!title(&answer).is_empty());
    api.sandbox.set_faults(
        KIND,
        Faults {
            rate_limited: 1.0,
            retry_after: Duration::from_secs(2),
            ..Faults::default()
        },
    );
    let answer = api.get("/api/v1/devices").await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.headers["retry-after"], "2");
    assert!(!title(&answer).is_empty());
    api.sandbox.set_faults(KIND, Faults::default());
    assert_eq!(api.get("/api/v1/devices").await.status, 200);
}

#[tokio::test]
async fn a_100000_device_fleet_is_served_page_by_page() {
    let api = Api::start(100_000).await;
    let all = "include_awaiting_enrollment=true";
    // Pages deep in the fleet are found by the cursor, not by counting rows: the last thousand devices
    // in ten requests, ending with has_more false.
    let (rows, requests) = api
        .walk_from(
            "/api/v1/devices",
            &format!("limit=100&{all}"),
            Some(198_999),
        )
        .await;
    assert_eq!(requests, 10);
    assert_eq!(ids(&rows), (199_000..200_000).collect::<Vec<_>>());
    let (rows, has_more) = api
        .page(&format!(
            "/api/v1/devices?limit=100&{all}&direction=desc&starting_after=150000"
        ))
        .await;
    assert_eq!(ids(&rows), (149_900..150_000).rev().collect::<Vec<_>>());
    assert!(has_more);
    // A lookup scans the fleet once.
    let serial = api.sandbox.fleet().devices[&99_998].serial.clone();
    let (rows, _) = api
        .page(&format!("/api/v1/devices?limit=100&{all}&search={serial}"))
        .await;
    assert!(ids(&rows).contains(&199_998));
    let (groups, _) = api.walk("/api/v1/assignment_groups", "limit=100").await;
    assert_eq!(groups.len(), 200);
}
