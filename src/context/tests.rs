//! Context tests: every refusal of the protocol, with the receiving site's data model untouched
//! (a refused message yields no action), and a host-side replay store.

use super::*;
use crate::envelope::Keyring;
use crate::LinkSecret;
use serde_json::json;
use std::collections::HashSet;

const NOW: i64 = 1_800_000_000;
/// An account's network-wide id, and a ticket's browser binding (base64url of 16 and 32 bytes).
const UID: &str = "dWlkLW9mLWFsaWNlLTAwMQ";
const BND: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const BCRYPT: &str = "$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW";

/// Three sites a, b, c; a⇄b and a⇄c linked, each link with its own secret.
struct Net {
    ab: String,
    ac: String,
    a: Context,
    b: Context,
}

fn policy_all() -> Value {
    json!({"actions": ["create", "update", "delete", "password", "meta", "logout", "login"],
           "roles": ["subscriber", "editor", "administrator"], "meta": ["billing_*", "nickname"]})
}

fn net_with(b_accept: Value, b_ip_allow: Value) -> Net {
    let ab = LinkSecret::generate().unwrap().to_text();
    let ac = LinkSecret::generate().unwrap().to_text();
    let a = json!({
        "site_id": "a.test", "url": "https://a.test",
        "peers": [
            {"id": "b.test", "url": "https://b.test", "secrets": [ab], "send": policy_all(), "accept": policy_all()},
            {"id": "c.test", "url": "https://c.test", "secrets": [ac],
             "send": {"actions": ["create", "update"], "roles": ["subscriber"], "meta": []}},
        ]
    });
    let b = json!({
        "site_id": "b.test", "url": "https://b.test",
        "peers": [{"id": "a.test", "url": "https://a.test", "secrets": [ab], "send": policy_all(),
                   "accept": b_accept, "ip_allow": b_ip_allow}]
    });
    Net {
        a: Context::from_json(a.to_string().as_bytes()).unwrap(),
        b: Context::from_json(b.to_string().as_bytes()).unwrap(),
        ab,
        ac,
    }
}

fn net() -> Net {
    net_with(
        json!({"actions": ["create", "update", "delete", "password", "meta", "logout", "login"],
               "roles": ["subscriber", "editor"], "meta": ["billing_*"]}),
        json!([]),
    )
}

/// An event id, as a host mints it once per event.
const EID: &str = "ZXZlbnQtaWQtMDAwMDAwMQ";

fn event(act: &str, data: Value) -> Vec<u8> {
    json!({"eid": EID, "act": act, "data": data})
        .to_string()
        .into_bytes()
}

fn to_b(n: &Net, act: &str, data: Value) -> String {
    let out =
        n.a.build_at(&event(act, data), Some("b.test"), NOW)
            .unwrap();
    assert_eq!(out.len(), 1);
    out[0].message.clone()
}

fn open_b(n: &Net, text: &str) -> Result<Opened, Error> {
    n.b.open_at(
        MessageType::Action,
        text.as_bytes(),
        Some("127.0.0.1"),
        NOW + 1,
    )
}

/// Seals arbitrary claims on the a→b link, as a compromised or buggy peer could.
fn forged(n: &Net, claims: Value) -> String {
    Keyring::parse(n.ab.as_bytes())
        .unwrap()
        .seal(
            b"usersync/v1|action|a.test|b.test",
            claims.to_string().as_bytes(),
        )
        .unwrap()
}

fn claims(act: &str, data: Value) -> Value {
    json!({"v": 1, "typ": "action", "iss": "a.test", "aud": "b.test", "iat": NOW, "exp": NOW + 60,
           "jti": "AAAAAAAAAAAAAAAAAAAAAA", "eid": EID, "act": act, "data": data})
}

#[test]
fn create_round_trip_applies_both_policies() {
    let n = net();
    let msg = to_b(
        &n,
        "create",
        json!({
            "uid": UID, "login": "alice", "email": "alice@a.test", "fields": {"display_name": "Alice"},
            "roles": ["subscriber", "shop_manager", "administrator"],
            "meta": {"billing_city": ["Oslo"], "nickname": ["al"], "wp_capabilities": ["x"], "secret_note": ["no"]},
            "pass_hash": BCRYPT,
        }),
    );
    // a's send policy to b lets out subscriber/editor/administrator and billing_*/nickname.
    // b accepts subscriber/editor and billing_* only: nickname is dropped, administrator refused.
    assert_eq!(open_b(&n, &msg).unwrap_err(), Error::PrivilegedRole);

    let msg = to_b(
        &n,
        "create",
        json!({
            "uid": UID, "login": "alice", "email": "alice@a.test", "roles": ["subscriber", "shop_manager"],
            "meta": {"billing_city": ["Oslo"], "nickname": ["al"], "wp_capabilities": ["x"]},
            "pass_hash": BCRYPT,
        }),
    );
    let opened = open_b(&n, &msg).unwrap();
    assert_eq!(opened.iss, "a.test");
    assert_eq!(opened.exp, NOW + MessageType::Action.lifetime());
    assert_eq!(opened.jti.len(), 22);
    let Action::Create(user) = &opened.action else {
        panic!("{opened:?}")
    };
    assert_eq!(user.login, "alice");
    assert_eq!(user.roles.as_deref(), Some(&["subscriber".to_string()][..]));
    assert_eq!(
        user.meta.as_ref().unwrap().keys().collect::<Vec<_>>(),
        ["billing_city"]
    );
    assert_eq!(user.pass_hash.as_deref(), Some(BCRYPT));
    assert_eq!(opened.dropped.meta, ["nickname"]);
    assert!(opened.dropped.roles.is_empty(), "shop_manager never left a");
    let j = opened.to_json();
    assert_eq!(j["act"], "create");
    assert_eq!(j["data"]["meta"]["billing_city"][0], "Oslo");
}

#[test]
fn build_goes_to_each_peer_with_what_its_policy_lets_out() {
    let n = net();
    let out =
        n.a.build_at(
            &event(
                "update",
                json!({
                    "uid": UID, "login": "bob", "email": "bob@a.test", "roles": ["editor", "subscriber"],
                    "meta": {"billing_zip": ["0150"]}, "pass_hash": BCRYPT,
                }),
            ),
            None,
            NOW,
        )
        .unwrap();
    assert_eq!(
        out.iter().map(|o| o.peer.as_str()).collect::<Vec<_>>(),
        ["b.test", "c.test"]
    );
    assert_eq!(out[1].url, "https://c.test/");
    // c: subscriber only, no meta, no pass_hash (password is not sent to c). Open it as c would.
    let c_ring = Keyring::parse(n.ac.as_bytes()).unwrap();
    let plain = c_ring
        .open(
            b"usersync/v1|action|a.test|c.test",
            out[1].message.as_bytes(),
        )
        .unwrap();
    let c = Claims::parse(&plain).unwrap();
    assert_eq!(
        c.data,
        json!({"uid": UID, "login": "bob", "email": "bob@a.test", "roles": ["subscriber"]})
    );
    // Actions c is not sent go nowhere; a meta event with nothing allowed goes nowhere.
    assert!(n
        .a
        .build_at(
            &event("delete", json!({"uid": UID, "login": "bob"})),
            Some("c.test"),
            NOW
        )
        .unwrap()
        .is_empty());
    let only_protected = event(
        "meta",
        json!({"uid": UID, "login": "bob", "set": {"wp_capabilities": ["a"]}}),
    );
    assert!(n.a.build_at(&only_protected, None, NOW).unwrap().is_empty());
    assert_eq!(
        n.a.build_at(
            &event("delete", json!({"uid": UID, "login": "x"})),
            Some("zz.test"),
            NOW
        ),
        Err(Error::UnknownPeer)
    );
}

#[test]
fn the_sender_refuses_to_send_plaintext_passwords_and_unknown_fields() {
    let n = net();
    let b = |act, data| n.a.build_at(&event(act, data), None, NOW);
    assert_eq!(
        b(
            "password",
            json!({"uid": UID, "login": "a", "pass_hash": "hunter2"})
        ),
        Err(Error::PassHashFormat)
    );
    assert_eq!(
        b(
            "update",
            json!({"uid": UID, "login": "a", "email": "a@a.test", "password": "x"})
        ),
        Err(Error::UnknownField)
    );
    assert_eq!(
        b("login", json!({"uid": UID, "login": "a", "remember": true})),
        Err(Error::UnknownAction)
    );
    assert_eq!(
        b("promote", json!({"uid": UID, "login": "a"})),
        Err(Error::UnknownAction)
    );
    assert_eq!(
        n.a.build_at(b"{\"act\":\"delete\"}", None, NOW),
        Err(Error::DataInvalid)
    );
    assert_eq!(n.a.build_at(b"[1]", None, NOW), Err(Error::MalformedJson));
}

#[test]
fn replay_is_reported_for_the_host_store_to_refuse() {
    let n = net();
    let msg = to_b(
        &n,
        "delete",
        json!({"uid": UID, "login": "carol", "reassign": null}),
    );
    let mut store: HashSet<(String, String)> = HashSet::new();
    let mut apply = |text: &str| -> Result<&'static str, Error> {
        let o = open_b(&n, text)?;
        Ok(if store.insert((o.iss, o.jti)) {
            "applied"
        } else {
            "duplicate"
        })
    };
    assert_eq!(apply(&msg), Ok("applied"));
    assert_eq!(apply(&msg), Ok("duplicate"));
    let again = to_b(&n, "delete", json!({"uid": UID, "login": "carol"}));
    assert_eq!(apply(&again), Ok("applied"), "a new message has a new jti");
}

#[test]
fn tampered_truncated_and_misdirected_messages_fail_authentication() {
    let n = net();
    let msg = to_b(&n, "logout", json!({"uid": UID, "login": "dave"}));
    let mut bytes = msg.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        open_b(&n, std::str::from_utf8(&bytes).unwrap()).unwrap_err(),
        Error::AuthenticationFailed
    );
    assert!(open_b(&n, &msg[..msg.len() - 4]).is_err());
    // Sealed for c: b holds no key with that id.
    let for_c =
        n.a.build_at(
            &event(
                "create",
                json!({"uid": UID, "login": "e", "email": "e@a.test"}),
            ),
            Some("c.test"),
            NOW,
        )
        .unwrap();
    assert_eq!(
        open_b(&n, &for_c[0].message).unwrap_err(),
        Error::AuthenticationFailed
    );
    // b's own message to a, reflected back at b: the aad names the other direction.
    let b_to_a =
        n.b.build_at(
            &event("logout", json!({"uid": UID, "login": "dave"})),
            None,
            NOW,
        )
        .unwrap();
    assert_eq!(
        open_b(&n, &b_to_a[0].message).unwrap_err(),
        Error::AuthenticationFailed
    );
    // A ticket is not an action, and an action is not a ticket.
    let ticket =
        n.a.mint_ticket_at(
            json!({"peer": "b.test", "uid": UID, "bnd": BND, "login": "dave", "remember": false})
                .to_string()
                .as_bytes(),
            NOW,
        )
        .unwrap();
    assert_eq!(
        open_b(&n, &ticket.message).unwrap_err(),
        Error::AuthenticationFailed
    );
    assert_eq!(
        n.b.open_at(MessageType::Ticket, msg.as_bytes(), None, NOW)
            .unwrap_err(),
        Error::AuthenticationFailed
    );
    assert!(n
        .b
        .open_at(MessageType::Ticket, ticket.message.as_bytes(), None, NOW)
        .is_ok());
}

#[test]
fn time_rules() {
    let n = net();
    let msg = to_b(&n, "logout", json!({"uid": UID, "login": "f"}));
    let at = |t| n.b.open_at(MessageType::Action, msg.as_bytes(), None, t);
    let exp = NOW + MessageType::Action.lifetime();
    assert!(at(exp + 60).is_ok(), "within the default 60 s skew");
    assert_eq!(at(exp + 61).unwrap_err(), Error::Expired);
    assert!(at(NOW - 60).is_ok());
    assert_eq!(at(NOW - 61).unwrap_err(), Error::NotYetValid);
    let mut c = claims("logout", json!({"uid": UID, "login": "f"}));
    c["exp"] = json!(NOW + 301);
    assert_eq!(
        open_b(&n, &forged(&n, c.clone())).unwrap_err(),
        Error::LifetimeTooLong
    );
    c["exp"] = json!(NOW - 1);
    assert_eq!(
        open_b(&n, &forged(&n, c)).unwrap_err(),
        Error::LifetimeTooLong
    );
}

#[test]
fn ip_allow_lists() {
    let n = net_with(
        json!({"actions": ["logout"]}),
        json!(["192.0.2.0/24", "2001:db8::/32"]),
    );
    let msg = to_b(&n, "logout", json!({"uid": UID, "login": "g"}));
    let from = |ip: Option<&str>| n.b.open_at(MessageType::Action, msg.as_bytes(), ip, NOW);
    assert!(from(Some("192.0.2.10")).is_ok());
    assert!(from(Some("::ffff:192.0.2.10")).is_ok());
    assert!(from(Some("2001:db8::5")).is_ok());
    for ip in [
        Some("192.0.3.1"),
        Some("127.0.0.1"),
        Some("2001:db9::1"),
        Some("not-an-ip"),
        Some(""),
        None,
    ] {
        assert_eq!(from(ip).unwrap_err(), Error::IpNotAllowed, "{ip:?}");
    }
}

#[test]
fn policy_refusals() {
    let n = net_with(
        json!({"actions": ["update", "meta"], "roles": ["*"], "meta": ["*"]}),
        json!([]),
    );
    assert_eq!(
        open_b(&n, &to_b(&n, "delete", json!({"uid": UID, "login": "h"}))).unwrap_err(),
        Error::ActionNotAccepted
    );
    // A "*" role pattern never admits a privileged role.
    let admin = to_b(
        &n,
        "update",
        json!({"uid": UID, "login": "h", "email": "h@a.test", "roles": ["administrator"]}),
    );
    assert_eq!(open_b(&n, &admin).unwrap_err(), Error::PrivilegedRole);
    for key in [
        "wp_capabilities",
        "wp_user_level",
        "session_tokens",
        "usersync_sid",
    ] {
        let c = claims(
            "update",
            json!({"uid": UID, "login": "h", "email": "h@a.test", "meta": {key: ["1"]}}),
        );
        assert_eq!(
            open_b(&n, &forged(&n, c)).unwrap_err(),
            Error::ProtectedMeta,
            "{key}"
        );
        let c = claims("meta", json!({"uid": UID, "login": "h", "delete": [key]}));
        assert_eq!(
            open_b(&n, &forged(&n, c)).unwrap_err(),
            Error::ProtectedMeta,
            "{key}"
        );
    }
    // pass_hash from a peer whose password action is not accepted is dropped, not applied.
    let upd = to_b(
        &n,
        "update",
        json!({"uid": UID, "login": "h", "email": "h@a.test", "pass_hash": BCRYPT}),
    );
    let o = open_b(&n, &upd).unwrap();
    assert!(o.dropped.pass_hash);
    assert!(!o.to_json()["data"]
        .as_object()
        .unwrap()
        .contains_key("pass_hash"));
}

#[test]
fn privileged_roles_with_explicit_permission() {
    let n = net_with(
        json!({"actions": ["update"], "roles": ["administrator"], "allow_privileged": true}),
        json!([]),
    );
    let admin = to_b(
        &n,
        "update",
        json!({"uid": UID, "login": "i", "email": "i@a.test", "roles": ["administrator"]}),
    );
    let o = open_b(&n, &admin).unwrap();
    assert_eq!(o.to_json()["data"]["roles"], json!(["administrator"]));
}

#[test]
fn schema_and_claims_refusals() {
    let n = net();
    let cases: Vec<(Value, Error)> = vec![
        (
            claims(
                "password",
                json!({"uid": UID, "login": "j", "pass_hash": "correct horse battery"}),
            ),
            Error::PassHashFormat,
        ),
        (
            claims(
                "password",
                json!({"uid": UID, "login": "j", "pass_hash": "5f4dcc3b5aa765d61d8327deb882cf99"}),
            ),
            Error::PassHashFormat,
        ),
        (
            claims(
                "update",
                json!({"uid": UID, "login": "j", "email": "j@a.test", "is_admin": true}),
            ),
            Error::UnknownField,
        ),
        (
            claims(
                "update",
                json!({"uid": UID, "login": "j", "email": "j@a.test", "fields": {"user_pass": "x"}}),
            ),
            Error::UnknownField,
        ),
        (
            claims(
                "update",
                json!({"uid": UID, "login": "j", "email": "not-an-email"}),
            ),
            Error::DataInvalid,
        ),
        (
            claims(
                "update",
                json!({"uid": UID, "login": "", "email": "j@a.test"}),
            ),
            Error::DataInvalid,
        ),
        (
            claims(
                "update",
                json!({"uid": UID, "login": "x".repeat(61), "email": "j@a.test"}),
            ),
            Error::DataInvalid,
        ),
        (
            claims(
                "update",
                json!({"uid": UID, "login": "j", "email": "j@a.test", "roles": "editor"}),
            ),
            Error::DataInvalid,
        ),
        (
            claims(
                "update",
                json!({"uid": UID, "login": "j", "email": "j@a.test", "meta": {"k": "v"}}),
            ),
            Error::DataInvalid,
        ),
        (
            claims("delete", json!({"uid": UID, "login": "j\u{0}"})),
            Error::DataInvalid,
        ),
        (
            claims("login", json!({"uid": UID, "login": "j", "remember": true})),
            Error::UnknownAction,
        ),
        (
            claims("grant", json!({"uid": UID, "login": "j"})),
            Error::UnknownAction,
        ),
    ];
    for (c, want) in cases {
        assert_eq!(open_b(&n, &forged(&n, c.clone())).unwrap_err(), want, "{c}");
    }
    let mut extra = claims("logout", json!({"uid": UID, "login": "j"}));
    extra["admin"] = json!(true);
    let mut wrong_v = claims("logout", json!({"uid": UID, "login": "j"}));
    wrong_v["v"] = json!(2);
    let mut short_jti = claims("logout", json!({"uid": UID, "login": "j"}));
    short_jti["jti"] = json!("abc");
    let mut float_time = claims("logout", json!({"uid": UID, "login": "j"}));
    float_time["iat"] = json!(1.5);
    let mut missing = claims("logout", json!({"uid": UID, "login": "j"}));
    missing.as_object_mut().unwrap().remove("jti");
    for c in [extra, wrong_v, short_jti, float_time, missing] {
        assert_eq!(
            open_b(&n, &forged(&n, c.clone())).unwrap_err(),
            Error::ClaimsInvalid,
            "{c}"
        );
    }
    let mut other_iss = claims("logout", json!({"uid": UID, "login": "j"}));
    other_iss["iss"] = json!("c.test");
    let mut other_aud = claims("logout", json!({"uid": UID, "login": "j"}));
    other_aud["aud"] = json!("c.test");
    for c in [other_iss, other_aud] {
        assert_eq!(open_b(&n, &forged(&n, c)).unwrap_err(), Error::WrongSite);
    }
}

#[test]
fn malformed_json_nesting_size_and_utf8() {
    let n = net();
    let ring = Keyring::parse(n.ab.as_bytes()).unwrap();
    let seal = |bytes: &[u8]| {
        ring.seal(b"usersync/v1|action|a.test|b.test", bytes)
            .unwrap()
    };
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let nested_data = claims(
        "update",
        json!({"uid": UID, "login": "k", "email": "k@a.test", "meta": {"k": [["deep"]]}}),
    );
    for (plain, want) in [
        (b"\xff\xfe{}".to_vec(), Error::MalformedJson),
        (
            b"{\"v\":1,\"login\":\"\xc3\x28\"}".to_vec(),
            Error::MalformedJson,
        ),
        (deep.into_bytes(), Error::MalformedJson),
        (b"[]".to_vec(), Error::MalformedJson),
        (b"".to_vec(), Error::MalformedJson),
        (nested_data.to_string().into_bytes(), Error::DataInvalid),
    ] {
        assert_eq!(open_b(&n, &seal(&plain)).unwrap_err(), want);
    }
    let huge = "A".repeat((1 << 20) + 1);
    assert_eq!(open_b(&n, &huge).unwrap_err(), Error::TooLarge);
    let meta: serde_json::Map<String, Value> = (0..20)
        .map(|i| (format!("billing_{i}"), json!(["x".repeat(60_000)])))
        .collect();
    let big_meta = json!({"uid": UID, "login": "k", "email": "k@a.test", "meta": meta});
    assert_eq!(
        n.a.build_at(&event("update", big_meta), Some("b.test"), NOW),
        Err(Error::TooLarge)
    );
}

#[test]
fn ping_and_pong_check_a_link_whatever_the_policies() {
    // b accepts nothing from a at all: pings are policy-free.
    let n = net_with(json!({}), json!([]));
    let ping = n.a.ping_at("b.test", NOW).unwrap();
    assert_eq!(ping.out.peer, "b.test");
    let opened = open_b(&n, &ping.out.message).unwrap();
    assert_eq!(opened.jti, ping.jti, "the ping names its own jti");
    assert_eq!(opened.action, Action::Ping);
    assert!(opened.eid.is_some(), "a ping is an action with its own eid");
    let pong =
        n.b.pong_at(opened.to_json().to_string().as_bytes(), NOW + 1)
            .unwrap();
    assert_eq!(pong.peer, "a.test");
    let answer =
        n.a.open_at(MessageType::Action, pong.message.as_bytes(), None, NOW + 2)
            .unwrap();
    let Action::Pong {
        ping: of,
        time,
        accepts,
        sends,
        version,
    } = answer.action
    else {
        panic!("{answer:?}")
    };
    assert_eq!((of.as_str(), time), (opened.jti.as_str(), NOW + 1));
    assert!(
        accepts.is_empty(),
        "b accepts nothing from a: the link is one-way"
    );
    assert_eq!(sends.len(), 7, "b sends a everything (policy_all)");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    // Only a ping is answered; ping and pong are never user events or configuration.
    assert_eq!(n.b.pong(b"{}").unwrap_err(), Error::DataInvalid);
    assert_eq!(
        n.a.build_at(&event("ping", json!({})), None, NOW)
            .unwrap_err(),
        Error::UnknownAction
    );
    let check = n.b.check_target(
        opened.to_json().to_string().as_bytes(),
        br#"{"account":null}"#,
    );
    assert_eq!(check, Err(Error::DataInvalid), "a ping names no account");
    let cfg = json!({"site_id": "x.test", "url": "https://x.test", "peers": [{"id": "y.test",
        "url": "https://y.test", "secrets": [n.ab], "accept": {"actions": ["ping"]}}]});
    assert!(
        Context::from_json(cfg.to_string().as_bytes()).is_err(),
        "ping is not a policy's to allow"
    );
}

#[test]
fn a_pong_reports_the_link_and_answers_only_its_own_ping() {
    // b accepts only create and update from a, and sends a everything; a sends b everything
    // and accepts everything (policy_all): a's update.. pass but delete, password, meta,
    // logout and login are refused there.
    let n = net_with(
        json!({"actions": ["create", "update"], "roles": ["subscriber"]}),
        json!([]),
    );
    let ping = n.a.ping_at("b.test", NOW).unwrap();
    let ping_json = ping.to_json().to_string();
    let opened = open_b(&n, &ping.out.message).unwrap();
    let pong =
        n.b.pong_at(opened.to_json().to_string().as_bytes(), NOW + 30)
            .unwrap();
    let report =
        n.a.check_pong_at(ping_json.as_bytes(), pong.message.as_bytes(), None, NOW + 2)
            .unwrap();
    assert_eq!(report["peer"], "b.test");
    assert_eq!(
        (report["time"].as_i64(), report["local_time"].as_i64()),
        (Some(NOW + 30), Some(NOW + 2))
    );
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        report["not_accepted"],
        json!(["delete", "password", "meta", "logout", "login"]),
        "what a sends and b refuses, in a's send order"
    );
    assert_eq!(
        report["not_sent"],
        json!([]),
        "b sends a everything a accepts"
    );

    // The pong of another ping (a replayed old answer) is not this ping's.
    let other = n.a.ping_at("b.test", NOW).unwrap().to_json().to_string();
    assert_eq!(
        n.a.check_pong_at(other.as_bytes(), pong.message.as_bytes(), None, NOW + 2),
        Err(Error::DataInvalid)
    );
    // Any other action, even a valid one from b, is no answer to a ping.
    let update =
        n.b.build_at(
            &event(
                "update",
                json!({"uid": UID, "login": "x", "email": "x@b.test"}),
            ),
            Some("a.test"),
            NOW,
        )
        .unwrap();
    assert_eq!(
        n.a.check_pong_at(
            ping_json.as_bytes(),
            update[0].message.as_bytes(),
            None,
            NOW + 2
        ),
        Err(Error::DataInvalid)
    );
    // A pong opened beyond the skew is refused by the clock rule, as every action is.
    assert_eq!(
        n.a.check_pong_at(
            ping_json.as_bytes(),
            pong.message.as_bytes(),
            None,
            NOW + 30 + 400
        ),
        Err(Error::Expired)
    );
    // The ping must be what ping() returned.
    assert_eq!(
        n.a.check_pong_at(
            b"{\"peer\": \"b.test\"}",
            pong.message.as_bytes(),
            None,
            NOW + 2
        ),
        Err(Error::DataInvalid)
    );
}

#[test]
fn the_client_address_is_believed_from_trusted_proxies_only() {
    let cfg = json!({"site_id": "b.test", "url": "https://b.test", "trusted_proxies": ["10.0.0.0/8", "2001:db8::1"],
        "peers": [{"id": "a.test", "url": "https://a.test", "secrets": [LinkSecret::generate().unwrap().to_text()]}]});
    let b = Context::from_json(cfg.to_string().as_bytes()).unwrap();
    let ip = |remote: &str, xff: Option<&str>| b.client_ip(remote, xff).map(|ip| ip.to_string());
    assert_eq!(ip("10.0.0.5", Some("192.0.2.7")), Some("192.0.2.7".into()));
    assert_eq!(ip("10.0.0.5", Some("203.0.113.9, 192.0.2.7, 10.1.2.3")), Some("192.0.2.7".into()),
        "the rightmost address no trusted proxy added: the client's own XFF entries are not believed");
    assert_eq!(
        ip("198.51.100.1", Some("192.0.2.7")),
        Some("198.51.100.1".into()),
        "an untrusted remote's header is ignored"
    );
    assert_eq!(
        ip("10.0.0.5", None),
        Some("10.0.0.5".into()),
        "no header: the proxy itself"
    );
    assert_eq!(
        ip("10.0.0.5", Some("not-an-ip, 10.0.0.6")),
        Some("10.0.0.6".into()),
        "an unparsable hop ends the walk"
    );
    assert_eq!(
        ip("2001:db8::1", Some("::ffff:192.0.2.8")),
        Some("::ffff:192.0.2.8".into())
    );
    assert_eq!(ip("garbage", Some("192.0.2.7")), None);
    let bad = json!({"site_id": "b.test", "url": "https://b.test", "trusted_proxies": ["10.0.0.0/33"], "peers": []});
    assert_eq!(
        Context::from_json(bad.to_string().as_bytes())
            .unwrap_err()
            .path,
        "trusted_proxies[0]"
    );
}

#[test]
fn peers_are_described_without_secrets() {
    let n = net();
    let peers = n.a.describe_peers();
    assert_eq!(peers[0]["id"], "b.test");
    assert_eq!(peers[0]["origin"], "https://b.test");
    assert_eq!(peers[0]["login"], true);
    assert_eq!(peers[1]["login"], false, "c is sent create and update only");
    assert_eq!(peers[1]["send"], json!(["create", "update"]));
    assert!(!peers.to_string().contains("usk1_"));
}

#[test]
fn tickets_and_return_urls() {
    let n = net();
    let mint = |req: Value| n.a.mint_ticket_at(req.to_string().as_bytes(), NOW);
    let t = mint(
        json!({"peer": "b.test", "uid": UID, "bnd": BND, "login": "lee", "remember": true, "sid": "abc_123",
                        "return": "https://a.test/wp-admin/"}),
    )
    .unwrap();
    assert_eq!(t.url, "https://b.test/");
    let o =
        n.b.open_at(MessageType::Ticket, t.message.as_bytes(), None, NOW + 5)
            .unwrap();
    assert_eq!(
        o.to_json()["data"],
        json!({"uid": UID, "login": "lee", "remember": true, "bnd": BND, "sid": "abc_123",
                                           "return": "https://a.test/wp-admin/"})
    );
    assert_eq!(o.exp, NOW + 60);
    assert_eq!(
        n.b.open_at(MessageType::Ticket, t.message.as_bytes(), None, NOW + 121)
            .unwrap_err(),
        Error::Expired
    );
    for bad in [
        "//evil.test",
        "https://a.test.evil.test/",
        "javascript:alert(1)",
        "http://a.test/",
        "https://c.test.evil/",
    ] {
        let r = mint(
            json!({"peer": "b.test", "uid": UID, "bnd": BND, "login": "lee", "remember": false, "return": bad}),
        );
        assert_eq!(r.unwrap_err(), Error::ReturnUrlRefused, "{bad}");
    }
    // A return URL a's peers allow but b does not know (c) is refused by b when opening.
    let to_c = mint(
        json!({"peer": "b.test", "uid": UID, "bnd": BND, "login": "lee", "remember": false, "return": "https://c.test/x"}),
    )
    .unwrap();
    assert_eq!(
        n.b.open_at(MessageType::Ticket, to_c.message.as_bytes(), None, NOW)
            .unwrap_err(),
        Error::ReturnUrlRefused
    );
    assert_eq!(
        mint(json!({"peer": "c.test", "uid": UID, "bnd": BND, "login": "lee", "remember": false}))
            .unwrap_err(),
        Error::ActionNotSent
    );
    assert_eq!(
        mint(json!({"peer": "x.test", "uid": UID, "bnd": BND, "login": "lee", "remember": false}))
            .unwrap_err(),
        Error::UnknownPeer
    );
    assert_eq!(
        mint(json!({"peer": "b.test", "uid": UID, "bnd": BND, "login": "lee"})).unwrap_err(),
        Error::DataInvalid
    );
    assert_eq!(
        mint(json!({"peer": "b.test", "uid": UID, "bnd": BND, "login": "lee", "remember": 1}))
            .unwrap_err(),
        Error::DataInvalid
    );
    assert_eq!(
        mint(json!({"peer": "b.test", "uid": UID, "bnd": BND, "login": "lee", "remember": true, "admin": 1})).unwrap_err(),
        Error::UnknownField
    );
}

#[test]
fn configuration_errors_name_the_field() {
    let s = LinkSecret::generate().unwrap().to_text();
    let base = |peers: Value| json!({"site_id": "a.test", "url": "https://a.test", "peers": peers});
    let peer = |extra: Value| {
        let mut p = json!({"id": "b.test", "url": "https://b.test", "secrets": [s]});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    };
    let cases = vec![
        (
            json!({"url": "https://a.test", "peers": []}),
            "site_id: is required",
        ),
        (
            json!({"site_id": "a test", "url": "https://a.test", "peers": []}),
            "site_id: must be",
        ),
        (
            json!({"site_id": "a.test", "url": "a.test", "peers": []}),
            "url: ",
        ),
        (
            json!({"site_id": "a.test", "url": "https://a.test", "peers": [], "colour": 1}),
            "colour: unknown setting",
        ),
        (
            json!({"site_id": "a.test", "url": "https://a.test", "peers": [], "clock_skew": 9999}),
            "clock_skew: must be",
        ),
        (
            base(json!([peer(json!({"secrets": ["usk1_short"]}))])),
            "peers[0].secrets[0]: a link secret must be",
        ),
        (
            base(json!([peer(json!({"secrets": []}))])),
            "peers[0].secrets: must list 1 to 3",
        ),
        (
            base(json!([peer(json!({"secrets": [s, s]}))])),
            "peers[0].secrets: the same secret",
        ),
        (
            base(json!([peer(json!({"send": {"actions": ["promote"]}}))])),
            "peers[0].send.actions[0]: unknown action",
        ),
        (
            base(json!([peer(json!({"accept": {"roles": ["ad*min"]}}))])),
            "peers[0].accept.roles[0]: must be a name",
        ),
        (
            base(json!([peer(
                json!({"accept": {"allow_privileged": "yes"}})
            )])),
            "peers[0].accept.allow_privileged",
        ),
        (
            base(json!([peer(json!({"ip_allow": ["10.0.0.1/8"]}))])),
            "peers[0].ip_allow[0]: \"10.0.0.1/8\" has host bits set: did you mean 10.0.0.0/8?",
        ),
        (
            base(json!([peer(json!({"id": "a.test"}))])),
            "peers[0].id: is this site's own",
        ),
        (
            base(json!([peer(json!({})), peer(json!({}))])),
            "peers[1].id: peer \"b.test\" is listed twice",
        ),
        (
            base(json!([peer(json!({})), peer(json!({"id": "c.test"}))])),
            "peers[1].secrets: a secret is also used for peer \"b.test\"",
        ),
        (
            base(json!([peer(json!({"send": {"colour": 1}}))])),
            "peers[0].send.colour: unknown setting",
        ),
    ];
    for (config, want) in cases {
        let err = Context::from_json(config.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(want), "{err:?} should start with {want:?}");
    }
    assert!(Context::from_json(b"{")
        .unwrap_err()
        .to_string()
        .starts_with("not valid JSON"));
    assert!(Context::from_json(base(json!([peer(json!({}))])).to_string().as_bytes()).is_ok());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn login() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_.@-][a-zA-Z0-9 _.@-]{0,40}[a-zA-Z0-9_.@-]"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever valid user a builds, b opens exactly what the policies let through.
        #[test]
        fn user_round_trip(login in login(), local in "[a-z0-9.]{1,20}",
                           name in "\\PC{0,40}", city in proptest::collection::vec("\\PC{0,30}", 0..4)) {
            let n = net();
            let data = json!({"uid": UID, "login": login, "email": format!("{local}@a.test"),
                              "fields": {"display_name": name}, "roles": ["subscriber"],
                              "meta": {"billing_city": city}});
            let msg = to_b(&n, "update", data.clone());
            let opened = open_b(&n, &msg).unwrap();
            prop_assert_eq!(&opened.to_json()["data"], &data);
        }

        /// Any change of one character of a message is refused.
        #[test]
        fn any_character_change_is_refused(pos in any::<prop::sample::Index>(), c in "[A-Za-z0-9_-]") {
            let n = net();
            let msg = to_b(&n, "logout", json!({"uid": UID, "login": "m"}));
            let i = pos.index(msg.len());
            let mut bytes = msg.clone().into_bytes();
            bytes[i] = c.as_bytes()[0];
            prop_assume!(bytes != msg.as_bytes());
            prop_assert!(open_b(&n, std::str::from_utf8(&bytes).unwrap()).is_err());
        }
    }
}

/// The target check on messages opened for real: b's policy grants subscriber and editor.
#[test]
fn target_check_protects_accounts_b_does_not_let_a_manage() {
    let n = net();
    let opened = |act: &str, data: Value| open_b(&n, &to_b(&n, act, data)).unwrap().to_json();
    let check = |opened: &Value, facts: Value| {
        n.b.check_target(opened.to_string().as_bytes(), facts.to_string().as_bytes())
    };
    let account = |roles: Value| json!({"account": {"uid": UID, "roles": roles}});
    let update = opened(
        "update",
        json!({"uid": UID, "login": "alice", "email": "a@a.test"}),
    );
    assert_eq!(
        check(&update, account(json!(["subscriber"]))),
        Ok(Verdict::Apply { end_sessions: None })
    );
    assert_eq!(
        check(&update, account(json!(["administrator"]))),
        Err(Error::ProtectedAccount)
    );
    assert_eq!(
        check(&update, account(json!(["editor", "author"]))),
        Err(Error::ProtectedAccount)
    );
    assert_eq!(
        check(
            &update,
            json!({"account": {"uid": UID, "roles": ["subscriber"], "super_admin": true}})
        ),
        Err(Error::ProtectedAccount)
    );
    assert_eq!(
        check(&update, json!({"account": null})),
        Err(Error::UnknownAccount)
    );
    let other = json!({"account": {"uid": "b3RoZXItdWlkLTAwMDAwMA", "roles": []}});
    assert_eq!(check(&update, other), Err(Error::IdentityConflict));

    let create = opened(
        "create",
        json!({"uid": UID, "login": "alice", "email": "a@a.test"}),
    );
    assert_eq!(
        check(&create, json!({"account": null})),
        Ok(Verdict::Create)
    );
    assert_eq!(
        check(&create, json!({"account": null, "login_taken": true})),
        Err(Error::IdentityConflict)
    );
    assert_eq!(
        check(&create, json!({"account": null, "email_taken": true})),
        Err(Error::IdentityConflict)
    );
    assert_eq!(
        check(&create, account(json!(["administrator"]))),
        Err(Error::ProtectedAccount)
    );

    let delete = opened("delete", json!({"uid": UID, "login": "alice"}));
    assert_eq!(check(&delete, json!({"account": null})), Ok(Verdict::Skip));

    let sessions = json!([
        {"id": "s1", "iss": "a.test", "sid": "A1"},
        {"id": "s2", "iss": "c.test", "sid": "A1"},
        {"id": "A1", "peers": ["a.test"]},
        {"id": "s4"},
    ]);
    let facts = json!({"account": {"uid": UID, "roles": ["subscriber"], "sessions": sessions}});
    let one = opened("logout", json!({"uid": UID, "login": "alice", "sid": "A1"}));
    let ids = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(
        check(&one, facts.clone()),
        Ok(Verdict::Apply {
            end_sessions: ids(&["s1", "A1"])
        })
    );
    let all = opened("logout", json!({"uid": UID, "login": "alice"}));
    assert_eq!(
        check(&all, facts),
        Ok(Verdict::Apply {
            end_sessions: ids(&["s1", "s2", "A1", "s4"])
        })
    );

    // Facts and opened messages the host got wrong are refused, never guessed at.
    assert_eq!(check(&update, json!([])), Err(Error::DataInvalid));
    assert_eq!(
        check(&update, json!({"acount": null})),
        Err(Error::DataInvalid)
    );
    let mut unknown = update.clone();
    unknown["iss"] = json!("x.test");
    assert_eq!(
        check(&unknown, json!({"account": null})),
        Err(Error::UnknownPeer)
    );
    assert_eq!(
        check(&create, json!({})),
        Err(Error::DataInvalid),
        "account is required"
    );
}

#[test]
fn target_check_binds_tickets_to_the_browser() {
    let n = net();
    let value = "a-binding-value-from-b-cookie-0123456789ab";
    let bnd = crate::identity::binding_hash(value.as_bytes());
    let t =
        n.a.mint_ticket_at(
            json!({"peer": "b.test", "uid": UID, "bnd": bnd, "login": "lee", "remember": false})
                .to_string()
                .as_bytes(),
            NOW,
        )
        .unwrap();
    let opened =
        n.b.open_at(MessageType::Ticket, t.message.as_bytes(), None, NOW)
            .unwrap()
            .to_json();
    let check = |binding: Value, roles: Value| {
        let facts = json!({"account": {"uid": UID, "roles": roles}, "binding": binding});
        n.b.check_target(opened.to_string().as_bytes(), facts.to_string().as_bytes())
    };
    assert_eq!(
        check(json!(value), json!(["subscriber"])),
        Ok(Verdict::Apply { end_sessions: None })
    );
    assert_eq!(
        check(json!(null), json!(["subscriber"])),
        Err(Error::WrongBrowser)
    );
    assert_eq!(
        check(
            json!("another-browser-binding-value-000000000000"),
            json!(["subscriber"])
        ),
        Err(Error::WrongBrowser)
    );
    assert_eq!(
        check(json!(value), json!(["administrator"])),
        Err(Error::ProtectedAccount)
    );
    let facts = json!({"account": null, "binding": value});
    assert_eq!(
        n.b.check_target(opened.to_string().as_bytes(), facts.to_string().as_bytes()),
        Err(Error::UnknownAccount)
    );
}

/// The message vectors of `tests/vectors/`, made by an independent Python implementation.
mod vectors {
    use super::*;

    fn load(name: &str) -> (Context, i64, Vec<Value>) {
        let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let ctx = Context::from_json(v["receiver_config"].to_string().as_bytes()).unwrap();
        (
            ctx,
            v["now"].as_i64().unwrap_or(0),
            v["cases"].as_array().unwrap().clone(),
        )
    }

    fn open(ctx: &Context, now: i64, case: &Value) -> Result<Opened, Error> {
        let typ = match case["typ"].as_str().unwrap() {
            "ticket" => MessageType::Ticket,
            _ => MessageType::Action,
        };
        ctx.open_at(
            typ,
            case["envelope"].as_str().unwrap().as_bytes(),
            case["remote_ip"].as_str(),
            now,
        )
    }

    #[test]
    fn every_verify_vector_opens_to_its_expected_result() {
        let (ctx, now, cases) = load("messages-verify.json");
        assert!(cases.len() >= 10);
        for case in cases {
            let opened =
                open(&ctx, now, &case).unwrap_or_else(|e| panic!("{}: {e:?}", case["desc"]));
            assert_eq!(opened.to_json(), case["expected"], "{}", case["desc"]);
        }
    }

    #[test]
    fn every_invalid_vector_is_refused_with_its_reason() {
        let (ctx, now, cases) = load("messages-invalid.json");
        assert!(cases.len() >= 50);
        for case in cases {
            let err = open(&ctx, now, &case).unwrap_err();
            assert_eq!(
                err.name(),
                case["error"].as_str().unwrap(),
                "{}",
                case["desc"]
            );
        }
    }

    #[test]
    fn every_target_vector_gets_its_verdict_or_refusal() {
        let (ctx, _, cases) = load("targets.json");
        assert!(cases.len() >= 100);
        for case in cases {
            let got = ctx.check_target(
                case["opened"].to_string().as_bytes(),
                case["facts"].to_string().as_bytes(),
            );
            match case["error"].as_str() {
                Some(error) => {
                    assert_eq!(got.map_err(|e| e.name()), Err(error), "{}", case["desc"])
                }
                None => assert_eq!(
                    got.map(|v| v.to_json()),
                    Ok(case["expected"].clone()),
                    "{}",
                    case["desc"]
                ),
            }
        }
    }

    #[test]
    fn every_sync_vector_gets_its_outcomes_or_refusal() {
        let (ctx, _, cases) = load("sync.json");
        assert!(cases.len() >= 30);
        for case in cases {
            let got = ctx.sync_answer(
                case["opened"].to_string().as_bytes(),
                case["facts"].to_string().as_bytes(),
            );
            match case["error"].as_str() {
                Some(error) => {
                    assert_eq!(got.map_err(|e| e.name()), Err(error), "{}", case["desc"])
                }
                None => assert_eq!(
                    got.map(|v| v["results"].clone()),
                    Ok(case["expected"].clone()),
                    "{}",
                    case["desc"]
                ),
            }
        }
    }
}
