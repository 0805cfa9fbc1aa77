//! "Changed since T": listing only the devices whose record moved after a time, the provider side of an
//! incremental refresh.
//!
//! A provider says what it can do with [`MdmProvider::change_tracking`](crate::MdmProvider::change_tracking)
//! and answers [`MdmProvider::list_changed_devices_page`](crate::MdmProvider::list_changed_devices_page)
//! page by page, each page pointing at the next with an opaque [`ChangeCursor`]. [`ChangeListing`] drives
//! such a listing and enforces the same termination rules as the bulk listing's pager (a repeated cursor
//! or too many pages is an error, never a loop).
//!
//! What a caller may conclude from a finished listing depends on its [`Coverage`]:
//! - [`Coverage::Changed`]: every device whose change field is at or after `since` was listed (and maybe
//!   some others). A device that was *not* listed may still exist: such a listing never proves a
//!   deletion.
//! - [`Coverage::Everything`]: the provider could not filter and listed every device instead (the server
//!   ignored the filter, or keyset paging could not move on). A complete, error-free listing of this
//!   kind is a full listing and may be used as one.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::device::MdmDevice;
use crate::error::{Error, Result};
use crate::paging::DEFAULT_MAX_PAGES;

/// Whether, and by which field, a provider can list only the devices changed since a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeTracking {
    /// The vendor has no "changed since" filter (SimpleMDM): use the bulk listing, which
    /// [`MdmProvider::list_changed_devices_page`](crate::MdmProvider::list_changed_devices_page) refuses.
    Unsupported,
    /// Devices whose `field` is at or after a time can be listed.
    #[non_exhaustive]
    Supported {
        /// The vendor's field, e.g. `general.reportDate` (Jamf) or `lastSyncDateTime` (Intune).
        field: &'static str,
        /// What moves the field, and what changes it misses (an administrator reassigning a user in the
        /// console usually moves nothing): why a full listing must still run now and then.
        moves_on: &'static str,
        /// How far before the start of its previous listing a caller should ask from: the field's
        /// precision plus the clock skew between the caller and the MDM. Rows inside the overlap are
        /// listed twice, which is harmless.
        overlap: Duration,
    },
}

impl ChangeTracking {
    /// A provider that lists changes by `field` (see [`ChangeTracking::Supported`]).
    pub const fn supported(field: &'static str, moves_on: &'static str, overlap: Duration) -> Self {
        ChangeTracking::Supported {
            field,
            moves_on,
            overlap,
        }
    }

    /// Whether changes can be listed at all.
    pub fn is_supported(&self) -> bool {
        matches!(self, ChangeTracking::Supported { .. })
    }

    /// The overlap to subtract from a watermark; zero when unsupported.
    pub fn overlap(&self) -> Duration {
        match self {
            ChangeTracking::Supported { overlap, .. } => *overlap,
            ChangeTracking::Unsupported => Duration::ZERO,
        }
    }
}

/// Where a "changed since" listing continues. Opaque to callers: only the provider that made it reads
/// it (a page number, a keyset position, the server's next link). Valid for the listing it came from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ChangeCursor(String);

impl ChangeCursor {
    /// A cursor holding the provider's own encoding of its position.
    pub fn new(position: impl Into<String>) -> Self {
        ChangeCursor(position.into())
    }

    /// The provider's encoding.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChangeCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Next links may be long; the start says where the listing is.
        let shown: String = self.0.chars().take(120).collect();
        write!(f, "ChangeCursor({shown:?})")
    }
}

/// A position in a "changed since" listing paged by page number or offset, carried in a
/// [`ChangeCursor`]: the next page number (or offset) and the rows read so far. The termination rules are
/// the bulk pager's: an empty page ends the listing; with a total, reaching it does; without, a short
/// page does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NumberedPosition {
    /// The page number (or offset) to ask for next.
    pub next: u64,
    /// Rows read so far.
    pub rows: u64,
}

impl NumberedPosition {
    /// The position a cursor holds; the start (page or offset 0) without one. A cursor this type did
    /// not make is an [`crate::ErrorKind::InvalidConfiguration`] error.
    pub fn from_cursor(cursor: Option<&ChangeCursor>) -> Result<Self> {
        let Some(cursor) = cursor else {
            return Ok(NumberedPosition::default());
        };
        let parsed = cursor
            .as_str()
            .strip_prefix("n:")
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(next, rows)| Some((next.parse().ok()?, rows.parse().ok()?)));
        match parsed {
            Some((next, rows)) => Ok(NumberedPosition { next, rows }),
            None => Err(Error::config(format!(
                "{cursor:?} is not a position in a numbered listing"
            ))),
        }
    }

    /// The cursor after a page of `page_rows` rows (of `asked`), or `None` when the listing ended.
    /// `by_offset`: the position counts rows (`offset`/`skip`), else pages.
    pub fn after_page(
        self,
        page_rows: usize,
        asked: u32,
        total: Option<u64>,
        by_offset: bool,
    ) -> Option<ChangeCursor> {
        let rows = self.rows.saturating_add(page_rows as u64);
        let ended = page_rows == 0
            || match total {
                Some(total) => rows >= total,
                None => page_rows < asked as usize,
            };
        if ended {
            return None;
        }
        let next = if by_offset {
            self.next.saturating_add(page_rows as u64)
        } else {
            self.next.saturating_add(1)
        };
        Some(ChangeCursor(format!("n:{next}:{rows}")))
    }
}

/// What a "changed since" listing covers (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Coverage {
    /// The devices changed since the time asked for, perhaps with a few more.
    Changed,
    /// Every device the MDM holds: the listing, from its first page to its last, is a full listing.
    Everything,
}

/// One page of a "changed since" listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangesPage {
    /// The devices on this page.
    pub devices: Vec<MdmDevice>,
    /// Where the listing continues; `None` on the last page.
    pub next: Option<ChangeCursor>,
    /// What the listing covers. Once a page says [`Coverage::Everything`], the whole listing does.
    pub coverage: Coverage,
}

impl ChangesPage {
    /// A page of `devices`, continuing at `next`.
    pub fn new(devices: Vec<MdmDevice>, next: Option<ChangeCursor>, coverage: Coverage) -> Self {
        ChangesPage {
            devices,
            next,
            coverage,
        }
    }
}

/// Drives a "changed since" listing: which cursor to ask for next, when it ends, and what it covered.
///
/// ```
/// use mdmkit_core::{ChangeCursor, ChangeListing, ChangesPage, Coverage};
/// let since = "2026-11-01T00:00:00Z".parse().unwrap();
/// let mut listing = ChangeListing::new(since);
/// assert_eq!(listing.next_cursor(), Some(None)); // the first page
/// listing.record(&ChangesPage::new(vec![], Some(ChangeCursor::new("2")), Coverage::Changed)).unwrap();
/// assert_eq!(listing.next_cursor(), Some(Some(&ChangeCursor::new("2"))));
/// listing.record(&ChangesPage::new(vec![], None, Coverage::Changed)).unwrap();
/// assert_eq!(listing.next_cursor(), None);
/// assert_eq!(listing.coverage(), Coverage::Changed);
/// ```
#[derive(Debug, Clone)]
pub struct ChangeListing {
    since: DateTime<Utc>,
    next: Option<Option<ChangeCursor>>,
    coverage: Coverage,
    pages: u32,
    rows: u64,
    max_pages: u32,
    seen: HashSet<ChangeCursor>,
}

impl ChangeListing {
    /// A listing of the devices changed since `since`, failing after the default page ceiling.
    pub fn new(since: DateTime<Utc>) -> Self {
        ChangeListing::with_max_pages(since, DEFAULT_MAX_PAGES)
    }

    /// A listing that fails after `max_pages` pages.
    pub fn with_max_pages(since: DateTime<Utc>, max_pages: u32) -> Self {
        ChangeListing {
            since,
            next: Some(None),
            coverage: Coverage::Changed,
            pages: 0,
            rows: 0,
            max_pages: max_pages.max(1),
            seen: HashSet::new(),
        }
    }

    /// The time the listing asks from.
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// The cursor of the next page: `Some(None)` for the first page, `None` once the listing ended.
    pub fn next_cursor(&self) -> Option<Option<&ChangeCursor>> {
        self.next.as_ref().map(Option::as_ref)
    }

    /// What the pages recorded so far cover.
    pub fn coverage(&self) -> Coverage {
        self.coverage
    }

    /// Pages recorded so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Devices recorded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Records a fetched page and works out the next cursor.
    pub fn record(&mut self, page: &ChangesPage) -> Result<()> {
        if self.next.take().is_none() {
            return Err(Error::invalid_response(
                "a page was recorded after the listing of changes ended",
            ));
        }
        self.pages += 1;
        self.rows += page.devices.len() as u64;
        if page.coverage == Coverage::Everything {
            self.coverage = Coverage::Everything;
        }
        if let Some(cursor) = &page.next {
            if !self.seen.insert(cursor.clone()) {
                return Err(Error::invalid_response(format!(
                    "the listing of changes repeated a position ({cursor:?}); stopped rather than loop"
                )));
            }
            if self.pages >= self.max_pages {
                return Err(Error::invalid_response(format!(
                    "the listing of changes did not end after {} pages ({} rows); stopped rather than loop",
                    self.pages, self.rows
                )));
            }
            self.next = Some(Some(cursor.clone()));
        }
        Ok(())
    }
}

/// A finished "changed since" listing, collected
/// ([`MdmProviderExt::changed_devices`](crate::MdmProviderExt::changed_devices)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangedDevices {
    /// Every device listed, in the provider's order (a device may appear twice).
    pub devices: Vec<MdmDevice>,
    /// What the listing covered.
    pub coverage: Coverage,
}

impl ChangedDevices {
    /// A collected listing.
    pub fn new(devices: Vec<MdmDevice>, coverage: Coverage) -> Self {
        ChangedDevices { devices, coverage }
    }
}

/// Formats `time` as RFC 3339 in UTC with millisecond precision and a `Z` (`2026-11-01T10:00:00.000Z`),
/// the form Jamf, Graph and JumpCloud accept in filters.
pub fn rfc3339_millis(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a timestamp the way MDM APIs send them: RFC 3339 with any offset and precision, or a naive
/// `YYYY-MM-DD[T ]HH:MM:SS[.fff]` taken as UTC. `None` for blanks and garbage (never a panic).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    // Offsets written `+00:00` after a space (`2024-01-26 16:15:36.087016+00:00`, Iru's enrolment dates).
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn page(next: Option<&str>, coverage: Coverage) -> ChangesPage {
        ChangesPage::new(Vec::new(), next.map(ChangeCursor::new), coverage)
    }

    #[test]
    fn everything_is_sticky_and_the_listing_ends_without_a_cursor() {
        let mut l = ChangeListing::new(t("2026-11-01T00:00:00Z"));
        l.record(&page(Some("a"), Coverage::Changed)).unwrap();
        l.record(&page(Some("b"), Coverage::Everything)).unwrap();
        l.record(&page(None, Coverage::Changed)).unwrap();
        assert_eq!(l.coverage(), Coverage::Everything);
        assert_eq!(l.next_cursor(), None);
        assert_eq!(l.pages(), 3);
        let err = l.record(&page(None, Coverage::Changed)).unwrap_err();
        assert!(err.to_string().contains("after the listing"));
    }

    #[test]
    fn a_repeated_cursor_and_the_page_ceiling_stop_the_listing() {
        let mut l = ChangeListing::new(t("2026-11-01T00:00:00Z"));
        l.record(&page(Some("a"), Coverage::Changed)).unwrap();
        let err = l.record(&page(Some("a"), Coverage::Changed)).unwrap_err();
        assert!(err.to_string().contains("repeated"));

        let mut l = ChangeListing::with_max_pages(t("2026-11-01T00:00:00Z"), 3);
        let mut result = Ok(());
        let mut n = 0;
        while l.next_cursor().is_some() && result.is_ok() {
            n += 1;
            result = l.record(&page(Some(&n.to_string()), Coverage::Changed));
        }
        assert_eq!(n, 3);
        assert!(result.unwrap_err().to_string().contains("did not end"));
    }

    #[test]
    fn timestamps_parse_in_every_vendor_form() {
        let want = t("2024-07-23T14:11:37Z");
        assert_eq!(parse_timestamp("2024-07-23T14:11:37Z"), Some(want));
        assert_eq!(parse_timestamp("2024-07-23T16:11:37+02:00"), Some(want));
        assert_eq!(parse_timestamp("2024-07-23 14:11:37"), Some(want));
        assert_eq!(
            parse_timestamp(" 2024-07-23T14:11:37.150080Z ")
                .unwrap()
                .timestamp(),
            want.timestamp()
        );
        assert_eq!(
            parse_timestamp("2024-01-26 16:15:36.087016+00:00")
                .unwrap()
                .timestamp(),
            t("2024-01-26T16:15:36Z").timestamp()
        );
        assert_eq!(
            parse_timestamp("0001-01-01T00:00:00Z"),
            Some(t("0001-01-01T00:00:00Z"))
        );
        for bad in ["", "  ", "yesterday", "2024-13-45T99:99:99Z"] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        assert_eq!(
            rfc3339_millis(t("2026-11-01T10:00:00.5Z")),
            "2026-11-01T10:00:00.500Z"
        );
    }

    #[test]
    fn numbered_positions_follow_the_pager_rules() {
        let start = NumberedPosition::from_cursor(None).unwrap();
        assert_eq!(start, NumberedPosition { next: 0, rows: 0 });
        // Page numbers with a total: continue until the total is reached, even on capped pages.
        let c = start.after_page(1000, 2000, Some(2500), false).unwrap();
        let p = NumberedPosition::from_cursor(Some(&c)).unwrap();
        assert_eq!(
            p,
            NumberedPosition {
                next: 1,
                rows: 1000
            }
        );
        let c = p.after_page(1000, 2000, Some(2500), false).unwrap();
        let p = NumberedPosition::from_cursor(Some(&c)).unwrap();
        assert_eq!(p.after_page(500, 2000, Some(2500), false), None);
        // Offsets without a total: a short page ends; an empty page always ends.
        let c = start.after_page(300, 300, None, true).unwrap();
        let p = NumberedPosition::from_cursor(Some(&c)).unwrap();
        assert_eq!(
            p,
            NumberedPosition {
                next: 300,
                rows: 300
            }
        );
        assert_eq!(p.after_page(12, 300, None, true), None);
        assert_eq!(p.after_page(0, 300, Some(u64::MAX), true), None);
        let err =
            NumberedPosition::from_cursor(Some(&ChangeCursor::new("https://x/next"))).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidConfiguration);
    }

    #[test]
    fn tracking_accessors() {
        let s = ChangeTracking::supported("f", "m", Duration::from_secs(60));
        assert!(s.is_supported());
        assert_eq!(s.overlap(), Duration::from_secs(60));
        assert!(!ChangeTracking::Unsupported.is_supported());
        assert_eq!(ChangeTracking::Unsupported.overlap(), Duration::ZERO);
        let long = ChangeCursor::new("x".repeat(500));
        assert!(format!("{long:?}").len() < 200);
    }
}
