//! Push events between the parts of mfad that wait on them (long polls, WebSockets), and
//! between nodes: in process with SQLite, through PostgreSQL LISTEN/NOTIFY otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use mfa_store::Store;
use tokio::sync::broadcast;

/// How often a node looks for revocations made elsewhere (well under the 1 s in which an open
/// connection on a revoked credential must close).
const REVOCATION_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A push went out to these clients.
    Created { txid: String, clients: Vec<String> },
    /// A push was decided or expired.
    Decided { txid: String },
    /// A credential (client key, server or API token) was rotated or removed: whoever holds a
    /// connection on one checks it again.
    Revoked,
    /// Events may have been missed (listener reconnected, receiver lagged): look again.
    Resync,
}

impl Event {
    fn encode(&self) -> String {
        match self {
            Event::Created { txid, clients } => format!("created:{txid}:{}", clients.join(",")),
            Event::Decided { txid } => format!("decided:{txid}"),
            Event::Revoked => mfa_store::REVOKED_EVENT.to_owned(),
            Event::Resync => "resync".to_owned(),
        }
    }

    fn decode(payload: &str) -> Option<Self> {
        let mut parts = payload.splitn(3, ':');
        match (parts.next()?, parts.next(), parts.next()) {
            ("created", Some(txid), Some(clients)) => Some(Event::Created {
                txid: txid.to_owned(),
                clients: clients.split(',').map(str::to_owned).collect(),
            }),
            ("decided", Some(txid), None) => Some(Event::Decided {
                txid: txid.to_owned(),
            }),
            (event, None, None) if event == mfa_store::REVOKED_EVENT => Some(Event::Revoked),
            ("resync", None, None) => Some(Event::Resync),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Event>,
    store: Store,
    revocations: Arc<Revocations>,
}

/// How many revocations this node has seen, for what caches credentials
/// ([`crate::token_cache`]); meaningful only once the revocation watcher runs.
#[derive(Debug, Default)]
struct Revocations {
    watching: AtomicBool,
    seen: AtomicU64,
}

impl Hub {
    /// With PostgreSQL, also starts the task that relays other nodes' events.
    pub fn new(store: Store) -> Self {
        let (tx, _) = broadcast::channel(1024);
        let hub = Self {
            tx,
            store,
            revocations: Arc::default(),
        };
        if hub.store.backend() == mfa_store::Backend::Postgres {
            tokio::spawn(hub.clone().relay_node_events());
        }
        hub
    }

    /// The revocations this node has seen so far: a credential read from the database may be
    /// reused while this stays the same. `None` while nobody watches for revocations (no
    /// [`crate::spawn_background`]): then nothing may be reused.
    pub fn revocations_seen(&self) -> Option<u64> {
        let r = &self.revocations;
        r.watching
            .load(Ordering::Acquire)
            .then(|| r.seen.load(Ordering::Acquire))
    }

    /// A revocation (or possibly missed events): forget reused credentials, tell waiters.
    fn revoked(&self, event: Event) {
        self.revocations.seen.fetch_add(1, Ordering::AcqRel);
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Tells every waiter on every node. Delivery is best effort: waiters also re-read the
    /// database on a timer, so a lost event delays an answer but never changes it.
    pub async fn publish(&self, event: Event) {
        match self.store.backend() {
            mfa_store::Backend::Sqlite => {
                let _ = self.tx.send(event);
            }
            mfa_store::Backend::Postgres => {
                if let Err(e) = self.store.notify_nodes(&event.encode()).await {
                    tracing::warn!(error = %e, "cannot notify other nodes; delivering locally");
                    let _ = self.tx.send(event);
                }
            }
        }
    }

    /// Watches the revocation counter (every quarter second: one primary-key read) and tells
    /// local waiters when it moves. With SQLite this is how revocations by `mfac`, another
    /// process, arrive; with PostgreSQL they also come at once as a notification.
    pub async fn watch_revocations(self, mut seen: i64) {
        let mut tick = tokio::time::interval(REVOCATION_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.revocations.watching.store(true, Ordering::Release);
        loop {
            tick.tick().await;
            match self.store.credential_epoch().await {
                Ok(epoch) => {
                    if epoch != seen {
                        self.revoked(Event::Revoked);
                    }
                    seen = epoch;
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the revocation counter"),
            }
        }
    }

    async fn relay_node_events(self) {
        loop {
            match self.store.event_listener().await {
                Ok(Some(mut listener)) => {
                    // Anything published while we were away is picked up by a resync.
                    self.revoked(Event::Resync);
                    loop {
                        match listener.next().await {
                            Ok(Some(payload)) => match Event::decode(&payload) {
                                Some(event @ Event::Revoked) => self.revoked(event),
                                Some(event) => {
                                    let _ = self.tx.send(event);
                                }
                                None => {}
                            },
                            Ok(None) => self.revoked(Event::Resync),
                            Err(e) => {
                                tracing::warn!(error = %e, "event listener failed; reconnecting");
                                break;
                            }
                        }
                    }
                }
                Ok(None) => return,
                Err(e) => tracing::warn!(error = %e, "cannot listen for node events; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_payloads() {
        for e in [
            Event::Created {
                txid: "abc".into(),
                clients: vec!["tux".into(), "tux-phone".into()],
            },
            Event::Decided { txid: "abc".into() },
            Event::Revoked,
            Event::Resync,
        ] {
            assert_eq!(Event::decode(&e.encode()), Some(e));
        }
        assert_eq!(Event::decode("bogus"), None);
    }
}
