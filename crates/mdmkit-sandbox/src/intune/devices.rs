//! `/deviceManagement/managedDevices`: Intune's view of the fleet.

use super::*;

// ----- managed devices -----

pub(super) const MANAGED_DEVICE_PROPS: &[&str] = &[
    "id",
    "userId",
    "deviceName",
    "managedDeviceOwnerType",
    "enrolledDateTime",
    "lastSyncDateTime",
    "operatingSystem",
    "complianceState",
    "jailBroken",
    "managementAgent",
    "osVersion",
    "easActivated",
    "easDeviceId",
    "easActivationDateTime",
    "azureADRegistered",
    "deviceEnrollmentType",
    "activationLockBypassCode",
    "emailAddress",
    "azureADDeviceId",
    "deviceRegistrationState",
    "deviceCategoryDisplayName",
    "isSupervised",
    "exchangeLastSuccessfulSyncDateTime",
    "exchangeAccessState",
    "exchangeAccessStateReason",
    "remoteAssistanceSessionUrl",
    "remoteAssistanceSessionErrorDetails",
    "isEncrypted",
    "userPrincipalName",
    "model",
    "manufacturer",
    "imei",
    "complianceGracePeriodExpirationDateTime",
    "serialNumber",
    "phoneNumber",
    "androidSecurityPatchLevel",
    "userDisplayName",
    "configurationManagerClientEnabledFeatures",
    "wiFiMacAddress",
    "deviceHealthAttestationState",
    "subscriberCarrier",
    "meid",
    "totalStorageSpaceInBytes",
    "freeStorageSpaceInBytes",
    "managedDeviceName",
    "partnerReportedThreatState",
    "managementState",
    "deviceActionResults",
];

pub(super) const MANAGED_DEVICE_FILTERS: FilterRules = FilterRules {
    resource: "managedDevices",
    type_name: "managedDevice",
    dialect: Dialect::Intune,
    props: MANAGED_DEVICE_PROPS,
    filterable: &[
        ("serialNumber", &[Use::Op(Op::Eq)]),
        ("imei", &[Use::Op(Op::Eq)]),
        ("manufacturer", &[Use::Op(Op::Eq)]),
        ("operatingSystem", &[Use::Op(Op::Eq)]),
        ("complianceState", &[Use::Op(Op::Eq)]),
        ("managementAgent", &[Use::Op(Op::Eq)]),
        ("managementState", &[Use::Op(Op::Eq)]),
        ("deviceCategoryDisplayName", &[Use::Op(Op::Eq)]),
        ("exchangeAccessState", &[Use::Op(Op::Eq)]),
        ("jailBroken", &[Use::Op(Op::Eq)]),
        ("deviceName", &[Use::Op(Op::Eq), Use::Func(Func::Contains)]),
        ("model", &[Use::Op(Op::Eq), Use::Func(Func::Contains)]),
        ("userPrincipalName", &[Use::Op(Op::Eq)]),
        ("azureADDeviceId", &[Use::Op(Op::Eq)]),
        ("emailAddress", &[Use::Func(Func::Contains)]),
        ("osVersion", &[Use::Func(Func::Contains)]),
        ("phoneNumber", &[Use::Func(Func::Contains)]),
        ("enrolledDateTime", &[Use::Op(Op::Lt), Use::Op(Op::Gt)]),
        ("lastSyncDateTime", &[Use::Op(Op::Lt), Use::Op(Op::Gt)]),
    ],
};

pub(super) const MODELS: &[(&str, &str, bool)] = &[
    // (model, manufacturer, Windows?)
    ("MacBook Pro", "Apple", false),
    ("MacBook Air", "Apple", false),
    ("iMac", "Apple", false),
    ("Mac mini", "Apple", false),
    ("Mac Studio", "Apple", false),
    ("ThinkPad X1", "Lenovo", true),
    ("Surface Laptop", "Microsoft", true),
];

/// The hardware a device name suggests (the fleet names devices after their model).
pub(super) fn hardware(d: &SimDevice) -> (&'static str, &'static str, bool) {
    MODELS
        .iter()
        .copied()
        .filter(|(model, _, _)| d.name.contains(model))
        .max_by_key(|(model, _, _)| model.len())
        .unwrap_or(MODELS[d.index as usize % MODELS.len()])
}

pub(super) fn managed_id(index: u32) -> String {
    ids::uuid(NS_MANAGED_DEVICE, index)
}

pub(super) fn aad_device_id(index: u32) -> String {
    ids::uuid(NS_AAD_DEVICE_ID, index)
}

pub(super) fn user_id(user: u32) -> String {
    ids::uuid(NS_USER, user)
}

/// A managed device as Intune shows it.
pub(super) struct ManagedView<'a> {
    pub(super) d: &'a SimDevice,
    pub(super) user: Option<&'a SimUser>,
    /// `lastSyncDateTime`: the fleet's change time of the device.
    pub(super) synced: Option<String>,
}

impl<'a> ManagedView<'a> {
    pub(super) fn new(fleet: &'a Fleet, d: &'a SimDevice) -> Self {
        ManagedView {
            d,
            user: fleet.user_of(d),
            synced: fleet
                .changed_at(d.index)
                .map(|t| t.to_rfc3339_opts(mdmkit_core::chrono::SecondsFormat::Secs, true)),
        }
    }

    /// A user property of an unassigned device: `""`, `null` or absent, by index.
    pub(super) fn unassigned(&self) -> Option<Value> {
        match self.d.index % 3 {
            0 => Some(json!("")),
            1 => Some(Value::Null),
            _ => None,
        }
    }

    pub(super) fn user_prop(&self, f: impl FnOnce(&SimUser) -> String) -> Option<Value> {
        match self.user {
            Some(u) => Some(Value::String(f(u))),
            None => self.unassigned(),
        }
    }

    /// One property; `None` when the device leaves it out.
    pub(super) fn prop(&self, name: &str) -> Option<Value> {
        let d = self.d;
        let i = d.index;
        // Only the properties asked for are computed.
        let windows = || hardware(d).2;
        Some(match name {
            "id" => json!(managed_id(i)),
            "deviceName" => json!(d.name),
            "serialNumber" => json!(d.serial),
            "azureADDeviceId" => json!(aad_device_id(i)),
            "userId" => return self.user_prop(|u| user_id(u.index)),
            "userDisplayName" => return self.user_prop(|u| u.full_name.clone()),
            "userPrincipalName" | "emailAddress" => return self.user_prop(|u| u.email.clone()),
            "managedDeviceOwnerType" => json!(if i % 9 == 4 { "personal" } else { "company" }),
            "enrolledDateTime" => json!(format!(
                "2025-{:02}-{:02}T{:02}:{:02}:00Z",
                1 + i % 12,
                1 + i % 28,
                i % 24,
                i % 60
            )),
            "lastSyncDateTime" => json!(self.synced.clone()?),
            "operatingSystem" => json!(if windows() { "Windows" } else { "macOS" }),
            "osVersion" => json!(if windows() {
                "10.0.26100.2605"
            } else {
                "15.2 (24C101)"
            }),
            "complianceState" => json!(if i % 11 == 5 {
                "noncompliant"
            } else {
                "compliant"
            }),
            "jailBroken" => json!("Unknown"),
            "managementAgent" => json!("mdm"),
            "managementState" => json!("managed"),
            "easActivated" => json!(false),
            "easDeviceId"
            | "imei"
            | "meid"
            | "phoneNumber"
            | "subscriberCarrier"
            | "androidSecurityPatchLevel" => json!(""),
            "easActivationDateTime" | "exchangeLastSuccessfulSyncDateTime" => {
                json!("0001-01-01T00:00:00Z")
            }
            "azureADRegistered" => json!(true),
            "deviceEnrollmentType" => json!(if windows() {
                "windowsAzureADJoin"
            } else {
                "appleBulkWithUser"
            }),
            "activationLockBypassCode"
            | "remoteAssistanceSessionUrl"
            | "remoteAssistanceSessionErrorDetails"
            | "configurationManagerClientEnabledFeatures"
            | "deviceHealthAttestationState" => Value::Null,
            "deviceRegistrationState" => json!("registered"),
            "deviceCategoryDisplayName" => json!("Unknown Category"),
            "isSupervised" => json!(!windows()),
            "exchangeAccessState" | "exchangeAccessStateReason" => json!("none"),
            "isEncrypted" => json!(true),
            "model" => json!(hardware(d).0),
            "manufacturer" => json!(hardware(d).1),
            "complianceGracePeriodExpirationDateTime" => json!("9999-12-31T23:59:59Z"),
            "wiFiMacAddress" => json!(ids::uuid(NS_MAC, i).replace('-', "")[..12].to_owned()),
            "totalStorageSpaceInBytes" => json!(494_384_795_648_u64),
            "freeStorageSpaceInBytes" => {
                json!(100_000_000_000_u64 + u64::from(i % 97) * 1_073_741_824)
            }
            "managedDeviceName" => json!(format!(
                "{}{}_{}/{}/2025_{}:{:02} {}",
                self.user
                    .map(|u| format!("{}_", u.username))
                    .unwrap_or_default(),
                if windows() { "Windows" } else { "MacOS" },
                1 + i % 12,
                1 + i % 28,
                1 + i % 12,
                i % 60,
                if i % 2 == 0 { "AM" } else { "PM" }
            )),
            "partnerReportedThreatState" => json!("unknown"),
            "deviceActionResults" => json!([]),
            _ => return None,
        })
    }

    /// The device as a value (the single-device route adds its own annotations to it).
    pub(super) fn render(self, select: &Option<Vec<&'static str>>) -> Value {
        serde_json::to_value(ManagedJson { view: self, select })
            .expect("text keys and JSON values always make a JSON object")
    }
}

/// A managed device of a listing page, its selected properties written as they are computed.
struct ManagedJson<'a> {
    view: ManagedView<'a>,
    select: &'a Option<Vec<&'static str>>,
}

impl serde::Serialize for ManagedJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let props = self.select.as_deref().unwrap_or(MANAGED_DEVICE_PROPS);
        let mut map = serializer.serialize_map(None)?;
        for p in props {
            if let Some(v) = self.view.prop(p) {
                map.serialize_entry(p, &v)?;
            }
        }
        map.end()
    }
}

/// The caller of a managed-device route: Intune refuses an app without the permission in its own words.
fn managed_devices_caller(ctx: &Ctx, headers: &HeaderMap, path: &str) -> Result<Caller, Fault> {
    let caller = authenticate(ctx, headers)?;
    if !caller.app.has(Permission::ManagedDevices) {
        return Err(Fault::intune_forbidden(path));
    }
    Ok(caller)
}

pub(super) async fn managed_devices(call: Call) -> Response {
    answer(&call, list_managed_devices)
}

pub(super) fn list_managed_devices(
    ctx: &Ctx,
    headers: &HeaderMap,
    path: &str,
    raw: Option<&str>,
) -> Answer {
    let caller = managed_devices_caller(ctx, headers, path)?;
    let dialect = Dialect::Intune;
    let options = parse_options(
        raw,
        dialect,
        &[
            "$select",
            "$filter",
            "$top",
            "$skiptoken",
            "$count",
            "$skip",
        ],
    )?;
    let select = parse_select(&options, MANAGED_DEVICE_PROPS, "managedDevice", dialect)?;
    let filter = MANAGED_DEVICE_FILTERS.compile(options.filter.as_deref())?;
    // Graph sometimes ignores `$filter` on managed devices and returns everything.
    let filter = if ctx
        .shared
        .switches
        .graph_ignores_filter
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        None
    } else {
        filter
    };
    let size = page_size(&options, dialect)?;
    let cursor = cursor(&options, 'd', dialect)?;
    let fleet = ctx.fleet();
    let count = options.count.then(|| match &filter {
        None => fleet.devices.len(),
        Some(_) => fleet
            .devices
            .values()
            .filter(|d| matches(&filter, |p| ManagedView::new(&fleet, d).prop(p)))
            .count(),
    });
    let items = range_after(&fleet.devices, cursor.after)
        .filter(|(_, d)| matches(&filter, |p| ManagedView::new(&fleet, d).prop(p)))
        .map(|(i, d)| (u64::from(*i), d));
    let listing = Listing {
        caller: &caller,
        path,
        options: &options,
        tag: 'd',
        cursor,
        context: format!("deviceManagement/managedDevices{}", context_select(&select)),
    };
    Ok(listing.respond(items, size, count, |d| ManagedJson {
        view: ManagedView::new(&fleet, d),
        select: &select,
    }))
}

pub(super) async fn managed_device(call: Call, Path(id): Path<String>) -> Response {
    answer(&call, |ctx, headers, path, raw| {
        get_managed_device(ctx, headers, path, &id, raw)
    })
}

pub(super) fn get_managed_device(
    ctx: &Ctx,
    headers: &HeaderMap,
    path: &str,
    id: &str,
    raw: Option<&str>,
) -> Answer {
    let caller = managed_devices_caller(ctx, headers, path)?;
    let options = parse_options(raw, Dialect::Intune, &["$select"])?;
    let select = parse_select(
        &options,
        MANAGED_DEVICE_PROPS,
        "managedDevice",
        Dialect::Intune,
    )?;
    let fleet = ctx.fleet();
    let wanted = id.to_ascii_lowercase();
    let Some(d) = fleet
        .devices
        .values()
        .find(|d| managed_id(d.index) == wanted)
    else {
        return Err(Fault::intune(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "Resource not found",
            path,
        ));
    };
    let object = ManagedView::new(&fleet, d).render(&select);
    Ok(entity(
        object,
        &caller,
        "deviceManagement/managedDevices",
        &select,
    ))
}
