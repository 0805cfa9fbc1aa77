//! The console's HTML, server-rendered with `maud` (which escapes every interpolated value: nothing a
//! person or an MDM typed reaches the page as markup).

use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};
use mdmkit::sync::{ConnectionInfo, DeviceView, GroupRecord, Plan, WorkspaceState};
use mdmkit::{CredentialField, ProviderKind};

use crate::session::Flash;

/// Which page the navigation marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Settings,
    Devices,
    Groups,
}

/// A time as the console shows it.
pub(crate) fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "never".to_owned())
}

/// The frame around every page: title, navigation, the one-shot message.
pub(crate) fn layout(title: &str, nav: Nav, flash: Option<&Flash>, body: Markup) -> Markup {
    let link = |target: Nav, href: &str, label: &str| {
        html! {
            a href=(href) class=[(nav == target).then_some("current")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · mdmkit console" }
                style { (STYLE) }
            }
            body {
                nav {
                    strong { "mdmkit console" }
                    (link(Nav::Settings, "/settings", "MDM settings"))
                    (link(Nav::Devices, "/devices", "Devices"))
                    (link(Nav::Groups, "/groups", "Groups"))
                }
                main {
                    h1 { (title) }
                    @if let Some(flash) = flash {
                        p id="flash" class=@if flash.error { "error" } @else { "ok" } role="status" { (flash.text) }
                    }
                    (body)
                }
            }
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222}\
nav{display:flex;gap:1.5em;padding:.8em 1.5em;background:#23395d;color:#fff}nav a{color:#cfe0ff}\
nav a.current{color:#fff;font-weight:bold}main{padding:1em 1.5em;max-width:70em}\
table{border-collapse:collapse;margin:1em 0}td,th{border-bottom:1px solid #ddd;padding:.35em .8em;text-align:left}\
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.6em}.ok{background:#e6f6e6;border:1px solid #9c9;padding:.6em}\
.badge{background:#e8eefb;border-radius:.6em;padding:.1em .6em;font-size:.9em}\
form.inline{display:inline}label{display:block;margin:.5em 0}input[type=text],input[type=password]{width:24em}\
.providers a{margin-right:1em}.providers a.current{font-weight:bold}.muted{color:#666}";

/// The hidden CSRF field every form carries.
fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// What the settings form was filled with, to show it again after a refused save (never the secrets).
#[derive(Debug, Default, Clone)]
pub(crate) struct SettingsForm {
    /// Non-secret fields by key.
    pub(crate) values: Vec<(String, String)>,
    /// The "use the sandbox endpoint" box was ticked.
    pub(crate) sandbox_endpoint: bool,
}

impl SettingsForm {
    fn value(&self, key: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// An error that kept the settings from being saved.
#[derive(Debug, Clone)]
pub(crate) struct SettingsError {
    /// The R8 category's name ("Unauthorized"), or the field to fix ("Check the Host field") for a form
    /// that did not validate.
    pub(crate) title: String,
    /// What it means, or the validation message.
    pub(crate) detail: String,
}

/// Everything the settings page shows.
pub(crate) struct SettingsPage<'a> {
    pub(crate) csrf: &'a str,
    pub(crate) connection: Option<&'a ConnectionInfo>,
    pub(crate) chosen: ProviderKind,
    pub(crate) form: &'a SettingsForm,
    pub(crate) error: Option<&'a SettingsError>,
    /// The sandbox's base URL for the chosen provider, when the sandbox runs.
    pub(crate) sandbox_url: Option<String>,
}

pub(crate) fn settings(page: SettingsPage<'_>) -> Markup {
    let chosen = page.chosen;
    html! {
        section id="connection" {
            @match page.connection {
                Some(info) => {
                    p { "Connected to " strong id="connected-provider" { (info.provider.display_name()) }
                        " (credentials saved " (when(Some(info.saved_at))) ", sealed with key " (info.key_id) ")." }
                    form method="post" action="/settings/disconnect" class="inline" {
                        (csrf_field(page.csrf))
                        button type="submit" id="disconnect" { "Disconnect" }
                    }
                }
                None => p id="not-connected" { "No MDM connected." }
            }
        }
        h2 { "Connect an MDM" }
        p class="providers" {
            "Provider: "
            @for kind in ProviderKind::ALL {
                a href={ "/settings?provider=" (kind.id()) } id={ "provider-" (kind.id()) }
                    class=[(kind == chosen).then_some("current")] { (kind.display_name()) }
            }
        }
        @if let Some(error) = page.error {
            div id="settings-error" class="error" role="alert" {
                strong class="category" { (error.title) } ": " (error.detail) ". Nothing was saved."
            }
        }
        form method="post" action="/settings" id="settings-form" {
            (csrf_field(page.csrf))
            input type="hidden" name="provider" value=(chosen.id());
            @for field in chosen.credential_fields() {
                (credential_input(field, page.form))
            }
            @if let Some(url) = &page.sandbox_url {
                @if chosen.requires_host() {
                    p class="muted" { "The sandbox MDM's " (chosen.display_name()) " listens at " code { (url) } "." }
                } @else {
                    label {
                        input type="checkbox" name="sandbox_endpoint" value="on" checked[page.form.sandbox_endpoint];
                        " Use the sandbox MDM (" code { (url) } ") instead of " (chosen.display_name()) "'s own endpoint"
                    }
                }
            }
            button type="submit" id="save" { "Save" }
            " "
            span class="muted" { "Save runs a test call first; nothing is stored unless it succeeds." }
        }
    }
}

fn credential_input(field: &CredentialField, form: &SettingsForm) -> Markup {
    html! {
        label {
            (field.label)
            br;
            @if field.secret {
                // Never filled in: a saved or typed secret does not come back to the browser.
                input type="password" name=(field.key) id=(field.key) autocomplete="off" required;
            } @else {
                input type="text" name=(field.key) id=(field.key) value=(form.value(field.key)) required;
            }
        }
    }
}

/// Everything the devices page shows.
pub(crate) struct DevicesPage<'a> {
    pub(crate) csrf: &'a str,
    pub(crate) query: &'a str,
    pub(crate) devices: &'a [DeviceView],
    pub(crate) total: u64,
    pub(crate) last_refresh: Option<DateTime<Utc>>,
    pub(crate) provider: Option<ProviderKind>,
}

pub(crate) fn devices(page: DevicesPage<'_>) -> Markup {
    html! {
        p class="muted" {
            @match page.provider {
                Some(kind) => { "MDM: " (kind.display_name()) ". " }
                None => { "No MDM connected. " }
            }
            "Last refresh run: " span id="last-refresh" { (when(page.last_refresh)) } "."
        }
        form method="get" action="/devices" id="search-form" {
            input type="search" name="q" id="q" value=(page.query) placeholder="Serial number or MDM display name";
            " "
            button type="submit" id="search" { "Search" }
            @if !page.query.is_empty() { " " a href="/devices" { "Show all" } }
        }
        p id="device-count" {
            @if page.query.is_empty() { (page.devices.len()) " devices" }
            @else { (page.devices.len()) " of " (page.total) " devices match" }
        }
        table id="devices" {
            thead { tr { th { "Serial number" } th { "MDM display name" } th { "MDM user" } th { "Link" }
                th { "Last refresh" } th {} } }
            tbody {
                @for device in page.devices {
                    tr class="device" data-serial=(device.serial_number.as_str()) {
                        td class="serial" { (device.serial_number.as_str()) }
                        td class="display-name" { (device.display_name.as_deref().unwrap_or("—")) }
                        td class="user" {
                            (device.metadata.as_ref().and_then(|m| m.user_id.as_deref()).unwrap_or("—"))
                        }
                        td class="link" {
                            @match &device.link {
                                Some(link) => a href=(link.url.as_str()) target="_blank" rel="noopener noreferrer" { (link.label) },
                                None => span class="muted" { "not in the MDM" },
                            }
                        }
                        td class="checked" { (when(device.checked_at)) }
                        td {
                            form method="post" action="/devices/remove" class="inline" {
                                (csrf_field(page.csrf))
                                input type="hidden" name="serial" value=(device.serial_number.as_str());
                                button type="submit" class="remove" { "Remove" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add devices" }
        form method="post" action="/devices/add" id="add-form" {
            (csrf_field(page.csrf))
            label { "Serial numbers (one per line or separated by commas)" br;
                textarea name="serials" id="serials" rows="3" cols="40" {} }
            button type="submit" id="add" { "Add" }
        }
    }
}

/// Everything the groups page shows.
pub(crate) struct GroupsPage<'a> {
    pub(crate) csrf: &'a str,
    pub(crate) groups: &'a [GroupRecord],
    pub(crate) state: &'a WorkspaceState,
    pub(crate) provider: Option<ProviderKind>,
}

pub(crate) fn groups(page: GroupsPage<'_>) -> Markup {
    let state = page.state;
    html! {
        section id="plan" {
            p { "Plan: " strong id="plan-name" { (state.plan.name()) }
                @if !state.plan.allows_group_sync() { " — MDM group sync needs the Pro or Enterprise plan." } }
            form method="post" action="/plan" class="inline" {
                (csrf_field(page.csrf))
                select name="plan" id="plan-select" {
                    @for plan in [Plan::Free, Plan::Pro, Plan::Enterprise] {
                        option value=(plan.name()) selected[plan == state.plan] { (plan.name()) }
                    }
                }
                " "
                button type="submit" id="set-plan" { "Change plan" }
            }
        }
        section id="sync" {
            p {
                "Last group sync: " span id="last-sync" { (when(state.last_group_sync)) }
                ". Last manual sync: " span id="last-manual-sync" { (when(state.last_manual_group_sync)) } "."
                @if state.group_sync_pending { " A sync is pending." }
            }
            @if let Some(kind) = page.provider {
                form method="post" action="/groups/sync" class="inline" {
                    (csrf_field(page.csrf))
                    button type="submit" id="sync-now" { "Sync now" }
                    " " span class="muted" { "Reads " (kind.display_name()) "'s " (kind.group_noun())
                        "; at most once every 15 minutes." }
                }
            }
        }
        table id="groups" {
            thead { tr { th { "Group" } th { "Members" } th { "Source" } th { "Edit" } } }
            tbody {
                @for group in page.groups {
                    tr class="group" data-name=(group.name) {
                        td class="name" { (group.name) }
                        td class="members" { (group.members.len()) }
                        td class="source" {
                            @match group.managed_by() {
                                Some(label) => span class="badge managed" { (label) },
                                None => span class="muted" { "Editable" },
                            }
                        }
                        td {
                            @if group.is_synced() {
                                span class="muted" { "Read-only: name and members come from the MDM" }
                            } @else {
                                (group_editor(page.csrf, group))
                            }
                        }
                    }
                }
            }
        }
        h2 { "New group" }
        form method="post" action="/groups/create" id="create-group" {
            (csrf_field(page.csrf))
            input type="text" name="name" id="new-group-name" required;
            " "
            button type="submit" { "Create" }
        }
    }
}

fn group_editor(csrf: &str, group: &GroupRecord) -> Markup {
    html! {
        details {
            summary { "Edit" }
            form method="post" action="/groups/edit" {
                (csrf_field(csrf))
                input type="hidden" name="id" value=(group.id.as_str());
                label { "Name " input type="text" name="name" value=(group.name) required; }
                label { "Members (serial numbers, one per line or separated by commas)" br;
                    textarea name="members" rows="3" cols="40" {
                        @for (i, serial) in group.members.iter().enumerate() {
                            @if i > 0 { "\n" } (serial.as_str())
                        }
                    }
                }
                button type="submit" { "Save group" }
            }
            form method="post" action="/groups/delete" class="inline" {
                (csrf_field(csrf))
                input type="hidden" name="id" value=(group.id.as_str());
                button type="submit" { "Delete group" }
            }
        }
    }
}
