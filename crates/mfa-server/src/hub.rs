//! Push events between the parts of mfad that wait on them (long polls, WebSockets), and
//! between nodes: in process with SQLite, through PostgreSQL LISTEN/NOTIFY otherwise. A push's
//! events reach only the long polls waiting on it and the sessions of its clients
//! ([`topics`]); revocations and resyncs reach everyone.

mod topics;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use mfa_store::Store;
use tokio::sync::broadcast;

pub use topics::Subscription;
use topics::Topics;

/// How often a node looks for revocations made elsewhere (well under the 1 s in which an open
/// connection on a revoked credential must close).
const REVOCATION_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A push went out to these clients.
    Created { txid: String, clients: Vec<String> },
    /// A push was decided or expired (or withdrawn); `clients` were shown it.
    Decided { txid: String, clients: Vec<String> },
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
            Event::Decided { txid, clients } => format!("decided:{txid}:{}", clients.join(",")),
            Event::Revoked => mfa_store::REVOKED_EVENT.to_owned(),
            Event::Resync => "resync".to_owned(),
        }
    }

    fn decode(payload: &str) -> Option<Self> {
        let mut parts = payload.splitn(3, ':');
        let list = |clients: &str| -> Vec<String> {
            clients
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        };
        match (parts.next()?, parts.next(), parts.next()) {
            ("created", Some(txid), Some(clients)) => Some(Event::Created {
                txid: txid.to_owned(),
                clients: list(clients),
            }),
            // Without clients: a node of an earlier version.
            ("decided", Some(txid), clients) => Some(Event::Decided {
                txid: txid.to_owned(),
                clients: clients.map(list).unwrap_or_default(),
            }),
            (event, None, None) if event == mfa_store::REVOKED_EVENT => Some(Event::Revoked),
            ("resync", None, None) => Some(Event::Resync),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Hub {
    /// Revocations and resyncs, for everyone.
    tx: broadcast::Sender<Event>,
    store: Store,
    revocations: Arc<Revocations>,
    /// A push's events by txid (long polls), and by client alias (WebSocket sessions).
    pushes: Arc<Topics>,
    clients: Arc<Topics>,
    /// PostgreSQL: whether this node's LISTEN connection is up (other nodes' events arrive).
    relaying: Arc<AtomicBool>,
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
            pushes: Arc::default(),
            clients: Arc::default(),
            relaying: Arc::default(),
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

    /// Revocations and resyncs (every waiter must look again at those).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// The events of push `txid` (its decision).
    pub fn watch_push(&self, txid: &str) -> Subscription {
        self.pushes.subscribe(txid)
    }

    /// The events of the pushes shown to client `alias`.
    pub fn watch_client(&self, alias: &str) -> Subscription {
        self.clients.subscribe(alias)
    }

    /// Long polls on this node waiting for push `txid`'s decision.
    pub fn waiting_on(&self, txid: &str) -> usize {
        self.pushes.subscribers(txid)
    }

    /// Whether this node hears other nodes' events now: always with SQLite (one node), with
    /// PostgreSQL while its LISTEN connection is up.
    pub fn relaying(&self) -> bool {
        self.store.backend() == mfa_store::Backend::Sqlite || self.relaying.load(Ordering::Acquire)
    }

    /// Hands `event` to whoever it concerns on this node.
    fn deliver(&self, event: Event) {
        match &event {
            Event::Created { clients, .. } => {
                for c in clients {
                    self.clients.send(c, &event);
                }
            }
            Event::Decided { txid, clients } => {
                self.pushes.send(txid, &event);
                for c in clients {
                    self.clients.send(c, &event);
                }
            }
            Event::Revoked | Event::Resync => self.revoked(event),
        }
    }

    /// Tells every waiter on every node. Delivery is best effort: waiters also re-read the
    /// database on a timer, so a lost event delays an answer but never changes it.
    pub async fn publish(&self, event: Event) {
        match self.store.backend() {
            mfa_store::Backend::Sqlite => self.deliver(event),
            mfa_store::Backend::Postgres => {
                if let Err(e) = self.store.notify_nodes(&event.encode()).await {
                    tracing::warn!(error = %e, "cannot notify other nodes; delivering locally");
                    self.deliver(event);
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
                    self.relaying.store(true, Ordering::Release);
                    loop {
                        match listener.next().await {
                            Ok(Some(payload)) => {
                                if let Some(event) = Event::decode(&payload) {
                                    self.deliver(event);
                                }
                            }
                            Ok(None) => self.revoked(Event::Resync),
                            Err(e) => {
                                tracing::warn!(error = %e, "event listener failed; reconnecting");
                                self.relaying.store(false, Ordering::Release);
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
            Event::Decided {
                txid: "abc".into(),
                clients: vec!["tux".into()],
            },
            Event::Decided {
                txid: "abc".into(),
                clients: vec![],
            },
            Event::Revoked,
            Event::Resync,
        ] {
            assert_eq!(Event::decode(&e.encode()), Some(e));
        }
        assert_eq!(Event::decode("bogus"), None);
        assert_eq!(
            Event::decode("decided:abc"),
            Some(Event::Decided {
                txid: "abc".into(),
                clients: vec![],
            })
        );
    }
}
