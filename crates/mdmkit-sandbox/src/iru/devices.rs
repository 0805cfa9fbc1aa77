//! Devices as Iru shows them, their filters and orderings, and the device routes.

use super::*;

// ---------------------------------------------------------------------------------------------------
// The device model as Iru shows it

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Platform {
    Mac,
    Windows,
}

impl Platform {
    pub(super) fn name(self) -> &'static str {
        match self {
            Platform::Mac => "Mac",
            Platform::Windows => "Windows",
        }
    }
}

/// The marketing model and platform, read from the model the fleet put in the device name.
pub(super) fn model_of(d: &SimDevice) -> (&'static str, Platform) {
    const MODELS: &[(&str, &str, Platform)] = &[
        (
            "MacBook Pro",
            "MacBook Pro (14-inch, Nov 2023)",
            Platform::Mac,
        ),
        ("MacBook Air", "MacBook Air (M2, 2022)", Platform::Mac),
        ("iMac", "iMac (24-inch, 2023)", Platform::Mac),
        ("Mac mini", "Mac mini (2023)", Platform::Mac),
        ("Mac Studio", "Mac Studio (2023)", Platform::Mac),
        (
            "ThinkPad X1",
            "ThinkPad X1 Carbon Gen 11",
            Platform::Windows,
        ),
        ("Surface Laptop", "Surface Laptop 5", Platform::Windows),
    ];
    MODELS
        .iter()
        .find(|(marker, _, _)| d.name.contains(marker))
        .map_or(("Mac", Platform::Mac), |(_, model, platform)| {
            (model, *platform)
        })
}

/// The blueprints: `(name, description, type)`.
pub(super) const BLUEPRINTS: &[(&str, &str, &str)] = &[
    ("Standard Macs", "Baseline for every Mac", "classic"),
    (
        "Engineering Macs",
        "Developer tools and looser restrictions",
        "map",
    ),
    ("Windows Devices", "Windows endpoints", "classic"),
];

/// Every device is in exactly one blueprint.
pub(super) fn blueprint_of(d: &SimDevice) -> usize {
    match model_of(d).1 {
        Platform::Windows => 2,
        Platform::Mac => (d.index % 2) as usize,
    }
}

pub(super) fn asset_tag(d: &SimDevice) -> String {
    if d.index % 4 == 0 {
        format!("ASSET-{:05}", d.index)
    } else {
        String::new()
    }
}

/// `last_check_in`: the fleet's change time of the device, with the microseconds Iru prints.
pub(super) fn last_check_in(fleet: &Fleet, d: &SimDevice) -> String {
    fleet
        .changed_at(d.index)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

/// The space-separated timestamp format the enrolment fields use.
pub(super) fn enrollment(i: u32, year: u32) -> String {
    let i = u64::from(i);
    format!(
        "{year}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00:00",
        1 + i % 12,
        1 + (i * 3) % 28,
        (i * 5) % 24,
        (i * 11) % 60,
        (i * 17) % 60,
        (i * 104_729) % 1_000_000
    )
}

pub(super) fn user_object(u: &SimUser) -> Value {
    json!({"email": u.email, "name": u.full_name, "id": user_id(u.index), "is_archived": false})
}

/// `user` / `assigned_user`: an object, or the empty string when nobody is assigned.
pub(super) fn assigned(fleet: &Fleet, d: &SimDevice) -> Value {
    fleet
        .user_of(d)
        .map_or_else(|| Value::String(String::new()), user_object)
}

pub(super) fn tag_names(fleet: &Fleet, d: &SimDevice) -> Value {
    Value::Array(
        fleet
            .groups_of(d.index)
            .map(|g| Value::String(g.name.clone()))
            .collect(),
    )
}

/// The tag names of every device on a page, in group order: one pass over the groups' members between
/// the page's lowest and highest device number, testing each against a bitmap of the page (sequential
/// reads, where a membership test per device and group would jump around every group's tree).
pub(super) fn page_tags<'f>(fleet: &'f Fleet, page: &[&SimDevice]) -> HashMap<u32, Vec<&'f str>> {
    let mut tags: HashMap<u32, Vec<&str>> = page.iter().map(|d| (d.index, Vec::new())).collect();
    let (Some(lo), Some(hi)) = (
        page.iter().map(|d| d.index).min(),
        page.iter().map(|d| d.index).max(),
    ) else {
        return tags;
    };
    let mut bits = vec![0u64; ((hi - lo) as usize / 64) + 1];
    for d in page {
        let at = (d.index - lo) as usize;
        bits[at / 64] |= 1 << (at % 64);
    }
    for g in fleet.groups.values() {
        for &member in g.members.range(lo..=hi) {
            let at = (member - lo) as usize;
            if bits[at / 64] & (1 << (at % 64)) != 0 {
                if let Some(names) = tags.get_mut(&member) {
                    names.push(&g.name);
                }
            }
        }
    }
    tags
}

/// A row of `GET /api/v1/devices` (and the body of `GET /api/v1/devices/{id}`), with its tag names.
pub(super) fn device_row(fleet: &Fleet, d: &SimDevice, tags: Value) -> Value {
    let (model, platform) = model_of(d);
    let bp = blueprint_of(d);
    let mut row = json!({
        "device_id": device_id(d.index),
        "device_name": d.name,
        "model": model,
        "serial_number": d.serial,
        "platform": platform.name(),
        "os_version": if platform == Platform::Mac { "15.1.1" } else { "10.0.22631" },
        "last_check_in": last_check_in(fleet, d),
        "user": assigned(fleet, d),
        "asset_tag": asset_tag(d),
        "blueprint_id": blueprint_uuid(bp),
        "blueprint_name": BLUEPRINTS[bp].0,
        "mdm_enabled": true,
        "agent_installed": platform == Platform::Mac,
        "is_missing": false,
        "is_removed": false,
        "first_enrollment": enrollment(d.index, 2024),
        "last_enrollment": enrollment(d.index, 2025),
        "tags": tags,
    });
    if platform == Platform::Mac {
        row["agent_version"] = json!("4.5.9 (5160)");
    }
    row
}

/// The body of `GET /api/v1/devices/{id}/details`.
pub(super) fn device_details(fleet: &Fleet, d: &SimDevice) -> Value {
    let (model, platform) = model_of(d);
    let bp = blueprint_of(d);
    json!({
        "general": {
            "device_id": device_id(d.index),
            "device_name": d.name,
            "last_enrollment": enrollment(d.index, 2025),
            "first_enrollment": enrollment(d.index, 2024),
            "model": model,
            "platform": platform.name(),
            "os_version": if platform == Platform::Mac { "15.1.1" } else { "10.0.22631" },
            "asset_tag": asset_tag(d),
            "assigned_user": assigned(fleet, d),
            "blueprint_name": BLUEPRINTS[bp].0,
            "blueprint_uuid": blueprint_uuid(bp),
        },
        "mdm": {
            "mdm_enabled": true,
            "supervised": true,
            "last_check_in": last_check_in(fleet, d),
        },
        "hardware_overview": {
            "model_name": model,
            "serial_number": d.serial,
        },
        "network": {
            "local_hostname": format!("device-{}", d.index),
        },
        "tags": tag_names(fleet, d),
    })
}

// ---------------------------------------------------------------------------------------------------
// Device listing

/// The device filters of one request, resolved against the fleet.
#[derive(Default)]
pub(super) struct DeviceFilter {
    pub(super) active: bool,
    pub(super) serial: Option<String>,
    pub(super) device: Option<Option<u32>>,
    pub(super) device_name: Option<String>,
    pub(super) model: Option<String>,
    pub(super) asset_tag: Option<String>,
    pub(super) platform: Option<String>,
    pub(super) blueprints: Option<Vec<usize>>,
    /// Each entry: the device must be in one of these groups.
    pub(super) tag_sets: Vec<Vec<u32>>,
    pub(super) user_any: Option<String>,
    pub(super) user_name: Option<String>,
    pub(super) user_email: Option<String>,
    pub(super) user_email_exact: Option<String>,
    pub(super) user: Option<Option<u32>>,
}

impl DeviceFilter {
    pub(super) fn parse(fleet: &Fleet, pairs: &[(String, String)]) -> DeviceFilter {
        let lower = |key: &str| param(pairs, key).map(str::to_lowercase);
        let mut f = DeviceFilter {
            serial: lower("serial_number"),
            device_name: lower("device_name"),
            model: lower("model"),
            asset_tag: lower("asset_tag"),
            platform: param(pairs, "platform").map(str::to_owned),
            user_any: lower("user"),
            user_name: lower("user_name"),
            user_email: lower("user_email"),
            user_email_exact: lower("user_email_exact"),
            ..DeviceFilter::default()
        };
        f.device =
            param(pairs, "device_id").map(|id| number_of(NS_DEVICE, key_span(&fleet.devices), id));
        f.user = param(pairs, "user_id").map(|id| match id.parse::<u32>() {
            Ok(n) => n.checked_sub(1),
            Err(_) => number_of(NS_USER, key_span(&fleet.users), id),
        });
        f.blueprints = param(pairs, "blueprint_id").map(|needle| {
            let needle = needle.to_ascii_lowercase();
            (0..BLUEPRINTS.len())
                .filter(|n| blueprint_uuid(*n).contains(&needle))
                .collect()
        });
        let by_id = |ids: &[&str]| -> Vec<u32> {
            ids.iter()
                .filter_map(|id| group_by_tag_id(fleet, id))
                .map(|g| g.index)
                .collect()
        };
        let by_name = |names: &[&str]| -> Vec<u32> {
            fleet
                .groups
                .values()
                .filter(|g| names.contains(&g.name.as_str()))
                .map(|g| g.index)
                .collect()
        };
        if let Some(id) = param(pairs, "tag_id") {
            f.tag_sets.push(by_id(&[id]));
        }
        if let Some(ids) = list_param(pairs, "tag_id_in") {
            f.tag_sets.push(by_id(&ids));
        }
        if let Some(name) = param(pairs, "tag_name") {
            f.tag_sets.push(by_name(&[name]));
        }
        if let Some(names) = list_param(pairs, "tag_name_in") {
            f.tag_sets.push(by_name(&names));
        }
        f.active = f.serial.is_some()
            || f.device.is_some()
            || f.device_name.is_some()
            || f.model.is_some()
            || f.asset_tag.is_some()
            || f.platform.is_some()
            || f.blueprints.is_some()
            || !f.tag_sets.is_empty()
            || f.user_any.is_some()
            || f.user_name.is_some()
            || f.user_email.is_some()
            || f.user_email_exact.is_some()
            || f.user.is_some();
        f
    }

    pub(super) fn matches(&self, fleet: &Fleet, d: &SimDevice) -> bool {
        if !self.active {
            return true;
        }
        let text = |filter: &Option<String>, value: &str| {
            filter.as_deref().is_none_or(|n| contains_ci(value, n))
        };
        if !text(&self.serial, &d.serial) || !text(&self.device_name, &d.name) {
            return false;
        }
        if self.device.is_some_and(|want| want != Some(d.index)) {
            return false;
        }
        let (model, platform) = model_of(d);
        if !text(&self.model, model) || !text(&self.asset_tag, &asset_tag(d)) {
            return false;
        }
        if self
            .platform
            .as_deref()
            .is_some_and(|p| p != platform.name())
        {
            return false;
        }
        if let Some(bps) = &self.blueprints {
            if !bps.contains(&blueprint_of(d)) {
                return false;
            }
        }
        for set in &self.tag_sets {
            let member = set.iter().any(|g| {
                fleet
                    .groups
                    .get(g)
                    .is_some_and(|g| g.members.contains(&d.index))
            });
            if !member {
                return false;
            }
        }
        let user_filters = self.user_any.is_some()
            || self.user_name.is_some()
            || self.user_email.is_some()
            || self.user_email_exact.is_some()
            || self.user.is_some();
        if user_filters {
            let Some(u) = fleet.user_of(d) else {
                return false;
            };
            if let Some(any) = &self.user_any {
                if !contains_ci(&u.full_name, any) && !contains_ci(&u.email, any) {
                    return false;
                }
            }
            if !text(&self.user_name, &u.full_name) || !text(&self.user_email, &u.email) {
                return false;
            }
            if self
                .user_email_exact
                .as_deref()
                .is_some_and(|e| !u.email.eq_ignore_ascii_case(e))
            {
                return false;
            }
            if self.user.is_some_and(|want| want != Some(u.index)) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SortKey {
    DeviceId,
    Serial,
    Name,
    Platform,
    Model,
    LastCheckIn,
}

/// `ordering`: comma-separated fields, `-` for descending; unknown fields are dropped.
pub(super) fn parse_ordering(value: Option<&str>) -> Vec<(SortKey, bool)> {
    let Some(value) = value else {
        return Vec::new();
    };
    value
        .split(',')
        .filter_map(|field| {
            let field = field.trim();
            let (desc, name) = match field.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, field),
            };
            let key = match name {
                "device_id" => SortKey::DeviceId,
                "serial_number" => SortKey::Serial,
                "device_name" => SortKey::Name,
                "platform" => SortKey::Platform,
                "model" => SortKey::Model,
                "last_check_in" => SortKey::LastCheckIn,
                _ => return None,
            };
            Some((key, desc))
        })
        .collect()
}

/// The page of devices a listing request asks for.
pub(super) fn select_devices<'f>(
    fleet: &'f Fleet,
    filter: &DeviceFilter,
    ordering: &[(SortKey, bool)],
    offset: usize,
    limit: usize,
) -> Vec<&'f SimDevice> {
    // Keys after a device_id key never matter: device ids are unique.
    let ordering: Vec<(SortKey, bool)> =
        match ordering.iter().position(|(k, _)| *k == SortKey::DeviceId) {
            Some(at) => ordering[..=at].to_vec(),
            None => ordering.to_vec(),
        };
    match ordering.as_slice() {
        [] if !filter.active && fleet.devices.len() == key_span(&fleet.devices) as usize => {
            // Device numbers are exactly 0..n: the offset is the first number.
            let start = u32::try_from(offset).unwrap_or(u32::MAX);
            fleet
                .devices
                .range(start..)
                .map(|(_, d)| d)
                .take(limit)
                .collect()
        }
        [] => fleet
            .devices
            .values()
            .filter(|d| filter.matches(fleet, d))
            .skip(offset)
            .take(limit)
            .collect(),
        [(SortKey::DeviceId, desc)] if !filter.active => {
            let span = key_span(&fleet.devices);
            let sorted = indexes_sorted_by_id(NS_DEVICE, span, ids::uuid);
            let dense = fleet.devices.len() == span as usize;
            let order: Box<dyn Iterator<Item = &u32>> = if *desc {
                Box::new(sorted.iter().rev())
            } else {
                Box::new(sorted.iter())
            };
            if dense {
                order
                    .skip(offset)
                    .take(limit)
                    .filter_map(|i| fleet.devices.get(i))
                    .collect()
            } else {
                order
                    .filter_map(|i| fleet.devices.get(i))
                    .skip(offset)
                    .take(limit)
                    .collect()
            }
        }
        [(first, first_desc), ..] => {
            let (first, first_desc) = (*first, *first_desc);
            let needs_id = ordering.iter().any(|(k, _)| *k == SortKey::DeviceId);
            let needs_check_in = ordering.iter().any(|(k, _)| *k == SortKey::LastCheckIn);
            let matches: Vec<Keyed<'f>> = fleet
                .devices
                .values()
                .filter(|d| filter.matches(fleet, d))
                .map(|d| {
                    let id = needs_id.then(|| device_id(d.index));
                    let check_in = needs_check_in.then(|| last_check_in(fleet, d));
                    let prefix = prefix16(sort_text(first, d, id.as_deref(), check_in.as_deref()));
                    Keyed {
                        prefix,
                        id,
                        check_in,
                        d,
                    }
                })
                .collect();
            let full = |a: &Keyed, b: &Keyed| {
                for (key, desc) in &ordering {
                    let o = sort_text(*key, a.d, a.id.as_deref(), a.check_in.as_deref())
                        .cmp(sort_text(*key, b.d, b.id.as_deref(), b.check_in.as_deref()));
                    let o = if *desc { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.d.index.cmp(&b.d.index)
            };
            // The inline prefix decides most comparisons without touching the strings.
            let cmp = |a: &Keyed, b: &Keyed| {
                let o = a.prefix.cmp(&b.prefix);
                match if first_desc { o.reverse() } else { o } {
                    Ordering::Equal => full(a, b),
                    decided => decided,
                }
            };
            sorted_window(matches, offset, limit, cmp)
                .into_iter()
                .map(|k| k.d)
                .collect()
        }
    }
}

/// A device with the first 16 bytes of its first sort key inline (zero-padded: where two prefixes differ,
/// they order as the whole strings do).
pub(super) struct Keyed<'f> {
    pub(super) prefix: [u8; 16],
    pub(super) id: Option<String>,
    /// `last_check_in` (fixed-width, so text order is time order) when it is among the keys.
    pub(super) check_in: Option<String>,
    pub(super) d: &'f SimDevice,
}

pub(super) fn prefix16(text: &str) -> [u8; 16] {
    let mut prefix = [0; 16];
    let n = text.len().min(16);
    prefix[..n].copy_from_slice(&text.as_bytes()[..n]);
    prefix
}

/// The text a sort key compares (`id` and `check_in`: the device's id and check-in time when those are
/// among the keys).
pub(super) fn sort_text<'a>(
    key: SortKey,
    d: &'a SimDevice,
    id: Option<&'a str>,
    check_in: Option<&'a str>,
) -> &'a str {
    match key {
        SortKey::DeviceId => id.unwrap_or_default(),
        SortKey::LastCheckIn => check_in.unwrap_or_default(),
        SortKey::Serial => &d.serial,
        SortKey::Name => &d.name,
        SortKey::Platform => model_of(d).1.name(),
        SortKey::Model => model_of(d).0,
    }
}

pub(super) async fn list_devices(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(e) = refusal(&headers, Permission::DeviceList) {
        return e;
    }
    let pairs = query_pairs(raw.as_deref());
    let (limit, offset) = limit_offset(&pairs, DEVICE_LIMIT);
    let fleet = ctx.fleet();
    let filter = DeviceFilter::parse(&fleet, &pairs);
    let ordering = parse_ordering(query_get(&pairs, "ordering"));
    let page = select_devices(&fleet, &filter, &ordering, offset, limit);
    let mut tags = page_tags(&fleet, &page);
    let rows: Vec<Value> = page
        .iter()
        .map(|d| {
            let names = tags.remove(&d.index).unwrap_or_default();
            device_row(&fleet, d, names.into_iter().map(Value::from).collect())
        })
        .collect();
    json(StatusCode::OK, Value::Array(rows))
}

pub(super) async fn get_device(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    device_answer(&ctx, &headers, &id, |fleet, d| {
        device_row(fleet, d, tag_names(fleet, d))
    })
}

pub(super) async fn get_device_details(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    device_answer(&ctx, &headers, &id, device_details)
}

/// One device by id, as `render` shows it: the device routes differ only in the view.
fn device_answer(
    ctx: &Ctx,
    headers: &HeaderMap,
    id: &str,
    render: impl FnOnce(&Fleet, &SimDevice) -> Value,
) -> Response {
    if let Some(e) = refusal_by_id(headers, id, Permission::DeviceDetails) {
        return e;
    }
    let fleet = ctx.fleet();
    match device_by_id(&fleet, id) {
        Some(d) => json(StatusCode::OK, render(&fleet, d)),
        None => not_found(),
    }
}
