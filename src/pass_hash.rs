//! Passwords travel as hashes only: `pass_hash` must be a password hash format that WordPress or
//! PHP's `password_verify` understands, checked strictly enough that no plaintext passes.

/// The characters of crypt(3)-style base64 (phpass and bcrypt).
fn crypt64(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

/// Standard base64 without padding, as argon2 uses for salt and hash.
fn b64_nopad(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// phpass portable hash as WordPress stores it: `$P$` (or phpBB's `$H$`), one cost character,
/// 8 salt characters, 22 hash characters.
fn phpass(s: &str) -> bool {
    (s.starts_with("$P$") || s.starts_with("$H$")) && s.len() == 34 && crypt64(&s[3..])
}

/// bcrypt: `$2y$` / `$2a$` / `$2b$`, a two-digit cost 04–31, `$`, 22 salt + 31 hash characters.
fn bcrypt(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 60
        && (s.starts_with("$2y$") || s.starts_with("$2a$") || s.starts_with("$2b$"))
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && (4..=31).contains(&((b[4] - b'0') * 10 + (b[5] - b'0')))
        && b[6] == b'$'
        && crypt64(&s[7..])
}

/// argon2i / argon2id in PHP's PHC string form: `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
fn argon2(s: &str) -> bool {
    let parts: Vec<&str> = s.split('$').collect();
    let [empty, alg, version, params, salt, hash] = parts.as_slice() else {
        return false;
    };
    let number = |v: &str| !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit());
    let params_ok = {
        let p: Vec<&str> = params.split(',').collect();
        p.len() == 3
            && p[0].strip_prefix("m=").is_some_and(number)
            && p[1].strip_prefix("t=").is_some_and(number)
            && p[2].strip_prefix("p=").is_some_and(number)
    };
    empty.is_empty()
        && (*alg == "argon2id" || *alg == "argon2i")
        && version.strip_prefix("v=").is_some_and(number)
        && params_ok
        && b64_nopad(salt)
        && salt.len() >= 11
        && b64_nopad(hash)
        && hash.len() >= 22
}

/// Django's default: `pbkdf2_sha256$<rounds>$<salt>$<44 characters of base64>` (32 bytes).
fn pbkdf2_sha256(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("pbkdf2_sha256$") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('$').collect();
    let [rounds, salt, hash] = parts.as_slice() else {
        return false;
    };
    !rounds.is_empty()
        && rounds.len() <= 10
        && rounds.bytes().all(|b| b.is_ascii_digit())
        && (1..=128).contains(&salt.len())
        && salt.bytes().all(|b| b.is_ascii_alphanumeric())
        && hash.len() == 44
        && hash.ends_with('=')
        && b64_nopad(&hash[..43])
}

/// True when `s` is a recognised password hash: phpass (`$P$`), bcrypt (`$2y$`, `$2a$`, `$2b$`),
/// argon2 (`$argon2id$`, `$argon2i$`), WordPress 6.8's `$wp`-prefixed bcrypt or argon2, or
/// Django's `pbkdf2_sha256$`.
pub fn is_password_hash(s: &str) -> bool {
    let inner = s.strip_prefix("$wp").unwrap_or(s);
    phpass(s) || bcrypt(inner) || argon2(inner) || pbkdf2_sha256(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_hashes() {
        // From PHP 8.2's password_hash() and WordPress 6.8 / 6.1's wp_hash_password().
        for h in [
            "$P$BhnEt5cXZQcN1PmY3Qy7pA6ZqXnCHj/",
            "$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW",
            "$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW",
            "$2b$12$abcdefghijklmnopqrstuuOSmqZ7U8EJ9h8n8e0Zm3kqg6/3Z9aXy",
            "$argon2id$v=19$m=65536,t=4,p=1$ZmFrZXNhbHRmYWtlc2FsdA$Qq3xQXnO7lY0s8g1h2Jk4m5N6b7V8c9X0z1A2s3D4f5",
            "pbkdf2_sha256$1000000$Yw6p0dTnRSmBJ2hkuqhUUE$2WcUV2jSWTXZn0xCR0sRfNo7MYypHPz0A3NFt8sX8oo=",
        ] {
            assert!(is_password_hash(h), "{h}");
        }
    }

    #[test]
    fn refuses_anything_that_could_be_a_plaintext() {
        for p in [
            "",
            "hunter2",
            "correct horse battery staple",
            "$P$short",
            "$P$BhnEt5cXZQcN1PmY3Qy7pA6ZqXnCHj/x",
            "$P$BhnEt5cXZQcN1PmY3Qy7pA6ZqXnCH j",
            "5f4dcc3b5aa765d61d8327deb882cf99", // bare MD5: could be a 32-character password
            "$2y$99$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW",
            "$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1x",
            "$2x$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW",
            "$wp$P$BhnEt5cXZQcN1PmY3Qy7pA6ZqXnCHj/",
            "$argon2id$v=19$m=65536,t=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=65536,t=4,p=1$salt$hash",
            "$argon2d$v=19$m=65536,t=4,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "pbkdf2_sha256$1000000$salt$short=",
            "pbkdf2_sha256$$salt$2WcUV2jSWTXZn0xCR0sRfNo7MYypHPz0A3NFt8sX8oo=",
            "pbkdf2_sha1$1000000$salt$2WcUV2jSWTXZn0xCR0sRfNo7MYypHPz0A3NFt8sX8oo=",
        ] {
            assert!(!is_password_hash(p), "{p}");
        }
    }
}
