//! The simulated Microsoft Graph, over HTTP: Entra groups and their device members (with and without
//! `Device.Read.All`), Entra devices, unknown routes, injected faults, mutations, TLS, and agreement with
//! `expected_*`.

mod intune_graph;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use intune_graph::*;
use mdmkit_core::ProviderKind;
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use serde_json::Value;

#[tokio::test]
async fn groups_are_filtered_to_security_groups_and_paged_like_the_directory() {
    let t = Intune::start(300).await;
    let token = t.token_for(Access::Full).await;
    let fleet_groups = t.sandbox.fleet().groups.len();
    let security = "v1.0/groups?$filter=securityEnabled%20eq%20true&$select=id,displayName,securityEnabled&$top=999";
    let r = t.get(&token, security).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body["value"].as_array().unwrap();
    assert_eq!(rows.len(), fleet_groups);
    assert!(rows.iter().all(|g| g["securityEnabled"] == true));
    assert!(rows.iter().all(|g| g.as_object().unwrap().len() == 3));
    assert_eq!(
        r.body["@odata.context"],
        format!(
            "{}/v1.0/$metadata#groups(id,displayName,securityEnabled)",
            t.origin
        )
    );
    // Unfiltered, the Microsoft 365 group shows up.
    let (all, _) = t.list_all(&token, "v1.0/groups", &[]).await;
    assert_eq!(all.len(), fleet_groups + 1);
    let m365 = all.iter().find(|g| g["securityEnabled"] == false).unwrap();
    assert_eq!(m365["groupTypes"], serde_json::json!(["Unified"]));
    assert_eq!(m365["mailEnabled"], true);
    assert!(all
        .iter()
        .any(|g| g["groupTypes"] == serde_json::json!(["DynamicMembership"])));
    // Paging: 12 security groups by 5 = 5, 5, (empty), 2.
    let (paged, sizes) = t
        .list_all(
            &token,
            "v1.0/groups?$filter=securityEnabled%20eq%20true&$top=5",
            &[],
        )
        .await;
    assert_eq!(sizes, [5, 5, 0, 2]);
    assert_eq!(paged.len(), fleet_groups);
    // Directory limits and advanced queries.
    let r = t.get(&token, "v1.0/groups?$top=1000").await;
    assert!(
        graph_error(&r, 400, "Request_BadRequest").contains("Must be between 1 and 999 inclusive")
    );
    let r = t.get(&token, "v1.0/groups?$count=true").await;
    assert_eq!(
        graph_error(&r, 400, "Request_BadRequest"),
        "$count is not currently supported."
    );
    let r = t
        .get_with(
            Some(&token),
            &format!("{security}&$count=true"),
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(r.body["@odata.count"], fleet_groups);
    let r = t
        .get(&token, "v1.0/groups?$filter=startswith(displayName,'eng')")
        .await;
    assert_eq!(r.body["value"][0]["displayName"], "Engineering");
    let r = t
        .get(
            &token,
            "v1.0/groups?$filter=groupTypes/any(c:c%20eq%20'Unified')",
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let r = t
        .get(&token, "v1.0/groups?$filter=description%20eq%20'x'")
        .await;
    graph_error(&r, 400, "Request_UnsupportedQuery");
    // One group, and an unknown one.
    let id = rows[0]["id"].as_str().unwrap();
    let r = t.get(&token, &format!("v1.0/groups/{id}")).await;
    assert_eq!(r.body["displayName"], rows[0]["displayName"]);
    let r = t
        .get(&token, "v1.0/groups/00000000-1111-4222-8333-444444444444")
        .await;
    graph_error(&r, 404, "Request_ResourceNotFound");
}

#[tokio::test]
async fn device_members_join_to_managed_devices_and_match_expected_groups() {
    let t = Intune::start(300).await;
    let token = t.token_for(Access::Full).await;
    let consistency = [("ConsistencyLevel", "eventual")];
    let (joined, _) = t
        .list_all(
            &token,
            "v1.0/deviceManagement/managedDevices?$select=id,azureADDeviceId",
            &[],
        )
        .await;
    let index: BTreeMap<String, String> = joined
        .iter()
        .map(|d| {
            (
                d["azureADDeviceId"].as_str().unwrap().to_lowercase(),
                d["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let (groups, _) = t
        .list_all(
            &token,
            "v1.0/groups?$filter=securityEnabled%20eq%20true&$top=999",
            &[],
        )
        .await;
    let mut got = Vec::new();
    let mut unmatched = 0;
    for group in &groups {
        let id = group["id"].as_str().unwrap();
        let (members, _) = t
            .list_all(
                &token,
                &format!(
                    "v1.0/groups/{id}/transitiveMembers/microsoft.graph.device?$select=id,deviceId&$top=999&$count=true"
                ),
                &consistency,
            )
            .await;
        let direct = t
            .list_all(
                &token,
                &format!("v1.0/groups/{id}/members/microsoft.graph.device?$select=id,deviceId"),
                &[],
            )
            .await
            .0;
        assert_eq!(direct, members, "no nesting: members == transitiveMembers");
        let mut ids = Vec::new();
        for m in &members {
            assert_eq!(m["@odata.type"], "#microsoft.graph.device");
            assert_eq!(m.as_object().unwrap().len(), 3, "{m}");
            match index.get(&m["deviceId"].as_str().unwrap().to_lowercase()) {
                Some(device) => ids.push(device.clone()),
                None => unmatched += 1,
            }
        }
        ids.sort();
        got.push((
            id.to_owned(),
            group["displayName"].as_str().unwrap().to_owned(),
            ids,
        ));
    }
    assert!(
        unmatched > 0,
        "Entra devices Intune does not manage are in some groups"
    );
    let mut want: Vec<_> = t
        .sandbox
        .expected_groups(ProviderKind::Intune)
        .into_iter()
        .map(|g| (g.id, g.name, g.members))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // The count comes with the advanced query; members page at the directory's sizes.
    let first = groups[0]["id"].as_str().unwrap();
    let cast = format!("v1.0/groups/{first}/transitiveMembers/microsoft.graph.device");
    let r = t
        .get_with(
            Some(&token),
            &format!("{cast}?$count=true&$select=id"),
            &consistency,
        )
        .await;
    let count = r.body["@odata.count"].as_u64().unwrap() as usize;
    let (paged, sizes) = t.list_all(&token, &format!("{cast}?$top=3"), &[]).await;
    assert_eq!(paged.len(), count);
    assert!(sizes.len() > 3 && sizes[2] == 0, "{sizes:?}");
    let r = t.get(&token, &format!("{cast}?$top=1000")).await;
    graph_error(&r, 400, "Request_BadRequest");

    // Uncast lists hold users too; casts select one type.
    let plain = groups
        .iter()
        .find(|g| g["groupTypes"].as_array().is_some_and(|t| t.is_empty()))
        .unwrap()["id"]
        .as_str()
        .unwrap();
    let (everyone, _) = t
        .list_all(&token, &format!("v1.0/groups/{plain}/members"), &[])
        .await;
    let types: BTreeSet<&str> = everyone
        .iter()
        .map(|m| m["@odata.type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from(["#microsoft.graph.device", "#microsoft.graph.user"])
    );
    let (users, _) = t
        .list_all(
            &token,
            &format!("v1.0/groups/{plain}/members/microsoft.graph.user"),
            &[],
        )
        .await;
    assert_eq!(users.len(), 1);
    let r = t
        .get(
            &token,
            &format!("v1.0/groups/{plain}/members/microsoft.graph.group"),
        )
        .await;
    assert_eq!(r.body["value"], serde_json::json!([]));
    let (all, _) = t.list_all(&token, "v1.0/groups", &[]).await;
    let m365 = all.iter().find(|g| g["securityEnabled"] == false).unwrap()["id"]
        .as_str()
        .unwrap();
    let r = t
        .get(
            &token,
            &format!("v1.0/groups/{m365}/members/microsoft.graph.group"),
        )
        .await;
    graph_error(&r, 400, "Request_UnsupportedQuery");
    let r = t
        .get(
            &token,
            &format!("v1.0/groups/{m365}/members/microsoft.graph.device"),
        )
        .await;
    assert_eq!(r.body["value"], serde_json::json!([]));
    let r = t
        .get(
            &token,
            &format!("v1.0/groups/{plain}/members/microsoft.graph.printer"),
        )
        .await;
    graph_error(&r, 400, "Request_BadRequest");
}

#[tokio::test]
async fn without_device_read_members_show_only_type_and_id() {
    let t = Intune::start(60).await;
    let token = t.token_for(Access::NoDirectoryDeviceRead).await;
    let (groups, _) = t
        .list_all(
            &token,
            "v1.0/groups?$filter=securityEnabled%20eq%20true",
            &[],
        )
        .await;
    let id = groups[0]["id"].as_str().unwrap();
    let (members, _) = t
        .list_all(
            &token,
            &format!("v1.0/groups/{id}/transitiveMembers/microsoft.graph.device?$select=id,deviceId&$count=true"),
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert!(!members.is_empty());
    for m in &members {
        assert_eq!(m["@odata.type"], "#microsoft.graph.device");
        assert!(m["id"].as_str().is_some_and(|s| s.len() == 36));
        assert_eq!(m["deviceId"], Value::Null, "{m}");
    }
    let (unselected, _) = t
        .list_all(
            &token,
            &format!("v1.0/groups/{id}/members/microsoft.graph.device"),
            &[],
        )
        .await;
    for m in &unselected {
        for (key, value) in m.as_object().unwrap() {
            if key != "id" && key != "@odata.type" {
                assert_eq!(value, &Value::Null, "{key} is hidden");
            }
        }
    }
    let r = t.get(&token, "v1.0/devices").await;
    assert_eq!(
        graph_error(&r, 403, "Authorization_RequestDenied"),
        "Insufficient privileges to complete the operation."
    );
    // Intune devices are still readable.
    assert_eq!(
        t.get(&token, "v1.0/deviceManagement/managedDevices?$top=1")
            .await
            .status,
        200
    );
    // An app without GroupMember.Read.All cannot read groups at all.
    let no_groups = t
        .token_with(NO_GROUPS_CLIENT_ID, NO_GROUPS_CLIENT_SECRET)
        .await;
    let r = t.get(&no_groups, "v1.0/groups").await;
    graph_error(&r, 403, "Authorization_RequestDenied");
    let r = t
        .get(&no_groups, &format!("v1.0/groups/{id}/members"))
        .await;
    graph_error(&r, 403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn entra_devices_carry_the_intune_join_key() {
    let t = Intune::start(40).await;
    let token = t.token_for(Access::Full).await;
    let want = &t.sandbox.expected_devices(ProviderKind::Intune)[7];
    let managed = t
        .get(
            &token,
            &format!("v1.0/deviceManagement/managedDevices/{}", want.device_id),
        )
        .await
        .body;
    let aad = managed["azureADDeviceId"].as_str().unwrap();
    let r = t
        .get(
            &token,
            &format!("v1.0/devices?$filter=deviceId%20eq%20'{aad}'"),
        )
        .await;
    let rows = r.body["value"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["displayName"], managed["deviceName"]);
    assert_eq!(rows[0]["mdmAppId"], "0000000a-0000-0000-c000-000000000000");
    assert_ne!(
        rows[0]["id"], rows[0]["deviceId"],
        "object id and deviceId differ"
    );
    let object_id = rows[0]["id"].as_str().unwrap();
    let r = t
        .get(
            &token,
            &format!("v1.0/devices/{object_id}?$select=deviceId"),
        )
        .await;
    assert_eq!(r.body["deviceId"], aad);
    let groups = t.sandbox.fleet().groups.len();
    let (all, _) = t.list_all(&token, "v1.0/devices?$top=999", &[]).await;
    assert_eq!(
        all.len(),
        40 + groups.div_ceil(2),
        "managed devices plus one unmanaged per even group"
    );
    assert!(all.iter().any(|d| d["isManaged"] == false));
}

#[tokio::test]
async fn unknown_routes_and_methods_get_graph_errors() {
    let t = Intune::start(2).await;
    let token = t.token_for(Access::Full).await;
    let r = t.get(&token, "v1.0/deviceManagement/notAThing").await;
    assert_eq!(
        graph_error(&r, 400, "BadRequest"),
        "Resource not found for the segment 'notAThing'."
    );
    let r = t.get(&token, "v9/whatever").await;
    graph_error(&r, 400, "BadRequest");
    let r = reply(
        t.http
            .post(format!("{}v1.0/groups", t.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(r#"{"displayName": "x"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    graph_error(&r, 405, "BadRequest");
}

#[tokio::test]
async fn injected_faults_use_graphs_error_body() {
    let t = Intune::start(2).await;
    let token = t.token_for(Access::Full).await;
    t.sandbox.set_faults(
        ProviderKind::Intune,
        Faults {
            rate_limited: 1.0,
            retry_after: Duration::from_secs(7),
            ..Faults::default()
        },
    );
    let r = t.get(&token, "v1.0/deviceManagement/managedDevices").await;
    graph_error(&r, 429, "TooManyRequests");
    assert_eq!(r.headers["retry-after"], "7");
    t.sandbox.set_faults(
        ProviderKind::Intune,
        Faults {
            server_errors: 1.0,
            ..Faults::default()
        },
    );
    let r = t.get(&token, "v1.0/deviceManagement/managedDevices").await;
    graph_error(&r, 503, "serviceNotAvailable");
}

#[tokio::test]
async fn mutations_show_at_once_and_expected_values_follow() {
    let t = Intune::start(6).await;
    let token = t.token_for(Access::Full).await;
    let added = t
        .sandbox
        .mutate(|f| f.add_device("NEWSERIAL01", "Loaner 1", Some(0)));
    let lookup = "v1.0/deviceManagement/managedDevices?$filter=serialNumber%20eq%20'NEWSERIAL01'";
    let r = t.get(&token, lookup).await;
    let row = &r.body["value"][0];
    let want = t
        .sandbox
        .expected_devices(ProviderKind::Intune)
        .into_iter()
        .find(|d| d.index == added)
        .unwrap();
    assert_eq!(row["id"], want.device_id.as_str());
    assert_eq!(user_id(row), want.user_id);
    assert_eq!(display_name(row), want.display_name);
    // Unassigning makes the display name the device's.
    t.sandbox.mutate(|f| f.assign_user(added, None));
    let r = t.get(&token, lookup).await;
    assert_eq!(display_name(&r.body["value"][0]), "Loaner 1");
    assert_eq!(user_id(&r.body["value"][0]), None);
    // Group changes show in members and in expected_groups.
    let group = t.sandbox.mutate(|f| f.add_group("Loaners 2", [added]));
    let expected = t.sandbox.expected_groups(ProviderKind::Intune);
    let g = expected.iter().find(|g| g.name == "Loaners 2").unwrap();
    assert_eq!(g.members, vec![want.device_id.clone()]);
    let r = t
        .get(
            &token,
            &format!(
                "v1.0/groups/{}/members/microsoft.graph.device?$select=deviceId",
                g.id
            ),
        )
        .await;
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        1 + usize::from(group % 2 == 0)
    );
    t.sandbox.mutate(|f| f.remove_device(added));
    let r = t.get(&token, lookup).await;
    assert_eq!(r.body["value"], serde_json::json!([]));
    assert!(t
        .sandbox
        .expected_groups(ProviderKind::Intune)
        .iter()
        .all(|g| !g.members.contains(&want.device_id)));
}

#[tokio::test]
async fn tls_mode_issues_tokens_for_the_https_root_and_links_stay_on_https() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 5,
        tls: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url(ProviderKind::Intune).to_string();
    assert!(base.starts_with("https://"));
    let origin = base.trim_end_matches('/');
    let ca = reqwest::Certificate::from_pem(sandbox.ca_pem().unwrap().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let config = serde_json::to_value(
        sandbox
            .config(ProviderKind::Intune, Access::Full)
            .expose_secrets(),
    )
    .unwrap();
    let ask = |scope: String| {
        http.post(format!("{base}{TENANT_ID}/oauth2/v2.0/token"))
            .form(&[
                (
                    "client_id",
                    config["client_id"].as_str().unwrap().to_owned(),
                ),
                (
                    "client_secret",
                    config["client_secret"].as_str().unwrap().to_owned(),
                ),
                ("scope", scope),
                ("grant_type", "client_credentials".to_owned()),
            ])
            .send()
    };
    let plain = reply(
        ask(format!(
            "{}/.default",
            origin.replace("https://", "http://")
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (plain.status, plain.body["error_codes"][0].as_u64()),
        (400, Some(70011))
    );
    let r = reply(ask(format!("{origin}/.default")).await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.body["access_token"].as_str().unwrap();
    let r = reply(
        http.get(format!(
            "{base}v1.0/deviceManagement/managedDevices?$top=2&$select=id"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    let next = r.body["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&format!("{origin}/v1.0/")), "{next}");
    let r = reply(http.get(next).bearer_auth(token).send().await.unwrap()).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
}
