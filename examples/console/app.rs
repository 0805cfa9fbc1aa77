//! The console's wiring and handlers: one [`Console`] per process, shared by every request.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use maud::Markup;
use mdmkit::http::ClientOptions;
use mdmkit::sync::{
    Clock, Error as SyncError, GroupId, GroupSyncOutcome, MdmSync, NewGroup, Plan, Scheduler,
    SchedulerConfig, Stores, Vault, WorkspaceId,
};
use mdmkit::{ErrorKind, MdmProvider, ProviderConfig, ProviderKind, SerialNumber, Url};
use mdmkit_sandbox::Sandbox;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::pages::{self, Nav, SettingsError, SettingsForm};
use crate::session::{Current, Flash, Sessions};

/// The one workspace this console manages (a multi-tenant backend takes it from the signed-in user).
pub(crate) const WORKSPACE: &str = "console";
/// The most serial numbers one "Add devices" form may carry.
const MAX_SERIALS_PER_FORM: usize = 1_000;
/// The longest group name accepted.
const MAX_GROUP_NAME: usize = 200;

/// The sandbox's first port: fixed, so saved connections to it still work after a restart.
pub(crate) const SANDBOX_PORT: u16 = 47_330;
/// What `--help` prints.
pub(crate) const USAGE: &str =
    "usage: console [--listen ADDR] [--database-url URL] [--sandbox-port N | --no-sandbox]";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Serve with these options.
    Run(Options),
    /// Print [`USAGE`] and stop.
    Help,
}

/// How to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) listen: SocketAddr,
    /// `None`: a SQLite file in the system's temporary directory.
    pub(crate) database_url: Option<String>,
    /// Where the in-process sandbox starts; `None` runs without it.
    pub(crate) sandbox_port: Option<u16>,
}

/// Reads the arguments after the program's name. `database_url` is `DATABASE_URL`'s value, which
/// `--database-url` overrides.
pub(crate) fn parse_args(
    args: impl IntoIterator<Item = String>,
    database_url: Option<String>,
) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut options = Options {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        database_url,
        sandbox_port: Some(SANDBOX_PORT),
    };
    while let Some(arg) = args.next() {
        let mut value = |what: &str| {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value: {arg} {what}"))
        };
        match arg.as_str() {
            "--listen" => {
                let addr = value("ADDR")?;
                options.listen = addr
                    .parse()
                    .map_err(|e| format!("--listen {addr:?}: {e}"))?;
            }
            "--database-url" => options.database_url = Some(value("URL")?),
            "--sandbox-port" => {
                let port = value("N")?;
                options.sandbox_port = Some(
                    port.parse()
                        .map_err(|e| format!("--sandbox-port {port:?}: {e}"))?,
                );
            }
            "--no-sandbox" => options.sandbox_port = None,
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(Command::Run(options))
}

/// The line printed once the console accepts connections: where to point a browser.
pub(crate) fn startup_line(addr: SocketAddr) -> String {
    format!("console: http://{addr}/")
}

/// Where the in-process sandbox listens, and the client options that may reach it.
#[derive(Debug, Clone)]
pub(crate) struct SandboxEndpoints {
    urls: BTreeMap<ProviderKind, Url>,
    options: ClientOptions,
}

impl SandboxEndpoints {
    /// The endpoints of a running sandbox.
    pub(crate) fn of(sandbox: &Sandbox) -> Self {
        SandboxEndpoints {
            urls: sandbox.urls().map(|(k, u)| (k, u.clone())).collect(),
            options: sandbox.client_options(),
        }
    }

    /// Whether every endpoint of `config` is the sandbox (same scheme, host and port).
    fn serves(&self, config: &ProviderConfig) -> bool {
        let endpoints = endpoints(config);
        !endpoints.is_empty()
            && endpoints
                .iter()
                .all(|e| self.urls.values().any(|u| u.origin() == e.origin()))
    }
}

/// Every URL a configuration makes requests to.
fn endpoints(config: &ProviderConfig) -> Vec<Url> {
    match config {
        ProviderConfig::Jamf(c) => vec![c.base_url.clone()],
        ProviderConfig::Iru(c) => vec![c.base_url.clone()],
        ProviderConfig::SimpleMdm(c) => vec![c.api_base()],
        ProviderConfig::Fleet(c) => vec![c.base_url.clone()],
        ProviderConfig::JumpCloud(c) => vec![c.api_base()],
        ProviderConfig::Intune(c) => vec![c.graph_base(), c.login_base()],
        _ => Vec::new(),
    }
}

/// The provider factory: the standard one, with client options that refuse private networks and plain
/// HTTP (a typed host must not reach the backend's own network), except for the in-process sandbox's own
/// addresses.
fn factory(
    sandbox: Option<SandboxEndpoints>,
) -> impl Fn(&ProviderConfig) -> mdmkit::Result<Arc<dyn MdmProvider>> + Send + Sync + 'static {
    let strict = ClientOptions::default();
    move |config: &ProviderConfig| {
        let options = match &sandbox {
            Some(s) if s.serves(config) => &s.options,
            _ => &strict,
        };
        mdmkit::build_provider(config.clone(), options)
    }
}

/// The console's state.
#[derive(Debug)]
pub(crate) struct Console {
    pub(crate) sync: Arc<MdmSync>,
    pub(crate) workspace: WorkspaceId,
    pub(crate) sandbox: Option<SandboxEndpoints>,
    pub(crate) sessions: Sessions,
}

impl Console {
    /// Gives an empty inventory the sandbox's serial numbers, plus one the MDM has never seen, so the
    /// pages have something to show. `false` if the workspace already had devices.
    pub(crate) async fn seed_inventory(&self, sandbox: &Sandbox) -> Result<bool, SyncError> {
        let devices = &self.sync.stores().devices;
        if devices.device_count(&self.workspace).await? > 0 {
            return Ok(false);
        }
        let mut serials: Vec<SerialNumber> = sandbox
            .fleet()
            .devices
            .values()
            .filter_map(|d| SerialNumber::parse(&d.serial).ok())
            .collect();
        serials.extend(SerialNumber::parse("NOTINTHEMDM1"));
        devices.add_devices(&self.workspace, &serials).await?;
        Ok(true)
    }
}

/// A console serving requests, with its scheduler running.
#[derive(Debug)]
pub(crate) struct Running {
    /// Where it accepts connections.
    pub(crate) addr: SocketAddr,
    /// Its state.
    pub(crate) console: Arc<Console>,
    scheduler: Arc<Scheduler>,
    server: JoinHandle<()>,
    scheduler_task: JoinHandle<()>,
}

impl Running {
    /// Stops the scheduler (runs already started finish) and the server.
    pub(crate) async fn shutdown(self) {
        self.scheduler.stop();
        let _ = self.scheduler_task.await;
        self.server.abort();
        let _ = self.server.await;
    }
}

/// What the console runs on.
pub(crate) struct Setup {
    pub(crate) listen: SocketAddr,
    pub(crate) stores: Stores,
    pub(crate) vault: Vault,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sandbox: Option<SandboxEndpoints>,
    pub(crate) scheduler: SchedulerConfig,
}

/// Wires the engine, starts the scheduler and the HTTP server; returns once it accepts connections.
pub(crate) async fn start(setup: Setup) -> std::io::Result<Running> {
    let sync = Arc::new(MdmSync::new(
        Arc::new(factory(setup.sandbox.clone())),
        setup.vault,
        setup.stores,
        setup.clock,
    ));
    let scheduler = Arc::new(Scheduler::new(sync.clone(), setup.scheduler));
    let scheduler_task = tokio::spawn({
        let scheduler = scheduler.clone();
        async move { scheduler.run(std::future::pending()).await }
    });
    let console = Arc::new(Console {
        sync,
        workspace: WorkspaceId::new(WORKSPACE),
        sandbox: setup.sandbox,
        sessions: Sessions::default(),
    });
    let listener = TcpListener::bind(setup.listen).await?;
    let addr = listener.local_addr()?;
    let app = router(console.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("console: server stopped: {e}");
        }
    });
    Ok(Running {
        addr,
        console,
        scheduler,
        server,
        scheduler_task,
    })
}

/// Every route a form posts to, with its handler.
pub(crate) fn form_routes() -> Vec<(&'static str, MethodRouter<Arc<Console>>)> {
    vec![
        ("/settings", post(save_settings)),
        ("/settings/disconnect", post(disconnect)),
        ("/devices/add", post(add_devices)),
        ("/devices/remove", post(remove_device)),
        ("/groups/sync", post(sync_now)),
        ("/groups/create", post(create_group)),
        ("/groups/edit", post(edit_group)),
        ("/groups/delete", post(delete_group)),
        ("/plan", post(set_plan)),
    ]
}

/// Every route, each behind [`require_csrf`]: a handler cannot forget the check.
pub(crate) fn router(console: Arc<Console>) -> Router {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/settings") }))
        .route("/settings", get(settings_page))
        .route("/devices", get(devices_page))
        .route("/groups", get(groups_page));
    form_routes()
        .into_iter()
        .fold(pages, |router, (path, handler)| router.route(path, handler))
        .route_layer(middleware::from_fn_with_state(
            console.clone(),
            require_csrf,
        ))
        .with_state(console)
}

/// The one field every form carries besides its own.
#[derive(Deserialize)]
struct CsrfToken {
    #[serde(default)]
    csrf: String,
}

/// Lets a request that changes something through only if its form carries its session's CSRF token;
/// reads (`GET`, `HEAD`) pass untouched. The body is read here and handed on whole.
async fn require_csrf(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // Through the `Bytes` extractor, so the router's body limit holds here as it does for `Form`.
    let body = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let form = Request::from_parts(parts.clone(), Body::from(body.clone()));
    let token = Form::<CsrfToken>::from_request(form, &())
        .await
        .map(|Form(f)| f.csrf)
        .unwrap_or_default();
    if !console.sessions.check_csrf(&parts.headers, &token) {
        return forbidden();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// A page with the session cookie set if the session is new.
fn respond(status: StatusCode, session: &Current, page: Markup) -> Response {
    let mut response = (status, page).into_response();
    if let Some(cookie) = &session.set_cookie {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, cookie.clone());
    }
    response
}

/// An error a page could not recover from (the store failed): a plain 500 page, its text escaped.
fn failure(session: &Current, error: &SyncError) -> Response {
    eprintln!("console: {error}");
    let body = maud::html! { p class="error" { "The request failed: " (error.to_string()) } };
    respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        session,
        pages::layout("Error", Nav::Settings, None, body),
    )
}

/// Refuses a POST whose CSRF token is not its session's.
fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "Forbidden: this form expired or was sent from another site. Reload the page and try again.",
    )
        .into_response()
}

/// After a POST: the confirmation (`Ok`) or the error (`Err`) for the next page, and a redirect there (so
/// reloading does not post again).
fn done(
    console: &Console,
    headers: &HeaderMap,
    to: &str,
    outcome: Result<String, String>,
) -> Response {
    let flash = match outcome {
        Ok(text) => Flash { error: false, text },
        Err(text) => Flash { error: true, text },
    };
    console.sessions.flash(headers, flash);
    Redirect::to(to).into_response()
}

/// An engine or store result with its error as a person should read it ([`explain`]).
fn explained<T, E: Into<SyncError>>(result: Result<T, E>) -> Result<T, String> {
    result.map_err(|e| explain(&e.into()))
}

/// What a person should read for an engine error: the R8 category and its meaning for MDM errors,
/// the engine's own sentence otherwise.
fn explain(error: &SyncError) -> String {
    match error {
        SyncError::Cooldown { last, next_allowed } => format!(
            "A group sync was started manually at {}; the next one is allowed at {} (at most one every 15 minutes)",
            pages::when(Some(*last)),
            pages::when(Some(*next_allowed))
        ),
        e => match e.category() {
            Some(category) => format!("{}: {}", category.name(), category.meaning()),
            None => e.to_string(),
        },
    }
}

#[derive(Deserialize)]
struct ProviderQuery {
    provider: Option<String>,
}

async fn settings_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<ProviderQuery>,
) -> Response {
    let session = console.sessions.current(&headers);
    let connection = match console.sync.connection_info(&console.workspace).await {
        Ok(c) => c,
        Err(e) => return failure(&session, &e),
    };
    let chosen = query
        .provider
        .and_then(|p| p.parse().ok())
        .or(connection.as_ref().map(|c| c.provider))
        .unwrap_or(ProviderKind::Jamf);
    // The saved host and IDs come back into the form of the connected provider, so changing a secret
    // means typing only the secret; the secrets themselves never come back. Credentials that cannot be
    // opened (a lost key) leave the form empty rather than the page broken.
    let saved = match &connection {
        Some(info) if info.provider == chosen => console
            .sync
            .shown_credentials(&console.workspace)
            .await
            .ok()
            .flatten()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let form = SettingsForm {
        values: saved
            .into_iter()
            .map(|(field, value)| (field.key.to_owned(), value))
            .collect(),
        sandbox_endpoint: console.sandbox.is_some(),
    };
    render_settings(
        &console,
        &session,
        StatusCode::OK,
        chosen,
        &form,
        None,
        connection.as_ref(),
    )
}

fn render_settings(
    console: &Console,
    session: &Current,
    status: StatusCode,
    chosen: ProviderKind,
    form: &SettingsForm,
    error: Option<&SettingsError>,
    connection: Option<&mdmkit::sync::ConnectionInfo>,
) -> Response {
    let flash = console.sessions.take_flash(&session.id);
    let sandbox_url = console
        .sandbox
        .as_ref()
        .and_then(|s| s.urls.get(&chosen))
        .map(Url::to_string);
    let body = pages::settings(pages::SettingsPage {
        csrf: &session.csrf,
        connection,
        chosen,
        form,
        error,
        sandbox_url,
    });
    respond(
        status,
        session,
        pages::layout("MDM settings", Nav::Settings, flash.as_ref(), body),
    )
}

/// The settings form as posted: the provider, its credential fields, the sandbox box, the CSRF token.
type Fields = BTreeMap<String, String>;

/// The configuration the form describes, built through `ProviderConfig`'s own validation (the field
/// names are `CredentialField::key`s), with the sandbox endpoint when asked for.
fn config_from_form(
    console: &Console,
    kind: ProviderKind,
    fields: &Fields,
) -> Result<ProviderConfig, String> {
    let mut object = serde_json::Map::new();
    object.insert("provider".into(), kind.id().into());
    for field in kind.credential_fields() {
        let value = fields.get(field.key).map(|v| v.trim()).unwrap_or_default();
        if value.is_empty() {
            return Err(format!("{} is required", field.label));
        }
        object.insert(field.key.into(), value.into());
    }
    let sandbox = console.sandbox.as_ref().and_then(|s| s.urls.get(&kind));
    if let (Some(url), true) = (sandbox, fields.contains_key("sandbox_endpoint")) {
        if !kind.requires_host() {
            let key = match kind {
                ProviderKind::Intune => {
                    object.insert("login_url".into(), url.as_str().into());
                    "graph_url"
                }
                _ => "base_url",
            };
            object.insert(key.into(), url.as_str().into());
        }
    }
    serde_json::from_value(serde_json::Value::Object(object)).map_err(|e| e.to_string())
}

/// A configuration the form does not make, as the settings page says it: the field to fix, in words, and
/// the validation message. Messages name a credential by its label ("API Client ID is required"; the
/// longest label found wins, so not "Client ID") and a host as "the host" or by its URL.
fn field_error(kind: ProviderKind, message: &str) -> SettingsError {
    let fields = kind.credential_fields();
    let about_host = message.to_ascii_lowercase().contains("host") || message.contains("://");
    let field = fields
        .iter()
        .filter(|f| message.contains(f.label))
        .max_by_key(|f| f.label.len())
        .or_else(|| fields.iter().find(|f| f.key == "host" && about_host));
    SettingsError {
        title: match field {
            Some(f) => format!("Check the {} field", f.label),
            None => "Check the form".into(),
        },
        detail: message.to_owned(),
    }
}

async fn save_settings(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let session = console.sessions.current(&headers);
    let Some(kind) = fields
        .get("provider")
        .and_then(|p| p.parse::<ProviderKind>().ok())
    else {
        return done(
            &console,
            &headers,
            "/settings",
            Err("Choose a provider.".into()),
        );
    };
    let form = SettingsForm {
        values: kind
            .credential_fields()
            .iter()
            .filter(|f| !f.secret)
            .filter_map(|f| Some((f.key.to_owned(), fields.get(f.key)?.clone())))
            .collect(),
        sandbox_endpoint: fields.contains_key("sandbox_endpoint"),
    };
    let config = match config_from_form(&console, kind, &fields) {
        Ok(config) => config,
        Err(message) => {
            let error = field_error(kind, &message);
            return refused(&console, &session, kind, &form, &error).await;
        }
    };
    match console.sync.connect(&console.workspace, config).await {
        Ok(report) => {
            let mut text = format!("Connected to {}.", report.provider.display_name());
            if report.connection_changed {
                // R9: a new connection's metadata replaces whatever the previous one left.
                text.push_str(&format!(
                    " MDM metadata fetched again for the workspace's {} devices.",
                    report.devices_reset
                ));
            }
            match &report.group_sync {
                GroupSyncOutcome::Completed(groups) => text.push_str(&format!(
                    " Groups synced: {} {} from the MDM, {} detached.",
                    groups.mdm_groups,
                    report.provider.group_noun(),
                    groups.detached
                )),
                GroupSyncOutcome::NotOnPlan(plan) => {
                    text.push_str(&format!(" Groups are not synced on the {plan} plan."))
                }
                GroupSyncOutcome::Failed(e) => {
                    text.push_str(&format!(" The group sync failed: {}.", explain(e)))
                }
                _ => {}
            }
            done(&console, &headers, "/devices", Ok(text))
        }
        Err(e) => {
            let error = match (&e, e.kind()) {
                // A configuration refused before any answer from the MDM (a host that does not parse, a
                // refused address): the person fixes the field it names.
                (SyncError::Provider(p), Some(ErrorKind::InvalidConfiguration))
                    if p.status().is_none() =>
                {
                    field_error(kind, p.message())
                }
                (_, _) => match e.category() {
                    Some(category) => SettingsError {
                        title: category.name().into(),
                        detail: category.meaning().into(),
                    },
                    None => SettingsError {
                        title: "Not saved".into(),
                        detail: e.to_string(),
                    },
                },
            };
            refused(&console, &session, kind, &form, &error).await
        }
    }
}

/// The settings page again, with the error that kept the form from being saved and the non-secret values
/// typed.
async fn refused(
    console: &Console,
    session: &Current,
    kind: ProviderKind,
    form: &SettingsForm,
    error: &SettingsError,
) -> Response {
    let connection = console
        .sync
        .connection_info(&console.workspace)
        .await
        .ok()
        .flatten();
    render_settings(
        console,
        session,
        StatusCode::UNPROCESSABLE_ENTITY,
        kind,
        form,
        Some(error),
        connection.as_ref(),
    )
}

async fn disconnect(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let outcome = explained(console.sync.disconnect(&console.workspace).await).map(|report| {
        format!(
            "Disconnected: credentials deleted, {} devices' MDM metadata cleared, {} groups detached.",
            report.devices_cleared, report.groups_detached
        )
    });
    done(&console, &headers, "/settings", outcome)
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn devices_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Response {
    let session = console.sessions.current(&headers);
    let ws = &console.workspace;
    let q = query.q.trim();
    let result = async {
        let devices = if q.is_empty() {
            console.sync.devices(ws).await?
        } else {
            console.sync.search(ws, q).await?
        };
        let total = console.sync.stores().devices.device_count(ws).await?;
        let state = console.sync.state(ws).await?;
        let provider = console.sync.connection_info(ws).await?.map(|c| c.provider);
        Ok::<_, SyncError>((devices, total, state, provider))
    }
    .await;
    let (devices, total, state, provider) = match result {
        Ok(r) => r,
        Err(e) => return failure(&session, &e),
    };
    let flash = console.sessions.take_flash(&session.id);
    let body = pages::devices(pages::DevicesPage {
        csrf: &session.csrf,
        query: q,
        devices: &devices,
        total,
        last_refresh: state.last_refresh,
        provider,
    });
    respond(
        StatusCode::OK,
        &session,
        pages::layout("Devices", Nav::Devices, flash.as_ref(), body),
    )
}

/// Serial numbers from a text box: one per line or separated by commas; every bad one is named.
fn parse_serials(text: &str) -> Result<Vec<SerialNumber>, String> {
    let items: Vec<&str> = text
        .split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.len() > MAX_SERIALS_PER_FORM {
        return Err(format!(
            "At most {MAX_SERIALS_PER_FORM} serial numbers at a time ({} given).",
            items.len()
        ));
    }
    let mut serials = Vec::new();
    let mut bad = Vec::new();
    for item in items {
        match SerialNumber::parse(item) {
            Ok(s) => serials.push(s),
            Err(e) => bad.push(format!("\"{item}\" ({})", e.message())),
        }
    }
    if !bad.is_empty() {
        return Err(format!("Not a usable serial number: {}.", bad.join(", ")));
    }
    Ok(serials)
}

#[derive(Deserialize)]
struct SerialsForm {
    #[serde(default)]
    serials: String,
}

async fn add_devices(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<SerialsForm>,
) -> Response {
    let outcome = async {
        let serials = parse_serials(&form.serials)?;
        if serials.is_empty() {
            return Err("Type at least one serial number.".to_owned());
        }
        let ws = &console.workspace;
        let mut added = 0;
        for serial in &serials {
            if explained(console.sync.add_device(ws, serial).await)? {
                added += 1;
            }
        }
        // Fetch the new devices' metadata now rather than at the scheduler's next turn.
        let fetched = match console.sync.refresh_due(ws).await {
            Ok(report) => format!(" MDM metadata fetched for {} of them.", report.matched),
            Err(SyncError::NotConnected { .. }) => String::new(),
            Err(e) => format!(
                " Their MDM metadata will be fetched later ({}).",
                explain(&e)
            ),
        };
        Ok(format!(
            "{added} devices added ({} already known).{fetched}",
            serials.len() - added
        ))
    }
    .await;
    done(&console, &headers, "/devices", outcome)
}

#[derive(Deserialize)]
struct SerialForm {
    #[serde(default)]
    serial: String,
}

async fn remove_device(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<SerialForm>,
) -> Response {
    let outcome = async {
        let serial = SerialNumber::parse(&form.serial).map_err(|e| e.message().to_owned())?;
        let devices = &console.sync.stores().devices;
        if explained(devices.remove_device(&console.workspace, &serial).await)? {
            Ok(format!("Removed {}.", serial.as_str()))
        } else {
            Err(format!("{} is not in the inventory.", serial.as_str()))
        }
    }
    .await;
    done(&console, &headers, "/devices", outcome)
}

async fn groups_page(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let session = console.sessions.current(&headers);
    let ws = &console.workspace;
    let result = async {
        Ok::<_, SyncError>((
            console.sync.groups(ws).await?,
            console.sync.state(ws).await?,
            console.sync.connection_info(ws).await?.map(|c| c.provider),
        ))
    }
    .await;
    let (groups, state, provider) = match result {
        Ok(r) => r,
        Err(e) => return failure(&session, &e),
    };
    let flash = console.sessions.take_flash(&session.id);
    let body = pages::groups(pages::GroupsPage {
        csrf: &session.csrf,
        groups: &groups,
        state: &state,
        provider,
    });
    respond(
        StatusCode::OK,
        &session,
        pages::layout("Groups", Nav::Groups, flash.as_ref(), body),
    )
}

#[derive(Deserialize)]
struct PlanForm {
    #[serde(default)]
    plan: String,
}

async fn set_plan(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<PlanForm>,
) -> Response {
    let outcome = async {
        let plan = [Plan::Free, Plan::Pro, Plan::Enterprise]
            .into_iter()
            .find(|p| p.name() == form.plan)
            .ok_or_else(|| "Choose Free, Pro or Enterprise.".to_owned())?;
        explained(console.sync.set_plan(&console.workspace, plan).await)?;
        Ok(format!("The plan is now {plan}."))
    }
    .await;
    done(&console, &headers, "/groups", outcome)
}

async fn sync_now(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let outcome = explained(console.sync.sync_groups_now(&console.workspace).await).map(|report| {
        format!(
            "Synced {} {} from {}: {} created, {} updated, {} detached.",
            report.mdm_groups,
            report.provider.group_noun(),
            report.provider.display_name(),
            report.created,
            report.updated,
            report.detached
        )
    });
    done(&console, &headers, "/groups", outcome)
}

/// A group name as typed, or why it is refused.
fn group_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("A group needs a name.".into());
    }
    if name.chars().count() > MAX_GROUP_NAME {
        return Err(format!(
            "A group name has at most {MAX_GROUP_NAME} characters."
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("A group name cannot contain control characters.".into());
    }
    Ok(name.to_owned())
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn create_group(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<NameForm>,
) -> Response {
    let outcome = async {
        let name = group_name(&form.name)?;
        let groups = &console.sync.stores().groups;
        explained(
            groups
                .create_group(&console.workspace, NewGroup::manual(name.clone()))
                .await,
        )?;
        Ok(format!("Created {name}."))
    }
    .await;
    done(&console, &headers, "/groups", outcome)
}

#[derive(Deserialize)]
struct EditForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    members: String,
}

/// The group a form names, if it may be edited: synced groups are read-only (R12).
async fn editable_group(console: &Console, id: &str) -> Result<mdmkit::sync::GroupRecord, String> {
    let group = console
        .sync
        .stores()
        .groups
        .group(&console.workspace, &GroupId::new(id))
        .await;
    let group = explained(group)?.ok_or_else(|| "That group no longer exists.".to_owned())?;
    match group.managed_by() {
        Some(label) => Err(format!(
            "{} is {label}: its name and members come from the MDM.",
            group.name
        )),
        None => Ok(group),
    }
}

async fn edit_group(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<EditForm>,
) -> Response {
    let outcome = async {
        let mut group = editable_group(&console, &form.id).await?;
        group.name = group_name(&form.name)?;
        group.members = parse_serials(&form.members)?
            .into_iter()
            .collect::<BTreeSet<_>>();
        let groups = &console.sync.stores().groups;
        explained(groups.update_group(&console.workspace, &group).await)?;
        Ok::<_, String>(format!(
            "Saved {} ({} members).",
            group.name,
            group.members.len()
        ))
    }
    .await;
    done(&console, &headers, "/groups", outcome)
}

#[derive(Deserialize)]
struct IdForm {
    #[serde(default)]
    id: String,
}

async fn delete_group(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<IdForm>,
) -> Response {
    let outcome = async {
        let group = editable_group(&console, &form.id).await?;
        let groups = &console.sync.stores().groups;
        explained(groups.delete_group(&console.workspace, &group.id).await)?;
        Ok::<_, String>(format!("Deleted {}.", group.name))
    }
    .await;
    done(&console, &headers, "/groups", outcome)
}
