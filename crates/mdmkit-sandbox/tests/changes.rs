//! What the sandbox serves for incremental refresh, over HTTP: every provider's change field follows the
//! fleet's change clock, each change filter keeps exactly the devices changed since a time, Fleet's keyset
//! paging and SCIM user list, JumpCloud's user-to-systems graph, Graph's ignored filter, Entra group
//! deltas with links that expire, and the latency fault a benchmark relies on.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mdmkit_core::chrono::{DateTime, SecondsFormat, Utc};
use mdmkit_core::ProviderKind;
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use serde_json::Value;

async fn sandbox(devices: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        devices,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn config_value(sandbox: &Sandbox, kind: ProviderKind, access: Access) -> Value {
    serde_json::to_value(sandbox.config(kind, access).expose_secrets()).unwrap()
}

async fn get(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = http.get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The devices changed at or after `since`, by fleet index.
fn changed_since(sandbox: &Sandbox, since: DateTime<Utc>, strictly: bool) -> BTreeSet<u32> {
    let fleet = sandbox.fleet();
    fleet
        .devices
        .keys()
        .copied()
        .filter(|i| {
            let t = fleet.changed_at(*i).unwrap();
            if strictly {
                t > since
            } else {
                t >= since
            }
        })
        .collect()
}

/// Touches three devices a minute after the clock, returning the time they changed.
fn touch_three(sandbox: &Sandbox) -> DateTime<Utc> {
    sandbox.mutate(|f| {
        f.advance(Duration::from_secs(60));
        for i in [2, 7, 11] {
            f.touch_device(i);
        }
        f.now()
    })
}

#[tokio::test]
async fn jamf_filters_and_reports_the_last_inventory_report() {
    let sandbox = sandbox(120).await;
    let http = reqwest::Client::new();
    let base = sandbox.url(ProviderKind::Jamf).to_string();
    let config = config_value(&sandbox, ProviderKind::Jamf, Access::Full);
    let token: Value = http
        .post(format!("{base}api/v1/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", config["client_id"].as_str().unwrap()),
            ("client_secret", config["client_secret"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let when = touch_three(&sandbox);
    let since = when - mdmkit_core::chrono::Duration::seconds(1);
    for filter in [
        format!(
            "general.reportDate>=\"{}\"",
            since.to_rfc3339_opts(SecondsFormat::Millis, true)
        ),
        format!(
            "general.reportDate=ge={}",
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    ] {
        let url = format!(
            "{base}api/v4/computers-inventory?section=GENERAL&page=0&page-size=100&sort=id:asc&filter={}",
            urlencode(&filter)
        );
        let (status, _, body) = get(&http, &url, &[("authorization", &bearer)]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["totalCount"], 3, "{filter}");
        let ids: Vec<&str> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["3", "8", "12"]);
        assert_eq!(
            body["results"][0]["general"]["reportDate"],
            when.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
    }
    // An older time keeps what changed since then, no more and no less.
    let since = sandbox.fleet().now() - mdmkit_core::chrono::Duration::days(3);
    let want = changed_since(&sandbox, since, false).len();
    let url = format!(
        "{base}api/v4/computers-inventory?page=0&page-size=1&filter={}",
        urlencode(&format!(
            "general.reportDate>=\"{}\"",
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        ))
    );
    let (_, _, body) = get(&http, &url, &[("authorization", &bearer)]).await;
    assert_eq!(body["totalCount"], want);
    assert!(want > 3 && want < 120, "{want}");
}

#[tokio::test]
async fn iru_lists_newest_check_in_first() {
    let sandbox = sandbox(80).await;
    let http = reqwest::Client::new();
    let base = sandbox.url(ProviderKind::Iru).to_string();
    let config = config_value(&sandbox, ProviderKind::Iru, Access::Full);
    let bearer = format!("Bearer {}", config["api_token"].as_str().unwrap());
    let when = touch_three(&sandbox);
    let (status, _, body) = get(
        &http,
        &format!("{base}api/v1/devices?ordering=-last_check_in&limit=10&offset=0"),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rows = body.as_array().unwrap();
    let times: Vec<DateTime<Utc>> = rows
        .iter()
        .map(|r| r["last_check_in"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(&times[..3], &[when, when, when]);
    assert!(times[3] < when);
    assert!(rows[0]["last_check_in"]
        .as_str()
        .unwrap()
        .ends_with(".000000Z"));
}

#[tokio::test]
async fn fleet_keyset_paging_on_updated_at_is_strict_and_ignores_page() {
    let sandbox = sandbox(60).await;
    let http = reqwest::Client::new();
    let base = sandbox.url(ProviderKind::Fleet).to_string();
    let auth = format!(
        "Bearer {}",
        config_value(&sandbox, ProviderKind::Fleet, Access::Full)["api_token"]
            .as_str()
            .unwrap()
    );
    let when = touch_three(&sandbox);
    let before = (when - mdmkit_core::chrono::Duration::seconds(1))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let url = |after: &str, page: u32| {
        format!(
            "{base}api/v1/fleet/hosts?per_page=2&page={page}&order_key=updated_at&after={}",
            urlencode(after)
        )
    };
    let (status, _, body) = get(&http, &url(&before, 0), &[("authorization", &auth)]).await;
    assert_eq!(status, 200, "{body}");
    let ids = |b: &Value| -> Vec<u64> {
        b["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&body), [3, 8], "ties in id order");
    assert_eq!(
        body["hosts"][0]["updated_at"],
        when.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    // `page` is ignored once `after` is given, as in Fleet.
    let (_, _, same) = get(&http, &url(&before, 5), &[("authorization", &auth)]).await;
    assert_eq!(ids(&same), [3, 8]);
    // `after` is strict: the rows at `when` are gone.
    let at = when.to_rfc3339_opts(SecondsFormat::Secs, true);
    let (_, _, after) = get(&http, &url(&at, 0), &[("authorization", &auth)]).await;
    assert!(ids(&after).is_empty());
    // `after` needs `order_key`.
    let (status, _, _) = get(
        &http,
        &format!("{base}api/v1/fleet/hosts?per_page=2&after=5"),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(status, 400);
    // Descending order puts the newest first.
    let (_, _, desc) = get(
        &http,
        &format!(
            "{base}api/v1/fleet/hosts?per_page=3&page=0&order_key=updated_at&order_direction=desc"
        ),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(ids(&desc), [3, 8, 12]);
}

#[tokio::test]
async fn fleet_scim_users_page_filter_and_refuse_as_fleet_does() {
    let sandbox = sandbox(200).await;
    let http = reqwest::Client::new();
    let base = sandbox.url(ProviderKind::Fleet).to_string();
    let token = |access| {
        format!(
            "Bearer {}",
            config_value(&sandbox, ProviderKind::Fleet, access)["api_token"]
                .as_str()
                .unwrap()
        )
    };
    let admin = token(Access::Full);
    let url = |q: &str| format!("{base}api/v1/fleet/scim/Users?{q}");
    let (status, headers, first) = get(
        &http,
        &url("startIndex=1&count=100"),
        &[("authorization", &admin)],
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(headers["content-type"], "application/scim+json");
    assert_eq!(
        first["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    let total = first["totalResults"].as_u64().unwrap();
    let users = sandbox.fleet().users.len() as u64;
    assert!(total < users, "some users were never provisioned");
    assert_eq!(first["itemsPerPage"], 100);
    assert_eq!(first["startIndex"], 1);
    let (_, _, second) = get(
        &http,
        &url("startIndex=101&count=100"),
        &[("authorization", &admin)],
    )
    .await;
    assert_eq!(
        second["Resources"].as_array().unwrap().len() as u64,
        total - 100
    );
    let nameless = first["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u.get("name").is_none())
        .count();
    assert!(nameless > 0, "some users have no name");
    // Count above 100 is refused; the filter finds one user by userName.
    let (status, _, body) = get(&http, &url("count=101"), &[("authorization", &admin)]).await;
    assert_eq!((status, body["scimType"].as_str()), (400, Some("tooMany")));
    let name = first["Resources"][0]["userName"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, _, one) = get(
        &http,
        &url(&format!(
            "filter={}",
            urlencode(&format!("userName eq \"{name}\""))
        )),
        &[("authorization", &admin)],
    )
    .await;
    assert_eq!(one["totalResults"], 1);
    // Observers read hosts but not SCIM; wrong tokens are 401; without Premium there is no SCIM.
    let (status, _, body) = get(
        &http,
        &url(""),
        &[("authorization", &token(Access::LeastPrivilege))],
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (403, Some("403")));
    let (status, _, _) = get(
        &http,
        &format!("{base}api/v1/fleet/hosts?per_page=1&page=0"),
        &[("authorization", &token(Access::LeastPrivilege))],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = get(
        &http,
        &url(""),
        &[("authorization", &token(Access::WrongSecret))],
    )
    .await;
    assert_eq!(status, 401);
    sandbox.set_fleet_premium(false);
    let (status, _, body) = get(&http, &url(""), &[("authorization", &admin)]).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("Resource Not Found"))
    );
}

#[tokio::test]
async fn jumpcloud_filters_last_contact_and_lists_a_users_systems() {
    let sandbox = sandbox(40).await;
    let http = reqwest::Client::new();
    let base = sandbox.url(ProviderKind::JumpCloud).to_string();
    let key = config_value(&sandbox, ProviderKind::JumpCloud, Access::Full)["api_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let headers = [("x-api-key", key.as_str())];
    let when = touch_three(&sandbox);
    let since = (when - mdmkit_core::chrono::Duration::seconds(1))
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let (status, _, body) = get(
        &http,
        &format!(
            "{base}api/systems?limit=100&skip=0&sort=_id&filter={}",
            urlencode(&format!("lastContact:$gt:{since}"))
        ),
        &headers,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalCount"], 3);
    for row in body["results"].as_array().unwrap() {
        assert_eq!(
            row["lastContact"],
            when.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
    }
    // The first directory user is in the Help Desk group: their own devices directly, and every
    // Help Desk device through the group.
    let fleet = sandbox.fleet();
    let user = fleet.users.values().next().unwrap();
    let uid = mdmkit_sandbox::model::ids::object_id(51, user.index);
    let (status, headers_back, rows) = get(
        &http,
        &format!("{base}api/v2/users/{uid}/systems?limit=100&skip=0"),
        &headers,
    )
    .await;
    assert_eq!(status, 200, "{rows}");
    let rows = rows.as_array().unwrap();
    assert_eq!(
        headers_back["x-total-count"].to_str().unwrap(),
        rows.len().to_string()
    );
    let own: BTreeSet<u32> = fleet
        .devices
        .values()
        .filter(|d| d.user == Some(user.index))
        .map(|d| d.index)
        .collect();
    let help_desk: BTreeSet<u32> = fleet
        .devices
        .keys()
        .copied()
        .filter(|i| i % 4 == 3)
        .collect();
    assert_eq!(rows.len(), own.union(&help_desk).count());
    for row in rows {
        assert_eq!(row["type"], "system");
        let paths = row["paths"].as_array().unwrap();
        assert!(paths
            .iter()
            .all(|p| p.as_array().unwrap().last().unwrap()["to"]["id"] == row["id"]));
    }
    let (status, _, _) = get(
        &http,
        &format!("{base}api/v2/users/{}/systems", "0".repeat(24)),
        &headers,
    )
    .await;
    assert_eq!(status, 404);
}

async fn graph_token(sandbox: &Sandbox, http: &reqwest::Client) -> String {
    let config = config_value(sandbox, ProviderKind::Intune, Access::Full);
    let base = sandbox.url(ProviderKind::Intune).to_string();
    let origin = base.trim_end_matches('/');
    let token: Value = http
        .post(format!(
            "{base}{}/oauth2/v2.0/token",
            config["tenant_id"].as_str().unwrap()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", config["client_id"].as_str().unwrap()),
            ("client_secret", config["client_secret"].as_str().unwrap()),
            ("scope", &format!("{origin}/.default")),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    format!("Bearer {}", token["access_token"].as_str().unwrap())
}

#[tokio::test]
async fn graph_filters_last_sync_unless_told_to_ignore_filters() {
    let sandbox = sandbox(30).await;
    let http = reqwest::Client::new();
    let base = sandbox.url(ProviderKind::Intune).to_string();
    let auth = graph_token(&sandbox, &http).await;
    let when = touch_three(&sandbox);
    let since = (when - mdmkit_core::chrono::Duration::seconds(1))
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let url = format!(
        "{base}v1.0/deviceManagement/managedDevices?$select=id,lastSyncDateTime&$filter={}",
        urlencode(&format!("lastSyncDateTime gt {since}"))
    );
    let (status, _, body) = get(&http, &url, &[("authorization", &auth)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 3);
    assert_eq!(
        body["value"][0]["lastSyncDateTime"],
        when.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    sandbox.set_graph_ignores_filter(true);
    let (_, _, body) = get(&http, &url, &[("authorization", &auth)]).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 30, "every device");
}

#[tokio::test]
async fn entra_group_deltas_report_changes_and_expire() {
    let sandbox = sandbox(1200).await;
    let http = reqwest::Client::new();
    let base = sandbox.url(ProviderKind::Intune).to_string();
    let auth = graph_token(&sandbox, &http).await;
    let headers = [("authorization", auth.as_str())];
    // A first round: every group, across pages, ending in a delta link.
    let mut url = format!("{base}v1.0/groups/delta?$select=displayName,securityEnabled,members");
    let mut entries = Vec::new();
    let delta_link = loop {
        let (status, _, body) = get(&http, &url, &headers).await;
        assert_eq!(status, 200, "{body}");
        entries.extend(body["value"].as_array().unwrap().iter().cloned());
        if let Some(next) = body["@odata.nextLink"].as_str() {
            url = next.to_owned();
            continue;
        }
        break body["@odata.deltaLink"].as_str().unwrap().to_owned();
    };
    let groups = sandbox.fleet().groups.len() + 1; // and "All Company"
    let ids: BTreeSet<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), groups);
    assert!(entries.len() > 20, "more than one page");
    // Nothing changed: an empty round with a new link.
    let (_, _, quiet) = get(&http, &delta_link, &headers).await;
    assert_eq!(quiet["value"], serde_json::json!([]));
    let next_link = quiet["@odata.deltaLink"].as_str().unwrap().to_owned();
    // A member moves, a group is renamed, another deleted.
    sandbox.mutate(|f| {
        let from = *f.groups.keys().next().unwrap();
        let device = *f.groups[&from].members.iter().next().unwrap();
        let to = *f.groups.keys().nth(1).unwrap();
        let mut members = f.groups[&from].members.clone();
        members.remove(&device);
        f.set_group_members(from, members);
        f.groups.get_mut(&to).unwrap().members.insert(device);
        f.rename_group(to, "Renamed");
        let last = *f.groups.keys().last().unwrap();
        f.delete_group(last);
    });
    let (_, _, changes) = get(&http, &next_link, &headers).await;
    let rows = changes["value"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{changes}");
    let removed_member = rows
        .iter()
        .flat_map(|r| r["members@delta"].as_array().cloned().unwrap_or_default())
        .filter(|m| m.get("@removed").is_some())
        .count();
    assert_eq!(removed_member, 1);
    assert!(rows.iter().any(|r| r["displayName"] == "Renamed"));
    assert!(rows
        .iter()
        .any(|r| r["@removed"]["reason"] == "changed" && r.get("members@delta").is_none()));
    // Expired links are 410 syncStateNotFound.
    let latest = changes["@odata.deltaLink"].as_str().unwrap().to_owned();
    sandbox.expire_group_delta_links();
    let (status, _, body) = get(&http, &latest, &headers).await;
    assert_eq!(status, 410);
    assert_eq!(body["error"]["code"], "syncStateNotFound");
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let sandbox = sandbox(5).await;
    sandbox.set_faults(
        ProviderKind::Iru,
        Faults {
            latency: Duration::from_millis(20),
            ..Faults::default()
        },
    );
    let http = reqwest::Client::new();
    let base = sandbox.url(ProviderKind::Iru).to_string();
    let started = Instant::now();
    for _ in 0..3 {
        let (status, _, _) = get(&http, &format!("{base}api/v1/devices"), &[]).await;
        assert_eq!(status, 401);
    }
    // A lower bound only: three sequential requests cannot take less than three latencies.
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert_eq!(sandbox.request_count(ProviderKind::Iru), 3);
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
