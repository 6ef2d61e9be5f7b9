//! Who gets a connection: at most `max_connections` in all and `max_connections_per_ip` per
//! client address. The excess is answered with a JSON error and closed at once, without
//! reading its request, so that it costs a descriptor for microseconds, not for a timeout.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::Limits;
use crate::ApiError;

/// A connection's claim on both caps, given back when it is dropped.
pub(crate) struct Ticket {
    _permit: OwnedSemaphorePermit,
    _slot: Option<AddressSlot>,
}

pub(crate) struct Admission {
    total: Arc<Semaphore>,
    per_address: Arc<PerAddress>,
    exempt: mfa_config::Networks,
    busy: Refusal,
    crowded: Refusal,
}

impl Admission {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            total: Arc::new(Semaphore::new(limits.max_connections)),
            per_address: Arc::new(PerAddress {
                max: limits.max_connections_per_ip,
                counts: Mutex::new(HashMap::new()),
            }),
            exempt: limits.exempt.clone(),
            busy: Refusal::new(ApiError::Busy(
                "the server is at its connection limit; try again shortly".into(),
            )),
            crowded: Refusal::new(ApiError::TooManyConnections(format!(
                "too many connections from your address (at most {}); close some and retry",
                limits.max_connections_per_ip
            ))),
        }
    }

    /// A ticket for `stream`, or `None` when it was refused (and answered).
    pub(crate) fn admit(&self, stream: &TcpStream, ip: IpAddr) -> Option<Ticket> {
        let Ok(permit) = self.total.clone().try_acquire_owned() else {
            self.busy.answer(stream, ip);
            return None;
        };
        let slot = if self.exempt.iter().any(|net| net.contains(&ip)) {
            None
        } else {
            match self.per_address.clone().take(ip) {
                Some(slot) => Some(slot),
                None => {
                    self.crowded.answer(stream, ip);
                    return None;
                }
            }
        };
        Some(Ticket {
            _permit: permit,
            _slot: slot,
        })
    }
}

/// Open connections per client address. IPv6 clients usually own a whole /64, so they are
/// counted by it.
struct PerAddress {
    max: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl PerAddress {
    fn take(self: Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = address_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        drop(counts);
        Some(AddressSlot { of: self, key })
    }
}

struct AddressSlot {
    of: Arc<PerAddress>,
    key: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self
            .of
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        },
        v4 => v4,
    }
}

/// A refusal written straight to the socket, and a warning at most every ten seconds.
struct Refusal {
    error: ApiError,
    bytes: Vec<u8>,
    refused: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
}

const WARN_EVERY: Duration = Duration::from_secs(10);

impl Refusal {
    fn new(error: ApiError) -> Self {
        let (status, body) = error.parts();
        let json = serde_json::to_string(&body).unwrap_or_default();
        let bytes = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{json}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default(),
            json.len()
        )
        .into_bytes();
        Self {
            error,
            bytes,
            refused: AtomicU64::new(0),
            last_warning: Mutex::new(None),
        }
    }

    /// Never waits: what the socket does not take at once is lost, the descriptor matters more.
    fn answer(&self, stream: &TcpStream, ip: IpAddr) {
        let mut scratch = [0u8; 4096];
        // Unread input at close turns the close into a reset that can lose the answer.
        for _ in 0..16 {
            if !matches!(stream.try_read(&mut scratch), Ok(n) if n > 0) {
                break;
            }
        }
        let _ = stream.try_write(&self.bytes);
        self.warn(ip);
    }

    fn warn(&self, ip: IpAddr) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|at| now.duration_since(at) >= WARN_EVERY) {
            *last = Some(now);
            self.refused.store(0, Ordering::Relaxed);
            tracing::warn!(peer = %ip, refused, reason = %self.error, "connections refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn slots_are_counted_and_given_back() {
        let per = Arc::new(PerAddress {
            max: 2,
            counts: Mutex::new(HashMap::new()),
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let one = per.clone().take(ip).unwrap();
        let two = per.clone().take(ip).unwrap();
        assert!(per.clone().take(ip).is_none());
        assert!(per.clone().take("192.0.2.2".parse().unwrap()).is_some());
        drop(one);
        let three = per.clone().take(ip).unwrap();
        drop((two, three));
        assert!(per.counts.lock().unwrap().get(&ip).is_none());
    }
}
