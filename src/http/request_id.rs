//! Request ids, which every log line and audit event of a request carries: a random prefix per
//! process and a counter. Unique across processes and restarts like a random UUID, without a
//! call to the system's random source on every request.

use axum::http::{HeaderValue, Request};
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};
use tower_http::request_id::{MakeRequestId, RequestId};

#[derive(Clone)]
pub struct RequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        Self {
            prefix: crate::crypto::random_token(9).into(),
            next: Arc::default(),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_within_a_process_and_between_processes() {
        let request = Request::new(());
        let mut one = RequestIds::default();
        let mut other = RequestIds::default();
        let id = |ids: &mut RequestIds| {
            ids.make_request_id(&request)
                .unwrap()
                .header_value()
                .to_str()
                .unwrap()
                .to_owned()
        };
        let (a, b, c) = (id(&mut one), id(&mut one), id(&mut other));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(a.len() >= 14, "{a}");
    }
}
