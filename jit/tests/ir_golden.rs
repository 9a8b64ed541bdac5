//! Golden tests of bytecode → Cranelift IR: each method of `tests/ir/*.som`
//! is translated and the IR compared with `tests/ir/*.clif`. Addresses are
//! replaced by fixed placeholders, so the text is stable. A class that
//! understands `warm` is sent `new warm` in the interpreter first, so that
//! its inline caches hold what the code is compiled for (callees inlined,
//! say). Set `MICA_BLESS=1` to rewrite the expected files after an intended
//! change.

use std::fs;
use std::path::PathBuf;

use interp::{InterpConfig, Interpreter};
use vm::compiler::{ClassPath, compile_file};
use vm::layout::METHOD_SELECTOR;
use vm::universe::{NamespaceId, Universe, UniverseConfig};

#[test]
fn ir_matches() {
    let dir = PathBuf::from("tests/ir");
    let mut sources: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/ir exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "som"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty());
    let bless = std::env::var_os("MICA_BLESS").is_some_and(|v| v != "0");
    let mut failures = Vec::new();
    for source in sources {
        let config = UniverseConfig { stack_words: 1 << 16, ..UniverseConfig::default() };
        let mut u = Universe::new(config).expect("kernel installs");
        let mut cp = ClassPath::new(vec![]);
        cp.set_kernel_shapes(u.class_shapes(NamespaceId::KERNEL));
        let compiled = compile_file(&source, &cp).expect("compiles");
        let class = u.install_class(&compiled, NamespaceId::PROGRAM).expect("installs");
        let warm = u.intern("warm").expect("interns");
        let warms = u.lookup(class, warm) != u.nil();
        let config = InterpConfig { class_path: vec![], universe: config };
        let mut interp = Interpreter::with_universe(u, config).expect("an interpreter");
        if warms {
            let instance = interp.send(class, "new", &[]).expect("new");
            interp.send(instance, "warm", &[]).expect("warm runs");
        }
        let u = &mut interp.u;
        let mut text = String::new();
        for method in u.methods_of(class) {
            let rt = u.runtime_index(method);
            let name = u.text_or_describe(method.slot(METHOD_SELECTOR));
            text.push_str(&format!("; {}>>{name}\n", compiled.name));
            text.push_str(&jit::ir_text(u, rt).expect("translates"));
            text.push('\n');
        }
        let expected_path = source.with_extension("clif");
        if bless {
            fs::write(&expected_path, &text).expect("writes");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != text {
            let line = expected.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(0);
            failures.push(format!(
                "{} differs at line {} (MICA_BLESS=1 rewrites it):\n  expected: {}\n  actual:   {}",
                expected_path.display(),
                line + 1,
                expected.lines().nth(line).unwrap_or("<end>"),
                text.lines().nth(line).unwrap_or("<end>")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
