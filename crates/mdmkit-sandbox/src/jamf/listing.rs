//! The Jamf Pro API listing query: `page`, `page-size`, `sort` and the RSQL `filter`.

use super::*;

// ----- listing: paging, sorting, filtering -----

/// A row a listing can filter and sort.
pub(super) trait Record: Copy {
    fn field(&self, name: &str) -> rsql::Value<'_>;
}

#[derive(Debug, Clone)]
pub(super) struct SortKey {
    pub(super) field: &'static str,
    pub(super) descending: bool,
}

/// A parsed `page`/`page-size`/`sort`/`filter` query.
pub(super) struct ListQuery {
    pub(super) page: usize,
    pub(super) size: usize,
    pub(super) sort: Vec<SortKey>,
    pub(super) filter: Option<rsql::Filter>,
}

/// What a listing endpoint accepts.
pub(super) struct ListSpec {
    pub(super) max_size: usize,
    pub(super) default_sort: &'static str,
    pub(super) sorts: &'static [&'static str],
    pub(super) filters: &'static [(&'static str, rsql::Kind)],
}

impl ListQuery {
    pub(super) fn parse(
        pairs: &[(String, String)],
        spec: &ListSpec,
    ) -> Result<ListQuery, Rejection> {
        let number = |name: &'static str, default: usize| match query_get(pairs, name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<usize>()
                .map_err(|_| bad_field(name, format!("{name} must be a non-negative integer"))),
        };
        let page = number("page", 0)?;
        let size = number("page-size", DEFAULT_PAGE_SIZE)?;
        if size == 0 {
            return Err(bad_field("page-size", "page-size must be at least 1"));
        }
        let mut sort_texts: Vec<&str> = pairs
            .iter()
            .filter(|(k, v)| k == "sort" && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
            .collect();
        if sort_texts.is_empty() {
            sort_texts.push(spec.default_sort);
        }
        let mut sort = Vec::new();
        for part in sort_texts.iter().flat_map(|t| t.split(',')) {
            let part = part.trim();
            let (name, direction) = part.split_once(':').unwrap_or((part, "asc"));
            let field = spec
                .sorts
                .iter()
                .find(|f| **f == name)
                .copied()
                .ok_or_else(|| bad_field("sort", format!("Cannot sort by {name}")))?;
            let descending = match direction.to_ascii_lowercase().as_str() {
                "asc" => false,
                "desc" => true,
                _ => {
                    return Err(bad_field(
                        "sort",
                        format!("Unknown sort direction {direction}"),
                    ))
                }
            };
            sort.push(SortKey { field, descending });
        }
        let filter = query_get(pairs, "filter")
            .filter(|f| !f.trim().is_empty())
            .map(|text| rsql::parse(text, spec.filters).map_err(|e| bad_field("filter", e)))
            .transpose()?;
        Ok(ListQuery {
            page,
            size: size.min(spec.max_size),
            sort,
            filter,
        })
    }

    pub(super) fn offset(&self) -> usize {
        self.page.saturating_mul(self.size)
    }

    /// Rows come in id order, so `id:asc` needs no sorting.
    pub(super) fn natural_order(&self) -> bool {
        matches!(
            self.sort.as_slice(),
            [SortKey {
                field: "id",
                descending: false
            }]
        )
    }

    /// The number of matching rows and the requested page of them. `items` come in id order and there
    /// are `count` of them. Unfiltered `id:asc` pages are taken straight from the iterator; anything
    /// else filters, then sorts on keys computed once per row.
    pub(super) fn run<R: Record>(
        &self,
        items: impl Iterator<Item = R>,
        count: usize,
    ) -> (usize, Vec<R>) {
        if self.filter.is_none() && self.natural_order() {
            return (count, items.skip(self.offset()).take(self.size).collect());
        }
        let rows: Vec<R> = match &self.filter {
            Some(filter) => items.filter(|r| filter.matches(&|f| r.field(f))).collect(),
            None => items.collect(),
        };
        let rows = if self.natural_order() {
            rows
        } else {
            let mut keyed: Vec<(Vec<rsql::SortValue>, R)> = rows
                .into_iter()
                .map(|r| {
                    let keys = self
                        .sort
                        .iter()
                        .map(|k| r.field(k.field).sort_value())
                        .collect();
                    (keys, r)
                })
                .collect();
            // Stable: rows equal on every key stay in id order.
            keyed.sort_by(|(a, _), (b, _)| {
                self.sort
                    .iter()
                    .zip(a.iter().zip(b))
                    .map(|(k, (x, y))| if k.descending { y.cmp(x) } else { x.cmp(y) })
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            });
            keyed.into_iter().map(|(_, r)| r).collect()
        };
        (rows.len(), window(&rows, self.offset(), self.size).to_vec())
    }
}
