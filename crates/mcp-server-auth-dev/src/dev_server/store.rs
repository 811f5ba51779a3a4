//! The in-memory state of the development authorization server: registered clients, consent
//! transactions waiting for a decision, authorization codes and refresh tokens. Bounded: each
//! map has a cap, and expired entries are dropped before a new one is refused. Registered
//! clients idle for a day are forgotten (and the least recently used one when the registry is
//! full), and revoked token families are forgotten once no token of theirs can be alive.

use std::collections::{HashMap, HashSet};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// At most this many registered clients.
pub(crate) const MAX_CLIENTS: usize = 1000;
/// At most this many consent transactions, codes, or refresh tokens (each).
pub(crate) const MAX_ENTRIES: usize = 10_000;
/// Seconds a consent transaction waits for a decision.
pub(crate) const TRANSACTION_TTL: u64 = 10 * 60;
/// Seconds an authorization code can be redeemed.
pub(crate) const CODE_TTL: u64 = 60;
/// Seconds a refresh token lives (and is remembered for reuse detection).
pub(crate) const REFRESH_TTL: u64 = 24 * 60 * 60;
/// Seconds a registered client is kept without being used.
pub(crate) const CLIENT_IDLE_TTL: u64 = 24 * 60 * 60;

/// The grant type of authorization codes.
pub(crate) const AUTHORIZATION_CODE: &str = "authorization_code";
/// The grant type of refresh tokens.
pub(crate) const REFRESH_TOKEN: &str = "refresh_token";

/// A client registered through RFC 7591, or described by its metadata document.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) client_id: String,
    pub(crate) client_name: Option<String>,
    pub(crate) redirect_uris: Vec<String>,
    /// The grant types the client registered for (RFC 7591 §2).
    pub(crate) grant_types: Vec<String>,
}

impl Client {
    /// Whether the client registered for `grant_type`.
    pub(crate) fn allows(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }
}

#[derive(Debug)]
struct Registered {
    client: Client,
    last_used: u64,
}

/// An authorization request that passed every check, waiting on the consent page.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) client_name: Option<String>,
    pub(crate) redirect_uri: String,
    pub(crate) scope: Vec<String>,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: String,
    pub(crate) resource: String,
    /// Whether the client registered for the `refresh_token` grant: only then is a refresh
    /// token issued with the access token.
    pub(crate) refresh_allowed: bool,
}

#[derive(Debug)]
struct Pending {
    grant: Grant,
    expires_at: u64,
}

#[derive(Debug)]
struct Code {
    grant: Grant,
    expires_at: u64,
    used: bool,
    family: u64,
}

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) scope: Vec<String>,
    pub(crate) resource: String,
    pub(crate) family: u64,
}

#[derive(Debug)]
struct Refresh {
    grant: RefreshGrant,
    expires_at: u64,
    used: bool,
}

/// Why a code or refresh token cannot be redeemed; all are `invalid_grant` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redeem {
    Unknown,
    Expired,
    /// Presented a second time: everything issued from it is revoked.
    Reused,
}

/// Everything the server remembers. Keys of codes and refresh tokens are their SHA-256
/// digests, so the maps never hold a usable credential.
#[derive(Debug, Default)]
pub(crate) struct Store {
    clients: HashMap<String, Registered>,
    pending: HashMap<String, Pending>,
    codes: HashMap<String, Code>,
    refresh: HashMap<String, Refresh>,
    /// Revoked token families, with when they were revoked.
    revoked: HashMap<u64, u64>,
    /// The size of `revoked` at which it is pruned next (amortizes the pruning).
    revoked_prune_at: usize,
    next_family: u64,
}

impl Store {
    /// The registered client `client_id`, marked as used at `now`. A client idle for
    /// [`CLIENT_IDLE_TTL`] is forgotten.
    pub(crate) fn client(&mut self, client_id: &str, now: u64) -> Option<&Client> {
        if self
            .clients
            .get(client_id)
            .is_some_and(|r| r.last_used.saturating_add(CLIENT_IDLE_TTL) <= now)
        {
            self.clients.remove(client_id);
        }
        let registered = self.clients.get_mut(client_id)?;
        registered.last_used = registered.last_used.max(now);
        Some(&registered.client)
    }

    /// Registers a client. When the registry is full, clients idle for [`CLIENT_IDLE_TTL`]
    /// are forgotten first, then the least recently used one, so registration always works.
    pub(crate) fn add_client(&mut self, client: Client, now: u64) {
        if self.clients.len() >= MAX_CLIENTS {
            self.clients
                .retain(|_, r| r.last_used.saturating_add(CLIENT_IDLE_TTL) > now);
        }
        while self.clients.len() >= MAX_CLIENTS {
            let Some(oldest) = self
                .clients
                .iter()
                .min_by_key(|(_, r)| r.last_used)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            self.clients.remove(&oldest);
        }
        self.clients.insert(
            client.client_id.clone(),
            Registered {
                client,
                last_used: now,
            },
        );
    }

    fn prune(&mut self, now: u64) {
        self.pending.retain(|_, p| p.expires_at > now);
        self.codes.retain(|_, c| c.expires_at > now);
        self.refresh.retain(|_, r| r.expires_at > now);
        self.prune_revoked(now);
    }

    /// Forgets revoked families revoked at least [`REFRESH_TTL`] ago that no code or refresh
    /// token still remembered belongs to: every token of theirs has expired.
    fn prune_revoked(&mut self, now: u64) {
        let live: HashSet<u64> = self
            .codes
            .values()
            .map(|c| c.family)
            .chain(self.refresh.values().map(|r| r.grant.family))
            .collect();
        self.revoked
            .retain(|family, at| at.saturating_add(REFRESH_TTL) > now || live.contains(family));
        self.revoked_prune_at = MAX_ENTRIES.max(self.revoked.len().saturating_mul(2));
    }

    /// Revokes `family` at `now`: none of its refresh tokens works any more.
    fn revoke(&mut self, family: u64, now: u64) {
        if self.revoked.len() >= self.revoked_prune_at.max(MAX_ENTRIES) {
            self.prune_revoked(now);
        }
        self.revoked.entry(family).or_insert(now);
    }

    #[cfg(test)]
    fn is_revoked(&self, family: u64) -> bool {
        self.revoked.contains_key(&family)
    }

    /// Keeps `grant` for the consent page under a new transaction id; `None` when full.
    pub(crate) fn add_pending(&mut self, grant: Grant, now: u64) -> Option<String> {
        if self.pending.len() >= MAX_ENTRIES {
            self.prune(now);
            if self.pending.len() >= MAX_ENTRIES {
                return None;
            }
        }
        let id = random_token();
        let expires_at = now + TRANSACTION_TTL;
        self.pending
            .insert(id.clone(), Pending { grant, expires_at });
        Some(id)
    }

    /// Takes the transaction `id` (once): its grant if it exists and has not expired.
    pub(crate) fn take_pending(&mut self, id: &str, now: u64) -> Option<Grant> {
        self.pending
            .remove(id)
            .filter(|p| p.expires_at > now)
            .map(|p| p.grant)
    }

    /// Issues an authorization code for `grant`; `None` when full.
    pub(crate) fn add_code(&mut self, grant: Grant, now: u64) -> Option<String> {
        if self.codes.len() >= MAX_ENTRIES {
            self.prune(now);
            if self.codes.len() >= MAX_ENTRIES {
                return None;
            }
        }
        let code = random_token();
        let family = self.new_family();
        self.codes.insert(
            digest_of(&code),
            Code {
                grant,
                expires_at: now + CODE_TTL,
                used: false,
                family,
            },
        );
        Some(code)
    }

    fn new_family(&mut self) -> u64 {
        self.next_family += 1;
        self.next_family
    }

    /// Redeems `code` (single use): its grant and token family. A second redemption revokes
    /// the family, so every refresh token issued from the code stops working.
    pub(crate) fn redeem_code(&mut self, code: &str, now: u64) -> Result<(Grant, u64), Redeem> {
        let entry = self
            .codes
            .get_mut(&digest_of(code))
            .ok_or(Redeem::Unknown)?;
        if entry.used {
            let family = entry.family;
            self.revoke(family, now);
            return Err(Redeem::Reused);
        }
        entry.used = true;
        if entry.expires_at <= now {
            return Err(Redeem::Expired);
        }
        Ok((entry.grant.clone(), entry.family))
    }

    /// Issues a refresh token; `None` when full.
    pub(crate) fn add_refresh(&mut self, grant: RefreshGrant, now: u64) -> Option<String> {
        if self.refresh.len() >= MAX_ENTRIES {
            self.prune(now);
            if self.refresh.len() >= MAX_ENTRIES {
                return None;
            }
        }
        let token = random_token();
        self.refresh.insert(
            digest_of(&token),
            Refresh {
                grant,
                expires_at: now + REFRESH_TTL,
                used: false,
            },
        );
        Some(token)
    }

    /// Redeems a refresh token (single use: rotation). Presenting a used one revokes its
    /// whole family.
    pub(crate) fn redeem_refresh(&mut self, token: &str, now: u64) -> Result<RefreshGrant, Redeem> {
        let entry = self
            .refresh
            .get_mut(&digest_of(token))
            .ok_or(Redeem::Unknown)?;
        if entry.used {
            let family = entry.grant.family;
            self.revoke(family, now);
            return Err(Redeem::Reused);
        }
        if self.revoked.contains_key(&entry.grant.family) {
            return Err(Redeem::Unknown);
        }
        if entry.expires_at <= now {
            return Err(Redeem::Expired);
        }
        entry.used = true;
        Ok(entry.grant.clone())
    }
}

/// 256 random bits, base64url: transaction ids, codes, refresh tokens, client ids.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        crate::testing::key::unreachable_rng();
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest_of(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

/// The S256 code challenge of `verifier` (RFC 7636 §4.2).
pub(crate) fn s256(verifier: &str) -> String {
    digest_of(verifier)
}

/// Whether `verifier` is a valid PKCE code verifier: 43 to 128 unreserved characters
/// (RFC 7636 §4.1).
pub(crate) fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `challenge` can be an S256 code challenge: 43 base64url characters.
pub(crate) fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            client_id: "c".to_owned(),
            client_name: None,
            redirect_uri: "http://127.0.0.1/cb".to_owned(),
            scope: vec!["mcp:tools".to_owned()],
            state: None,
            code_challenge: s256(&"v".repeat(43)),
            resource: "http://127.0.0.1:1/mcp".to_owned(),
            refresh_allowed: true,
        }
    }

    fn client(id: &str) -> Client {
        Client {
            client_id: id.to_owned(),
            client_name: None,
            redirect_uris: vec!["http://127.0.0.1/cb".to_owned()],
            grant_types: vec![AUTHORIZATION_CODE.to_owned()],
        }
    }

    #[test]
    fn clients_idle_for_a_day_are_forgotten() {
        let mut store = Store::default();
        store.add_client(client("a"), 0);
        store.add_client(client("b"), 0);
        assert!(
            store.client("a", CLIENT_IDLE_TTL - 1).is_some(),
            "used: kept"
        );
        assert!(
            store.client("b", CLIENT_IDLE_TTL).is_none(),
            "idle a day: gone"
        );
        assert!(store.client("a", 2 * CLIENT_IDLE_TTL - 2).is_some());
        assert_eq!(store.clients.len(), 1);
    }

    #[test]
    fn a_full_registry_forgets_idle_then_least_recently_used_clients() {
        let mut store = Store::default();
        for i in 0..MAX_CLIENTS {
            store.add_client(client(&format!("c{i}")), 10);
        }
        // c0 is used later than the others; all are fresh.
        assert!(store.client("c0", 20).is_some());
        store.add_client(client("new"), 30);
        assert_eq!(store.clients.len(), MAX_CLIENTS);
        assert!(store.client("new", 30).is_some());
        assert!(store.client("c0", 30).is_some(), "recently used: kept");
        // Later, every old client is idle: registering forgets them all at once.
        let later = 31 + CLIENT_IDLE_TTL;
        assert!(store.client("new", CLIENT_IDLE_TTL).is_some());
        store.add_client(client("newer"), later);
        assert_eq!(store.clients.len(), 2, "idle clients forgotten");
    }

    #[test]
    fn revoked_families_are_forgotten_after_the_refresh_lifetime() {
        let mut store = Store::default();
        store.revoke(1, 0);
        store.revoke(2, 100);
        // A family with a refresh token still remembered is kept whatever its age.
        let token = store
            .add_refresh(
                RefreshGrant {
                    client_id: "c".to_owned(),
                    scope: vec![],
                    resource: "r".to_owned(),
                    family: 3,
                },
                50,
            )
            .unwrap();
        store.revoke(3, 50);
        store.prune(REFRESH_TTL + 10);
        assert!(!store.is_revoked(1), "old enough: forgotten");
        assert!(store.is_revoked(2), "too recent: kept");
        assert!(store.is_revoked(3), "its token is still remembered");
        assert_eq!(
            store.redeem_refresh(&token, REFRESH_TTL + 10).unwrap_err(),
            Redeem::Unknown
        );
        store.prune(REFRESH_TTL + 200);
        assert!(store.revoked.is_empty());
    }

    #[test]
    fn the_revoked_set_is_pruned_as_it_grows() {
        let mut store = Store::default();
        for family in 0..MAX_ENTRIES as u64 {
            store.revoke(family, 0);
        }
        assert_eq!(store.revoked.len(), MAX_ENTRIES);
        store.revoke(u64::MAX, REFRESH_TTL);
        assert_eq!(store.revoked.len(), 1, "every old family forgotten");
    }

    #[test]
    fn s256_matches_the_rfc_7636_example() {
        // RFC 7636 Appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_and_challenge_syntax() {
        struct Case {
            name: &'static str,
            verifier: String,
            valid: bool,
        }
        let cases = [
            Case {
                name: "42 chars",
                verifier: "a".repeat(42),
                valid: false,
            },
            Case {
                name: "43 chars",
                verifier: "a".repeat(43),
                valid: true,
            },
            Case {
                name: "128 chars",
                verifier: "a".repeat(128),
                valid: true,
            },
            Case {
                name: "129 chars",
                verifier: "a".repeat(129),
                valid: false,
            },
            Case {
                name: "unreserved marks",
                verifier: format!("{}-._~", "a".repeat(40)),
                valid: true,
            },
            Case {
                name: "space",
                verifier: format!("{} ", "a".repeat(43)),
                valid: false,
            },
            Case {
                name: "plus",
                verifier: format!("{}+", "a".repeat(43)),
                valid: false,
            },
        ];
        for case in cases {
            assert_eq!(
                is_valid_verifier(&case.verifier),
                case.valid,
                "{}",
                case.name
            );
        }
        assert!(is_valid_s256_challenge(&s256(&"a".repeat(43))));
        assert!(!is_valid_s256_challenge("plain-challenge"));
        assert!(!is_valid_s256_challenge(&format!("{}=", "a".repeat(42))));
    }

    #[test]
    fn a_code_is_single_use_and_reuse_revokes_its_refresh_tokens() {
        let mut store = Store::default();
        let code = store.add_code(grant(), 100).unwrap();
        let (granted, family) = store.redeem_code(&code, 101).unwrap();
        let refresh = store
            .add_refresh(
                RefreshGrant {
                    client_id: granted.client_id,
                    scope: granted.scope,
                    resource: granted.resource,
                    family,
                },
                101,
            )
            .unwrap();
        assert_eq!(store.redeem_code(&code, 102).unwrap_err(), Redeem::Reused);
        assert_eq!(
            store.redeem_refresh(&refresh, 102).unwrap_err(),
            Redeem::Unknown
        );
    }

    #[test]
    fn a_code_expires_after_sixty_seconds() {
        let mut store = Store::default();
        let code = store.add_code(grant(), 100).unwrap();
        assert_eq!(
            store.redeem_code(&code, 100 + CODE_TTL).unwrap_err(),
            Redeem::Expired
        );
        assert_eq!(store.redeem_code("nope", 100).unwrap_err(), Redeem::Unknown);
    }

    #[test]
    fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
        let mut store = Store::default();
        let family_grant = RefreshGrant {
            client_id: "c".to_owned(),
            scope: vec![],
            resource: "r".to_owned(),
            family: 7,
        };
        let first = store.add_refresh(family_grant.clone(), 0).unwrap();
        store.redeem_refresh(&first, 1).unwrap();
        let second = store.add_refresh(family_grant, 1).unwrap();
        assert_eq!(store.redeem_refresh(&first, 2).unwrap_err(), Redeem::Reused);
        assert_eq!(
            store.redeem_refresh(&second, 2).unwrap_err(),
            Redeem::Unknown
        );
    }

    #[test]
    fn pending_transactions_are_taken_once() {
        let mut store = Store::default();
        let id = store.add_pending(grant(), 0).unwrap();
        assert!(store.take_pending(&id, 1).is_some());
        assert!(store.take_pending(&id, 1).is_none());
        let id = store.add_pending(grant(), 0).unwrap();
        assert!(store.take_pending(&id, TRANSACTION_TTL).is_none());
    }
}
