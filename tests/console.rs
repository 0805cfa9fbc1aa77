//! The console example over HTTP: CSRF protection, validation, escaping, secrets never echoed, synced
//! groups read-only, and the scheduler running inside the server. (`console_browser.rs` drives the same
//! console through a real browser.)

#[path = "../examples/console/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../examples/console/pages.rs"]
mod pages;
#[path = "../examples/console/session.rs"]
mod session;
#[path = "support/console.rs"]
#[allow(dead_code)]
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use mdmkit::sync::{Plan, WorkspaceId};
use mdmkit::ProviderKind;
use mdmkit_sandbox::Access;
use reqwest::StatusCode;
use support::{scheduler, Harness};

/// A person's browser, reduced to what the tests need: one session cookie and its CSRF token.
struct Client {
    http: reqwest::Client,
    base: String,
    csrf: String,
}

fn csrf_of(page: &str) -> String {
    let start = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token")
        + 19;
    page[start..start + 64].to_owned()
}

impl Client {
    async fn new(base: &str) -> Client {
        let first = reqwest::get(format!("{base}/settings")).await.unwrap();
        let cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let csrf = csrf_of(&first.text().await.unwrap());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("cookie", cookie.parse().unwrap());
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap();
        Client {
            http,
            base: base.to_owned(),
            csrf,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts a form with the session's CSRF token, following the redirect to the next page.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut form: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        form.extend_from_slice(fields);
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn connect_jamf(&self, harness: &Harness, access: Access) -> (StatusCode, String) {
        let field = |key| harness.credential(ProviderKind::Jamf, access, key);
        let (host, id, secret) = (field("host"), field("client_id"), field("client_secret"));
        self.post(
            "/settings",
            &[
                ("provider", "jamf"),
                ("host", &host),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await
    }
}

fn workspace() -> WorkspaceId {
    WorkspaceId::new(app::WORKSPACE)
}

/// The check is the router's, not each handler's: every route a form posts to refuses a post without a
/// session, with another session's token, with a wrong one, with none, and with one sent as JSON, whatever
/// else the form holds; nothing happens, and the session's own token gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_needs_its_sessions_csrf_token() {
    let harness = Harness::start(scheduler(Duration::from_secs(3600))).await;
    let person = Client::new(&harness.base).await;
    let other = Client::new(&harness.base).await;
    let jamf = |key| harness.credential(ProviderKind::Jamf, Access::Full, key);
    let (host, id, secret) = (jamf("host"), jamf("client_id"), jamf("client_secret"));
    let posts: [(&str, Vec<(&str, &str)>); 10] = [
        (
            "/settings",
            vec![
                ("provider", "jamf"),
                ("host", &host),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        ),
        ("/settings/disconnect", vec![]),
        ("/devices/add", vec![("serials", "C02NEWDEVICE1")]),
        ("/devices/remove", vec![("serial", "NOTINTHEMDM1")]),
        ("/groups/sync", vec![]),
        ("/groups/create", vec![("name", "Forged")]),
        ("/groups/edit", vec![("id", "1"), ("name", "Forged")]),
        ("/groups/delete", vec![("id", "1")]),
        ("/plan", vec![("plan", "Pro")]),
        ("/plan", vec![("plan", "Enterprise")]),
    ];
    // Every route the router serves for forms is tried, and nothing else.
    let routes: BTreeSet<&str> = app::form_routes().into_iter().map(|(p, _)| p).collect();
    let tried: BTreeSet<&str> = posts.iter().map(|(p, _)| *p).collect();
    assert_eq!(tried, routes);
    let wrong = "0".repeat(person.csrf.len());
    let http = reqwest::Client::new();
    for (path, fields) in &posts {
        let url = format!("{}{path}", harness.base);
        // No session at all (a forged cross-site post without the cookie).
        let mut with_token: Vec<(&str, &str)> = vec![("csrf", &person.csrf)];
        with_token.extend_from_slice(fields);
        let r = http.post(&url).form(&with_token).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path} without a session"
        );
        // The right session with another session's token, a wrong one, an empty one and none.
        for token in [Some(other.csrf.as_str()), Some(&wrong), Some(""), None] {
            let mut form: Vec<(&str, &str)> = token.map(|t| ("csrf", t)).into_iter().collect();
            form.extend_from_slice(fields);
            let r = person.http.post(&url).form(&form).send().await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "{path} with token {token:?}"
            );
            assert!(r.text().await.unwrap().contains("this form expired"));
        }
        // The token travels in the form only: a body that is no form carries none.
        let r = person
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(format!(r#"{{"csrf":"{}"}}"#, person.csrf))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} as JSON");
    }
    // Nothing happened.
    let sync = &harness.running.console.sync;
    assert!(sync.connection_info(&workspace()).await.unwrap().is_none());
    assert_eq!(sync.state(&workspace()).await.unwrap().plan, Plan::Free);
    assert!(sync.groups(&workspace()).await.unwrap().is_empty());
    assert_eq!(sync.devices(&workspace()).await.unwrap().len(), 11);
    // The same post with the session's own token works.
    let (status, page) = person.post("/plan", &[("plan", "Pro")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("The plan is now Pro."), "{page}");
    // And with it every route reaches its handler (which answers a bare form with a message).
    for path in &routes {
        assert_eq!(person.post(path, &[]).await.0, StatusCode::OK, "{path}");
    }
    // Reading needs no token.
    for page in ["/settings", "/devices", "/groups"] {
        assert_eq!(person.get(page).await.0, StatusCode::OK, "{page}");
    }
    harness.stop().await;
}

/// The command line: defaults, every option, `DATABASE_URL` overridden by `--database-url`, and errors
/// that name the argument.
#[test]
fn arguments_are_parsed_into_options() {
    use app::{parse_args, Command, Options};
    let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let defaults = Options {
        listen: "127.0.0.1:8080".parse().unwrap(),
        database_url: None,
        sandbox_port: Some(app::SANDBOX_PORT),
    };
    assert_eq!(
        parse_args(args(&[]), None),
        Ok(Command::Run(defaults.clone()))
    );
    assert_eq!(
        parse_args(
            args(&[
                "--listen",
                "0.0.0.0:9000",
                "--database-url",
                "postgres://postgres@127.0.0.1/test",
                "--sandbox-port",
                "47400",
            ]),
            Some("sqlite://ignored.db".into()),
        ),
        Ok(Command::Run(Options {
            listen: "0.0.0.0:9000".parse().unwrap(),
            database_url: Some("postgres://postgres@127.0.0.1/test".into()),
            sandbox_port: Some(47_400),
        }))
    );
    assert_eq!(
        parse_args(args(&["--no-sandbox"]), Some("sqlite://from-env.db".into())),
        Ok(Command::Run(Options {
            database_url: Some("sqlite://from-env.db".into()),
            sandbox_port: None,
            ..defaults
        }))
    );
    for help in ["-h", "--help"] {
        assert_eq!(
            parse_args(args(&["--no-sandbox", help]), None),
            Ok(Command::Help)
        );
    }
    assert!(app::USAGE.starts_with("usage: console [--listen ADDR]"));
    let error = |list: &[&str]| parse_args(args(list), None).unwrap_err();
    assert_eq!(
        error(&["--listen"]),
        "--listen needs a value: --listen ADDR"
    );
    assert!(error(&["--listen", "localhost"]).starts_with("--listen \"localhost\": "));
    assert!(error(&["--sandbox-port", "70000"]).starts_with("--sandbox-port \"70000\": "));
    assert_eq!(
        error(&["--database-url"]),
        "--database-url needs a value: --database-url URL"
    );
    assert_eq!(
        error(&["--verbose"]),
        "unknown argument \"--verbose\" (try --help)"
    );
}

/// The line printed at start names the address the console serves, as a URL a browser opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_startup_line_points_at_the_console() {
    let harness = Harness::start(scheduler(Duration::from_secs(3600))).await;
    let line = app::startup_line(harness.running.addr);
    assert_eq!(line, format!("console: {}/", harness.base));
    let url = line.strip_prefix("console: ").unwrap();
    let page = reqwest::get(url).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<h1>MDM settings</h1>"));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_validate_save_only_what_works_and_never_show_secrets() {
    let harness = Harness::start(scheduler(Duration::from_secs(3600))).await;
    let person = Client::new(&harness.base).await;
    let sync = &harness.running.console.sync;

    // Exactly R1's fields with mdmkit-core's labels, per provider.
    for kind in ProviderKind::ALL {
        let (_, page) = person
            .get(&format!("/settings?provider={}", kind.id()))
            .await;
        for field in kind.credential_fields() {
            assert!(
                page.contains(&format!("<label>{}<br>", field.label)),
                "{kind}: {page}"
            );
        }
        assert_eq!(
            page.matches("<label>").count(),
            kind.credential_fields().len() + usize::from(!kind.requires_host()),
            "{kind}"
        );
    }

    // A blank field: the configuration's own message, nothing asked of the MDM.
    let before = harness.sandbox.request_count(ProviderKind::Jamf);
    let (status, page) = person
        .post(
            "/settings",
            &[
                ("provider", "jamf"),
                ("host", "https://acme.jamfcloud.com"),
                ("client_id", " "),
                ("client_secret", "x"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("API Client ID is required"), "{page}");
    assert!(
        page.contains(r#"<strong class="category">Check the API Client ID field</strong>"#),
        "{page}"
    );
    assert_eq!(harness.sandbox.request_count(ProviderKind::Jamf), before);

    // A typed host on a private network is refused (the sandbox's own address is the only exception).
    let (status, page) = person
        .post(
            "/settings",
            &[
                ("provider", "fleet"),
                ("host", "http://10.1.2.3:8080"),
                ("api_token", "t"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains(r#"<strong class="category">Check the Host field</strong>: plain http:// is refused for 10.1.2.3"#),
        "the field to fix, in words: {page}"
    );
    assert!(
        page.contains("value=\"http://10.1.2.3:8080\""),
        "the host is shown again: {page}"
    );

    // A wrong secret: R8's category and meaning, nothing saved, the secret not echoed.
    let (status, page) = person.connect_jamf(&harness, Access::WrongSecret).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(r#"<strong class="category">Unauthorized</strong>: the API token or credentials are invalid or expired. Nothing was saved."#), "{page}");
    assert!(!page.contains(&harness.credential(
        ProviderKind::Jamf,
        Access::WrongSecret,
        "client_secret"
    )));
    assert!(sync.connection_info(&workspace()).await.unwrap().is_none());

    // Credentials without device access: Forbidden.
    let (_, page) = person.connect_jamf(&harness, Access::NoDeviceRead).await;
    assert!(
        page.contains(r#"<strong class="category">Forbidden</strong>"#),
        "{page}"
    );
    assert!(sync.connection_info(&workspace()).await.unwrap().is_none());

    // The right ones: saved, and the settings page names the provider but never the secret.
    let (status, page) = person.connect_jamf(&harness, Access::Full).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Connected to Jamf."), "{page}");
    let secret = harness.credential(ProviderKind::Jamf, Access::Full, "client_secret");
    let (_, settings) = person.get("/settings").await;
    assert!(
        settings.contains(r#"<strong id="connected-provider">Jamf</strong>"#),
        "{settings}"
    );
    assert!(settings.contains(r#"id="disconnect""#));
    assert!(!settings.contains(&secret), "{settings}");
    // The saved host and client ID fill the form again; the secret field stays empty.
    let host = harness.credential(ProviderKind::Jamf, Access::Full, "host");
    let client_id = harness.credential(ProviderKind::Jamf, Access::Full, "client_id");
    for (key, value) in [("host", &host), ("client_id", &client_id)] {
        let input = format!(r#"name="{key}" id="{key}" value="{value}""#);
        assert!(settings.contains(&input), "{input} in {settings}");
    }
    assert!(settings.contains(
        r#"<input type="password" name="client_secret" id="client_secret" autocomplete="off" required>"#
    ));
    // Another provider's form starts empty.
    let (_, fleet) = person.get("/settings?provider=fleet").await;
    assert!(
        fleet.contains(r#"name="host" id="host" value="" required"#),
        "{fleet}"
    );
    assert!(!page.contains(&secret));
    let saved = sync.connection_info(&workspace()).await.unwrap().unwrap();
    assert_eq!(saved.provider, ProviderKind::Jamf);
    // When the credentials were saved, to the second, in place of any secret.
    let saved_at = saved.saved_at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    assert!(
        settings.contains(&format!("(credentials saved {saved_at}, sealed with key ")),
        "{settings}"
    );

    // A host-less provider reaches the sandbox only when asked to.
    let key = harness.credential(ProviderKind::SimpleMdm, Access::Full, "api_key");
    let before = harness.sandbox.request_count(ProviderKind::SimpleMdm);
    let (_, page) = person
        .post(
            "/settings",
            &[
                ("provider", "simplemdm"),
                ("api_key", &key),
                ("sandbox_endpoint", "on"),
            ],
        )
        .await;
    assert!(page.contains("Connected to SimpleMDM."), "{page}");
    assert!(harness.sandbox.request_count(ProviderKind::SimpleMdm) > before);

    // Disconnect.
    let (_, page) = person.post("/settings/disconnect", &[]).await;
    assert!(page.contains("Disconnected"), "{page}");
    assert!(sync.connection_info(&workspace()).await.unwrap().is_none());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_and_groups_validate_escape_and_keep_synced_groups_read_only() {
    let harness = Harness::start(scheduler(Duration::from_secs(3600))).await;
    let person = Client::new(&harness.base).await;
    person.connect_jamf(&harness, Access::Full).await;

    // Serial numbers are validated, every bad one named.
    let (_, page) = person.post("/devices/add", &[("serials", "  ")]).await;
    assert!(page.contains("Type at least one serial number."), "{page}");
    let (_, page) = person
        .post(
            "/devices/add",
            &[("serials", "C02GOODONE12, To be filled by O.E.M.")],
        )
        .await;
    assert!(
        page.contains("Not a usable serial number: &quot;To be filled by O.E.M.&quot;"),
        "{page}"
    );
    assert!(
        !page.contains("C02GOODONE12"),
        "nothing is added when one is bad: {page}"
    );
    let (_, page) = person
        .post("/devices/add", &[("serials", "c02goodone12\nNOTINTHEMDM1")])
        .await;
    assert!(
        page.contains("1 devices added (1 already known)."),
        "{page}"
    );
    assert!(page.contains(r#"data-serial="C02GOODONE12""#), "{page}");
    let (_, page) = person
        .post("/devices/remove", &[("serial", "C02GOODONE12")])
        .await;
    assert!(page.contains("Removed C02GOODONE12."), "{page}");
    assert!(!page.contains(r#"data-serial="C02GOODONE12""#), "{page}");

    // What people type comes back escaped: a search and a group name.
    let (_, page) = person
        .get("/devices?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"), "{page}");
    let (_, page) = person
        .post(
            "/groups/create",
            &[("name", "<img src=x onerror=alert(1)>")],
        )
        .await;
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(!page.contains("<img src=x"), "{page}");
    let (_, page) = person.post("/groups/create", &[("name", " ")]).await;
    assert!(page.contains("A group needs a name."), "{page}");

    // A manual group is editable; its members are validated serials.
    let sync = &harness.running.console.sync;
    let manual = sync.groups(&workspace()).await.unwrap().pop().unwrap();
    let id = manual.id.as_str().to_owned();
    let (_, page) = person
        .post(
            "/groups/edit",
            &[
                ("id", &id),
                ("name", "Design team"),
                ("members", "NOTINTHEMDM1"),
            ],
        )
        .await;
    assert!(page.contains("Saved Design team (1 members)."), "{page}");

    // Synced groups are read-only, whatever the form says.
    person.post("/plan", &[("plan", "Pro")]).await;
    let (_, page) = person.post("/groups/sync", &[]).await;
    assert!(page.contains("Managed by Jamf"), "{page}");
    let synced = sync
        .groups(&workspace())
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.is_synced())
        .unwrap();
    let (_, page) = person
        .post(
            "/groups/edit",
            &[
                ("id", synced.id.as_str()),
                ("name", "Renamed"),
                ("members", ""),
            ],
        )
        .await;
    assert!(
        page.contains("is Managed by Jamf: its name and members come from the MDM."),
        "{page}"
    );
    let (_, page) = person
        .post("/groups/delete", &[("id", synced.id.as_str())])
        .await;
    assert!(page.contains("is Managed by Jamf"), "{page}");
    let after = sync
        .stores()
        .groups
        .group(&workspace(), &synced.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, synced);
    harness.stop().await;
}

/// What the MDM sends is shown as text too: a device name and a group name holding markup come back escaped
/// on the devices and groups pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_from_the_mdm_are_escaped() {
    const DEVICE: &str = "<b onmouseover=alert(1)>Kiosk</b>";
    const GROUP: &str = "<script>alert(2)</script> Lab";
    let harness = Harness::start(scheduler(Duration::from_secs(3600))).await;
    harness.sandbox.mutate(|fleet| {
        let device = *fleet.devices.keys().next().unwrap();
        fleet.assign_user(device, None);
        fleet.rename_device(device, DEVICE);
        let group = *fleet.groups.keys().next().unwrap();
        fleet.rename_group(group, GROUP);
    });
    let person = Client::new(&harness.base).await;
    person.connect_jamf(&harness, Access::Full).await;
    person.post("/plan", &[("plan", "Pro")]).await;
    person.post("/groups/sync", &[]).await;

    let (_, devices) = person.get("/devices").await;
    assert!(
        devices.contains("&lt;b onmouseover=alert(1)&gt;Kiosk&lt;/b&gt;"),
        "{devices}"
    );
    assert!(!devices.contains("<b onmouseover"), "{devices}");
    let (_, groups) = person.get("/groups").await;
    assert!(
        groups.contains("&lt;script&gt;alert(2)&lt;/script&gt; Lab"),
        "{groups}"
    );
    assert!(!groups.contains("<script>alert(2)"), "{groups}");
    harness.stop().await;
}

/// Nobody presses "Sync now": the scheduler inside the server syncs the groups once the plan allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_runs_inside_the_server() {
    let harness = Harness::start(scheduler(Duration::from_millis(100))).await;
    let person = Client::new(&harness.base).await;
    let (_, page) = person.connect_jamf(&harness, Access::Full).await;
    assert!(
        page.contains("Groups are not synced on the Free plan."),
        "{page}"
    );
    person.post("/plan", &[("plan", "Pro")]).await;
    let mut page = String::new();
    for _ in 0..100 {
        page = person.get("/groups").await.1;
        if page.contains("Managed by Jamf") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page.contains("Managed by Jamf"), "{page}");
    assert!(
        page.contains(r#"<span id="last-manual-sync">never</span>"#),
        "{page}"
    );
    harness.stop().await;
}

/// The README's "Embedding in your backend" snippets are the example's own code: every `rust` block
/// between the section's markers appears, line for line (indentation aside), in one of the example's files.
#[test]
fn readme_embedding_snippets_are_the_examples_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("<!-- embedding:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- embedding:end -->").next())
        .expect("the README's embedding markers");
    let sources: Vec<Vec<String>> = ["main.rs", "app.rs", "pages.rs", "session.rs"]
        .iter()
        .map(|file| {
            std::fs::read_to_string(root.join("examples/console").join(file))
                .unwrap()
                .lines()
                .map(|l| l.trim().to_owned())
                .collect()
        })
        .collect();
    let mut blocks = 0;
    for block in section.split("```rust,ignore\n").skip(1) {
        let code = block.split("```").next().unwrap();
        let lines: Vec<String> = code
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        assert!(!lines.is_empty());
        let found = sources
            .iter()
            .any(|source| source.windows(lines.len()).any(|w| w == lines.as_slice()));
        assert!(found, "README snippet not in examples/console:\n{code}");
        blocks += 1;
    }
    assert!(blocks >= 5, "{blocks} snippets");
}
