//! Devices changed since a time. Iru has no "since" filter on `GET /api/v1/devices`, but it orders by
//! `last_check_in`: read newest first (`ordering=-last_check_in`) and stop at the first device that
//! checked in before the time asked for.
//!
//! - **What moves it.** `last_check_in` moves on every check-in of the device (agent or MDM), not only
//!   when its record changes: a "changed since yesterday" listing holds about every device that was
//!   online since yesterday. A change made in the console does not move it.
//! - **Paging.** Offset pages of 300. A device that checks in while the listing runs moves to the front,
//!   which repeats a row at a page boundary but never skips one.
//! - **Trust, but check.** The order is checked on every page and across pages. Should the times not
//!   come newest first (the server ignored `ordering`), stopping early could miss devices, so the listing
//!   goes on to the end instead and reports [`Coverage::Everything`]. Devices without a check-in time
//!   (never checked in; PostgreSQL sorts them first in descending order) are listed and do not stop it.

use std::time::Duration;

use mdmkit_core::changes::parse_timestamp;
use mdmkit_core::chrono::{DateTime, Utc};
use mdmkit_core::{
    ChangeCursor, ChangeTracking, ChangesPage, Coverage, ErrorKind, PageRequest, ProviderKind,
    Result,
};

use crate::client::{IruClient, PAGE_SIZE};
use crate::convert;

pub(crate) const TRACKING: ChangeTracking = ChangeTracking::supported(
    "last_check_in",
    "every check-in of the device (agent or MDM), so a listing holds every device online since the \
     time asked for; changes made in the console do not move it",
    Duration::from_secs(300),
);

use crate::client::OPS;
const ORDERING: &str = "-last_check_in";

/// Where a listing continues: the offset, the oldest check-in seen so far (milliseconds), and whether
/// the order was found broken (the rest is a full listing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    offset: u64,
    oldest: Option<i64>,
    everything: bool,
}

impl Position {
    fn from_cursor(cursor: Option<&ChangeCursor>) -> Result<Position> {
        let Some(cursor) = cursor else {
            return Ok(Position {
                offset: 0,
                oldest: None,
                everything: false,
            });
        };
        let parse = || {
            let mut parts = cursor.as_str().strip_prefix("iru:")?.split(':');
            let offset = parts.next()?.parse().ok()?;
            let oldest = match parts.next()? {
                "" => None,
                t => Some(t.parse().ok()?),
            };
            let everything = parts.next()? == "all";
            Some(Position {
                offset,
                oldest,
                everything,
            })
        };
        parse().ok_or_else(|| {
            OPS.list_changed_devices.error(
                ErrorKind::InvalidConfiguration,
                format!("{cursor:?} is not a position in an Iru listing"),
            )
        })
    }

    fn cursor(self) -> ChangeCursor {
        ChangeCursor::new(format!(
            "iru:{}:{}:{}",
            self.offset,
            self.oldest.map(|t| t.to_string()).unwrap_or_default(),
            if self.everything { "all" } else { "changed" }
        ))
    }
}

/// One page of the devices that checked in at or after `since`, newest first.
pub(crate) async fn page(
    client: &IruClient,
    since: DateTime<Utc>,
    cursor: Option<&ChangeCursor>,
) -> Result<ChangesPage> {
    let mut position = Position::from_cursor(cursor)?;
    let request = PageRequest::Offset {
        offset: position.offset,
        limit: PAGE_SIZE,
    };
    let page = client
        .devices_page_ordered(&request, &[], ORDERING, OPS.list_changed_devices.name())
        .await?;
    let rows = page.items;
    let times: Vec<Option<i64>> = rows
        .iter()
        .map(|r| {
            r.last_check_in
                .as_deref()
                .and_then(parse_timestamp)
                .map(|t| t.timestamp_millis())
        })
        .collect();
    // Newest first, within the page and after the previous pages.
    let ordered = position
        .oldest
        .into_iter()
        .chain(times.iter().flatten().copied())
        .collect::<Vec<_>>()
        .windows(2)
        .all(|w| w[0] >= w[1]);
    if !ordered && !position.everything {
        tracing::warn!(
            provider = %ProviderKind::Iru,
            offset = position.offset,
            "devices did not come newest first with ordering=-last_check_in; listing every device instead"
        );
        position.everything = true;
    }
    let since_ms = since.timestamp_millis();
    let keep = if position.everything {
        rows.len()
    } else {
        // Up to the first device that checked in before `since`.
        times
            .iter()
            .position(|t| t.is_some_and(|t| t < since_ms))
            .unwrap_or(rows.len())
    };
    let reached_older = keep < rows.len();
    let short = rows.len() < PAGE_SIZE as usize;
    let count = rows.len() as u64;
    let devices = rows
        .into_iter()
        .take(keep)
        .map(convert::device)
        .collect::<Result<Vec<_>>>()
        .map_err(OPS.list_changed_devices.tagger())?;
    if let Some(oldest) = times.iter().flatten().copied().min() {
        position.oldest = Some(position.oldest.map_or(oldest, |o| o.min(oldest)));
    }
    let next = (!reached_older && !short && count > 0).then(|| {
        Position {
            offset: position.offset + count,
            ..position
        }
        .cursor()
    });
    let coverage = if position.everything {
        Coverage::Everything
    } else {
        Coverage::Changed
    };
    Ok(ChangesPage::new(devices, next, coverage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_refuse_foreign_cursors() {
        let p = Position {
            offset: 600,
            oldest: Some(1_793_491_200_000),
            everything: false,
        };
        assert_eq!(Position::from_cursor(Some(&p.cursor())).unwrap(), p);
        let q = Position {
            offset: 0,
            oldest: None,
            everything: true,
        };
        assert_eq!(Position::from_cursor(Some(&q.cursor())).unwrap(), q);
        assert!(Position::from_cursor(Some(&ChangeCursor::new("n:1:2"))).is_err());
    }
}
