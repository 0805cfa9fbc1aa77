//! One paging engine for the four styles the providers use, with the termination rules in one place.
//!
//! | style | providers | request | ends when |
//! |---|---|---|---|
//! | [`PagingStyle::PageNumber`] | Jamf, Fleet | `page`, `page-size` | the total is reached, else a short page |
//! | [`PagingStyle::Offset`] | Iru, JumpCloud | `offset`/`skip`, `limit` | the total is reached, else a short page |
//! | [`PagingStyle::Cursor`] | SimpleMDM | `starting_after`, `limit` | `has_more` is false |
//! | [`PagingStyle::NextLink`] | Graph | the `@odata.nextLink` URL | no next link |
//!
//! Whatever the server says, a listing always terminates, and a server that does not page as it
//! claims is caught within a page or two:
//! - an empty page ends page-number, offset and cursor listings even if the server's total says more
//!   (Graph may send empty pages *with* a next link, so next-link listings follow the link);
//! - a `has_more` flag, when the server sends one, wins over counting;
//! - a page whose rows were all listed already (a server that ignores the page, offset or cursor and
//!   sends the same rows again) is an [`ErrorKind::InvalidResponse`] error when the listing would go
//!   on from it; rows are told apart by the id the caller names for them (see [`Pager::record`]). A
//!   short last page of rows shifted there by additions during the listing just ends it;
//! - a cursor or next link that repeats is an [`ErrorKind::InvalidResponse`] error, not a loop;
//! - a listing that has read clearly more rows than the server's own total (by more than a page and a
//!   tenth) and would go on is an [`ErrorKind::InvalidResponse`] error;
//! - the page ceiling follows the expected size: with a total, the pages it takes at the largest page
//!   seen, plus a quarter and two; never more than `max_pages` (10,000 by default, the only ceiling
//!   when the server gives no total). Past it the listing fails with [`ErrorKind::InvalidResponse`]
//!   rather than run on or pretend a truncated listing is complete.
//!
//! Every number the server sends is used with saturating arithmetic: a total of `u64::MAX` only makes
//! the ceiling `max_pages`.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::BuildHasher;

use futures::future::{ready, Either};
use futures::stream::{FuturesOrdered, StreamExt};

use crate::error::{Error, ErrorKind, Operation, Result};

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

    /// The request for a listing's first page in this style.
    pub fn first_request(self) -> PageRequest {
        match self {
            PagingStyle::PageNumber { first, size } => {
                PageRequest::PageNumber { page: first, size }
            }
            PagingStyle::Offset { limit } => PageRequest::Offset { offset: 0, limit },
            PagingStyle::Cursor { limit } => PageRequest::Cursor { after: None, limit },
            PagingStyle::NextLink => PageRequest::NextLink { url: None },
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

impl PageRequest {
    /// `(page, size)` of a page-number request (Jamf, Fleet).
    ///
    /// # Errors
    /// Any other style is an [`ErrorKind::InvalidConfiguration`] error in `operation`: the caller built a
    /// request in a style the provider does not page by.
    pub fn page_number(&self, operation: Operation) -> Result<(u64, u32)> {
        match self {
            PageRequest::PageNumber { page, size } => Ok((*page, *size)),
            other => Err(other.wrong_style("page number", operation)),
        }
    }

    /// `(offset, limit)` of an offset request (Iru, JumpCloud); another style is an error as for
    /// [`PageRequest::page_number`].
    pub fn offset(&self, operation: Operation) -> Result<(u64, u32)> {
        match self {
            PageRequest::Offset { offset, limit } => Ok((*offset, *limit)),
            other => Err(other.wrong_style("offset and limit", operation)),
        }
    }

    /// `(after, limit)` of a cursor request (SimpleMDM); another style is an error as for
    /// [`PageRequest::page_number`].
    pub fn cursor(&self, operation: Operation) -> Result<(Option<&str>, u32)> {
        match self {
            PageRequest::Cursor { after, limit } => Ok((after.as_deref(), *limit)),
            other => Err(other.wrong_style("cursor", operation)),
        }
    }

    /// The link of a next-link request (Graph, Iru tags): `None` for the first page, which the provider
    /// builds itself; another style is an error as for [`PageRequest::page_number`].
    pub fn next_link(&self, operation: Operation) -> Result<Option<&str>> {
        match self {
            PageRequest::NextLink { url } => Ok(url.as_deref()),
            other => Err(other.wrong_style("next link", operation)),
        }
    }

    fn wrong_style(&self, style: &str, operation: Operation) -> Error {
        operation.error(
            ErrorKind::InvalidConfiguration,
            format!(
                "{} lists are paged by {style}, not by {self:?}",
                operation.provider().display_name()
            ),
        )
    }
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

    /// A page of a listing the server counts: its rows and the server's `total`, when it sent one.
    pub fn counted(items: Vec<T>, total: Option<u64>) -> Self {
        let info = PageInfo {
            total,
            ..PageInfo::default()
        };
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
    /// Cursors and next links followed so far.
    seen: HashSet<String>,
    /// Hashes of the row ids listed so far (8 bytes a row, not the ids themselves).
    seen_rows: HashSet<u64>,
    hasher: RandomState,
    largest_page: u64,
    /// The server's latest total (some servers send it on the first page only).
    total: Option<u64>,
    /// Pages [`for_each_row`] may read at once ahead of the listing (1: none ahead).
    fan_out: usize,
}

impl Pager {
    /// A pager with the default page ceiling.
    pub fn new(style: PagingStyle) -> Self {
        Pager::with_max_pages(style, DEFAULT_MAX_PAGES)
    }

    /// A pager that fails after `max_pages` pages at most (fewer when the server's total says the
    /// listing should be shorter).
    pub fn with_max_pages(style: PagingStyle, max_pages: u32) -> Self {
        Pager {
            style,
            next: Some(style.first_request()),
            pages: 0,
            rows: 0,
            max_pages: max_pages.max(1),
            seen: HashSet::new(),
            seen_rows: HashSet::new(),
            hasher: RandomState::new(),
            largest_page: 0,
            total: None,
            fan_out: 1,
        }
    }

    /// Lets [`for_each_row`] and [`collect_all`], once the first page has given the server's total, ask
    /// for the pages it implies `fan_out` at a time (page-number and offset paging), then go on one page
    /// at a time (rows added meanwhile). Pages are still recorded by this pager's rules and handed on
    /// in order; a page read ahead of a listing the pager ends sooner, or of an offset the short page
    /// before it moved, is dropped unused (its request is spent). A user directory of ten pages then
    /// costs two round trips at five at a time instead of ten.
    pub fn read_ahead(mut self, fan_out: usize) -> Self {
        self.fan_out = fan_out.max(1);
        self
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

    /// Records a fetched page and works out the next request. `row_id` names each row's identity in the
    /// listing (a device id, a group id); rows it gives no id for are counted but cannot be told apart,
    /// so a page of only such rows is never taken for a repeat.
    pub fn record<T>(&mut self, page: &Page<T>, row_id: impl Fn(&T) -> Option<&str>) -> Result<()> {
        let Some(current) = self.next.take() else {
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                "a page was recorded after the listing ended",
            ));
        };
        let info = &page.info;
        let rows = page.items.len() as u64;
        self.pages = self.pages.saturating_add(1);
        self.rows = self.rows.saturating_add(rows);
        self.largest_page = self.largest_page.max(rows);
        self.total = info.total.or(self.total);
        let repeated = self.note_rows(page.items.iter().filter_map(row_id));
        let asked = self.style.page_size().map(u64::from);
        let empty = rows == 0;
        let short = asked.is_some_and(|a| rows < a);
        // Counting styles: has_more wins, then the total (this page's or an earlier one's), then a
        // short page.
        let counted_end = empty
            || match (info.has_more, self.total) {
                (Some(more), _) => !more,
                (None, Some(total)) => self.rows >= total,
                (None, None) => short,
            };
        self.next = match current {
            PageRequest::PageNumber { page, size } => {
                (!counted_end).then_some(PageRequest::PageNumber {
                    page: page.saturating_add(1),
                    size,
                })
            }
            PageRequest::Offset { offset, limit } => {
                (!counted_end).then_some(PageRequest::Offset {
                    offset: offset.saturating_add(rows),
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
        if let Some(next) = &self.next {
            // A repeated page that ends the listing is harmless (rows shifted onto a short last page
            // by additions); one the listing would go on from means the server is not paging.
            let failure = match repeated {
                true => Err(self.repeat_error(next)),
                false => self.check_bounds(self.total),
            };
            if let Err(e) = failure {
                self.next = None;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Notes the page's row ids; true when it had some and every one was listed already.
    fn note_rows<'a>(&mut self, ids: impl Iterator<Item = &'a str>) -> bool {
        let mut identified = false;
        let mut new = false;
        for id in ids {
            identified = true;
            new |= self.seen_rows.insert(self.hasher.hash_one(id));
        }
        identified && !new
    }

    fn repeat_error(&self, next: &PageRequest) -> Error {
        let how = match next {
            PageRequest::PageNumber { .. } => "ignores the page number",
            PageRequest::Offset { .. } => "ignores the offset",
            PageRequest::Cursor { .. } => "ignores the cursor",
            PageRequest::NextLink { .. } => "loops through its next links",
        };
        Error::invalid_response(format!(
            "page {} repeats rows already listed (the server {how}); stopped after {} rows rather \
             than loop",
            self.pages, self.rows
        ))
    }

    /// The limits on a listing that goes on: no more rows than the server's total allows (with a page
    /// and a tenth of slack), and no more pages than that total needs (with a quarter and two of slack),
    /// never more than `max_pages`.
    fn check_bounds(&self, total: Option<u64>) -> Result<()> {
        let page_rows = self
            .largest_page
            .max(self.style.page_size().map_or(0, u64::from))
            .max(1);
        let mut ceiling = u64::from(self.max_pages);
        if let Some(total) = total {
            let slack = page_rows.max(total / 10);
            if self.rows > total.saturating_add(slack) {
                return Err(Error::invalid_response(format!(
                    "the server counts {total} rows but has sent {} in {} pages and says there are \
                     more; stopped rather than loop",
                    self.rows, self.pages
                )));
            }
            let expected = total.div_ceil(self.largest_page.max(1));
            ceiling = ceiling.min(expected.saturating_add(expected / 4).saturating_add(2));
        }
        if u64::from(self.pages) >= ceiling {
            let counted = match total {
                Some(total) => format!(" although the server counts {total} rows"),
                None => String::new(),
            };
            return Err(Error::invalid_response(format!(
                "the listing did not end after {} pages ({} rows){counted}; stopped rather than loop",
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

/// The id of a row that is its own id (a listing of ids), for [`Pager::record`] and [`collect_all`].
#[allow(clippy::ptr_arg)] // the rows are `String`s: the signature must take what the pager holds
pub fn row_is_id(row: &String) -> Option<&str> {
    Some(row)
}

/// Fetches every page with `fetch` and returns all rows, applying the [`Pager`] rules; `row_id` names
/// each row's identity (see [`Pager::record`]).
///
/// Providers use this (or [`for_each_row`]) for every multi-page read (devices, groups, members), so
/// paging is written once.
pub async fn collect_all<T, I, F, Fut>(pager: Pager, row_id: I, fetch: F) -> Result<Vec<T>>
where
    I: Fn(&T) -> Option<&str>,
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let mut all = Vec::new();
    for_each_row(pager, row_id, fetch, |row| all.push(row)).await?;
    Ok(all)
}

/// [`collect_all`] that hands each row to `each` as its page arrives instead of keeping it, so a
/// listing read into a compact table holds one page of wire records at a time (a few with
/// [`Pager::read_ahead`]).
pub async fn for_each_row<T, I, F, Fut>(
    pager: Pager,
    row_id: I,
    fetch: F,
    mut each: impl FnMut(T),
) -> Result<()>
where
    I: Fn(&T) -> Option<&str>,
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let mut reader = PageReader::new(pager, row_id, fetch);
    while let Some(page) = reader.next_page().await? {
        page.items.into_iter().for_each(&mut each);
    }
    Ok(())
}

/// [`for_each_row`] for a listing whose first page was read already, alongside another request: `first`
/// is taken as the answer to the pager's first request (recorded and handed on like any page, its total
/// starting the read-ahead), and `fetch` reads the rest.
pub async fn for_each_row_from<T, I, F, Fut>(
    first: Page<T>,
    pager: Pager,
    row_id: I,
    mut fetch: F,
    each: impl FnMut(T),
) -> Result<()>
where
    I: Fn(&T) -> Option<&str>,
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let mut first = Some(first);
    let fetch = move |request| match first.take() {
        Some(page) => Either::Left(ready(Ok(page))),
        None => Either::Right(fetch(request)),
    };
    for_each_row(pager, row_id, fetch, each).await
}

/// The one loop that reads a listing: asks `fetch` for the pages the [`Pager`] names, records each, and
/// with [`Pager::read_ahead`] keeps up to `fan_out` of the pages the first page's total implies in
/// flight, handing pages on in order. A page read ahead that the listing no longer asks for (it ended
/// sooner, or a short page moved the offsets) drops every read ahead, and the listing goes on one page
/// at a time. Reads in flight make progress only while [`PageReader::next_page`] is awaited.
pub(crate) struct PageReader<I, F, Fut: Future> {
    pager: Pager,
    row_id: I,
    fetch: F,
    /// The implied pages not yet asked for.
    ahead: Option<ImpliedRequests>,
    /// The pages asked for ahead, oldest first, beside their reads.
    sent: VecDeque<PageRequest>,
    in_flight: FuturesOrdered<Fut>,
}

impl<T, I, F, Fut> PageReader<I, F, Fut>
where
    I: Fn(&T) -> Option<&str>,
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    pub(crate) fn new(pager: Pager, row_id: I, fetch: F) -> Self {
        PageReader {
            pager,
            row_id,
            fetch,
            ahead: None,
            sent: VecDeque::new(),
            in_flight: FuturesOrdered::new(),
        }
    }

    /// The next page of the listing, recorded; `None` once the pager ends it. After an error the
    /// listing is over.
    pub(crate) async fn next_page(&mut self) -> Result<Option<Page<T>>> {
        loop {
            self.send_ahead();
            if let Some(request) = self.sent.pop_front() {
                let Some(read) = self.in_flight.next().await else {
                    unreachable!("every page sent ahead has its read in flight")
                };
                if self.pager.next_request() != Some(&request) {
                    self.stop_reading_ahead();
                    continue;
                }
                let page = read?;
                self.pager.record(&page, &self.row_id)?;
                return Ok(Some(page));
            }
            let Some(request) = self.pager.next_request().cloned() else {
                return Ok(None);
            };
            let page = (self.fetch)(request).await?;
            self.pager.record(&page, &self.row_id)?;
            if self.pager.pages() == 1 {
                self.ahead = self.pager.requests_implied(page.info.total);
            }
            return Ok(Some(page));
        }
    }

    /// Asks for implied pages until `fan_out` are in flight.
    fn send_ahead(&mut self) {
        while self.in_flight.len() < self.pager.fan_out {
            let Some(request) = self.ahead.as_mut().and_then(Iterator::next) else {
                return;
            };
            self.in_flight.push_back((self.fetch)(request.clone()));
            self.sent.push_back(request);
        }
    }

    fn stop_reading_ahead(&mut self) {
        self.ahead = None;
        self.sent.clear();
        self.in_flight = FuturesOrdered::new();
    }
}

/// The page-number or offset requests that read the rest of a listing in full pages, made one at a
/// time as the reader needs them.
#[derive(Debug)]
pub(crate) struct ImpliedRequests {
    next: PageRequest,
    left: u64,
}

impl Iterator for ImpliedRequests {
    type Item = PageRequest;

    fn next(&mut self) -> Option<PageRequest> {
        self.left = self.left.checked_sub(1)?;
        let following = match self.next {
            PageRequest::PageNumber { page, size } => PageRequest::PageNumber {
                page: page.saturating_add(1),
                size,
            },
            PageRequest::Offset { offset, limit } => PageRequest::Offset {
                offset: offset.saturating_add(u64::from(limit)),
                limit,
            },
            PageRequest::Cursor { .. } | PageRequest::NextLink { .. } => {
                unreachable!("only page-number and offset requests are implied")
            }
        };
        Some(std::mem::replace(&mut self.next, following))
    }
}

impl Pager {
    /// The page-number or offset requests that would read the rest of a listing of `total` rows in
    /// full pages from the next request on, within the page ceiling; none without
    /// [`Pager::read_ahead`], for other styles, without a total, or when the listing has ended.
    fn requests_implied(&self, total: Option<u64>) -> Option<ImpliedRequests> {
        let (Some(total), Some(next), true) = (total, &self.next, self.fan_out > 1) else {
            return None;
        };
        let size = match *next {
            PageRequest::PageNumber { size, .. } => size,
            PageRequest::Offset { limit, .. } => limit,
            PageRequest::Cursor { .. } | PageRequest::NextLink { .. } => return None,
        };
        let left = total
            .saturating_sub(self.rows)
            .div_ceil(u64::from(size.max(1)))
            .min(u64::from(self.max_pages.saturating_sub(self.pages)));
        Some(ImpliedRequests {
            next: next.clone(),
            left,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of rows with the ids `ids` (rows are their own ids).
    fn rows(ids: std::ops::Range<u64>, info: PageInfo) -> Page<String> {
        Page::new(ids.map(|i| i.to_string()).collect(), info)
    }

    use row_is_id as id;

    fn info_total(total: u64) -> PageInfo {
        PageInfo {
            total: Some(total),
            ..PageInfo::default()
        }
    }

    fn more() -> PageInfo {
        PageInfo {
            has_more: Some(true),
            ..PageInfo::default()
        }
    }

    #[test]
    fn each_style_reads_its_own_request_and_names_the_operation_otherwise() {
        use crate::kind::ProviderKind;
        let op = Operation::new(ProviderKind::Fleet, "list_devices");
        let numbered = PageRequest::PageNumber { page: 2, size: 50 };
        let offset = PageRequest::Offset {
            offset: 300,
            limit: 100,
        };
        let cursor = PageRequest::Cursor {
            after: Some("9".into()),
            limit: 100,
        };
        let link = PageRequest::NextLink {
            url: Some("https://g/2".into()),
        };
        assert_eq!(numbered.page_number(op).unwrap(), (2, 50));
        assert_eq!(offset.offset(op).unwrap(), (300, 100));
        assert_eq!(cursor.cursor(op).unwrap(), (Some("9"), 100));
        assert_eq!(link.next_link(op).unwrap(), Some("https://g/2"));
        let first = PageRequest::NextLink { url: None };
        assert_eq!(first.next_link(op).unwrap(), None);
        let wrong = [
            first.page_number(op).unwrap_err(),
            numbered.offset(op).unwrap_err(),
            offset.cursor(op).unwrap_err(),
            cursor.next_link(op).unwrap_err(),
        ];
        for (err, style) in wrong
            .iter()
            .zip(["page number", "offset", "cursor", "next link"])
        {
            assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
            assert_eq!(err.provider(), Some(ProviderKind::Fleet));
            assert_eq!(err.operation(), Some("list_devices"));
            assert!(
                err.to_string()
                    .starts_with("Fleet list_devices: Fleet lists are paged by"),
                "{err}"
            );
            assert!(err.to_string().contains(style), "{err}");
        }
    }

    #[tokio::test]
    async fn each_row_is_handed_on_in_order_page_by_page_under_the_pager_rules() {
        let pager = Pager::new(PagingStyle::Offset { limit: 2 });
        let mut asked = Vec::new();
        let mut seen = Vec::new();
        for_each_row(
            pager,
            id,
            |request| {
                asked.push(request.clone());
                let PageRequest::Offset { offset, .. } = request else {
                    unreachable!("an offset listing asks by offset")
                };
                // Three rows in all: two full pages' worth, the second one short.
                async move { Ok(rows(offset..(offset + 2).min(3), info_total(3))) }
            },
            |row| seen.push(row),
        )
        .await
        .unwrap();
        assert_eq!(seen, ["0", "1", "2"]);
        assert_eq!(asked.len(), 2);
        // A server that sends the same page again is stopped, as in `collect_all`.
        let mut handed = 0;
        let err = for_each_row(
            Pager::new(PagingStyle::Offset { limit: 2 }),
            id,
            |_| async { Ok(rows(0..2, info_total(10))) },
            |_| handed += 1,
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert_eq!(
            handed, 2,
            "the first page's rows were handed on before the repeat"
        );
    }

    /// What a read-ahead test server saw: the requests, and the most at once.
    #[derive(Default)]
    struct Seen {
        asked: std::cell::RefCell<Vec<PageRequest>>,
        in_flight: std::cell::Cell<usize>,
        peak: std::cell::Cell<usize>,
    }

    impl Seen {
        /// Answers `page` after a pause in which other reads may start.
        async fn answer(&self, request: PageRequest, page: Page<String>) -> Result<Page<String>> {
            self.asked.borrow_mut().push(request);
            self.in_flight.set(self.in_flight.get() + 1);
            self.peak.set(self.peak.get().max(self.in_flight.get()));
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            self.in_flight.set(self.in_flight.get() - 1);
            Ok(page)
        }

        /// Every row `pager` lists from a server whose page starting at row `n` is `serve(n)`.
        async fn list(&self, pager: Pager, serve: impl Fn(u64) -> Page<String>) -> Vec<String> {
            let mut listed = Vec::new();
            let start = |request: &PageRequest| match *request {
                PageRequest::PageNumber { page, size } => page * u64::from(size),
                PageRequest::Offset { offset, .. } => offset,
                _ => unreachable!("read-ahead reads pages by number or offset"),
            };
            for_each_row(
                pager,
                id,
                |request| self.answer(request.clone(), serve(start(&request))),
                |row| listed.push(row),
            )
            .await
            .unwrap();
            listed
        }
    }

    /// The row ids `0..n` as a listing hands them on.
    fn ids(n: u64) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[tokio::test]
    async fn pages_a_total_implies_are_read_ahead_at_the_fan_out_in_order() {
        let seen = Seen::default();
        // 23 rows, 2 a page: 12 pages, the last short.
        let pager = Pager::new(PagingStyle::PageNumber { first: 0, size: 2 }).read_ahead(4);
        let listed = seen
            .list(pager, |n| rows(n..(n + 2).min(23), info_total(23)))
            .await;
        assert_eq!(listed, ids(23));
        let pages: Vec<u64> = seen
            .asked
            .borrow()
            .iter()
            .map(|r| {
                r.page_number(Operation::new(crate::ProviderKind::Jamf, "t"))
                    .unwrap()
                    .0
            })
            .collect();
        assert_eq!(pages, (0..12).collect::<Vec<_>>(), "each page once");
        assert_eq!(seen.peak.get(), 4, "the pages after the first, 4 at a time");
    }

    #[tokio::test]
    async fn a_first_page_read_already_is_not_asked_for_again_and_starts_the_read_ahead() {
        let seen = Seen::default();
        let first = rows(0..2, info_total(9));
        let mut listed = Vec::new();
        for_each_row_from(
            first,
            Pager::new(PagingStyle::PageNumber { first: 0, size: 2 }).read_ahead(4),
            id,
            |request| {
                let PageRequest::PageNumber { page, .. } = request else {
                    unreachable!("a page-number listing asks by number")
                };
                let n = page * 2;
                seen.answer(request, rows(n..(n + 2).min(9), info_total(9)))
            },
            |row| listed.push(row),
        )
        .await
        .unwrap();
        assert_eq!(listed, ids(9));
        let pages: Vec<_> = seen.asked.borrow().clone();
        assert_eq!(
            pages,
            (1..5)
                .map(|page| PageRequest::PageNumber { page, size: 2 })
                .collect::<Vec<_>>(),
            "pages 1 to 4 only"
        );
        assert_eq!(seen.peak.get(), 4, "read ahead on the first page's total");
    }

    #[tokio::test]
    async fn a_listing_read_ahead_still_ends_and_goes_on_by_the_pager_rules() {
        // The total promised 10 rows but the server has 5: the empty page ends the listing and the page
        // read ahead after it is dropped.
        let seen = Seen::default();
        let pager = Pager::new(PagingStyle::PageNumber { first: 0, size: 2 }).read_ahead(8);
        let listed = seen
            .list(pager, |n| rows(n.min(5)..(n + 2).min(5), info_total(10)))
            .await;
        assert_eq!(listed, ids(5));
        assert_eq!(seen.asked.borrow().len(), 5, "pages 0 to 4, the total's");

        // Offsets: the first page counted 5 rows, 7 are there by the end: the rest is read one page
        // at a time after the pages read ahead.
        let seen = Seen::default();
        let pager = Pager::new(PagingStyle::Offset { limit: 2 }).read_ahead(8);
        let listed = seen
            .list(pager, |n| {
                let total = if n == 0 { 5 } else { 7 };
                rows(n..(n + 2).min(7), info_total(total))
            })
            .await;
        assert_eq!(listed, ids(7));
        assert_eq!(seen.asked.borrow().len(), 4, "offsets 0, 2, 4 and then 6");

        // A server that ignores the page number is caught as without reading ahead.
        let err = for_each_row(
            Pager::new(PagingStyle::PageNumber { first: 0, size: 2 }).read_ahead(4),
            id,
            |_| async { Ok(rows(0..2, info_total(10))) },
            |_| {},
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    }

    #[test]
    fn a_counted_page_reports_its_total_only() {
        let page = Page::counted(vec!["a".to_owned()], Some(7));
        assert_eq!(page.items, ["a"]);
        assert_eq!(
            page.info,
            PageInfo {
                total: Some(7),
                ..PageInfo::default()
            }
        );
        assert_eq!(
            Page::<String>::counted(Vec::new(), None).info,
            PageInfo::default()
        );
    }

    #[test]
    fn page_number_stops_at_total_even_when_pages_are_capped() {
        let mut p = Pager::new(PagingStyle::PageNumber {
            first: 0,
            size: 2000,
        });
        // The server caps pages at 1000: short pages must not end a listing with a total.
        p.record(&rows(0..1000, info_total(2500)), id).unwrap();
        assert_eq!(
            p.next_request(),
            Some(&PageRequest::PageNumber {
                page: 1,
                size: 2000
            })
        );
        p.record(&rows(1000..2000, info_total(2500)), id).unwrap();
        p.record(&rows(2000..2500, info_total(2500)), id).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn empty_page_ends_even_if_total_says_more() {
        let mut p = Pager::new(PagingStyle::PageNumber {
            first: 0,
            size: 100,
        });
        p.record(&rows(0..100, info_total(1000)), id).unwrap();
        p.record(&rows(0..0, info_total(1000)), id).unwrap();
        assert_eq!(p.next_request(), None);
        assert_eq!(p.rows(), 100);
    }

    #[test]
    fn short_page_ends_without_total_and_offset_advances_by_rows() {
        let mut p = Pager::new(PagingStyle::Offset { limit: 300 });
        p.record(&rows(0..300, PageInfo::default()), id).unwrap();
        assert_eq!(
            p.next_request(),
            Some(&PageRequest::Offset {
                offset: 300,
                limit: 300
            })
        );
        p.record(&rows(300..312, PageInfo::default()), id).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn has_more_wins_over_counting() {
        let mut p = Pager::new(PagingStyle::PageNumber {
            first: 0,
            size: 100,
        });
        p.record(&rows(0..20, more()), id).unwrap(); // clamped page, but the server says more
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
        p.record(&rows(0..100, info("5", true)), id).unwrap();
        assert_eq!(
            p.next_request(),
            Some(&PageRequest::Cursor {
                after: Some("5".into()),
                limit: 100
            })
        );
        let err = p.record(&rows(100..200, info("5", true)), id).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(err.to_string().contains("repeated"));

        let mut p = Pager::new(PagingStyle::Cursor { limit: 100 });
        p.record(&rows(0..3, info("9", false)), id).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn next_link_follows_empty_pages_and_rejects_repeats() {
        let mut p = Pager::new(PagingStyle::NextLink);
        let link = |l: Option<&str>| PageInfo {
            next_link: l.map(str::to_owned),
            ..PageInfo::default()
        };
        p.record(&rows(0..0, link(Some("https://g/2"))), id)
            .unwrap();
        assert!(p.next_request().is_some(), "empty Graph pages continue");
        p.record(&rows(0..5, link(Some("https://g/3"))), id)
            .unwrap();
        assert!(p
            .record(&rows(5..10, link(Some("https://g/3"))), id)
            .is_err());
        let mut p = Pager::new(PagingStyle::NextLink);
        p.record(&rows(0..5, link(None)), id).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn the_page_ceiling_stops_a_server_that_never_stops() {
        let mut p = Pager::with_max_pages(PagingStyle::Offset { limit: 10 }, 5);
        let mut result = Ok(());
        let mut fetched = 0;
        while p.next_request().is_some() && result.is_ok() {
            let start = fetched * 10;
            fetched += 1;
            result = p.record(&rows(start..start + 10, info_total(u64::MAX)), id);
        }
        assert_eq!(fetched, 5);
        assert!(result
            .unwrap_err()
            .to_string()
            .contains("did not end after 5 pages"));
    }

    /// A server that ignores the page parameter (every page holds the same rows) while claiming a large
    /// total: the second page ends the listing, in every style.
    #[test]
    fn a_page_of_rows_already_listed_ends_the_listing_in_every_style() {
        let styles = [
            PagingStyle::PageNumber { first: 0, size: 10 },
            PagingStyle::Offset { limit: 10 },
            PagingStyle::Cursor { limit: 10 },
            PagingStyle::NextLink,
        ];
        for style in styles {
            let mut p = Pager::new(style);
            let mut n = 0;
            let err = loop {
                n += 1;
                let info = PageInfo {
                    total: Some(1_000_000),
                    has_more: Some(true),
                    next_cursor: Some(format!("c{n}")),
                    next_link: Some(format!("https://g/{n}")),
                };
                if let Err(e) = p.record(&rows(0..10, info), id) {
                    break e;
                }
            };
            assert_eq!(n, 2, "{style:?}");
            assert_eq!(err.kind(), ErrorKind::InvalidResponse);
            assert_eq!(err.category(), crate::Category::Server);
            assert!(
                err.to_string().contains("repeats rows already listed"),
                "{err}"
            );
            assert_eq!(p.next_request(), None, "{style:?}");
        }
    }

    #[test]
    fn rows_listed_twice_by_a_shifting_offset_are_not_a_repeat() {
        // Devices added while paging shift rows into the next page: some overlap is normal.
        let mut p = Pager::new(PagingStyle::Offset { limit: 10 });
        p.record(&rows(0..10, PageInfo::default()), id).unwrap();
        p.record(&rows(8..18, PageInfo::default()), id).unwrap();
        p.record(&rows(18..20, PageInfo::default()), id).unwrap();
        assert_eq!(p.next_request(), None);
        assert_eq!(p.rows(), 22);
    }

    #[test]
    fn a_short_last_page_of_shifted_rows_ends_the_listing() {
        // A label added during the listing pushed row 1 onto the last page, alone.
        let mut p = Pager::new(PagingStyle::PageNumber { first: 0, size: 2 });
        p.record(&rows(0..2, PageInfo::default()), id).unwrap();
        p.record(&rows(1..2, PageInfo::default()), id).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn a_cycle_of_pages_is_caught_too() {
        let mut p = Pager::new(PagingStyle::PageNumber { first: 0, size: 10 });
        p.record(&rows(0..10, more()), id).unwrap();
        p.record(&rows(10..20, more()), id).unwrap();
        assert!(p.record(&rows(0..10, more()), id).is_err());
    }

    #[test]
    fn rows_without_an_id_are_counted_but_never_a_repeat() {
        let mut p = Pager::new(PagingStyle::PageNumber { first: 0, size: 10 });
        p.record(&rows(0..10, more()), |_| None).unwrap();
        p.record(&rows(0..10, more()), |_| None).unwrap();
        assert_eq!(p.rows(), 20);
        // Mixed: the identified rows decide.
        let mut p = Pager::new(PagingStyle::PageNumber { first: 0, size: 10 });
        #[allow(clippy::ptr_arg)]
        fn odd(r: &String) -> Option<&str> {
            (r.parse::<u64>().unwrap() % 2 == 1).then_some(r.as_str())
        }
        p.record(&rows(0..10, more()), odd).unwrap();
        assert!(p.record(&rows(0..10, more()), odd).is_err());
    }

    #[test]
    fn clearly_more_rows_than_the_total_end_the_listing() {
        let mut p = Pager::new(PagingStyle::PageNumber { first: 0, size: 10 });
        let info = PageInfo {
            total: Some(25),
            has_more: Some(true),
            ..PageInfo::default()
        };
        // 25 counted, slack of a page (10): 30 rows go on, 40 do not.
        p.record(&rows(0..10, info.clone()), id).unwrap();
        p.record(&rows(10..20, info.clone()), id).unwrap();
        p.record(&rows(20..30, info.clone()), id).unwrap();
        let err = p.record(&rows(30..40, info.clone()), id).unwrap_err();
        assert!(err.to_string().contains("counts 25 rows"), "{err}");
        assert_eq!(p.next_request(), None);
        // A listing that ends by itself keeps its rows even past a stale total.
        let mut p = Pager::new(PagingStyle::Offset { limit: 10 });
        p.record(&rows(0..10, info_total(3)), id).unwrap();
        assert_eq!(p.next_request(), None);
    }

    #[test]
    fn the_page_ceiling_follows_the_servers_total() {
        // 1000 rows counted at 100 a page: 10 pages expected, 14 allowed, though the ceiling is 10,000.
        let mut p = Pager::new(PagingStyle::Offset { limit: 100 });
        p.record(&rows(0..100, info_total(1000)), id).unwrap();
        let mut pages = 1;
        let err = loop {
            let start = 100 + pages;
            pages += 1;
            if let Err(e) = p.record(&rows(start..start + 1, PageInfo::default()), id) {
                break e;
            }
        };
        assert_eq!(pages, 14);
        assert!(
            err.to_string().contains("although the server counts 1000"),
            "{err}"
        );
        // A total too large for any clock leaves the configured ceiling.
        let mut p = Pager::with_max_pages(PagingStyle::Offset { limit: 100 }, 3);
        p.record(&rows(0..100, info_total(u64::MAX)), id).unwrap();
        p.record(&rows(100..200, info_total(u64::MAX)), id).unwrap();
        assert!(p.record(&rows(200..300, info_total(u64::MAX)), id).is_err());
    }
}
