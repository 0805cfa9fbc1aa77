//! The device pages of each simulated provider's web console: what a "View on …" link opens.
//!
//! A real MDM answers its console's device URL (Jamf's `computers.html?id=ID&o=r`, Iru's `devices/ID`,
//! SimpleMDM's `admin/devices/ID`, Fleet's `hosts/ID`) with the device's record in its web app. The sandbox
//! answers the same URLs with a small HTML page naming the device, its serial number and its user, so an
//! example or a browser test can follow a link offline and see that it leads to the right device. JumpCloud
//! puts the device in the URL's fragment, which never reaches a server, and Intune's links lead to
//! Microsoft's admin centre, so neither gets a page here. The pages need no credentials, as a browser
//! already signed in to the console would not be asked for the API's.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use mdmkit_core::ProviderKind;

use crate::common::Ctx;

/// The console routes of `kind` (none for providers whose links do not lead to the sandbox).
pub(crate) fn router(kind: ProviderKind) -> Router<Ctx> {
    let router = Router::new();
    match kind {
        ProviderKind::Jamf => router.route(
            "/computers.html",
            get(
                |State(ctx): State<Ctx>, Query(q): Query<JamfQuery>| async move {
                    device_page(&ctx, q.id.as_deref().unwrap_or_default())
                },
            ),
        ),
        ProviderKind::Iru => router.route("/devices/{id}", get(by_path)),
        ProviderKind::SimpleMdm => router.route("/admin/devices/{id}", get(by_path)),
        ProviderKind::Fleet => router.route("/hosts/{id}", get(by_path)),
        _ => router,
    }
}

#[derive(serde::Deserialize)]
struct JamfQuery {
    id: Option<String>,
}

async fn by_path(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    device_page(&ctx, &id)
}

/// The page of the device whose id in `ctx`'s provider is `id`, or a 404 page.
fn device_page(ctx: &Ctx, id: &str) -> Response {
    let provider = ctx.kind.display_name();
    let found = {
        let fleet = ctx.fleet();
        let sim = ctx.sim();
        fleet.devices.values().find_map(|d| {
            let expected = sim.expected_device(&fleet, d);
            (expected.device_id == id).then(|| {
                let user = fleet.user_of(d).map(|u| u.full_name.clone());
                (d.name.clone(), expected.serial_number, user)
            })
        })
    };
    let (status, title, body) = match found {
        Some((name, serial, user)) => (
            StatusCode::OK,
            format!("{name} — {provider}"),
            format!(
                "<h1>{}</h1><dl><dt>Serial number</dt><dd id=\"serial\">{}</dd>\
                 <dt>User</dt><dd id=\"user\">{}</dd><dt>{provider} device ID</dt><dd id=\"device-id\">{}</dd></dl>",
                escape(&name),
                escape(&serial),
                escape(user.as_deref().unwrap_or("No user assigned")),
                escape(id),
            ),
        ),
        None => (
            StatusCode::NOT_FOUND,
            format!("Device not found — {provider}"),
            format!("<h1>Device not found</h1><p>{provider} has no device with ID {}.</p>", escape(id)),
        ),
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><p>{provider} (mdmkit sandbox)</p>{body}</body></html>",
        escape(&title)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// Text made safe to put in HTML.
fn escape(text: &str) -> String {
    crate::common::escape_markup(text, "&#39;").into_owned()
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">Zoë & 'co'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Zoë &amp; &#39;co&#39;&lt;/a&gt;"
        );
    }
}
