//! `/api/vN/computers-inventory`: computers by section, listed and one at a time.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::*;

// ----- computers -----

/// A computers-inventory collection version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inventory {
    V1,
    V3,
    V4,
}

impl Inventory {
    pub(super) fn segment(self) -> &'static str {
        match self {
            Inventory::V1 => "v1",
            Inventory::V3 => "v3",
            Inventory::V4 => "v4",
        }
    }

    pub(super) fn has(self, section: &Section) -> bool {
        !section.v1_only || self == Inventory::V1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Content {
    General,
    Hardware,
    UserAndLocation,
    OperatingSystem,
    GroupMemberships,
    EmptyList,
    EmptyObject,
}

pub(super) struct Section {
    pub(super) name: &'static str,
    pub(super) key: &'static str,
    pub(super) content: Content,
    pub(super) v1_only: bool,
}

pub(super) const fn section(name: &'static str, key: &'static str, content: Content) -> Section {
    Section {
        name,
        key,
        content,
        v1_only: false,
    }
}

/// The inventory sections (schema `ComputerSectionV4`; v1 also has PLUGINS and FONTS), in response order.
pub(super) const SECTIONS: &[Section] = &[
    section("GENERAL", "general", Content::General),
    section("DISK_ENCRYPTION", "diskEncryption", Content::EmptyObject),
    section("PURCHASING", "purchasing", Content::EmptyObject),
    section("APPLICATIONS", "applications", Content::EmptyList),
    section("STORAGE", "storage", Content::EmptyObject),
    section(
        "USER_AND_LOCATION",
        "userAndLocation",
        Content::UserAndLocation,
    ),
    section(
        "CONFIGURATION_PROFILES",
        "configurationProfiles",
        Content::EmptyList,
    ),
    section("PRINTERS", "printers", Content::EmptyList),
    section("SERVICES", "services", Content::EmptyList),
    section("HARDWARE", "hardware", Content::Hardware),
    section(
        "LOCAL_USER_ACCOUNTS",
        "localUserAccounts",
        Content::EmptyList,
    ),
    section("CERTIFICATES", "certificates", Content::EmptyList),
    section("ATTACHMENTS", "attachments", Content::EmptyList),
    Section {
        v1_only: true,
        ..section("PLUGINS", "plugins", Content::EmptyList)
    },
    section("PACKAGE_RECEIPTS", "packageReceipts", Content::EmptyObject),
    Section {
        v1_only: true,
        ..section("FONTS", "fonts", Content::EmptyList)
    },
    section("SECURITY", "security", Content::EmptyObject),
    section(
        "OPERATING_SYSTEM",
        "operatingSystem",
        Content::OperatingSystem,
    ),
    section("LICENSED_SOFTWARE", "licensedSoftware", Content::EmptyList),
    section("IBEACONS", "ibeacons", Content::EmptyList),
    section("SOFTWARE_UPDATES", "softwareUpdates", Content::EmptyList),
    section(
        "EXTENSION_ATTRIBUTES",
        "extensionAttributes",
        Content::EmptyList,
    ),
    section("CONTENT_CACHING", "contentCaching", Content::EmptyObject),
    section(
        "GROUP_MEMBERSHIPS",
        "groupMemberships",
        Content::GroupMemberships,
    ),
];

/// Requested sections as a bit set over [`SECTIONS`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Sections(u32);

impl Sections {
    pub(super) const ALL: Sections = Sections(u32::MAX);

    /// The `section` parameters; GENERAL alone when there are none.
    pub(super) fn parse(pairs: &[(String, String)], api: Inventory) -> Result<Sections, Rejection> {
        let mut bits = 0u32;
        for (_, name) in pairs.iter().filter(|(k, _)| k == "section") {
            let index = SECTIONS
                .iter()
                .position(|s| s.name == name.as_str() && api.has(s))
                .ok_or_else(|| bad_field("section", format!("Unknown section {name}")))?;
            bits |= 1 << index;
        }
        Ok(Sections(if bits == 0 { 1 } else { bits }))
    }

    pub(super) fn contains(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }
}

pub(super) const COMPUTER_LIST: ListSpec = ListSpec {
    max_size: MAX_PAGE_SIZE,
    default_sort: "general.name:asc",
    sorts: &[
        "id",
        "udid",
        "general.name",
        "general.assetTag",
        "general.platform",
        "hardware.make",
        "hardware.model",
        "userAndLocation.realname",
        "general.reportDate",
    ],
    filters: &[
        ("id", rsql::Kind::Number),
        ("general.reportDate", rsql::Kind::Date),
        ("udid", rsql::Kind::Text),
        ("general.name", rsql::Kind::Text),
        ("general.assetTag", rsql::Kind::Text),
        ("general.platform", rsql::Kind::Text),
        ("general.managementId", rsql::Kind::Text),
        ("hardware.serialNumber", rsql::Kind::Text),
        ("hardware.make", rsql::Kind::Text),
        ("hardware.model", rsql::Kind::Text),
        ("hardware.modelIdentifier", rsql::Kind::Text),
        ("hardware.macAddress", rsql::Kind::Text),
        ("userAndLocation.username", rsql::Kind::Text),
        ("userAndLocation.realname", rsql::Kind::Text),
        ("userAndLocation.email", rsql::Kind::Text),
        ("userAndLocation.position", rsql::Kind::Text),
        ("userAndLocation.phone", rsql::Kind::Text),
    ],
};

pub(super) const MODELS: &[(&str, &str)] = &[
    ("MacBook Pro (14-inch, 2023)", "Mac14,9"),
    ("MacBook Air (13-inch, M2, 2022)", "Mac14,2"),
    ("iMac (24-inch, 2023)", "Mac15,4"),
    ("Mac mini (2023)", "Mac14,3"),
    ("Mac Studio (2023)", "Mac14,13"),
];

pub(super) fn model(index: u32) -> (&'static str, &'static str) {
    MODELS[(index as usize * 7 + 3) % MODELS.len()]
}

pub(super) fn computer_id(index: u32) -> String {
    (index + 1).to_string()
}

pub(super) fn asset_tag(index: u32) -> String {
    format!("IT-{:05}", index + 1)
}

pub(super) fn udid(index: u32) -> String {
    ids::uuid(NS_UDID, index).to_ascii_uppercase()
}

pub(super) fn mac_address(index: u32) -> String {
    let hex: String = ids::uuid(NS_MAC, index)
        .chars()
        .filter(|c| *c != '-')
        .take(10)
        .collect();
    let mut out = String::from("AC");
    for pair in hex.as_bytes().chunks(2) {
        out.push(':');
        out.push_str(&String::from_utf8_lossy(pair).to_ascii_uppercase());
    }
    out
}

/// A deterministic time in November 2026 for a device.
pub(super) fn timestamp(index: u32, salt: u32) -> String {
    let n = index
        .wrapping_mul(2_654_435_761)
        .wrapping_add(salt.wrapping_mul(97));
    format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}Z",
        1 + n % 25,
        (n / 25) % 24,
        (n / 600) % 60,
        (n / 36_000) % 60
    )
}

#[derive(Clone, Copy)]
pub(super) struct ComputerRow<'f> {
    pub(super) fleet: &'f Fleet,
    pub(super) device: &'f SimDevice,
}

impl<'f> ComputerRow<'f> {
    pub(super) fn user(&self) -> Option<&'f SimUser> {
        self.fleet.user_of(self.device)
    }
}

impl Record for ComputerRow<'_> {
    fn field(&self, name: &str) -> rsql::Value<'_> {
        use rsql::Value::{Number, Text};
        let d = self.device;
        let user = self.user();
        let user_text = |f: fn(&SimUser) -> &str| Text(Cow::Borrowed(user.map(f).unwrap_or("")));
        match name {
            "id" => Number(i64::from(d.index) + 1),
            "udid" => Text(udid(d.index).into()),
            "general.name" => Text(Cow::Borrowed(&d.name)),
            "general.assetTag" => Text(asset_tag(d.index).into()),
            "general.platform" => Text("Mac".into()),
            "general.managementId" => Text(ids::uuid(NS_MANAGEMENT_ID, d.index).into()),
            "hardware.serialNumber" => Text(Cow::Borrowed(&d.serial)),
            "hardware.make" => Text("Apple".into()),
            "hardware.model" => Text(model(d.index).0.into()),
            "hardware.modelIdentifier" => Text(model(d.index).1.into()),
            "hardware.macAddress" => Text(mac_address(d.index).into()),
            "userAndLocation.username" => user_text(|u| &u.username),
            "userAndLocation.realname" => user_text(|u| &u.full_name),
            "userAndLocation.email" => user_text(|u| &u.email),
            "userAndLocation.position" | "userAndLocation.phone" => Text("".into()),
            "general.reportDate" => self
                .fleet
                .changed_at(d.index)
                .map_or(rsql::Value::Null, |t| {
                    rsql::Value::Date(t.timestamp_millis())
                }),
            _ => rsql::Value::Null,
        }
    }
}

/// A computer with the requested sections filled and every other section of the version `null`,
/// written straight from the fleet: a page of 2000 computers is serialised without first building a
/// tree of values, so the sandbox answers such a page in a few milliseconds.
#[derive(Clone, Copy)]
pub(super) struct ComputerJson<'f> {
    pub(super) row: ComputerRow<'f>,
    pub(super) sections: Sections,
    pub(super) api: Inventory,
}

impl Serialize for ComputerJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let d = self.row.device;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &computer_id(d.index))?;
        map.serialize_entry("udid", &udid(d.index))?;
        for (i, section) in SECTIONS.iter().enumerate() {
            if !self.api.has(section) {
                continue;
            }
            if self.sections.contains(i) {
                let content = SectionJson {
                    row: self.row,
                    content: section.content,
                    api: self.api,
                };
                map.serialize_entry(section.key, &content)?;
            } else {
                map.serialize_entry(section.key, &())?;
            }
        }
        map.end()
    }
}

/// One section of a computer, in its inventory shape.
struct SectionJson<'f> {
    row: ComputerRow<'f>,
    content: Content,
    api: Inventory,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct General<'f> {
    name: &'f str,
    last_ip_address: String,
    platform: &'static str,
    asset_tag: String,
    /// The last inventory report: the fleet's change time of the device.
    report_date: Option<String>,
    last_enrolled_date: &'static str,
    management_id: String,
    site: IdName,
    remote_management: RemoteManagement,
    supervised: bool,
    /// v4 split `lastContactTime` into `lastContact` and `lastCheckIn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_contact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_check_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_contact_time: Option<String>,
}

#[derive(Serialize)]
struct IdName {
    id: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct RemoteManagement {
    managed: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Hardware<'f> {
    make: &'static str,
    model: &'static str,
    model_identifier: &'static str,
    serial_number: &'f str,
    mac_address: String,
    alt_mac_address: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserAndLocation<'f> {
    username: &'f str,
    realname: &'f str,
    email: &'f str,
    position: &'static str,
    phone: &'static str,
    department_id: Option<&'static str>,
    building_id: Option<&'static str>,
    room: &'static str,
    extension_attributes: [(); 0],
}

#[derive(Serialize)]
struct OperatingSystem {
    name: &'static str,
    version: &'static str,
    build: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupMembership<'f> {
    group_id: String,
    group_name: &'f str,
    group_description: &'static str,
    smart_group: bool,
}

impl Serialize for SectionJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (fleet, d) = (self.row.fleet, self.row.device);
        match self.content {
            Content::General => {
                let contact = timestamp(d.index, 0);
                let v4 = self.api == Inventory::V4;
                General {
                    name: &d.name,
                    last_ip_address: format!(
                        "10.{}.{}.{}",
                        (d.index >> 16) & 0xff,
                        (d.index >> 8) & 0xff,
                        d.index & 0xff
                    ),
                    platform: "Mac",
                    asset_tag: asset_tag(d.index),
                    report_date: fleet.changed_at(d.index).map(|t| {
                        t.to_rfc3339_opts(mdmkit_core::chrono::SecondsFormat::Millis, true)
                    }),
                    last_enrolled_date: "2025-03-01T09:00:00Z",
                    management_id: ids::uuid(NS_MANAGEMENT_ID, d.index),
                    site: IdName {
                        id: "-1",
                        name: "None",
                    },
                    remote_management: RemoteManagement { managed: true },
                    supervised: true,
                    last_contact: v4.then(|| contact.clone()),
                    last_check_in: v4.then(|| contact.clone()),
                    last_contact_time: (!v4).then_some(contact),
                }
                .serialize(serializer)
            }
            Content::Hardware => {
                let (model, model_identifier) = model(d.index);
                Hardware {
                    make: "Apple",
                    model,
                    model_identifier,
                    serial_number: &d.serial,
                    mac_address: mac_address(d.index),
                    alt_mac_address: "",
                }
                .serialize(serializer)
            }
            Content::UserAndLocation => {
                let user = self.row.user();
                let text = |f: fn(&SimUser) -> &str| user.map(f).unwrap_or("");
                UserAndLocation {
                    username: text(|u| &u.username),
                    realname: text(|u| &u.full_name),
                    email: text(|u| &u.email),
                    position: "",
                    phone: "",
                    department_id: None,
                    building_id: None,
                    room: "",
                    extension_attributes: [],
                }
                .serialize(serializer)
            }
            Content::OperatingSystem => OperatingSystem {
                name: "macOS",
                version: "15.2",
                build: "24C101",
            }
            .serialize(serializer),
            Content::GroupMemberships => {
                serializer.collect_seq(fleet.groups_of(d.index).map(|g| GroupMembership {
                    group_id: group_id(g.index),
                    group_name: &g.name,
                    group_description: "",
                    smart_group: g.smart,
                }))
            }
            Content::EmptyList => [(); 0].serialize(serializer),
            Content::EmptyObject => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

/// A `{totalCount, results}` page, written as it is serialised.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InventoryPage<'f> {
    total_count: usize,
    results: Vec<ComputerJson<'f>>,
}

pub(super) fn inventory_list(
    ctx: &Ctx,
    headers: &HeaderMap,
    raw: Option<&str>,
    api: Inventory,
) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[Read::Computers])?;
    let pairs = query_pairs(raw);
    let sections = Sections::parse(&pairs, api)?;
    let query = ListQuery::parse(&pairs, &COMPUTER_LIST)?;
    let fleet = ctx.fleet();
    let rows = fleet.devices.values().map(|device| ComputerRow {
        fleet: &fleet,
        device,
    });
    let (total, page) = query.run(rows, fleet.devices.len());
    let results = page
        .into_iter()
        .map(|row| ComputerJson { row, sections, api })
        .collect();
    Ok(json_of(
        StatusCode::OK,
        &InventoryPage {
            total_count: total,
            results,
        },
    ))
}

/// One computer: the requested sections, or every section for the `-detail` route (`raw: None`).
pub(super) fn inventory_one(
    ctx: &Ctx,
    headers: &HeaderMap,
    raw: Option<&str>,
    id: &str,
    api: Inventory,
) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[Read::Computers])?;
    let sections = match raw {
        Some(raw) => Sections::parse(&query_pairs(Some(raw)), api)?,
        None => Sections::ALL,
    };
    let fleet = ctx.fleet();
    let device = index_of(id)
        .and_then(|i| fleet.devices.get(&i))
        .ok_or_else(|| Rejection::NoSuchId(id.to_owned()))?;
    let row = ComputerRow {
        fleet: &fleet,
        device,
    };
    Ok(json_of(
        StatusCode::OK,
        &ComputerJson { row, sections, api },
    ))
}

/// The fleet index behind a Jamf id (`index + 1`).
pub(super) fn index_of(id: &str) -> Option<u32> {
    id.parse::<u32>().ok()?.checked_sub(1)
}
