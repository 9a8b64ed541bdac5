//! Fuzz target: the live protocol's decoder must never panic, whatever a
//! client sends, and every error reply it leads to must be one JSON line.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/live/protocol.rs"]
#[allow(dead_code)]
mod protocol;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let id = protocol::id_of(line);
    let _ = protocol::interrupt_target(line);
    if let Err(bad) = protocol::decode(line) {
        let reply = protocol::error_line(&id, "badRequest", &bad.0, "");
        assert!(!reply.contains('\n'), "an error reply spans lines: {reply}");
        let back: serde_json::Value = serde_json::from_str(&reply).expect("error replies are JSON");
        assert_eq!(back["ok"], false);
    }
});
