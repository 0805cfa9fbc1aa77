//! The harness of the simulated Graph and Entra ID tests: a sandbox, raw HTTP requests with or without
//! a token, Graph's paging followed to the end, and readers of Graph's error bodies and device rows.

#![allow(dead_code)] // each test file uses part of it

use mdmkit_core::ProviderKind;
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
use serde_json::Value;

pub(crate) const TENANT_ID: &str = "7c3e9a41-2f6b-4d85-b0e2-5a9d1c8f4e60";
pub(crate) const TENANT_DOMAIN: &str = "mdmkit-sandbox.onmicrosoft.com";
pub(crate) const NO_GROUPS_CLIENT_ID: &str = "0b6f1d2e-3c4a-4e5f-8a9b-1c2d3e4f5a63";
pub(crate) const NO_GROUPS_CLIENT_SECRET: &str = "Sbx8Q~noGroups.5jN1cVx8Rt3Wq7Ke2Ym9Fs4Gb6";
pub(crate) const EXPIRED_SECRET_CLIENT_ID: &str = "0b6f1d2e-3c4a-4e5f-8a9b-1c2d3e4f5a64";
pub(crate) const EXPIRED_SECRET: &str = "Sbx8Q~expired.9pL4bMz1Xc6Tv8Qr3Wn5Hk7Js2";
pub(crate) const DEVICE_FIELDS: &str =
    "id,deviceName,serialNumber,userId,userDisplayName,azureADDeviceId";

pub(crate) struct Intune {
    pub(crate) sandbox: Sandbox,
    /// The base URL, ending in `/`.
    pub(crate) base: String,
    /// The Graph root's origin (no trailing `/`): what the scope and next links are built on.
    pub(crate) origin: String,
    pub(crate) http: reqwest::Client,
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Intune {
    pub(crate) async fn start(devices: usize) -> Intune {
        let sandbox = Sandbox::start(SandboxConfig {
            devices,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let base = sandbox.url(ProviderKind::Intune).to_string();
        let origin = base.trim_end_matches('/').to_owned();
        Intune {
            sandbox,
            base,
            origin,
            http: reqwest::Client::new(),
        }
    }

    /// Tenant, client id and secret that `Sandbox::config` hands out for `access`.
    pub(crate) fn credentials(&self, access: Access) -> (String, String, String) {
        let config = serde_json::to_value(
            self.sandbox
                .config(ProviderKind::Intune, access)
                .expose_secrets(),
        )
        .unwrap();
        assert_eq!(config["provider"], "intune");
        let s = |k: &str| config[k].as_str().unwrap().to_owned();
        (s("tenant_id"), s("client_id"), s("client_secret"))
    }

    pub(crate) fn scope(&self) -> String {
        format!("{}/.default", self.origin)
    }

    pub(crate) async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> Reply {
        let r = self
            .http
            .post(format!("{}{tenant}/oauth2/v2.0/token", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        reply(r).await
    }

    pub(crate) async fn token_with(&self, client: &str, secret: &str) -> String {
        let scope = self.scope();
        let r = self
            .token_request(
                TENANT_ID,
                &[
                    ("client_id", client),
                    ("client_secret", secret),
                    ("scope", &scope),
                    ("grant_type", "client_credentials"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn token_for(&self, access: Access) -> String {
        let (_, client, secret) = self.credentials(access);
        self.token_with(&client, &secret).await
    }

    /// A GET of `target` (a path below the base, or an absolute URL) with optional token and headers.
    pub(crate) async fn get_with(
        &self,
        token: Option<&str>,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = if target.starts_with("http") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base)
        };
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.send().await.unwrap()).await
    }

    pub(crate) async fn get(&self, token: &str, target: &str) -> Reply {
        self.get_with(Some(token), target, &[]).await
    }

    /// Follows next links from `first`; returns every row and each page's size.
    pub(crate) async fn list_all(
        &self,
        token: &str,
        first: &str,
        headers: &[(&str, &str)],
    ) -> (Vec<Value>, Vec<usize>) {
        let mut rows = Vec::new();
        let mut sizes = Vec::new();
        let mut target = first.to_owned();
        loop {
            let r = self.get_with(Some(token), &target, headers).await;
            assert_eq!(r.status, 200, "{target}: {}", r.body);
            let page = r.body["value"].as_array().unwrap();
            sizes.push(page.len());
            rows.extend(page.iter().cloned());
            match r.body["@odata.nextLink"].as_str() {
                Some(next) => {
                    assert!(
                        next.starts_with(&format!("{}/v1.0/", self.origin)),
                        "absolute next link on the Graph root: {next}"
                    );
                    assert!(next.contains("$skiptoken="), "{next}");
                    target = next.to_owned();
                }
                None => break,
            }
            assert!(sizes.len() < 500, "runaway paging");
        }
        (rows, sizes)
    }
}

pub(crate) async fn reply(r: reqwest::Response) -> Reply {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

/// Asserts a Graph error body and returns its message.
pub(crate) fn graph_error(r: &Reply, status: u16, code: &str) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    let error = &r.body["error"];
    assert_eq!(error["code"], code, "{}", r.body);
    let inner = &error["innerError"];
    for key in ["date", "request-id", "client-request-id"] {
        assert!(inner[key].is_string(), "innerError.{key}: {}", r.body);
    }
    assert_eq!(
        r.headers["request-id"].to_str().unwrap(),
        inner["request-id"].as_str().unwrap()
    );
    error["message"].as_str().unwrap().to_owned()
}

/// R4 from a managed device row: `userDisplayName`, else `deviceName`.
pub(crate) fn display_name(row: &Value) -> String {
    match row["userDisplayName"].as_str() {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => row["deviceName"].as_str().unwrap().to_owned(),
    }
}

pub(crate) fn user_id(row: &Value) -> Option<String> {
    row["userId"]
        .as_str()
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}

pub(crate) fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~$,'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
