//! Discovery and the JWK Set, answered ahead of the router and its middleware when everything
//! the answer needs is in memory (`oidc::discovery::from_memory`). They are the most requested
//! documents and the cheapest: the request id, tracing, body limit, timeout and routing of the
//! middleware cost more than the answer itself (measured by `bench/run.sh`). The answer
//! carries the same security headers and request id, and is counted in `/metrics`, as every
//! other response; anything else, and a document that needs the store, goes through the router.

use super::headers::{security_headers, REQUEST_ID};
use super::request_id::RequestIds;
use crate::oidc::discovery;
use crate::state::{metrics, AppState};
use axum::{extract::Request, response::Response, Router};
use futures_util::future::{ready, Either, Ready};
use std::{
    convert::Infallible,
    task::{Context, Poll},
    time::Instant,
};
use tower::Service;
use tower_http::request_id::MakeRequestId;

#[derive(Clone)]
pub struct DocumentsFirst {
    state: AppState,
    request_ids: RequestIds,
    router: Router,
}

impl DocumentsFirst {
    pub fn new(state: AppState, request_ids: RequestIds, router: Router) -> Self {
        Self {
            state,
            request_ids,
            router,
        }
    }
}

impl Service<Request> for DocumentsFirst {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, <Router as Service<Request>>::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let Some((mut response, route)) = discovery::from_memory(&self.state, &request) else {
            return Either::Right(self.router.call(request));
        };
        // As the middleware's `SetRequestIdLayer`: the caller's id when it sent one.
        let request_id = match request.headers().get(REQUEST_ID) {
            Some(id) => Some(id.clone()),
            None => self
                .request_ids
                .make_request_id(&request)
                .map(|id| id.into_header_value()),
        };
        let headers = response.headers_mut();
        security_headers(headers);
        if let Some(id) = request_id {
            headers.insert(REQUEST_ID, id);
        }
        metrics::request(
            route,
            request.method(),
            response.status(),
            started.elapsed(),
        );
        Either::Left(ready(Ok(response)))
    }
}
