//! Seal and open at 64 B, 1 KiB and 64 KiB: usersync against OpenSSL in the same run.
//!
//! Both sides do the same work per message: draw a random IV, AES-256-CBC with PKCS#7, and
//! HMAC-SHA256 over `ver ‖ kid ‖ iv ‖ ct ‖ aad ‖ len(aad)`; open verifies the tag (constant
//! time) and decrypts. OpenSSL gets its best case too: key schedule and keyed HMAC prepared once,
//! contexts re-initialised per message, output written into the caller's buffer. The OpenSSL
//! envelope is checked to open with usersync, so both really produce the protocol's bytes.
//!
//! What each column is:
//! - "rust": the Rust API on the binary envelope (`Keyring::seal_bytes`/`open_bytes`);
//! - "C ABI": `usersync_keyring_seal_binary`/`open_binary`, exactly what a C host calls (panic
//!   guard, argument checks, output copied into the caller's buffer);
//! - "openssl": OpenSSL EVP + HMAC on the same binary envelope;
//! - the text rows: `usersync_keyring_seal`/`open` (text form) against OpenSSL plus the same
//!   strict base64url codec producing the same text.
//!
//! Run:
//!
//!     cargo bench --bench envelope            # full run (about 20 s)
//!     cargo bench --bench envelope -- --quick # smoke run, as CI does

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::Hkdf;
use openssl_sys as ossl;
use sha2::Sha256;
use std::hint::black_box;
use std::ptr::null;
use timing::time_interleaved;
use usersync::ffi::{
    usersync_keyring, usersync_keyring_free, usersync_keyring_new, usersync_keyring_open,
    usersync_keyring_open_binary, usersync_keyring_seal, usersync_keyring_seal_binary,
};
use usersync::{Keyring, LinkSecret};

mod timing;

const AAD: &[u8] = b"usersync/v1|action|shop.example.com|blog.example.com";

/// OpenSSL contexts holding one link's keys.
struct OpenSsl {
    enc: *mut ossl::EVP_CIPHER_CTX,
    dec: *mut ossl::EVP_CIPHER_CTX,
    mac: *mut ossl::HMAC_CTX,
    kid: [u8; 8],
}

impl OpenSsl {
    fn new(secret: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"usersync/v1"), secret);
        let (mut enc, mut mac, mut kid) = ([0u8; 32], [0u8; 32], [0u8; 8]);
        hk.expand(b"usersync/v1 enc", &mut enc).unwrap();
        hk.expand(b"usersync/v1 mac", &mut mac).unwrap();
        hk.expand(b"usersync/v1 kid", &mut kid).unwrap();
        unsafe {
            let e = ossl::EVP_CIPHER_CTX_new();
            let d = ossl::EVP_CIPHER_CTX_new();
            let zero_iv = [0u8; 16];
            assert_eq!(
                ossl::EVP_EncryptInit_ex(
                    e,
                    ossl::EVP_aes_256_cbc(),
                    std::ptr::null_mut(),
                    enc.as_ptr(),
                    zero_iv.as_ptr()
                ),
                1
            );
            assert_eq!(
                ossl::EVP_DecryptInit_ex(
                    d,
                    ossl::EVP_aes_256_cbc(),
                    std::ptr::null_mut(),
                    enc.as_ptr(),
                    zero_iv.as_ptr()
                ),
                1
            );
            let h = ossl::HMAC_CTX_new();
            assert_eq!(
                ossl::HMAC_Init_ex(
                    h,
                    mac.as_ptr().cast(),
                    32,
                    ossl::EVP_sha256(),
                    std::ptr::null_mut()
                ),
                1
            );
            OpenSsl {
                enc: e,
                dec: d,
                mac: h,
                kid,
            }
        }
    }

    fn tag(&self, body: &[u8], aad: &[u8]) -> [u8; 32] {
        let mut tag = [0u8; 32];
        let mut n = 0u32;
        unsafe {
            ossl::HMAC_Init_ex(self.mac, null(), 0, null(), std::ptr::null_mut());
            ossl::HMAC_Update(self.mac, body.as_ptr(), body.len());
            ossl::HMAC_Update(self.mac, aad.as_ptr(), aad.len());
            let len = (aad.len() as u64).to_be_bytes();
            ossl::HMAC_Update(self.mac, len.as_ptr(), 8);
            ossl::HMAC_Final(self.mac, tag.as_mut_ptr(), &mut n);
        }
        tag
    }

    fn seal(&self, aad: &[u8], pt: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 25 + (pt.len() / 16 + 1) * 16 + 32];
        self.seal_into(aad, pt, &mut out);
        out
    }

    /// Seals into `out`, exactly the envelope's length.
    fn seal_into(&self, aad: &[u8], pt: &[u8], out: &mut [u8]) {
        let ct_len = (pt.len() / 16 + 1) * 16;
        out[0] = 1;
        out[1..9].copy_from_slice(&self.kid);
        unsafe {
            assert_eq!(ossl::RAND_bytes(out[9..25].as_mut_ptr(), 16), 1);
            let (head, rest) = out.split_at_mut(25);
            ossl::EVP_EncryptInit_ex(
                self.enc,
                null(),
                std::ptr::null_mut(),
                null(),
                head[9..25].as_ptr(),
            );
            let (mut n1, mut n2) = (0, 0);
            ossl::EVP_EncryptUpdate(
                self.enc,
                rest.as_mut_ptr(),
                &mut n1,
                pt.as_ptr(),
                pt.len() as i32,
            );
            ossl::EVP_EncryptFinal_ex(self.enc, rest[n1 as usize..].as_mut_ptr(), &mut n2);
            assert_eq!((n1 + n2) as usize, ct_len);
        }
        let tag = self.tag(&out[..25 + ct_len], aad);
        out[25 + ct_len..].copy_from_slice(&tag);
    }

    fn open(&self, aad: &[u8], env: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; env.len()];
        let n = self.open_into(aad, env, &mut out)?;
        out.truncate(n);
        Some(out)
    }

    /// Opens into `out` (at least the ciphertext's length plus a block); returns the length.
    fn open_into(&self, aad: &[u8], env: &[u8], out: &mut [u8]) -> Option<usize> {
        let (body, tag) = env.split_at(env.len() - 32);
        let want = self.tag(body, aad);
        if unsafe { ossl::CRYPTO_memcmp(want.as_ptr().cast(), tag.as_ptr().cast(), 32) } != 0 {
            return None;
        }
        let ct = &body[25..];
        unsafe {
            ossl::EVP_DecryptInit_ex(
                self.dec,
                null(),
                std::ptr::null_mut(),
                null(),
                body[9..25].as_ptr(),
            );
            let (mut n1, mut n2) = (0, 0);
            ossl::EVP_DecryptUpdate(
                self.dec,
                out.as_mut_ptr(),
                &mut n1,
                ct.as_ptr(),
                ct.len() as i32,
            );
            if ossl::EVP_DecryptFinal_ex(self.dec, out[n1 as usize..].as_mut_ptr(), &mut n2) != 1 {
                return None;
            }
            Some((n1 + n2) as usize)
        }
    }
}

/// The C ABI's binary seal and open, called exactly as a C host calls them.
fn abi_seal(ring: *const usersync_keyring, aad: &[u8], pt: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    let rc = unsafe {
        usersync_keyring_seal_binary(
            ring,
            aad.as_ptr().cast(),
            aad.len(),
            pt.as_ptr().cast(),
            pt.len(),
            out.as_mut_ptr().cast(),
            out.len(),
            &mut n,
        )
    };
    assert_eq!(rc as u32, 0);
    n
}

fn abi_open(ring: *const usersync_keyring, aad: &[u8], env: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    let rc = unsafe {
        usersync_keyring_open_binary(
            ring,
            aad.as_ptr().cast(),
            aad.len(),
            env.as_ptr().cast(),
            env.len(),
            out.as_mut_ptr().cast(),
            out.len(),
            &mut n,
        )
    };
    assert_eq!(rc as u32, 0);
    n
}

fn abi_seal_text(ring: *const usersync_keyring, aad: &[u8], pt: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    let rc = unsafe {
        usersync_keyring_seal(
            ring,
            aad.as_ptr().cast(),
            aad.len(),
            pt.as_ptr().cast(),
            pt.len(),
            out.as_mut_ptr().cast(),
            out.len(),
            &mut n,
        )
    };
    assert_eq!(rc as u32, 0);
    n
}

fn abi_open_text(ring: *const usersync_keyring, aad: &[u8], text: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    let rc = unsafe {
        usersync_keyring_open(
            ring,
            aad.as_ptr().cast(),
            aad.len(),
            text.as_ptr().cast(),
            text.len(),
            out.as_mut_ptr().cast(),
            out.len(),
            &mut n,
        )
    };
    assert_eq!(rc as u32, 0);
    n
}

fn main() {
    let (quick, rounds, batch) = timing::settings();

    let raw: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let secret_text = format!("usk1_{}", usersync::base64url::encode(&raw));
    let secret = LinkSecret::parse(secret_text.as_bytes()).unwrap();
    let ring = Keyring::new(&[secret]).unwrap().with_max_text_len(1 << 24);
    let mut abi_ring: *mut usersync_keyring = std::ptr::null_mut();
    assert_eq!(
        unsafe {
            usersync_keyring_new(
                secret_text.as_ptr().cast(),
                secret_text.len(),
                1 << 24,
                &mut abi_ring,
            )
        } as u32,
        0
    );
    let ossl = OpenSsl::new(&raw);

    println!(
        "usersync envelope benchmark ({} mode): median ns per message",
        if quick { "quick" } else { "full" }
    );
    println!(
        "{:<6} {:<5} {:>9} {:>9} {:>9} {:>7}   {:>9} {:>11} {:>7}",
        "size", "op", "rust", "C ABI", "openssl", "ratio", "ABI text", "ossl+b64", "ratio"
    );
    for size in [64usize, 1024, 65536] {
        let pt: Vec<u8> = (0..size).map(|i| i as u8).collect();
        // Both produce the protocol's bytes: each opens what the other sealed.
        let from_ossl = ossl.seal(AAD, &pt);
        assert_eq!(ring.open_bytes(AAD, &from_ossl).unwrap(), pt);
        let from_us = ring.seal_bytes(AAD, &pt).unwrap();
        assert_eq!(ossl.open(AAD, &from_us).unwrap(), pt);
        let text = ring.seal(AAD, &pt).unwrap();
        let (mut env_a, mut env_b) = (vec![0u8; from_us.len()], vec![0u8; from_us.len()]);
        let (mut text_a, mut text_b) = (vec![0u8; text.len()], vec![0u8; text.len()]);
        let mut scratch = vec![0u8; from_us.len()];
        // Each group in interleaved rounds: load on the machine hits every column alike.
        let seal = time_interleaved(
            rounds,
            batch,
            &mut [
                &mut || {
                    black_box(ring.seal_bytes(AAD, black_box(&pt)).unwrap());
                },
                &mut || {
                    black_box(abi_seal(abi_ring, AAD, black_box(&pt), &mut env_a));
                },
                &mut || {
                    ossl.seal_into(AAD, black_box(&pt), &mut env_b);
                    black_box(&env_b);
                },
                &mut || {
                    black_box(abi_seal_text(abi_ring, AAD, black_box(&pt), &mut text_a));
                },
                &mut || {
                    ossl.seal_into(AAD, black_box(&pt), &mut scratch);
                    black_box(URL_SAFE_NO_PAD.encode_slice(&scratch, &mut text_b).unwrap());
                },
            ],
        );
        let (mut pt_a, mut pt_b, mut pt_c, mut pt_d) = (
            vec![0u8; from_us.len()],
            vec![0u8; from_us.len()],
            vec![0u8; from_us.len()],
            vec![0u8; from_us.len()],
        );
        let mut scratch = vec![0u8; from_us.len()];
        let open = time_interleaved(
            rounds,
            batch,
            &mut [
                &mut || {
                    black_box(ring.open_bytes(AAD, black_box(&from_us)).unwrap());
                },
                &mut || {
                    black_box(abi_open(abi_ring, AAD, black_box(&from_us), &mut pt_a));
                },
                &mut || {
                    black_box(ossl.open_into(AAD, black_box(&from_us), &mut pt_b).unwrap());
                },
                &mut || {
                    black_box(abi_open_text(
                        abi_ring,
                        AAD,
                        black_box(text.as_bytes()),
                        &mut pt_c,
                    ));
                },
                &mut || {
                    let n = URL_SAFE_NO_PAD
                        .decode_slice(black_box(text.as_bytes()), &mut scratch)
                        .unwrap();
                    black_box(ossl.open_into(AAD, &scratch[..n], &mut pt_d).unwrap());
                },
            ],
        );
        let (rust_seal, abi_seal_t, os_seal, abi_seal_text_t, os_seal_text) =
            (seal[0], seal[1], seal[2], seal[3], seal[4]);
        let (rust_open, abi_open_t, os_open, abi_open_text_t, os_open_text) =
            (open[0], open[1], open[2], open[3], open[4]);
        let label = match size {
            64 => "64 B",
            1024 => "1 KiB",
            _ => "64 KiB",
        };
        for (op, r, a, o, at, ot) in [
            (
                "seal",
                rust_seal,
                abi_seal_t,
                os_seal,
                abi_seal_text_t,
                os_seal_text,
            ),
            (
                "open",
                rust_open,
                abi_open_t,
                os_open,
                abi_open_text_t,
                os_open_text,
            ),
        ] {
            println!(
                "{label:<6} {op:<5} {r:>9.0} {a:>9.0} {o:>9.0} {:>6.2}x   {at:>9.0} {ot:>11.0} {:>6.2}x",
                a / o,
                at / ot
            );
        }
    }
    unsafe { usersync_keyring_free(abi_ring) };
    println!("ratio = C ABI / OpenSSL on the binary envelope (target for 1 KiB: at most 1.25x); the text");
    println!("ratio = C ABI text form / OpenSSL with the same strict base64url codec making the same text.");
}
