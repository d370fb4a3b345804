//! Arbitrary bytes as a message text: opening must refuse cleanly, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let ctx = common::context();
    assert!(ctx.open_action(data, Some("127.0.0.1")).is_err());
    assert!(ctx.open_ticket(data).is_err());
});
