//! The optional capabilities of the provider contract: their defaults, and that wrappers forward them.

use std::sync::Arc;
use std::time::Duration;

use mdmkit_core::chrono::{DateTime, Utc};
use mdmkit_core::{
    async_trait, ChangeCursor, ChangeTracking, ChangesPage, ChangesRequest, Coverage, DeviceUser,
    ErrorKind, GroupDelta, GroupDeltaKind, GroupDeltaToken, MdmDevice, MdmGroup, MdmProvider,
    MdmProviderExt, Page, PageInfo, PageRequest, PagingStyle, ProviderKind, Resolution,
    ResolvedUserName, Result, SerialNumber, Unresolved, Url, UserRef,
};

fn device(id: &str, changed_day: u32) -> MdmDevice {
    MdmDevice::new(
        id,
        SerialNumber::parse_opt(Some(&format!("SER{id}"))),
        Some(format!("Mac {id} ({changed_day})")),
        None,
        None,
    )
}

/// Implements only the required methods: every capability has its default.
#[derive(Debug)]
struct Plain;

#[async_trait]
impl MdmProvider for Plain {
    fn kind(&self) -> ProviderKind {
        ProviderKind::SimpleMdm
    }
    async fn validate(&self) -> Result<()> {
        Ok(())
    }
    async fn devices_by_serial(&self, _serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        Ok(vec![])
    }
    fn device_paging(&self) -> PagingStyle {
        PagingStyle::Cursor { limit: 100 }
    }
    async fn list_devices_page(&self, _request: &PageRequest) -> Result<Page<MdmDevice>> {
        Ok(Page::new(vec![device("1", 1)], PageInfo::default()))
    }
    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        Ok(vec![MdmGroup::new("g", "G", ["1".to_owned()])])
    }
    fn device_url(&self, _device_id: &str) -> Option<Url> {
        None
    }
    fn request_count(&self) -> u64 {
        0
    }
}

/// Lists changes day by day: the cursor is the next day; day 3 "ignores the filter".
#[derive(Debug)]
struct Tracking {
    devices: Vec<(u32, MdmDevice)>,
}

#[async_trait]
impl MdmProvider for Tracking {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Jamf
    }
    async fn validate(&self) -> Result<()> {
        Ok(())
    }
    async fn devices_by_serial(&self, _serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        Ok(vec![])
    }
    fn device_paging(&self) -> PagingStyle {
        PagingStyle::NextLink
    }
    async fn list_devices_page(&self, _request: &PageRequest) -> Result<Page<MdmDevice>> {
        Ok(Page::new(vec![], PageInfo::default()))
    }
    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        Ok(vec![])
    }
    fn device_url(&self, _device_id: &str) -> Option<Url> {
        None
    }
    fn request_count(&self) -> u64 {
        0
    }
    fn request_costs(&self) -> mdmkit_core::RequestCosts {
        mdmkit_core::RequestCosts::PAGES_CARRY_EVERYTHING
    }
    fn change_tracking(&self) -> ChangeTracking {
        ChangeTracking::supported("day", "tests", Duration::from_secs(1))
    }
    async fn list_changed_devices_page(&self, request: &ChangesRequest) -> Result<ChangesPage> {
        let ChangesRequest {
            since,
            cursor,
            resolution,
        } = request;
        let first_day = since.format("%d").to_string().parse::<u32>().unwrap();
        let day: u32 = cursor
            .as_ref()
            .map_or(first_day, |c| c.as_str().parse().unwrap());
        let rows: Vec<MdmDevice> = self
            .devices
            .iter()
            .filter(|(d, _)| *d == day)
            .map(|(_, d)| match resolution {
                Resolution::Deferred => d.clone().with_unresolved(Unresolved::User),
                _ => d.clone(),
            })
            .collect();
        let last = self.devices.iter().map(|(d, _)| *d).max().unwrap_or(0);
        let next = (day < last).then(|| ChangeCursor::new((day + 1).to_string()));
        let coverage = if day == 3 {
            Coverage::Everything
        } else {
            Coverage::Changed
        };
        Ok(ChangesPage::new(rows, next, coverage))
    }
    async fn resolve_user_names(&self, users: &[UserRef]) -> Result<Vec<ResolvedUserName>> {
        Ok(users
            .iter()
            .map(|u| {
                ResolvedUserName::new(u.user_id.clone(), Some(format!("Name of {}", u.user_id)))
            })
            .collect())
    }
    async fn resolve_device_users(&self, device_ids: &[String]) -> Result<Vec<DeviceUser>> {
        Ok(device_ids
            .iter()
            .map(|d| DeviceUser::new(d.clone(), Some(format!("u-{d}")), None))
            .collect())
    }
    fn supports_group_delta(&self) -> bool {
        true
    }
    async fn groups_delta(&self, token: Option<&GroupDeltaToken>) -> Result<GroupDelta> {
        Ok(match token {
            None => GroupDelta::full(vec![], Some(GroupDeltaToken::new("t1"))),
            Some(_) => GroupDelta::changes(vec![], vec!["gone".into()], GroupDeltaToken::new("t2")),
        })
    }
}

fn at(day: u32) -> DateTime<Utc> {
    format!("2026-11-{day:02}T00:00:00Z").parse().unwrap()
}

#[tokio::test]
async fn defaults_answer_unsupported_and_read_groups_in_full() {
    let plain: Arc<dyn MdmProvider> = Arc::new(Plain);
    assert_eq!(plain.change_tracking(), ChangeTracking::Unsupported);
    assert_eq!(
        plain.request_costs(),
        mdmkit_core::RequestCosts::PAGES_CARRY_EVERYTHING
    );
    let err = plain
        .list_changed_devices_page(&ChangesRequest::first(at(1), Resolution::Inline))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    assert!(err.to_string().contains("use the bulk listing"), "{err}");
    let page = plain
        .list_devices_page_with(
            &PageRequest::Cursor {
                after: None,
                limit: 100,
            },
            Resolution::Deferred,
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(plain
        .resolve_user_names(&[UserRef::new("u", "1")])
        .await
        .unwrap()
        .is_empty());
    assert!(plain
        .resolve_device_users(&["1".into()])
        .await
        .unwrap()
        .is_empty());
    assert!(!plain.supports_group_delta());
    let delta = plain.groups_delta(None).await.unwrap();
    assert_eq!(delta.kind, GroupDeltaKind::Full);
    assert_eq!(delta.groups.len(), 1);
    assert_eq!(delta.token, None);
}

#[tokio::test]
async fn wrappers_forward_every_capability() {
    let inner = Tracking {
        devices: vec![
            (1, device("a", 1)),
            (2, device("b", 2)),
            (2, device("c", 2)),
        ],
    };
    let boxed: Box<dyn MdmProvider> = Box::new(inner);
    let wrapped: Arc<Box<dyn MdmProvider>> = Arc::new(boxed);
    assert!(wrapped.change_tracking().is_supported());
    assert_eq!(wrapped.change_tracking().overlap(), Duration::from_secs(1));
    let changed = wrapped.changed_devices(at(1)).await.unwrap();
    let ids: Vec<_> = changed
        .devices
        .iter()
        .map(|d| d.device_id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(changed.coverage, Coverage::Changed);
    let deferred = wrapped
        .list_changed_devices_page(&ChangesRequest::first(at(2), Resolution::Deferred))
        .await
        .unwrap();
    assert!(deferred
        .devices
        .iter()
        .all(|d| d.unresolved == Some(Unresolved::User)));
    let names = wrapped
        .resolve_user_names(&[UserRef::new("u1", "a")])
        .await
        .unwrap();
    assert_eq!(names[0].name.as_deref(), Some("Name of u1"));
    let users = wrapped.resolve_device_users(&["a".into()]).await.unwrap();
    assert_eq!(users[0].user_id.as_deref(), Some("u-a"));
    assert!(wrapped.supports_group_delta());
    let first = wrapped.groups_delta(None).await.unwrap();
    let next = wrapped.groups_delta(first.token.as_ref()).await.unwrap();
    assert_eq!(next.kind, GroupDeltaKind::Changes);
    assert_eq!(next.removed, ["gone"]);
}

#[tokio::test]
async fn one_page_that_could_not_filter_makes_the_whole_listing_a_full_one() {
    let provider = Tracking {
        devices: (1..=4).map(|d| (d, device(&d.to_string(), d))).collect(),
    };
    let changed = provider.changed_devices(at(2)).await.unwrap();
    assert_eq!(changed.devices.len(), 3, "days 2, 3 and 4");
    assert_eq!(changed.coverage, Coverage::Everything);
}
