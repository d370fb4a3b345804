//! WordPress-compatible auth cookies and nonces, byte for byte as WordPress core makes them, so
//! hosts (the plugin, C programs) can mint and check WordPress logins without PHP doing crypto.
//!
//! Core's rules, from `wp-includes/pluggable.php`: `wp_hash($data, $scheme)` is HMAC-MD5 keyed
//! with `wp_salt($scheme)` = `<SCHEME>_KEY . <SCHEME>_SALT`; an auth cookie is
//! `login|expiration|token|HMAC-SHA256(login|expiration|token, key = wp_hash(login|frag|expiration|token))`,
//! the fields exactly as they appear in the cookie (`expiry.rs`: how core reads the expiration).

mod cookie;
mod expiry;
mod nonce;
mod profile;
mod site;

pub use cookie::{
    new_session_token, session_verifier, Cookie, Scheme, GRACE_SECONDS, MAX_COOKIE_LEN,
};
pub use profile::{meta_kind, profile_fields_json, MetaKind};
pub use site::WpSite;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
