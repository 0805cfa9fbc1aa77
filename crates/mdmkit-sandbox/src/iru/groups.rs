//! Tags (the groups mdmkit reads) and blueprints.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Tags and blueprints

pub(super) async fn list_tags(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(e) = refusal(&headers, Permission::Tags) {
        return e;
    }
    let pairs = query_pairs(raw.as_deref());
    let paging = limit_offset(&pairs, TAG_PAGE);
    let search = param(&pairs, "search").map(str::to_lowercase);
    let fleet = ctx.fleet();
    let matching: Vec<&SimGroup> = fleet
        .groups
        .values()
        .filter(|g| search.as_deref().is_none_or(|s| contains_ci(&g.name, s)))
        .collect();
    let results: Vec<Value> = window(&matching, paging.1, paging.0)
        .iter()
        .map(|g| json!({"id": tag_id(g.index), "name": g.name}))
        .collect();
    limit_offset_page(
        &headers,
        "/api/v1/tags",
        &pairs,
        paging,
        matching.len(),
        results,
    )
}

pub(super) fn blueprint_json(n: usize, computers: usize) -> Value {
    let (name, description, kind) = BLUEPRINTS[n];
    json!({
        "id": blueprint_uuid(n),
        "name": name,
        "description": description,
        "icon": "ss-briefcase",
        "color": "aqua-800",
        "params": {},
        "computers_count": computers,
        "enrollment_code": {"code": format!("{:06}", 100_000 + n * 137_911), "is_active": true},
        "type": kind,
    })
}

pub(super) fn blueprint_counts(fleet: &Fleet) -> [usize; 3] {
    let mut counts = [0; 3];
    for d in fleet.devices.values() {
        counts[blueprint_of(d)] += 1;
    }
    counts
}

pub(super) async fn list_blueprints(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(e) = refusal(&headers, Permission::Blueprints) {
        return e;
    }
    let pairs = query_pairs(raw.as_deref());
    let paging = limit_offset(&pairs, BLUEPRINT_PAGE);
    let id = param(&pairs, "id").map(str::to_ascii_lowercase);
    let id_in = list_param(&pairs, "id__in").map(|ids| {
        ids.iter()
            .map(|s| s.to_ascii_lowercase())
            .collect::<Vec<_>>()
    });
    let name = param(&pairs, "name");
    let matching: Vec<usize> = (0..BLUEPRINTS.len())
        .filter(|n| id.as_deref().is_none_or(|id| blueprint_uuid(*n) == id))
        .filter(|n| {
            id_in
                .as_ref()
                .is_none_or(|ids| ids.contains(&blueprint_uuid(*n)))
        })
        .filter(|n| name.is_none_or(|name| BLUEPRINTS[*n].0 == name))
        .collect();
    let counts = blueprint_counts(&ctx.fleet());
    let results: Vec<Value> = window(&matching, paging.1, paging.0)
        .iter()
        .map(|n| blueprint_json(*n, counts[*n]))
        .collect();
    limit_offset_page(
        &headers,
        "/api/v1/blueprints",
        &pairs,
        paging,
        matching.len(),
        results,
    )
}

pub(super) async fn get_blueprint(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(e) = refusal_by_id(&headers, &id, Permission::Blueprints) {
        return e;
    }
    let id = id.to_ascii_lowercase();
    match (0..BLUEPRINTS.len()).find(|n| blueprint_uuid(*n) == id) {
        Some(n) => json(
            StatusCode::OK,
            blueprint_json(n, blueprint_counts(&ctx.fleet())[n]),
        ),
        None => not_found(),
    }
}
