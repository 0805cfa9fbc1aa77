//! Computer groups: the Jamf Pro API's smart and static groups and the Classic API's `computergroups`.

use super::*;

// ----- computer groups -----

pub(super) fn group_id(index: u32) -> String {
    (index + 1).to_string()
}

#[derive(Clone, Copy)]
pub(super) struct GroupRow<'f> {
    pub(super) fleet: &'f Fleet,
    pub(super) group: &'f SimGroup,
}

impl Record for GroupRow<'_> {
    fn field(&self, name: &str) -> rsql::Value<'_> {
        use rsql::Value::{Number, Text};
        match name {
            "id" => Number(i64::from(self.group.index) + 1),
            "name" => Text(Cow::Borrowed(&self.group.name)),
            "description" => Text("".into()),
            "siteId" => Text("-1".into()),
            _ => rsql::Value::Null,
        }
    }
}

pub(super) const GROUP_LIST: ListSpec = ListSpec {
    max_size: MAX_PAGE_SIZE,
    default_sort: "id:asc",
    sorts: &["id", "name", "description"],
    filters: &[
        ("id", rsql::Kind::Number),
        ("name", rsql::Kind::Text),
        ("description", rsql::Kind::Text),
        ("siteId", rsql::Kind::Text),
    ],
};

pub(super) fn group_privilege(smart: bool) -> Read {
    if smart {
        Read::SmartGroups
    } else {
        Read::StaticGroups
    }
}

pub(super) async fn computer_groups_v1(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    authorize(
        &ctx,
        &headers,
        Flavor::Pro,
        &[Read::SmartGroups, Read::StaticGroups],
    )?;
    let fleet = ctx.fleet();
    let groups: Vec<Value> = fleet
        .groups
        .values()
        .map(|g| {
            json!({"id": group_id(g.index), "name": g.name, "description": "", "smartGroup": g.smart})
        })
        .collect();
    Ok(json(StatusCode::OK, Value::Array(groups)))
}

/// `/api/v3/computer-groups/smart-groups` (`smart`) or `/static-groups`.
pub(super) fn group_list(ctx: &Ctx, headers: &HeaderMap, raw: Option<&str>, smart: bool) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[group_privilege(smart)])?;
    let query = ListQuery::parse(&query_pairs(raw), &GROUP_LIST)?;
    let fleet = ctx.fleet();
    let rows: Vec<GroupRow<'_>> = fleet
        .groups
        .values()
        .filter(|g| g.smart == smart)
        .map(|group| GroupRow {
            fleet: &fleet,
            group,
        })
        .collect();
    let count = rows.len();
    let (total, page) = query.run(rows.into_iter(), count);
    let results: Vec<Value> = page
        .into_iter()
        .map(|row| group_summary(row, smart))
        .collect();
    Ok(json(
        StatusCode::OK,
        json!({"totalCount": total, "results": results}),
    ))
}

/// A v3 group record: smart groups count members in `membershipCount`, static groups in `count`.
pub(super) fn group_summary(row: GroupRow<'_>, smart: bool) -> Value {
    let g = row.group;
    let count = member_devices(row.fleet, g).count();
    let mut out =
        json!({"id": group_id(g.index), "name": g.name, "description": "", "siteId": "-1"});
    out[if smart { "membershipCount" } else { "count" }] = json!(count);
    out
}

/// A group of the given kind by its id.
pub(super) fn find_group<'f>(
    fleet: &'f Fleet,
    id: &str,
    smart: bool,
) -> Result<&'f SimGroup, Rejection> {
    index_of(id)
        .and_then(|i| fleet.groups.get(&i))
        .filter(|g| g.smart == smart)
        .ok_or_else(|| Rejection::NoSuchId(id.to_owned()))
}

/// `/api/v3/computer-groups/{smart,static}-groups/{id}`: no member list.
pub(super) fn group_one(ctx: &Ctx, headers: &HeaderMap, id: &str, smart: bool) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[group_privilege(smart)])?;
    let fleet = ctx.fleet();
    let group = find_group(&fleet, id, smart)?;
    let mut body = group_summary(
        GroupRow {
            fleet: &fleet,
            group,
        },
        smart,
    );
    if smart {
        body["criteria"] = json!([{
            "name": "Department", "priority": 0, "andOr": "and", "searchType": "is",
            "value": group.name, "openingParen": false, "closingParen": false,
        }]);
    }
    Ok(json(StatusCode::OK, body))
}

/// `/api/v{2,3}/computer-groups/smart-group-membership/{id}`: integer computer ids.
pub(super) fn smart_membership(ctx: &Ctx, headers: &HeaderMap, id: &str) -> Answer {
    authorize(ctx, headers, Flavor::Pro, &[Read::SmartGroups])?;
    let fleet = ctx.fleet();
    let group = find_group(&fleet, id, true)?;
    let ids: Vec<u32> = member_devices(&fleet, group).map(|d| d.index + 1).collect();
    Ok(json(StatusCode::OK, json!({"members": ids})))
}

// ----- Classic API -----

pub(super) fn wants_json(headers: &HeaderMap) -> bool {
    header_str(headers, header::ACCEPT.as_str())
        .is_some_and(|a| a.to_ascii_lowercase().contains("application/json"))
}

pub(super) fn xml_escape(text: &str) -> Cow<'_, str> {
    crate::common::escape_markup(text, "&apos;")
}

pub(super) fn xml(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}"),
    )
        .into_response()
}

pub(super) async fn classic_groups(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    authorize(
        &ctx,
        &headers,
        Flavor::Classic,
        &[Read::SmartGroups, Read::StaticGroups],
    )?;
    let fleet = ctx.fleet();
    if wants_json(&headers) {
        let groups: Vec<Value> = fleet
            .groups
            .values()
            .map(|g| json!({"id": g.index + 1, "name": g.name, "is_smart": g.smart}))
            .collect();
        return Ok(json(StatusCode::OK, json!({"computer_groups": groups})));
    }
    let mut out = format!("<computer_groups><size>{}</size>", fleet.groups.len());
    for g in fleet.groups.values() {
        let _ = write!(
            out,
            "<computer_group><id>{}</id><name>{}</name><is_smart>{}</is_smart></computer_group>",
            g.index + 1,
            xml_escape(&g.name),
            g.smart
        );
    }
    out.push_str("</computer_groups>");
    Ok(xml(out))
}

/// One Classic group record (any kind, with its computers), found by `pick`.
pub(super) fn classic_group(
    ctx: &Ctx,
    headers: &HeaderMap,
    pick: impl Fn(&SimGroup) -> bool,
) -> Answer {
    let client = caller(ctx, headers, Flavor::Classic)?;
    let fleet = ctx.fleet();
    let group = fleet
        .groups
        .values()
        .find(|g| pick(g))
        .ok_or(Rejection::ClassicNotFound)?;
    if !client.privileges.contains(&group_privilege(group.smart)) {
        return Err(Rejection::Forbidden(Flavor::Classic));
    }
    let criteria: &[(&str, &str, &str)] = if group.smart {
        &[("Department", "is", group.name.as_str())]
    } else {
        &[]
    };
    if wants_json(headers) {
        let computers: Vec<Value> = member_devices(&fleet, group)
            .map(|d| {
                json!({
                    "id": d.index + 1, "name": d.name, "mac_address": mac_address(d.index),
                    "alt_mac_address": "", "serial_number": d.serial,
                })
            })
            .collect();
        let criteria: Vec<Value> = criteria
            .iter()
            .map(|(name, search, value)| {
                json!({
                    "name": name, "priority": 0, "and_or": "and", "search_type": search,
                    "value": value, "opening_paren": false, "closing_paren": false,
                })
            })
            .collect();
        return Ok(json(
            StatusCode::OK,
            json!({"computer_group": {
                "id": group.index + 1,
                "name": group.name,
                "is_smart": group.smart,
                "site": {"id": -1, "name": "None"},
                "criteria": criteria,
                "computers": computers,
            }}),
        ));
    }
    let mut out = format!(
        "<computer_group><id>{}</id><name>{}</name><is_smart>{}</is_smart><site><id>-1</id><name>None</name></site><criteria><size>{}</size>",
        group.index + 1,
        xml_escape(&group.name),
        group.smart,
        criteria.len()
    );
    for (name, search, value) in criteria {
        let _ = write!(
            out,
            "<criterion><name>{name}</name><priority>0</priority><and_or>and</and_or><search_type>{search}</search_type><value>{}</value><opening_paren>false</opening_paren><closing_paren>false</closing_paren></criterion>",
            xml_escape(value)
        );
    }
    let computers: Vec<&SimDevice> = member_devices(&fleet, group).collect();
    let _ = write!(
        out,
        "</criteria><computers><size>{}</size>",
        computers.len()
    );
    for d in computers {
        let _ = write!(
            out,
            "<computer><id>{}</id><name>{}</name><mac_address>{}</mac_address><alt_mac_address/><serial_number>{}</serial_number></computer>",
            d.index + 1,
            xml_escape(&d.name),
            mac_address(d.index),
            xml_escape(&d.serial)
        );
    }
    out.push_str("</computers></computer_group>");
    Ok(xml(out))
}
