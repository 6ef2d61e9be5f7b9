//! Bearer credentials served from memory. Every OTP verification and every login presents a
//! token; reading it from the database each time costs more than the rest of a rejected code.
//! An entry holds only while no revocation has been seen since it was read: the hub bumps a
//! generation whenever the revocation counter moves (polled every 250 ms, and at once on a
//! PostgreSQL notification), and an entry of an older generation is a miss. So a rotated or
//! removed token stops working within the same quarter second that closes its connections.
//! Unknown tokens are never cached: every bad token is looked up and counted.

use std::collections::HashMap;
use std::sync::Mutex;

use mfa_secrets::TokenHash;

/// At most this many credentials are held; a full cache starts again empty.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
pub struct TokenCache<T> {
    inner: Mutex<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    generation: u64,
    entries: HashMap<String, T>,
}

impl<T: Clone> Default for TokenCache<T> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                generation: 0,
                entries: HashMap::new(),
            }),
        }
    }
}

impl<T: Clone> TokenCache<T> {
    /// The credential `hash` stands for, if it was read in `generation`.
    pub fn get(&self, hash: &TokenHash, generation: u64) -> Option<T> {
        let mut inner = self.lock();
        inner.forget_older_than(generation);
        inner.entries.get(hash.as_str()).cloned()
    }

    /// Remembers `value`, read from the database while `generation` was current.
    pub fn put(&self, hash: &TokenHash, value: T, generation: u64) {
        let mut inner = self.lock();
        inner.forget_older_than(generation);
        if inner.generation != generation {
            return; // read before a revocation this cache has already seen
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(hash.as_str().to_owned(), value);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        // A panic while holding the lock leaves only a map of clones behind: still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> Inner<T> {
    fn forget_older_than(&mut self, generation: u64) {
        if generation > self.generation {
            self.entries.clear();
            self.generation = generation;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(s: &str) -> TokenHash {
        mfa_secrets::Token::from_presented(s).hash()
    }

    #[test]
    fn an_entry_holds_until_the_generation_moves() {
        let cache = TokenCache::default();
        cache.put(&hash("a"), 1, 0);
        assert_eq!(cache.get(&hash("a"), 0), Some(1));
        assert_eq!(cache.get(&hash("b"), 0), None);
        assert_eq!(cache.get(&hash("a"), 1), None, "a revocation empties it");
        assert_eq!(cache.get(&hash("a"), 0), None);
    }

    #[test]
    fn a_value_read_before_a_seen_revocation_is_not_kept() {
        let cache = TokenCache::default();
        assert_eq!(cache.get(&hash("a"), 2), None);
        cache.put(&hash("a"), 1, 1);
        assert_eq!(cache.get(&hash("a"), 2), None);
        cache.put(&hash("a"), 1, 2);
        assert_eq!(cache.get(&hash("a"), 2), Some(1));
    }
}
