//! One paging engine for the four styles the providers use, with the termination rules in one place.
//!
//! | style | providers | request | ends when |
//! |---|---|---|---|
//! | [`PagingStyle::PageNumber`] | Jamf, Fleet | `page`, `page-size` | the total is reached, else a short page |
//! | [`PagingStyle::Offset`] | Iru, JumpCloud | `offset`/`skip`, `limit` | the total is reached, else a short page |
//! | [`PagingStyle::Cursor`] | SimpleMDM | `starting_after`, `limit` | `has_more` is false |
//! | [`PagingStyle::NextLink`] | Graph | the `@odata.nextLink` URL | no next link |
//!
//! Whatever the server says, a listing always terminates:
//! - an empty page ends page-number, offset and cursor listings even if the server's total says more
//!   (Graph may send empty pages *with* a next link, so next-link listings follow the link);
//! - a `has_more` flag, when the server sends one, wins over counting;
//! - a cursor or next link that repeats is an [`ErrorKind::InvalidResponse`] error, not a loop;
//! - after `max_pages` pages the listing fails with [`ErrorKind::InvalidResponse`] rather than run forever
//!   or pretend a truncated listing is complete.

use std::collections::HashSet;

use crate::error::{Error, ErrorKind, Result};

/// The default ceiling on pages per listing. At Jamf's 2000 rows a page this is 20 million devices.
pub const DEFAULT_MAX_PAGES: u32 = 10_000;

/// How a listing is paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PagingStyle {
    /// Numbered pages of `size` rows, starting at `first` (0 for Jamf and Fleet).
    PageNumber {
        /// The first page's number.
        first: u64,
        /// Rows asked for per page.
        size: u32,
    },
    /// `offset`/`skip` plus `limit`.
    Offset {
        /// Rows asked for per page.
        limit: u32,
    },
    /// `starting_after=<last id>` plus `limit`, with `has_more`.
    Cursor {
        /// Rows asked for per page.
        limit: u32,
    },
    /// Follow the server's absolute next-page URL.
    NextLink,
}

impl PagingStyle {
    /// Rows asked for per page, if the style has a page size.
    pub fn page_size(self) -> Option<u32> {
        match self {
            PagingStyle::PageNumber { size, .. } => Some(size),
            PagingStyle::Offset { limit } | PagingStyle::Cursor { limit } => Some(limit),
            PagingStyle::NextLink => None,
        }
    }
}

/// The next page to fetch, in the listing's own style.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageRequest {
    /// Page number `page` of `size` rows.
    PageNumber {
        /// Page number.
        page: u64,
        /// Rows asked for.
        size: u32,
    },
    /// Rows from `offset`, at most `limit`.
    Offset {
        /// Rows to skip.
        offset: u64,
        /// Rows asked for.
        limit: u32,
    },
    /// Rows after `after` (none for the first page), at most `limit`.
    Cursor {
        /// The last id of the previous page.
        after: Option<String>,
        /// Rows asked for.
        limit: u32,
    },
    /// The first page (`None`, the provider builds its own first URL) or the server's next link.
    NextLink {
        /// The absolute URL the previous page pointed to.
        url: Option<String>,
    },
}

/// What a fetched page said about the listing, beyond its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// The total number of rows the server claims (Jamf `totalCount`, JumpCloud `totalCount` or
    /// `x-total-count`).
    pub total: Option<u64>,
    /// The server's explicit "more pages" flag (SimpleMDM `has_more`, Fleet `meta.has_next_results`).
    pub has_more: Option<bool>,
    /// The cursor for the next page (SimpleMDM: the last row's id).
    pub next_cursor: Option<String>,
    /// The next page's URL (Graph `@odata.nextLink`), absent on the last page.
    pub next_link: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// What the server said about the rest.
    pub info: PageInfo,
}

impl<T> Page<T> {
    /// A page with its rows and what the server said.
    pub fn new(items: Vec<T>, info: PageInfo) -> Self {
        Page { items, info }
    }

    /// Converts the rows, keeping the paging facts.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            info: self.info,
        }
    }
}

/// The paging state machine: asks for pages, records what came back, and decides when to stop.
#[derive(Debug, Clone)]
pub struct Pager {
    style: PagingStyle,
    next: Option<PageRequest>,
    pages: u32,
    rows: u64,
    max_pages: u32,
    seen: HashSet<String>,
}

impl Pager {
    /// A pager with the default page ceiling.
    pub fn new(style: PagingStyle) -> Self {
        Pager::with_max_pages(style, DEFAULT_MAX_PAGES)
    }

    /// A pager that fails after `max_pages` pages.
    pub fn with_max_pages(style: PagingStyle, max_pages: u32) -> Self {
        let first = match style {
            PagingStyle::PageNumber { first, size } => {
                PageRequest::PageNumber { page: first, size }
            }
            PagingStyle::Offset { limit } => PageRequest::Offset { offset: 0, limit },
            PagingStyle::Cursor { limit } => PageRequest::Cursor { after: None, limit },
            PagingStyle::NextLink => PageRequest::NextLink { url: None },
        };
        Pager {
            style,
            next: Some(first),
            pages: 0,
            rows: 0,
            max_pages: max_pages.max(1),
            seen: HashSet::new(),
        }
    }

    /// The page to fetch next, or `None` when the listing is complete.
    pub fn next_request(&self) -> Option<&PageRequest> {
        self.next.as_ref()
    }

    /// Pages recorded so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Rows recorded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Records a fetched page of `rows` rows and works out the next request.
    pub fn record(&mut self, rows: usize, info: &PageInfo) -> Result<()> {
        let Some(current) = self.next.take() else {
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                "a page was recorded after the listing ended",
            ));
        };
        self.pages += 1;
        self.rows += rows as u64;
        let asked = self.style.page_size().map(u64::from);
        let empty = rows == 0;
        let reached_total = info.total.is_some_and(|t| self.rows >= t);
        let short = asked.is_some_and(|a| (rows as u64) < a);
        // Counting styles: has_more wins, then the total, then a short page.
        let counted_end = empty
            || match info.has_more {
                Some(more) => !more,
                None if info.total.is_some() => reached_total,
                None => short,
            };
        self.next = match current {
            PageRequest::PageNumber { page, size } => {
                (!counted_end).then_some(PageRequest::PageNumber {
                    page: page + 1,
                    size,
                })
            }
            PageRequest::Offset { offset, limit } => {
                (!counted_end).then_some(PageRequest::Offset {
                    offset: offset + rows as u64,
                    limit,
                })
            }
            PageRequest::Cursor { limit, .. } => {
                let more = !empty && info.has_more.unwrap_or(!short);
                match (more, &info.next_cursor) {
                    (false, _) => None,
                    (true, None) => return Err(Error::invalid_response(
                        "the server says there are more rows but gave no cursor to continue from",
                    )),
                    (true, Some(cursor)) => {
                        self.remember(cursor, "cursor")?;
                        Some(PageRequest::Cursor {
                            after: Some(cursor.clone()),
                            limit,
                        })
                    }
                }
            }
            PageRequest::NextLink { .. } => match &info.next_link {
                None => None,
                Some(link) => {
                    self.remember(link, "next link")?;
                    Some(PageRequest::NextLink {
                        url: Some(link.clone()),
                    })
                }
            },
        };
        if self.next.is_some() && self.pages >= self.max_pages {
            self.next = None;
            return Err(Error::invalid_response(format!(
                "the listing did not end after {} pages ({} rows); stopped rather than loop",
                self.pages, self.rows
            )));
        }
        Ok(())
    }

    fn remember(&mut self, token: &str, what: &str) -> Result<()> {
        if !self.seen.insert(token.to_owned()) {
            return Err(Error::invalid_response(format!(
                "the server repeated a {what} ({token:?}); stopped rather than loop"
            )));
        }
        Ok(())
    }
}

/// Fetches every page with `fetch` and returns all rows, applying the [`Pager`] rules.
///
/// Providers use this for every multi-page read (devices, groups, members), so paging is written once.
pub async fn collect_all<T, F, Fut>(pager: Pager, mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>>>,
{
    let mut pager = pager;
    let mut all = Vec::new();
    while let Some(request) = pager.next_request().cloned() {
        let page = fetch(request).await?;
        pager.record(page.items.len(), &page.info)?;
        all.extend(page.items);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info_total(total: u64) -> PageInfo {
        PageInfo {
            total: Some(total),
            ..PageInfo::default()
        }
    }

    #[test]
    fn page_number_stops_at_total_even_when_pages_are_capped() {
        let mut p = Pager::new(PagingStyle::PageNumber {
            first: 0,
            size: 2000,
        });
        // The server caps pages at 1000: short pages must not end a listing with a total.
        p.record(1000, &info_total(2500)).unwrap();
        assert_eq!(
            p.next_request(),
            Some(&PageRequest::PageNumber {
                page: 1,
                size: 2000
            })
        );
        p.record(1000, &info_total(2500)).unwrap();
        p.record(500, &info_total(2500)).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn empty_page_ends_even_if_total_says_more() {
        let mut p = Pager::new(PagingStyle::PageNumber {
            first: 0,
            size: 100,
        });
        p.record(100, &info_total(1000)).unwrap();
        p.record(0, &info_total(1000)).unwrap();
        assert_eq!(p.next_request(), None);
        assert_eq!(p.rows(), 100);
    }

    #[test]
    fn short_page_ends_without_total_and_offset_advances_by_rows() {
        let mut p = Pager::new(PagingStyle::Offset { limit: 300 });
        p.record(300, &PageInfo::default()).unwrap();
        assert_eq!(
            p.next_request(),
            Some(&PageRequest::Offset {
                offset: 300,
                limit: 300
            })
        );
        p.record(12, &PageInfo::default()).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn has_more_wins_over_counting() {
        let mut p = Pager::new(PagingStyle::PageNumber {
            first: 0,
            size: 100,
        });
        let more = PageInfo {
            has_more: Some(true),
            ..PageInfo::default()
        };
        p.record(20, &more).unwrap(); // clamped page, but the server says more
        assert!(p.next_request().is_some());
    }

    #[test]
    fn cursor_follows_has_more_and_rejects_repeats() {
        let mut p = Pager::new(PagingStyle::Cursor { limit: 100 });
        let info = |c: &str, more| PageInfo {
            has_more: Some(more),
            next_cursor: Some(c.into()),
            ..PageInfo::default()
        };
        p.record(100, &info("5", true)).unwrap();
        assert_eq!(
            p.next_request(),
            Some(&PageRequest::Cursor {
                after: Some("5".into()),
                limit: 100
            })
        );
        let err = p.record(100, &info("5", true)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(err.to_string().contains("repeated"));

        let mut p = Pager::new(PagingStyle::Cursor { limit: 100 });
        p.record(3, &info("9", false)).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn next_link_follows_empty_pages_and_rejects_repeats() {
        let mut p = Pager::new(PagingStyle::NextLink);
        let link = |l: Option<&str>| PageInfo {
            next_link: l.map(str::to_owned),
            ..PageInfo::default()
        };
        p.record(0, &link(Some("https://g/2"))).unwrap();
        assert!(p.next_request().is_some(), "empty Graph pages continue");
        p.record(5, &link(Some("https://g/3"))).unwrap();
        assert!(p.record(5, &link(Some("https://g/3"))).is_err());
        let mut p = Pager::new(PagingStyle::NextLink);
        p.record(5, &link(None)).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn the_page_ceiling_stops_a_server_that_never_stops() {
        let mut p = Pager::with_max_pages(PagingStyle::Offset { limit: 10 }, 5);
        let mut result = Ok(());
        let mut fetched = 0;
        while p.next_request().is_some() && result.is_ok() {
            fetched += 1;
            result = p.record(10, &info_total(u64::MAX));
        }
        assert_eq!(fetched, 5);
        assert!(result
            .unwrap_err()
            .to_string()
            .contains("did not end after 5 pages"));
    }
}
