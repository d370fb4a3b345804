//! The one result-code enum of the C ABI, the version, and descriptions of codes.

use crate::error::Error;
use std::ffi::{c_char, CStr};

/// The result of every fallible usersync call. Codes are grouped by area (1xx secrets, 2xx
/// envelopes, 3xx configuration, 4xx messages, policy and tickets, 5xx WordPress cookies and
/// nonces, 6xx the accounts a peer's message may touch, 7xx passwords); a retired code is
/// never reused.
/// usersync_result_name() and usersync_result_message() describe each.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum usersync_result {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An argument was out of range.
    InvalidArgument = 2,
    /// The output buffer is too small; nothing was written.
    BufferTooSmall = 3,
    /// A bug inside the library was caught; nothing was written.
    Panic = 4,
    /// The operating system's random number generator failed.
    RandomUnavailable = 5,
    /// A link secret does not start with "usk1_".
    SecretPrefix = 100,
    /// A link secret is not "usk1_" plus 43 characters.
    SecretLength = 101,
    /// A link secret is not canonical unpadded base64url.
    SecretEncoding = 102,
    /// A link secret is all zero bytes.
    SecretAllZero = 103,
    /// A link has no secret.
    NoSecrets = 104,
    /// A link has more than 3 secrets.
    TooManySecrets = 105,
    /// A link lists the same secret twice.
    DuplicateSecret = 106,
    /// The message is larger than the configured maximum.
    TooLarge = 200,
    /// The message is not canonical unpadded base64url.
    MalformedEncoding = 201,
    /// The message is too short or has an impossible length.
    MalformedEnvelope = 202,
    /// The message has an unsupported protocol version.
    UnsupportedVersion = 203,
    /// Authentication failed (unknown key id, wrong tag or padding: deliberately one answer).
    AuthenticationFailed = 204,
    /// The configuration is invalid; the error detail names the field.
    ConfigInvalid = 300,
    /// No peer with this id is configured.
    UnknownPeer = 301,
    /// Not a UTF-8 JSON object within the size and depth limits.
    MalformedJson = 400,
    /// Claims missing, mistyped or unknown.
    ClaimsInvalid = 401,
    /// iss/aud do not match the link the message was sealed for.
    WrongSite = 402,
    /// The message has expired.
    Expired = 403,
    /// The message was issued in the future (beyond the clock skew).
    NotYetValid = 404,
    /// exp - iat is negative or over the limit.
    LifetimeTooLong = 405,
    /// The remote IP is outside the peer's ip_allow list.
    IpNotAllowed = 406,
    /// Unknown action, or not valid for this message type.
    UnknownAction = 407,
    /// The peer's accept policy does not take this action.
    ActionNotAccepted = 408,
    /// The action data does not match its schema.
    DataInvalid = 409,
    /// The action data has a field the protocol does not define.
    UnknownField = 410,
    /// A privileged role without explicit permission.
    PrivilegedRole = 411,
    /// A protected meta key (never accepted).
    ProtectedMeta = 412,
    /// pass_hash is not a recognised password hash.
    PassHashFormat = 413,
    /// The return URL is not on this site or a configured peer.
    ReturnUrlRefused = 414,
    /// This site's send policy for the peer does not include the action.
    ActionNotSent = 415,
    /// A login ticket posted by another browser than the one it was minted for.
    WrongBrowser = 416,
    /// Not a WordPress auth cookie (login|expiration|token|hmac).
    WpCookieMalformed = 500,
    /// The WordPress auth cookie has expired.
    WpCookieExpired = 501,
    /// The WordPress auth cookie does not verify.
    WpCookieInvalid = 502,
    /// The WordPress nonce is invalid or too old.
    WpNonceInvalid = 503,
    /// The login or email belongs to a local account not linked to this uid (nothing merged).
    IdentityConflict = 600,
    /// The account holds a role the peer's accept policy may not grant.
    ProtectedAccount = 601,
    /// No local account is linked to this uid.
    UnknownAccount = 602,
    /// The initial sync: the login belongs to another account there.
    LoginTaken = 603,
    /// The initial sync: the email belongs to another account there.
    EmailTaken = 604,
    /// The initial sync: the matching account there is linked to another uid.
    LinkedElsewhere = 605,
    /// The initial sync: a privileged account the send policy does not name exactly.
    PrivilegedNotSent = 606,
    /// The initial sync: this site would not take the login or email for a new account as they are.
    InvalidAccount = 607,
    /// The password does not match the hash.
    PasswordMismatch = 700,
}

/// The conversion, generated from the one table in src/error.rs: a code missing from the enum
/// above does not compile.
macro_rules! from_error {
    ($($variant:ident),*) => {
        impl From<Error> for usersync_result {
            fn from(e: Error) -> Self {
                match e {
                    $(Error::$variant => usersync_result::$variant,)*
                }
            }
        }
    };
}
crate::error::each_code!(from_error);

/// The library version, e.g. "0.1.0", as a static NUL-terminated string (never freed).
/// Hosts refuse a library whose version they were not written for.
#[no_mangle]
pub extern "C" fn usersync_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("version has no NUL"),
        };
    VERSION.as_ptr()
}

/// A sentence describing result `code`, as a static NUL-terminated string (never freed).
/// Unknown codes get "unknown result code"; USERSYNC_RESULT_OK gets "ok".
#[no_mangle]
pub extern "C" fn usersync_result_message(code: u32) -> *const c_char {
    match code {
        0 => c"ok",
        _ => Error::from_code(code).map_or(c"unknown result code", Error::message_c),
    }
    .as_ptr()
}

/// The snake_case name of result `code` (e.g. "authentication_failed", as used in the test
/// vectors), as a static NUL-terminated string (never freed). Unknown codes get "unknown".
#[no_mangle]
pub extern "C" fn usersync_result_name(code: u32) -> *const c_char {
    match code {
        0 => c"ok",
        _ => Error::from_code(code).map_or(c"unknown", Error::name_c),
    }
    .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_keeps_its_code_across_the_abi() {
        for e in Error::ALL {
            assert_eq!(usersync_result::from(*e) as u32, e.code(), "{e:?}");
            let name = unsafe { CStr::from_ptr(usersync_result_name(e.code())) };
            assert_eq!(name.to_str().unwrap(), e.name());
        }
        let unknown = unsafe { CStr::from_ptr(usersync_result_message(9999)) };
        assert_eq!(unknown, c"unknown result code");
    }
}
