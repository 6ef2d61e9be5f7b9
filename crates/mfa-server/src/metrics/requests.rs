//! Counting requests by route template and status: a tower layer on every route of the router
//! (`Router::layer` wraps each route and the fallback, so it runs after routing).
//!
//! The label is the route template axum matched (`MatchedPath`: `/v1/auth/{txid}`), never the
//! path with its ids or tokens; a request no route matched (the 404 fallback) is `unmatched`.
//! Templates are numbered once from the router's own list (the OpenAPI document's paths), and
//! counters are registered on first use of a (route, status) and then reused: recording is a
//! lookup of the template, an index and an atomic add.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use metrics::Counter;
use tower::{Layer, Service};

use super::{META, Metrics, key, names};

/// The label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Status codes 0..=999, so any `StatusCode` has a slot.
const STATUS_SLOTS: usize = 1000;

/// The route templates, numbered; one past the last is [`UNMATCHED`].
struct Routes {
    templates: Vec<String>,
    index: HashMap<String, usize>,
}

fn routes() -> &'static Routes {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let templates: Vec<String> = crate::openapi::document()
            .paths
            .paths
            .keys()
            .cloned()
            .collect();
        let index = templates
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        Routes { templates, index }
    })
}

impl Routes {
    /// The index of a matched template (`None`: no route matched).
    fn index(&self, template: Option<&str>) -> usize {
        template
            .and_then(|t| self.index.get(t).copied())
            .unwrap_or(self.templates.len())
    }

    fn label(&self, index: usize) -> &str {
        self.templates.get(index).map_or(UNMATCHED, String::as_str)
    }
}

/// The request counters: per route, a table of status slots, made on the route's first request.
pub(super) struct Requests {
    by_route: Box<[OnceLock<Statuses>]>,
}

/// A route's counters, by status code.
type Statuses = Box<[OnceLock<Counter>]>;

impl Requests {
    pub(super) fn new() -> Self {
        Self {
            by_route: (0..=routes().templates.len())
                .map(|_| OnceLock::new())
                .collect(),
        }
    }
}

impl Metrics {
    /// A request to route `route` (an index from [`Routes::index`]) answered with `status`.
    fn request(&self, route: usize, status: u16) {
        let Some(statuses) = self.requests.by_route.get(route) else {
            return;
        };
        let statuses =
            statuses.get_or_init(|| (0..STATUS_SLOTS).map(|_| OnceLock::new()).collect());
        let Some(slot) = statuses.get(usize::from(status)) else {
            return;
        };
        slot.get_or_init(|| {
            let labels = [
                ("route", routes().label(route)),
                ("status", &status.to_string()),
            ];
            metrics::Recorder::register_counter(
                &self.recorder,
                &key(names::REQUESTS, &labels),
                &META,
            )
        })
        .increment(1);
    }
}

/// Counts every request the router answers ([`Metrics`] of the serving state).
#[derive(Clone)]
pub struct CountRequests {
    metrics: Arc<Metrics>,
}

impl CountRequests {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Counted<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> Service<Request<B>> for Counted<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let matched = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let route = routes().index(matched);
        Answer {
            inner: self.inner.call(req),
            metrics: self.metrics.clone(),
            route,
        }
    }
}

pin_project_lite::pin_project! {
    /// The router's answer, counted when it is ready.
    pub struct Answer<F> {
        #[pin]
        inner: F,
        metrics: Arc<Metrics>,
        route: usize,
    }
}

impl<F, R, E> Future for Answer<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &out {
            this.metrics
                .request(*this.route, response.status().as_u16());
        }
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_numbered_and_anything_else_is_unmatched() {
        let r = routes();
        let label = |t: Option<&str>| r.label(r.index(t)).to_owned();
        assert_eq!(label(Some("/v1/auth")), "/v1/auth");
        assert_eq!(label(Some("/v1/auth/{txid}")), "/v1/auth/{txid}");
        assert_eq!(label(Some("/metrics")), "/metrics");
        assert_eq!(label(Some("/v1/auth/k3v7q2m9x4w8r6t1")), UNMATCHED);
        assert_eq!(label(None), UNMATCHED);
    }
}
