//! WordPress auth cookies: `login|expiration|token|hmac` for the schemes `auth`, `secure_auth`
//! and `logged_in`, as `wp_generate_auth_cookie()` and `wp_validate_auth_cookie()` do them.

use super::expiry::{self, Expiry};
use super::{hex, WpSite};
use crate::Error;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The longest cookie value considered (browsers cap a cookie near 4 KiB).
pub const MAX_COOKIE_LEN: usize = 4096;
/// POST and Ajax requests may use a cookie up to an hour past its expiration, as core allows.
pub const GRACE_SECONDS: i64 = 3600;

/// The cookie schemes (their `wp_salt()` scheme names, in [`super::site::SCHEMES`] order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Auth = 0,
    SecureAuth = 1,
    LoggedIn = 2,
}

impl Scheme {
    pub fn parse(name: &str) -> Option<Scheme> {
        match name {
            "auth" => Some(Scheme::Auth),
            "secure_auth" => Some(Scheme::SecureAuth),
            "logged_in" => Some(Scheme::LoggedIn),
            _ => None,
        }
    }
}

/// A parsed cookie. Parsing needs no secret: the host learns the login to look the user up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub login: String,
    /// The expiration field read as PHP's `(int)` does (what WordPress 6.8+ compares with the
    /// time): `04102444800` and `+4102444800` give 4102444800, a field that does not start
    /// with a number gives 0. The check itself uses [`Cookie::expiration_field`].
    pub expiration: i64,
    pub token: String,
    /// The expiration exactly as received: core's MAC covers these bytes, not the number.
    expiration_field: String,
    hmac: [u8; 32],
}

impl Cookie {
    /// Splits `login|expiration|token|hmac`: four parts, a non-empty login and token and a
    /// lowercase hex HMAC-SHA256 (anything else never validates in core). The expiration field
    /// is kept as received, whatever it holds: core MACs it byte for byte and reads it as a PHP
    /// number only to decide expiry, so `0…`, `+…`, surrounding whitespace or `1e10` can be
    /// honest (see `expiry.rs`); validation decides.
    pub fn parse(text: &str) -> Result<Cookie, Error> {
        if text.len() > MAX_COOKIE_LEN {
            return Err(Error::WpCookieMalformed);
        }
        let parts: Vec<&str> = text.split('|').collect();
        let [login, expiration, token, mac] = parts.as_slice() else {
            return Err(Error::WpCookieMalformed);
        };
        let lower_hex =
            |s: &str| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if login.is_empty() || token.is_empty() || !lower_hex(mac) {
            return Err(Error::WpCookieMalformed);
        }
        let mut hmac = [0u8; 32];
        for (i, byte) in hmac.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&mac[2 * i..2 * i + 2], 16).expect("checked hex");
        }
        Ok(Cookie {
            login: login.to_string(),
            expiration: expiry::php_int(expiration),
            token: token.to_string(),
            expiration_field: expiration.to_string(),
            hmac,
        })
    }

    /// The expiration field exactly as it was in the cookie.
    pub fn expiration_field(&self) -> &str {
        &self.expiration_field
    }
}

/// The 4 characters of the password hash that bind a cookie to the password: characters 8–11
/// (WordPress ≤ 6.7, and 6.8+ for `$P$` and `$2y$` hashes), else the last 4 (6.8+).
fn pass_frag<'a>(site: &WpSite, pass_hash: &'a str) -> &'a str {
    let b = pass_hash.as_bytes();
    if !site.frag_from_end || pass_hash.starts_with("$P$") || pass_hash.starts_with("$2y$") {
        let start = b.len().min(8);
        std::str::from_utf8(&b[start..b.len().min(12)]).unwrap_or("")
    } else {
        std::str::from_utf8(&b[b.len().saturating_sub(4)..]).unwrap_or("")
    }
}

/// HMAC-SHA256 over `login|expiration|token` keyed with `wp_hash(login|frag|expiration|token)`,
/// `expiration` being the field as written in the cookie (core never re-formats it).
fn cookie_mac(
    site: &WpSite,
    scheme: Scheme,
    login: &str,
    expiration: &str,
    token: &str,
    pass_hash: &str,
) -> Hmac<Sha256> {
    let frag = pass_frag(site, pass_hash);
    let key = site.wp_hash(
        &format!("{login}|{frag}|{expiration}|{token}"),
        scheme as usize,
    );
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(format!("{login}|{expiration}|{token}").as_bytes());
    mac
}

/// `hash('sha256', $token)`: what core stores in the `session_tokens` user meta.
pub fn session_verifier(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new session token like `wp_generate_password(43, false, false)`: 43 letters and digits.
pub fn new_session_token() -> Result<String, Error> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut token = String::with_capacity(43);
    let mut buf = [0u8; 64];
    while token.len() < 43 {
        getrandom::fill(&mut buf).map_err(|_| Error::RandomUnavailable)?;
        // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
        for &b in buf.iter().filter(|&&b| b < 248) {
            if token.len() < 43 {
                token.push(ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(token)
}

impl WpSite {
    /// The cookie value core would set for this user, expiration and session token.
    pub fn generate_cookie(
        &self,
        scheme: Scheme,
        login: &str,
        pass_hash: &str,
        expiration: i64,
        token: &str,
    ) -> Result<String, Error> {
        if login.is_empty()
            || login.contains('|')
            || token.is_empty()
            || token.contains('|')
            || expiration < 0
        {
            return Err(Error::InvalidArgument);
        }
        let expiration = expiration.to_string();
        let mac = cookie_mac(self, scheme, login, &expiration, token, pass_hash)
            .finalize()
            .into_bytes();
        Ok(format!("{login}|{expiration}|{token}|{}", hex(&mac)))
    }

    /// Checks a cookie as `wp_validate_auth_cookie()` does, given the password hash of the user
    /// its login names: expiry (plus the grace hour for POST/Ajax when `grace`) read from the
    /// expiration field as this site's core version reads it, then the HMAC over the fields as
    /// received, in constant time. The host then checks the session token's verifier against
    /// the user's `session_tokens`, as core does.
    ///
    /// `WpCookieMalformed` also covers the one case where core throws instead of deciding: a
    /// POST/Ajax check on WordPress ≤ 6.7 of an expiration field that is not a number.
    pub fn validate_cookie(
        &self,
        scheme: Scheme,
        text: &str,
        pass_hash: &str,
        grace: bool,
    ) -> Result<Cookie, Error> {
        self.validate_cookie_at(scheme, text, pass_hash, grace, crate::context::now())
    }

    pub(crate) fn validate_cookie_at(
        &self,
        scheme: Scheme,
        text: &str,
        pass_hash: &str,
        grace: bool,
        now: i64,
    ) -> Result<Cookie, Error> {
        let cookie = Cookie::parse(text)?;
        match expiry::expiry(&cookie.expiration_field, self.int_expiration, grace, now) {
            Expiry::Live => {}
            Expiry::Expired => return Err(Error::WpCookieExpired),
            Expiry::TypeError => return Err(Error::WpCookieMalformed),
        }
        cookie_mac(
            self,
            scheme,
            &cookie.login,
            &cookie.expiration_field,
            &cookie.token,
            pass_hash,
        )
        .verify_slice(&cookie.hmac)
        .map_err(|_| Error::WpCookieInvalid)?;
        Ok(cookie)
    }
}
