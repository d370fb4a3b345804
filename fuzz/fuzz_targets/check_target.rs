//! Arbitrary facts, and arbitrary opened messages, through the target check (as a buggy or
//! hostile host could pass them): refused or decided cleanly, never a panic, and never a
//! verdict for an account whose uid differs from the message's.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[path = "common.rs"]
mod common;

const UID: &str = "dWlkLW9mLWFsaWNlLTAwMQ";
const OPENED: &str = r#"{"iss":"a.test","jti":"AAAAAAAAAAAAAAAAAAAAAA","eid":"ZXZlbnQtaWQtMDAwMDAwMQ","exp":1,"act":"logout","data":{"uid":"dWlkLW9mLWFsaWNlLTAwMQ","login":"a","sid":"s"}}"#;
const FACTS: &str = r#"{"account":{"uid":"dWlkLW9mLWFsaWNlLTAwMQ","roles":["subscriber"],"sessions":[{"id":"s","iss":"a.test","sid":"s"}]}}"#;

fuzz_target!(|data: &[u8]| {
    let ctx = common::context();
    if let Ok(verdict) = ctx.check_target(OPENED.as_bytes(), data) {
        // A verdict on an account is only ever for the message's own uid.
        if let Ok(Value::Object(facts)) = serde_json::from_slice::<Value>(data) {
            if let Some(uid) = facts.get("account").and_then(|a| a.get("uid")) {
                assert_eq!(uid, UID, "{verdict:?}");
            }
        }
    }
    let _ = ctx.check_target(data, FACTS.as_bytes());
});
