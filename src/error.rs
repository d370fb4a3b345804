//! Every way a usersync call can fail, with a stable numeric code.
//!
//! Codes are grouped by area (1xx secrets, 2xx envelopes, …). A retired code is never reused:
//! hosts store and compare them. The C ABI exposes the same numbers as `usersync_result`.

use std::ffi::CStr;
use std::fmt;

/// A usersync failure. `code()` is stable across versions; `message()` is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Error {
    // General (1–99)
    NullArgument = 1,
    InvalidArgument = 2,
    BufferTooSmall = 3,
    Panic = 4,
    RandomUnavailable = 5,

    // Link secrets (100–199)
    SecretPrefix = 100,
    SecretLength = 101,
    SecretEncoding = 102,
    SecretAllZero = 103,
    NoSecrets = 104,
    TooManySecrets = 105,
    DuplicateSecret = 106,

    // Envelopes (200–299)
    TooLarge = 200,
    MalformedEncoding = 201,
    MalformedEnvelope = 202,
    UnsupportedVersion = 203,
    /// Unknown key id, bad tag, bad padding: deliberately one answer (no key or padding oracle).
    AuthenticationFailed = 204,

    // Configuration (300–399); the detail names the field, e.g. `peers[1].secrets[0]: …`.
    ConfigInvalid = 300,
    UnknownPeer = 301,

    // Messages and policy (400–499)
    MalformedJson = 400,
    ClaimsInvalid = 401,
    WrongSite = 402,
    Expired = 403,
    NotYetValid = 404,
    LifetimeTooLong = 405,
    IpNotAllowed = 406,
    UnknownAction = 407,
    ActionNotAccepted = 408,
    DataInvalid = 409,
    UnknownField = 410,
    PrivilegedRole = 411,
    ProtectedMeta = 412,
    PassHashFormat = 413,
    ReturnUrlRefused = 414,
    ActionNotSent = 415,
    /// A ticket posted by another browser than the one it was minted for (login CSRF).
    WrongBrowser = 416,

    // WordPress cookies and nonces (500–599)
    WpCookieMalformed = 500,
    WpCookieExpired = 501,
    WpCookieInvalid = 502,
    WpNonceInvalid = 503,

    // Identity: which local account a peer's message may touch (600–699)
    IdentityConflict = 600,
    ProtectedAccount = 601,
    UnknownAccount = 602,
}

impl Error {
    /// Every variant, for tables and tests.
    pub const ALL: &'static [Error] = &[
        Error::NullArgument,
        Error::InvalidArgument,
        Error::BufferTooSmall,
        Error::Panic,
        Error::RandomUnavailable,
        Error::SecretPrefix,
        Error::SecretLength,
        Error::SecretEncoding,
        Error::SecretAllZero,
        Error::NoSecrets,
        Error::TooManySecrets,
        Error::DuplicateSecret,
        Error::TooLarge,
        Error::MalformedEncoding,
        Error::MalformedEnvelope,
        Error::UnsupportedVersion,
        Error::AuthenticationFailed,
        Error::ConfigInvalid,
        Error::UnknownPeer,
        Error::MalformedJson,
        Error::ClaimsInvalid,
        Error::WrongSite,
        Error::Expired,
        Error::NotYetValid,
        Error::LifetimeTooLong,
        Error::IpNotAllowed,
        Error::UnknownAction,
        Error::ActionNotAccepted,
        Error::DataInvalid,
        Error::UnknownField,
        Error::PrivilegedRole,
        Error::ProtectedMeta,
        Error::PassHashFormat,
        Error::ReturnUrlRefused,
        Error::ActionNotSent,
        Error::WrongBrowser,
        Error::WpCookieMalformed,
        Error::WpCookieExpired,
        Error::WpCookieInvalid,
        Error::WpNonceInvalid,
        Error::IdentityConflict,
        Error::ProtectedAccount,
        Error::UnknownAccount,
    ];

    /// The stable numeric code.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The variant with this code, if any.
    pub fn from_code(code: u32) -> Option<Error> {
        Error::ALL.iter().copied().find(|e| e.code() == code)
    }

    /// A short snake_case name, used in test vectors and logs.
    pub fn name(self) -> &'static str {
        self.name_c().to_str().expect("names are ASCII")
    }

    /// The name as a NUL-terminated string, for the C ABI.
    pub fn name_c(self) -> &'static CStr {
        match self {
            Error::NullArgument => c"null_argument",
            Error::InvalidArgument => c"invalid_argument",
            Error::BufferTooSmall => c"buffer_too_small",
            Error::Panic => c"panic",
            Error::RandomUnavailable => c"random_unavailable",
            Error::SecretPrefix => c"secret_prefix",
            Error::SecretLength => c"secret_length",
            Error::SecretEncoding => c"secret_encoding",
            Error::SecretAllZero => c"secret_all_zero",
            Error::NoSecrets => c"no_secrets",
            Error::TooManySecrets => c"too_many_secrets",
            Error::DuplicateSecret => c"duplicate_secret",
            Error::TooLarge => c"too_large",
            Error::MalformedEncoding => c"malformed_encoding",
            Error::MalformedEnvelope => c"malformed_envelope",
            Error::UnsupportedVersion => c"unsupported_version",
            Error::AuthenticationFailed => c"authentication_failed",
            Error::ConfigInvalid => c"config_invalid",
            Error::UnknownPeer => c"unknown_peer",
            Error::MalformedJson => c"malformed_json",
            Error::ClaimsInvalid => c"claims_invalid",
            Error::WrongSite => c"wrong_site",
            Error::Expired => c"expired",
            Error::NotYetValid => c"not_yet_valid",
            Error::LifetimeTooLong => c"lifetime_too_long",
            Error::IpNotAllowed => c"ip_not_allowed",
            Error::UnknownAction => c"unknown_action",
            Error::ActionNotAccepted => c"action_not_accepted",
            Error::DataInvalid => c"data_invalid",
            Error::UnknownField => c"unknown_field",
            Error::PrivilegedRole => c"privileged_role",
            Error::ProtectedMeta => c"protected_meta",
            Error::PassHashFormat => c"pass_hash_format",
            Error::ReturnUrlRefused => c"return_url_refused",
            Error::ActionNotSent => c"action_not_sent",
            Error::WrongBrowser => c"wrong_browser",
            Error::WpCookieMalformed => c"wp_cookie_malformed",
            Error::WpCookieExpired => c"wp_cookie_expired",
            Error::WpCookieInvalid => c"wp_cookie_invalid",
            Error::WpNonceInvalid => c"wp_nonce_invalid",
            Error::IdentityConflict => c"identity_conflict",
            Error::ProtectedAccount => c"protected_account",
            Error::UnknownAccount => c"unknown_account",
        }
    }

    /// What went wrong and, where the caller can act, what to do about it.
    pub fn message(self) -> &'static str {
        self.message_c().to_str().expect("messages are ASCII")
    }

    /// The message as a NUL-terminated string, for the C ABI.
    pub fn message_c(self) -> &'static CStr {
        match self {
            Error::NullArgument => c"a required pointer argument was NULL",
            Error::InvalidArgument => c"an argument was out of range",
            Error::BufferTooSmall => c"the output buffer is too small: size it with the matching _len function",
            Error::Panic => c"internal error in usersync (a panic was caught); please report it",
            Error::RandomUnavailable => c"the operating system's random number generator failed",
            Error::SecretPrefix => c"a link secret must start with \"usk1_\"",
            Error::SecretLength => c"a link secret must be \"usk1_\" followed by exactly 43 base64url characters (32 bytes)",
            Error::SecretEncoding => c"a link secret must use only base64url characters (A-Z a-z 0-9 - _), without padding",
            Error::SecretAllZero => c"a link secret must not be all zero bytes: generate one with `usersync secret`",
            Error::NoSecrets => c"a link needs at least one secret",
            Error::TooManySecrets => c"a link holds at most 3 secrets (one sealing, two for rotation)",
            Error::DuplicateSecret => c"the same secret (key id) is listed twice for one link",
            Error::TooLarge => c"the message is larger than the configured maximum size",
            Error::MalformedEncoding => c"the message is not canonical unpadded base64url",
            Error::MalformedEnvelope => c"the message is too short or its length is not that of a usersync envelope",
            Error::UnsupportedVersion => c"the message has an unsupported protocol version",
            Error::AuthenticationFailed => c"authentication failed",
            Error::ConfigInvalid => c"invalid usersync configuration",
            Error::UnknownPeer => c"no peer with this id is configured",
            Error::MalformedJson => c"the message or input is not a UTF-8 JSON object within the size and depth limits",
            Error::ClaimsInvalid => c"the message claims are missing, mistyped or unknown (v, typ, iss, aud, iat, exp, jti, act, data)",
            Error::WrongSite => c"the message names another sender or receiver than the link it was sealed for",
            Error::Expired => c"the message has expired: check that both sites' clocks are right (NTP) and that deliveries are not delayed",
            Error::NotYetValid => c"the message was issued in the future: the sender's clock is ahead by more than the allowed skew",
            Error::LifetimeTooLong => c"the message lifetime (exp - iat) is negative or over the limit (300 s for actions, 120 s for tickets)",
            Error::IpNotAllowed => c"the request comes from an IP address outside this peer's ip_allow list",
            Error::UnknownAction => c"unknown action, or an action not valid for this message type",
            Error::ActionNotAccepted => c"this peer is not allowed to send this action: add it to the peer's accept.actions if intended",
            Error::DataInvalid => c"the action data does not match its schema (a field is missing, mistyped or out of bounds)",
            Error::UnknownField => c"the action data has a field the protocol does not define",
            Error::PrivilegedRole => c"a privileged role was sent by a peer whose accept policy does not name it with allow_privileged",
            Error::ProtectedMeta => c"a protected meta key (capabilities, user level, session tokens, usersync's own) was sent: never accepted",
            Error::PassHashFormat => c"pass_hash is not a recognised password hash format: passwords travel as hashes only",
            Error::ReturnUrlRefused => c"the return URL is not on this site or a configured peer (same scheme, host and port)",
            Error::ActionNotSent => c"this site's send policy for that peer does not include this action: add it to the peer's send.actions if intended",
            Error::WrongBrowser => c"the login ticket was minted for another browser (its binding cookie is missing or different)",
            Error::WpCookieMalformed => c"not a WordPress auth cookie (login|expiration|token|hmac)",
            Error::WpCookieExpired => c"the WordPress auth cookie has expired",
            Error::WpCookieInvalid => c"the WordPress auth cookie does not verify (other scheme, salts, user or password)",
            Error::WpNonceInvalid => c"the WordPress nonce is invalid or older than the nonce life",
            Error::IdentityConflict => c"the login or email belongs to a local account that is not linked to this uid: nothing was merged (link existing accounts with the initial sync)",
            Error::ProtectedAccount => c"the account holds a role this peer's accept policy may not grant (e.g. an administrator): peers cannot change it",
            Error::UnknownAccount => c"no local account is linked to this uid: nothing was changed",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_round_trip() {
        let codes: HashSet<u32> = Error::ALL.iter().map(|e| e.code()).collect();
        let names: HashSet<&str> = Error::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(codes.len(), Error::ALL.len());
        assert_eq!(names.len(), Error::ALL.len());
        for e in Error::ALL {
            assert_eq!(Error::from_code(e.code()), Some(*e));
            assert!(!e.message().is_empty());
        }
        assert_eq!(Error::from_code(0), None);
    }
}
