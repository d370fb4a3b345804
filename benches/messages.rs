//! Building the messages of one user event for 1, 10 and 50 peers, and opening one message with
//! every check (claims, policy, schema), with the real clock.
//!
//!     cargo bench --bench messages            # full run
//!     cargo bench --bench messages -- --quick # smoke run, as CI does

use serde_json::json;
use std::hint::black_box;
use timing::time_per_call;
use usersync::{Context, LinkSecret};

mod timing;

const ALL: [&str; 6] = ["create", "update", "delete", "password", "meta", "logout"];

/// Site a.test with `n` peers, all sent everything of interest; plus peer 0's own context.
fn sites(n: usize) -> (Context, Context) {
    let secrets: Vec<String> = (0..n)
        .map(|_| LinkSecret::generate().unwrap().to_text())
        .collect();
    let policy = json!({"actions": ALL, "roles": ["subscriber", "editor"], "meta": ["billing_*"]});
    let peers: Vec<_> = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"id": format!("p{i}.test"), "url": format!("https://p{i}.test"),
                             "secrets": [s], "send": policy, "accept": policy})
        })
        .collect();
    let a = json!({"site_id": "a.test", "url": "https://a.test", "peers": peers});
    let p0 = json!({"site_id": "p0.test", "url": "https://p0.test", "peers": [
        {"id": "a.test", "url": "https://a.test", "secrets": [secrets[0]], "send": policy,
         "accept": policy, "ip_allow": ["127.0.0.0/8"]}]});
    (
        Context::from_json(a.to_string().as_bytes()).unwrap(),
        Context::from_json(p0.to_string().as_bytes()).unwrap(),
    )
}

fn main() {
    let (quick, rounds, batch) = timing::settings();
    let event = json!({"eid": "ZXZlbnQtaWQtMDAwMDAwMQ", "act": "update", "data": {
        "uid": "dWlkLW9mLWFsaWNlLTAwMQ", "login": "alice", "email": "alice@example.com",
        "fields": {"display_name": "Alice Example", "first_name": "Alice", "last_name": "Example"},
        "roles": ["subscriber"], "meta": {"billing_city": ["Oslo"], "billing_zip": ["0150"]},
        "pass_hash": "$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW"}})
    .to_string();
    println!(
        "usersync message benchmark ({} mode): median µs per call",
        if quick { "quick" } else { "full" }
    );
    println!(
        "event: an update with profile fields, a role, two meta keys and a hash ({} bytes)",
        event.len()
    );
    for n in [1usize, 10, 50] {
        let (a, _) = sites(n);
        assert_eq!(a.build(event.as_bytes(), None).unwrap().len(), n);
        let t = time_per_call(rounds, batch, || {
            black_box(a.build(black_box(event.as_bytes()), None).unwrap());
        });
        println!(
            "build for {n:>2} peers: {:>8.1} µs  ({:.2} µs per peer)",
            t / 1000.0,
            t / 1000.0 / n as f64
        );
    }
    let (a, p0) = sites(1);
    let msg = a.build(event.as_bytes(), None).unwrap().remove(0).message;
    assert!(p0.open_action(msg.as_bytes(), Some("127.0.0.1")).is_ok());
    let t = time_per_call(rounds, batch, || {
        black_box(
            p0.open_action(black_box(msg.as_bytes()), Some("127.0.0.1"))
                .unwrap(),
        );
    });
    println!(
        "open one message ({} chars): {:>8.1} µs",
        msg.len(),
        t / 1000.0
    );
}
