//! The `usersync` command-line tool, run as a site owner would.

use std::io::Write;
use std::process::{Command, Stdio};

fn usersync(args: &[&str], secrets: &str, stdin: &[u8]) -> (bool, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_usersync"))
        .args(args)
        .env("USERSYNC_SECRETS", secrets)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The tool may refuse before reading its input: a closed pipe is not a test failure.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), out.stdout, stderr)
}

#[test]
fn secret_seal_open_round_trip() {
    let (ok, secret, _) = usersync(&["secret"], "", b"");
    assert!(ok);
    let secret = String::from_utf8(secret).unwrap().trim().to_string();
    assert!(secret.starts_with("usk1_") && secret.len() == 48);
    assert!(usersync(&["check-secret"], "", secret.as_bytes()).0);

    let (ok, text, _) = usersync(&["seal", "ctx"], &secret, b"hello\0world");
    assert!(ok);
    let (ok, plain, _) = usersync(&["open", "ctx"], &secret, &text);
    assert!(ok);
    assert_eq!(plain, b"hello\0world");

    let (ok, plain, err) = usersync(&["open", "other-ctx"], &secret, &text);
    assert!(!ok && plain.is_empty());
    assert!(err.contains("authentication_failed"), "{err}");
}

#[test]
fn bad_secrets_are_explained() {
    let (ok, _, err) = usersync(&["check-secret"], "", b"usk1_tooshort");
    assert!(!ok);
    assert!(err.contains("secret_length"), "{err}");
    let (ok, _, err) = usersync(&["seal", "x"], "", b"data");
    assert!(!ok);
    assert!(err.contains("no_secrets"), "{err}");
    let (ok, _, err) = usersync(&["seal", "x"], "abc", b"data");
    assert!(!ok);
    assert!(err.contains("secret_prefix"), "{err}");
}

#[test]
fn demo_shows_delivery_and_refusals() {
    let (ok, out, _) = usersync(&["demo"], "", b"");
    let out = String::from_utf8(out).unwrap();
    assert!(ok);
    assert!(out.contains(r#""login":"alice""#));
    assert_eq!(out.matches("refused (authentication_failed)").count(), 3);
    assert!(out.contains("on the rotated blog: opened"));
}
