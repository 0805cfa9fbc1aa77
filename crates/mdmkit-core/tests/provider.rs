//! The provider contract: object safety and the extension trait's conveniences.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use mdmkit_core::{
    async_trait, device_page_stream, device_page_stream_in_task, device_stream_with_limit,
    ErrorKind, MdmDevice, MdmGroup, MdmProvider, MdmProviderExt, Page, PageInfo, PageRequest,
    PagingStyle, ProviderKind, Resolution, Result, SerialNumber, Url,
};

/// An in-memory provider paged by offset, whose total can be made to lie.
#[derive(Debug)]
struct Fake {
    devices: Vec<MdmDevice>,
    claimed_total: Option<u64>,
    requests: AtomicU64,
    /// What [`MdmProvider::device_pages_at_once`] says.
    at_once: usize,
    in_flight: AtomicU64,
    peak: AtomicU64,
    /// The page read at this offset panics.
    panic_at_offset: Option<u64>,
    /// The page read at this offset never answers.
    stall_at_offset: Option<u64>,
}

fn device(id: usize, serial: &str) -> MdmDevice {
    MdmDevice::new(
        id.to_string(),
        SerialNumber::parse_opt(Some(serial)),
        Some(format!("Mac {id}")),
        None,
        None,
    )
}

#[async_trait]
impl MdmProvider for Fake {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Iru
    }
    async fn validate(&self) -> Result<()> {
        Ok(())
    }
    async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        Ok(self
            .devices
            .iter()
            .filter(|d| d.serial_number.as_ref() == Some(serial))
            .cloned()
            .collect())
    }
    fn device_paging(&self) -> PagingStyle {
        PagingStyle::Offset { limit: 3 }
    }
    fn device_pages_at_once(&self) -> usize {
        self.at_once
    }
    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        // A pause in which other reads may start.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let PageRequest::Offset { offset, limit } = request else {
            panic!("unexpected request {request:?}")
        };
        if self.panic_at_offset == Some(*offset) {
            panic!("the page at offset {offset} panicked");
        }
        if self.stall_at_offset == Some(*offset) {
            std::future::pending::<()>().await;
        }
        let rows = self
            .devices
            .iter()
            .skip(*offset as usize)
            .take(*limit as usize)
            .cloned()
            .collect();
        Ok(Page::new(
            rows,
            PageInfo {
                total: self.claimed_total,
                ..PageInfo::default()
            },
        ))
    }
    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        Ok(vec![])
    }
    fn device_url(&self, device_id: &str) -> Option<Url> {
        Url::parse(&format!("https://acme.kandji.io/devices/{device_id}")).ok()
    }
    fn request_count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    fn request_costs(&self) -> mdmkit_core::RequestCosts {
        mdmkit_core::RequestCosts::PAGES_CARRY_EVERYTHING
    }
}

fn fake(n: usize, claimed_total: Option<u64>) -> Arc<dyn MdmProvider> {
    Arc::new(fake_reading(n, claimed_total, 1))
}

fn fake_reading(n: usize, claimed_total: Option<u64>, at_once: usize) -> Fake {
    Fake {
        devices: (0..n).map(|i| device(i, &format!("SER{i}"))).collect(),
        claimed_total,
        requests: AtomicU64::new(0),
        at_once,
        in_flight: AtomicU64::new(0),
        peak: AtomicU64::new(0),
        panic_at_offset: None,
        stall_at_offset: None,
    }
}

/// Waits (a few seconds at most) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..5_000 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!("never: {what}");
}

fn page_ids(page: &Page<MdmDevice>) -> Vec<&str> {
    page.items.iter().map(|d| d.device_id.as_str()).collect()
}

#[tokio::test]
async fn pages_read_in_a_task_keep_arriving_while_the_consumer_works() {
    // 12 devices, 3 a page, one page at a time.
    let provider = Arc::new(fake_reading(12, Some(12), 1));
    let mut pages = device_page_stream_in_task(provider.clone(), 100, Resolution::Inline);
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(page_ids(&first), ["0", "1", "2"]);
    // While this page is held, the task reads the next (it waits in the channel) and the one after
    // (it waits to be sent), and no more.
    eventually("three pages read", || provider.request_count() == 3).await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        provider.request_count(),
        3,
        "at most one page waits beyond those read"
    );
    let rest: Vec<Vec<String>> = pages
        .map_ok(|p| p.items.into_iter().map(|d| d.device_id).collect())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest, [["3", "4", "5"], ["6", "7", "8"], ["9", "10", "11"]]);

    // The stream polled by its consumer reads nothing while the consumer works.
    let provider = fake_reading(12, Some(12), 1);
    let mut pages = device_page_stream(&provider, 100, Resolution::Inline);
    pages.next().await.unwrap().unwrap();
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(provider.request_count(), 1);
}

#[tokio::test]
async fn a_panic_while_reading_in_a_task_resumes_in_the_consumer() {
    let provider = Arc::new(Fake {
        panic_at_offset: Some(6),
        ..fake_reading(12, Some(12), 1)
    });
    let consumer = tokio::spawn(async move {
        let mut pages = device_page_stream_in_task(provider, 100, Resolution::Inline);
        let mut seen = 0;
        while let Some(page) = pages.next().await {
            page.unwrap();
            seen += 1;
        }
        seen
    });
    let panic = consumer
        .await
        .expect_err("the listing is not taken as complete")
        .into_panic();
    let message = panic.downcast_ref::<String>().unwrap();
    assert_eq!(message, "the page at offset 6 panicked");
}

#[tokio::test]
async fn dropping_a_stream_read_in_a_task_stops_the_task() {
    // The second page never answers: only stopping the task ends its read.
    let provider = Arc::new(Fake {
        stall_at_offset: Some(3),
        ..fake_reading(12, Some(12), 1)
    });
    let mut pages = device_page_stream_in_task(provider.clone(), 100, Resolution::Inline);
    pages.next().await.unwrap().unwrap();
    eventually("the second page asked for", || {
        provider.request_count() == 2
    })
    .await;
    drop(pages);
    // The task held the other reference to the provider.
    eventually("the task stopped", || Arc::strong_count(&provider) == 1).await;
}

#[tokio::test]
async fn device_pages_after_the_first_are_read_at_the_providers_width_in_order() {
    let ids = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
    // 20 devices, 3 a page: 7 pages, the first alone, then 6 at up to 4 at once.
    let provider = fake_reading(20, Some(20), 4);
    let all = provider.all_devices().await.unwrap();
    let listed: Vec<_> = all.iter().map(|d| d.device_id.clone()).collect();
    assert_eq!(listed, ids(20));
    assert_eq!(provider.request_count(), 7, "each page once");
    assert_eq!(provider.peak.load(Ordering::SeqCst), 4);

    // The default reads one page after another.
    let provider = fake_reading(20, Some(20), 1);
    assert_eq!(provider.all_devices().await.unwrap().len(), 20);
    assert_eq!(provider.peak.load(Ordering::SeqCst), 1);

    // Through `Arc<dyn MdmProvider>`, pages: the width is forwarded.
    let provider: Arc<dyn MdmProvider> = Arc::new(fake_reading(20, Some(20), 3));
    assert_eq!(provider.device_pages_at_once(), 3);
    let pages: Vec<usize> = device_page_stream(&provider, 100, Resolution::Inline)
        .map_ok(|p| p.items.len())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages, [3, 3, 3, 3, 3, 3, 2]);

    // A total that lies: the empty page ends the listing; reads ahead past it are spent, not listed.
    let provider = fake_reading(5, Some(1_000), 4);
    assert_eq!(provider.all_devices().await.unwrap().len(), 5);
    assert!(
        provider.request_count() <= 1 + 4 + 1,
        "{}",
        provider.request_count()
    );
}

#[tokio::test]
async fn streams_every_device_once_through_a_dyn_provider() {
    let provider = fake(10, Some(10));
    let all = provider.all_devices().await.unwrap();
    let ids: Vec<_> = all.iter().map(|d| d.device_id.as_str()).collect();
    assert_eq!(ids, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert_eq!(provider.request_count(), 4, "ceil(10 / 3) pages");
}

#[tokio::test]
async fn a_short_page_ends_a_listing_without_a_total() {
    let provider = fake(9, None);
    assert_eq!(provider.all_devices().await.unwrap().len(), 9);
    // 3 full pages, then an empty one confirms the end.
    assert_eq!(provider.request_count(), 4);
}

#[tokio::test]
async fn a_lying_total_is_bounded_by_the_page_ceiling() {
    // The server claims far more than it has; pages past the end are empty, which ends the listing.
    let provider = fake(5, Some(1_000_000));
    assert_eq!(provider.all_devices().await.unwrap().len(), 5);
    assert_eq!(provider.request_count(), 3);

    let rows: Result<Vec<_>> = device_stream_with_limit(&*fake(30, Some(1_000)), 4)
        .try_collect()
        .await;
    assert_eq!(rows.unwrap_err().kind(), ErrorKind::InvalidResponse);
}

#[tokio::test]
async fn device_by_serial_reports_duplicates_instead_of_picking_one() {
    let provider: Arc<dyn MdmProvider> = Arc::new(Fake {
        devices: vec![device(1, "DUP1"), device(2, "dup1"), device(3, "ONE")],
        ..fake_reading(0, None, 1)
    });
    let one = SerialNumber::parse("one").unwrap();
    assert_eq!(
        provider
            .device_by_serial(&one)
            .await
            .unwrap()
            .unwrap()
            .device_id,
        "3"
    );
    let none = SerialNumber::parse("nope").unwrap();
    assert_eq!(provider.device_by_serial(&none).await.unwrap(), None);
    let dup = SerialNumber::parse("DUP1").unwrap();
    let err = provider.device_by_serial(&dup).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.to_string()
            .contains("2 devices share serial DUP1: 1, 2"),
        "{err}"
    );
}

#[test]
fn device_links_carry_the_view_on_label() {
    let provider = fake(1, None);
    let mdmkit_core::DeviceLink { label, url } = provider.device_link("abc").unwrap();
    assert_eq!(label, "View on Iru (formerly Kandji)");
    assert_eq!(url.as_str(), "https://acme.kandji.io/devices/abc");
}
