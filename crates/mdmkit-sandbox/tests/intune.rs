//! The simulated Microsoft Graph and Entra ID, over HTTP: client-credentials tokens and the AADSTS errors,
//! Graph's error bodies (Intune's JSON-in-a-string 403 included), managed devices (selects, OData filters,
//! server-driven paging with an empty page) and unassigned-user shapes. Groups and the rest:
//! `intune_groups.rs`.

mod intune_graph;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use intune_graph::*;
use mdmkit_core::ProviderKind;
use mdmkit_sandbox::Access;
use serde_json::Value;

#[tokio::test]
async fn configurations_point_both_hosts_at_the_sandbox() {
    let t = Intune::start(3).await;
    let full = serde_json::to_value(
        t.sandbox
            .config(ProviderKind::Intune, Access::Full)
            .expose_secrets(),
    )
    .unwrap();
    assert_eq!(full["graph_url"], t.base.as_str());
    assert_eq!(full["login_url"], t.base.as_str());
    assert_eq!(full["tenant_id"], TENANT_ID);
    let (_, full_client, full_secret) = t.credentials(Access::Full);
    let (_, wrong_client, wrong_secret) = t.credentials(Access::WrongSecret);
    assert_eq!(wrong_client, full_client);
    assert_ne!(wrong_secret, full_secret);
    let clients: BTreeSet<String> = [
        Access::Full,
        Access::NoDeviceRead,
        Access::NoDirectoryDeviceRead,
    ]
    .into_iter()
    .map(|a| t.credentials(a).1)
    .collect();
    assert_eq!(clients.len(), 3, "each access level is its own app");
    assert_eq!(t.sandbox.max_page_size(ProviderKind::Intune), 1000);
}

#[tokio::test]
async fn the_token_endpoint_issues_expiring_bearer_tokens() {
    let t = Intune::start(3).await;
    let (tenant, client, secret) = t.credentials(Access::Full);
    let scope = t.scope();
    let form = [
        ("client_id", client.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", scope.as_str()),
        ("grant_type", "client_credentials"),
    ];
    for tenant in [tenant.as_str(), TENANT_DOMAIN, &TENANT_ID.to_uppercase()] {
        let r = t.token_request(tenant, &form).await;
        assert_eq!(r.status, 200, "{tenant}: {}", r.body);
        assert_eq!(r.body["token_type"], "Bearer");
        assert_eq!(r.body["expires_in"], 300, "the sandbox's default lifetime");
        assert!(r.body["access_token"].as_str().unwrap().len() > 10);
        assert!(r.body.get("refresh_token").is_none());
    }
    // HTTP Basic client authentication instead of the form fields.
    let r = t
        .http
        .post(format!("{}{TENANT_ID}/oauth2/v2.0/token", t.base))
        .basic_auth(&client, Some(&secret))
        .form(&[
            ("scope", scope.as_str()),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The lifetime follows the sandbox setting.
    t.sandbox.set_token_lifetime(Duration::from_secs(1234));
    let r = t.token_request(TENANT_ID, &form).await;
    assert_eq!(r.body["expires_in"], 1234);
}

/// A token request case: name, (tenant, form), status, OAuth `error`, AADSTS code.
type Refusal = (
    &'static str,
    (&'static str, Vec<(String, String)>),
    u16,
    &'static str,
    u64,
);

#[tokio::test]
async fn token_refusals_are_entra_oauth_errors_with_aadsts_codes() {
    let t = Intune::start(3).await;
    let (_, client, secret) = t.credentials(Access::Full);
    let (_, _, wrong) = t.credentials(Access::WrongSecret);
    let scope = t.scope();
    let form = |client: &str, secret: &str, scope: &str, grant: &str| -> Vec<(String, String)> {
        [
            ("client_id", client),
            ("client_secret", secret),
            ("scope", scope),
            ("grant_type", grant),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    };
    let good =
        |tenant: &'static str| (tenant, form(&client, &secret, &scope, "client_credentials"));
    let cases: Vec<Refusal> = vec![
        (
            "unknown tenant GUID",
            good("11111111-2222-4333-8444-555555555555"),
            400,
            "invalid_request",
            90002,
        ),
        (
            "unknown domain",
            good("contoso.onmicrosoft.com"),
            400,
            "invalid_request",
            90002,
        ),
        (
            "malformed tenant",
            good("not_a_tenant"),
            400,
            "invalid_request",
            900023,
        ),
        (
            "single label",
            good("organizations"),
            400,
            "invalid_request",
            900023,
        ),
        (
            "35-character GUID",
            good("e63649b2-07c0-49ed-a24b-87381dac292"),
            400,
            "invalid_request",
            900023,
        ),
        (
            "unknown client",
            (
                TENANT_ID,
                form(
                    "99999999-0000-4000-8000-000000000000",
                    &secret,
                    &scope,
                    "client_credentials",
                ),
            ),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "wrong secret",
            (
                TENANT_ID,
                form(&client, &wrong, &scope, "client_credentials"),
            ),
            401,
            "invalid_client",
            7000215,
        ),
        (
            "secret ID pasted",
            (
                TENANT_ID,
                form(
                    &client,
                    "5e1a7c3d-0000-4000-8000-123456789abc",
                    &scope,
                    "client_credentials",
                ),
            ),
            401,
            "invalid_client",
            7000215,
        ),
        (
            "expired secret",
            (
                TENANT_ID,
                form(
                    EXPIRED_SECRET_CLIENT_ID,
                    EXPIRED_SECRET,
                    &scope,
                    "client_credentials",
                ),
            ),
            401,
            "invalid_client",
            7000222,
        ),
        (
            "another cloud's Graph",
            (
                TENANT_ID,
                form(
                    &client,
                    &secret,
                    "https://graph.microsoft.com/.default",
                    "client_credentials",
                ),
            ),
            400,
            "invalid_scope",
            70011,
        ),
        (
            "two scopes",
            (
                TENANT_ID,
                form(
                    &client,
                    &secret,
                    &format!("{scope} offline_access"),
                    "client_credentials",
                ),
            ),
            400,
            "invalid_scope",
            70011,
        ),
        (
            "the wrong scheme",
            (
                TENANT_ID,
                form(
                    &client,
                    &secret,
                    &scope.replace("http://", "https://"),
                    "client_credentials",
                ),
            ),
            400,
            "invalid_scope",
            70011,
        ),
        (
            "no /.default",
            (
                TENANT_ID,
                form(&client, &secret, "User.Read", "client_credentials"),
            ),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            "missing grant_type",
            (TENANT_ID, form(&client, &secret, &scope, "")),
            400,
            "invalid_request",
            900144,
        ),
        (
            "missing scope",
            (TENANT_ID, form(&client, &secret, "", "client_credentials")),
            400,
            "invalid_request",
            900144,
        ),
        (
            "password grant",
            (TENANT_ID, form(&client, &secret, &scope, "password")),
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            "missing secret",
            (TENANT_ID, form(&client, "", &scope, "client_credentials")),
            401,
            "invalid_client",
            7000218,
        ),
    ];
    for (name, (tenant, fields), status, error, code) in cases {
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = t.token_request(tenant, &pairs).await;
        assert_eq!(r.status, status, "{name}: {}", r.body);
        assert_eq!(r.body["error"], error, "{name}: {}", r.body);
        assert_eq!(r.body["error_codes"], serde_json::json!([code]), "{name}");
        let description = r.body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{name}: {description}"
        );
        assert!(
            description.contains("\r\nTrace ID: "),
            "{name}: {description}"
        );
        assert!(
            description.contains("\r\nCorrelation ID: "),
            "{name}: {description}"
        );
        for key in ["timestamp", "trace_id", "correlation_id"] {
            assert!(r.body[key].is_string(), "{name}: {key}");
        }
        assert!(r.body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(r.body["error_uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("code={code}")));
        assert!(r.body.get("access_token").is_none());
    }
    // GET on the token endpoint, and a body that is not a form.
    let r = t
        .get_with(None, &format!("{TENANT_ID}/oauth2/v2.0/token"), &[])
        .await;
    assert_eq!(
        (r.status, r.body["error_codes"][0].as_u64()),
        (400, Some(900561))
    );
    let r = reply(
        t.http
            .post(format!("{}{TENANT_ID}/oauth2/v2.0/token", t.base))
            .header("content-type", "application/json")
            .body(serde_json::json!({"client_id": client, "client_secret": secret}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error_codes"][0].as_u64()),
        (400, Some(900144))
    );
}

#[tokio::test]
async fn graph_refuses_missing_unknown_expired_and_foreign_tokens() {
    let t = Intune::start(3).await;
    let path = "v1.0/deviceManagement/managedDevices?$top=1&$select=id";
    let r = t.get_with(None, path, &[]).await;
    let message = graph_error(&r, 401, "InvalidAuthenticationToken");
    assert_eq!(message, "Access token is empty.");
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    // The client's request id is echoed.
    let r = t
        .get_with(
            Some("nonsense"),
            path,
            &[("client-request-id", "my-call-42")],
        )
        .await;
    graph_error(&r, 401, "InvalidAuthenticationToken");
    assert_eq!(
        r.body["error"]["innerError"]["client-request-id"],
        "my-call-42"
    );
    assert_eq!(r.headers["client-request-id"], "my-call-42");

    let token = t.token_for(Access::Full).await;
    assert_eq!(t.get(&token, path).await.status, 200);
    // A token issued for this origin, presented to another host name, has the wrong audience.
    let host = t
        .origin
        .trim_start_matches("http://")
        .replace("127.0.0.1", "localhost");
    let r = t.get_with(Some(&token), path, &[("host", &host)]).await;
    assert!(graph_error(&r, 401, "InvalidAuthenticationToken").contains("audience"));

    t.sandbox.expire_tokens(ProviderKind::Intune);
    let r = t.get(&token, path).await;
    assert!(graph_error(&r, 401, "InvalidAuthenticationToken").contains("expired"));
    let fresh = t.token_for(Access::Full).await;
    assert_eq!(t.get(&fresh, path).await.status, 200);
}

#[tokio::test]
async fn an_app_without_the_intune_permission_gets_the_json_in_a_string_403() {
    let t = Intune::start(5).await;
    let token = t.token_for(Access::NoDeviceRead).await;
    let r = t
        .get(
            &token,
            "v1.0/deviceManagement/managedDevices?$top=1&$select=id,deviceName,serialNumber",
        )
        .await;
    let message = graph_error(&r, 403, "Forbidden");
    let document: Value = serde_json::from_str(&message).expect("the message is a JSON document");
    assert_eq!(document["_version"], 3);
    let inner = document["Message"].as_str().unwrap();
    assert!(
        inner.starts_with("Application is not authorized to perform this operation."),
        "{inner}"
    );
    assert!(
        inner.contains("DeviceManagementManagedDevices.Read.All"),
        "{inner}"
    );
    assert!(
        inner.contains(" - Activity ID: ") && inner.contains(" - Url: https://"),
        "{inner}"
    );
    // Every device read is refused; its directory permissions still work.
    let full = t.token_for(Access::Full).await;
    let id = t
        .get(&full, "v1.0/deviceManagement/managedDevices?$top=1")
        .await
        .body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .get(
            &token,
            &format!("v1.0/deviceManagement/managedDevices/{id}"),
        )
        .await;
    graph_error(&r, 403, "Forbidden");
    let r = t
        .get(&token, "v1.0/groups?$filter=securityEnabled%20eq%20true")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn the_bulk_listing_pages_by_absolute_next_links_with_an_empty_third_page() {
    let t = Intune::start(2505).await;
    let token = t.token_for(Access::Full).await;
    // The R8 test call.
    let r = t
        .get(
            &token,
            "v1.0/deviceManagement/managedDevices?$top=1&$select=id",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        r.body["value"][0].as_object().unwrap().len(),
        1,
        "only the selected id"
    );
    assert!(r.body["@odata.nextLink"].is_string());
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));

    t.sandbox.reset_request_counts();
    let first = format!("v1.0/deviceManagement/managedDevices?$select={DEVICE_FIELDS}");
    let (rows, sizes) = t.list_all(&token, &first, &[]).await;
    assert_eq!(
        sizes,
        [1000, 1000, 0, 505],
        "default page 1000, third page empty"
    );
    assert_eq!(t.sandbox.request_count(ProviderKind::Intune), 4);
    let r = t.get(&token, &first).await;
    assert_eq!(
        r.body["@odata.context"],
        format!(
            "{}/v1.0/$metadata#deviceManagement/managedDevices({DEVICE_FIELDS})",
            t.origin
        )
    );
    let next = r.body["@odata.nextLink"].as_str().unwrap();
    assert!(next.contains(&format!("$select={DEVICE_FIELDS}")), "{next}");

    let expected: BTreeMap<String, _> = t
        .sandbox
        .expected_devices(ProviderKind::Intune)
        .into_iter()
        .map(|d| (d.device_id.clone(), d))
        .collect();
    let ids: BTreeSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rows.len(), "no device twice");
    assert_eq!(
        ids,
        expected.keys().map(String::as_str).collect(),
        "every device"
    );
    for row in &rows {
        let want = &expected[row["id"].as_str().unwrap()];
        assert_eq!(row["serialNumber"], want.serial_number.as_str());
        assert_eq!(user_id(row), want.user_id, "{row}");
        assert_eq!(display_name(row), want.display_name, "{row}");
        assert_eq!(want.list_display_name, want.display_name);
        for key in row.as_object().unwrap().keys() {
            assert!(
                DEVICE_FIELDS.split(',').any(|f| f == key),
                "unselected {key}"
            );
        }
    }
}

#[tokio::test]
async fn top_is_capped_at_1000_and_bad_paging_input_is_refused() {
    let t = Intune::start(1203).await;
    let token = t.token_for(Access::Full).await;
    let devices = "v1.0/deviceManagement/managedDevices";
    let r = t
        .get(&token, &format!("{devices}?$top=5000&$select=id"))
        .await;
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        1000,
        "silently capped"
    );
    let (rows, sizes) = t
        .list_all(&token, &format!("{devices}?$top=500&$select=id"), &[])
        .await;
    assert_eq!(sizes, [500, 500, 0, 203]);
    assert_eq!(rows.len(), 1203);
    let r = t
        .get(&token, &format!("{devices}?$top=0&$count=true"))
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 0);
    assert_eq!(r.body["@odata.count"], 1203);
    assert!(r.body.get("@odata.nextLink").is_none());
    for bad in [
        "$top=-1",
        "$top=ten",
        "$orderby=deviceName",
        "$skiptoken=bm9wZQ",
        "$count=maybe",
    ] {
        let r = t.get(&token, &format!("{devices}?{bad}")).await;
        graph_error(&r, 400, "BadRequest");
    }
    // A skip token from another listing does not fit.
    let groups = t.get(&token, "v1.0/groups?$top=1").await;
    let link = groups.body["@odata.nextLink"].as_str().unwrap();
    let token_part = link.split("$skiptoken=").nth(1).unwrap();
    let r = t
        .get(&token, &format!("{devices}?$skiptoken={token_part}"))
        .await;
    graph_error(&r, 400, "BadRequest");
}

#[tokio::test]
async fn serial_filters_are_exact_and_case_insensitive_and_unsupported_clauses_are_ignored() {
    let t = Intune::start(20).await;
    let token = t.token_for(Access::Full).await;
    let fleet = t.sandbox.fleet();
    let expected = t.sandbox.expected_devices(ProviderKind::Intune);
    let filter = |f: &str| {
        format!(
            "v1.0/deviceManagement/managedDevices?$filter={}&$top=100",
            enc(f)
        )
    };
    let rows = |r: &Reply| r.body["value"].as_array().unwrap().clone();

    // Device 1's serial is device 0's plus one character: eq must not match it.
    let serial0 = fleet.devices[&0].serial.to_lowercase();
    let r = t
        .get(&token, &filter(&format!("serialNumber eq '{serial0}'")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let found = rows(&r);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], expected[0].device_id.as_str());
    assert!(r.body.get("@odata.nextLink").is_none());

    // Quotes double inside the literal.
    t.sandbox
        .mutate(|f| f.add_device("QT'1234", "Quote’s Mac", Some(0)));
    let r = t.get(&token, &filter("serialNumber eq 'QT''1234'")).await;
    assert_eq!(rows(&r).len(), 1, "{}", r.body);
    assert_eq!(rows(&r)[0]["serialNumber"], "QT'1234");

    let r = t
        .get(&token, &filter("serialNumber eq 'NOSUCHSERIAL9'"))
        .await;
    assert_eq!((r.status, rows(&r).len()), (200, 0));

    // userId and userDisplayName cannot be filtered: the clause is ignored and every device returns.
    let user = expected[0].user_id.clone().unwrap_or_default();
    for f in [
        format!("userId eq '{user}'"),
        "userDisplayName eq 'Nobody At All'".to_owned(),
        "startswith(serialNumber,'ZZZ')".to_owned(),
        format!("serialNumber eq '{serial0}' and userId eq 'x'"),
    ] {
        let r = t.get(&token, &filter(&f)).await;
        let n = rows(&r).len();
        if f.starts_with("serialNumber") {
            assert_eq!(n, 1, "{f}");
        } else {
            assert_eq!(n, 21, "{f}: ignored, so every device");
        }
    }

    // Supported operators.
    let serial1 = &fleet.devices[&1].serial;
    let r = t
        .get(
            &token,
            &filter(&format!(
                "serialNumber eq '{serial0}' or serialNumber eq '{serial1}'"
            )),
        )
        .await;
    assert_eq!(rows(&r).len(), 2);
    let aad = t
        .get(
            &token,
            &format!(
                "v1.0/deviceManagement/managedDevices/{}?$select=azureADDeviceId",
                expected[3].device_id
            ),
        )
        .await
        .body["azureADDeviceId"]
        .as_str()
        .unwrap()
        .to_uppercase();
    let r = t
        .get(&token, &filter(&format!("azureADDeviceId eq '{aad}'")))
        .await;
    assert_eq!(rows(&r)[0]["id"], expected[3].device_id.as_str());
    let with_apostrophe = fleet
        .devices
        .values()
        .filter(|d| d.name.contains('’'))
        .count()
        + 1;
    let r = t
        .get(
            &token,
            &format!("{}&$count=true", filter("contains(deviceName,'’s')")),
        )
        .await;
    assert_eq!(rows(&r).len(), with_apostrophe);
    assert_eq!(r.body["@odata.count"], with_apostrophe);

    // Refusals.
    for f in [
        "notAProperty eq 'x'",
        "serialNumber eq 'open",
        "serialNumber eq 'A' or deviceName eq 'B'",
    ] {
        let r = t.get(&token, &filter(f)).await;
        graph_error(&r, 400, "BadRequest");
    }
    let r = t.get(&token, &filter("notAProperty eq 'x'")).await;
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("notAProperty"));
}

#[tokio::test]
async fn unassigned_devices_come_in_three_shapes_and_assigned_ones_name_their_user() {
    let t = Intune::start(90).await;
    let token = t.token_for(Access::Full).await;
    let fleet = t.sandbox.fleet();
    let (rows, _) = t
        .list_all(&token, "v1.0/deviceManagement/managedDevices", &[])
        .await;
    let by_id: BTreeMap<String, u32> = t
        .sandbox
        .expected_devices(ProviderKind::Intune)
        .into_iter()
        .map(|d| (d.device_id, d.index))
        .collect();
    let mut shapes = BTreeSet::new();
    for row in &rows {
        let index = by_id[row["id"].as_str().unwrap()];
        let device = &fleet.devices[&index];
        for key in [
            "deviceName",
            "serialNumber",
            "azureADDeviceId",
            "operatingSystem",
            "model",
        ] {
            assert!(row[key].is_string(), "{key} in {row}");
        }
        assert_eq!(row["deviceName"], device.name.as_str());
        match fleet.user_of(device) {
            Some(user) => {
                assert_eq!(row["userDisplayName"], user.full_name.as_str());
                assert_eq!(row["userPrincipalName"], user.email.as_str());
                assert!(row["userId"].as_str().unwrap().len() == 36);
            }
            None => {
                let shape = match row.get("userId") {
                    Some(Value::String(s)) if s.is_empty() => "empty",
                    Some(Value::Null) => "null",
                    None => "absent",
                    other => panic!("unassigned userId {other:?}"),
                };
                assert_eq!(
                    row.get("userDisplayName").is_none(),
                    shape == "absent",
                    "the user fields share a shape: {row}"
                );
                shapes.insert(shape);
            }
        }
    }
    assert_eq!(
        shapes.len(),
        3,
        "every unassigned shape is served: {shapes:?}"
    );
}

#[tokio::test]
async fn a_single_managed_device_is_a_bare_entity() {
    let t = Intune::start(4).await;
    let token = t.token_for(Access::Full).await;
    let want = &t.sandbox.expected_devices(ProviderKind::Intune)[2];
    let r = t
        .get(
            &token,
            &format!(
                "v1.0/deviceManagement/managedDevices/{}?$select=id,serialNumber",
                want.device_id
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], want.device_id.as_str());
    assert_eq!(r.body["serialNumber"], want.serial_number.as_str());
    assert!(r.body.get("value").is_none());
    assert!(r.body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("managedDevices(id,serialNumber)/$entity"));
    let r = t
        .get(
            &token,
            "v1.0/deviceManagement/managedDevices/00000000-1111-4222-8333-444444444444",
        )
        .await;
    let message = graph_error(&r, 404, "ResourceNotFound");
    assert!(
        serde_json::from_str::<Value>(&message).is_ok(),
        "Intune's JSON string: {message}"
    );
}
