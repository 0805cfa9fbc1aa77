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
    (org == Org::Main)
        .then(|| index_of(NS_GROUP, id))
        .flatten()
        .and_then(|i| fleet.groups.get(&i))
        .ok_or_else(not_found)
}

/// The member devices of a group that exist.
pub(super) fn member_devices<'f>(
    fleet: &'f Fleet,
    g: &'f SimGroup,
) -> impl Iterator<Item = &'f SimDevice> + 'f {
    g.members.iter().filter_map(|i| fleet.devices.get(i))
}

pub(super) async fn list_groups(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let pairs = query_pairs(raw.as_deref());
    let (skip, limit) = paging(&pairs, Api::V2)?;
    let filters = filters(&pairs, Api::V2)?;
    let sort = sort_keys(&pairs, &["name", "id"]);
    if org == Org::Other {
        return Ok(v2_list(0, Vec::new()));
    }
    let fleet = ctx.fleet();
    let mut groups: Vec<&SimGroup> = fleet
        .groups
        .values()
        .filter(|g| {
            filters
                .iter()
                .all(|f| f.accepts(group_field(g, &f.field).as_deref()))
        })
        .collect();
    groups.sort_by(|a, b| {
        compare_keys(
            &sort,
            |k| group_field(a, k),
            |k| group_field(b, k),
            a.index.cmp(&b.index),
        )
    });
    let rows = groups
        .iter()
        .skip(skip)
        .take(limit)
        .map(|g| group_json(g))
        .collect();
    Ok(v2_list(groups.len(), rows))
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
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let (skip, limit) = paging(&query_pairs(raw.as_deref()), Api::V2)?;
    let fleet = ctx.fleet();
    let g = group_in(&fleet, org, &id)?;
    let nested = nesting(&fleet)
        .filter(|(parent, _)| *parent == g.index)
        .map(|(_, child)| connection(&group_id(child.index), "system_group"));
    let systems = member_devices(&fleet, g).count();
    let rows = member_devices(&fleet, g)
        .map(|d| connection(&system_id(d.index), "system"))
        .chain(nested.clone())
        .skip(skip)
        .take(limit)
        .collect();
    Ok(v2_list(systems + usize::from(nested.is_some()), rows))
}

pub(super) async fn group_membership(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Devices)?;
    let (skip, limit) = paging(&query_pairs(raw.as_deref()), Api::V2)?;
    let fleet = ctx.fleet();
    let g = group_in(&fleet, org, &id)?;
    let total = member_devices(&fleet, g).count();
    let rows = member_devices(&fleet, g)
        .skip(skip)
        .take(limit)
        .map(|d| {
            let id = system_id(d.index);
            with_paths(&id, "system", vec![json!([hop(&id, "system")])])
        })
        .collect();
    Ok(v2_list(total, rows))
}
