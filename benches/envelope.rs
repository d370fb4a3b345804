//! Seal and open at 64 B, 1 KiB and 64 KiB: usersync against OpenSSL in the same run.
//!
//! Both sides do the same work per message: draw a random IV, AES-256-CBC with PKCS#7, and
//! HMAC-SHA256 over `ver ‖ kid ‖ iv ‖ ct ‖ aad ‖ len(aad)`; open verifies the tag (constant
//! time) and decrypts. OpenSSL gets its best case too: key schedule and keyed HMAC prepared once,
//! contexts re-initialised per message. The OpenSSL envelope is checked to open with usersync,
//! so both really produce the protocol's bytes.
//!
//!     cargo bench --bench envelope            # full run (about 20 s)
//!     cargo bench --bench envelope -- --quick # smoke run, as CI does

use hkdf::Hkdf;
use openssl_sys as ossl;
use sha2::Sha256;
use std::hint::black_box;
use std::ptr::null;
use timing::time_per_call;
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
        let ct_len = (pt.len() / 16 + 1) * 16;
        let mut out = vec![0u8; 25 + ct_len + 32];
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
        out
    }

    fn open(&self, aad: &[u8], env: &[u8]) -> Option<Vec<u8>> {
        let (body, tag) = env.split_at(env.len() - 32);
        let want = self.tag(body, aad);
        if unsafe { ossl::CRYPTO_memcmp(want.as_ptr().cast(), tag.as_ptr().cast(), 32) } != 0 {
            return None;
        }
        let ct = &body[25..];
        let mut out = vec![0u8; ct.len() + 16];
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
            out.truncate((n1 + n2) as usize);
        }
        Some(out)
    }
}

fn main() {
    let (quick, rounds, batch) = timing::settings();

    let raw: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let secret_text = format!("usk1_{}", usersync::base64url::encode(&raw));
    let secret = LinkSecret::parse(secret_text.as_bytes()).unwrap();
    let ring = Keyring::new(&[secret]).unwrap().with_max_text_len(1 << 24);
    let ossl = OpenSsl::new(&raw);

    println!(
        "usersync envelope benchmark ({} mode): median ns per message",
        if quick { "quick" } else { "full" }
    );
    println!(
        "{:<6} {:<5} {:>12} {:>12} {:>8}   {:>12}",
        "size", "op", "usersync", "openssl", "ratio", "usersync text"
    );
    for size in [64usize, 1024, 65536] {
        let pt: Vec<u8> = (0..size).map(|i| i as u8).collect();
        // Both produce the protocol's bytes: each opens what the other sealed.
        let from_ossl = ossl.seal(AAD, &pt);
        assert_eq!(ring.open_bytes(AAD, &from_ossl).unwrap(), pt);
        let from_us = ring.seal_bytes(AAD, &pt).unwrap();
        assert_eq!(ossl.open(AAD, &from_us).unwrap(), pt);
        let text = ring.seal(AAD, &pt).unwrap();

        let us_seal = time_per_call(rounds, batch, || {
            black_box(ring.seal_bytes(AAD, black_box(&pt)).unwrap());
        });
        let os_seal = time_per_call(rounds, batch, || {
            black_box(ossl.seal(AAD, black_box(&pt)));
        });
        let us_seal_text = time_per_call(rounds, batch, || {
            black_box(ring.seal(AAD, black_box(&pt)).unwrap());
        });
        let us_open = time_per_call(rounds, batch, || {
            black_box(ring.open_bytes(AAD, black_box(&from_us)).unwrap());
        });
        let os_open = time_per_call(rounds, batch, || {
            black_box(ossl.open(AAD, black_box(&from_us)).unwrap());
        });
        let us_open_text = time_per_call(rounds, batch, || {
            black_box(ring.open(AAD, black_box(text.as_bytes())).unwrap());
        });
        let label = match size {
            64 => "64 B",
            1024 => "1 KiB",
            _ => "64 KiB",
        };
        println!(
            "{label:<6} {:<5} {us_seal:>12.0} {os_seal:>12.0} {:>7.2}x   {us_seal_text:>12.0}",
            "seal",
            us_seal / os_seal
        );
        println!(
            "{label:<6} {:<5} {us_open:>12.0} {os_open:>12.0} {:>7.2}x   {us_open_text:>12.0}",
            "open",
            us_open / os_open
        );
    }
    println!(
        "ratio = usersync / OpenSSL on the binary envelope (target for 1 KiB: at most 1.25x);"
    );
    println!(
        "'usersync text' adds the size check and base64url encoding or decoding of the text form."
    );
}
