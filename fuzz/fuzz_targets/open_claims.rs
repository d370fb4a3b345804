//! Arbitrary bytes as the plaintext of a correctly sealed message (as a compromised peer could
//! send): claims, schemas and policy must refuse or sanitise cleanly, never panic. Each input is
//! tried as it is and, when it is a JSON object with `iat`, with its times moved to now, so that
//! fuzzing reaches the checks behind the clock.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use usersync::Keyring;

#[path = "common.rs"]
mod common;

fn open(plaintext: &[u8]) {
    let ring = Keyring::parse(common::SECRET.as_bytes()).unwrap();
    let ctx = common::context();
    for typ in ["action", "ticket"] {
        let aad = format!("usersync/v1|{typ}|a.test|b.test");
        let text = ring.seal(aad.as_bytes(), plaintext).unwrap();
        let _ = if typ == "action" {
            ctx.open_action(text.as_bytes(), Some("127.0.0.1"))
        } else {
            ctx.open_ticket(text.as_bytes())
        };
    }
}

fuzz_target!(|data: &[u8]| {
    open(data);
    if let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(data) {
        if claims.get("iat").is_some_and(Value::is_i64) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            claims.insert("iat".into(), now.into());
            claims.insert("exp".into(), (now + 60).into());
            open(&serde_json::to_vec(&claims).unwrap());
        }
    }
});
