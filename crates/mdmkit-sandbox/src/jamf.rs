//! Simulated jamf API (to be completed: see the sandbox issue).

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use mdmkit_core::ProviderConfig;
use serde_json::json;
use url::Url;

use crate::common::{json, Ctx, ProviderSim};
use crate::model::{Fleet, SimDevice};
use crate::{Access, ExpectedDevice, ExpectedGroup};

pub(crate) struct JamfSim;

impl ProviderSim for JamfSim {
    fn router(&self) -> Router<Ctx> {
        Router::new().fallback(|| async { json(StatusCode::NOT_FOUND, json!({"message": "not simulated yet"})) })
    }
    fn config(&self, _base: &Url, _access: Access) -> ProviderConfig {
        unimplemented!("the jamf simulator is not written yet")
    }
    fn expected_device(&self, _fleet: &Fleet, _device: &SimDevice) -> ExpectedDevice {
        unimplemented!("the jamf simulator is not written yet")
    }
    fn expected_groups(&self, _fleet: &Fleet) -> Vec<ExpectedGroup> {
        Vec::new()
    }
    fn error(&self, status: StatusCode, message: &str) -> Response {
        json(status, json!({"message": message}))
    }
    fn max_page_size(&self) -> usize {
        100
    }
}
