//! Fuzz target: the compiler must never panic, whatever the input. Every
//! class that compiles must also pass the bytecode verifier and disassemble.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vm::bytecode::{disassemble_class, verify_class};
use vm::compiler::{ClassPath, compile_class_source, parse_statements};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let class_path = ClassPath::new(Vec::new());
    if let Ok(class) = compile_class_source("fuzz.som", source, None, &class_path) {
        if let Err(e) = verify_class(&class) {
            panic!("compiled code fails verification: {e}");
        }
        let _ = disassemble_class(&class);
    }
    let _ = parse_statements("fuzz.som", source);
});
