//! The simulated Iru (Kandji) API, over HTTP: bearer tokens and the framework's 401/403 bodies, the device
//! listing (bare arrays, the silent 300 cap, offsets, orderings, the substring serial filter, the other
//! filters), device rows with `user` as an object or `""`, tags paged by absolute `next` links, blueprints,
//! users with cursors, error bodies, and agreement with `expected_*`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mdmkit_core::ProviderKind;
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use serde_json::Value;

struct Iru {
    sandbox: Sandbox,
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Iru {
    async fn start(devices: usize) -> Iru {
        let sandbox = Sandbox::start(SandboxConfig {
            devices,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let base = sandbox.url(ProviderKind::Iru).to_string();
        let mut iru = Iru {
            sandbox,
            base,
            http: reqwest::Client::new(),
            token: String::new(),
        };
        iru.token = iru.token_for(Access::Full);
        iru
    }

    /// The API token `Sandbox::config` hands out for `access`.
    fn token_for(&self, access: Access) -> String {
        let config = serde_json::to_value(
            self.sandbox
                .config(ProviderKind::Iru, access)
                .expose_secrets(),
        )
        .unwrap();
        assert_eq!(config["provider"], "iru");
        assert_eq!(config["base_url"], self.base.as_str());
        config["api_token"].as_str().unwrap().to_owned()
    }

    /// A GET with an arbitrary `Authorization` header (or none): status, headers, body text.
    async fn raw(
        &self,
        url: &str,
        authorization: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        };
        let mut request = self.http.get(url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    }

    async fn get_with(&self, url: &str, token: &str) -> (u16, Value) {
        let (status, _, body) = self.raw(url, Some(&format!("Bearer {token}"))).await;
        let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"));
        (status, value)
    }

    async fn ok(&self, url: &str) -> Value {
        let (status, body) = self.get_with(url, &self.token).await;
        assert_eq!(status, 200, "{url}: {body}");
        body
    }

    /// A device listing: the bare array.
    async fn devices(&self, query: &str) -> Vec<Value> {
        let body = self.ok(&format!("api/v1/devices?{query}")).await;
        body.as_array()
            .unwrap_or_else(|| panic!("a bare array: {body}"))
            .clone()
    }

    /// Every device, paged the way the reference recommends (limit 300 until a short page).
    async fn all_devices(&self, extra: &str) -> (Vec<Value>, usize) {
        let mut rows = Vec::new();
        let mut requests = 0;
        loop {
            let page = self
                .devices(&format!(
                    "limit=300&offset={}&ordering=device_id{extra}",
                    rows.len()
                ))
                .await;
            requests += 1;
            let short = page.len() < 300;
            rows.extend(page);
            if short {
                return (rows, requests);
            }
        }
    }

    /// Every tag, following `next` links as given.
    async fn all_tags(&self, first: &str) -> (Vec<Value>, usize) {
        let mut tags = Vec::new();
        let mut pages = 0;
        let mut url = Some(first.to_owned());
        while let Some(u) = url {
            let page = self.ok(&u).await;
            pages += 1;
            tags.extend(page["results"].as_array().unwrap().iter().cloned());
            url = page["next"].as_str().map(str::to_owned);
        }
        (tags, pages)
    }
}

fn strs(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| {
            r[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} in {r}"))
                .to_owned()
        })
        .collect()
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn bearer_tokens_are_checked_with_the_frameworks_bodies() {
    let iru = Iru::start(5).await;
    assert_eq!(iru.sandbox.max_page_size(ProviderKind::Iru), 300);
    let tokens: BTreeSet<String> = [Access::Full, Access::WrongSecret, Access::NoDeviceRead]
        .into_iter()
        .map(|a| iru.token_for(a))
        .collect();
    assert_eq!(tokens.len(), 3, "three distinct tokens");
    for token in &tokens {
        assert_eq!(
            token.len(),
            36,
            "UUID-shaped, as the vendor's CLI expects: {token}"
        );
    }
    assert_eq!(iru.token_for(Access::NoDirectoryDeviceRead), iru.token);

    // Valid token: 200 and a bare array.
    let rows = iru.devices("limit=1").await;
    assert_eq!(rows.len(), 1);

    let cases: [(Option<String>, &str); 6] = [
        (None, "Authentication credentials were not provided."),
        (
            Some("Basic dXNlcjpwYXNz".into()),
            "Authentication credentials were not provided.",
        ),
        (
            Some(format!("Token {}", iru.token)),
            "Authentication credentials were not provided.",
        ),
        (
            Some("Bearer".into()),
            "Invalid token header. No credentials provided.",
        ),
        (
            Some("Bearer abc def".into()),
            "Invalid token header. Token string should not contain spaces.",
        ),
        (
            Some(format!("Bearer {}", iru.token_for(Access::WrongSecret))),
            "Invalid token.",
        ),
    ];
    for (authorization, message) in cases {
        let (status, headers, body) = iru
            .raw("api/v1/devices?limit=1", authorization.as_deref())
            .await;
        assert_eq!(status, 401, "{authorization:?}: {body}");
        assert_eq!(headers["www-authenticate"], "Bearer");
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({ "detail": message }),
            "{authorization:?}"
        );
    }
    // The scheme is case-insensitive.
    let (status, _, _) = iru
        .raw(
            "api/v1/devices?limit=1",
            Some(&format!("bearer {}", iru.token)),
        )
        .await;
    assert_eq!(status, 200);

    // Wrong token on every endpoint, including ones the token could otherwise read.
    let wrong = iru.token_for(Access::WrongSecret);
    for path in [
        "api/v1/tags",
        "api/v1/users",
        "api/v1/blueprints",
        "api/v1/settings/licensing",
    ] {
        let (status, body) = iru.get_with(path, &wrong).await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (401, Some("Invalid token.")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_token_without_the_device_list_permission_gets_403_on_devices_only() {
    let iru = Iru::start(5).await;
    let limited = iru.token_for(Access::NoDeviceRead);
    let id = iru.sandbox.expected_devices(ProviderKind::Iru)[0]
        .device_id
        .clone();
    for path in [
        "api/v1/devices?limit=1".to_owned(),
        "api/v1/devices".to_owned(),
        format!("api/v1/devices/{id}"),
        format!("api/v1/devices/{id}/details"),
    ] {
        let (status, body) = iru.get_with(&path, &limited).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(
            body,
            serde_json::json!({"detail": "You do not have permission to perform this action."})
        );
    }
    for path in [
        "api/v1/tags",
        "api/v1/users",
        "api/v1/blueprints",
        "api/v1/settings/licensing",
    ] {
        let (status, body) = iru.get_with(path, &limited).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

#[tokio::test]
async fn devices_page_by_limit_and_offset_with_a_silent_300_cap() {
    let iru = Iru::start(650).await;
    let expected = iru.sandbox.expected_devices(ProviderKind::Iru);

    let first = iru.devices("limit=300&offset=0&ordering=device_id").await;
    let second = iru.devices("limit=300&offset=300&ordering=device_id").await;
    let third = iru.devices("limit=300&offset=600&ordering=device_id").await;
    let past = iru.devices("limit=300&offset=650&ordering=device_id").await;
    assert_eq!(
        (first.len(), second.len(), third.len(), past.len()),
        (300, 300, 50, 0)
    );
    let ids: Vec<String> = [first, second, third]
        .concat()
        .iter()
        .map(|r| r["device_id"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ordering=device_id sorts by the id");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 650);
    let want: BTreeSet<&String> = expected.iter().map(|e| &e.device_id).collect();
    assert_eq!(unique, want);

    // Above the cap: silently 300; no limit, zero or garbage: the default, 300.
    for query in [
        "limit=1000",
        "",
        "limit=0",
        "limit=-5",
        "limit=abc",
        "limit=300&offset=nope",
    ] {
        assert_eq!(iru.devices(query).await.len(), 300, "{query}");
    }
    assert_eq!(iru.devices("limit=7&offset=640").await.len(), 7);
    assert_eq!(iru.devices("limit=20&offset=640").await.len(), 10);
    assert_eq!(iru.devices("offset=100000").await.len(), 0);

    // Descending and other orderings.
    let desc = iru.devices("limit=300&ordering=-device_id").await;
    let mut reversed = sorted.clone();
    reversed.reverse();
    assert_eq!(strs(&desc, "device_id"), reversed[..300]);
    let by_serial = iru
        .devices("limit=300&offset=0&ordering=serial_number")
        .await;
    let rest = iru
        .devices("limit=300&offset=300&ordering=serial_number")
        .await;
    let serials = strs(&[by_serial, rest].concat(), "serial_number");
    let mut want_serials: Vec<String> = expected.iter().map(|e| e.serial_number.clone()).collect();
    want_serials.sort();
    assert_eq!(serials, want_serials[..600]);
    let by_name = strs(
        &iru.devices("limit=50&ordering=-device_name").await,
        "device_name",
    );
    let mut want_names: Vec<String> = expected
        .iter()
        .map(|e| iru.sandbox.fleet().devices[&e.index].name.clone())
        .collect();
    want_names.sort();
    want_names.reverse();
    assert_eq!(by_name, want_names[..50]);
    // An unknown ordering field is ignored (enrolment order).
    let unknown = strs(&iru.devices("limit=5&ordering=colour").await, "device_id");
    let plain = strs(&iru.devices("limit=5").await, "device_id");
    assert_eq!(unknown, plain);
    assert_eq!(
        plain,
        expected[..5]
            .iter()
            .map(|e| e.device_id.clone())
            .collect::<Vec<_>>()
    );

    // Several keys: platform ascending, then serial descending.
    let mut multi = Vec::new();
    for offset in [0, 300, 600] {
        multi.extend(
            iru.devices(&format!(
                "limit=300&offset={offset}&ordering=platform,-serial_number"
            ))
            .await,
        );
    }
    let keys: Vec<(String, String)> = multi
        .iter()
        .map(|r| {
            (
                r["platform"].as_str().unwrap().to_owned(),
                r["serial_number"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut want_keys = keys.clone();
    want_keys.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    assert_eq!(keys, want_keys);
    assert_eq!(keys.len(), 650);

    // The recommended loop costs ceil(650 / 300) requests.
    let (all, requests) = iru.all_devices("").await;
    assert_eq!((all.len(), requests), (650, 3));
}

#[tokio::test]
async fn device_rows_have_the_documented_shape_and_agree_with_expected_devices() {
    let iru = Iru::start(60).await;
    let fleet = iru.sandbox.fleet();
    let expected: BTreeMap<String, _> = iru
        .sandbox
        .expected_devices(ProviderKind::Iru)
        .into_iter()
        .map(|e| (e.device_id.clone(), e))
        .collect();
    let groups = iru.sandbox.expected_groups(ProviderKind::Iru);
    let (rows, _) = iru.all_devices("").await;
    assert_eq!(rows.len(), 60);
    let (mut assigned, mut unassigned) = (0, 0);
    for row in &rows {
        let id = row["device_id"].as_str().unwrap();
        let e = &expected[id];
        let d = &fleet.devices[&e.index];
        assert_eq!(row["serial_number"], e.serial_number.as_str());
        assert_eq!(row["device_name"], d.name.as_str());
        for key in [
            "model",
            "platform",
            "os_version",
            "last_check_in",
            "blueprint_id",
            "blueprint_name",
            "asset_tag",
            "first_enrollment",
            "last_enrollment",
        ] {
            assert!(row[key].is_string(), "{key} in {row}");
        }
        assert!(["Mac", "Windows"].contains(&row["platform"].as_str().unwrap()));
        // The enrolment timestamps use a space, unlike last_check_in.
        assert!(row["first_enrollment"].as_str().unwrap().contains(' '));
        assert!(row["last_check_in"].as_str().unwrap().contains('T'));
        match &row["user"] {
            Value::String(s) => {
                assert_eq!(s, "", "an unassigned user is the empty string");
                assert_eq!(e.user_id, None);
                assert_eq!(e.display_name, d.name);
                unassigned += 1;
            }
            Value::Object(user) => {
                let u = fleet.user_of(d).unwrap();
                assert_eq!(user["id"].as_str(), e.user_id.as_deref());
                assert_eq!(user["name"], u.full_name.as_str());
                assert_eq!(user["email"], u.email.as_str());
                assert_eq!(user["is_archived"], false);
                assert_eq!(e.display_name, u.full_name);
                assert_eq!(e.list_display_name, u.full_name);
                assigned += 1;
            }
            other => panic!("user must be an object or \"\": {other}"),
        }
        // Tags are names, not ids, and match the groups the device is in.
        let mut names: Vec<String> = row["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        names.sort();
        let mut want: Vec<String> = groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == id))
            .map(|g| g.name.clone())
            .collect();
        want.sort();
        assert_eq!(names, want, "{id}");
    }
    assert!(
        assigned > 0 && unassigned > 0,
        "{assigned} assigned, {unassigned} unassigned"
    );
    assert!(
        fleet.devices.values().any(|d| !d.name.is_ascii()),
        "non-ASCII names are served"
    );
}

#[tokio::test]
async fn serial_number_is_a_case_insensitive_substring_filter() {
    let iru = Iru::start(40).await;
    let fleet = iru.sandbox.fleet();
    let (s0, s1) = (
        fleet.devices[&0].serial.clone(),
        fleet.devices[&1].serial.clone(),
    );
    assert!(s1.starts_with(&s0) && s1.len() > s0.len());
    let expected = iru.sandbox.expected_devices(ProviderKind::Iru);

    // Device 0's serial is contained in device 1's: both come back.
    let rows = iru
        .devices(&format!(
            "serial_number={s0}&limit=300&offset=0&ordering=device_id"
        ))
        .await;
    let mut got = strs(&rows, "serial_number");
    got.sort();
    assert_eq!(got, [s0.clone(), s1.clone()]);
    let lower = iru
        .devices(&format!("serial_number={}", s0.to_lowercase()))
        .await;
    assert_eq!(lower.len(), 2, "case does not matter");
    let exact = iru.devices(&format!("serial_number={s1}")).await;
    assert_eq!(strs(&exact, "device_id"), [expected[1].device_id.clone()]);

    // A fragment matches every serial containing it.
    let fragment = &s0[2..6];
    let want: BTreeSet<String> = fleet
        .devices
        .values()
        .filter(|d| d.serial.contains(fragment))
        .map(|d| d.serial.clone())
        .collect();
    let got: BTreeSet<String> = strs(
        &iru.devices(&format!("serial_number={fragment}")).await,
        "serial_number",
    )
    .into_iter()
    .collect();
    assert_eq!(got, want);
    assert!(iru.devices("serial_number=NOSUCHSERIAL9").await.is_empty());
    // An empty filter value is ignored.
    assert_eq!(iru.devices("serial_number=").await.len(), 40);
}

#[tokio::test]
async fn other_device_filters() {
    let iru = Iru::start(120).await;
    let fleet = iru.sandbox.fleet();
    let expected = iru.sandbox.expected_devices(ProviderKind::Iru);
    let groups = iru.sandbox.expected_groups(ProviderKind::Iru);
    let ids = |rows: Vec<Value>| -> Vec<String> {
        let mut v = strs(&rows, "device_id");
        v.sort();
        v
    };

    // tag_id, tag_name and the _in lists give the group's members.
    for g in &groups {
        assert_eq!(
            ids(iru.devices(&format!("tag_id={}", g.id)).await),
            g.members,
            "{}",
            g.name
        );
        assert_eq!(
            ids(iru.devices(&format!("tag_name={}", enc(&g.name))).await),
            g.members,
            "{}",
            g.name
        );
    }
    let two = format!("{},{}", groups[0].id, groups[1].id);
    let union: BTreeSet<String> = groups[0]
        .members
        .iter()
        .chain(&groups[1].members)
        .cloned()
        .collect();
    assert_eq!(
        ids(iru.devices(&format!("tag_id_in={two}")).await),
        union.into_iter().collect::<Vec<_>>()
    );
    // tag_name is case-sensitive; an unknown tag matches nothing.
    assert!(iru
        .devices(&format!("tag_name={}", enc(&groups[0].name.to_uppercase())))
        .await
        .is_empty());
    assert!(iru
        .devices("tag_id=00000000-0000-4000-8000-000000000000")
        .await
        .is_empty());
    let empty = groups
        .iter()
        .find(|g| g.members.is_empty())
        .expect("the fleet has an empty group");
    assert!(iru
        .devices(&format!("tag_id={}", empty.id))
        .await
        .is_empty());

    // device_id, user_id, user_email.
    let e = expected.iter().find(|e| e.user_id.is_some()).unwrap();
    assert_eq!(
        ids(iru.devices(&format!("device_id={}", e.device_id)).await),
        std::slice::from_ref(&e.device_id)
    );
    let user_id = e.user_id.clone().unwrap();
    let want: Vec<String> = {
        let mut v: Vec<String> = expected
            .iter()
            .filter(|x| x.user_id.as_deref() == Some(&user_id))
            .map(|x| x.device_id.clone())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(iru.devices(&format!("user_id={user_id}")).await), want);
    let email = &fleet.user_of(&fleet.devices[&e.index]).unwrap().email;
    assert_eq!(
        ids(iru
            .devices(&format!("user_email_exact={}", enc(email)))
            .await),
        want
    );

    // platform and blueprint_id partition the fleet.
    let macs = iru.devices("platform=Mac").await.len();
    let windows = iru.devices("platform=Windows").await.len();
    assert_eq!(macs + windows, 120);
    let blueprints = iru.ok("api/v1/blueprints").await;
    let mut total = 0;
    for bp in blueprints["results"].as_array().unwrap() {
        let members = iru
            .devices(&format!("blueprint_id={}", bp["id"].as_str().unwrap()))
            .await;
        assert_eq!(
            members.len() as u64,
            bp["computers_count"].as_u64().unwrap()
        );
        assert!(members
            .iter()
            .all(|m| m["blueprint_id"] == bp["id"] && m["blueprint_name"] == bp["name"]));
        total += members.len();
    }
    assert_eq!(total, 120, "every device is in exactly one blueprint");

    // Filters combine with paging and ordering.
    let g = groups.iter().max_by_key(|g| g.members.len()).unwrap();
    let page = ids(iru
        .devices(&format!(
            "tag_id={}&limit=3&offset=2&ordering=device_id",
            g.id
        ))
        .await);
    assert_eq!(page, g.members[2..5]);
}

#[tokio::test]
async fn single_devices_and_details() {
    let iru = Iru::start(20).await;
    let expected = iru.sandbox.expected_devices(ProviderKind::Iru);
    let listed = iru.devices("limit=300").await;
    for (e, row) in expected.iter().zip(&listed) {
        let one = iru.ok(&format!("api/v1/devices/{}", e.device_id)).await;
        assert_eq!(&one, row, "the single device is the list row");
        let details = iru
            .ok(&format!(
                "api/v1/devices/{}/details",
                e.device_id.to_uppercase()
            ))
            .await;
        assert_eq!(details["general"]["device_id"], e.device_id.as_str());
        assert_eq!(
            details["hardware_overview"]["serial_number"],
            e.serial_number.as_str()
        );
        assert_eq!(
            details["general"]["assigned_user"], row["user"],
            "assigned_user is also an object or \"\""
        );
        assert_eq!(details["tags"], row["tags"]);
    }
    // A UUID that names no device: the JSON 404. Not a UUID: the URL does not match, so the HTML page.
    let (status, body) = iru
        .get_with(
            "api/v1/devices/00000000-0000-4000-8000-000000000000",
            &iru.token,
        )
        .await;
    assert_eq!(
        (status, body),
        (404, serde_json::json!({"detail": "Not found."}))
    );
    let (status, headers, body) = iru
        .raw(
            "api/v1/devices/12345",
            Some(&format!("Bearer {}", iru.token)),
        )
        .await;
    assert_eq!(status, 404);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(body.contains("<title>Not Found</title>"));
}

#[tokio::test]
async fn tags_page_by_absolute_next_links_back_to_the_sandbox() {
    // 300 devices: 12 groups, so two pages of tags; 1000 devices: 40 groups, four pages.
    for (devices, groups, pages) in [(300, 12, 2), (1000, 40, 4)] {
        let iru = Iru::start(devices).await;
        let first = iru.ok("api/v1/tags").await;
        assert_eq!(first["count"], groups);
        assert_eq!(first["previous"], Value::Null);
        assert_eq!(first["results"].as_array().unwrap().len(), 10);
        let next = first["next"].as_str().unwrap();
        assert_eq!(
            next,
            format!("{}api/v1/tags?limit=10&offset=10", iru.base),
            "absolute, on the sandbox host"
        );

        let (tags, seen_pages) = iru.all_tags(&format!("{}api/v1/tags", iru.base)).await;
        assert_eq!(seen_pages, pages);
        let got: Vec<(String, String)> = tags
            .iter()
            .map(|t| {
                (
                    t["id"].as_str().unwrap().to_owned(),
                    t["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = iru
            .sandbox
            .expected_groups(ProviderKind::Iru)
            .into_iter()
            .map(|g| (g.id, g.name))
            .collect();
        assert_eq!(got, want, "every tag once, in order");
        for t in &tags {
            assert_eq!(t.as_object().unwrap().len(), 2, "{{id, name}}: {t}");
        }

        let second = iru.ok(next).await;
        assert_eq!(
            second["previous"].as_str().unwrap(),
            format!("{}api/v1/tags?limit=10", iru.base)
        );
    }

    let iru = Iru::start(1000).await;
    // A larger limit is capped at the page size; a smaller one is honoured; search keeps its place in the links.
    let big = iru.ok("api/v1/tags?limit=500").await;
    assert_eq!(big["results"].as_array().unwrap().len(), 10);
    let small = iru.ok("api/v1/tags?limit=3&offset=6").await;
    assert_eq!(small["results"].as_array().unwrap().len(), 3);
    assert_eq!(
        small["next"].as_str().unwrap(),
        format!("{}api/v1/tags?limit=3&offset=9", iru.base)
    );
    assert_eq!(
        small["previous"].as_str().unwrap(),
        format!("{}api/v1/tags?limit=3&offset=3", iru.base)
    );
    let searched = iru.ok("api/v1/tags?search=engineering").await;
    let names = strs(searched["results"].as_array().unwrap(), "name");
    assert_eq!(searched["count"], 4);
    assert!(
        names.iter().all(|n| n.starts_with("Engineering")),
        "{names:?}"
    );
    let searched = iru.ok("api/v1/tags?search=e&limit=2").await;
    assert_eq!(
        searched["next"].as_str().unwrap(),
        format!("{}api/v1/tags?limit=2&offset=2&search=e", iru.base)
    );
    assert_eq!(
        iru.ok("api/v1/tags?search=nothing-like-this").await["count"],
        0
    );

    // A proxy in front saying https makes https links.
    let r = iru
        .http
        .get(format!("{}api/v1/tags", iru.base))
        .bearer_auth(&iru.token)
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let page: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(
        page["next"].as_str().unwrap().starts_with("https://"),
        "{page}"
    );
}

#[tokio::test]
async fn groups_are_tags_and_their_members_agree_with_expected_groups() {
    let iru = Iru::start(400).await;
    let expected = iru.sandbox.expected_groups(ProviderKind::Iru);
    assert_eq!(expected.len(), 16);
    // What a connector does: tags, then one device pass reading tag names.
    let (tags, _) = iru.all_tags("api/v1/tags").await;
    let by_name: BTreeMap<String, String> = tags
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        by_name.len(),
        tags.len(),
        "names are unique in the seeded fleet"
    );
    let mut members: BTreeMap<String, Vec<String>> = tags
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), Vec::new()))
        .collect();
    let (rows, _) = iru.all_devices("").await;
    for row in &rows {
        for name in row["tags"].as_array().unwrap() {
            members
                .get_mut(&by_name[name.as_str().unwrap()])
                .unwrap()
                .push(row["device_id"].as_str().unwrap().to_owned());
        }
    }
    for g in &expected {
        let mut got = members[&g.id].clone();
        got.sort();
        assert_eq!(got, g.members, "{}", g.name);
    }
    assert!(
        expected.iter().any(|g| g.members.is_empty()),
        "the empty group is a tag too"
    );
    let overlapping = rows
        .iter()
        .filter(|r| r["tags"].as_array().unwrap().len() > 1)
        .count();
    assert!(overlapping > 0, "tags overlap");
}

#[tokio::test]
async fn users_page_by_cursor() {
    let iru = Iru::start(400).await;
    let fleet = iru.sandbox.fleet();
    assert_eq!(fleet.users.len(), 360);
    let first = iru.ok("api/v1/users").await;
    assert_eq!(first["previous"], Value::Null);
    let results = first["results"].as_array().unwrap();
    assert_eq!(results.len(), 300);
    let next = first["next"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}api/v1/users?cursor=", iru.base)),
        "{next}"
    );
    let second = iru.ok(next).await;
    assert_eq!(second["next"], Value::Null);
    let rest = second["results"].as_array().unwrap();
    assert_eq!(rest.len(), 60);
    let back = iru.ok(second["previous"].as_str().unwrap()).await;
    assert_eq!(
        back["results"], first["results"],
        "previous leads back to the first page"
    );

    let all: Vec<&Value> = results.iter().chain(rest).collect();
    let ids: BTreeSet<&str> = all.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 360);
    // The ids are the `user.id` the device rows carry, and device_count matches the rows.
    let (rows, _) = iru.all_devices("").await;
    let mut per_user: BTreeMap<String, u64> = BTreeMap::new();
    for row in &rows {
        if let Some(id) = row["user"]["id"].as_str() {
            assert!(ids.contains(id), "{id}");
            *per_user.entry(id.to_owned()).or_default() += 1;
        }
    }
    for u in &all {
        let id = u["id"].as_str().unwrap();
        assert_eq!(
            u["device_count"].as_u64().unwrap(),
            per_user.get(id).copied().unwrap_or(0),
            "{id}"
        );
        for key in [
            "email",
            "name",
            "department",
            "job_title",
            "created_at",
            "updated_at",
        ] {
            assert!(u[key].is_string(), "{key} in {u}");
        }
        assert_eq!(u["archived"], false);
        assert!(u["integration"]["uuid"].is_string());
    }

    let one = all[5];
    assert_eq!(
        &iru.ok(&format!("api/v1/users/{}", one["id"].as_str().unwrap()))
            .await,
        one
    );
    let by_email = iru
        .ok(&format!(
            "api/v1/users?email={}",
            enc(&one["email"].as_str().unwrap().to_uppercase())
        ))
        .await;
    assert_eq!(by_email["results"].as_array().unwrap(), &vec![one.clone()]);
    assert!(iru.ok("api/v1/users?archived=true").await["results"]
        .as_array()
        .unwrap()
        .is_empty());
    let (status, body) = iru
        .get_with(
            "api/v1/users/00000000-0000-4000-8000-000000000000",
            &iru.token,
        )
        .await;
    assert_eq!(
        (status, body),
        (404, serde_json::json!({"detail": "Not found."}))
    );
    let (status, body) = iru
        .get_with("api/v1/users?cursor=bm9wZQ%3D%3D", &iru.token)
        .await;
    assert_eq!(
        (status, body),
        (404, serde_json::json!({"detail": "Invalid cursor"}))
    );
}

#[tokio::test]
async fn blueprints_and_licensing() {
    let iru = Iru::start(90).await;
    let page = iru.ok("api/v1/blueprints").await;
    assert_eq!(page["count"], 3);
    assert_eq!(page["next"], Value::Null);
    let results = page["results"].as_array().unwrap();
    let counted: u64 = results
        .iter()
        .map(|b| b["computers_count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 90);
    for b in results {
        assert!(["classic", "map"].contains(&b["type"].as_str().unwrap()));
        assert!(b["enrollment_code"]["code"].is_string());
        let id = b["id"].as_str().unwrap();
        assert_eq!(&iru.ok(&format!("api/v1/blueprints/{id}")).await, b);
    }
    let one = iru.ok("api/v1/blueprints?limit=1&offset=1").await;
    assert_eq!(one["results"][0], results[1]);
    assert_eq!(
        one["next"].as_str().unwrap(),
        format!("{}api/v1/blueprints?limit=1&offset=2", iru.base)
    );
    let named = iru
        .ok(&format!(
            "api/v1/blueprints?name={}",
            enc(results[2]["name"].as_str().unwrap())
        ))
        .await;
    assert_eq!(
        named["results"].as_array().unwrap(),
        &vec![results[2].clone()]
    );

    let licensing = iru.ok("api/v1/settings/licensing").await;
    assert_eq!(licensing["limits"]["plan_type"], "single_limit");
    assert_eq!(licensing["tenantOverLicenseLimit"], false);
    let counts = &licensing["counts"];
    assert_eq!(
        counts["computers_count"].as_u64().unwrap() + counts["windows_count"].as_u64().unwrap(),
        90
    );
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_injected_faults_use_the_vendor_shapes() {
    let iru = Iru::start(5).await;
    // Unknown paths: the HTML page, before any token check.
    for authorization in [None, Some(format!("Bearer {}", iru.token))] {
        let (status, headers, body) = iru
            .raw("api/v1/no-such-thing", authorization.as_deref())
            .await;
        assert_eq!(status, 404);
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(body.contains("Not Found"));
    }
    // Another method on a known path: 405 with a detail, after the token check.
    let r = iru
        .http
        .post(format!("{}api/v1/devices", iru.base))
        .bearer_auth(&iru.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"detail": "Method \"POST\" not allowed."})
    );
    let r = iru
        .http
        .delete(format!("{}api/v1/tags", iru.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    iru.sandbox.set_faults(
        ProviderKind::Iru,
        Faults {
            rate_limited: 1.0,
            retry_after: Duration::from_secs(2),
            ..Faults::default()
        },
    );
    let (status, headers, body) = iru
        .raw("api/v1/devices", Some(&format!("Bearer {}", iru.token)))
        .await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "2");
    assert!(
        serde_json::from_str::<Value>(&body).unwrap()["detail"].is_string(),
        "{body}"
    );
    iru.sandbox.set_faults(
        ProviderKind::Iru,
        Faults {
            server_errors: 1.0,
            ..Faults::default()
        },
    );
    let (status, body) = iru.get_with("api/v1/devices", &iru.token).await;
    assert_eq!(status, 503);
    assert!(body["detail"].is_string(), "{body}");
    iru.sandbox.set_faults(ProviderKind::Iru, Faults::default());
    // Static tokens do not expire.
    iru.sandbox.expire_tokens(ProviderKind::Iru);
    assert_eq!(iru.devices("limit=1").await.len(), 1);
}

#[tokio::test]
async fn mutations_show_at_once_and_paging_stays_exact_after_removals() {
    let iru = Iru::start(620).await;
    // Remove devices so the ids are no longer 0..n, add one, unassign one.
    for index in [3, 100, 301, 555] {
        iru.sandbox.mutate(|f| f.remove_device(index));
    }
    let added = iru
        .sandbox
        .mutate(|f| f.add_device("NEWSERIAL01", "Loaner 1", None));
    let assigned = iru
        .sandbox
        .fleet()
        .devices
        .values()
        .find(|d| d.user.is_some())
        .unwrap()
        .index;
    iru.sandbox.mutate(|f| f.assign_user(assigned, None));
    let group = iru
        .sandbox
        .mutate(|f| f.add_group("Freshly made", [0, added]));
    iru.sandbox
        .mutate(|f| f.rename_group(0, "Renamed in the MDM"));

    let expected = iru.sandbox.expected_devices(ProviderKind::Iru);
    assert_eq!(expected.len(), 617);
    let (rows, requests) = iru.all_devices("").await;
    assert_eq!(requests, 3);
    let ids = strs(&rows, "device_id");
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let mut want: Vec<String> = expected.iter().map(|e| e.device_id.clone()).collect();
    want.sort();
    assert_eq!(ids, want, "every remaining device exactly once");
    let desc = strs(
        &iru.devices("limit=300&offset=300&ordering=-device_id")
            .await,
        "device_id",
    );
    let mut reversed = want.clone();
    reversed.reverse();
    assert_eq!(desc, reversed[300..600]);

    // The default (enrolment) order pages exactly too.
    let mut plain = Vec::new();
    for offset in [0, 300, 600] {
        plain.extend(strs(
            &iru.devices(&format!("limit=300&offset={offset}")).await,
            "device_id",
        ));
    }
    assert_eq!(
        plain,
        expected
            .iter()
            .map(|e| e.device_id.clone())
            .collect::<Vec<_>>()
    );

    let new = iru.devices("serial_number=NEWSERIAL01").await;
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["user"], "");
    assert!(new[0]["tags"]
        .as_array()
        .unwrap()
        .contains(&Value::from("Freshly made")));
    let unassigned_id = &expected
        .iter()
        .find(|e| e.index == assigned)
        .unwrap()
        .device_id;
    let row = iru.ok(&format!("api/v1/devices/{unassigned_id}")).await;
    assert_eq!(row["user"], "");

    let (tags, _) = iru.all_tags("api/v1/tags").await;
    let names = strs(&tags, "name");
    assert!(
        names.contains(&"Freshly made".to_owned())
            && names.contains(&"Renamed in the MDM".to_owned())
    );
    let freshly = iru
        .sandbox
        .expected_groups(ProviderKind::Iru)
        .into_iter()
        .find(|g| g.name == "Freshly made")
        .unwrap();
    let mut members = strs(
        &iru.devices(&format!("tag_id={}", freshly.id)).await,
        "device_id",
    );
    members.sort();
    assert_eq!(members, freshly.members);
    iru.sandbox.mutate(|f| f.delete_group(group));
    assert!(iru
        .devices(&format!("tag_id={}", freshly.id))
        .await
        .is_empty());
    let (tags, _) = iru.all_tags("api/v1/tags").await;
    assert!(!strs(&tags, "name").contains(&"Freshly made".to_owned()));
}

#[tokio::test]
async fn a_large_fleet_lists_completely() {
    let iru = Iru::start(10_000).await;
    let started = std::time::Instant::now();
    let (rows, requests) = iru.all_devices("").await;
    assert_eq!((rows.len(), requests), (10_000, 34));
    let unique: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(unique.len(), 10_000);
    println!(
        "10,000 devices in {requests} pages: {:?}",
        started.elapsed()
    );
    let serial = &iru.sandbox.fleet().devices[&9_999].serial.clone();
    let found = iru.devices(&format!("serial_number={serial}")).await;
    assert!(found.iter().any(|r| r["serial_number"] == serial.as_str()));
}
