//! Every way a usersync call can fail: one table of stable numeric codes, snake_case names (test
//! vectors, logs, the PHP binding's `reason`) and messages for people, from which the enum, its
//! list and its lookups are generated.
//!
//! Codes are grouped by area (1xx secrets, 2xx envelopes, …). A retired code is never reused:
//! hosts store and compare them. The C ABI exposes the same numbers as `usersync_result`
//! (src/ffi/result.rs, written out for cbindgen; a test keeps it equal to this table).

use std::ffi::CStr;
use std::fmt;

macro_rules! codes {
    (($d:tt) $($(#[$doc:meta])* $variant:ident = $code:literal, $name:literal, $message:literal;)*) => {
        /// A usersync failure. `code()` is stable across versions; `message()` is for people.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum Error {
            $($(#[$doc])* $variant = $code,)*
        }

        impl Error {
            /// Every variant, for tables and tests.
            pub const ALL: &'static [Error] = &[$(Error::$variant,)*];

            /// The name as a NUL-terminated string, for the C ABI.
            pub fn name_c(self) -> &'static CStr {
                match self {
                    $(Error::$variant => match CStr::from_bytes_with_nul(concat!($name, "\0").as_bytes()) {
                        Ok(s) => s,
                        Err(_) => unreachable!(),
                    },)*
                }
            }

            /// The message as a NUL-terminated string, for the C ABI.
            pub fn message_c(self) -> &'static CStr {
                match self {
                    $(Error::$variant => match CStr::from_bytes_with_nul(concat!($message, "\0").as_bytes()) {
                        Ok(s) => s,
                        Err(_) => unreachable!(),
                    },)*
                }
            }
        }

        /// Calls `callback!(Variant, …)` with every variant of the table, so a list that must
        /// be written out elsewhere (the C enum, for cbindgen) is checked against it.
        macro_rules! each_code {
            ($d callback:ident) => {
                $d callback!($($variant),*);
            };
        }
        pub(crate) use each_code;
    };
}

codes! { ($)
    // General (1–99)
    NullArgument = 1, "null_argument", "a required pointer argument was NULL";
    InvalidArgument = 2, "invalid_argument", "an argument was out of range";
    BufferTooSmall = 3, "buffer_too_small", "the output buffer is too small: size it with the matching _len function";
    Panic = 4, "panic", "internal error in usersync (a panic was caught); please report it";
    RandomUnavailable = 5, "random_unavailable", "the operating system's random number generator failed";
    // Link secrets (100–199)
    SecretPrefix = 100, "secret_prefix", "a link secret must start with \"usk1_\"";
    SecretLength = 101, "secret_length", "a link secret must be \"usk1_\" followed by exactly 43 base64url characters (32 bytes)";
    SecretEncoding = 102, "secret_encoding", "a link secret must use only base64url characters (A-Z a-z 0-9 - _), without padding";
    SecretAllZero = 103, "secret_all_zero", "a link secret must not be all zero bytes: make one with `usersync secret` or the plugin's settings page";
    NoSecrets = 104, "no_secrets", "a link needs at least one secret";
    TooManySecrets = 105, "too_many_secrets", "a link holds at most 3 secrets (one sealing, two for rotation)";
    DuplicateSecret = 106, "duplicate_secret", "the same secret (key id) is listed twice for one link";
    // Envelopes (200–299)
    TooLarge = 200, "too_large", "the message is larger than the configured maximum size";
    MalformedEncoding = 201, "malformed_encoding", "the message is not canonical unpadded base64url";
    MalformedEnvelope = 202, "malformed_envelope", "the message is too short or its length is not that of a usersync envelope";
    UnsupportedVersion = 203, "unsupported_version", "the message has an unsupported protocol version";
    AuthenticationFailed = 204, "authentication_failed", "authentication failed";
    // Configuration (300–399); the detail names the field, e.g. `peers[1].secrets[0]: …`
    ConfigInvalid = 300, "config_invalid", "invalid usersync configuration";
    UnknownPeer = 301, "unknown_peer", "no peer with this id is configured";
    // Messages and policy (400–499)
    MalformedJson = 400, "malformed_json", "the message or input is not a UTF-8 JSON object within the size and depth limits";
    ClaimsInvalid = 401, "claims_invalid", "the message claims are missing, mistyped or unknown (v, typ, iss, aud, iat, exp, jti, eid for actions, act, data)";
    WrongSite = 402, "wrong_site", "the message names another sender or receiver than the link it was sealed for";
    Expired = 403, "expired", "the message has expired: check that both sites' clocks are right (NTP) and that deliveries are not delayed";
    NotYetValid = 404, "not_yet_valid", "the message was issued in the future: the sender's clock is ahead by more than the allowed skew";
    LifetimeTooLong = 405, "lifetime_too_long", "the message lifetime (exp - iat) is negative or over the limit (300 s for actions, 120 s for tickets)";
    IpNotAllowed = 406, "ip_not_allowed", "the request comes from an IP address outside this peer's ip_allow list";
    UnknownAction = 407, "unknown_action", "unknown action, or an action not valid for this message type";
    ActionNotAccepted = 408, "action_not_accepted", "this peer is not allowed to send this action: add it to the peer's accept.actions if intended";
    DataInvalid = 409, "data_invalid", "the action data does not match its schema (a field is missing, mistyped or out of bounds)";
    UnknownField = 410, "unknown_field", "the action data has a field the protocol does not define";
    PrivilegedRole = 411, "privileged_role", "a privileged role was sent by a peer whose accept policy does not name it with allow_privileged";
    ProtectedMeta = 412, "protected_meta", "a protected meta key (capabilities, user level, session tokens, usersync's own) was sent: never accepted";
    PassHashFormat = 413, "pass_hash_format", "pass_hash is not a recognised password hash format: passwords travel as hashes only";
    ReturnUrlRefused = 414, "return_url_refused", "the return URL is not on this site or a configured peer (same scheme, host and port)";
    ActionNotSent = 415, "action_not_sent", "this site's send policy for that peer does not include this action: add it to the peer's send.actions if intended";
    WrongBrowser = 416, "wrong_browser", "the login ticket was minted for another browser (its binding cookie is missing or different)";
    // WordPress cookies and nonces (500–599)
    WpCookieMalformed = 500, "wp_cookie_malformed", "not a WordPress auth cookie (login|expiration|token|hmac)";
    WpCookieExpired = 501, "wp_cookie_expired", "the WordPress auth cookie has expired";
    WpCookieInvalid = 502, "wp_cookie_invalid", "the WordPress auth cookie does not verify (other scheme, salts, user or password)";
    WpNonceInvalid = 503, "wp_nonce_invalid", "the WordPress nonce is invalid or older than the nonce life";
    // Identity: which local account a peer's message may touch (600–699)
    IdentityConflict = 600, "identity_conflict", "the login or email belongs to a local account that is not linked to this uid: nothing was merged (link existing accounts with the initial sync)";
    ProtectedAccount = 601, "protected_account", "the account holds a role this peer's accept policy may not grant (e.g. an administrator): peers cannot change it";
    UnknownAccount = 602, "unknown_account", "no local account is linked to this uid: nothing was changed";
    LoginTaken = 603, "login_taken", "the login belongs to another account there (its email differs): nothing is merged";
    EmailTaken = 604, "email_taken", "the email belongs to another account there (its login differs): nothing is merged";
    LinkedElsewhere = 605, "linked_elsewhere", "the matching account there is already linked to another network identity: nothing is merged";
    InvalidAccount = 607, "invalid_account", "this site would not take the login or email for a new account as they are (its own rules for user names and addresses): nothing was created";
    PrivilegedNotSent = 606, "privileged_not_sent", "the account holds a privileged role this site's send policy does not name exactly: the initial sync leaves it alone";
    // Passwords checked against a hash another host made (700–799)
    PasswordMismatch = 700, "password_mismatch", "the password does not match the hash";
}

impl Error {
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

    /// What went wrong and, where the caller can act, what to do about it.
    pub fn message(self) -> &'static str {
        self.message_c().to_str().expect("messages are ASCII")
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
