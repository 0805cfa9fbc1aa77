//! `/api/v2/systemgroups`: system groups and their members.

use super::*;

// ---------------------------------------------------------------------------------------------------
// System groups

pub(super) fn membership_method(g: &SimGroup) -> &'static str {
    if g.smart {
        "DYNAMIC_AUTOMATED"
    } else {
        "STATIC"
    }
}

pub(super) fn group_field<'f>(g: &'f SimGroup, field: &str) -> Option<Cow<'f, str>> {
    Some(match field {
        "id" => Cow::Owned(group_id(g.index)),
        "name" => Cow::Borrowed(g.name.as_str()),
        "type" => Cow::Borrowed("system_group"),
        "membershipMethod" => Cow::Borrowed(membership_method(g)),
        "description" => Cow::Borrowed(""),
        _ => return None,
    })
}

pub(super) fn group_json(g: &SimGroup) -> Value {
    json!({
        "id": group_id(g.index),
        "name": g.name,
        "description": "",
        "type": "system_group",
        "membershipMethod": membership_method(g),
        "attributes": null,
        "email": "",
    })
}

/// The group nested in another: the highest-numbered group, while it has no members, sits in the
/// lowest-numbered one. Returns (parent, child).
pub(super) fn nesting(fleet: &Fleet) -> Option<(u32, &SimGroup)> {
    let parent = fleet.groups.values().next()?;
    let child = fleet.groups.values().next_back()?;
    (parent.index != child.index && child.members.is_empty()).then_some((parent.index, child))
}

pub(super) fn group_in<'f>(fleet: &'f Fleet, org: Org, id: &str) -> Result<&'f SimGroup, Response> {
    find_in(&fleet.groups, org, NS_GROUP, id)
}

pub(super) const SYSTEM_GROUPS: Collection = Collection {
    route: Route::Devices,
    api: Api::V2,
    sortable: &["name", "id"],
};

pub(super) async fn list_groups(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let listing = Listing::read(&headers, raw.as_deref(), &SYSTEM_GROUPS)?;
    let fleet = ctx.fleet();
    let (total, page) = listing.select(&fleet.groups, NS_GROUP, |_, g, f| group_field(g, f));
    Ok(v2_list(total, page.into_iter().map(group_json).collect()))
}

pub(super) async fn get_group(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let fleet = ctx.fleet();
    Ok(json(
        StatusCode::OK,
        group_json(group_in(&fleet, org, &id)?),
    ))
}

pub(super) async fn group_members(
    graph: GraphRequest,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let fleet = graph.fleet();
    let g = group_in(&fleet, graph.org, &id)?;
    let nested = nesting(&fleet)
        .filter(|(parent, _)| *parent == g.index)
        .map(|(_, child)| connection(&group_id(child.index), "system_group"));
    let systems = member_devices(&fleet, g).count();
    let rows = member_devices(&fleet, g)
        .map(|d| connection(&system_id(d.index), "system"))
        .chain(nested.clone());
    Ok(graph.page(systems + usize::from(nested.is_some()), rows))
}

pub(super) async fn group_membership(
    graph: GraphRequest,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let fleet = graph.fleet();
    let g = group_in(&fleet, graph.org, &id)?;
    let total = member_devices(&fleet, g).count();
    let rows = member_devices(&fleet, g).map(|d| one_hop(&system_id(d.index), "system"));
    Ok(graph.page(total, rows))
}
