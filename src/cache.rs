//! The verified-token cache: a token seen before costs a hash lookup instead of a signature
//! verification.
//!
//! On by default in [`McpAuth`](crate::McpAuth) and [`Validator`](crate::validate::Validator);
//! configure it with [`TokenCacheConfig`]. Only successful validations are stored, and an entry
//! answers only when the full validation would give the same answer:
//!
//! * **the key is the whole token**, compared byte for byte: a hash collision can never forge
//!   a hit, and a token differing in one byte is validated from scratch;
//! * **an entry never outlives the token**: it stops answering at the token's `exp` (without
//!   the leeway) or [`max_age`](TokenCacheConfig::max_age) after it was stored, whichever
//!   comes first;
//! * **`nbf` and `iat` still apply**: a hit needs the same "not in the future" reading as the
//!   full check, so a clock stepped backwards cannot turn a stored token valid early;
//! * **a key-set change flushes the issuer's entries**: each entry remembers the key set that
//!   verified it and answers only while its issuer's source still returns that set. After a
//!   rotation or a removed key, every token of that issuer is verified again, and entries of
//!   the old set are dropped at the next insertion. While the keys are unavailable (503), no
//!   entry answers either.
//!
//! A [`RemoteJwks`](crate::keys::RemoteJwks) refetch that brings back the same document keeps
//! the same key set, so routine refreshes do not flush the cache.
//!
//! # Memory
//!
//! Two bounds hold together: at most about [`capacity`](TokenCacheConfig::capacity) entries
//! (default [`DEFAULT_CAPACITY`]; the cache is split into shards, each bounded, so the total
//! can differ from the figure by a few entries), and at most
//! [`max_bytes`](TokenCacheConfig::max_bytes) bytes (default [`DEFAULT_MAX_BYTES`], 64 MiB).
//! A new entry makes room by evicting older ones (S3-FIFO), so a flood of distinct valid
//! tokens, small or large, cannot grow the cache past either bound.
//!
//! Each entry counts, once and for all when it is stored, an upper bound of the memory it
//! holds: the token text, the verified token (its strings and decoded payload), room for the
//! claims map that reading [`VerifiedToken::claims`] parses from the payload (the entry
//! shares the token, so it keeps that map too; the room is counted from the payload's bytes,
//! for any shape of claims), and its slot in the cache's table. An entry counts at least
//! `max_bytes / capacity`: that is how one weight keeps both bounds. The slots the cache keeps
//! for recently evicted tokens (their hashes only, at most half the entries) are set aside
//! from the bound too. An entry heavier than a shard's share of the bound is not stored; a
//! shard holds at least 32 entries of 4 KiB, or the whole bound when that is smaller.
//!
//! Measured (`tests/cache.rs`; sizes asked of the allocator, without its own overhead):
//!
//! | token | entry holds | with the claims read | counts |
//! |---|---|---|---|
//! | 437-byte ES256, 8 claims | 1.2 KB | 2.0 KB | 4.6 KB |
//! | 667-byte ES256, 12 claims | 1.6 KB | 4.0 KB | 6.4 KB |
//! | 12 KiB ES256, 230 groups | 22 KB | 39 KB | 50 KB |
//!
//! So a full default cache of typical tokens holds about 20 MB and stays within capacity,
//! while 12 KiB tokens stop at about 1 300 entries and 64 MiB.
//!
//! ```
//! use std::time::Duration;
//! use mcp_server_auth::cache::{DEFAULT_MAX_BYTES, TokenCacheConfig};
//!
//! let config = TokenCacheConfig::default();
//! assert_eq!(config.capacity_entries(), 10_000);
//! assert_eq!(config.max_age_duration(), Duration::from_secs(300));
//! assert_eq!(config.max_bytes_total(), DEFAULT_MAX_BYTES);
//! assert_eq!(DEFAULT_MAX_BYTES, 64 * 1024 * 1024);
//!
//! let config = config
//!     .capacity(50_000)
//!     .max_bytes(256 * 1024 * 1024)
//!     .max_age(Duration::from_secs(60));
//! assert!(config.is_enabled());
//! assert!(!TokenCacheConfig::disabled().is_enabled());
//! assert!(!TokenCacheConfig::new().max_bytes(0).is_enabled());
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::num::NonZero;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{DefaultHashBuilder, Equivalent, OptionsBuilder, Weighter};

use crate::keys::KeySetId;
use crate::token::VerifiedToken;

/// Default number of cached tokens.
pub const DEFAULT_CAPACITY: usize = 10_000;
/// Default longest time an entry answers, whatever the token's `exp`.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// Default bound on the bytes the entries hold together: 64 MiB.
///
/// Large enough that a server of typical tokens never reaches it: their entries count 4.5 to
/// 6.5 KB each ([module docs](self#memory)), so a full default cache of 10 000 fits, and the
/// capacity keeps bounding such a server as before. Small enough that large tokens cannot
/// hold much memory: 12 KiB tokens, whose entries count about 50 KB, stop at about 1 300
/// entries instead of filling 10 000 entries with 250 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// How the verified-token cache behaves. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct TokenCacheConfig {
    capacity: usize,
    max_age: Duration,
    max_bytes: usize,
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        TokenCacheConfig {
            capacity: DEFAULT_CAPACITY,
            max_age: DEFAULT_MAX_AGE,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl TokenCacheConfig {
    /// The default: at most [`DEFAULT_CAPACITY`] entries holding at most
    /// [`DEFAULT_MAX_BYTES`], each answering for at most [`DEFAULT_MAX_AGE`].
    pub fn new() -> Self {
        Self::default()
    }

    /// No cache: every request verifies its token's signature.
    pub fn disabled() -> Self {
        TokenCacheConfig {
            capacity: 0,
            max_age: Duration::ZERO,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// The most tokens kept at once. `0` turns the cache off. Defaults to
    /// [`DEFAULT_CAPACITY`].
    pub fn capacity(mut self, entries: usize) -> Self {
        self.capacity = entries;
        self
    }

    /// The longest an entry answers after it was stored; the token's `exp` ends it sooner.
    /// Whole seconds count; under one second turns the cache off. Defaults to
    /// [`DEFAULT_MAX_AGE`].
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The most bytes the entries hold together, each counted as the
    /// [module docs](self#memory) describe: an upper bound of what it holds. Older entries
    /// make room for new ones. `0` turns the cache off, and a bound under a few KiB stores
    /// nothing. Defaults to [`DEFAULT_MAX_BYTES`] (64 MiB), which a server of typical tokens
    /// never reaches.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The configured capacity, in entries.
    pub fn capacity_entries(&self) -> usize {
        self.capacity
    }

    /// The configured maximum entry age.
    pub fn max_age_duration(&self) -> Duration {
        self.max_age
    }

    /// The configured bound, in bytes.
    pub fn max_bytes_total(&self) -> usize {
        self.max_bytes
    }

    /// Whether tokens are cached at all.
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0 && self.max_age.as_secs() > 0 && self.max_bytes > 0
    }
}

/// A stored token. Equality is the whole token, byte for byte; the hash reads only its length
/// and last [`HASHED_TAIL`] bytes, which lie in the signature: unpredictable for anyone but
/// the issuer, so they spread entries as well as the whole token would, and hashing them
/// costs a fraction of hashing a token of a kilobyte or more. Only validated tokens are
/// stored, so nobody without the issuer's key can choose where an entry lands.
#[derive(PartialEq, Eq)]
struct TokenKey(Box<str>);

/// A token looked up without copying it.
struct TokenRef<'a>(&'a str);

const HASHED_TAIL: usize = 32;

fn hash_token<H: Hasher>(token: &str, state: &mut H) {
    let bytes = token.as_bytes();
    state.write_usize(bytes.len());
    state.write(
        bytes
            .get(bytes.len().saturating_sub(HASHED_TAIL)..)
            .unwrap_or_default(),
    );
}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(&self.0, state);
    }
}

impl Hash for TokenRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.0, state);
    }
}

impl Equivalent<TokenKey> for TokenRef<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        *self.0 == *key.0
    }
}

/// One stored validation.
#[derive(Clone)]
struct Entry {
    token: VerifiedToken,
    issuer: usize,
    key_set: KeySetId,
    /// The earliest time (seconds since the epoch) the full check accepts the token: its
    /// `nbf` and `iat` less the leeway.
    not_before: i64,
    /// The first second the entry no longer answers: `exp`, or the store time plus the
    /// maximum age if sooner.
    valid_until: i64,
    /// What the entry counts against the cache's weight capacity, fixed when it is stored.
    weight: u64,
}

/// Reads each entry's stored weight: the weigher runs during evictions, so it must be cheap.
#[derive(Clone)]
struct StoredWeight;

impl Weighter<TokenKey, Entry> for StoredWeight {
    fn weight(&self, _: &TokenKey, entry: &Entry) -> u64 {
        entry.weight
    }
}

/// What the cache keeps per entry besides the token text and the verified token's own
/// allocations: the key and value in the shard's slab with its list links and state (up to
/// twice over, for the slab's spare room as it grows), and the entry's index in the shard's
/// hash table (a 4-byte index and a control byte per bucket, at most 16/7 buckets per entry).
/// A remembered evicted token (a "ghost", its hash only) takes a slot like this too.
const SLOT_BYTES: usize = 2 * (size_of::<TokenKey>() + size_of::<Entry>() + 24) + 16;

/// The size of an entry for estimating how many a byte bound holds.
const ESTIMATED_ENTRY_BYTES: usize = 4096;

/// The most shards: a power of two, so that a weight capacity that is a multiple of it splits
/// evenly over any smaller power of two as well.
const MAX_SHARDS: usize = 64;

/// What `token` and its validation count against the byte bound: the token text (the key),
/// the verified token's allocations with room for its parsed claims, and the slot.
fn entry_bytes(token: &str, verified: &VerifiedToken) -> usize {
    SLOT_BYTES
        .saturating_add(token.len())
        .saturating_add(verified.retained_bytes())
}

/// What a successful full validation tells the cache.
pub(crate) struct Verified {
    pub(crate) token: VerifiedToken,
    pub(crate) issuer: usize,
    pub(crate) key_set: KeySetId,
    pub(crate) not_before: i64,
    pub(crate) expires_at: i64,
}

pub(crate) struct TokenCache {
    entries: Cache<TokenKey, Entry, StoredWeight>,
    max_age: i64,
    /// The least weight an entry counts: the weight capacity over the capacity in entries, so
    /// that the weight capacity bounds the number of entries too.
    least_weight: u64,
    /// Per issuer, the newest key set a stored entry was verified with; `0` before any.
    seen_key_set: Vec<AtomicU64>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the keys: they are tokens.
        f.debug_struct("TokenCache")
            .field("len", &self.entries.len())
            .field("weight", &self.entries.weight())
            .field("weight_capacity", &self.entries.capacity())
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache for a validator with `issuers` issuers, or `None` when `config` turns it off.
    pub(crate) fn new(config: TokenCacheConfig, issuers: usize) -> Option<Self> {
        if !config.is_enabled() {
            return None;
        }
        // How many entries the bytes hold if entries are typical: quick_cache remembers up to
        // half as many evicted tokens, and uses fewer shards for fewer entries (at least 32
        // per shard), so that a shard still holds a few large entries under a small bound.
        let estimated = config
            .capacity
            .min(config.max_bytes / ESTIMATED_ENTRY_BYTES)
            .max(1);
        let shards = std::thread::available_parallelism()
            .map_or(1, NonZero::get)
            .saturating_mul(4)
            .min(MAX_SHARDS)
            .next_power_of_two();
        // The slots of remembered evicted tokens: at most half the estimated entries, rounded
        // up per shard, and one more per shard while one is being replaced. Set aside from the
        // entries' share.
        let ghosts = estimated / 2 + 2 * shards;
        let entries_bytes = config
            .max_bytes
            .saturating_sub(ghosts.saturating_mul(SLOT_BYTES));
        // Each shard holds an equal share, rounded down: together never more than the bound.
        let weight_capacity = u64::try_from(entries_bytes - entries_bytes % MAX_SHARDS).ok()?;
        if weight_capacity == 0 {
            return None;
        }
        let options = OptionsBuilder::new()
            .estimated_items_capacity(estimated)
            .weight_capacity(weight_capacity)
            .shards(shards)
            .build()
            .ok()?;
        let capacity = u64::try_from(config.capacity).unwrap_or(u64::MAX);
        Some(TokenCache {
            entries: Cache::with_options(
                options,
                StoredWeight,
                DefaultHashBuilder::default(),
                DefaultLifecycle::default(),
            ),
            max_age: i64::try_from(config.max_age.as_secs()).unwrap_or(i64::MAX),
            least_weight: weight_capacity.div_ceil(capacity).max(1),
            seen_key_set: (0..issuers).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// The stored validation of `token`, if it still holds at `now` and `key_set(issuer)` is
    /// still the set that verified it.
    pub(crate) fn get(
        &self,
        token: &str,
        now: i64,
        key_set: impl FnOnce(usize) -> Option<KeySetId>,
    ) -> Option<VerifiedToken> {
        let entry = self.entries.get(&TokenRef(token))?;
        if now < entry.not_before || now >= entry.valid_until {
            return None;
        }
        if key_set(entry.issuer) != Some(entry.key_set) {
            return None;
        }
        Some(entry.token)
    }

    /// Stores a successful validation made at `now`, unless it would not answer even once.
    pub(crate) fn insert(&self, token: &str, verified: &Verified, now: i64) {
        let valid_until = verified.expires_at.min(now.saturating_add(self.max_age));
        if valid_until <= now {
            return;
        }
        if let Some(seen) = self.seen_key_set.get(verified.issuer) {
            // Key sets are numbered in the order they were made, so the largest number seen is
            // the issuer's newest set. A validation that raced a rotation and used an older
            // set is not stored (it would be flushed at once), and cannot trigger a flush.
            let id = verified.key_set.get();
            let previous = seen.fetch_max(id, Ordering::Relaxed);
            if id < previous {
                return;
            }
            if previous != 0 && id > previous {
                // The issuer's keys changed: its older entries can never answer again.
                let issuer = verified.issuer;
                let current = verified.key_set;
                self.entries
                    .retain(|_, entry| entry.issuer != issuer || entry.key_set == current);
            }
        }
        let bytes = u64::try_from(entry_bytes(token, &verified.token)).unwrap_or(u64::MAX);
        // An entry heavier than a shard's share is not stored (quick_cache admits none).
        self.entries.insert(
            TokenKey(Box::from(token)),
            Entry {
                token: verified.token.clone(),
                issuer: verified.issuer,
                key_set: verified.key_set,
                not_before: verified.not_before,
                valid_until,
                weight: bytes.max(self.least_weight),
            },
        );
    }

    /// How many entries are stored.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// What the entries count against the byte bound: each its size, or the bound's share of
    /// one entry of the capacity if that is more. Never more than the bound.
    pub(crate) fn weight(&self) -> u64 {
        self.entries.weight()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const TOKEN: &str = "header.payload.signature";

    fn verified(issuer: usize, key_set: KeySetId, not_before: i64, expires_at: i64) -> Verified {
        Verified {
            token: VerifiedToken::new(
                "https://auth.example.com".to_owned(),
                Some("alice".to_owned()),
                None,
                vec!["https://mcp.example.com/mcp".to_owned()],
                vec!["mcp:tools".to_owned()],
                expires_at,
                serde_json::Map::new(),
            ),
            issuer,
            key_set,
            not_before,
            expires_at,
        }
    }

    fn cache(max_age_secs: u64, issuers: usize) -> TokenCache {
        let config = TokenCacheConfig::new().max_age(Duration::from_secs(max_age_secs));
        TokenCache::new(config, issuers).expect("enabled")
    }

    #[test]
    fn tokens_sharing_the_hashed_tail_never_answer_for_each_other() {
        let cache = cache(300, 2);
        let key_set = KeySetId::default();
        let tail = "s".repeat(HASHED_TAIL + 8);
        let first = format!("aaaa.{tail}");
        let second = format!("bbbb.{tail}");
        let third = format!("cccc.{tail}");
        // Same length and same tail: the same hash, told apart by the full comparison.
        cache.insert(&first, &verified(0, key_set, 0, 5000), 1000);
        cache.insert(&second, &verified(1, key_set, 0, 6000), 1000);
        let hit = |token: &str| cache.get(token, 1001, |_| Some(key_set));
        assert_eq!(hit(&first).unwrap().expires_at_unix(), 5000);
        assert_eq!(hit(&second).unwrap().expires_at_unix(), 6000);
        assert!(hit(&third).is_none());
        assert!(hit(&first[1..]).is_none());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn max_age_ends_an_entry_before_a_distant_exp() {
        let cache = cache(60, 1);
        let set = KeySetId::default();
        cache.insert(TOKEN, &verified(0, set, i64::MIN, 1_000_000), 1000);
        assert_eq!(cache.len(), 1);
        let hit = cache
            .get(TOKEN, 1059, |_| Some(set))
            .expect("hit before max_age");
        assert_eq!(hit.subject(), Some("alice"));
        assert!(
            cache.get(TOKEN, 1060, |_| Some(set)).is_none(),
            "max_age ends it"
        );
        assert!(cache.get(TOKEN, 5000, |_| Some(set)).is_none());
    }

    #[test]
    fn exp_ends_an_entry_before_max_age() {
        let cache = cache(300, 1);
        let set = KeySetId::default();
        cache.insert(TOKEN, &verified(0, set, i64::MIN, 1010), 1000);
        assert!(cache.get(TOKEN, 1009, |_| Some(set)).is_some());
        assert!(
            cache.get(TOKEN, 1010, |_| Some(set)).is_none(),
            "exp ends it"
        );
    }

    #[test]
    fn an_entry_that_could_never_answer_is_not_stored() {
        let cache = cache(60, 1);
        let set = KeySetId::default();
        // Accepted only thanks to the leeway: expired as far as the cache is concerned.
        cache.insert(TOKEN, &verified(0, set, i64::MIN, 1000), 1000);
        cache.insert("other.token.x", &verified(0, set, i64::MIN, 990), 1000);
        assert_eq!(cache.len(), 0);
        assert!(cache.get(TOKEN, 999, |_| Some(set)).is_none());
    }

    #[test]
    fn not_before_is_kept() {
        let cache = cache(300, 1);
        let set = KeySetId::default();
        cache.insert(TOKEN, &verified(0, set, 990, 2000), 1000);
        assert!(cache.get(TOKEN, 990, |_| Some(set)).is_some());
        assert!(
            cache.get(TOKEN, 989, |_| Some(set)).is_none(),
            "a clock stepped back before not_before misses"
        );
    }

    #[test]
    fn only_the_key_set_that_verified_the_token_answers() {
        let cache = cache(300, 2);
        let set = KeySetId::default();
        let other = KeySetId::default();
        assert_ne!(set, other);
        cache.insert(TOKEN, &verified(1, set, i64::MIN, 2000), 1000);
        let mut asked = None;
        assert!(
            cache
                .get(TOKEN, 1001, |issuer| {
                    asked = Some(issuer);
                    Some(set)
                })
                .is_some()
        );
        assert_eq!(asked, Some(1), "the entry's own issuer is asked");
        assert!(
            cache.get(TOKEN, 1001, |_| Some(other)).is_none(),
            "another key set"
        );
        assert!(
            cache.get(TOKEN, 1001, |_| None).is_none(),
            "keys unavailable"
        );
        assert!(cache.get(TOKEN, 1001, |_| Some(set)).is_some());
    }

    #[test]
    fn the_key_is_the_whole_token() {
        let cache = cache(300, 1);
        let set = KeySetId::default();
        cache.insert(TOKEN, &verified(0, set, i64::MIN, 2000), 1000);
        for other in [
            "header.payload.signaturE",
            "header.payload.signatur",
            "header.payload.signaturee",
            "header.payload",
            "Header.payload.signature",
            "",
        ] {
            assert!(cache.get(other, 1001, |_| Some(set)).is_none(), "{other}");
        }
    }

    #[test]
    fn a_key_set_change_drops_the_issuers_older_entries_only() {
        let cache = cache(300, 2);
        let (old, new, second) = (
            KeySetId::default(),
            KeySetId::default(),
            KeySetId::default(),
        );
        cache.insert("a.a.a", &verified(0, old, i64::MIN, 2000), 1000);
        cache.insert("b.b.b", &verified(0, old, i64::MIN, 2000), 1000);
        cache.insert("c.c.c", &verified(1, second, i64::MIN, 2000), 1000);
        assert_eq!(cache.len(), 3);
        cache.insert("d.d.d", &verified(0, new, i64::MIN, 2000), 1000);
        assert_eq!(cache.len(), 2, "issuer 0's old entries dropped");
        assert!(cache.get("a.a.a", 1001, |_| Some(old)).is_none());
        assert!(cache.get("c.c.c", 1001, |_| Some(second)).is_some());
        assert!(cache.get("d.d.d", 1001, |_| Some(new)).is_some());

        // A validation that raced the rotation, done with the old set, lands late: it is not
        // stored and flushes nothing.
        cache.insert("e.e.e", &verified(0, old, i64::MIN, 2000), 1000);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("d.d.d", 1001, |_| Some(new)).is_some());
    }

    #[test]
    fn a_disabled_config_makes_no_cache() {
        assert!(TokenCache::new(TokenCacheConfig::disabled(), 1).is_none());
        assert!(TokenCache::new(TokenCacheConfig::new().capacity(0), 1).is_none());
        let short = TokenCacheConfig::new().max_age(Duration::from_millis(999));
        assert!(TokenCache::new(short, 1).is_none());
        let one = TokenCacheConfig::new().max_age(Duration::from_millis(1500));
        assert!(TokenCache::new(one, 1).is_some());
    }

    #[test]
    fn the_weight_capacity_never_exceeds_the_byte_bound() {
        for max_bytes in [
            1,
            4096,
            10_000,
            100_000,
            1 << 20,
            DEFAULT_MAX_BYTES,
            usize::MAX,
        ] {
            for capacity in [1, 16, DEFAULT_CAPACITY, usize::MAX] {
                let config = TokenCacheConfig::new()
                    .capacity(capacity)
                    .max_bytes(max_bytes);
                let Some(cache) = TokenCache::new(config, 1) else {
                    assert!(max_bytes < 10_000, "{max_bytes} bytes turn the cache off");
                    continue;
                };
                let weight_capacity = cache.entries.capacity();
                assert!(
                    weight_capacity <= max_bytes as u64,
                    "{max_bytes} bytes, {capacity} entries: {weight_capacity}"
                );
                // A full cache of entries at the least weight holds about `capacity` entries.
                let entries = weight_capacity / cache.least_weight;
                assert!(
                    entries <= capacity as u64,
                    "{max_bytes}, {capacity}: {entries}"
                );
            }
        }
    }

    #[test]
    fn small_entries_are_bounded_by_count_and_large_ones_by_bytes() {
        let config = TokenCacheConfig::new().capacity(64).max_bytes(1 << 20);
        let cache = TokenCache::new(config, 1).unwrap();
        let set = KeySetId::default();
        for i in 0..1000 {
            cache.insert(&format!("small.{i}.x"), &verified(0, set, 0, 5000), 1000);
        }
        assert!((32..=64).contains(&cache.len()), "{}", cache.len());
        let large = |i: usize| {
            let mut claims = serde_json::Map::new();
            claims.insert("blob".to_owned(), "x".repeat(40_000).into());
            let mut token = verified(0, set, 0, 5000);
            token.token = VerifiedToken::new(
                "https://auth.example.com".to_owned(),
                None,
                None,
                Vec::new(),
                Vec::new(),
                5000,
                claims,
            );
            (format!("large.{i}.x"), token)
        };
        for i in 0..100 {
            let (text, token) = large(i);
            cache.insert(&text, &token, 1000);
            assert!(cache.weight() <= 1 << 20);
            assert!(
                cache.get(&text, 1001, |_| Some(set)).is_some(),
                "{i} stored"
            );
        }
        // Each counts over 80 KB: a dozen at most fit in 1 MiB.
        assert!(cache.len() <= 13, "{}", cache.len());
    }

    #[test]
    fn debug_never_shows_tokens() {
        let cache = cache(300, 1);
        cache.insert(
            TOKEN,
            &verified(0, KeySetId::default(), i64::MIN, 2000),
            1000,
        );
        let text = format!("{cache:?}");
        assert!(text.contains("len: 1"), "{text}");
        assert!(!text.contains("payload"), "{text}");
    }
}
