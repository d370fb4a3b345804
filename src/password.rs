//! Checking a user's password against a hash another host made (docs/protocol.md §17): a site
//! that received a WordPress hash (`$wp$2y$`, `$2y$`, phpass `$P$`) or a Django one
//! (`pbkdf2_sha256$`) checks its users' logins with it once, then stores a hash of its own.
//! Only verification: no host ever makes a foreign format.

use crate::Error;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{KeyInit, Mac};
use md5::{Digest, Md5};

/// Work factors a hash may ask for here: a peer-made hash must not make a login take minutes.
const MAX_BCRYPT_COST: u32 = 20;
const MAX_PBKDF2_ROUNDS: u32 = 5_000_000;
/// phpass refuses longer passwords (class-phpass.php), so WordPress never hashed one.
const MAX_PHPASS_PASSWORD: usize = 4096;

/// Whether `password` matches `hash`: `Ok(())`, `PasswordMismatch`, or `PassHashFormat` for a
/// hash this library cannot check (argon2, an unknown format, a work factor over the limits).
pub fn verify(password: &[u8], hash: &str) -> Result<(), Error> {
    let matched = if let Some(bcrypt_hash) = hash.strip_prefix("$wp") {
        // WordPress 6.8: bcrypt over base64(HMAC-SHA384("wp-sha384", password)).
        let mut pre = <hmac::Hmac<sha2::Sha384>>::new_from_slice(b"wp-sha384").expect("any key");
        pre.update(password);
        bcrypt(
            STANDARD.encode(pre.finalize().into_bytes()).as_bytes(),
            bcrypt_hash,
        )?
    } else if hash.starts_with("$2") {
        bcrypt(password, hash)?
    } else if hash.starts_with("$P$") || hash.starts_with("$H$") {
        phpass(password, hash)?
    } else if let Some(rest) = hash.strip_prefix("pbkdf2_sha256$") {
        pbkdf2_sha256(password, rest)?
    } else {
        return Err(Error::PassHashFormat);
    };
    if matched {
        Ok(())
    } else {
        Err(Error::PasswordMismatch)
    }
}

fn bcrypt(password: &[u8], hash: &str) -> Result<bool, Error> {
    let b = hash.as_bytes();
    let cost = (b.len() == 60 && b[4].is_ascii_digit() && b[5].is_ascii_digit())
        .then(|| u32::from(b[4] - b'0') * 10 + u32::from(b[5] - b'0'));
    if !crate::pass_hash::is_password_hash(hash) || cost.is_none_or(|c| c > MAX_BCRYPT_COST) {
        return Err(Error::PassHashFormat);
    }
    ::bcrypt::verify(password, hash).map_err(|_| Error::PassHashFormat)
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// phpass's portable hash (WordPress before 6.8): `$P$`, a cost character, 8 salt characters,
/// then md5(salt ‖ password) re-hashed with the password 2^cost times, in phpass's base64.
fn phpass(password: &[u8], hash: &str) -> Result<bool, Error> {
    let b = hash.as_bytes();
    if b.len() != 34 || password.len() > MAX_PHPASS_PASSWORD {
        return Err(Error::PassHashFormat);
    }
    let log2 = ITOA64
        .iter()
        .position(|&c| c == b[3])
        .ok_or(Error::PassHashFormat)?;
    if !(7..=30).contains(&log2) {
        return Err(Error::PassHashFormat);
    }
    let mut h = Md5::new()
        .chain_update(&b[4..12])
        .chain_update(password)
        .finalize();
    for _ in 0..(1u32 << log2) {
        h = Md5::new().chain_update(h).chain_update(password).finalize();
    }
    let mut want = b[..12].to_vec();
    want.extend(phpass_encode64(&h));
    Ok(crate::ct::eq(&want, b))
}

/// phpass's base64 of a 16-byte digest (little-endian groups of three, its own alphabet).
fn phpass_encode64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(22);
    for chunk in input.chunks(3) {
        let value = chunk
            .iter()
            .rev()
            .fold(0u32, |v, &x| (v << 8) | u32::from(x));
        for i in 0..=chunk.len() {
            out.push(ITOA64[((value >> (6 * i)) & 0x3f) as usize]);
        }
    }
    out
}

/// Django's `pbkdf2_sha256$<rounds>$<salt>$<base64 of the 32-byte PBKDF2-HMAC-SHA256>`.
fn pbkdf2_sha256(password: &[u8], rest: &str) -> Result<bool, Error> {
    let mut parts = rest.splitn(3, '$');
    let (Some(rounds), Some(salt), Some(want)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::PassHashFormat);
    };
    let rounds: u32 = rounds.parse().map_err(|_| Error::PassHashFormat)?;
    let want = STANDARD.decode(want).map_err(|_| Error::PassHashFormat)?;
    if rounds == 0 || rounds > MAX_PBKDF2_ROUNDS || want.len() != 32 || salt.is_empty() {
        return Err(Error::PassHashFormat);
    }
    let mut got = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt.as_bytes(), rounds, &mut got);
    Ok(crate::ct::eq(&got, &want))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes real WordPress 6.8 and 6.1 and Django 5.2 made, with their own verdicts
    /// (`tests/wordpress/passwords.php`, `tests/vectors/django_passwords.py`).
    #[test]
    fn answers_as_the_hosts_that_made_the_hashes() {
        let (mut seen, mut matched) = (0, 0);
        for file in [
            "passwords-wordpress-6.8.json",
            "passwords-wordpress-6.1.json",
            "passwords-django.json",
        ] {
            let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            for c in v["cases"].as_array().unwrap() {
                let (password, hash) =
                    (c["password"].as_str().unwrap(), c["hash"].as_str().unwrap());
                let want = if c["matches"].as_bool().unwrap() {
                    Ok(())
                } else {
                    Err(Error::PasswordMismatch)
                };
                assert_eq!(
                    verify(password.as_bytes(), hash),
                    want,
                    "{} {password:?}",
                    c["made_by"]
                );
                seen += 1;
                matched += usize::from(want.is_ok());
            }
        }
        assert!(
            seen >= 50 && matched >= 20,
            "{seen} cases, {matched} matches"
        );
    }

    #[test]
    fn phpass_encoding_of_known_digests() {
        // encode64 of 16 zero bytes is 22 '.' characters (the alphabet's first).
        assert_eq!(phpass_encode64(&[0u8; 16]), vec![b'.'; 22]);
        assert_eq!(phpass_encode64(&[0xff; 16]).len(), 22);
    }

    #[test]
    fn unverifiable_hashes_say_so() {
        assert_eq!(verify(b"x", "plain"), Err(Error::PassHashFormat));
        assert_eq!(
            verify(
                b"x",
                "$argon2id$v=19$m=65536,t=4,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
            ),
            Err(Error::PassHashFormat)
        );
        let slow = "pbkdf2_sha256$99999999$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(verify(b"x", slow), Err(Error::PassHashFormat));
        let costly = "$2y$31$abcdefghijklmnopqrstuuAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(verify(b"x", costly), Err(Error::PassHashFormat));
    }
}
