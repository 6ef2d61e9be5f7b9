//! GET /healthz: 200 while the database answers, 503 within a second of it no longer doing so.

use std::sync::Arc;

use mfa_core::{FixedClock, Timestamp};

use crate::support::TestServer;

#[tokio::test]
async fn healthz_says_unavailable_within_a_second_of_the_database_going() {
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let srv = TestServer::start_with_clock("", Arc::new(clock.clone())).await;
    let (status, body) = srv.get("/healthz", "").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    srv.state.store.close().await;
    let (status, _) = srv.get("/healthz", "").await;
    assert_eq!(status, 200, "the answer of the last second stands");

    clock.advance_secs(1);
    let (status, body) = srv.get("/healthz", "").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable", "{body}");
    clock.advance_secs(1);
    assert_eq!(srv.get("/healthz", "").await.0, 503, "and stays so");
}
