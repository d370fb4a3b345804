//! WordPress nonces: `wp_create_nonce()` and `wp_verify_nonce()`.

use super::WpSite;
use crate::Error;

const NONCE_SCHEME: usize = 3;

impl WpSite {
    /// `wp_nonce_tick()`: `ceil(time() / (nonce_life / 2))`, in integers.
    pub(crate) fn nonce_tick(&self, now: i64) -> i64 {
        let twice = now.saturating_mul(2);
        twice.div_euclid(self.nonce_life) + i64::from(twice.rem_euclid(self.nonce_life) != 0)
    }

    fn nonce_for_tick(&self, tick: i64, action: &str, uid: i64, token: &str) -> String {
        let hash = self.wp_hash(&format!("{tick}|{action}|{uid}|{token}"), NONCE_SCHEME);
        hash[20..30].to_string()
    }

    /// The nonce core makes for `action`, user id `uid` (0 when logged out) and the session
    /// token of the user's logged-in cookie ("" when there is none).
    pub fn create_nonce(&self, action: &str, uid: i64, token: &str) -> String {
        self.create_nonce_at(action, uid, token, crate::context::now())
    }

    pub(crate) fn create_nonce_at(&self, action: &str, uid: i64, token: &str, now: i64) -> String {
        self.nonce_for_tick(self.nonce_tick(now), action, uid, token)
    }

    /// Like `wp_verify_nonce()`: 1 when made in the current half of the nonce life, 2 in the
    /// previous half; `WpNonceInvalid` otherwise. Compared in constant time.
    pub fn verify_nonce(
        &self,
        nonce: &str,
        action: &str,
        uid: i64,
        token: &str,
    ) -> Result<u8, Error> {
        self.verify_nonce_at(nonce, action, uid, token, crate::context::now())
    }

    pub(crate) fn verify_nonce_at(
        &self,
        nonce: &str,
        action: &str,
        uid: i64,
        token: &str,
        now: i64,
    ) -> Result<u8, Error> {
        let tick = self.nonce_tick(now);
        for (age, t) in [(1u8, tick), (2u8, tick - 1)] {
            if crate::ct::eq(
                self.nonce_for_tick(t, action, uid, token).as_bytes(),
                nonce.as_bytes(),
            ) {
                return Ok(age);
            }
        }
        Err(Error::WpNonceInvalid)
    }
}
