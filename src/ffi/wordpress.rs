//! WordPress-compatible auth cookies and nonces through the C ABI.

use super::{free, guard, input, store, usersync_result, with_config_error, Allocated, Output};
use crate::wordpress::{self, Cookie, Scheme, WpSite};
use crate::Error;
use std::ffi::c_char;

/// One WordPress site's keys and salts, site URL and version. Create with usersync_wp_new(),
/// release with usersync_wp_free(). Immutable: share it across threads.
#[allow(non_camel_case_types)]
pub struct usersync_wp(WpSite);

/// The cookie schemes, for the `scheme` arguments below (passed as uint32_t).
#[allow(non_camel_case_types)]
#[repr(C)]
pub enum usersync_wp_scheme {
    /// `wordpress_<hash>`: the admin cookie over plain HTTP.
    Auth = 0,
    /// `wordpress_sec_<hash>`: the admin cookie over HTTPS.
    SecureAuth = 1,
    /// `wordpress_logged_in_<hash>`: the front-end cookie.
    LoggedIn = 2,
}

/// How a user meta key travels (usersync_wp_meta_classify()).
#[allow(non_camel_case_types)]
#[repr(C)]
pub enum usersync_wp_meta_kind {
    /// Ordinary meta: a `meta` action, for peers whose policy names the key.
    Meta = 0,
    /// A profile field WordPress keeps in user meta (first_name, last_name, nickname,
    /// description, locale): it travels in an update's `fields`, never as meta.
    ProfileField = 1,
    /// Privileges, sessions, usersync's own: never sent, never accepted.
    Protected = 2,
}

fn scheme(code: u32) -> Result<Scheme, Error> {
    match code {
        0 => Ok(Scheme::Auth),
        1 => Ok(Scheme::SecureAuth),
        2 => Ok(Scheme::LoggedIn),
        _ => Err(Error::InvalidArgument),
    }
}

fn text(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes).map_err(|_| Error::InvalidArgument)
}

/// Creates a WordPress site handle from JSON `{"salts": {"AUTH_KEY": …, "AUTH_SALT": …,
/// "SECURE_AUTH_KEY": …, "SECURE_AUTH_SALT": …, "LOGGED_IN_KEY": …, "LOGGED_IN_SALT": …,
/// "NONCE_KEY": …, "NONCE_SALT": …}, "siteurl": "https://…", "wp_version": "6.8.12",
/// "nonce_life": 86400}` (nonce_life optional). Errors, ownership and the err buffer as for
/// usersync_context_new(): on USERSYNC_RESULT_CONFIG_INVALID only, a sentence naming the field
/// (never a secret) goes to err.
///
/// # Safety
/// config readable for config_len bytes; out writable; err writable for err_cap bytes.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_new(
    config: *const c_char,
    config_len: usize,
    out: *mut *mut usersync_wp,
    err: *mut c_char,
    err_cap: usize,
    err_len: *mut usize,
) -> usersync_result {
    guard(|| {
        if out.is_null() {
            return Err(Error::NullArgument);
        }
        let site = with_config_error(err, err_cap, err_len, || {
            WpSite::from_json(input(config, config_len)?).map_err(Into::into)
        })?;
        store(out, usersync_wp(site));
        Ok(())
    })
}

/// Releases a WordPress site handle and wipes its salts. NULL is a no-op.
///
/// # Safety
/// wp must be NULL or come from usersync_wp_new() and not be freed already.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_free(wp: *mut usersync_wp) {
    free(wp)
}

/// The site's cookie names as a library-allocated JSON object `{"auth": "wordpress_<md5 of
/// siteurl>", "secure_auth": "wordpress_sec_…", "logged_in": "wordpress_logged_in_…", "test":
/// "wordpress_test_cookie"}`, released with usersync_bytes_free().
///
/// # Safety
/// wp from usersync_wp_new(); out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_cookie_names(
    wp: *const usersync_wp,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let wp = &wp.as_ref().ok_or(Error::NullArgument)?.0;
        Allocated::new(out, out_len)?.give_json(&wp.cookie_names());
        Ok(())
    })
}

/// Makes the auth cookie value core would set (`login|expiration|token|hmac`) for scheme
/// (usersync_wp_scheme), the user's login and password hash (user_pass), an expiration (unix
/// seconds) and a session token (see usersync_wp_session_token_new(); store its verifier in the
/// user's session_tokens as core does). On success *out receives the library-allocated value,
/// released with usersync_bytes_free(). INVALID_ARGUMENT for an empty login or token, a '|' in
/// either, or a negative expiration.
///
/// # Safety
/// wp from usersync_wp_new(); inputs readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_cookie_generate(
    wp: *const usersync_wp,
    scheme_code: u32,
    login: *const c_char,
    login_len: usize,
    pass_hash: *const c_char,
    pass_hash_len: usize,
    expiration: i64,
    token: *const c_char,
    token_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let wp = &wp.as_ref().ok_or(Error::NullArgument)?.0;
        let out = Allocated::new(out, out_len)?;
        let cookie = wp.generate_cookie(
            scheme(scheme_code)?,
            text(input(login, login_len)?)?,
            text(input(pass_hash, pass_hash_len)?)?,
            expiration,
            text(input(token, token_len)?)?,
        )?;
        out.give(cookie.into_bytes());
        Ok(())
    })
}

/// Parses a cookie value without checking it, so the host can look its user up: on success
/// *out receives a library-allocated JSON object `{"login", "expiration", "token", "verifier"}`
/// (verifier = the session token's SHA-256, as stored in session_tokens), released with
/// usersync_bytes_free(). WP_COOKIE_MALFORMED for anything but `login|digits|token|64 hex`.
///
/// # Safety
/// cookie readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_cookie_parse(
    cookie: *const c_char,
    cookie_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let out = Allocated::new(out, out_len)?;
        let bytes = input(cookie, cookie_len)?;
        let c = Cookie::parse(std::str::from_utf8(bytes).map_err(|_| Error::WpCookieMalformed)?)?;
        let json = serde_json::json!({"login": c.login, "expiration": c.expiration, "token": c.token,
                                      "verifier": wordpress::session_verifier(&c.token)});
        out.give_json(&json);
        Ok(())
    })
}

/// Validates a cookie as wp_validate_auth_cookie() does, given the password hash (user_pass) of
/// the user its login names: OK, WP_COOKIE_MALFORMED, WP_COOKIE_EXPIRED (past its expiration,
/// or past the grace hour core gives POST and Ajax requests when grace is true) or
/// WP_COOKIE_INVALID (wrong HMAC: another scheme, site, user or password). The host then checks
/// the token's verifier against the user's session_tokens, as core does.
///
/// # Safety
/// wp from usersync_wp_new(); inputs readable as sized.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_cookie_validate(
    wp: *const usersync_wp,
    scheme_code: u32,
    cookie: *const c_char,
    cookie_len: usize,
    pass_hash: *const c_char,
    pass_hash_len: usize,
    grace: bool,
) -> usersync_result {
    guard(|| {
        let wp = &wp.as_ref().ok_or(Error::NullArgument)?.0;
        let cookie = std::str::from_utf8(input(cookie, cookie_len)?)
            .map_err(|_| Error::WpCookieMalformed)?;
        wp.validate_cookie(
            scheme(scheme_code)?,
            cookie,
            text(input(pass_hash, pass_hash_len)?)?,
            grace,
        )
        .map(drop)
    })
}

/// Characters in a session token: 43.
#[no_mangle]
pub extern "C" fn usersync_wp_session_token_len() -> usize {
    43
}

/// Writes a new session token (43 letters and digits from the OS CSPRNG, like core's) to out.
///
/// # Safety
/// out writable for out_cap bytes; out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_session_token_new(
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| Output::new(out, out_cap, out_len)?.write(wordpress::new_session_token()?.as_bytes()))
}

/// Characters in a session token's verifier: 64 (hex SHA-256).
#[no_mangle]
pub extern "C" fn usersync_wp_session_token_verifier_len() -> usize {
    64
}

/// Writes the session token's verifier, the 64 hex characters of its SHA-256 that core keys
/// session_tokens by, to out (out_cap ≥ usersync_wp_session_token_verifier_len()).
///
/// # Safety
/// token readable as sized; out writable for out_cap bytes; out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_session_token_verifier(
    token: *const c_char,
    token_len: usize,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let out = Output::new(out, out_cap, out_len)?;
        out.write(wordpress::session_verifier(text(input(token, token_len)?)?).as_bytes())
    })
}

/// Characters in a WordPress nonce: 10.
#[no_mangle]
pub extern "C" fn usersync_wp_nonce_len() -> usize {
    10
}

/// Writes the 10-character nonce wp_create_nonce() makes for action, user id uid (0 when
/// logged out) and the session token of the user's logged-in cookie (empty when none) to out
/// (out_cap ≥ usersync_wp_nonce_len()).
///
/// # Safety
/// wp from usersync_wp_new(); inputs readable as sized; out writable for out_cap bytes.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_nonce_create(
    wp: *const usersync_wp,
    action: *const c_char,
    action_len: usize,
    uid: i64,
    token: *const c_char,
    token_len: usize,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let wp = &wp.as_ref().ok_or(Error::NullArgument)?.0;
        let out = Output::new(out, out_cap, out_len)?;
        let nonce = wp.create_nonce(
            text(input(action, action_len)?)?,
            uid,
            text(input(token, token_len)?)?,
        );
        out.write(nonce.as_bytes())
    })
}

/// Verifies a nonce as wp_verify_nonce() does: OK with *age = 1 (made in the current half of
/// the nonce life) or 2 (the half before), else WP_NONCE_INVALID.
///
/// # Safety
/// wp from usersync_wp_new(); inputs readable as sized; age writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_nonce_verify(
    wp: *const usersync_wp,
    nonce: *const c_char,
    nonce_len: usize,
    action: *const c_char,
    action_len: usize,
    uid: i64,
    token: *const c_char,
    token_len: usize,
    age: *mut u32,
) -> usersync_result {
    guard(|| {
        let wp = &wp.as_ref().ok_or(Error::NullArgument)?.0;
        if age.is_null() {
            return Err(Error::NullArgument);
        }
        let nonce =
            std::str::from_utf8(input(nonce, nonce_len)?).map_err(|_| Error::WpNonceInvalid)?;
        let got = wp.verify_nonce(
            nonce,
            text(input(action, action_len)?)?,
            uid,
            text(input(token, token_len)?)?,
        )?;
        *age = u32::from(got);
        Ok(())
    })
}

/// Sorts a changed user meta key: *kind receives a usersync_wp_meta_kind (as uint32_t). Keys
/// are compared as bytes (WordPress's meta keys are case-sensitive; protected ones in any case).
///
/// # Safety
/// key readable as sized; kind writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_meta_classify(
    key: *const c_char,
    key_len: usize,
    kind: *mut u32,
) -> usersync_result {
    guard(|| {
        if kind.is_null() {
            return Err(Error::NullArgument);
        }
        let key = text(input(key, key_len)?)?;
        let code = match wordpress::meta_kind(key) {
            wordpress::MetaKind::Meta => usersync_wp_meta_kind::Meta,
            wordpress::MetaKind::ProfileField => usersync_wp_meta_kind::ProfileField,
            wordpress::MetaKind::Protected => usersync_wp_meta_kind::Protected,
        };
        *kind = code as u32;
        Ok(())
    })
}

/// The protocol's profile fields and WordPress's name for each (`WP_User` property and
/// `wp_update_user()` key) as a library-allocated JSON object `{"display_name": "display_name",
/// "nicename": "user_nicename", "url": "user_url", …}`, released with usersync_bytes_free().
///
/// # Safety
/// out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_wp_profile_fields(
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        Allocated::new(out, out_len)?.give_json(&wordpress::profile_fields_json());
        Ok(())
    })
}
