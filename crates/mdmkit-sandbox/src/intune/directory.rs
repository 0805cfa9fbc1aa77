//! The Entra directory: devices, users, groups and their member lists.

use super::*;

// ----- directory: devices, users, groups -----

pub(super) const DEVICE_PROPS: &[&str] = &[
    "id",
    "deviceId",
    "displayName",
    "operatingSystem",
    "operatingSystemVersion",
    "accountEnabled",
    "isManaged",
    "isCompliant",
    "mdmAppId",
    "trustType",
    "approximateLastSignInDateTime",
    "registrationDateTime",
    "deletedDateTime",
];

pub(super) const USER_PROPS: &[&str] = &[
    "id",
    "displayName",
    "givenName",
    "surname",
    "userPrincipalName",
    "mail",
    "jobTitle",
    "businessPhones",
];

/// Directory objects a member list may hold (for `$select` on uncast lists).
pub(super) const MEMBER_PROPS: &[&str] = &[
    "id",
    "deviceId",
    "displayName",
    "operatingSystem",
    "operatingSystemVersion",
    "accountEnabled",
    "isManaged",
    "isCompliant",
    "mdmAppId",
    "trustType",
    "approximateLastSignInDateTime",
    "registrationDateTime",
    "deletedDateTime",
    "givenName",
    "surname",
    "userPrincipalName",
    "mail",
    "jobTitle",
    "businessPhones",
];

pub(super) const DEVICE_FILTERS: FilterRules = FilterRules {
    resource: "Device",
    type_name: "device",
    dialect: Dialect::Directory,
    props: DEVICE_PROPS,
    filterable: &[
        ("id", &[Use::Op(Op::Eq)]),
        ("deviceId", &[Use::Op(Op::Eq), Use::Func(Func::StartsWith)]),
        (
            "displayName",
            &[Use::Op(Op::Eq), Use::Func(Func::StartsWith)],
        ),
        (
            "operatingSystem",
            &[Use::Op(Op::Eq), Use::Func(Func::StartsWith)],
        ),
        ("trustType", &[Use::Op(Op::Eq)]),
        ("mdmAppId", &[Use::Op(Op::Eq)]),
        ("accountEnabled", &[Use::Op(Op::Eq)]),
    ],
};

/// An Entra device object: the registration of a managed device, or one Intune does not manage.
#[derive(Clone, Copy)]
pub(super) enum EntraDevice<'a> {
    Managed(&'a SimDevice),
    /// The unmanaged device in group `g`.
    Unmanaged(u32),
}

impl EntraDevice<'_> {
    pub(super) fn prop(&self, name: &str) -> Option<Value> {
        Some(match (self, name) {
            (EntraDevice::Managed(d), "id") => json!(ids::uuid(NS_DIRECTORY_DEVICE, d.index)),
            (EntraDevice::Unmanaged(g), "id") => {
                json!(ids::uuid(NS_DIRECTORY_DEVICE, UNMANAGED_BASE + g))
            }
            (EntraDevice::Managed(d), "deviceId") => json!(aad_device_id(d.index)),
            (EntraDevice::Unmanaged(g), "deviceId") => json!(ids::uuid(NS_UNMANAGED_DEVICE_ID, *g)),
            (EntraDevice::Managed(d), "displayName") => json!(d.name),
            (EntraDevice::Unmanaged(g), "displayName") => json!(format!("DESKTOP-BYOD{g:03}")),
            (EntraDevice::Managed(d), "operatingSystem") => {
                json!(if hardware(d).2 { "Windows" } else { "MacMDM" })
            }
            (EntraDevice::Unmanaged(_), "operatingSystem") => json!("Windows"),
            (EntraDevice::Managed(d), "operatingSystemVersion") => {
                json!(if hardware(d).2 {
                    "10.0.26100.2605"
                } else {
                    "15.2"
                })
            }
            (EntraDevice::Unmanaged(_), "operatingSystemVersion") => json!("10.0.22631.4602"),
            (_, "accountEnabled") => json!(true),
            (EntraDevice::Managed(_), "isManaged") => json!(true),
            (EntraDevice::Unmanaged(_), "isManaged") => json!(false),
            (EntraDevice::Managed(d), "isCompliant") => json!(d.index % 11 != 5),
            (EntraDevice::Unmanaged(_), "isCompliant") => Value::Null,
            (EntraDevice::Managed(_), "mdmAppId") => json!(INTUNE_MDM_APP_ID),
            (EntraDevice::Unmanaged(_), "mdmAppId") => Value::Null,
            (EntraDevice::Managed(d), "trustType") => {
                json!(if hardware(d).2 {
                    "AzureAd"
                } else {
                    "Workplace"
                })
            }
            (EntraDevice::Unmanaged(_), "trustType") => json!("Workplace"),
            (_, "approximateLastSignInDateTime") => json!("2026-10-30T08:15:00Z"),
            (_, "registrationDateTime") => json!("2025-01-15T09:00:00Z"),
            (_, "deletedDateTime") => Value::Null,
            _ => return None,
        })
    }
}

/// An Entra user: the directory view of a fleet user.
pub(super) fn user_prop(u: &SimUser, name: &str) -> Option<Value> {
    let (given, surname) = u.full_name.split_once(' ').unwrap_or((&u.full_name, ""));
    Some(match name {
        "id" => json!(user_id(u.index)),
        "displayName" => json!(u.full_name),
        "givenName" => json!(given),
        "surname" => json!(surname),
        "userPrincipalName" | "mail" => json!(u.email),
        "jobTitle" => Value::Null,
        "businessPhones" => json!([]),
        _ => return None,
    })
}

/// A directory object in a member list.
#[derive(Clone, Copy)]
pub(super) enum Member<'a> {
    Device(EntraDevice<'a>),
    User(&'a SimUser),
}

impl Member<'_> {
    pub(super) fn is_device(&self) -> bool {
        matches!(self, Member::Device(_))
    }

    /// The member with `@odata.type`; device properties are `null` (all but `id`) when the caller may not
    /// read devices.
    pub(super) fn render(
        &self,
        select: &Option<Vec<&'static str>>,
        devices_visible: bool,
    ) -> Value {
        let mut object = Map::new();
        match self {
            Member::Device(device) => {
                object.insert("@odata.type".into(), json!("#microsoft.graph.device"));
                let props = select.as_deref().unwrap_or(DEVICE_PROPS);
                for p in props.iter().filter(|p| DEVICE_PROPS.contains(p)) {
                    let value = if devices_visible || *p == "id" {
                        device.prop(p)
                    } else {
                        Some(Value::Null)
                    };
                    if let Some(v) = value {
                        object.insert((*p).to_owned(), v);
                    }
                }
            }
            Member::User(user) => {
                object.insert("@odata.type".into(), json!("#microsoft.graph.user"));
                let props = select.as_deref().unwrap_or(USER_PROPS);
                for p in props.iter().filter(|p| USER_PROPS.contains(p)) {
                    if let Some(v) = user_prop(user, p) {
                        object.insert((*p).to_owned(), v);
                    }
                }
            }
        }
        Value::Object(object)
    }
}

pub(super) fn render_device(device: EntraDevice<'_>, select: &Option<Vec<&'static str>>) -> Value {
    let props = select.as_deref().unwrap_or(DEVICE_PROPS);
    Value::Object(
        props
            .iter()
            .filter_map(|p| device.prop(p).map(|v| ((*p).to_owned(), v)))
            .collect(),
    )
}

/// The groups, fleet groups and the Microsoft 365 group alike.
#[derive(Clone, Copy)]
pub(super) enum GroupView<'a> {
    Fleet(&'a SimGroup),
    AllCompany,
}

pub(super) const GROUP_PROPS: &[&str] = &[
    "id",
    "displayName",
    "description",
    "groupTypes",
    "securityEnabled",
    "mailEnabled",
    "mailNickname",
    "mail",
    "membershipRule",
    "membershipRuleProcessingState",
    "visibility",
    "createdDateTime",
    "deletedDateTime",
];

pub(super) const GROUP_FILTERS: FilterRules = FilterRules {
    resource: "Group",
    type_name: "group",
    dialect: Dialect::Directory,
    props: GROUP_PROPS,
    filterable: &[
        ("id", &[Use::Op(Op::Eq)]),
        (
            "displayName",
            &[Use::Op(Op::Eq), Use::Func(Func::StartsWith)],
        ),
        (
            "mailNickname",
            &[Use::Op(Op::Eq), Use::Func(Func::StartsWith)],
        ),
        ("securityEnabled", &[Use::Op(Op::Eq)]),
        ("mailEnabled", &[Use::Op(Op::Eq)]),
        ("groupTypes", &[Use::AnyEq]),
    ],
};

pub(super) fn group_id(index: u32) -> String {
    ids::uuid(NS_GROUP, index)
}

pub(super) fn all_company_id() -> String {
    ids::uuid(NS_M365_GROUP, 0)
}

/// Listing key of a group: the Microsoft 365 group first, then the fleet's by index.
pub(super) fn group_key(group: &GroupView<'_>) -> u64 {
    match group {
        GroupView::AllCompany => 0,
        GroupView::Fleet(g) => u64::from(g.index) + 1,
    }
}

impl GroupView<'_> {
    pub(super) fn prop(&self, name: &str) -> Option<Value> {
        let nickname = |text: &str| -> String {
            text.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        };
        Some(match (self, name) {
            (GroupView::Fleet(g), "id") => json!(group_id(g.index)),
            (GroupView::AllCompany, "id") => json!(all_company_id()),
            (GroupView::Fleet(g), "displayName") => json!(g.name),
            (GroupView::AllCompany, "displayName") => json!("All Company"),
            (GroupView::Fleet(g), "description") => json!(format!("Devices of {}", g.name)),
            (GroupView::AllCompany, "description") => json!("Everyone in the company"),
            (GroupView::Fleet(g), "groupTypes") if g.smart => json!(["DynamicMembership"]),
            (GroupView::Fleet(_), "groupTypes") => json!([]),
            (GroupView::AllCompany, "groupTypes") => json!(["Unified"]),
            (GroupView::Fleet(_), "securityEnabled") => json!(true),
            (GroupView::AllCompany, "securityEnabled") => json!(false),
            (GroupView::Fleet(_), "mailEnabled") => json!(false),
            (GroupView::AllCompany, "mailEnabled") => json!(true),
            (GroupView::Fleet(g), "mailNickname") => {
                json!(format!("{}{}", nickname(&g.name), g.index))
            }
            (GroupView::AllCompany, "mailNickname") => json!("allcompany"),
            (GroupView::Fleet(_), "mail") => Value::Null,
            (GroupView::AllCompany, "mail") => json!(format!("allcompany@{TENANT_DOMAIN}")),
            (GroupView::Fleet(g), "membershipRule") if g.smart => {
                json!("(device.deviceOSType -eq \"MacMDM\")")
            }
            (GroupView::Fleet(g), "membershipRuleProcessingState") if g.smart => json!("On"),
            (GroupView::Fleet(_), "membershipRule" | "membershipRuleProcessingState") => {
                Value::Null
            }
            (GroupView::AllCompany, "membershipRule" | "membershipRuleProcessingState") => {
                Value::Null
            }
            (GroupView::Fleet(_), "visibility") => Value::Null,
            (GroupView::AllCompany, "visibility") => json!("Public"),
            (_, "createdDateTime") => json!("2024-06-03T12:00:00Z"),
            (_, "deletedDateTime") => Value::Null,
            _ => return None,
        })
    }

    pub(super) fn render(&self, select: &Option<Vec<&'static str>>) -> Value {
        let props = select.as_deref().unwrap_or(GROUP_PROPS);
        Value::Object(
            props
                .iter()
                .filter_map(|p| self.prop(p).map(|v| ((*p).to_owned(), v)))
                .collect(),
        )
    }
}

/// A group's members from key `after` on: fleet devices by index, then the unmanaged Entra device (even
/// groups), then users.
pub(super) fn group_members<'a>(
    fleet: &'a Fleet,
    group: GroupView<'a>,
    after: Option<u64>,
) -> Box<dyn Iterator<Item = (u64, Member<'a>)> + 'a> {
    let mut extras: Vec<(u64, Member<'a>)> = Vec::new();
    let user = |i: u32| fleet.users.get(&i).map(Member::User);
    let devices: Box<dyn Iterator<Item = (u64, Member<'a>)> + 'a> = match group {
        GroupView::AllCompany => {
            extras.extend(
                (0..2u32).filter_map(|i| user(i).map(|m| (EXTRA_KEYS + 1 + u64::from(i), m))),
            );
            Box::new(std::iter::empty())
        }
        GroupView::Fleet(g) => {
            if g.index % 2 == 0 {
                extras.push((EXTRA_KEYS, Member::Device(EntraDevice::Unmanaged(g.index))));
            }
            if !g.smart && !fleet.users.is_empty() {
                if let Some(m) = user(g.index % fleet.users.len() as u32) {
                    extras.push((EXTRA_KEYS + 1, m));
                }
            }
            let start = match after {
                None => Bound::Unbounded,
                Some(a) => Bound::Excluded(a.min(u64::from(u32::MAX)) as u32),
            };
            Box::new(
                g.members
                    .range((start, Bound::Unbounded))
                    .filter_map(move |i| {
                        fleet
                            .devices
                            .get(i)
                            .map(|d| (u64::from(*i), Member::Device(EntraDevice::Managed(d))))
                    }),
            )
        }
    };
    Box::new(
        devices.chain(
            extras
                .into_iter()
                .filter(move |(k, _)| after.is_none_or(|a| *k > a)),
        ),
    )
}

pub(super) fn find_group<'a>(fleet: &'a Fleet, id: &str) -> Option<GroupView<'a>> {
    let wanted = id.to_ascii_lowercase();
    if wanted == all_company_id() {
        return Some(GroupView::AllCompany);
    }
    fleet
        .groups
        .values()
        .find(|g| group_id(g.index) == wanted)
        .map(GroupView::Fleet)
}

pub(super) fn require(caller: &Caller, permission: Permission) -> Result<(), Fault> {
    if caller.app.has(permission) {
        Ok(())
    } else {
        Err(Fault::directory_denied())
    }
}

pub(super) fn group_not_found(id: &str) -> Fault {
    Fault::new(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

pub(super) async fn groups(call: Call) -> Response {
    answer(&call, list_groups)
}

pub(super) fn list_groups(ctx: &Ctx, headers: &HeaderMap, path: &str, raw: Option<&str>) -> Answer {
    let request = GROUPS.list_request(ctx, headers, raw)?;
    let fleet = ctx.fleet();
    let all = std::iter::once(GroupView::AllCompany)
        .chain(fleet.groups.values().map(GroupView::Fleet))
        .filter(|g| matches(&request.filter, |p| g.prop(p)));
    let count = request.options.count.then(|| all.clone().count());
    let items = all
        .map(|g| (group_key(&g), g))
        .filter(|(k, _)| request.cursor.after.is_none_or(|a| *k > a));
    Ok(request.respond(path, items, count, |g| g.render(&request.select)))
}

/// A directory collection: listed at `/v1.0/{name}` with [`LIST_OPTIONS`], and read one object at a time at
/// `/v1.0/{name}/{id}` with `$select` only.
pub(super) struct Collection {
    /// The collection's path segment, which the `@odata.context` names too.
    name: &'static str,
    /// What `$filter` may do; its properties and type name serve `$select` too.
    rules: &'static FilterRules,
    permission: Permission,
    /// The tag of the listing's skip tokens.
    tag: char,
    /// The object with an id, rendered with a `$select`.
    find: fn(&Fleet, &str, &Option<Vec<&'static str>>) -> Option<Value>,
}

/// The query options a directory listing accepts.
pub(super) const LIST_OPTIONS: &[&str] = &["$select", "$filter", "$top", "$skiptoken", "$count"];

/// `/v1.0/groups`.
pub(super) static GROUPS: Collection = Collection {
    name: "groups",
    rules: &GROUP_FILTERS,
    permission: Permission::GroupMembers,
    tag: 'g',
    find: |fleet, id, select| find_group(fleet, id).map(|g| g.render(select)),
};

/// `/v1.0/devices`.
pub(super) static DEVICES: Collection = Collection {
    name: "devices",
    rules: &DEVICE_FILTERS,
    permission: Permission::Devices,
    tag: 'e',
    find: |fleet, id, select| {
        let wanted = Some(json!(id.to_ascii_lowercase()));
        entra_devices(fleet, None)
            .find(|(_, d)| d.prop("id") == wanted)
            .map(|(_, d)| render_device(d, select))
    },
};

/// A listing request of a [`Collection`], checked in Graph's order: the token, the permission, the
/// options, `$select`, `$filter`, `$top`, the skip token, then `$count`.
pub(super) struct ListRequest {
    collection: &'static Collection,
    caller: Caller,
    pub(super) options: Options,
    pub(super) select: Option<Vec<&'static str>>,
    pub(super) filter: Option<Expr>,
    size: usize,
    pub(super) cursor: Cursor,
}

impl ListRequest {
    /// Serves one page from `items` (positioned after the cursor and filtered); see [`Listing::respond`].
    pub(super) fn respond<T>(
        &self,
        path: &str,
        items: impl Iterator<Item = (u64, T)>,
        count: Option<usize>,
        render: impl Fn(T) -> Value,
    ) -> Response {
        let listing = Listing {
            caller: &self.caller,
            path,
            options: &self.options,
            tag: self.collection.tag,
            cursor: self.cursor,
            context: format!("{}{}", self.collection.name, context_select(&self.select)),
        };
        listing.respond(items, self.size, count, render)
    }
}

impl Collection {
    /// The by-id route's handler.
    pub(super) fn handler(&'static self) -> MethodRouter<Ctx> {
        get(move |call: Call, Path(id): Path<String>| async move {
            answer(&call, |ctx, headers, _, raw| {
                self.get(ctx, headers, &id, raw)
            })
        })
    }

    fn get(&self, ctx: &Ctx, headers: &HeaderMap, id: &str, raw: Option<&str>) -> Answer {
        let caller = authenticate(ctx, headers)?;
        require(&caller, self.permission)?;
        let options = parse_options(raw, Dialect::Directory, &["$select"])?;
        let select = parse_select(
            &options,
            self.rules.props,
            self.rules.type_name,
            Dialect::Directory,
        )?;
        let fleet = ctx.fleet();
        // Graph answers an unknown id in either collection with the same `Request_ResourceNotFound`.
        let object = (self.find)(&fleet, id, &select).ok_or_else(|| group_not_found(id))?;
        Ok(entity(object, &caller, self.name, &select))
    }

    /// Checks a listing request.
    pub(super) fn list_request(
        &'static self,
        ctx: &Ctx,
        headers: &HeaderMap,
        raw: Option<&str>,
    ) -> Result<ListRequest, Fault> {
        let caller = authenticate(ctx, headers)?;
        require(&caller, self.permission)?;
        let dialect = Dialect::Directory;
        let options = parse_options(raw, dialect, LIST_OPTIONS)?;
        let select = parse_select(&options, self.rules.props, self.rules.type_name, dialect)?;
        let filter = self.rules.compile(options.filter.as_deref())?;
        let size = page_size(&options, dialect)?;
        let cursor = cursor(&options, self.tag, dialect)?;
        check_count(&options, headers)?;
        Ok(ListRequest {
            collection: self,
            caller,
            options,
            select,
            filter,
            size,
            cursor,
        })
    }
}

/// Which member types a member listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cast {
    All,
    Devices,
    Users,
    Groups,
}

pub(super) async fn members(call: Call, Path(id): Path<String>) -> Response {
    answer(&call, |ctx, headers, path, raw| {
        list_members(ctx, headers, path, &id, None, raw)
    })
}

pub(super) async fn members_cast(call: Call, Path((id, cast)): Path<(String, String)>) -> Response {
    answer(&call, |ctx, headers, path, raw| {
        list_members(ctx, headers, path, &id, Some(&cast), raw)
    })
}

pub(super) fn list_members(
    ctx: &Ctx,
    headers: &HeaderMap,
    path: &str,
    id: &str,
    cast: Option<&str>,
    raw: Option<&str>,
) -> Answer {
    let caller = authenticate(ctx, headers)?;
    require(&caller, Permission::GroupMembers)?;
    let dialect = Dialect::Directory;
    let cast = match cast {
        None => Cast::All,
        Some(c) if c.eq_ignore_ascii_case("microsoft.graph.device") => Cast::Devices,
        Some(c) if c.eq_ignore_ascii_case("microsoft.graph.user") => Cast::Users,
        Some(c) if c.eq_ignore_ascii_case("microsoft.graph.group") => Cast::Groups,
        Some(c) => {
            return Err(dialect.bad_request(format!("Resource not found for the segment '{c}'.")))
        }
    };
    let options = parse_options(raw, dialect, LIST_OPTIONS)?;
    let (props, type_name) = match cast {
        Cast::All => (MEMBER_PROPS, "directoryObject"),
        Cast::Devices => (DEVICE_PROPS, "device"),
        Cast::Users => (USER_PROPS, "user"),
        Cast::Groups => (GROUP_PROPS, "group"),
    };
    let select = parse_select(&options, props, type_name, dialect)?;
    let filter = match (&options.filter, cast) {
        (None, _) => None,
        (Some(f), Cast::Devices) if advanced(headers) && options.count => {
            DEVICE_FILTERS.compile(Some(f))?
        }
        (Some(_), _) => {
            return Err(dialect.unsupported(
                "Filtering members needs the device cast and an advanced query (ConsistencyLevel: eventual and $count=true).",
            ))
        }
    };
    let size = page_size(&options, dialect)?;
    let cursor = cursor(&options, 'm', dialect)?;
    check_count(&options, headers)?;
    let fleet = ctx.fleet();
    let group = find_group(&fleet, id).ok_or_else(|| group_not_found(id))?;
    if cast == Cast::Groups && matches!(group, GroupView::AllCompany) {
        return Err(dialect.unsupported(
            "Microsoft 365 groups cannot have groups as members, so this cast is not supported here.",
        ));
    }
    let devices_visible = caller.app.has(Permission::Devices);
    let keep = move |m: &Member<'_>| match cast {
        Cast::All => true,
        Cast::Devices => m.is_device(),
        Cast::Users => !m.is_device(),
        // The fleet does not nest groups.
        Cast::Groups => false,
    };
    let passes = |m: &Member<'_>| {
        keep(m)
            && match m {
                Member::Device(d) => matches(&filter, |p| d.prop(p)),
                Member::User(_) => filter.is_none(),
            }
    };
    let count = options.count.then(|| {
        group_members(&fleet, group, None)
            .filter(|(_, m)| passes(m))
            .count()
    });
    let items = group_members(&fleet, group, cursor.after).filter(|(_, m)| passes(m));
    let entity_set = match cast {
        Cast::All => "directoryObjects",
        Cast::Devices => "devices",
        Cast::Users => "users",
        Cast::Groups => "groups",
    };
    let listing = Listing {
        caller: &caller,
        path,
        options: &options,
        tag: 'm',
        cursor,
        context: format!("{entity_set}{}", context_select(&select)),
    };
    Ok(listing.respond(items, size, count, |m| m.render(&select, devices_visible)))
}

/// Every Entra device from key `after` on: managed devices' registrations by index, then the unmanaged
/// devices of even groups.
pub(super) fn entra_devices<'a>(
    fleet: &'a Fleet,
    after: Option<u64>,
) -> impl Iterator<Item = (u64, EntraDevice<'a>)> + 'a {
    let managed =
        range_after(&fleet.devices, after).map(|(i, d)| (u64::from(*i), EntraDevice::Managed(d)));
    let unmanaged = fleet
        .groups
        .keys()
        .filter(|g| *g % 2 == 0)
        .map(|g| (EXTRA_KEYS + u64::from(*g), EntraDevice::Unmanaged(*g)))
        .filter(move |(k, _)| after.is_none_or(|a| *k > a));
    managed.chain(unmanaged)
}

pub(super) async fn devices(call: Call) -> Response {
    answer(&call, list_devices)
}

pub(super) fn list_devices(
    ctx: &Ctx,
    headers: &HeaderMap,
    path: &str,
    raw: Option<&str>,
) -> Answer {
    let request = DEVICES.list_request(ctx, headers, raw)?;
    let fleet = ctx.fleet();
    let count = request.options.count.then(|| {
        entra_devices(&fleet, None)
            .filter(|(_, d)| matches(&request.filter, |p| d.prop(p)))
            .count()
    });
    let items = entra_devices(&fleet, request.cursor.after)
        .filter(|(_, d)| matches(&request.filter, |p| d.prop(p)));
    Ok(request.respond(path, items, count, |d| render_device(d, &request.select)))
}
