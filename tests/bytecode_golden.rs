//! Golden tests: every `tests/bytecode/*.som` compiles, verifies and
//! disassembles to exactly its `.expected` listing; and the opcode table
//! matches `tests/bytecode/opcodes.expected`, so that a change to the
//! encoding cannot go unnoticed.
//!
//! Set `MICA_BLESS=1` to rewrite the expected files after an intended change.

use std::fs;
use std::path::{Path, PathBuf};

use vm::bytecode::{Opcode, disassemble_class, verify_class};
use vm::compiler::{ClassPath, compile_file};

fn bless() -> bool {
    std::env::var_os("MICA_BLESS").is_some_and(|v| v != "0")
}

/// Compares `actual` with the file at `expected`, or rewrites it when blessing.
fn check(expected: &Path, actual: &str) -> Result<(), String> {
    if bless() {
        fs::write(expected, actual).map_err(|e| format!("{}: {e}", expected.display()))?;
        return Ok(());
    }
    let want = fs::read_to_string(expected)
        .map_err(|e| format!("{}: {e} (run with MICA_BLESS=1 to create it)", expected.display()))?;
    if want == actual {
        return Ok(());
    }
    let first_diff = want.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
    let show = |text: &str| text.lines().skip(first_diff).take(5).collect::<Vec<_>>().join("\n");
    Err(format!(
        "{} differs from the compiler's output at line {}:\n--- expected\n{}\n--- actual\n{}\n(run with MICA_BLESS=1 if the change is intended)",
        expected.display(),
        first_diff + 1,
        show(&want),
        show(actual)
    ))
}

fn golden_dir() -> PathBuf {
    PathBuf::from("tests/bytecode")
}

#[test]
fn listings_match() {
    let dir = golden_dir();
    let class_path = ClassPath::new(vec![dir.clone()]);
    let mut sources: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/bytecode exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "som"))
        .collect();
    sources.sort();
    assert!(sources.len() >= 10, "golden sources missing");
    let mut failures = Vec::new();
    for source in &sources {
        let result = compile_file(source, &class_path).map_err(|e| e.to_string()).and_then(|class| {
            verify_class(&class).map_err(|e| e.to_string())?;
            check(&source.with_extension("expected"), &disassemble_class(&class))
        });
        if let Err(e) = result {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn opcode_table_matches() {
    let mut out = String::from("# byte  name  operands  stack  flags  -- every opcode, in encoding order\n");
    for &op in Opcode::ALL {
        let operands: Vec<String> =
            op.operand_names().iter().zip(op.operand_kinds()).map(|(name, kind)| format!("{name}:{kind:?}")).collect();
        let zeros = vec![0; operands.len()];
        let (pops, pushes) = vm::bytecode::Insn::from_operands(op, &zeros).stack_effect();
        out.push_str(&format!(
            "{:3}  {:<14} ({})  {}->{}  {:?}\n",
            op.byte(),
            op.name(),
            operands.join(", "),
            pops,
            pushes,
            op.flags()
        ));
    }
    check(&golden_dir().join("opcodes.expected"), &out).unwrap_or_else(|e| panic!("{e}"));
}
