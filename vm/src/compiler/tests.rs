//! Code-generator tests: small classes compiled from source, checked
//! instruction by instruction, and always run through the verifier.

use std::path::{Path, PathBuf};

use super::*;
use crate::bytecode::{
    CodeFlags, CompiledClass, CompiledCode, EXTRA_WIDE_PREFIX, Insn, Literal, Opcode, SPECIAL_SELECTORS, WIDE_PREFIX,
    decode, disassemble_class, instructions, selector_arity, verify_class, verify_method,
};

// ---- helpers ---------------------------------------------------------------

/// Compiles a class with no class path, verifies it and returns it.
fn compile(src: &str) -> CompiledClass {
    compile_with(src, &ClassPath::new(vec![]))
}

fn compile_with(src: &str, class_path: &ClassPath) -> CompiledClass {
    let class = compile_class_source("Test.som", src, None, class_path)
        .unwrap_or_else(|e| panic!("should compile:\n{src}\n{e}"));
    verified(class)
}

fn verified(class: CompiledClass) -> CompiledClass {
    if let Err(e) = verify_class(&class) {
        panic!("verification failed: {e}\n{}", disassemble_class(&class));
    }
    class
}

/// The compile error for `src`.
fn compile_err(src: &str) -> CompileError {
    match compile_class_source("Test.som", src, None, &ClassPath::new(vec![])) {
        Ok(class) => panic!("should not compile:\n{src}\n{}", disassemble_class(&class)),
        Err(e) => e,
    }
}

fn method<'c>(class: &'c CompiledClass, selector: &str) -> &'c CompiledCode {
    class.methods.iter().find(|m| m.selector() == Some(selector)).unwrap_or_else(|| panic!("no method {selector}"))
}

fn class_method<'c>(class: &'c CompiledClass, selector: &str) -> &'c CompiledCode {
    class
        .class_methods
        .iter()
        .find(|m| m.selector() == Some(selector))
        .unwrap_or_else(|| panic!("no class method {selector}"))
}

/// Compiles one method (given as `pattern = ( body )`) in a class with the
/// fields `f` and `g`, verifies it and returns it.
fn compile_one(method_src: &str) -> CompiledCode {
    let class = compile(&format!("Test = (\n| f g |\n{method_src}\n)"));
    assert_eq!(class.methods.len(), 1);
    class.methods.into_iter().next().expect("one method")
}

fn insns(code: &CompiledCode) -> Vec<Insn> {
    instructions(&code.code).map(|r| r.expect("decodes").1.insn).collect()
}

fn opcodes(code: &CompiledCode) -> Vec<Opcode> {
    insns(code).iter().map(Insn::opcode).collect()
}

fn count(code: &CompiledCode, op: Opcode) -> usize {
    opcodes(code).iter().filter(|&&o| o == op).count()
}

fn position(code: &CompiledCode, op: Opcode) -> Option<usize> {
    opcodes(code).iter().position(|&o| o == op)
}

/// The blocks among the literals of `code`.
fn blocks(code: &CompiledCode) -> Vec<&CompiledCode> {
    code.literals
        .iter()
        .filter_map(|l| match l {
            Literal::Block(b) => Some(&**b),
            _ => None,
        })
        .collect()
}

fn only_block(code: &CompiledCode) -> &CompiledCode {
    let bs = blocks(code);
    assert_eq!(bs.len(), 1, "expected exactly one block");
    bs[0]
}

/// The selectors sent with `Send` or `SuperSend`.
fn sent_selectors(code: &CompiledCode) -> Vec<String> {
    insns(code)
        .iter()
        .filter_map(|i| match *i {
            Insn::Send { selector, .. } | Insn::SuperSend { selector, .. } => match &code.literals[selector as usize] {
                Literal::Symbol(s) => Some(s.clone()),
                other => panic!("selector literal {other:?}"),
            },
            _ => None,
        })
        .collect()
}

/// `(pc, insn, encoded length)` of every instruction.
fn decoded(code: &CompiledCode) -> Vec<(usize, Insn, usize)> {
    instructions(&code.code)
        .map(|r| {
            let (pc, d) = r.expect("decodes");
            (pc, d.insn, d.len)
        })
        .collect()
}

/// A fresh directory under the system temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("mica-compiler-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temporary directory");
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).expect("write class file");
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- fields and globals --------------------------------------------------------

#[test]
fn field_indices_count_inherited_fields() {
    let dir = TempDir::new("fields");
    dir.write("A.som", "A = ( | a b | ---- | ca | )");
    dir.write("B.som", "B = A ( | c | ---- | cb | )");
    let src = "C = B (\n\
               | d |\n\
               sum = ( ^a + d )\n\
               setC = ( c := d )\n\
               getB = ( ^b )\n\
               ----\n\
               | cc |\n\
               classSum = ( ^ca + cc )\n\
               )";
    let class = compile_with(src, &ClassPath::new(vec![dir.path().to_path_buf()]));
    assert_eq!(class.superclass.as_deref(), Some("B"));
    assert_eq!(class.inherited_fields, ["a", "b", "c"]);
    assert_eq!(class.fields, ["d"]);
    assert_eq!(class.instance_size(), 4);
    // Class-side fields come after the VM's fields of every class object.
    let base = crate::layout::CLASS_FIXED_FIELDS;
    assert_eq!(class.inherited_class_fields[..base], class_object_fields()[..]);
    assert_eq!(class.inherited_class_fields[base..], ["ca", "cb"]);
    assert_eq!(class.class_fields, ["cc"]);
    assert_eq!(
        insns(method(&class, "sum")),
        [Insn::PushField { index: 0 }, Insn::PushField { index: 3 }, Insn::SendAdd { ic: 0 }, Insn::Return {}]
    );
    assert_eq!(
        insns(method(&class, "setC")),
        [Insn::PushField { index: 3 }, Insn::PopField { index: 2 }, Insn::ReturnSelf {}]
    );
    assert_eq!(insns(method(&class, "getB")), [Insn::PushField { index: 1 }, Insn::Return {}]);
    assert_eq!(
        insns(class_method(&class, "classSum")),
        [
            Insn::PushField { index: base as u32 },
            Insn::PushField { index: base as u32 + 2 },
            Insn::SendAdd { ic: 0 },
            Insn::Return {}
        ]
    );

    // The directory given with the source is searched too.
    let class =
        compile_class_source("C.som", src, Some(dir.path()), &ClassPath::new(vec![])).unwrap_or_else(|e| panic!("{e}"));
    let class = verified(class);
    assert_eq!(class.inherited_fields, ["a", "b", "c"]);

    // A kernel superclass has no fields.
    let class = compile("D = Array ( | x | get = ( ^x ) )");
    assert!(class.inherited_fields.is_empty());
    assert_eq!(insns(method(&class, "get")), [Insn::PushField { index: 0 }, Insn::Return {}]);
}

#[test]
fn superclass_problems_are_errors() {
    let e = compile_err("D = Nowhere ( )");
    assert_eq!(e.span, Span::new(1, 5));
    assert!(e.message.contains("cannot find superclass Nowhere"), "{e}");
    let e = compile_err("Foo = Foo ( )");
    assert_eq!(e.span, Span::new(1, 7));
    assert!(e.message.contains("inherits from itself"), "{e}");

    // An error in the superclass's file is reported there.
    let dir = TempDir::new("badsuper");
    dir.write("Bad.som", "Bad = ( foo = ( ^ ) )");
    let e = compile_class_source("C.som", "C = Bad ( )", None, &ClassPath::new(vec![dir.path().to_path_buf()]))
        .expect_err("superclass does not parse");
    assert!(e.file.ends_with("Bad.som"), "{e}");
    assert_eq!(e.span, Span::new(1, 19));
    assert!(e.message.contains("expected an expression"), "{e}");
}

#[test]
fn root_and_default_superclasses() {
    let class = compile("Object = nil ( | class | == other = primitive  klass = ( ^class ) )");
    assert_eq!(class.superclass, None);
    assert!(class.inherited_fields.is_empty());
    assert_eq!(insns(method(&class, "klass")), [Insn::PushField { index: 0 }, Insn::Return {}]);
    let class = compile("Foo = ( )");
    assert_eq!(class.superclass.as_deref(), Some("Object"));
    assert_eq!(class.name, "Foo");
    assert_eq!(class.file, "Test.som");
}

#[test]
fn class_side_fields() {
    let class = compile(
        "Foo = (\n\
         | a |\n\
         getA = ( ^a )\n\
         ----\n\
         | x y |\n\
         setY = ( y := 3 )\n\
         getX = ( ^x )\n\
         instanceField = ( ^a )\n\
         )",
    );
    let base = crate::layout::CLASS_FIXED_FIELDS as u32;
    assert_eq!(class.class_fields, ["x", "y"]);
    assert_eq!(class.class_side_size(), base as usize + 2);
    assert_eq!(insns(method(&class, "getA")), [Insn::PushField { index: 0 }, Insn::Return {}]);
    assert_eq!(
        insns(class_method(&class, "setY")),
        [Insn::PushInteger { value: 3 }, Insn::PopField { index: base + 1 }, Insn::ReturnSelf {}]
    );
    assert_eq!(insns(class_method(&class, "getX")), [Insn::PushField { index: base }, Insn::Return {}]);
    // Instance fields are not visible on the class side: `a` is a global there.
    let m = class_method(&class, "instanceField");
    assert_eq!(insns(m), [Insn::PushGlobal { binding: 0 }, Insn::Return {}]);
    assert_eq!(m.literals, [Literal::Global("a".into())]);
}

#[test]
fn unknown_names_are_globals() {
    let m = compile_one("m = ( ^Transcript show: Foo , Foo )");
    let globals: Vec<&Literal> = m.literals.iter().filter(|l| matches!(l, Literal::Global(_))).collect();
    assert_eq!(globals, [&Literal::Global("Transcript".into()), &Literal::Global("Foo".into())]);
    let pushes: Vec<u32> = insns(&m)
        .iter()
        .filter_map(|i| match *i {
            Insn::PushGlobal { binding } => Some(binding),
            _ => None,
        })
        .collect();
    assert_eq!(pushes.len(), 3);
    assert_eq!(m.literals[pushes[0] as usize], Literal::Global("Transcript".into()));
    assert_eq!(pushes[1], pushes[2], "one binding literal per global");
    assert_eq!(m.literals[pushes[1] as usize], Literal::Global("Foo".into()));
    // Pseudo-variables are not globals.
    let m = compile_one("m = ( ^{ nil. true. false. self. super } )");
    assert_eq!(
        insns(&m),
        [
            Insn::PushNil {},
            Insn::PushTrue {},
            Insn::PushFalse {},
            Insn::PushSelf {},
            Insn::PushSelf {},
            Insn::MakeArray { count: 5 },
            Insn::Return {}
        ]
    );
    assert!(m.literals.is_empty());
}

// ---- assignment ------------------------------------------------------------------

#[test]
fn assigning_to_pseudo_variables_is_an_error() {
    for name in ["self", "super", "nil", "true", "false"] {
        let e = compile_err(&format!("Test = (\n  m = ( {name} := 3 )\n)"));
        assert_eq!(e.span, Span::new(2, 9), "{name}: {e}");
        assert!(e.message.contains(&format!("cannot assign to the pseudo-variable '{name}'")), "{e}");
        assert_eq!(e.source_line, format!("  m = ( {name} := 3 )"));
    }
    let e = compile_err("Test = (\n  m = (\n    ^[ :a | a. self := a ] )\n)");
    assert_eq!(e.span, Span::new(3, 16));
}

#[test]
fn assigning_to_an_undeclared_name_is_an_error() {
    let e = compile_err("Test = (\n  m = ( | t | t := 1. zork := t )\n)");
    assert_eq!(e.span, Span::new(2, 23));
    assert!(e.message.contains("cannot assign to 'zork'"), "{e}");
    let e = compile_err("Test = ( m = ( ^[ Zork := 1 ] ) )");
    assert!(e.message.contains("cannot assign to 'Zork'"), "{e}");
}

#[test]
fn global_assignment_when_allowed() {
    let options = CompileOptions { allow_global_assignment: true };
    let m = compile_method_source("repl", "m = ( zork := 3. ^zork )", &[], options).unwrap_or_else(|e| panic!("{e}"));
    verify_method(&m, 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.literals, [Literal::Global("zork".into())]);
    assert_eq!(
        insns(&m),
        [
            Insn::PushInteger { value: 3 },
            Insn::StoreGlobal { binding: 0 },
            Insn::Pop {},
            Insn::PushGlobal { binding: 0 },
            Insn::Return {}
        ]
    );
    let m = compile_method_source("repl", "m = ( ^zork := 4 )", &[], options).unwrap_or_else(|e| panic!("{e}"));
    verify_method(&m, 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(insns(&m), [Insn::PushInteger { value: 4 }, Insn::StoreGlobal { binding: 0 }, Insn::Return {}]);
    // Fields still win over globals.
    let fields = vec!["f".to_string()];
    let m = compile_method_source("repl", "m = ( f := 1 )", &fields, options).unwrap_or_else(|e| panic!("{e}"));
    verify_method(&m, 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(insns(&m), [Insn::PushInteger { value: 1 }, Insn::PopField { index: 0 }, Insn::ReturnSelf {}]);
    // Pseudo-variables are still not assignable.
    let e = compile_method_source("repl", "m = ( self := 1 )", &[], options).expect_err("self");
    assert!(e.message.contains("pseudo-variable"), "{e}");
    // And without the option, the same source is an error.
    let e = compile_method_source("repl", "m = ( zork := 3 )", &[], CompileOptions::default()).expect_err("undeclared");
    assert_eq!(e.span, Span::new(1, 7));
}

#[test]
fn assigning_to_arguments() {
    let m = compile_one("m: x = ( x := x + 1. ^x )");
    assert_eq!(
        insns(&m),
        [
            Insn::PushArg { index: 0 },
            Insn::PushInteger { value: 1 },
            Insn::SendAdd { ic: 0 },
            Insn::PopArg { index: 0 },
            Insn::PushArg { index: 0 },
            Insn::Return {}
        ]
    );
    let m = compile_one("m: x with: y = ( ^y := x )");
    assert_eq!(insns(&m), [Insn::PushArg { index: 0 }, Insn::StoreArg { index: 1 }, Insn::Return {}]);
    // A block's own argument.
    let m = compile_one("m = ( ^[:a | a := a + 1. a] )");
    assert_eq!(
        insns(only_block(&m)),
        [
            Insn::PushArg { index: 0 },
            Insn::PushInteger { value: 1 },
            Insn::SendAdd { ic: 0 },
            Insn::PopArg { index: 0 },
            Insn::PushArg { index: 0 },
            Insn::Return {}
        ]
    );
    // A captured argument lives in the context, for the method and the block.
    let m = compile_one("m: x = ( [ x := 3 ] value. ^x )");
    assert_eq!(
        insns(&m),
        [
            Insn::PushContext { size: 1 },
            Insn::PushArg { index: 0 },
            Insn::PopOuter { level: 0, index: 0 },
            Insn::MakeBlock { block: 0 },
            Insn::SendValue { ic: 0 },
            Insn::Pop {},
            Insn::PushOuter { level: 0, index: 0 },
            Insn::Return {}
        ]
    );
    assert_eq!(
        insns(only_block(&m)),
        [Insn::PushInteger { value: 3 }, Insn::StoreOuter { level: 0, index: 0 }, Insn::Return {}]
    );
}

#[test]
fn assignments_to_temporaries_and_fields() {
    let m = compile_one("m = ( | t | t := 1. f := t. ^g := f )");
    assert_eq!(
        insns(&m),
        [
            Insn::PushInteger { value: 1 },
            Insn::PopTemp { index: 0 },
            Insn::PushTemp { index: 0 },
            Insn::PopField { index: 0 },
            Insn::PushField { index: 0 },
            Insn::StoreField { index: 1 },
            Insn::Return {}
        ]
    );
    assert_eq!(m.num_temps, 1);
    // Chained assignment stores right to left and keeps the value.
    let m = compile_one("m = ( | a b | a := b := 3. ^a )");
    assert_eq!(
        insns(&m),
        [
            Insn::PushInteger { value: 3 },
            Insn::StoreTemp { index: 1 },
            Insn::PopTemp { index: 0 },
            Insn::PushTemp { index: 0 },
            Insn::Return {}
        ]
    );
}

// ---- sends -----------------------------------------------------------------------

#[test]
fn special_selectors_compile_to_their_opcodes() {
    for &(op, selector) in SPECIAL_SELECTORS {
        let arity = selector_arity(selector);
        let args = ["y", "z"];
        let send = if arity == 0 {
            format!("x {selector}")
        } else if selector.ends_with(':') {
            let parts: Vec<String> = selector.split_inclusive(':').zip(args).map(|(k, a)| format!("{k} {a}")).collect();
            format!("x {}", parts.join(" "))
        } else {
            format!("x {selector} y")
        };
        let m = compile_one(&format!("m: x y: y z: z = ( ^{send} )"));
        let mut expected: Vec<Insn> = (0..=arity as u32).map(|index| Insn::PushArg { index }).collect();
        if op == Opcode::SendIdentical {
            expected.push(Insn::SendIdentical {});
            assert_eq!(m.num_ics, 0, "== has no inline cache");
        } else {
            expected.push(Insn::from_operands(op, &[0]));
            assert_eq!(m.num_ics, 1, "{selector}");
        }
        expected.push(Insn::Return {});
        assert_eq!(insns(&m), expected, "{send}");
        assert!(m.literals.is_empty(), "{send}: special sends need no selector literal");
    }
}

#[test]
fn ordinary_sends_use_selector_literals_and_inline_caches() {
    let m = compile_one("m: x = ( ^x foo: 1 bar: x baz )");
    assert_eq!(m.literals, [Literal::Symbol("baz".into()), Literal::Symbol("foo:bar:".into())]);
    assert_eq!(
        insns(&m),
        [
            Insn::PushArg { index: 0 },
            Insn::PushInteger { value: 1 },
            Insn::PushArg { index: 0 },
            Insn::Send { selector: 0, argc: 0, ic: 0 },
            Insn::Send { selector: 1, argc: 2, ic: 1 },
            Insn::Return {}
        ]
    );
    assert_eq!(m.num_ics, 2);
    // Each send site has its own cache; the selector literal is shared.
    let m = compile_one("m: x = ( x foo. ^x foo )");
    assert_eq!(m.literals.len(), 1);
    assert_eq!(m.num_ics, 2);
}

#[test]
fn super_sends() {
    let class = compile(
        "Test = (\n\
         m = ( ^super m )\n\
         + x = ( ^super + x )\n\
         at: i = ( ^super at: i )\n\
         same: x = ( ^super == x )\n\
         both = ( super foo; bar: 1 )\n\
         plain = ( ^super )\n\
         )",
    );
    assert_eq!(
        insns(method(&class, "m")),
        [Insn::PushSelf {}, Insn::SuperSend { selector: 0, argc: 0, ic: 0 }, Insn::Return {}]
    );
    assert_eq!(method(&class, "m").literals, [Literal::Symbol("m".into())]);
    // Special selectors sent to super are ordinary super sends.
    assert_eq!(
        insns(method(&class, "+")),
        [
            Insn::PushSelf {},
            Insn::PushArg { index: 0 },
            Insn::SuperSend { selector: 0, argc: 1, ic: 0 },
            Insn::Return {}
        ]
    );
    assert_eq!(method(&class, "+").literals, [Literal::Symbol("+".into())]);
    assert_eq!(sent_selectors(method(&class, "at:")), ["at:"]);
    assert_eq!(sent_selectors(method(&class, "same:")), ["=="]);
    assert_eq!(count(method(&class, "same:"), Opcode::SendIdentical), 0);
    // A cascade to super sends every part to super.
    assert_eq!(
        insns(method(&class, "both")),
        [
            Insn::PushSelf {},
            Insn::SuperSend { selector: 0, argc: 0, ic: 0 },
            Insn::Pop {},
            Insn::PushSelf {},
            Insn::PushInteger { value: 1 },
            Insn::SuperSend { selector: 1, argc: 1, ic: 1 },
            Insn::Pop {},
            Insn::ReturnSelf {}
        ]
    );
    assert_eq!(insns(method(&class, "plain")), [Insn::PushSelf {}, Insn::Return {}]);
}

#[test]
fn cascades_duplicate_the_receiver() {
    let m = compile_one("m: x = ( ^x foo; bar: 1; baz )");
    assert_eq!(
        insns(&m),
        [
            Insn::PushArg { index: 0 },
            Insn::Dup {},
            Insn::Send { selector: 0, argc: 0, ic: 0 },
            Insn::Pop {},
            Insn::Dup {},
            Insn::PushInteger { value: 1 },
            Insn::Send { selector: 1, argc: 1, ic: 1 },
            Insn::Pop {},
            Insn::Send { selector: 2, argc: 0, ic: 2 },
            Insn::Return {}
        ]
    );
    // The receiver is evaluated once, and a part may be an inlined form.
    let m = compile_one("m: x = ( ^x next isNil; ifTrue: [1] ifFalse: [2] )");
    assert_eq!(sent_selectors(&m), ["next"]);
    assert_eq!(count(&m, Opcode::SendIsNil), 1);
    assert!(blocks(&m).is_empty());
}

#[test]
fn literals() {
    let m = compile_one(
        "m = ( ^{ 7. -5. 4000000000. 123456789012345678901234567890. 1.5. 'str'. #sym. $c. #(1 $a #b (2)). 7. 'str' } )",
    );
    assert_eq!(
        m.literals,
        [
            Literal::Integer(4_000_000_000),
            Literal::LargeInteger("123456789012345678901234567890".into()),
            Literal::Double(1.5),
            Literal::String("str".into()),
            Literal::Symbol("sym".into()),
            Literal::Character('c'),
            Literal::Array(vec![
                Literal::Integer(1),
                Literal::Character('a'),
                Literal::Symbol("b".into()),
                Literal::Array(vec![Literal::Integer(2)])
            ]),
        ]
    );
    assert_eq!(
        insns(&m),
        [
            Insn::PushInteger { value: 7 },
            Insn::PushInteger { value: -5 },
            Insn::PushLiteral { index: 0 },
            Insn::PushLiteral { index: 1 },
            Insn::PushLiteral { index: 2 },
            Insn::PushLiteral { index: 3 },
            Insn::PushLiteral { index: 4 },
            Insn::PushLiteral { index: 5 },
            Insn::PushLiteral { index: 6 },
            Insn::PushInteger { value: 7 },
            Insn::PushLiteral { index: 3 },
            Insn::MakeArray { count: 11 },
            Insn::Return {}
        ]
    );
    // A string and a symbol with the same text are different literals.
    let m = compile_one("m = ( ^{ 'a'. #a } )");
    assert_eq!(m.literals, [Literal::String("a".into()), Literal::Symbol("a".into())]);
    let m = compile_one("m = ( ^{} )");
    assert_eq!(insns(&m), [Insn::MakeArray { count: 0 }, Insn::Return {}]);
    // Immediate integers use the narrowest signed operand; beyond 32 bits they are literals.
    let m = compile_one("m = ( ^{ -128. -129. 32767. -32768. 40000. -2147483648. 2147483647. 2147483648 } )");
    assert_eq!(m.literals, [Literal::Integer(2_147_483_648)]);
    let lens: Vec<(Insn, usize)> = decoded(&m).into_iter().map(|(_, i, len)| (i, len)).collect();
    assert_eq!(
        lens,
        [
            (Insn::PushInteger { value: -128 }, 2),
            (Insn::PushInteger { value: -129 }, 4),
            (Insn::PushInteger { value: 32767 }, 4),
            (Insn::PushInteger { value: -32768 }, 4),
            (Insn::PushInteger { value: 40000 }, 6),
            (Insn::PushInteger { value: i32::MIN }, 6),
            (Insn::PushInteger { value: i32::MAX }, 6),
            (Insn::PushLiteral { index: 0 }, 2),
            (Insn::MakeArray { count: 8 }, 2),
            (Insn::Return {}, 1),
        ]
    );
}

#[test]
fn returns_and_empty_bodies() {
    assert_eq!(insns(&compile_one("m = ( )")), [Insn::ReturnSelf {}]);
    assert_eq!(insns(&compile_one("m = ( ^self )")), [Insn::ReturnSelf {}]);
    assert_eq!(
        insns(&compile_one("m = ( 1. 2 )")),
        [
            Insn::PushInteger { value: 1 },
            Insn::Pop {},
            Insn::PushInteger { value: 2 },
            Insn::Pop {},
            Insn::ReturnSelf {}
        ]
    );
    let m = compile_one("m = ( ^[] )");
    assert_eq!(insns(only_block(&m)), [Insn::PushNil {}, Insn::Return {}]);
    let m = compile_one("m = ( ^[:a :b | ] )");
    let b = only_block(&m);
    assert_eq!(b.num_args, 2);
    assert_eq!(b.selector(), None);
    assert_eq!(insns(b), [Insn::PushNil {}, Insn::Return {}]);
    // A block's value is its last statement's.
    let m = compile_one("m = ( ^[:a | a foo. a] )");
    assert_eq!(
        insns(only_block(&m)),
        [
            Insn::PushArg { index: 0 },
            Insn::Send { selector: 0, argc: 0, ic: 0 },
            Insn::Pop {},
            Insn::PushArg { index: 0 },
            Insn::Return {}
        ]
    );
    // Code after both branches return is dropped.
    let m = compile_one("m: x = ( x ifTrue: [^1] ifFalse: [^2]. ^3 )");
    assert!(!insns(&m).contains(&Insn::PushInteger { value: 3 }));
    assert_eq!(count(&m, Opcode::Return), 2);
}

#[test]
fn lines_are_recorded() {
    let class = compile("Test = (\n  m: x = (\n    | t |\n    t := x foo.\n    ^t\n      bar\n  )\n)");
    let m = method(&class, "m:");
    assert_eq!(m.line, 2);
    let code = decoded(m);
    let line_of = |insn: Insn| {
        let &(pc, _, _) = code.iter().find(|(_, i, _)| *i == insn).expect("instruction present");
        m.lines.line_at(pc as u32)
    };
    assert_eq!(line_of(Insn::Send { selector: 0, argc: 0, ic: 0 }), 4);
    assert_eq!(line_of(Insn::Send { selector: 1, argc: 0, ic: 1 }), 6);
    assert_eq!(line_of(Insn::Return {}), 5);
}

// ---- closures and contexts ---------------------------------------------------------

#[test]
fn captured_temporaries_live_in_a_context() {
    let m = compile_one("m = ( | t | t := 1. ^[ t + 1 ] )");
    assert!(!m.flags.contains(CodeFlags::HOME_CONTEXT));
    assert_eq!(
        insns(&m),
        [
            Insn::PushContext { size: 1 },
            Insn::PushInteger { value: 1 },
            Insn::PopOuter { level: 0, index: 0 },
            Insn::MakeBlock { block: 0 },
            Insn::Return {}
        ]
    );
    assert_eq!(m.num_temps, 0, "the captured temporary needs no frame slot");
    assert_eq!(
        insns(only_block(&m)),
        [
            Insn::PushOuter { level: 0, index: 0 },
            Insn::PushInteger { value: 1 },
            Insn::SendAdd { ic: 0 },
            Insn::Return {}
        ]
    );
    // Temporaries no block sees stay in the frame.
    let m = compile_one("m = ( | t u | t := 1. u := [ 2 ]. ^t )");
    assert_eq!(count(&m, Opcode::PushContext), 0);
    assert_eq!(m.num_temps, 2);
}

#[test]
fn nested_closures_count_levels() {
    let m = compile_one("m = ( | a | a := 1. ^[:b | [ a + b ] ] )");
    assert_eq!(
        insns(&m),
        [
            Insn::PushContext { size: 1 },
            Insn::PushInteger { value: 1 },
            Insn::PopOuter { level: 0, index: 0 },
            Insn::MakeBlock { block: 0 },
            Insn::Return {}
        ]
    );
    let outer = only_block(&m);
    assert_eq!(
        insns(outer),
        [
            Insn::PushContext { size: 1 },
            Insn::PushArg { index: 0 },
            Insn::PopOuter { level: 0, index: 0 },
            Insn::MakeBlock { block: 0 },
            Insn::Return {}
        ]
    );
    assert_eq!(
        insns(only_block(outer)),
        [
            Insn::PushOuter { level: 1, index: 0 },
            Insn::PushOuter { level: 0, index: 0 },
            Insn::SendAdd { ic: 0 },
            Insn::Return {}
        ]
    );
    // Fields and self inside blocks need no context.
    let m = compile_one("m = ( ^[ f + self g ] )");
    assert_eq!(count(&m, Opcode::PushContext), 0);
    assert_eq!(opcodes(only_block(&m))[..2], [Opcode::PushField, Opcode::PushSelf]);
}

#[test]
fn non_local_return_needs_a_home_context() {
    let m = compile_one("m: c = ( c do: [:e | ^e]. ^nil )");
    assert!(m.flags.contains(CodeFlags::HOME_CONTEXT));
    assert_eq!(insns(&m)[0], Insn::PushContext { size: 0 });
    assert_eq!(insns(only_block(&m)), [Insn::PushArg { index: 0 }, Insn::ReturnNonLocal { level: 0 }]);
    // The home context also holds captured variables.
    let m = compile_one("m: c = ( | t | c do: [:e | t := e. ^t]. ^nil )");
    assert!(m.flags.contains(CodeFlags::HOME_CONTEXT));
    assert_eq!(insns(&m)[0], Insn::PushContext { size: 1 });
    assert_eq!(count(&m, Opcode::PushContext), 1);
    // From a nested block the home context is further out.
    let m = compile_one("m: c = ( c do: [:e | [ ^e ] value ]. ^nil )");
    assert!(m.flags.contains(CodeFlags::HOME_CONTEXT));
    let inner = only_block(only_block(&m));
    assert_eq!(insns(inner), [Insn::PushOuter { level: 0, index: 0 }, Insn::ReturnNonLocal { level: 1 }]);
    // `^` inside an inlined block of the method is an ordinary return.
    let m = compile_one("m: x = ( x ifTrue: [ ^1 ]. ^2 )");
    assert!(!m.flags.contains(CodeFlags::HOME_CONTEXT));
    assert_eq!(count(&m, Opcode::PushContext), 0);
    assert_eq!(count(&m, Opcode::Return), 2);
    // `^` inside an inlined block of a block is non-local.
    let m = compile_one("m: x = ( ^[ x ifTrue: [ ^1 ]. 2 ] )");
    assert!(m.flags.contains(CodeFlags::HOME_CONTEXT));
    assert_eq!(count(only_block(&m), Opcode::ReturnNonLocal), 1);
    // From a block made in a loop whose variable it captures, the home
    // context is behind the loop's context.
    let m = compile_one("m: c = ( 1 to: 3 do: [:i | c do: [:e | e = i ifTrue: [ ^i ] ] ]. ^0 )");
    assert!(m.flags.contains(CodeFlags::HOME_CONTEXT));
    assert_eq!(insns(&m)[0], Insn::PushContext { size: 0 });
    assert_eq!(count(&m, Opcode::PushContext), 2);
    let b = only_block(&m);
    assert_eq!(count(b, Opcode::ReturnNonLocal), 1);
    assert!(insns(b).contains(&Insn::ReturnNonLocal { level: 1 }));
    // Blocks without `^` do not make a home context.
    let m = compile_one("m: c = ( c do: [:e | e foo ]. ^nil )");
    assert!(!m.flags.contains(CodeFlags::HOME_CONTEXT));
    assert_eq!(count(&m, Opcode::PushContext), 0);
}

#[test]
fn block_parameters_shadow_fields_and_outer_names() {
    let m = compile_one("m: x = ( ^[:f | f + x] )");
    let b = only_block(&m);
    assert_eq!(insns(b)[0], Insn::PushArg { index: 0 });
    assert_eq!(count(b, Opcode::PushField), 0);
    let m = compile_one("m: x = ( ^[:x | x] )");
    assert_eq!(count(&m, Opcode::PushContext), 0, "the inner x is the block's own");
    assert_eq!(insns(only_block(&m)), [Insn::PushArg { index: 0 }, Insn::Return {}]);
}

// ---- inlined control structures ------------------------------------------------------

/// `(source, opcodes the inlined code must contain)` for every inlined form.
const INLINED_FORMS: &[(&str, &[Opcode])] = &[
    ("x ifTrue: [ y foo ]", &[Opcode::JumpIfFalse, Opcode::PushNil]),
    ("x ifFalse: [ y foo ]", &[Opcode::JumpIfTrue, Opcode::PushNil]),
    ("x ifTrue: [ y foo ] ifFalse: [ y bar ]", &[Opcode::JumpIfFalse, Opcode::Jump]),
    ("x ifFalse: [ y foo ] ifTrue: [ y bar ]", &[Opcode::JumpIfTrue, Opcode::Jump]),
    ("x ifNil: [ y foo ]", &[Opcode::Dup, Opcode::JumpIfNotNil]),
    ("x ifNotNil: [ y foo ]", &[Opcode::Dup, Opcode::JumpIfNil]),
    ("x ifNotNil: [:v | v foo ]", &[Opcode::Dup, Opcode::JumpIfNil, Opcode::PopTemp]),
    ("x ifNil: [ y foo ] ifNotNil: [:v | v bar ]", &[Opcode::JumpIfNil, Opcode::Jump]),
    ("x ifNil: [ y foo ] ifNotNil: [ y bar ]", &[Opcode::JumpIfNil, Opcode::Jump]),
    ("x ifNotNil: [:v | v foo ] ifNil: [ y bar ]", &[Opcode::JumpIfNil, Opcode::Jump]),
    ("x ifNotNil: [ y foo ] ifNil: [ y bar ]", &[Opcode::JumpIfNil, Opcode::Jump]),
    ("x and: [ y foo ]", &[Opcode::JumpIfFalse, Opcode::PushFalse]),
    ("x or: [ y foo ]", &[Opcode::JumpIfTrue, Opcode::PushTrue]),
    ("[ x foo ] whileTrue: [ y bar ]", &[Opcode::JumpIfFalse, Opcode::JumpBack]),
    ("[ x foo ] whileFalse: [ y bar ]", &[Opcode::JumpIfTrue, Opcode::JumpBack]),
    ("[ x foo ] whileTrue", &[Opcode::JumpIfFalse, Opcode::JumpBack]),
    ("[ x foo ] whileFalse", &[Opcode::JumpIfTrue, Opcode::JumpBack]),
    ("1 to: x do: [:i | i foo ]", &[Opcode::SendLe, Opcode::SendAdd, Opcode::JumpBack]),
    ("1 to: x by: 2 do: [:i | i foo ]", &[Opcode::SendLe, Opcode::SendAdd, Opcode::JumpBack]),
    ("x to: 1 by: -1 do: [:i | i foo ]", &[Opcode::SendGe, Opcode::SendAdd, Opcode::JumpBack]),
    ("1 to: x by: 0.5 do: [:i | i foo ]", &[Opcode::SendLe, Opcode::SendAdd, Opcode::JumpBack]),
    ("x to: 1 by: -0.5 do: [:i | i foo ]", &[Opcode::SendGe, Opcode::SendAdd, Opcode::JumpBack]),
    ("x timesRepeat: [ y foo ]", &[Opcode::SendLe, Opcode::SendAdd, Opcode::JumpBack]),
];

#[test]
fn inlined_forms_make_no_blocks() {
    for &(form, ops) in INLINED_FORMS {
        for src in [format!("m: x with: y = ( ^{form} )"), format!("m: x with: y = ( {form}. ^y )")] {
            let m = compile_one(&src);
            assert_eq!(count(&m, Opcode::MakeBlock), 0, "{src}");
            assert!(blocks(&m).is_empty(), "{src}");
            let sent = sent_selectors(&m);
            assert!(sent.iter().all(|s| s == "foo" || s == "bar"), "{src}: sends {sent:?}");
            assert!(sent.contains(&"foo".to_string()), "{src}: the block's code is inlined");
            for &op in ops {
                assert!(count(&m, op) > 0, "{src}: no {}", op.name());
            }
            assert!(!m.flags.contains(CodeFlags::HOME_CONTEXT), "{src}");
        }
    }
    // A negative step counts down and never tests `<=`.
    let m = compile_one("m: x = ( x to: 1 by: -1 do: [:i | i foo ] )");
    assert_eq!(count(&m, Opcode::SendLe), 0);
    assert_eq!(count(&m, Opcode::SendGe), 1);
    assert!(insns(&m).contains(&Insn::PushInteger { value: -1 }));
}

#[test]
fn inlined_conditionals_have_the_expected_shape() {
    assert_eq!(
        insns(&compile_one("m: x = ( ^x ifTrue: [ 1 ] )")),
        [
            Insn::PushArg { index: 0 },
            Insn::JumpIfFalse { offset: 4 },
            Insn::PushInteger { value: 1 },
            Insn::Jump { offset: 1 },
            Insn::PushNil {},
            Insn::Return {}
        ]
    );
    assert_eq!(
        insns(&compile_one("m: x = ( ^x ifTrue: [ 1 ] ifFalse: [ 2 ] )")),
        [
            Insn::PushArg { index: 0 },
            Insn::JumpIfFalse { offset: 4 },
            Insn::PushInteger { value: 1 },
            Insn::Jump { offset: 2 },
            Insn::PushInteger { value: 2 },
            Insn::Return {}
        ]
    );
    assert_eq!(
        insns(&compile_one("m: x = ( ^x ifNil: [ 1 ] )")),
        [
            Insn::PushArg { index: 0 },
            Insn::Dup {},
            Insn::JumpIfNotNil { offset: 3 },
            Insn::Pop {},
            Insn::PushInteger { value: 1 },
            Insn::Return {}
        ]
    );
    assert_eq!(
        insns(&compile_one("m: x = ( ^x ifNotNil: [:y | y + 1 ] )")),
        [
            Insn::PushArg { index: 0 },
            Insn::Dup {},
            Insn::JumpIfNil { offset: 8 },
            Insn::PopTemp { index: 0 },
            Insn::PushTemp { index: 0 },
            Insn::PushInteger { value: 1 },
            Insn::SendAdd { ic: 0 },
            Insn::Return {}
        ]
    );
    assert_eq!(
        insns(&compile_one("m: x = ( ^x and: [ 1 ] )")),
        [
            Insn::PushArg { index: 0 },
            Insn::JumpIfFalse { offset: 4 },
            Insn::PushInteger { value: 1 },
            Insn::Jump { offset: 1 },
            Insn::PushFalse {},
            Insn::Return {}
        ]
    );
}

#[test]
fn inlined_loops_have_the_expected_shape() {
    // whileTrue: head: <cond> JumpIfFalse exit; <body>; JumpBack head; exit: PushNil
    let m = compile_one("m: x = ( ^[ x ] whileTrue: [ x := x foo ] )");
    let code = decoded(&m);
    let ops: Vec<Opcode> = code.iter().map(|(_, i, _)| i.opcode()).collect();
    assert_eq!(
        ops,
        [
            Opcode::PushArg,
            Opcode::JumpIfFalse,
            Opcode::PushArg,
            Opcode::Send,
            Opcode::PopArg,
            Opcode::JumpBack,
            Opcode::PushNil,
            Opcode::Return
        ]
    );
    let (pc, back, len) = code[5];
    assert_eq!(back.jump_target(pc, len), Some(0), "the back edge goes to the condition");
    let (pc, exit, len) = code[1];
    assert_eq!(exit.jump_target(pc, len), Some(code[6].0), "the exit leaves nil");
    // The value of to:do: is its receiver, left below the loop.
    let m = compile_one("m = ( ^1 to: 3 do: [:i | ] )");
    let i = insns(&m);
    assert_eq!(i[..3], [Insn::PushInteger { value: 1 }, Insn::Dup {}, Insn::PopTemp { index: 0 }]);
    assert_eq!(i[i.len() - 1], Insn::Return {});
}

#[test]
fn non_block_arguments_are_real_sends() {
    let cases: &[(&str, &str)] = &[
        ("x ifTrue: y", "ifTrue:"),
        ("x ifFalse: y", "ifFalse:"),
        ("x ifTrue: [:a | a]", "ifTrue:"),
        ("x ifTrue: [ 1 ] ifFalse: y", "ifTrue:ifFalse:"),
        ("x ifNil: y", "ifNil:"),
        ("x ifNil: [:a | a]", "ifNil:"),
        ("x ifNotNil: y", "ifNotNil:"),
        ("x ifNotNil: [:a :b | a]", "ifNotNil:"),
        ("x and: y", "and:"),
        ("x or: [:a | a]", "or:"),
        ("y whileTrue: [ x ]", "whileTrue:"),
        ("[ x ] whileTrue: y", "whileTrue:"),
        ("[:a | a ] whileTrue", "whileTrue"),
        ("y whileFalse", "whileFalse"),
        ("1 to: x do: y", "to:do:"),
        ("1 to: x do: [ x ]", "to:do:"),
        ("1 to: x by: y do: [:i | i ]", "to:by:do:"),
        ("1 to: x by: 0 do: [:i | i ]", "to:by:do:"),
        ("1 to: x by: 123456789012345678901234567890 do: [:i | i ]", "to:by:do:"),
        ("x timesRepeat: y", "timesRepeat:"),
        ("x timesRepeat: [:a | a ]", "timesRepeat:"),
    ];
    for &(form, selector) in cases {
        let src = format!("m: x with: y = ( ^{form} )");
        let m = compile_one(&src);
        assert_eq!(sent_selectors(&m), [selector], "{src}");
        let literal_blocks = form.matches('[').count();
        assert_eq!(count(&m, Opcode::MakeBlock), literal_blocks, "{src}");
        assert_eq!(count(&m, Opcode::JumpBack), 0, "{src}");
    }
    // Sends to super are never inlined.
    let m = compile_one("m = ( ^super ifTrue: [ 1 ] )");
    assert_eq!(opcodes(&m), [Opcode::PushSelf, Opcode::MakeBlock, Opcode::SuperSend, Opcode::Return]);
    assert_eq!(sent_selectors(&m), ["ifTrue:"]);
    assert_eq!(count(&m, Opcode::MakeBlock), 1);
}

#[test]
fn captured_loop_variable_gets_a_fresh_context_per_iteration() {
    let m =
        compile_one("m = ( | blocks | blocks := Array new: 3. 1 to: 3 do: [:i | blocks at: i put: [ i ] ]. ^blocks )");
    let ops = opcodes(&m);
    let exit = position(&m, Opcode::JumpIfFalse).expect("loop test");
    let back = position(&m, Opcode::JumpBack).expect("back edge");
    let push = position(&m, Opcode::PushContext).expect("PushContext");
    let pop = position(&m, Opcode::PopContext).expect("PopContext");
    let make = position(&m, Opcode::MakeBlock).expect("MakeBlock");
    assert_eq!(count(&m, Opcode::PushContext), 1);
    assert_eq!(count(&m, Opcode::PopContext), 1);
    assert!(exit < push && push < make && make < pop && pop < back, "{ops:?}");
    let i = insns(&m);
    // The context takes the counter's value for this iteration.
    assert_eq!(i[push], Insn::PushContext { size: 1 });
    assert!(matches!(i[push + 1], Insn::PushTemp { .. }));
    assert_eq!(i[push + 2], Insn::PopOuter { level: 0, index: 0 });
    assert_eq!(insns(only_block(&m)), [Insn::PushOuter { level: 0, index: 0 }, Insn::Return {}]);

    // The same for a temporary declared in the body of timesRepeat: and whileTrue:.
    for src in [
        "m: c = ( c timesRepeat: [ | t | t := c size. c add: [ t ] ] )",
        "m: c = ( [ c isEmpty ] whileFalse: [ | t | t := c removeFirst. c add: [ t ] ] )",
    ] {
        let m = compile_one(src);
        let exit = position(&m, Opcode::JumpIfFalse).or(position(&m, Opcode::JumpIfTrue)).expect("loop test");
        let push = position(&m, Opcode::PushContext).expect("PushContext");
        let pop = position(&m, Opcode::PopContext).expect("PopContext");
        let back = position(&m, Opcode::JumpBack).expect("back edge");
        assert!(exit < push && push < pop && pop < back, "{src}: {:?}", opcodes(&m));
        assert_eq!(insns(&m)[push], Insn::PushContext { size: 1 });
    }
}

#[test]
fn captured_inlined_parameter() {
    let m = compile_one("m: x = ( ^x ifNotNil: [:y | [ y ] ] )");
    assert_eq!(
        insns(&m),
        [
            Insn::PushArg { index: 0 },
            Insn::Dup {},
            Insn::JumpIfNil { offset: 8 },
            Insn::PushContext { size: 1 },
            Insn::PopOuter { level: 0, index: 0 },
            Insn::MakeBlock { block: 0 },
            Insn::PopContext {},
            Insn::Return {}
        ]
    );
    // A method temporary seen from a block inside an inlined block.
    let m = compile_one("m: x = ( | t | t := 0. x ifTrue: [ ^[ t ] ]. ^t )");
    assert_eq!(insns(&m)[0], Insn::PushContext { size: 1 });
    assert_eq!(insns(only_block(&m)), [Insn::PushOuter { level: 0, index: 0 }, Insn::Return {}]);
}

#[test]
fn assigned_loop_variable_does_not_change_the_counter() {
    let m = compile_one("m: n = ( 1 to: n do: [:i | i := i * 2. i foo ] )");
    let i = insns(&m);
    // Counter and limit are temporaries 0 and 1; the variable gets its own.
    assert_eq!(m.num_temps, 3);
    let exit = position(&m, Opcode::JumpIfFalse).expect("loop test");
    let back = position(&m, Opcode::JumpBack).expect("back edge");
    let writes_counter: Vec<usize> =
        (exit..back).filter(|&k| matches!(i[k], Insn::PopTemp { index: 0 } | Insn::StoreTemp { index: 0 })).collect();
    assert_eq!(writes_counter.len(), 1, "only the increment writes the counter: {i:?}");
    assert!(matches!(i[writes_counter[0] - 1], Insn::SendAdd { .. }));
    assert!(i.contains(&Insn::PopTemp { index: 2 }));
}

#[test]
fn temporaries_of_inlined_blocks_start_nil_each_time() {
    // In a to:do: body.
    let m = compile_one("m = ( 1 to: 3 do: [:i | | t | t := t isNil ] )");
    let i = insns(&m);
    let exit = position(&m, Opcode::JumpIfFalse).expect("loop test");
    assert_eq!(i[exit + 1], Insn::PushNil {});
    let Insn::PopTemp { index: t } = i[exit + 2] else { panic!("reset expected: {i:?}") };
    assert!(t >= 2, "t is neither the counter nor the limit");
    // In a whileTrue: body and condition.
    let m = compile_one("m: x = ( [ | c | c := x. c ] whileTrue: [ | t | t := x. x := t not ] )");
    let i = insns(&m);
    assert_eq!(i[..2], [Insn::PushNil {}, Insn::PopTemp { index: 0 }]);
    let exit = position(&m, Opcode::JumpIfFalse).expect("loop test");
    assert_eq!(i[exit + 1], Insn::PushNil {});
    assert!(matches!(i[exit + 2], Insn::PopTemp { .. }));
    // In a conditional branch.
    let m = compile_one("m: x = ( ^x ifTrue: [ | t | t ] )");
    assert_eq!(insns(&m)[2..4], [Insn::PushNil {}, Insn::PopTemp { index: 0 }]);
    // A real block's own temporaries start nil with its frame.
    let m = compile_one("m = ( ^[ | t | t ] )");
    assert_eq!(insns(only_block(&m)), [Insn::PushTemp { index: 0 }, Insn::Return {}]);
}

#[test]
fn sibling_inlined_blocks_share_temporary_slots() {
    let m = compile_one("m: x = ( x ifTrue: [ | a | a := 1 ]. x ifFalse: [ | b | b := 2 ]. ^x )");
    assert_eq!(m.num_temps, 1);
    let m = compile_one("m: x = ( 1 to: x do: [:i | i foo ]. 1 to: x do: [:j | j bar ] )");
    assert_eq!(m.num_temps, 2);
}

// ---- size limits ---------------------------------------------------------------------

/// A method with 300 temporaries and string literals, and an `ifTrue:` and
/// a `whileTrue:` each with `n` statements in their bodies.
fn big_method_source(n: usize) -> String {
    let temps: Vec<String> = (0..300).map(|i| format!("t{i}")).collect();
    let mut s = format!("Big = (\n  big: x = (\n    | {} |\n", temps.join(" "));
    for i in 0..300 {
        s.push_str(&format!("    t{i} := 's{i}'.\n"));
    }
    s.push_str("    x ifTrue: [\n");
    for i in 0..n {
        s.push_str(&format!("      t{} foo{i}.\n", i % 300));
    }
    s.push_str("    ].\n    [ x ] whileTrue: [\n");
    for i in 0..n {
        s.push_str(&format!("      t{} bar{i}.\n", (i * 7) % 300));
    }
    let items: Vec<String> = (0..300).map(|i| format!("t{i}")).collect();
    s.push_str(&format!("    ].\n    ^{{ {} }}\n  )\n)\n", items.join(". ")));
    s
}

#[test]
fn big_methods_use_wide_operands() {
    let class = compile(&big_method_source(8_000));
    let m = method(&class, "big:");
    assert!(m.num_temps >= 300);
    assert!(m.literals.len() > 16_000);
    assert_eq!(m.num_ics, 16_000);
    assert!(m.code.len() > 140_000);
    let code = decoded(m);
    let prefix = |pc: usize| m.code[pc];
    // Operands over 255: one WIDE prefix, two-byte operands.
    let &(pc, _, len) = code.iter().find(|(_, i, _)| *i == Insn::PushTemp { index: 299 }).expect("PushTemp 299");
    assert_eq!((prefix(pc), len), (WIDE_PREFIX, 4));
    let &(pc, _, len) = code.iter().find(|(_, i, _)| *i == Insn::PushLiteral { index: 299 }).expect("PushLiteral 299");
    assert_eq!((prefix(pc), len), (WIDE_PREFIX, 4));
    let &(pc, _, len) = code.iter().find(|(_, i, _)| *i == Insn::MakeArray { count: 300 }).expect("MakeArray 300");
    assert_eq!((prefix(pc), len), (WIDE_PREFIX, 4));
    let &(pc, _, len) =
        code.iter().find(|(_, i, _)| matches!(i, Insn::Send { ic, .. } if *ic > 300)).expect("wide send");
    assert_eq!((prefix(pc), len), (WIDE_PREFIX, 8));
    // Jumps over more than 65,535 bytes: EXTRA_WIDE prefix, four-byte offsets.
    let &(pc, jump, len) = code
        .iter()
        .find(|(_, i, _)| matches!(i, Insn::JumpIfFalse { offset } if *offset > 70_000))
        .expect("long forward jump");
    assert_eq!((prefix(pc), len), (EXTRA_WIDE_PREFIX, 6));
    let target = jump.jump_target(pc, len).expect("target");
    assert!(code.iter().any(|&(p, _, _)| p == target), "forward target is an instruction");
    let &(pc, jump, len) = code
        .iter()
        .find(|(_, i, _)| matches!(i, Insn::JumpBack { offset } if *offset > 70_000))
        .expect("long back jump");
    assert_eq!((prefix(pc), len), (EXTRA_WIDE_PREFIX, 6));
    let target = jump.jump_target(pc, len).expect("target");
    assert!(matches!(decode(&m.code, target).expect("decodes").insn, Insn::PushArg { index: 0 }));
    // The short jump over the else-branch of the ifTrue: (one PushNil) stays narrow.
    assert!(code.iter().any(|(_, i, len)| matches!(i, Insn::Jump { offset: 1 }) && *len == 2));
}

#[test]
fn more_than_65535_literals_use_extra_wide_operands() {
    let n = 70_000;
    let mut src = String::from("Many = ( m = (\n");
    for i in 0..n {
        src.push_str(&format!("#s{i}.\n"));
    }
    src.push_str(") )");
    let class = compile(&src);
    let m = method(&class, "m");
    assert_eq!(m.literals.len(), n);
    let code = decoded(m);
    let &(pc, _, len) =
        code.iter().find(|(_, i, _)| *i == Insn::PushLiteral { index: n as u32 - 1 }).expect("last literal");
    assert_eq!((m.code[pc], len), (EXTRA_WIDE_PREFIX, 6));
    let &(pc, _, len) = code.iter().find(|(_, i, _)| *i == Insn::PushLiteral { index: 1000 }).expect("literal 1000");
    assert_eq!((m.code[pc], len), (WIDE_PREFIX, 4));
    let &(pc, _, len) = code.iter().find(|(_, i, _)| *i == Insn::PushLiteral { index: 10 }).expect("literal 10");
    assert_eq!((pc, len), (pc, 2));
    assert_eq!(m.lines.line_at(pc as u32), 12);
}

// ---- method-level checks ---------------------------------------------------------------

#[test]
fn duplicate_methods_are_an_error() {
    let e = compile_err("Test = (\n  foo = ( ^1 )\n  bar = ( )\n  foo = ( ^2 )\n)");
    assert_eq!(e.span, Span::new(4, 3));
    assert!(e.message.contains("method foo is defined twice"), "{e}");
    let e = compile_err("Test = (\n  ----\n  new = ( )\n  + x = ( )\n  + y = primitive\n)");
    assert_eq!(e.span, Span::new(5, 3));
    assert!(e.message.contains("method + is defined twice"), "{e}");
    // The same selector on both sides is fine.
    let class = compile("Test = ( new = ( ) ---- new = ( ) )");
    assert_eq!(class.methods.len(), 1);
    assert_eq!(class.class_methods.len(), 1);
}

#[test]
fn primitive_methods_have_no_code() {
    let class = compile("Test = ( foo = primitive  at: i put: v = primitive  ---- new = primitive )");
    for (m, args) in [(method(&class, "foo"), 0), (method(&class, "at:put:"), 2), (class_method(&class, "new"), 0)] {
        assert!(m.flags.contains(CodeFlags::PRIMITIVE));
        assert!(m.is_primitive());
        assert!(m.code.is_empty());
        assert!(m.literals.is_empty());
        assert_eq!(m.num_args, args);
        assert_eq!(m.num_ics, 0);
    }
    assert_eq!(method(&class, "foo").line, 1);
}

#[test]
fn primitive_methods_with_a_fallback_have_its_code() {
    let class = compile("Test = ( at: i = ( <primitive> | t | t := i. ^self error: t ) )");
    let m = method(&class, "at:");
    assert!(m.is_primitive());
    assert!(m.has_fallback());
    assert_eq!(m.num_args, 1);
    assert_eq!(m.num_temps, 1);
    assert!(!m.code.is_empty());
    assert_eq!(m.num_ics, 1);
    // `compile` verified the class, the fallback included.
    let text = disassemble_class(&class);
    assert!(text.contains("primitive, fallback below"), "{text}");
    // A plain primitive still has none.
    let plain = compile("Test = ( foo = primitive )");
    assert!(!method(&plain, "foo").has_fallback());
}

#[test]
fn broken_primitive_pragmas_are_errors() {
    let e = compile_err("Test = ( foo = ( <primitive ^1 ) )");
    assert!(e.message.contains("expected '>' to end <primitive>"), "{e}");
    assert_eq!(e.span, Span::new(1, 29));
    // Only at the start of the body.
    let e = compile_err("Test = ( foo = ( 1. <primitive> ) )");
    assert_eq!(e.span, Span::new(1, 21));
}

// ---- robustness ------------------------------------------------------------------------

#[test]
fn deeply_nested_blocks_compile_and_verify() {
    let result = std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(|| {
            let depth = 100;
            let src = format!("Deep = ( m = ( | t | t := 1. ^{}t{} ) )", "[".repeat(depth), "]".repeat(depth));
            let class = compile(&src);
            let mut code = method(&class, "m");
            for _ in 0..depth {
                code = only_block(code);
            }
            insns(code)
        })
        .expect("spawn")
        .join()
        .expect("no panic");
    assert_eq!(result, [Insn::PushOuter { level: 0, index: 0 }, Insn::Return {}]);
}

const SAMPLE_CLASS: &str = r#"Sample = (
    | count items |
    init = ( count := 0. items := Array new: 10 )
    at: i put: v = ( ^items at: i put: v )
    sum: n = ( | s | s := 0. 1 to: n do: [:i | s := s + i]. ^s )
    down: n = ( n to: 1 by: -2 do: [:i || t | t := i * 2. count := count - t] )
    loop = ( [ count > 0 ] whileTrue: [ count := count - 1 ]. ^count )
    pick: a or: b = ( ^a < b ifTrue: [ a ] ifFalse: [ b ] )
    blocks = ( | bs | bs := Array new: 3. 1 to: 3 do: [:i | bs at: i put: [ i + count ]]. ^bs )
    find: x = ( items do: [:e | e = x ifTrue: [ ^e ] ]. ^nil )
    maybe: x = ( ^x ifNil: [ 0 ] ifNotNil: [:v | v + 1 ] )
    show = ( Transcript show: 'x' , 'y'; cr; show: #(1 $a #b 'c' (2 3) -4) )
    brace = ( ^{ count. -5. 3 - -2. 1.5e3. 16rFF. 123456789012345678901234567890 } )
    both: a and: b = ( ^(a and: [ b ]) or: [ a isNil ] )
    prim = primitive
    ----
    | instances |
    new = ( instances := (instances ifNil: [ 0 ]) + 1. ^super new init )
)
"#;

#[test]
fn sample_class_compiles() {
    let class = compile(SAMPLE_CLASS);
    assert_eq!(class.methods.len(), 13);
    assert_eq!(class.class_methods.len(), 1);
    assert!(method(&class, "find:").flags.contains(CodeFlags::HOME_CONTEXT));
}

#[test]
fn no_prefix_of_a_class_makes_the_compiler_panic() {
    let ends = SAMPLE_CLASS.char_indices().map(|(i, _)| i).chain([SAMPLE_CLASS.len()]);
    for end in ends {
        let prefix = &SAMPLE_CLASS[..end];
        let result = std::panic::catch_unwind(|| {
            compile_class_source("prefix.som", prefix, None, &ClassPath::new(vec![])).map(|class| verify_class(&class))
        });
        match result {
            Ok(Ok(Ok(()))) | Ok(Err(_)) => {}
            Ok(Ok(Err(e))) => panic!("prefix of {end} bytes compiled to code that does not verify: {e}"),
            Err(_) => panic!("the compiler panicked on the prefix of {end} bytes:\n{prefix}"),
        }
    }
}

/// Templates whose `#` is a statement inside a block.
const NESTING_TEMPLATES: &[&str] = &[
    "x ifTrue: [ # ]",
    "x ifFalse: [ y ] ifTrue: [ # ]",
    "x ifNil: [ # ]",
    "x ifNotNil: [:v | # ]",
    "x ifNil: [ y ] ifNotNil: [:v | # ]",
    "x ifNotNil: [:v | # ] ifNil: [ y ]",
    "x and: [ # ]",
    "x or: [ # ]",
    "[ # ] whileTrue: [ y ]",
    "[ y ] whileFalse: [ # ]",
    "[ # ] whileTrue",
    "1 to: x do: [:i | # ]",
    "x to: 1 by: -1 do: [:i | # ]",
    "x timesRepeat: [ # ]",
    "[:a | # ] value: 1",
    "[ # ] value",
    "x foo: [ | u | # ]",
    "x foo; bar: [ # ]; baz",
    "{ [ # ]. y }",
    "x ifTrue: [ | u | u := t. # ] ifFalse: [ | w | w := [ w ]. # ]",
];

const NESTING_LEAVES: &[&str] = &[
    "t",
    "3",
    "^t",
    "^i",
    "[ ^v ]",
    "[ i + v ]",
    "t := i",
    "[ t := v ]",
    "x := [ a ]",
    "i := i + 1",
    "[:q | ^q ] value: t",
];

#[test]
fn nested_forms_compile_and_verify() {
    let mut compiled = 0;
    for outer in NESTING_TEMPLATES {
        for inner in NESTING_TEMPLATES {
            for leaf in NESTING_LEAVES {
                let stmt = outer.replace('#', &inner.replace('#', leaf));
                for body in [
                    format!("m: x with: y = ( | t i v a | {stmt}. ^t )"),
                    format!("m: x with: y = ( | t i v | ^[:a | {stmt}. t ] )"),
                    format!("m: x with: y = ( | t i v a | ^{stmt} )"),
                ] {
                    let src = format!("Test = ( {body} )");
                    let class = compile_class_source("Test.som", &src, None, &ClassPath::new(vec![]))
                        .unwrap_or_else(|e| panic!("{body}\n{e}"));
                    if let Err(e) = verify_class(&class) {
                        panic!("{body}\ndoes not verify: {e}\n{}", disassemble_class(&class));
                    }
                    compiled += 1;
                }
            }
        }
    }
    assert_eq!(compiled, NESTING_TEMPLATES.len() * NESTING_TEMPLATES.len() * NESTING_LEAVES.len() * 3);
}

#[test]
fn a_field_may_not_redefine_an_inherited_one() {
    let dir = TempDir::new("redefine");
    dir.write("Base.som", "Base = ( | a | ---- | k | )");
    let class_path = ClassPath::new(vec![dir.path().to_path_buf()]);
    let e =
        compile_class_source("Sub.som", "Sub = Base (\n  | b a |\n)", None, &class_path).expect_err("a is inherited");
    assert_eq!((e.span.line, e.span.col), (2, 7));
    assert!(e.message.contains("field 'a' is already defined in a superclass"), "{e}");
    let e =
        compile_class_source("Sub.som", "Sub = Base ( ---- | k | )", None, &class_path).expect_err("k is inherited");
    assert!(e.message.contains("class field 'k' is already defined"), "{e}");
}
