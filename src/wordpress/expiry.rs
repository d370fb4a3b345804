//! When core considers a cookie expired. `wp_validate_auth_cookie()` keeps the expiration field
//! as the string it split off the cookie (its MAC covers exactly those bytes) and reads it as a
//! PHP number only for the expiry check, so a field such as `04102444800`, `+4102444800`,
//! `4102444800 ` or `1e10` is an honest expiration when the MAC was made over it:
//!
//! - WordPress 6.8+ (changeset r59459): `$expired = (int) $expiration`, plus an hour for POST
//!   and Ajax, then `$expired < time()`.
//! - WordPress ≤ 6.7: the string itself. `$expired < time()` compares a numeric string as a
//!   number and any other string byte by byte with the decimal time; on POST and Ajax
//!   `$expired += HOUR_IN_SECONDS` first, which throws a `TypeError` (the request dies) when
//!   the field does not start with a number, and only warns when something follows the number.
//!
//! This is PHP 8's reading of numeric strings (`_is_numeric_string_ex()`, `zend_strtod()`,
//! `zend_dval_to_lval_cap()` in Zend/zend_operators.*), the PHP both Debian suites ship; PHP 7
//! compared strings differently. Proven against real WordPress by tests/wordpress/cookies.php.

/// A number PHP read from a string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PhpNumber {
    Long(i64),
    Double(f64),
}

/// What `$expired < time()` (with the POST hour when `grace`) made of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    Live,
    Expired,
    /// ≤ 6.7 on POST/Ajax: `"abc" + 3600` is a `TypeError`; core never gets to the MAC.
    TypeError,
}

const HOUR: i64 = super::GRACE_SECONDS;
/// The digits of `-ZEND_LONG_MIN`: a 19-digit integer from here on is read as a double.
const LONG_MIN_DIGITS: &[u8] = b"9223372036854775808";
/// `MAX_LENGTH_OF_LONG` on 64-bit PHP.
const MAX_LENGTH_OF_LONG: usize = 20;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `zend_strtod(s + start, &end)`: the longest `[+-]digits[.digits][(e|E)[+-]digits]` prefix
/// with at least one mantissa digit (the caller knows there is one), correctly rounded as
/// zend_strtod (David Gay's) is; overflow gives ±∞.
fn strtod(s: &[u8], start: usize) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut p = start;
    if matches!(at(p), b'+' | b'-') {
        p += 1;
    }
    while at(p).is_ascii_digit() {
        p += 1;
    }
    if at(p) == b'.' {
        p += 1;
        while at(p).is_ascii_digit() {
            p += 1;
        }
    }
    if matches!(at(p), b'e' | b'E') {
        let mut e = p + 1;
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        if at(e).is_ascii_digit() {
            while at(e).is_ascii_digit() {
                e += 1;
            }
            p = e;
        }
    }
    let text = std::str::from_utf8(&s[start..p]).expect("ASCII");
    (text.parse().expect("a float prefix"), p)
}

/// C's `strcmp(s + from, LONG_MIN_DIGITS)`, which reads on to the end of the string (or a NUL).
fn strcmp_long_min(s: &[u8], from: usize) -> std::cmp::Ordering {
    let tail = &s[from..];
    let tail = &tail[..tail.iter().position(|&b| b == 0).unwrap_or(tail.len())];
    tail.cmp(LONG_MIN_DIGITS)
}

/// `_is_numeric_string_ex()` with a `dval`: the number `s` starts with (after whitespace) and
/// whether anything but whitespace follows it, or `None` when it does not start with one.
pub(crate) fn php_numeric_prefix(s: &[u8]) -> Option<(PhpNumber, bool)> {
    // Past the end reads as C's terminating NUL.
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut start = 0;
    while is_space(at(start)) {
        start += 1;
    }
    let mut p = start;
    let neg = at(p) == b'-';
    if matches!(at(p), b'-' | b'+') {
        p += 1;
    }
    let mut double = false;
    let mut digits = 0;
    let mut value: u64 = 0;
    if at(p).is_ascii_digit() {
        while at(p) == b'0' {
            p += 1;
        }
        loop {
            if digits >= MAX_LENGTH_OF_LONG {
                double = true;
                break;
            }
            let c = at(p);
            if c.is_ascii_digit() {
                value = value.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                digits += 1;
                p += 1;
                continue;
            }
            if c == b'.' {
                double = true;
            } else if matches!(c, b'e' | b'E') {
                let mut e = p + 1;
                if matches!(at(e), b'-' | b'+') {
                    // As PHP does: the position moves onto the exponent's sign even when no
                    // digit follows (which only matters to the 19-digit check below).
                    p = e;
                    e += 1;
                }
                double = at(e).is_ascii_digit();
            }
            break;
        }
    } else if !(at(p) == b'.' && at(p + 1).is_ascii_digit()) {
        return None;
    } else {
        double = true;
    }
    let number = if double {
        let (d, end) = strtod(s, start);
        p = end;
        PhpNumber::Double(d)
    } else if digits == MAX_LENGTH_OF_LONG - 1 && {
        let cmp = strcmp_long_min(s, p - digits);
        !(cmp.is_lt() || (cmp.is_eq() && neg))
    } {
        PhpNumber::Double(strtod(s, start).0)
    } else {
        let v = value as i64;
        PhpNumber::Long(if neg { v.wrapping_neg() } else { v })
    };
    let mut end = p;
    while end < s.len() && is_space(s[end]) {
        end += 1;
    }
    Some((number, end != s.len()))
}

/// `zend_dval_to_lval_cap()`: truncation, saturating at the `i64` limits (as Rust's `as` does);
/// ±∞ gives 0.
fn dval_to_lval_cap(d: f64) -> i64 {
    if d.is_finite() {
        d as i64
    } else {
        0
    }
}

/// `(int) $field`: what 6.8+ compares, and what a parsed cookie reports as its expiration.
pub(crate) fn php_int(field: &str) -> i64 {
    match php_numeric_prefix(field.as_bytes()) {
        None => 0,
        Some((PhpNumber::Long(l), _)) => l,
        Some((PhpNumber::Double(d), _)) => dval_to_lval_cap(d),
    }
}

/// `$n + 3600 < now` for a PHP number (an overflowing integer sum becomes a double in PHP;
/// 128-bit arithmetic gives the same answer).
fn number_before(n: PhpNumber, add: i64, now: i64) -> bool {
    match n {
        PhpNumber::Long(l) => i128::from(l) + i128::from(add) < i128::from(now),
        PhpNumber::Double(d) => d + (add as f64) < (now as f64),
    }
}

/// Core's expiry check of the field as received. `int_cast`: WordPress 6.8+.
pub(crate) fn expiry(field: &str, int_cast: bool, grace: bool, now: i64) -> Expiry {
    let add = if grace { HOUR } else { 0 };
    let expired = if int_cast {
        number_before(PhpNumber::Long(php_int(field)), add, now)
    } else if grace {
        match php_numeric_prefix(field.as_bytes()) {
            None => return Expiry::TypeError,
            Some((n, _)) => number_before(n, add, now),
        }
    } else {
        match php_numeric_prefix(field.as_bytes()) {
            Some((n, false)) => number_before(n, 0, now),
            // Not a numeric string: PHP 8 compares it with the time as strings.
            _ => field.as_bytes() < now.to_string().as_bytes(),
        }
    };
    if expired {
        Expiry::Expired
    } else {
        Expiry::Live
    }
}
