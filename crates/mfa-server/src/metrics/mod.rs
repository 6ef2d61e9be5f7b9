//! Prometheus metrics, served at `GET /metrics` ([`endpoint`]): what mfad counts, under the
//! names in [`names`] (defined here only).
//!
//! Each [`AppState`](crate::AppState) has its own recorder (nothing global: two servers in one
//! process count apart). Handles are registered once and kept, in tables indexed by label, so
//! recording is an atomic add: no label string is built or looked up per request. Label
//! values come from fixed sets (route templates, status codes, method and result names, lock
//! kinds, providers): never a user name, alias, address, token or raw path.

pub mod endpoint;
pub mod requests;

use std::future::Future;
use std::sync::OnceLock;
use std::time::Instant;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use mfa_core::Methods;
use mfa_secrets::TokenHash;
use mfa_store::LockKind;

/// The metric names, all `mfa_`-prefixed; the README's table lists them with their labels.
pub mod names {
    /// Counter: HTTP requests the router answered, by `route` (the matched route template,
    /// `unmatched` for none) and `status`.
    pub const REQUESTS: &str = "mfa_http_requests_total";
    /// Counter: decisions made (and written), by `method` and `result`.
    pub const DECISIONS: &str = "mfa_decisions_total";
    /// Histogram: seconds from a push's creation to its decision, by `result`.
    pub const PUSH_LATENCY: &str = "mfa_push_latency_seconds";
    /// Gauge: pushes waiting for an answer (pending, not yet expired), read at scrape time.
    pub const PUSHES_PENDING: &str = "mfa_pushes_pending";
    /// Gauge: client WebSockets open on this node.
    pub const WEBSOCKETS_OPEN: &str = "mfa_websockets_open";
    /// Gauge: lockouts in force, by `kind` (`user`, `ip`, `caller`), read at scrape time.
    pub const LOCKOUTS: &str = "mfa_lockouts_in_force";
    /// Counter: notifications given up (every attempt failed), by `provider`.
    pub const NOTIFICATION_FAILURES: &str = "mfa_notification_failures_total";
    /// Histogram: seconds a database call took, by `query`.
    pub const DB_LATENCY: &str = "mfa_db_query_seconds";
}

/// Push latency buckets, seconds: answers take seconds, timeouts up to `auth_timeout` (600).
const PUSH_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0, 300.0, 600.0,
];
/// Database latency buckets, seconds: a read is well under a millisecond, a synced commit a few.
const DB_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

const META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Factors, as bits of a decision's method label (`password+totp`): 16 combinations.
const PASSWORD: usize = 1;
const TOTP: usize = 2;
const RECOVERY: usize = 4;
const PUSH: usize = 8;
/// The method labels, by index: the factor combinations, then the policy gate's steps.
const METHODS: [&str; 20] = [
    "none",
    "password",
    "totp",
    "password+totp",
    "recovery",
    "password+recovery",
    "totp+recovery",
    "password+totp+recovery",
    "push",
    "password+push",
    "totp+push",
    "password+totp+push",
    "recovery+push",
    "password+recovery+push",
    "totp+recovery+push",
    "password+totp+recovery+push",
    "preauth",
    "stepup",
    "auth",
    "other",
];
/// The decision results: the gate's and the login's (`allow` ...), then a push's (`approved` ...).
const RESULTS: [&str; 10] = [
    "allow",
    "deny",
    "bypass",
    "enroll",
    "approved",
    "denied",
    "fraud",
    "expired",
    "withdrawn",
    "other",
];

/// The method label's index for an audit method (`totp`, `password+push`, `preauth`, ...),
/// whatever order its factors come in.
fn method_index(method: &str) -> usize {
    match method {
        "" => 0,
        "preauth" => 16,
        "stepup" => 17,
        "auth" => 18,
        _ => factors_index(method.split('+')),
    }
}

/// The index of a combination of factors (`password`, `totp`, `recovery`, `push`).
fn factors_index<'a>(factors: impl IntoIterator<Item = &'a str>) -> usize {
    let mut bits = 0;
    for factor in factors {
        bits |= match factor {
            "password" => PASSWORD,
            "totp" => TOTP,
            "recovery" => RECOVERY,
            "push" => PUSH,
            _ => return METHODS.len() - 1,
        };
    }
    bits
}

fn result_index(result: &str) -> usize {
    RESULTS
        .iter()
        .position(|r| *r == result)
        .unwrap_or(RESULTS.len() - 1)
}

/// What a database latency sample timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// A decision's audit entry and lockout change (one group-committed transaction).
    Record,
    /// A push's move (decided, expired, withdrawn) with its audit entry.
    Settle,
    /// Counting a login attempt before a code or password is compared.
    Attempt,
    /// The health check's `SELECT 1`.
    Ping,
    /// The scrape's counts of pending pushes and lockouts.
    Count,
}

impl Query {
    const ALL: [Query; 5] = [
        Query::Record,
        Query::Settle,
        Query::Attempt,
        Query::Ping,
        Query::Count,
    ];

    fn label(self) -> &'static str {
        match self {
            Query::Record => "record",
            Query::Settle => "settle",
            Query::Attempt => "attempt",
            Query::Ping => "ping",
            Query::Count => "count",
        }
    }
}

/// The notification providers, as `provider` labels.
const PROVIDERS: [&str; 3] = ["webhook", "ntfy", "other"];

const LOCK_KINDS: [LockKind; 3] = [LockKind::User, LockKind::Ip, LockKind::Caller];

/// The recorder and the handles registered in it.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    requests: requests::Requests,
    decisions: Box<[OnceLock<Counter>]>,
    push_latency: [OnceLock<Histogram>; RESULTS.len()],
    pending: Gauge,
    websockets: Gauge,
    lockouts: [Gauge; LOCK_KINDS.len()],
    notification_failures: [Counter; PROVIDERS.len()],
    db: [Histogram; Query::ALL.len()],
    /// The SHA-256 of `metrics_token`, when one is set.
    token: Option<TokenHash>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(*k, (*v).to_owned()))
        .collect();
    Key::from_parts(name, labels)
}

fn recorder() -> PrometheusRecorder {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::PUSH_LATENCY.into()), PUSH_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(names::DB_LATENCY.into()), DB_BUCKETS)
        });
    match builder {
        Ok(b) => b.build_recorder(),
        Err(e) => {
            // Only with empty bucket lists; then histograms render as summaries.
            tracing::warn!(error = %e, "metrics: histogram buckets refused");
            PrometheusBuilder::new().build_recorder()
        }
    }
}

impl Metrics {
    /// `metrics_token`: when set, a scrape must present it.
    pub fn new(metrics_token: Option<&str>) -> Self {
        let recorder = recorder();
        describe(&recorder);
        let counter = |name, labels: &[(&'static str, &str)]| {
            recorder.register_counter(&key(name, labels), &META)
        };
        let gauge = |name, labels: &[(&'static str, &str)]| {
            recorder.register_gauge(&key(name, labels), &META)
        };
        let histogram = |name, labels: &[(&'static str, &str)]| {
            recorder.register_histogram(&key(name, labels), &META)
        };
        Self {
            handle: recorder.handle(),
            requests: requests::Requests::new(),
            decisions: (0..METHODS.len() * RESULTS.len())
                .map(|_| OnceLock::new())
                .collect(),
            push_latency: std::array::from_fn(|_| OnceLock::new()),
            pending: gauge(names::PUSHES_PENDING, &[]),
            websockets: gauge(names::WEBSOCKETS_OPEN, &[]),
            lockouts: LOCK_KINDS.map(|k| gauge(names::LOCKOUTS, &[("kind", k.as_str())])),
            notification_failures: PROVIDERS
                .map(|p| counter(names::NOTIFICATION_FAILURES, &[("provider", p)])),
            db: Query::ALL.map(|q| histogram(names::DB_LATENCY, &[("query", q.label())])),
            token: metrics_token.map(TokenHash::of),
            recorder,
        }
    }

    /// A decision made and written: `method` and `result` as its audit entry has them.
    pub fn decision(&self, method: &str, result: &str) {
        self.count_decision(method_index(method), result_index(result));
    }

    /// A push decided (`result`: its audit result) `seconds` after it was created; `factors`
    /// are what its approval completes (`None`: the push alone).
    pub fn push_decided(&self, factors: Option<&Methods>, result: &str, seconds: f64) {
        let m = match factors {
            Some(f) => factors_index(f.iter().map(|m| m.as_str())),
            None => PUSH,
        };
        let r = result_index(result);
        self.count_decision(m, r);
        self.push_latency[r]
            .get_or_init(|| {
                self.recorder
                    .register_histogram(&key(names::PUSH_LATENCY, &[("result", RESULTS[r])]), &META)
            })
            .record(seconds);
    }

    fn count_decision(&self, m: usize, r: usize) {
        let Some(slot) = self.decisions.get(m * RESULTS.len() + r) else {
            return;
        };
        slot.get_or_init(|| {
            self.recorder.register_counter(
                &key(
                    names::DECISIONS,
                    &[("method", METHODS[m]), ("result", RESULTS[r])],
                ),
                &META,
            )
        })
        .increment(1);
    }

    /// A client WebSocket opened; it counts as open until the guard is dropped.
    pub fn websocket_opened(&self) -> WebSocketOpen {
        self.websockets.increment(1.0);
        WebSocketOpen(self.websockets.clone())
    }

    /// A notification given up by `provider` (`webhook`, `ntfy`).
    pub fn notification_failed(&self, provider: &str) {
        let i = PROVIDERS
            .iter()
            .position(|p| *p == provider)
            .unwrap_or(PROVIDERS.len() - 1);
        self.notification_failures[i].increment(1);
    }

    /// Runs `call` (a database call), recording how long it took under `query`.
    pub async fn time<T>(&self, query: Query, call: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let out = call.await;
        self.db_seconds(query, start.elapsed().as_secs_f64());
        out
    }

    fn db_seconds(&self, query: Query, seconds: f64) {
        let i = Query::ALL.iter().position(|q| *q == query).unwrap_or(0);
        self.db[i].record(seconds);
    }

    /// The state read at scrape time.
    fn set_pending(&self, n: u64) {
        self.pending.set(n as f64);
    }

    fn set_lockouts(&self, counts: &[(LockKind, u64)]) {
        for (kind, n) in counts {
            if let Some(i) = LOCK_KINDS.iter().position(|k| k == kind) {
                self.lockouts[i].set(*n as f64);
            }
        }
    }

    /// Folds recorded histogram samples into their buckets (they are queued until then):
    /// run every few seconds so memory stays flat between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Everything, in the Prometheus text format 0.0.4.
    fn render(&self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(16 * 1024);
        self.handle.render_to_write(&mut out)?;
        Ok(out)
    }
}

/// Keeps a WebSocket counted as open ([`Metrics::websocket_opened`]).
pub struct WebSocketOpen(Gauge);

impl Drop for WebSocketOpen {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

fn describe(recorder: &PrometheusRecorder) {
    use metrics::Unit;
    for (name, unit, help) in [
        (
            names::REQUESTS,
            None,
            "HTTP requests answered, by matched route template and status.",
        ),
        (
            names::DECISIONS,
            None,
            "Decisions made, by method and result (as the audit log records them).",
        ),
        (
            names::NOTIFICATION_FAILURES,
            None,
            "Notifications given up after every attempt failed, by provider.",
        ),
    ] {
        recorder.describe_counter(name.into(), unit, help.into());
    }
    for (name, help) in [
        (
            names::PUSHES_PENDING,
            "Pushes waiting for an answer (pending and not expired), read at scrape time.",
        ),
        (
            names::WEBSOCKETS_OPEN,
            "Client WebSockets open on this node.",
        ),
        (
            names::LOCKOUTS,
            "Lockouts in force, by kind (user, ip, caller), read at scrape time.",
        ),
    ] {
        recorder.describe_gauge(name.into(), None, help.into());
    }
    for (name, help) in [
        (
            names::PUSH_LATENCY,
            "Seconds from a push's creation to its decision, by result.",
        ),
        (names::DB_LATENCY, "Seconds a database call took, by query."),
    ] {
        recorder.describe_histogram(name.into(), Some(Unit::Seconds), help.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_do_not_depend_on_factor_order() {
        assert_eq!(METHODS[method_index("push")], "push");
        assert_eq!(METHODS[method_index("password+push")], "password+push");
        assert_eq!(METHODS[method_index("push+password")], "password+push");
        assert_eq!(METHODS[method_index("password+totp")], "password+totp");
        assert_eq!(METHODS[method_index("recovery")], "recovery");
        assert_eq!(METHODS[method_index("")], "none");
        assert_eq!(METHODS[method_index("preauth")], "preauth");
        // Anything else is `other`, never the text itself.
        assert_eq!(METHODS[method_index("API token")], "other");
        assert_eq!(METHODS[method_index("totp+tux")], "other");
        assert_eq!(RESULTS[result_index("approved")], "approved");
        assert_eq!(RESULTS[result_index("tux")], "other");
    }

    #[test]
    fn the_bits_name_their_labels() {
        for (bits, label) in METHODS.iter().enumerate().take(16) {
            if bits == 0 {
                continue;
            }
            assert_eq!(method_index(label), bits, "{label}");
        }
    }

    #[test]
    fn recorded_values_render_with_their_labels() {
        let m = Metrics::new(None);
        m.decision("push", "approved");
        m.push_decided(None, "approved", 1.5);
        m.notification_failed("ntfy");
        let _open = m.websocket_opened();
        let text = String::from_utf8(m.render().unwrap()).unwrap();
        assert!(
            text.contains("mfa_decisions_total{method=\"push\",result=\"approved\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("mfa_push_latency_seconds_bucket{result=\"approved\",le=\"2\"} 1"),
            "{text}"
        );
        assert!(text.contains("mfa_websockets_open 1"), "{text}");
        assert!(
            text.contains("mfa_notification_failures_total{provider=\"ntfy\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE mfa_push_latency_seconds histogram"),
            "{text}"
        );
    }
}
