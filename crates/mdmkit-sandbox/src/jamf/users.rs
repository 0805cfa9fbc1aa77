//! `/api/v1/users`: the user accounts device records point at.

use super::*;

// ----- users -----

pub(super) const USER_LIST: ListSpec = ListSpec {
    max_size: USERS_MAX_PAGE_SIZE,
    default_sort: "id:asc",
    sorts: &["id", "username", "realname", "email"],
    filters: &[
        ("id", rsql::Kind::Number),
        ("username", rsql::Kind::Text),
        ("realname", rsql::Kind::Text),
        ("email", rsql::Kind::Text),
        ("phone", rsql::Kind::Text),
        ("position", rsql::Kind::Text),
    ],
};

pub(super) fn user_id(index: u32) -> String {
    (index + 1).to_string()
}

#[derive(Clone, Copy)]
pub(super) struct UserRow<'f>(&'f SimUser);

impl Record for UserRow<'_> {
    fn field(&self, name: &str) -> rsql::Value<'_> {
        use rsql::Value::{Number, Text};
        let u = self.0;
        match name {
            "id" => Number(i64::from(u.index) + 1),
            "username" => Text(Cow::Borrowed(&u.username)),
            "realname" => Text(Cow::Borrowed(&u.full_name)),
            "email" => Text(Cow::Borrowed(&u.email)),
            "phone" | "position" => Text("".into()),
            _ => rsql::Value::Null,
        }
    }
}

pub(super) async fn users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    authorize(&ctx, &headers, Flavor::Pro, &[Read::Users])?;
    let query = ListQuery::parse(&query_pairs(raw.as_deref()), &USER_LIST)?;
    let fleet = ctx.fleet();
    let (total, page) = query.run(fleet.users.values().map(UserRow), fleet.users.len());
    let results: Vec<Value> = page
        .into_iter()
        .map(|UserRow(u)| {
            json!({
                "id": user_id(u.index),
                "username": u.username,
                "realname": u.full_name,
                "email": u.email,
                "phone": "",
                "position": "",
                "managedAppleId": "",
                "ldapServerId": null,
                "extensionAttributes": [],
            })
        })
        .collect();
    let total_pages = total.div_ceil(query.size);
    Ok(json(
        StatusCode::OK,
        json!({
            "page": query.page,
            "pageSize": query.size,
            "totalCount": total,
            "totalPages": total_pages,
            "hasNext": query.page + 1 < total_pages,
            "hasPrevious": query.page > 0,
            "results": results,
        }),
    ))
}
