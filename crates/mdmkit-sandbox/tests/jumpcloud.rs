//! The JumpCloud simulator over HTTP: keys and `x-org-id`, V1 and V2 paging, the serial filter, users
//! through `primarySystemUser` and the graph, the user directory, system groups, error bodies, and the
//! `expected_*` answers agreeing with what the API serves.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use mdmkit_core::{ProviderConfig, ProviderKind};
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use serde_json::Value;

const KEY: &str = "jca_sandboxFullAccessKey00000000000001";
const MTP_KEY: &str = "jca_sandboxMultiTenantKey0000000000002";
const NO_DEVICES_KEY: &str = "jca_sandboxNoDeviceAccessKey000000003";
const WRONG_KEY: &str = "jca_sandboxRevokedKey00000000000000004";
const ORG_ID: &str = "6523a1b0c0ffee0000000001";
const OTHER_ORG_ID: &str = "6523a1b0c0ffee0000000002";

struct Api {
    base: String,
    client: reqwest::Client,
}

struct Reply {
    status: u16,
    total_header: Option<usize>,
    body: Value,
}

impl Api {
    fn new(sandbox: &Sandbox) -> Api {
        Api {
            base: sandbox.url(ProviderKind::JumpCloud).to_string(),
            client: reqwest::Client::new(),
        }
    }

    async fn call(&self, path: &str, key: Option<&str>, org: Option<&str>) -> Reply {
        let mut request = self.client.get(format!("{}{}", self.base, path));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        if let Some(org) = org {
            request = request.header("x-org-id", org);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let total_header = response
            .headers()
            .get("x-total-count")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        Reply {
            status,
            total_header,
            body,
        }
    }

    /// A GET with the full-access key.
    async fn get(&self, path: &str) -> Reply {
        self.call(path, Some(KEY), None).await
    }

    /// Every row of a V1 list, 100 at a time.
    async fn v1_all(&self, path: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let reply = self
                .get(&format!("{path}{sep}limit=100&skip={}", rows.len()))
                .await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            let page = reply.body["results"].as_array().unwrap().clone();
            let total = reply.body["totalCount"].as_u64().unwrap() as usize;
            if page.is_empty() {
                assert_eq!(rows.len(), total);
                return rows;
            }
            rows.extend(page);
            if rows.len() >= total {
                return rows;
            }
        }
    }

    /// Every row of a V2 list, 100 at a time, the total from `x-total-count`.
    async fn v2_all(&self, path: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        loop {
            let reply = self
                .get(&format!("{path}?limit=100&skip={}", rows.len()))
                .await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            let page = reply.body.as_array().expect("a bare array").clone();
            let total = reply.total_header.expect("x-total-count");
            rows.extend(page.iter().cloned());
            if page.is_empty() || rows.len() >= total {
                assert_eq!(rows.len(), total);
                return rows;
            }
        }
    }
}

async fn start(devices: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        devices,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn assert_error(reply: &Reply, status: u16, code: &str, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["code"], status, "{}", reply.body);
    assert_eq!(reply.body["status"], code, "{}", reply.body);
    assert!(
        reply.body["message"].as_str().unwrap().contains(message),
        "{}",
        reply.body
    );
}

fn ids(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn keys_and_organisation_headers_follow_the_documented_rules() {
    let sandbox = start(20).await;
    let api = Api::new(&sandbox);

    let reply = api.call("api/organizations", None, None).await;
    assert_error(&reply, 401, "UNAUTHENTICATED", "API key required");
    let reply = api.call("api/systems", Some(WRONG_KEY), None).await;
    assert_error(&reply, 401, "UNAUTHENTICATED", "invalid API key");
    let reply = api.call("api/organizations", Some(WRONG_KEY), None).await;
    assert_eq!(reply.status, 401);

    let reply = api.get("api/organizations?limit=1").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["totalCount"], 1);
    assert_eq!(reply.body["results"][0]["_id"], ORG_ID);
    assert!(reply.body["results"][0]["displayName"].is_string());

    // The organisations route refuses x-org-id; organisation routes check it.
    let reply = api.call("api/organizations", Some(KEY), Some(ORG_ID)).await;
    assert_error(
        &reply,
        403,
        "PERMISSION_DENIED",
        "ID included on unsupported route",
    );
    let reply = api.call("api/systems", Some(KEY), Some("acme")).await;
    assert_error(&reply, 400, "INVALID_ARGUMENT", "Malformed ID");
    let reply = api
        .call("api/systems", Some(KEY), Some("5f0c0f1e2d3b4a0012345678"))
        .await;
    assert_error(&reply, 404, "NOT_FOUND", "Organization ID Not Found");
    let reply = api.call("api/systems", Some(KEY), Some(OTHER_ORG_ID)).await;
    assert_eq!(
        reply.status, 404,
        "a single-org key cannot see another organisation"
    );
    for org in [Some(ORG_ID), Some(""), None] {
        let reply = api.call("api/systems", Some(KEY), org).await;
        assert_eq!(reply.status, 200, "{org:?}");
        assert_eq!(reply.body["totalCount"], 20);
    }
}

#[tokio::test]
async fn a_multi_tenant_key_must_name_the_organisation() {
    let sandbox = start(30).await;
    let api = Api::new(&sandbox);
    let reply = api.call("api/organizations", Some(MTP_KEY), None).await;
    assert_eq!(reply.body["totalCount"], 2);
    assert_eq!(
        ids(reply.body["results"].as_array().unwrap(), "_id"),
        [ORG_ID, OTHER_ORG_ID]
    );

    let reply = api.call("api/systems", Some(MTP_KEY), None).await;
    assert_error(
        &reply,
        401,
        "UNAUTHENTICATED",
        "ID not included for multi-tenant admin",
    );
    let reply = api.call("api/v2/systemgroups", Some(MTP_KEY), None).await;
    assert_eq!(reply.status, 401);

    let reply = api.call("api/systems", Some(MTP_KEY), Some(ORG_ID)).await;
    assert_eq!(reply.body["totalCount"], 30);
    // The second organisation is empty.
    let reply = api
        .call("api/systems", Some(MTP_KEY), Some(OTHER_ORG_ID))
        .await;
    assert_eq!(
        (reply.status, reply.body["totalCount"].as_u64()),
        (200, Some(0))
    );
    let reply = api
        .call("api/systemusers", Some(MTP_KEY), Some(OTHER_ORG_ID))
        .await;
    assert_eq!(reply.body["results"], Value::Array(Vec::new()));
    let reply = api
        .call("api/v2/systemgroups", Some(MTP_KEY), Some(OTHER_ORG_ID))
        .await;
    assert_eq!(
        (reply.total_header, reply.body.as_array().unwrap().len()),
        (Some(0), 0)
    );
    let device = &sandbox.expected_devices(ProviderKind::JumpCloud)[0].device_id;
    let reply = api
        .call(
            &format!("api/systems/{device}"),
            Some(MTP_KEY),
            Some(OTHER_ORG_ID),
        )
        .await;
    assert_eq!(reply.status, 404);
    let reply = api
        .call(
            &format!("api/systems/{device}"),
            Some(MTP_KEY),
            Some(ORG_ID),
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn a_key_without_device_access_gets_403_on_device_routes_only() {
    let sandbox = start(10).await;
    let api = Api::new(&sandbox);
    let device = sandbox.expected_devices(ProviderKind::JumpCloud)[0]
        .device_id
        .clone();
    let group = sandbox.expected_groups(ProviderKind::JumpCloud)[0]
        .id
        .clone();

    let reply = api
        .call("api/organizations?limit=1", Some(NO_DEVICES_KEY), None)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["totalCount"], 1);
    for path in [
        "api/systems?limit=1".to_owned(),
        format!("api/systems/{device}"),
        format!("api/v2/systems/{device}/users"),
        "api/v2/systemgroups".to_owned(),
        format!("api/v2/systemgroups/{group}/membership"),
    ] {
        let reply = api.call(&path, Some(NO_DEVICES_KEY), None).await;
        assert_error(&reply, 403, "PERMISSION_DENIED", "Forbidden");
    }
    let reply = api
        .call("api/systemusers", Some(NO_DEVICES_KEY), None)
        .await;
    assert_eq!(reply.status, 200);

    // The configurations hand out these keys and point at the sandbox.
    for (access, key) in [
        (Access::Full, KEY),
        (Access::WrongSecret, WRONG_KEY),
        (Access::NoDeviceRead, NO_DEVICES_KEY),
        (Access::NoDirectoryDeviceRead, KEY),
    ] {
        let config = sandbox.config(ProviderKind::JumpCloud, access);
        assert!(matches!(config, ProviderConfig::JumpCloud(_)));
        let value = serde_json::to_value(config.expose_secrets()).unwrap();
        assert_eq!(value["api_token"], key, "{access:?}");
        assert_eq!(value["base_url"], api.base, "{access:?}");
        assert!(value.get("org_id").is_none());
    }
}

#[tokio::test]
async fn systems_page_with_limit_skip_and_a_silent_cap_of_100() {
    let sandbox = start(250).await;
    let api = Api::new(&sandbox);
    let expected = sandbox.expected_devices(ProviderKind::JumpCloud);

    let reply = api.get("api/systems").await;
    assert_eq!(reply.body["totalCount"], 250);
    assert_eq!(
        reply.body["results"].as_array().unwrap().len(),
        10,
        "default limit"
    );
    assert!(
        reply.total_header.is_none(),
        "V1 puts the total in the body"
    );
    let reply = api.get("api/systems?limit=500").await;
    assert_eq!(
        reply.body["results"].as_array().unwrap().len(),
        100,
        "capped at 100"
    );
    let reply = api.get("api/systems?limit=0").await;
    assert_eq!(reply.body["results"].as_array().unwrap().len(), 10);
    let reply = api.get("api/systems?limit=100&skip=240").await;
    assert_eq!(reply.body["results"].as_array().unwrap().len(), 10);
    let reply = api.get("api/systems?limit=100&skip=300").await;
    assert_eq!(reply.body["results"], Value::Array(Vec::new()));
    assert_eq!(reply.body["totalCount"], 250);

    for path in [
        "api/systems?limit=-1",
        "api/systems?limit=ten",
        "api/systems?skip=-5",
    ] {
        let reply = api.get(path).await;
        assert_error(&reply, 400, "INVALID_ARGUMENT", "Bad Request");
        assert!(
            reply.body.get("details").is_none(),
            "V1 errors carry no details"
        );
    }

    // Enrolment order without sort; `_id` order with it, each system exactly once.
    let natural = ids(&api.v1_all("api/systems").await, "_id");
    let in_order: Vec<String> = expected.iter().map(|e| e.device_id.clone()).collect();
    assert_eq!(natural, in_order);
    let sorted = ids(&api.v1_all("api/systems?sort=_id").await, "_id");
    let mut want = in_order.clone();
    want.sort();
    assert_eq!(sorted, want);
    let descending = ids(&api.v1_all("api/systems?sort=-_id").await, "_id");
    want.reverse();
    assert_eq!(descending, want);

    // Other sort keys, and unknown ones ignored.
    let rows = api.v1_all("api/systems?sort=serialNumber").await;
    let serials = ids(&rows, "serialNumber");
    assert!(serials.windows(2).all(|w| w[0] <= w[1]));
    let rows = api.v1_all("api/systems?sort=-displayName%20_id").await;
    let names = ids(&rows, "displayName");
    assert!(names.windows(2).all(|w| w[0] >= w[1]));
    let unknown = ids(&api.v1_all("api/systems?sort=nonsense").await, "_id");
    assert_eq!(unknown, in_order);
}

#[tokio::test]
async fn the_serial_filter_is_exact_and_case_sensitive() {
    let sandbox = start(40).await;
    let api = Api::new(&sandbox);
    let expected = sandbox.expected_devices(ProviderKind::JumpCloud);
    let (first, second) = (&expected[0], &expected[1]);
    assert!(
        second.serial_number.starts_with(&first.serial_number),
        "the fleet's prefix trap"
    );

    let reply = api
        .get(&format!(
            "api/systems?filter=serialNumber:$eq:{}&limit=100&skip=0&sort=_id",
            first.serial_number
        ))
        .await;
    assert_eq!(reply.body["totalCount"], 1);
    assert_eq!(reply.body["results"][0]["_id"], first.device_id.as_str());
    assert_eq!(
        reply.body["results"][0]["serialNumber"],
        first.serial_number.as_str()
    );
    let reply = api
        .get(&format!(
            "api/systems?filter=serialNumber:$eq:{}",
            first.serial_number.to_lowercase()
        ))
        .await;
    assert_eq!(reply.body["totalCount"], 0, "values are case-sensitive");
    let reply = api
        .get(&format!(
            "api/systems?filter=serialNumber:$ne:{}",
            first.serial_number
        ))
        .await;
    assert_eq!(reply.body["totalCount"], 39);
    // Repeated filters all apply; a field no system has equals nothing.
    let reply = api
        .get(&format!(
            "api/systems?filter=serialNumber:$eq:{}&filter=_id:$eq:{}",
            second.serial_number, second.device_id
        ))
        .await;
    assert_eq!(reply.body["totalCount"], 1);
    let reply = api
        .get(&format!(
            "api/systems?filter=serialNumber:$eq:{}&filter=_id:$eq:{}",
            second.serial_number, first.device_id
        ))
        .await;
    assert_eq!(reply.body["totalCount"], 0);
    let reply = api.get("api/systems?filter=assetTag:$eq:X").await;
    assert_eq!(reply.body["totalCount"], 0);

    // The V2 operator form and malformed filters are refused on V1.
    let reply = api
        .get(&format!(
            "api/systems?filter=serialNumber:eq:{}",
            first.serial_number
        ))
        .await;
    assert_error(&reply, 400, "INVALID_ARGUMENT", "operator");
    let reply = api.get("api/systems?filter=serialNumber").await;
    assert_error(&reply, 400, "INVALID_ARGUMENT", "filter");
}

#[tokio::test]
async fn system_rows_carry_the_documented_fields() {
    let sandbox = start(60).await;
    let api = Api::new(&sandbox);
    let fleet = sandbox.fleet();
    let rows = api.v1_all("api/systems").await;
    let mut with_primary = 0;
    let mut assigned = 0;
    for (row, d) in rows.iter().zip(fleet.devices.values()) {
        assert_eq!(row["_id"], row["id"]);
        assert_eq!(row["displayName"], d.name.as_str());
        assert_eq!(row["serialNumber"], d.serial.as_str());
        assert_eq!(row["organization"], ORG_ID);
        let host = row["hostname"].as_str().unwrap();
        assert!(host.is_ascii() && host.ends_with(".local"), "{host}");
        assert!(row["os"].is_string() && row["osFamily"].is_string());
        let primary = &row["primarySystemUser"];
        if d.user.is_some() {
            assigned += 1;
        }
        if !primary.is_null() {
            with_primary += 1;
            assert!(
                d.user.is_some(),
                "only assigned devices have a primary user"
            );
            assert_eq!(primary["id"].as_str().unwrap().len(), 24);
        }
    }
    assert!(
        with_primary > 0 && with_primary < assigned,
        "{with_primary} of {assigned}"
    );
    assert!(
        (assigned / 3..=assigned * 2 / 3 + 1).contains(&with_primary),
        "about half: {with_primary} of {assigned}"
    );

    // One system by id, a projection, and unknown ids.
    let id = rows[0]["_id"].as_str().unwrap();
    let reply = api.get(&format!("api/systems/{id}")).await;
    assert_eq!(reply.body, rows[0]);
    let reply = api
        .get(&format!("api/systems/{id}?fields=serialNumber%20hostname"))
        .await;
    let keys: BTreeSet<&str> = reply
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["_id", "id", "serialNumber", "hostname"])
    );
    let reply = api
        .get("api/systems?limit=2&fields=displayName,serialNumber")
        .await;
    assert_eq!(reply.body["results"][0].as_object().unwrap().len(), 4);
    let reply = api.get("api/systems/000000000000000000000000").await;
    assert_error(&reply, 404, "NOT_FOUND", "Not Found");
    let reply = api.get("api/systems/not-an-id").await;
    assert_eq!(reply.status, 404);
}

/// The assigned user of a system, as a correct connector works it out: `primarySystemUser`, else among
/// the graph's users the only one, or the only one bound directly.
async fn assigned_user(api: &Api, system: &Value) -> Option<String> {
    if let Some(id) = system["primarySystemUser"]["id"].as_str() {
        return Some(id.to_owned());
    }
    let id = system["_id"].as_str().unwrap();
    let rows = api.v2_all(&format!("api/v2/systems/{id}/users")).await;
    if rows.len() == 1 {
        return Some(rows[0]["id"].as_str().unwrap().to_owned());
    }
    let direct: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            r["paths"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p.as_array().unwrap().len() == 1)
        })
        .collect();
    match direct.as_slice() {
        [only] => Some(only["id"].as_str().unwrap().to_owned()),
        _ => None,
    }
}

#[tokio::test]
async fn the_graph_binds_users_directly_and_through_a_user_group() {
    let sandbox = start(40).await;
    let api = Api::new(&sandbox);
    let fleet = sandbox.fleet();
    let expected = sandbox.expected_devices(ProviderKind::JumpCloud);
    // The Help Desk user group holds the first two users of the directory.
    let first_two: Vec<&str> = fleet
        .users
        .values()
        .take(2)
        .map(|u| u.email.as_str())
        .collect();
    let help_desk: BTreeSet<String> = api
        .v1_all("api/systemusers")
        .await
        .iter()
        .filter(|u| first_two.contains(&u["email"].as_str().unwrap()))
        .map(|u| u["_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(help_desk.len(), 2);

    let mut shared = 0;
    let mut graph_only = 0;
    for (d, e) in fleet.devices.values().zip(&expected) {
        let reply = api
            .get(&format!("api/v2/systems/{}/users?limit=100", e.device_id))
            .await;
        assert_eq!(reply.status, 200);
        let rows = reply.body.as_array().expect("a bare array");
        assert_eq!(reply.total_header, Some(rows.len()));
        for row in rows {
            assert_eq!(row["type"], "user");
            for path in row["paths"].as_array().unwrap() {
                let hops = path.as_array().unwrap();
                let last = hops.last().unwrap();
                assert_eq!(last["to"]["id"], row["id"], "a path ends at its user");
                match hops.len() {
                    1 => assert_eq!(Some(row["id"].as_str().unwrap()), e.user_id.as_deref()),
                    2 => {
                        assert_eq!(hops[0]["to"]["type"], "user_group");
                        assert!(help_desk.contains(row["id"].as_str().unwrap()));
                    }
                    n => panic!("{n} hops"),
                }
            }
        }
        if d.user.is_none() && !rows.is_empty() {
            shared += 1;
            assert!(rows.len() >= 2, "a shared device shows several users");
        }
        let system = api.get(&format!("api/systems/{}", e.device_id)).await.body;
        if d.user.is_some() && system["primarySystemUser"].is_null() {
            graph_only += 1;
        }
        assert_eq!(
            assigned_user(&api, &system).await,
            e.user_id,
            "device {}",
            d.index
        );
    }
    assert!(
        shared > 0,
        "some unassigned devices are bound through the user group"
    );
    assert!(
        graph_only > 0,
        "some assigned devices are known only to the graph"
    );

    // Paging the graph.
    let busy = expected
        .iter()
        .zip(fleet.devices.values())
        .find(|(_, d)| d.index % 4 == 3 && d.user.is_some())
        .map(|(e, _)| e.device_id.clone())
        .unwrap();
    let all = api.v2_all(&format!("api/v2/systems/{busy}/users")).await;
    assert!(all.len() >= 2);
    let reply = api
        .get(&format!("api/v2/systems/{busy}/users?limit=1&skip=1"))
        .await;
    assert_eq!(reply.total_header, Some(all.len()));
    assert_eq!(reply.body.as_array().unwrap(), &all[1..2]);
    let reply = api
        .get("api/v2/systems/000000000000000000000000/users")
        .await;
    assert_eq!(reply.status, 404);
    let reply = api
        .get(&format!("api/v2/systems/{busy}/users?limit=x"))
        .await;
    assert_error(&reply, 400, "INVALID_ARGUMENT", "limit");
    assert_eq!(
        reply.body["details"][0]["field"], "limit",
        "V2 400s carry details"
    );
}

#[tokio::test]
async fn the_user_directory_pages_and_names_people() {
    let sandbox = start(120).await;
    let api = Api::new(&sandbox);
    let fleet = sandbox.fleet();
    let reply = api.get("api/systemusers").await;
    assert_eq!(reply.body["totalCount"], fleet.users.len());
    assert_eq!(reply.body["results"].as_array().unwrap().len(), 10);
    let reply = api.get("api/systemusers?limit=1000").await;
    assert_eq!(reply.body["results"].as_array().unwrap().len(), 100);

    let rows = api.v1_all("api/systemusers?sort=_id").await;
    assert_eq!(rows.len(), fleet.users.len());
    let sorted = ids(&rows, "_id");
    assert!(sorted.windows(2).all(|w| w[0] < w[1]));
    let mut blank = 0;
    for row in &rows {
        assert!(
            row.get("displayName").is_none(),
            "users spell it displayname"
        );
        let name = row["displayname"].as_str().unwrap();
        let full = format!(
            "{} {}",
            row["firstname"].as_str().unwrap(),
            row["lastname"].as_str().unwrap()
        );
        if name.is_empty() {
            blank += 1;
        } else {
            assert_eq!(name, full);
        }
        let user = fleet
            .users
            .values()
            .find(|u| u.email == row["email"].as_str().unwrap())
            .unwrap();
        assert_eq!(full, user.full_name);
        assert_eq!(row["username"], user.username.as_str());
    }
    assert!(
        blank > 0 && blank < rows.len(),
        "some users have no displayname"
    );

    let id = rows[3]["_id"].as_str().unwrap();
    let reply = api.get(&format!("api/systemusers/{id}")).await;
    assert_eq!(reply.body, rows[3]);
    let reply = api
        .get(&format!(
            "api/systemusers/{}",
            rows[3]["email"].as_str().unwrap()
        ))
        .await;
    assert_error(&reply, 404, "NOT_FOUND", "Not Found");
    let reply = api
        .get(&format!(
            "api/systemusers?filter=email:$eq:{}",
            rows[3]["email"].as_str().unwrap()
        ))
        .await;
    assert_eq!(reply.body["totalCount"], 1);
}

#[tokio::test]
async fn system_groups_list_members_and_membership() {
    let sandbox = start(120).await;
    let api = Api::new(&sandbox);
    let expected = sandbox.expected_groups(ProviderKind::JumpCloud);
    let fleet = sandbox.fleet();
    assert_eq!(expected.len(), fleet.groups.len());

    let reply = api.get("api/v2/systemgroups").await;
    assert_eq!(reply.total_header, Some(expected.len()));
    let groups = api.v2_all("api/v2/systemgroups").await;
    assert_eq!(
        ids(&groups, "id"),
        expected.iter().map(|g| g.id.clone()).collect::<Vec<_>>()
    );
    for (row, (g, sim)) in groups
        .iter()
        .zip(expected.iter().zip(fleet.groups.values()))
    {
        assert_eq!(row["name"], g.name.as_str());
        assert_eq!(row["type"], "system_group");
        let method = if sim.smart {
            "DYNAMIC_AUTOMATED"
        } else {
            "STATIC"
        };
        assert_eq!(row["membershipMethod"], method);
        let membership = api
            .v2_all(&format!("api/v2/systemgroups/{}/membership", g.id))
            .await;
        let mut members = ids(&membership, "id");
        members.sort();
        assert_eq!(members, g.members, "{}", g.name);
        assert!(membership.iter().all(|m| m["type"] == "system"));
        let reply = api.get(&format!("api/v2/systemgroups/{}", g.id)).await;
        assert_eq!(&reply.body, row);
    }
    assert!(
        expected.last().unwrap().members.is_empty(),
        "the seeded empty group"
    );

    // Direct members: the systems plus the empty group nested in the first group.
    let first = &expected[0];
    let direct = api
        .v2_all(&format!("api/v2/systemgroups/{}/members", first.id))
        .await;
    let (systems, nested): (Vec<&Value>, Vec<&Value>) =
        direct.iter().partition(|r| r["to"]["type"] == "system");
    let mut system_ids: Vec<String> = systems
        .iter()
        .map(|r| r["to"]["id"].as_str().unwrap().to_owned())
        .collect();
    system_ids.sort();
    assert_eq!(system_ids, first.members);
    assert_eq!(nested.len(), 1);
    assert_eq!(nested[0]["to"]["type"], "system_group");
    assert_eq!(nested[0]["to"]["id"], expected.last().unwrap().id.as_str());
    let second = api
        .v2_all(&format!("api/v2/systemgroups/{}/members", expected[1].id))
        .await;
    assert_eq!(second.len(), expected[1].members.len());

    // Reverse lookup.
    let device = &first.members[0];
    let memberof = api
        .v2_all(&format!("api/v2/systems/{device}/memberof"))
        .await;
    assert!(ids(&memberof, "id").contains(&first.id));

    // Filters and sort on the group list.
    let reply = api
        .get(&format!(
            "api/v2/systemgroups?filter=name:eq:{}",
            expected[1].name
        ))
        .await;
    assert_eq!(
        (
            reply.total_header,
            ids(reply.body.as_array().unwrap(), "id")
        ),
        (Some(1), vec![expected[1].id.clone()])
    );
    let reply = api.get("api/v2/systemgroups?filter=name:$eq:Sales").await;
    assert_error(&reply, 400, "INVALID_ARGUMENT", "operator");
    assert!(reply.body["details"].is_array());
    let reply = api.get("api/v2/systemgroups?sort=-name&limit=100").await;
    let names = ids(reply.body.as_array().unwrap(), "name");
    assert!(names.windows(2).all(|w| w[0] >= w[1]));
    let reply = api
        .get("api/v2/systemgroups/000000000000000000000000/membership")
        .await;
    assert_error(&reply, 404, "NOT_FOUND", "Not Found");
}

#[tokio::test]
async fn group_membership_pages_are_capped_at_100() {
    let sandbox = start(300).await;
    let api = Api::new(&sandbox);
    sandbox.mutate(|f| f.add_group("Everyone", 0..250));
    let everyone = sandbox
        .expected_groups(ProviderKind::JumpCloud)
        .into_iter()
        .find(|g| g.name == "Everyone")
        .unwrap();
    assert_eq!(everyone.members.len(), 250);
    let path = format!("api/v2/systemgroups/{}/membership", everyone.id);
    let reply = api.get(&format!("{path}?limit=500")).await;
    assert_eq!(reply.total_header, Some(250));
    assert_eq!(reply.body.as_array().unwrap().len(), 100);
    let reply = api.get(&path).await;
    assert_eq!(reply.body.as_array().unwrap().len(), 10, "default limit");
    let reply = api.get(&format!("{path}?limit=100&skip=200")).await;
    assert_eq!(reply.body.as_array().unwrap().len(), 50);
    let all = api.v2_all(&path).await;
    let unique: BTreeSet<String> = ids(&all, "id").into_iter().collect();
    assert_eq!(unique.len(), 250);
    // The new group is now the highest-numbered one but has members: nothing is nested any more.
    let first = &sandbox.expected_groups(ProviderKind::JumpCloud)[0];
    let direct = api
        .v2_all(&format!("api/v2/systemgroups/{}/members", first.id))
        .await;
    assert_eq!(direct.len(), first.members.len());
    assert!(direct.iter().all(|r| r["to"]["type"] == "system"));
}

#[tokio::test]
async fn expected_devices_agree_with_what_the_api_serves() {
    let sandbox = start(80).await;
    let api = Api::new(&sandbox);
    let expected: HashMap<String, _> = sandbox
        .expected_devices(ProviderKind::JumpCloud)
        .into_iter()
        .map(|e| (e.device_id.clone(), e))
        .collect();
    let directory: HashMap<String, Value> = api
        .v1_all("api/systemusers?sort=_id")
        .await
        .into_iter()
        .map(|u| (u["_id"].as_str().unwrap().to_owned(), u))
        .collect();
    let name_of = |user: &Value| {
        let display = user["displayname"].as_str().unwrap();
        if display.is_empty() {
            format!(
                "{} {}",
                user["firstname"].as_str().unwrap(),
                user["lastname"].as_str().unwrap()
            )
        } else {
            display.to_owned()
        }
    };
    let systems = api.v1_all("api/systems?sort=_id").await;
    assert_eq!(systems.len(), expected.len());
    let mut assigned = 0;
    for system in &systems {
        let id = system["_id"].as_str().unwrap();
        let want = &expected[id];
        assert_eq!(system["serialNumber"], want.serial_number.as_str());
        let user = assigned_user(&api, system).await;
        assert_eq!(user, want.user_id);
        let name = match &user {
            Some(u) => {
                assigned += 1;
                name_of(&directory[u])
            }
            None => system["displayName"].as_str().unwrap().to_owned(),
        };
        assert_eq!(name, want.display_name);
        assert_eq!(want.list_display_name, want.display_name);
    }
    assert!(assigned > 0 && assigned < systems.len());
    assert_eq!(sandbox.max_page_size(ProviderKind::JumpCloud), 100);
    // Each system without a primary user costs a listing one graph request.
    let graph_calls = systems
        .iter()
        .filter(|s| s["primarySystemUser"].is_null())
        .count();
    assert_eq!(
        sandbox.listing_binding_requests(ProviderKind::JumpCloud),
        graph_calls
    );

    // A lookup by serial and a user read by id give the same answer.
    let want = expected.values().find(|e| e.user_id.is_some()).unwrap();
    let reply = api
        .get(&format!(
            "api/systems?filter=serialNumber:$eq:{}",
            want.serial_number
        ))
        .await;
    let system = &reply.body["results"][0];
    let user = assigned_user(&api, system).await.unwrap();
    let reply = api.get(&format!("api/systemusers/{user}")).await;
    assert_eq!(name_of(&reply.body), want.display_name);
}

#[tokio::test]
async fn unknown_routes_and_injected_faults_use_the_error_schema() {
    let sandbox = start(5).await;
    let api = Api::new(&sandbox);
    let reply = api.get("api/computers").await;
    assert_error(&reply, 404, "NOT_FOUND", "Not Found");
    let reply = api.call("api/v2/nothing-here", None, None).await;
    assert_eq!(reply.status, 404);

    sandbox.set_faults(
        ProviderKind::JumpCloud,
        Faults {
            server_errors: 1.0,
            ..Faults::default()
        },
    );
    let reply = api.get("api/systems").await;
    assert_eq!(reply.body["code"], 503);
    assert_eq!(reply.body["status"], "UNAVAILABLE");
    assert!(reply.body["message"].is_string());
    sandbox.set_faults(
        ProviderKind::JumpCloud,
        Faults {
            rate_limited: 1.0,
            retry_after: Duration::from_secs(2),
            ..Faults::default()
        },
    );
    let reply = api.get("api/systems").await;
    assert_eq!(
        (reply.status, reply.body["status"].as_str()),
        (429, Some("RESOURCE_EXHAUSTED"))
    );
}

#[tokio::test]
async fn mutations_show_at_once_even_with_gaps_in_the_fleet() {
    let sandbox = start(30).await;
    let api = Api::new(&sandbox);
    let added = sandbox.mutate(|f| f.add_device("JCNEWSERIAL1", "Loaner ü", Some(0)));
    sandbox.mutate(|f| f.remove_device(3));
    let reply = api
        .get("api/systems?filter=serialNumber:$eq:JCNEWSERIAL1")
        .await;
    assert_eq!(reply.body["totalCount"], 1);
    let row = &reply.body["results"][0];
    let expected = sandbox.expected_devices(ProviderKind::JumpCloud);
    let want = expected.iter().find(|e| e.index == added).unwrap();
    assert_eq!(row["_id"], want.device_id.as_str());
    assert_eq!(assigned_user(&api, row).await, want.user_id);

    let sorted = ids(&api.v1_all("api/systems?sort=_id").await, "_id");
    let mut want_ids: Vec<String> = expected.iter().map(|e| e.device_id.clone()).collect();
    want_ids.sort();
    assert_eq!(sorted, want_ids, "every system once, the removed one gone");
    let removed = ids(&api.v1_all("api/systems?sort=-_id").await, "_id");
    assert_eq!(removed.len(), 30);
}

#[tokio::test]
async fn a_large_fleet_serves_deep_pages() {
    let sandbox = start(100_000).await;
    let api = Api::new(&sandbox);
    let started = std::time::Instant::now();
    let reply = api.get("api/systems?limit=100&skip=99950&sort=_id").await;
    assert_eq!(reply.body["totalCount"], 100_000);
    assert_eq!(reply.body["results"].as_array().unwrap().len(), 50);
    let mut seen = BTreeMap::new();
    for skip in (0..100_000).step_by(20_000) {
        let reply = api
            .get(&format!("api/systems?limit=100&skip={skip}&sort=_id"))
            .await;
        for row in reply.body["results"].as_array().unwrap() {
            seen.insert(row["_id"].as_str().unwrap().to_owned(), skip);
        }
    }
    assert_eq!(seen.len(), 500);
    let serial = sandbox.expected_devices(ProviderKind::JumpCloud)[77_777]
        .serial_number
        .clone();
    let reply = api
        .get(&format!("api/systems?filter=serialNumber:$eq:{serial}"))
        .await;
    assert_eq!(reply.body["totalCount"], 1);
    let reply = api.get("api/systems?limit=100&skip=99900").await;
    assert_eq!(reply.body["results"].as_array().unwrap().len(), 100);
    println!(
        "ten requests over 100,000 devices took {:?}",
        started.elapsed()
    );
}
