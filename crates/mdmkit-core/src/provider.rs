//! The provider contract ([`MdmProvider`]) and the conveniences built on it ([`MdmProviderExt`]).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use url::Url;

use crate::changes::{
    parse_timestamp, ChangeCursor, ChangeListing, ChangeTracking, ChangedDevices, ChangesPage,
    Coverage,
};
use crate::device::{MdmDevice, MdmGroup, SerialNumber};
use crate::error::{ErrorKind, Operation, Result};
use crate::group_delta::{GroupDelta, GroupDeltaToken};
use crate::kind::ProviderKind;
use crate::links::DeviceLink;
use crate::paging::{Page, PageReader, PageRequest, Pager, PagingStyle, DEFAULT_MAX_PAGES};
use crate::resolution::{DeviceUser, Resolution, ResolvedUserName, UserRef};

// The operations the default methods and conveniences name on their errors (the names providers use).
const OP_LOOKUP: &str = "device_by_serial";
const OP_LIST: &str = "list_devices";
const OP_LIST_CHANGED: &str = "list_changed_devices";

/// What every MDM provider implements. Small and object-safe: use it as `Arc<dyn MdmProvider>`.
///
/// Implementations send every request through [`crate::http::HttpClient`], so retries, limits, status
/// mapping and the host policy are the same everywhere. Conveniences live in [`MdmProviderExt`].
///
/// The methods from [`MdmProvider::change_tracking`] on are optional capabilities: their default bodies
/// give the honest answer of a provider without them ("unsupported", nothing to resolve, a full group
/// read), so test doubles stay small. Wrappers that forward to another provider must forward them too,
/// or they hide the capability.
#[async_trait]
pub trait MdmProvider: Debug + Send + Sync + 'static {
    /// Which provider this is.
    fn kind(&self) -> ProviderKind;

    /// The test call of R8: proves that the host answers, the credentials are accepted and they may read
    /// devices. Errors carry the R8 category through [`crate::Error::category`].
    async fn validate(&self) -> Result<()>;

    /// Every device whose serial number is exactly `serial` once normalised (the MDM's own filter may be
    /// fuzzy; implementations re-check). Usually zero or one; more means the MDM holds duplicates.
    async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>>;

    /// How [`MdmProvider::list_devices_page`] is paged (style and the largest page the API serves).
    fn device_paging(&self) -> PagingStyle;

    /// One page of the bulk device listing. Callers drive it with a [`Pager`] (or use
    /// [`MdmProviderExt::device_stream`]), which decides when the listing ends.
    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>>;

    /// How many device pages a listing may ask for at once once the first page has given the server's
    /// total ([`Pager::read_ahead`]; page-number and offset paging only). Default 1: one after
    /// another. A provider whose pages after the first do not depend on each other returns its
    /// client's [`crate::http::HttpClient::max_concurrency`]; the client's limits still hold every
    /// request.
    fn device_pages_at_once(&self) -> usize {
        1
    }

    /// Every device group (R11) with its members as MDM device IDs.
    async fn groups(&self) -> Result<Vec<MdmGroup>>;

    /// The link to a device's record in the provider's console (R7). Never does I/O.
    fn device_url(&self, device_id: &str) -> Option<Url>;

    /// HTTP requests this provider has sent so far, retries and token requests included (for run
    /// reports and for checking request budgets). Implementations return their
    /// [`crate::http::HttpClient::request_count`].
    fn request_count(&self) -> u64;

    /// What lookups and listings cost in requests, so a caller can pick the cheaper way to refresh.
    /// Default: [`RequestCosts::PAGES_CARRY_EVERYTHING`], right for an API whose device records carry
    /// what R4 needs; a provider that reads more per device says so.
    fn request_costs(&self) -> RequestCosts {
        RequestCosts::PAGES_CARRY_EVERYTHING
    }

    /// Whether [`MdmProvider::list_changed_devices_page`] can list only changed devices, and by which
    /// field. Default: [`ChangeTracking::Unsupported`].
    fn change_tracking(&self) -> ChangeTracking {
        ChangeTracking::Unsupported
    }

    /// One page of the devices whose change field is at or after [`ChangesRequest::since`] (see
    /// [`crate::changes`]). Drive the cursor with [`ChangeListing`] or use
    /// [`MdmProviderExt::changed_devices`].
    ///
    /// A provider that cannot filter the way it promised (the server ignored the filter) keeps going and
    /// reports [`crate::Coverage::Everything`]. Default, and for [`ChangeTracking::Unsupported`]: an
    /// [`ErrorKind::InvalidConfiguration`] error, since the bulk listing is the way to go.
    async fn list_changed_devices_page(&self, request: &ChangesRequest) -> Result<ChangesPage> {
        let _ = request;
        Err(Operation::new(self.kind(), OP_LIST_CHANGED).error(
            ErrorKind::InvalidConfiguration,
            format!(
                "{} cannot list only the devices that changed; use the bulk listing",
                self.kind().display_name()
            ),
        ))
    }

    /// [`MdmProvider::list_devices_page`] with a choice of how much per-device follow-up reading to do
    /// ([`Resolution`]). Default: the plain listing, which needs none.
    async fn list_devices_page_with(
        &self,
        request: &PageRequest,
        resolution: Resolution,
    ) -> Result<Page<MdmDevice>> {
        let _ = resolution;
        self.list_devices_page(request).await
    }

    /// The names of users that listed rows marked [`crate::Unresolved::UserName`]. Users the MDM no
    /// longer has (or no longer assigns to the given device) are left out of the answer; ids are the same
    /// as in listings and lookups. Default: nothing to resolve.
    async fn resolve_user_names(&self, users: &[UserRef]) -> Result<Vec<ResolvedUserName>> {
        let _ = users;
        Ok(Vec::new())
    }

    /// Who is assigned to devices that listed rows marked [`crate::Unresolved::User`]. Devices the MDM
    /// no longer has are left out of the answer. Default: nothing to resolve.
    async fn resolve_device_users(&self, device_ids: &[String]) -> Result<Vec<DeviceUser>> {
        let _ = device_ids;
        Ok(Vec::new())
    }

    /// Whether [`Resolution::Deferred`] listings may leave users to the caller (rows marked
    /// [`crate::Unresolved`]), so a caller with a lookup cache should remember what complete answers
    /// (lookups, rows resolved by the listing itself) say about users. Default: when listings cost
    /// per-device reads ([`RequestCosts::per_listed_device`]).
    fn defers_user_reads(&self) -> bool {
        self.request_costs().per_listed_device > 0
    }

    /// Whether [`MdmProvider::groups_delta`] can return changes only. Default: no.
    fn supports_group_delta(&self) -> bool {
        false
    }

    /// Groups by delta (see [`crate::group_delta`]): `token` is what the previous call returned, `None`
    /// for a first read. Default: a full read through [`MdmProvider::groups`], with no token.
    async fn groups_delta(&self, token: Option<&GroupDeltaToken>) -> Result<GroupDelta> {
        let _ = token;
        Ok(GroupDelta::full(self.groups().await?, None))
    }
}

/// What [`MdmProvider::list_changed_devices_page`] is asked for: one page of the devices changed since a
/// time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesRequest {
    /// Devices whose change field is at or after this time are listed.
    pub since: DateTime<Utc>,
    /// `None` for the first page, then the previous page's [`ChangesPage::next`].
    pub cursor: Option<ChangeCursor>,
    /// How much per-device follow-up reading to do, as for [`MdmProvider::list_devices_page_with`].
    pub resolution: Resolution,
}

impl ChangesRequest {
    /// The first page of the devices changed since `since`.
    pub fn first(since: DateTime<Utc>, resolution: Resolution) -> Self {
        ChangesRequest {
            since,
            cursor: None,
            resolution,
        }
    }
}

/// The page of a listing the server was asked to filter by change time. Servers have been seen to ignore
/// such filters, so the change time of every row (as sent, read with [`parse_timestamp`]) is checked
/// with `changed`: a row without one, or outside the filter, shows that the filter was ignored, and the
/// page (and so the whole listing) covers [`Coverage::Everything`], with a warning naming `provider`.
pub fn filtered_changes_page<'a>(
    provider: ProviderKind,
    devices: Vec<MdmDevice>,
    next: Option<ChangeCursor>,
    change_times: impl IntoIterator<Item = Option<&'a str>>,
    changed: impl Fn(DateTime<Utc>) -> bool,
) -> ChangesPage {
    let ignored = change_times
        .into_iter()
        .any(|time| time.and_then(parse_timestamp).is_none_or(|t| !changed(t)));
    let coverage = if ignored {
        tracing::warn!(
            %provider,
            "a device listed as changed has no change time or an earlier one: the server ignored the \
             filter; listing every device instead"
        );
        Coverage::Everything
    } else {
        Coverage::Changed
    };
    ChangesPage::new(devices, next, coverage)
}

/// Upper bounds on what operations cost in requests (retries and token renewals aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestCosts {
    /// Requests one [`MdmProvider::devices_by_serial`] call takes (the lookup, plus reading its user
    /// where the device record does not carry it).
    pub per_lookup: u32,
    /// Requests a bulk listing spends per listed device on top of its pages, where the API has no bulk
    /// way to read what R4 needs (Fleet's host records for user names, JumpCloud's system-to-user
    /// graph). Zero when pages carry everything.
    pub per_listed_device: u32,
}

impl RequestCosts {
    /// One request per lookup; listings cost their pages only.
    pub const PAGES_CARRY_EVERYTHING: RequestCosts = RequestCosts {
        per_lookup: 1,
        per_listed_device: 0,
    };
}

macro_rules! forward_provider {
    ($ty:ty) => {
        #[async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<P: MdmProvider + ?Sized> MdmProvider for $ty {
            fn kind(&self) -> ProviderKind {
                (**self).kind()
            }
            async fn validate(&self) -> Result<()> {
                (**self).validate().await
            }
            async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
                (**self).devices_by_serial(serial).await
            }
            fn device_paging(&self) -> PagingStyle {
                (**self).device_paging()
            }
            fn device_pages_at_once(&self) -> usize {
                (**self).device_pages_at_once()
            }
            async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
                (**self).list_devices_page(request).await
            }
            async fn groups(&self) -> Result<Vec<MdmGroup>> {
                (**self).groups().await
            }
            fn device_url(&self, device_id: &str) -> Option<Url> {
                (**self).device_url(device_id)
            }
            fn request_count(&self) -> u64 {
                (**self).request_count()
            }
            fn request_costs(&self) -> RequestCosts {
                (**self).request_costs()
            }
            fn change_tracking(&self) -> ChangeTracking {
                (**self).change_tracking()
            }
            async fn list_changed_devices_page(
                &self,
                request: &ChangesRequest,
            ) -> Result<ChangesPage> {
                (**self).list_changed_devices_page(request).await
            }
            async fn list_devices_page_with(
                &self,
                request: &PageRequest,
                resolution: Resolution,
            ) -> Result<Page<MdmDevice>> {
                (**self).list_devices_page_with(request, resolution).await
            }
            async fn resolve_user_names(&self, users: &[UserRef]) -> Result<Vec<ResolvedUserName>> {
                (**self).resolve_user_names(users).await
            }
            async fn resolve_device_users(&self, device_ids: &[String]) -> Result<Vec<DeviceUser>> {
                (**self).resolve_device_users(device_ids).await
            }
            fn defers_user_reads(&self) -> bool {
                (**self).defers_user_reads()
            }
            fn supports_group_delta(&self) -> bool {
                (**self).supports_group_delta()
            }
            async fn groups_delta(&self, token: Option<&GroupDeltaToken>) -> Result<GroupDelta> {
                (**self).groups_delta(token).await
            }
        }
    };
}

forward_provider!(Arc<P>);
forward_provider!(Box<P>);

/// Conveniences over [`MdmProvider`], implemented for every provider (do not implement it yourself).
#[async_trait]
pub trait MdmProviderExt: MdmProvider {
    /// The one device with this serial, `None` if the MDM has none. Duplicates in the MDM are an
    /// [`ErrorKind::InvalidResponse`] error naming the device IDs, never a silent pick.
    async fn device_by_serial(&self, serial: &SerialNumber) -> Result<Option<MdmDevice>> {
        let mut found = self.devices_by_serial(serial).await?;
        match found.len() {
            0 | 1 => Ok(found.pop()),
            n => {
                let ids: Vec<_> = found.iter().map(|d| d.device_id.as_str()).collect();
                Err(Operation::new(self.kind(), OP_LOOKUP).error(
                    ErrorKind::InvalidResponse,
                    format!("{n} devices share serial {serial}: {}", ids.join(", ")),
                ))
            }
        }
    }

    /// Every device, page by page, as a stream. Ends by the [`Pager`] rules; a failing page ends the
    /// stream with that error after the rows already read. Pages read ahead progress only while it is
    /// polled; a consumer that takes its time over rows takes [`device_page_stream_in_task`].
    fn device_stream(&self) -> BoxStream<'_, Result<MdmDevice>> {
        device_stream_with_limit(self, DEFAULT_MAX_PAGES)
    }

    /// Every device, collected.
    async fn all_devices(&self) -> Result<Vec<MdmDevice>> {
        self.device_stream().try_collect().await
    }

    /// Every device changed since `since`, collected, with what the listing covered. Uses
    /// [`Resolution::Inline`].
    async fn changed_devices(&self, since: DateTime<Utc>) -> Result<ChangedDevices> {
        let mut listing = ChangeListing::new(since);
        let mut devices = Vec::new();
        while let Some(cursor) = listing.next_cursor().map(|c| c.cloned()) {
            let request = ChangesRequest {
                since,
                cursor,
                resolution: Resolution::Inline,
            };
            let page = self.list_changed_devices_page(&request).await?;
            listing
                .record(&page)
                .map_err(Operation::new(self.kind(), OP_LIST_CHANGED).tagger())?;
            devices.extend(page.devices);
        }
        Ok(ChangedDevices::new(devices, listing.coverage()))
    }

    /// The console link with its label (`View on <provider>`), if the device has one.
    fn device_link(&self, device_id: &str) -> Option<DeviceLink> {
        self.device_url(device_id)
            .map(|url| DeviceLink::new(self.kind(), url))
    }
}

impl<P: MdmProvider + ?Sized> MdmProviderExt for P {}

/// Streams every device of `provider`, failing after `max_pages` pages. Works on `&dyn MdmProvider`.
pub fn device_stream_with_limit<P: MdmProvider + ?Sized>(
    provider: &P,
    max_pages: u32,
) -> BoxStream<'_, Result<MdmDevice>> {
    device_stream_with(provider, max_pages, Resolution::Inline)
}

/// [`device_stream_with_limit`] through [`MdmProvider::list_devices_page_with`]: a caller with caches
/// (mdmkit-sync) lists with [`Resolution::Deferred`] and resolves only the rows it keeps.
pub fn device_stream_with<P: MdmProvider + ?Sized>(
    provider: &P,
    max_pages: u32,
    resolution: Resolution,
) -> BoxStream<'_, Result<MdmDevice>> {
    device_page_stream(provider, max_pages, resolution)
        .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}

/// The pages of [`device_stream_with`], recorded by the [`Pager`] rules and read
/// [`MdmProvider::device_pages_at_once`] at a time once the first page gave a total. Pages read ahead
/// progress only while the stream is polled: a consumer that pauses long between pages (a slow store)
/// should take [`device_page_stream_in_task`] instead.
pub fn device_page_stream<P: MdmProvider + ?Sized>(
    provider: &P,
    max_pages: u32,
    resolution: Resolution,
) -> BoxStream<'_, Result<Page<MdmDevice>>> {
    let pager = Pager::with_max_pages(provider.device_paging(), max_pages)
        .read_ahead(provider.device_pages_at_once());
    let reader = PageReader::new(
        pager,
        MdmDevice::row_id,
        move |request: PageRequest| async move {
            provider.list_devices_page_with(&request, resolution).await
        },
    );
    let tag = Operation::new(provider.kind(), OP_LIST).tagger();
    stream::try_unfold(reader, |mut reader| async move {
        Ok(reader.next_page().await?.map(|page| (page, reader)))
    })
    .map_err(tag)
    .boxed()
}

/// [`device_page_stream`] read by a task of its own, for a consumer that takes its time over each page
/// (writes it to a store): the pages read ahead go on arriving, and decoding on another core where the
/// runtime has one, while it works, so none waits unpolled until its request times out. At most one
/// finished page waits for the consumer beyond those in flight.
///
/// The pages come in order; a listing that fails ends with its error. A panic while reading resumes in
/// the consumer, so it is never taken for the end of a complete listing. Dropping the stream stops the
/// task. Call it from within a Tokio runtime (the task is spawned on the current one).
pub fn device_page_stream_in_task<P: MdmProvider + ?Sized>(
    provider: Arc<P>,
    max_pages: u32,
    resolution: Resolution,
) -> BoxStream<'static, Result<Page<MdmDevice>>> {
    let (sender, pages) = tokio::sync::mpsc::channel(1);
    let op = Operation::new(provider.kind(), OP_LIST);
    let reader = tokio::spawn(tracing::Instrument::instrument(
        async move {
            let mut stream = device_page_stream(&*provider, max_pages, resolution);
            while let Some(page) = stream.next().await {
                let failed = page.is_err();
                if sender.send(page).await.is_err() || failed {
                    break;
                }
            }
        },
        tracing::Span::current(),
    ));
    let reader = PagesInTask {
        pages,
        reader: Some(reader),
    };
    stream::unfold(reader, move |mut reader| async move {
        let page = match reader.pages.recv().await {
            Some(page) => page,
            None => match reader.reader.take()?.await {
                Ok(()) => return None,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(op.error(
                    ErrorKind::ConnectionFailed,
                    "the listing was stopped before it ended (its runtime is shutting down)",
                )),
            },
        };
        Some((page, reader))
    })
    .boxed()
}

/// The receiving end of [`device_page_stream_in_task`]; dropping it stops the reading task.
struct PagesInTask {
    pages: tokio::sync::mpsc::Receiver<Result<Page<MdmDevice>>>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for PagesInTask {
    fn drop(&mut self) {
        if let Some(reader) = &self.reader {
            reader.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        parse_timestamp(rfc3339).unwrap()
    }

    fn coverage(times: &[Option<&str>]) -> Coverage {
        let since = at("2026-11-01T10:00:00Z");
        let devices = vec![MdmDevice::new("1", None, None, None, None)];
        let next = Some(ChangeCursor::new("2"));
        let page = filtered_changes_page(
            ProviderKind::JumpCloud,
            devices,
            next.clone(),
            times.iter().copied(),
            |t| t >= since,
        );
        assert_eq!((page.devices.len(), page.next), (1, next));
        page.coverage
    }

    #[test]
    fn a_filtered_page_covers_changes_only_while_every_row_is_inside_the_filter() {
        assert_eq!(coverage(&[]), Coverage::Changed);
        assert_eq!(
            coverage(&[Some("2026-11-01T10:00:00Z"), Some("2026-11-02T08:00:00.5Z")]),
            Coverage::Changed
        );
        for ignored in [
            [Some("2026-11-01T10:00:00Z"), Some("2026-11-01T09:59:59Z")],
            [Some("2026-11-01T10:00:00Z"), None],
            [Some("yesterday"), Some("2026-11-01T11:00:00Z")],
        ] {
            assert_eq!(coverage(&ignored), Coverage::Everything, "{ignored:?}");
        }
    }

    #[test]
    fn the_first_changes_request_has_no_cursor() {
        let since = at("2026-11-01T10:00:00Z");
        let first = ChangesRequest::first(since, Resolution::Deferred);
        assert_eq!(
            first,
            ChangesRequest {
                since,
                cursor: None,
                resolution: Resolution::Deferred,
            }
        );
    }
}
