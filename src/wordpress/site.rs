//! One WordPress site's secrets and settings: the eight wp-config keys and salts, the site URL
//! (for cookie names), the core version (for the password-fragment rule) and the nonce life.

use super::hex;
use crate::config::ConfigError;
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use serde_json::Value;
use zeroize::Zeroizing;

/// The salt schemes of `wp_salt()`.
pub(crate) const SCHEMES: [&str; 4] = ["AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE"];

/// WordPress's placeholder, which `wp_salt()` ignores (it then uses database options instead).
const PLACEHOLDER: &str = "put your unique phrase here";

/// A WordPress site as far as cookies and nonces are concerned. Secrets are wiped on drop.
pub struct WpSite {
    /// `KEY . SALT` for auth, secure_auth, logged_in, nonce (the order of [`SCHEMES`]).
    salts: [Zeroizing<String>; 4],
    pub(crate) cookie_hash: String,
    /// WordPress 6.8 changed which 4 characters of the password hash go into cookie keys.
    pub(crate) frag_from_end: bool,
    /// WordPress 6.8 (r59459) reads a cookie's expiration with `(int)` instead of comparing
    /// the string itself (`expiry.rs`).
    pub(crate) int_expiration: bool,
    pub(crate) nonce_life: i64,
}

fn fail<T>(path: &str, message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError {
        path: path.to_string(),
        message: message.into(),
    })
}

/// `major.minor` of a WordPress version string such as "6.8.12".
fn major_minor(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()
        .unwrap_or("0")
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, minor))
}

impl WpSite {
    /// From JSON: `{"salts": {"AUTH_KEY": …, "AUTH_SALT": …, … all eight}, "siteurl": "https://…",
    /// "wp_version": "6.8.12", "nonce_life": 86400}` (`nonce_life` optional).
    pub fn from_json(json: &[u8]) -> Result<WpSite, ConfigError> {
        let v: Value =
            serde_json::from_slice(json).or_else(|e| fail("", format!("not valid JSON: {e}")))?;
        let Some(m) = v.as_object() else {
            return fail("", "must be a JSON object");
        };
        if let Some(k) = m
            .keys()
            .find(|k| !["salts", "siteurl", "wp_version", "nonce_life"].contains(&k.as_str()))
        {
            return fail(
                k,
                "unknown setting (known: salts, siteurl, wp_version, nonce_life)",
            );
        }
        let Some(salts) = m.get("salts").and_then(Value::as_object) else {
            return fail(
                "salts",
                "is required: an object with the eight wp-config keys and salts",
            );
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut get = |name: String| -> Result<&str, ConfigError> {
            let path = format!("salts.{name}");
            let Some(value) = salts.get(&name).and_then(Value::as_str) else {
                return fail(&path, "is required (copy it from wp-config.php)");
            };
            if value.is_empty() || value == PLACEHOLDER {
                return fail(&path, "is empty or WordPress's placeholder: WordPress then uses database salts usersync cannot see");
            }
            if seen.contains(&value) {
                return fail(&path, "repeats another key or salt: WordPress then ignores it and uses database salts");
            }
            seen.push(value);
            Ok(value)
        };
        let mut pairs = Vec::with_capacity(4);
        for scheme in SCHEMES {
            let key = get(format!("{scheme}_KEY"))?.to_string();
            let salt = get(format!("{scheme}_SALT"))?;
            pairs.push(Zeroizing::new(key + salt));
        }
        if let Some(k) = salts.keys().find(|k| {
            !SCHEMES
                .iter()
                .any(|s| *k == &format!("{s}_KEY") || *k == &format!("{s}_SALT"))
        }) {
            return fail(
                &format!("salts.{k}"),
                "unknown key (SECRET_KEY and SECRET_SALT are not supported)",
            );
        }
        let Some(siteurl) = m
            .get("siteurl")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return fail(
                "siteurl",
                "is required: the siteurl option exactly as WordPress stores it",
            );
        };
        let Some(version) = m
            .get("wp_version")
            .and_then(Value::as_str)
            .and_then(major_minor)
        else {
            return fail("wp_version", "is required, e.g. \"6.8.12\"");
        };
        let nonce_life = match m.get("nonce_life") {
            None => 86_400,
            Some(n) => match n.as_i64() {
                Some(n) if (2..=31_536_000).contains(&n) => n,
                _ => return fail("nonce_life", "must be 2 to 31536000 seconds"),
            },
        };
        Ok(WpSite {
            salts: pairs.try_into().map_err(|_| ConfigError {
                path: String::new(),
                message: "salts".into(),
            })?,
            cookie_hash: hex(&Md5::digest(siteurl.as_bytes())),
            frag_from_end: version >= (6, 8),
            int_expiration: version >= (6, 8),
            nonce_life,
        })
    }

    /// `wp_hash($data, $scheme)`: hex HMAC-MD5 keyed with `wp_salt($scheme)`.
    pub(crate) fn wp_hash(&self, data: &str, scheme: usize) -> String {
        let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(self.salts[scheme].as_bytes())
            .expect("any key length");
        mac.update(data.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// The cookie names core derives from `COOKIEHASH` = md5(siteurl).
    pub fn cookie_names(&self) -> Value {
        serde_json::json!({
            "auth": format!("wordpress_{}", self.cookie_hash),
            "secure_auth": format!("wordpress_sec_{}", self.cookie_hash),
            "logged_in": format!("wordpress_logged_in_{}", self.cookie_hash),
            "test": "wordpress_test_cookie",
        })
    }
}

impl std::fmt::Debug for WpSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WpSite")
            .field("cookie_hash", &self.cookie_hash)
            .finish_non_exhaustive()
    }
}
