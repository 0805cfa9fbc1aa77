//! Shared test harness: an Entra login host and a Graph host on two loopback mock servers, fixtures from
//! `fixtures/intune/`, and catch-all mocks that record any request the connector was not expected to make.
//!
//! httpmock 0.9 serves a request from the *first created* matching mock (mocks live in a map ordered by
//! id), so [`Env::seal`] must be called after every expected mock is registered; the catch-alls then only
//! see requests nothing else matched, and [`Sealed::verify`] asserts they saw none.
#![allow(dead_code, unreachable_pub)]

use httpmock::prelude::*;
use httpmock::{HttpMockRequest, Mock};
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{IntuneConfig, Url};
use mdmkit_intune::IntuneProvider;

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const CLIENT_ID: &str = "0a1b2c3d-0000-4000-8000-00000000c11e";
pub const SECRET: &str = "Qx8~fixture.Secret-Value_never-shown";
pub const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
pub const DEVICES_PATH: &str = "/v1.0/deviceManagement/managedDevices";
pub const DEVICE_FIELDS: &str = "id,deviceName,serialNumber,userId,userDisplayName,azureADDeviceId";

/// Whether a request's decoded query parameters are exactly `query` (any order).
pub fn query_is(
    query: &[(&str, &str)],
) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + 'static {
    let mut want: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    move |req| {
        let mut got = req.query_params();
        got.sort();
        got == want
    }
}

/// A mock answering any request with 418, for requests the connector was not expected to make.
async fn catch_all(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(418).body("unexpected request");
        })
        .await
}

/// A constructed Graph answer, and any request headers it requires.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    /// Request headers the mock requires.
    pub requires: Vec<(String, String)>,
    /// Serve at most this many times, then let later mocks answer.
    pub times: Option<usize>,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into(),
            headers: Vec::new(),
            requires: Vec::new(),
            times: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn requires(mut self, name: &str, value: &str) -> Reply {
        self.requires.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn times(mut self, n: usize) -> Reply {
        self.times = Some(n);
        self
    }
}

pub struct Env {
    pub login: MockServer,
    pub graph: MockServer,
}

pub struct Sealed<'a> {
    login: Mock<'a>,
    graph: Mock<'a>,
}

impl Sealed<'_> {
    /// Fails the test if the connector made any request no expected mock matched.
    pub async fn verify(&self) {
        let (login, graph) = (
            self.login.calls_async().await,
            self.graph.calls_async().await,
        );
        assert_eq!(
            (login, graph),
            (0, 0),
            "unexpected requests reached the catch-all mocks (login, graph)"
        );
    }
}

impl Env {
    pub async fn start() -> Env {
        Env {
            login: MockServer::start_async().await,
            graph: MockServer::start_async().await,
        }
    }

    /// The Graph root as the fixtures' `{{GRAPH}}` placeholder stands for it (no trailing `/`).
    pub fn graph_root(&self) -> String {
        self.graph.base_url()
    }

    /// A fixture with `{{GRAPH}}` replaced by the mock Graph root, so next links stay on its origin.
    pub fn fixture(&self, name: &str) -> String {
        mdmkit_testkit::fixtures::read(mdmkit_core::ProviderKind::Intune, name)
            .replace("{{GRAPH}}", &self.graph_root())
    }

    pub fn fixture_json(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.fixture(name)).unwrap()
    }

    /// The access token in `token_success.json`.
    pub fn token(&self) -> String {
        self.fixture_json("token_success.json")["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn config(&self) -> IntuneConfig {
        let mut config = IntuneConfig::new(TENANT, CLIENT_ID, SECRET).unwrap();
        config.graph_url = Some(Url::parse(&format!("{}/", self.graph.base_url())).unwrap());
        config.login_url = Some(Url::parse(&format!("{}/", self.login.base_url())).unwrap());
        config
    }

    pub fn options() -> ClientOptions {
        ClientOptions::for_local_testing()
    }

    pub fn provider(&self) -> IntuneProvider {
        self.provider_with(&Self::options())
    }

    pub fn provider_with(&self, options: &ClientOptions) -> IntuneProvider {
        IntuneProvider::new(self.config(), options).unwrap()
    }

    /// The token endpoint answering `status` with `fixture`, for exactly the client-credentials form the
    /// connector must send.
    pub async fn token_mock(&self, status: u16, fixture: &str) -> Mock<'_> {
        let body = self.fixture(fixture);
        let scope = format!("{}/.default", self.graph_root());
        self.login
            .mock_async(|when, then| {
                when.method(POST)
                    .path(TOKEN_PATH)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header_missing("authorization")
                    .form_urlencoded_tuple("grant_type", "client_credentials")
                    .form_urlencoded_tuple("client_id", CLIENT_ID)
                    .form_urlencoded_tuple("client_secret", SECRET)
                    .form_urlencoded_tuple("scope", scope);
                then.status(status)
                    .header("content-type", "application/json; charset=utf-8")
                    .body(body);
            })
            .await
    }

    pub async fn token_ok(&self) -> Mock<'_> {
        self.token_mock(200, "token_success.json").await
    }

    /// A Graph `GET` of `path` with exactly these decoded query parameters (and no `$skiptoken`), carrying
    /// the bearer token, answered with `fixture`.
    pub async fn graph_get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        status: u16,
        fixture: &str,
    ) -> Mock<'_> {
        self.graph_reply(path, query, Reply::new(status, self.fixture(fixture)))
            .await
    }

    /// Like [`Env::graph_get`] with a constructed reply.
    pub async fn graph_reply(&self, path: &str, query: &[(&str, &str)], reply: Reply) -> Mock<'_> {
        let auth = format!("Bearer {}", self.token());
        let matcher = query_is(query);
        let path = path.to_owned();
        let mock = self
            .graph
            .mock_async(|when, then| {
                let mut when = when
                    .method(GET)
                    .path(path)
                    .header("authorization", auth)
                    .is_true(matcher);
                for (name, value) in &reply.requires {
                    when = when.header(name.as_str(), value.as_str());
                }
                let mut then = then
                    .status(reply.status)
                    .header("content-type", "application/json; charset=utf-8");
                for (name, value) in &reply.headers {
                    then = then.header(name.as_str(), value.as_str());
                }
                then.body(reply.body);
            })
            .await;
        if let Some(n) = reply.times {
            mock.up_to_n_times_async(n).await;
        }
        mock
    }

    /// A Graph `GET` whose raw request target (path and query, still percent-encoded) is exactly
    /// `target`: proves a next link was followed as given.
    pub async fn graph_exact(&self, target: &str, status: u16, fixture: &str) -> Mock<'_> {
        self.graph_exact_reply(target, Reply::new(status, self.fixture(fixture)))
            .await
    }

    /// [`Env::graph_exact`] answering 200 with `body`.
    pub async fn graph_exact_body(&self, target: &str, body: String) -> Mock<'_> {
        self.graph_exact_reply(target, Reply::new(200, body)).await
    }

    /// [`Env::graph_exact`] with a constructed reply.
    pub async fn graph_exact_reply(&self, target: &str, reply: Reply) -> Mock<'_> {
        let auth = format!("Bearer {}", self.token());
        let target = target.to_owned();
        self.graph
            .mock_async(|when, then| {
                let mut when = when
                    .method(GET)
                    .header("authorization", auth)
                    .is_true(move |req| {
                        req.uri()
                            .path_and_query()
                            .is_some_and(|pq| pq.as_str() == target)
                    });
                for (name, value) in &reply.requires {
                    when = when.header(name.as_str(), value.as_str());
                }
                then.status(reply.status)
                    .header("content-type", "application/json; charset=utf-8")
                    .body(reply.body);
            })
            .await
    }

    /// The request target of a fixture's `@odata.nextLink` (path and query as given).
    pub fn next_link_target(&self, fixture: &str) -> String {
        let link = self.fixture_json(fixture)["@odata.nextLink"]
            .as_str()
            .unwrap()
            .to_owned();
        link.strip_prefix(&self.graph_root()).unwrap().to_owned()
    }

    /// Registers the catch-alls. Call after every expected mock.
    pub async fn seal(&self) -> Sealed<'_> {
        Sealed {
            login: catch_all(&self.login).await,
            graph: catch_all(&self.graph).await,
        }
    }
}

/// `count` managed devices in the documented wire shape, ids and serials numbered from `from`.
pub fn generated_devices(from: usize, count: usize) -> Vec<serde_json::Value> {
    (from..from + count)
        .map(|i| {
            serde_json::json!({
                "id": format!("00000000-0000-4000-8000-{i:012}"),
                "deviceName": format!("LAPTOP-{i:05}"),
                "serialNumber": format!("SN{i:08}"),
                "userId": "",
                "userDisplayName": "",
                "azureADDeviceId": "00000000-0000-0000-0000-000000000000"
            })
        })
        .collect()
}

/// A managedDevices collection page with an optional next link.
pub fn device_page(rows: Vec<serde_json::Value>, next_link: Option<String>) -> String {
    let mut page = serde_json::json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#deviceManagement/managedDevices",
        "value": rows
    });
    if let Some(link) = next_link {
        page["@odata.nextLink"] = serde_json::Value::String(link);
    }
    page.to_string()
}
