//! Where a request came from: a plain description that audit events and error logs carry, so
//! the layers below the HTTP server can take it without importing the server (which builds it
//! from each request: `http::meta`).

use super::AuditEvent;

#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl RequestMeta {
    /// `event` with the request's origin.
    pub fn stamp(&self, mut event: AuditEvent) -> AuditEvent {
        event.ip = self.ip.clone();
        event.user_agent = self.user_agent.clone();
        event.request_id = self.request_id.clone();
        event
    }
}
