//! The console example driven through headless Chromium (Debian's `chromium` and `chromium-driver`), the
//! way a person uses it, against the in-process sandbox: the scenario of the console's issue, step by
//! step, with a screenshot of each page under `target/console-screenshots/`.
//!
//! Without Chromium and chromedriver the test is skipped with a message, except under `CI=true`, where it
//! fails (`.ci/run` installs them). `CHROMEDRIVER` and `CHROME_BIN` override where they are looked for.

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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use mdmkit::sync::WorkspaceId;
use mdmkit::ProviderKind;
use mdmkit_sandbox::Access;
use support::{scheduler, Harness};

/// chromedriver, stopped when the test ends however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(env: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    path.is_file().then_some(path)
}

/// chromedriver and Chromium, or `None` (after saying why) when the test should be skipped.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let found = (
        tool("CHROMEDRIVER", "/usr/bin/chromedriver"),
        tool("CHROME_BIN", "/usr/bin/chromium"),
    );
    match found {
        (Some(driver), Some(chrome)) => Some((driver, chrome)),
        _ => {
            let message =
                "console browser test: chromium and chromedriver not found (apt-get install \
                           chromium chromium-driver, or set CHROME_BIN and CHROMEDRIVER)";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
            eprintln!("skipped: {message}");
            None
        }
    }
}

async fn start_driver(driver: &Path) -> (Driver, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (driver, port)
}

async fn open_browser(chrome: &Path, port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chrome,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--no-first-run", "--disable-extensions"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session")
}

/// What a test does in the browser, with screenshots.
struct Person {
    browser: Client,
    base: String,
    shots: PathBuf,
    taken: usize,
}

impl Person {
    async fn goto(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn screenshot(&mut self, name: &str) {
        self.taken += 1;
        let png = self.browser.screenshot().await.unwrap();
        std::fs::write(
            self.shots.join(format!("{:02}-{name}.png", self.taken)),
            png,
        )
        .unwrap();
    }

    /// Waits until the element `css` exists and its text contains `needle`; returns the text.
    async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = match self.browser.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline {
                let url = self.browser.current_url().await.unwrap();
                panic!("{css} never contained {needle:?} at {url}; last text: {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.browser.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.browser
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// The devices table: serial → (display name, link text, link URL).
    async fn device_rows(&self) -> Vec<(String, String, String, Option<String>)> {
        let mut rows = Vec::new();
        for row in self
            .browser
            .find_all(Locator::Css("tr.device"))
            .await
            .unwrap()
        {
            let cell = |css: &'static str| {
                let row = row.clone();
                async move {
                    row.find(Locator::Css(css))
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                }
            };
            let href = match row.find(Locator::Css("td.link a")).await {
                Ok(a) => a.attr("href").await.unwrap(),
                Err(_) => None,
            };
            rows.push((
                cell(".serial").await,
                cell(".display-name").await,
                cell(".link").await,
                href,
            ));
        }
        rows
    }

    /// The groups table: (name, source label).
    async fn group_rows(&self) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        for row in self
            .browser
            .find_all(Locator::Css("tr.group"))
            .await
            .unwrap()
        {
            let name = row
                .find(Locator::Css(".name"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let source = row
                .find(Locator::Css(".source"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            rows.push((name, source));
        }
        rows
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_connects_jamf_searches_syncs_groups_and_switches_provider() {
    let Some((driver_path, chrome)) = browser_tools() else {
        return;
    };
    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();

    // Hourly ticks: the scheduler runs (once at start, with nothing connected) but never in the middle of
    // what the person clicks.
    let harness = Harness::start(scheduler(Duration::from_secs(3600))).await;
    let (_driver, port) = start_driver(&driver_path).await;
    let mut person = Person {
        browser: open_browser(&chrome, port).await,
        base: harness.base.clone(),
        shots,
        taken: 0,
    };
    let sync = harness.running.console.sync.clone();
    let workspace = WorkspaceId::new(app::WORKSPACE);
    let jamf = |access, key| harness.credential(ProviderKind::Jamf, access, key);

    // 1. Jamf with a wrong secret: "Unauthorized", nothing saved.
    person.goto("/settings?provider=jamf").await;
    person.type_into("#host", &jamf(Access::Full, "host")).await;
    person
        .type_into("#client_id", &jamf(Access::Full, "client_id"))
        .await;
    person
        .type_into(
            "#client_secret",
            &jamf(Access::WrongSecret, "client_secret"),
        )
        .await;
    person.click("#save").await;
    let error = person.wait_text("#settings-error", "Unauthorized").await;
    assert!(
        error.contains("invalid or expired") && error.contains("Nothing was saved"),
        "{error}"
    );
    assert!(sync.connection_info(&workspace).await.unwrap().is_none());
    let secret_box = person
        .browser
        .find(Locator::Css("#client_secret"))
        .await
        .unwrap();
    assert_eq!(
        secret_box.prop("value").await.unwrap().as_deref(),
        Some(""),
        "the secret is not sent back"
    );
    person.screenshot("settings-unauthorized").await;

    // 2. The right secret: the devices page lists the sandbox's devices with their display names and
    //    working "View on Jamf" links.
    person
        .type_into("#client_secret", &jamf(Access::Full, "client_secret"))
        .await;
    person.click("#save").await;
    person.wait_text("#flash", "Connected to Jamf.").await;
    assert_eq!(
        sync.connection_info(&workspace)
            .await
            .unwrap()
            .unwrap()
            .provider,
        ProviderKind::Jamf
    );
    let rows = person.device_rows().await;
    let expected = harness.sandbox.expected_devices(ProviderKind::Jamf);
    assert_eq!(
        rows.len(),
        expected.len() + 1,
        "the sandbox's devices and one it does not know"
    );
    for device in &expected {
        let row = rows
            .iter()
            .find(|r| r.0 == device.serial_number)
            .unwrap_or_else(|| panic!("{} listed", device.serial_number));
        assert_eq!(row.1, device.display_name);
        assert_eq!(row.2, "View on Jamf");
    }
    let unknown = rows.iter().find(|r| r.0 == "NOTINTHEMDM1").unwrap();
    assert_eq!(
        (unknown.1.as_str(), unknown.2.as_str()),
        ("—", "not in the MDM")
    );
    person.screenshot("devices").await;

    // Follow one link: it opens the device's record in (the sandbox's) Jamf in a new tab.
    let followed = &expected[0];
    let console_tab = person.browser.window().await.unwrap();
    person
        .click(&format!(
            "tr[data-serial=\"{}\"] td.link a",
            followed.serial_number
        ))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let jamf_tab = loop {
        let windows = person.browser.windows().await.unwrap();
        if let Some(w) = windows.into_iter().find(|w| *w != console_tab) {
            break w;
        }
        assert!(Instant::now() < deadline, "the link opened no tab");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    person.browser.switch_to_window(jamf_tab).await.unwrap();
    person.wait_text("#serial", &followed.serial_number).await;
    person.wait_text("#device-id", &followed.device_id).await;
    let url = person.browser.current_url().await.unwrap();
    assert_eq!(
        url.origin(),
        harness.sandbox.url(ProviderKind::Jamf).origin()
    );
    assert_eq!(url.path(), "/computers.html");
    person.screenshot("jamf-device-record").await;
    person.browser.close_window().await.unwrap();
    person.browser.switch_to_window(console_tab).await.unwrap();

    // 3. Search by part of a user's name: only that user's devices remain. The part is a word of the
    //    user's name found in no other display name.
    let fleet = harness.sandbox.fleet();
    let (part, owned) = fleet
        .users
        .values()
        .find_map(|user| {
            let owned: BTreeSet<String> = fleet
                .devices
                .values()
                .filter(|d| d.user == Some(user.index))
                .map(|d| d.serial.clone())
                .collect();
            let part = user.full_name.split(' ').next_back()?.to_owned();
            let part = part
                .chars()
                .take(part.chars().count().max(4) - 1)
                .collect::<String>();
            let others = expected
                .iter()
                .filter(|d| !owned.contains(&d.serial_number))
                .any(|d| d.display_name.to_lowercase().contains(&part.to_lowercase()));
            (!owned.is_empty() && !others).then_some((part, owned))
        })
        .expect("a user with devices and a distinctive name");
    person.type_into("#q", &part.to_lowercase()).await;
    person.click("#search").await;
    person.wait_text("#device-count", "devices match").await;
    let found: BTreeSet<String> = person
        .device_rows()
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(found, owned, "searching {part:?}");
    person.screenshot("devices-search").await;

    // 4. Plan → Pro, "Sync now": the synced groups appear, labelled "Managed by Jamf".
    person.click("nav a[href='/groups']").await;
    person.wait_text("#plan-name", "Free").await;
    person
        .browser
        .find(Locator::Css("#plan-select"))
        .await
        .unwrap()
        .select_by_value("Pro")
        .await
        .unwrap();
    person.click("#set-plan").await;
    person.wait_text("#flash", "The plan is now Pro.").await;
    person.click("#sync-now").await;
    person.wait_text("#flash", "Synced").await;
    let jamf_groups = harness.sandbox.expected_groups(ProviderKind::Jamf);
    let groups = person.group_rows().await;
    assert_eq!(groups.len(), jamf_groups.len());
    for group in &jamf_groups {
        assert!(
            groups.contains(&(group.name.clone(), "Managed by Jamf".to_owned())),
            "{} in {groups:?}",
            group.name
        );
    }
    let last_sync = person.wait_text("#last-sync", "UTC").await;
    person.screenshot("groups-synced").await;

    // A second "Sync now": the cooldown message, and nothing synced.
    person.click("#sync-now").await;
    let cooldown = person
        .wait_text("#flash.error", "at most one every 15 minutes")
        .await;
    assert!(
        cooldown.contains("the next one is allowed at"),
        "{cooldown}"
    );
    assert_eq!(person.wait_text("#last-sync", "UTC").await, last_sync);
    person.screenshot("groups-cooldown").await;

    // 5. Another provider: metadata cleared and fetched again from it (R9), Jamf's groups detached.
    let fleet_field = |key| harness.credential(ProviderKind::Fleet, Access::Full, key);
    person.goto("/settings").await;
    person.click("#provider-fleet").await;
    person.wait_text("label", "Host").await;
    person.type_into("#host", &fleet_field("host")).await;
    person
        .type_into("#api_token", &fleet_field("api_token"))
        .await;
    person.click("#save").await;
    person.wait_text("#flash", "Connected to Fleet.").await;
    let rows = person.device_rows().await;
    for device in harness.sandbox.expected_devices(ProviderKind::Fleet) {
        let row = rows.iter().find(|r| r.0 == device.serial_number).unwrap();
        assert_eq!(row.2, "View on Fleet", "{row:?}");
        assert!(
            row.1 == device.display_name || row.1 == device.list_display_name,
            "{row:?} vs {device:?}"
        );
        let expected_url =
            mdmkit::links::fleet_host(harness.sandbox.url(ProviderKind::Fleet), &device.device_id)
                .unwrap();
        assert_eq!(row.3.as_deref(), Some(expected_url.as_str()));
    }
    person.screenshot("devices-after-switch").await;
    person.goto("/settings").await;
    person.wait_text("#connected-provider", "Fleet").await;
    person.screenshot("settings-connected-fleet").await;
    person.click("nav a[href='/groups']").await;
    person.wait_text("#plan-name", "Pro").await;
    let groups = person.group_rows().await;
    assert!(
        groups.iter().all(|g| g.1 != "Managed by Jamf"),
        "{groups:?}"
    );
    for group in &jamf_groups {
        assert!(
            groups.contains(&(group.name.clone(), "Editable".to_owned())),
            "{} detached in {groups:?}",
            group.name
        );
    }
    let fleet_groups = groups.iter().filter(|g| g.1 == "Managed by Fleet").count();
    assert_eq!(
        fleet_groups,
        harness.sandbox.expected_groups(ProviderKind::Fleet).len()
    );
    person.screenshot("groups-after-switch").await;

    person.browser.close().await.unwrap();
    harness.stop().await;
}
