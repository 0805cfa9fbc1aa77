//! Hosts changed since a time, by Fleet's keyset paging on `updated_at`.
//!
//! Fleet's host list takes `order_key` and `after`; `after` keeps only rows whose key is *strictly*
//! greater and disables `page` (fleetdm/fleet `appendListOptionsWithCursorToSQL`). `updated_at` is the
//! row's write time at second precision, and many hosts can share a second, so a cursor of the last
//! key alone could skip rows. Instead each page asks from one second before the last key seen and
//! drops the rows of that second already delivered (their ids travel in the cursor). A page that brings
//! nothing new (at least a page of hosts share one second) is asked for again with a page twice as
//! large, up to eight times; if that still cannot move on (or the server cut the page), the listing
//! continues as a full listing by page number ([`Coverage::Everything`]). So does a page holding a host
//! older than asked for: the server ignored `after`.
//!
//! `updated_at` moves on every write of the host's row: detail-query results (hourly by default while
//! the host is online), label and team changes. A "changed since yesterday" listing therefore holds
//! about every host that was online since yesterday. The IdP user linked to a host lives in other
//! tables and may not move it.

use std::collections::BTreeSet;
use std::time::Duration;

use mdmkit_core::changes::parse_timestamp;
use mdmkit_core::chrono::{DateTime, Utc};
use mdmkit_core::{
    ChangeCursor, ChangeTracking, ChangesPage, Coverage, ErrorKind, PageRequest, ProviderKind,
    Resolution, Result,
};

use crate::wire::Host;
use crate::FleetProvider;

pub(crate) const TRACKING: ChangeTracking = ChangeTracking::supported(
    "updated_at",
    "every write of the host's row (detail-query results, hourly by default while the host is online; \
     label and team changes), so a listing holds about every host online since the time asked for; \
     the IdP user linked to a host is kept elsewhere and may not move it",
    Duration::from_secs(300),
);

use crate::client::OPS;
/// The name the provider's listing helpers take.
const OPERATION: &str = OPS.list_changed_devices.name();

/// Where a listing continues.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Position {
    /// Rows of second `ts` and later, minus the ids of that second already delivered.
    Keyset { ts: i64, seen: BTreeSet<String> },
    /// A full listing by page number (`order_key=id`).
    Everything { page: u64 },
}

impl Position {
    fn start(since: DateTime<Utc>) -> Position {
        Position::Keyset {
            ts: since.timestamp(),
            seen: BTreeSet::new(),
        }
    }

    fn parse(cursor: &ChangeCursor) -> Option<Position> {
        let text = cursor.as_str();
        if let Some(page) = text.strip_prefix("fleet-all:") {
            return Some(Position::Everything {
                page: page.parse().ok()?,
            });
        }
        let rest = text.strip_prefix("fleet-keyset:")?;
        let (ts, ids) = rest.split_once(':')?;
        Some(Position::Keyset {
            ts: ts.parse().ok()?,
            seen: ids
                .split(',')
                .filter(|i| !i.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    fn cursor(&self) -> ChangeCursor {
        ChangeCursor::new(match self {
            Position::Keyset { ts, seen } => format!(
                "fleet-keyset:{ts}:{}",
                seen.iter().cloned().collect::<Vec<_>>().join(",")
            ),
            Position::Everything { page } => format!("fleet-all:{page}"),
        })
    }
}

/// `after` as MySQL compares it with a `TIMESTAMP` column: `YYYY-MM-DD HH:MM:SS`, UTC.
fn mysql_time(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// How many times larger a page that could not move on is asked for again.
const LARGEST_RETRY: u32 = 8;

pub(crate) async fn page(
    fleet: &FleetProvider,
    since: DateTime<Utc>,
    cursor: Option<&ChangeCursor>,
    resolution: Resolution,
) -> Result<ChangesPage> {
    let position = match cursor {
        None => Position::start(since),
        Some(c) => Position::parse(c).ok_or_else(|| {
            OPS.list_changed_devices.error(
                ErrorKind::InvalidConfiguration,
                format!("{c:?} is not a position in a Fleet listing"),
            )
        })?,
    };
    let size = fleet.page_size;
    match position {
        Position::Everything { page } => {
            if page == 0 {
                fleet.start_listing().await;
            }
            let request = PageRequest::PageNumber { page, size };
            let hosts = fleet.client.list_hosts_page(&request, OPERATION).await?;
            let more = hosts
                .info
                .has_more
                .unwrap_or(hosts.items.len() >= size as usize)
                && !hosts.items.is_empty();
            let devices = fleet
                .listed_devices(&hosts.items, OPERATION, resolution)
                .await;
            let next = more.then(|| Position::Everything { page: page + 1 }.cursor());
            Ok(ChangesPage::new(devices, next, Coverage::Everything))
        }
        Position::Keyset { ts, seen } => {
            if cursor.is_none() {
                fleet.start_listing().await;
            }
            let mut asked = size;
            let (hosts, times, more) = loop {
                let hosts = fleet
                    .client
                    .hosts_updated_after(&mysql_time(ts - 1), asked, OPERATION)
                    .await?;
                let times: Vec<Option<i64>> = hosts
                    .items
                    .iter()
                    .map(|h| {
                        h.updated_at
                            .as_deref()
                            .and_then(parse_timestamp)
                            .map(|t| t.timestamp())
                    })
                    .collect();
                let full_page = hosts.items.len() >= asked as usize;
                let more = hosts.info.has_more.unwrap_or(full_page) && !hosts.items.is_empty();
                let stuck = more
                    && hosts
                        .items
                        .iter()
                        .zip(&times)
                        .all(|(h, t)| *t == Some(ts) && seen.contains(&h.id.0));
                if stuck && asked < size.saturating_mul(LARGEST_RETRY) {
                    asked = asked.saturating_mul(2);
                    continue;
                }
                break (hosts, times, more);
            };
            if times
                .iter()
                .any(|t| t.is_none_or(|t| t < since.timestamp()))
            {
                tracing::warn!(
                    provider = %ProviderKind::Fleet,
                    "Fleet listed hosts updated before {since} for after=…: it ignored the keyset; listing every host"
                );
                let devices = fleet
                    .listed_devices(&hosts.items, OPERATION, resolution)
                    .await;
                let next = Some(Position::Everything { page: 0 }.cursor());
                return Ok(ChangesPage::new(devices, next, Coverage::Everything));
            }
            let fresh: Vec<Host> = hosts
                .items
                .into_iter()
                .zip(&times)
                .filter(|(h, t)| t.is_some_and(|t| t > ts) || !seen.contains(&h.id.0))
                .map(|(h, _)| h)
                .collect();
            if fresh.is_empty() && more {
                tracing::info!(
                    provider = %ProviderKind::Fleet,
                    "more hosts share one updated_at second than a page holds; listing every host"
                );
                let next = Some(Position::Everything { page: 0 }.cursor());
                return Ok(ChangesPage::new(Vec::new(), next, Coverage::Everything));
            }
            let last = times.iter().flatten().copied().max().unwrap_or(ts);
            let mut boundary: BTreeSet<String> = if last == ts { seen } else { BTreeSet::new() };
            for host in &fresh {
                let t = host
                    .updated_at
                    .as_deref()
                    .and_then(parse_timestamp)
                    .map(|t| t.timestamp());
                if t == Some(last) {
                    boundary.insert(host.id.0.clone());
                }
            }
            let devices = match resolution {
                Resolution::Deferred => fleet.changed_devices_deferred(&fresh),
                _ => fleet.changed_devices(&fresh, OPERATION).await,
            };
            let next = more.then(|| {
                Position::Keyset {
                    ts: last,
                    seen: boundary,
                }
                .cursor()
            });
            Ok(ChangesPage::new(devices, next, Coverage::Changed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let p = Position::Keyset {
            ts: 1_793_491_200,
            seen: ["3".to_owned(), "12".to_owned()].into(),
        };
        assert_eq!(Position::parse(&p.cursor()), Some(p));
        let e = Position::Everything { page: 4 };
        assert_eq!(Position::parse(&e.cursor()), Some(e));
        assert_eq!(Position::parse(&ChangeCursor::new("n:1:2")), None);
        assert_eq!(mysql_time(1_793_491_200), "2026-11-01 00:00:00");
    }
}
