//! Known answers recorded from real WordPress 6.8 and 6.1 (`tests/vectors/wordpress-*.json`,
//! written by `tests/wordpress/cookies.php`), plus the refusals.

use super::*;
use crate::Error;
use serde_json::{json, Value};

fn load(version: &str) -> (WpSite, Value) {
    let path = format!(
        "{}/tests/vectors/wordpress-{version}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let config =
        json!({"salts": v["salts"], "siteurl": v["siteurl"], "wp_version": v["wp_version"]});
    (WpSite::from_json(config.to_string().as_bytes()).unwrap(), v)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn cookies_made_by_wordpress_match_both_ways() {
    for version in ["6.8", "6.1"] {
        let (site, v) = load(version);
        let cookies = v["cookies"].as_array().unwrap();
        assert!(cookies.len() >= 12);
        for c in cookies {
            let scheme = Scheme::parse(s(&c["scheme"])).unwrap();
            let exp = c["expiration"].as_i64().unwrap();
            let made = site
                .generate_cookie(
                    scheme,
                    s(&c["login"]),
                    s(&c["pass_hash"]),
                    exp,
                    s(&c["token"]),
                )
                .unwrap();
            assert_eq!(made, s(&c["cookie"]), "{version} {}", c["login"]);
            let ok = site
                .validate_cookie_at(scheme, &made, s(&c["pass_hash"]), false, exp - 10)
                .unwrap();
            assert_eq!(ok.login, s(&c["login"]));
            // The same cookie under another scheme, after its expiry, or with the other
            // fragment rule's idea of the password, fails.
            let other = if scheme == Scheme::LoggedIn {
                Scheme::Auth
            } else {
                Scheme::LoggedIn
            };
            assert_eq!(
                site.validate_cookie_at(other, &made, s(&c["pass_hash"]), false, exp),
                Err(Error::WpCookieInvalid)
            );
            assert_eq!(
                site.validate_cookie_at(scheme, &made, s(&c["pass_hash"]), false, exp + 1),
                Err(Error::WpCookieExpired)
            );
            assert!(site
                .validate_cookie_at(scheme, &made, s(&c["pass_hash"]), true, exp + 3600)
                .is_ok());
            assert_eq!(
                site.validate_cookie_at(scheme, &made, s(&c["pass_hash"]), true, exp + 3601),
                Err(Error::WpCookieExpired)
            );
        }
    }
}

#[test]
fn nonces_made_by_wordpress_verify() {
    for version in ["6.8", "6.1"] {
        let (site, v) = load(version);
        for n in v["nonces"].as_array().unwrap() {
            let half = n["nonce_life"].as_i64().unwrap() / 2;
            let tick = n["tick"].as_i64().unwrap();
            let (action, uid, token) =
                (s(&n["action"]), n["uid"].as_i64().unwrap(), s(&n["token"]));
            // Any time within the tick gives that tick: ceil(t / half) == tick.
            for now in [tick * half, (tick - 1) * half + 1] {
                assert_eq!(
                    site.create_nonce_at(action, uid, token, now),
                    s(&n["nonce"])
                );
                assert_eq!(
                    site.verify_nonce_at(s(&n["nonce"]), action, uid, token, now),
                    Ok(1)
                );
            }
            assert_eq!(
                site.verify_nonce_at(s(&n["nonce"]), action, uid, token, tick * half + 1),
                Ok(2)
            );
            assert_eq!(
                site.verify_nonce_at(s(&n["nonce"]), action, uid, token, (tick + 1) * half + 1),
                Err(Error::WpNonceInvalid)
            );
            assert_eq!(
                site.verify_nonce_at(s(&n["nonce"]), "other", uid, token, tick * half),
                Err(Error::WpNonceInvalid)
            );
            assert_eq!(
                site.verify_nonce_at("", action, uid, token, tick * half),
                Err(Error::WpNonceInvalid)
            );
        }
    }
}

#[test]
fn cookie_names_from_the_site_url() {
    let (site, v) = load("6.8");
    // COOKIEHASH = md5(siteurl); md5("https://a.test") computed independently with coreutils' md5sum.
    assert_eq!(v["siteurl"], "https://a.test");
    assert_eq!(
        site.cookie_names()["logged_in"],
        "wordpress_logged_in_485dbb797ea9b6fcd30bbd18c1f7db81"
    );
}

#[test]
fn malformed_cookies_are_refused() {
    let (site, _) = load("6.8");
    let h = "a".repeat(64);
    for bad in [
        String::new(),
        "a|b|c".into(),
        "a|1|2|3|4".into(),
        format!("|99|tok|{h}"),
        format!("alice|99||{h}"),
        format!("alice|99|tok|{}", "A".repeat(64)),
        format!("alice|99|tok|{}", "a".repeat(63)),
        format!("alice|99|tok|{h}|"),
        "x".repeat(MAX_COOKIE_LEN + 1),
    ] {
        assert_eq!(
            Cookie::parse(&bad),
            Err(Error::WpCookieMalformed),
            "{bad:?}"
        );
        assert_eq!(
            site.validate_cookie_at(Scheme::Auth, &bad, "$P$x", false, 0),
            Err(Error::WpCookieMalformed)
        );
    }
    assert_eq!(
        site.generate_cookie(Scheme::Auth, "", "$P$x", 1, "t"),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        site.generate_cookie(Scheme::Auth, "a|b", "$P$x", 1, "t"),
        Err(Error::InvalidArgument)
    );
}

#[test]
fn session_tokens_and_verifiers() {
    let t = new_session_token().unwrap();
    assert_eq!(t.len(), 43);
    assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_ne!(t, new_session_token().unwrap());
    // SHA-256("abc") from FIPS 180-2, appendix B.1.
    assert_eq!(
        session_verifier("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn configuration_refusals_name_the_field() {
    let (_, v) = load("6.8");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c =
            json!({"salts": v["salts"], "siteurl": "https://a.test", "wp_version": "6.8.12"});
        f(&mut c);
        WpSite::from_json(c.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    assert!(with(&|c| {
        c["salts"].as_object_mut().unwrap().remove("NONCE_SALT");
    })
    .starts_with("salts.NONCE_SALT: is required"));
    assert!(
        with(&|c| c["salts"]["AUTH_KEY"] = json!("put your unique phrase here"))
            .starts_with("salts.AUTH_KEY: is empty or")
    );
    assert!(
        with(&|c| c["salts"]["AUTH_SALT"] = c["salts"]["AUTH_KEY"].clone())
            .starts_with("salts.AUTH_SALT: repeats")
    );
    assert!(
        with(&|c| c["salts"]["SECRET_KEY"] = json!("x")).starts_with("salts.SECRET_KEY: unknown")
    );
    assert!(with(&|c| c["wp_version"] = json!("six")).starts_with("wp_version"));
    assert!(with(&|c| c["nonce_life"] = json!(0)).starts_with("nonce_life"));
    assert!(with(&|c| c["colour"] = json!(1)).starts_with("colour: unknown"));
}

fn verdict(result: Result<Cookie, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::WpCookieExpired) => "wp_cookie_expired",
        Err(Error::WpCookieInvalid) => "wp_cookie_invalid",
        Err(Error::WpCookieMalformed) => "wp_cookie_malformed",
        Err(e) => panic!("unexpected {e:?}"),
    }
}

/// Cookies core made over expiration fields that are not canonical decimals (leading zeros,
/// signs, whitespace, exponents, huge, negative, hex, empty, words), and core's cookies with
/// only the field rewritten, each with core's own verdict on GET and POST at the recorded time.
#[test]
fn expiration_fields_are_read_as_wordpress_reads_them() {
    for version in ["6.8", "6.1"] {
        let (site, v) = load(version);
        let cases = v["expiration_fields"].as_array().unwrap();
        assert!(cases.len() >= 60, "{version}: {} cases", cases.len());
        for c in cases {
            let scheme = Scheme::parse(s(&c["scheme"])).unwrap();
            let (field, cookie, hash) = (s(&c["field"]), s(&c["cookie"]), s(&c["pass_hash"]));
            let now = c["now"].as_i64().unwrap();
            let what = format!("{version} {field:?} (MAC over {:?})", s(&c["mac_over"]));
            let parsed = Cookie::parse(cookie).unwrap();
            assert_eq!(parsed.expiration_field(), field, "{what}");
            assert_eq!(parsed.expiration, c["php_int"].as_i64().unwrap(), "{what}");
            let at =
                |grace, now| verdict(site.validate_cookie_at(scheme, cookie, hash, grace, now));
            assert_eq!(at(false, now), s(&c["get"]), "{what} on GET");
            assert_eq!(at(true, now), s(&c["post"]), "{what} on POST");
            // "timeless" verdicts hold until 2100 (the C and PHP tests check them on the real
            // clock); expiry is monotonic in time, so both ends of the span prove it.
            if c["timeless"].as_bool().unwrap() {
                let late = 4_102_444_800 - GRACE_SECONDS - 1;
                assert_eq!(at(false, late), s(&c["get"]), "{what} on GET in 2099");
                assert_eq!(at(true, late), s(&c["post"]), "{what} on POST in 2099");
            }
        }
        // The reported bug: a field rewritten with a leading zero (or a sign, or a space) keeps
        // core's number but not its MAC, which covers the bytes.
        for c in v["cookies"].as_array().unwrap() {
            let (cookie, hash) = (s(&c["cookie"]), s(&c["pass_hash"]));
            let scheme = Scheme::parse(s(&c["scheme"])).unwrap();
            let exp = c["expiration"].as_i64().unwrap();
            for form in [
                format!("0{exp}"),
                format!("+{exp}"),
                format!(" {exp}"),
                format!("{exp} "),
            ] {
                let p: Vec<&str> = cookie.split('|').collect();
                let bad = [p[0], &form, p[2], p[3]].join("|");
                assert_eq!(
                    site.validate_cookie_at(scheme, &bad, hash, false, exp - 10),
                    Err(Error::WpCookieInvalid),
                    "{version} {bad}"
                );
            }
        }
    }
}

/// PHP 8's reading of numeric strings, as the PHP 8.2 CLI computes `(int) $s`, `$s < $now` and
/// `$s + 3600 < $now` (`zend_operators.c`; a 30 000-string differential run agreed throughout).
#[test]
fn expiration_fields_read_as_php_numbers() {
    use super::expiry::{expiry, php_int, Expiry::*};
    for (field, int) in [
        ("4102444800", 4102444800),
        ("04102444800", 4102444800),
        (" +04102444800 ", 4102444800),
        ("\x0b4102444800\x0c", 4102444800),
        ("4102444800.9", 4102444800),
        ("4102444800abc", 4102444800),
        ("4.1024448e9", 4102444800),
        (".5e10", 5000000000),
        ("1e", 1),
        ("0x1A", 0),
        ("", 0),
        ("abc", 0),
        ("1e999", 0),
        ("99999999999999999999", i64::MAX),
        ("-1e100", i64::MIN),
        ("9223372036854775807", i64::MAX),
        ("-9223372036854775808", i64::MIN),
        // PHP's 19-digit check starts one byte late after "e-": a long that wraps.
        ("9223372036854775808e-", i64::MIN),
    ] {
        assert_eq!(php_int(field), int, "{field:?}");
    }
    let now = 1_796_160_000;
    // (field, 6.8 GET, 6.8 POST, 6.1 GET, 6.1 POST)
    for (field, want) in [
        ("1796160000", [Live, Live, Live, Live]),
        ("1795160000", [Expired, Expired, Expired, Expired]),
        ("1796159000", [Expired, Live, Expired, Live]),
        ("01796159000x", [Expired, Live, Expired, Live]),
        ("abc", [Expired, Expired, Live, TypeError]),
        ("", [Expired, Expired, Expired, TypeError]),
        ("1e999", [Expired, Expired, Live, Live]),
        ("0x7fffffff", [Expired, Expired, Expired, Expired]),
        ("9x", [Expired, Expired, Live, Expired]),
        ("1796159999.5", [Expired, Live, Expired, Live]),
        ("1796160000.5", [Live, Live, Live, Live]),
    ] {
        let got = [
            expiry(field, true, false, now),
            expiry(field, true, true, now),
            expiry(field, false, false, now),
            expiry(field, false, true, now),
        ];
        assert_eq!(got, want, "{field:?}");
    }
}
