//! Events delivered only to whoever waits on their key (a push's txid, a client's alias). One
//! channel for everything woke every long poll and every WebSocket session for every push:
//! with 10,000 long polls waiting, each approval cost 10,000 wake-ups.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use super::Event;

/// What one subscriber may fall behind by before it hears `Lagged` (and looks again).
const CAPACITY: usize = 64;

/// Channels by key, each made on its first subscriber and dropped with its last.
#[derive(Debug, Default)]
pub(crate) struct Topics {
    channels: Mutex<HashMap<String, broadcast::Sender<Event>>>,
}

impl Topics {
    /// Subscribes to `key`'s events; the channel goes when the last subscription is dropped.
    pub(crate) fn subscribe(self: &Arc<Self>, key: &str) -> Subscription {
        let rx = self
            .lock()
            .entry(key.to_owned())
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe();
        Subscription {
            rx: Some(rx),
            key: key.to_owned(),
            topics: Arc::clone(self),
        }
    }

    /// Tells `key`'s subscribers, if it has any.
    pub(crate) fn send(&self, key: &str, event: &Event) {
        if let Some(tx) = self.lock().get(key) {
            let _ = tx.send(event.clone());
        }
    }

    /// How many subscriptions `key` has now.
    pub(crate) fn subscribers(&self, key: &str) -> usize {
        self.lock()
            .get(key)
            .map_or(0, broadcast::Sender::receiver_count)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, broadcast::Sender<Event>>> {
        // The map holds only senders: a panic elsewhere cannot leave it inconsistent.
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A subscription to one key's events.
#[derive(Debug)]
pub struct Subscription {
    rx: Option<broadcast::Receiver<Event>>,
    key: String,
    topics: Arc<Topics>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<Event, broadcast::error::RecvError> {
        match &mut self.rx {
            Some(rx) => rx.recv().await,
            None => Err(broadcast::error::RecvError::Closed),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut channels = self.topics.lock();
        if channels
            .get(&self.key)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            channels.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided(txid: &str) -> Event {
        Event::Decided {
            txid: txid.into(),
            clients: vec![],
        }
    }

    #[tokio::test]
    async fn only_the_key_subscribers_hear_and_the_channel_goes_with_the_last() {
        let topics = Arc::new(Topics::default());
        let mut a1 = topics.subscribe("a");
        let mut a2 = topics.subscribe("a");
        let mut b = topics.subscribe("b");
        topics.send("a", &decided("a"));
        assert_eq!(a1.recv().await.unwrap(), decided("a"));
        assert_eq!(a2.recv().await.unwrap(), decided("a"));
        assert!(
            b.rx.as_mut().unwrap().try_recv().is_err(),
            "b heard a's event"
        );
        topics.send("nobody", &decided("nobody"));
        assert_eq!(topics.len(), 2);
        drop(a1);
        assert_eq!(topics.len(), 2, "a still has a subscriber");
        drop(a2);
        drop(b);
        assert_eq!(topics.len(), 0);
    }
}
