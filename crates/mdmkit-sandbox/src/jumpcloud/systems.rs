//! `/api/systems`: devices as JumpCloud shows them.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Systems

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Platform {
    Mac,
    Windows,
}

/// The platform, read from the model the fleet put in the device name.
pub(super) fn platform(d: &SimDevice) -> Platform {
    if d.name.contains("ThinkPad") || d.name.contains("Surface") {
        Platform::Windows
    } else {
        Platform::Mac
    }
}

pub(super) fn os(d: &SimDevice) -> (&'static str, &'static str) {
    match platform(d) {
        Platform::Mac => ("Mac OS X", "darwin"),
        Platform::Windows => ("Windows", "windows"),
    }
}

/// An ASCII host name derived from the device name, the way an OS derives one: `Zoë’s MacBook Pro` ->
/// `Zos-MacBook-Pro.local`.
pub(super) fn hostname(d: &SimDevice) -> String {
    let words: Vec<String> = d
        .name
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        format!("system-{}.local", d.index)
    } else {
        format!("{}.local", words.join("-"))
    }
}

/// Whether an assigned device names its user in `primarySystemUser` (about half do; the rest are known
/// only to the graph).
pub(super) fn has_primary_user(d: &SimDevice) -> bool {
    d.index % 2 == 0
}

pub(super) fn timestamp(day: u32, minutes: u32) -> String {
    format!(
        "2026-{:02}-{:02}T{:02}:{:02}:00.000Z",
        1 + (day / 28) % 12,
        1 + day % 28,
        (minutes / 60) % 24,
        minutes % 60
    )
}

/// `lastContact`: the fleet's change time of the device.
pub(super) fn last_contact(fleet: &Fleet, d: &SimDevice) -> Option<String> {
    fleet
        .changed_at(d.index)
        .map(|t| t.to_rfc3339_opts(mdmkit_core::chrono::SecondsFormat::Millis, true))
}

pub(super) fn system_field<'f>(
    fleet: &Fleet,
    d: &'f SimDevice,
    field: &str,
) -> Option<Cow<'f, str>> {
    Some(match field {
        "lastContact" => Cow::Owned(last_contact(fleet, d)?),
        "_id" | "id" => Cow::Owned(system_id(d.index)),
        "serialNumber" => Cow::Borrowed(d.serial.as_str()),
        "displayName" => Cow::Borrowed(d.name.as_str()),
        "hostname" => Cow::Owned(hostname(d)),
        "os" => Cow::Borrowed(os(d).0),
        "osFamily" => Cow::Borrowed(os(d).1),
        "organization" => Cow::Borrowed(ORG_ID),
        _ => return None,
    })
}

pub(super) fn system_json(fleet: &Fleet, d: &SimDevice) -> Value {
    let id = system_id(d.index);
    let (os_name, family) = os(d);
    let (version, arch, vendor) = match platform(d) {
        Platform::Mac => ("15.2", "arm64", "Apple Inc."),
        Platform::Windows if d.name.contains("Surface") => {
            ("10.0.22631", "x86_64", "Microsoft Corporation")
        }
        Platform::Windows => ("10.0.22631", "x86_64", "LENOVO"),
    };
    let user = fleet.user_of(d);
    let primary = match user {
        Some(u) if has_primary_user(d) => json!({"id": user_id(u.index)}),
        _ => Value::Null,
    };
    let mdm = match platform(d) {
        Platform::Mac => {
            json!({"vendor": "internal", "dep": d.index % 3 != 0, "userApproved": true})
        }
        Platform::Windows => {
            json!({"vendor": "internal", "windows": {"upn": user.map(|u| u.email.as_str())}})
        }
    };
    json!({
        "_id": id,
        "id": id,
        "organization": ORG_ID,
        "displayName": d.name,
        "hostname": hostname(d),
        "serialNumber": d.serial,
        "os": os_name,
        "osFamily": family,
        "version": version,
        "arch": arch,
        "hwVendor": vendor,
        "agentVersion": "2.9.0",
        "active": d.index % 7 != 6,
        "lastContact": last_contact(fleet, d),
        "created": timestamp(d.index % 300, d.index * 13),
        "primarySystemUser": primary,
        "mdm": mdm,
    })
}

pub(super) const SYSTEMS: Collection = Collection {
    route: Route::Devices,
    api: Api::V1,
    sortable: &["_id", "displayName", "hostname", "serialNumber"],
};

pub(super) async fn list_systems(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let listing = Listing::read(&headers, raw.as_deref(), &SYSTEMS)?;
    let fleet = ctx.fleet();
    let (total, page) = listing.select(&fleet.devices, NS_SYSTEM, |_, d, f| {
        system_field(&fleet, d, f)
    });
    Ok(listing.v1_answer(total, page.into_iter().map(|d| system_json(&fleet, d))))
}

pub(super) fn device_in<'f>(
    fleet: &'f Fleet,
    org: Org,
    id: &str,
) -> Result<&'f SimDevice, Response> {
    find_in(&fleet.devices, org, NS_SYSTEM, id)
}

pub(super) async fn get_system(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let fields = projection(&query_pairs(raw.as_deref()));
    let fleet = ctx.fleet();
    let d = device_in(&fleet, org, &id)?;
    Ok(json(
        StatusCode::OK,
        project(system_json(&fleet, d), fields.as_deref()),
    ))
}
