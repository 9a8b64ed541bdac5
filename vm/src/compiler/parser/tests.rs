//! Parser tests: literals, precedence, cascades, blocks, class and method
//! syntax, error positions and robustness against hostile input.
//!
//! Expressions are compared through `show`, a span-free rendering of the
//! tree: a send is `(receiver selector args...)`, an assignment
//! `(x := value)`, a cascade `(cascade receiver; part; part)` with `<cr>`
//! for the cascade receiver inside the parts.

use super::*;
use crate::compiler::ast::{Block, Body, ClassDef, Expr, Lit, MethodBody, MethodDef, Stmt, SuperclassSpec};
use crate::compiler::lexer::IntValue;

// ---- helpers ---------------------------------------------------------------

fn show_lit(lit: &Lit) -> String {
    match lit {
        Lit::Int(IntValue::Small(i)) => i.to_string(),
        Lit::Int(IntValue::Large(s)) => format!("{s}L"),
        Lit::Double(d) => format!("{d:?}"),
        Lit::Str(s) => format!("'{}'", s.escape_debug()),
        Lit::Symbol(s) => format!("#{s}"),
        Lit::Char(c) => format!("${c}"),
        Lit::Array(items) => format!("#({})", items.iter().map(show_lit).collect::<Vec<_>>().join(" ")),
        Lit::Nil => "nil".into(),
        Lit::True => "true".into(),
        Lit::False => "false".into(),
    }
}

fn show_body(body: &Body) -> String {
    let mut out = String::new();
    if !body.temps.is_empty() {
        let temps: Vec<&str> = body.temps.iter().map(|t| t.name.as_str()).collect();
        out.push_str(&format!("|{}| ", temps.join(" ")));
    }
    let stmts: Vec<String> = body.stmts.iter().map(show_stmt).collect();
    out.push_str(&stmts.join(". "));
    out
}

fn show_stmt(stmt: &Stmt) -> String {
    match stmt {
        Stmt::Expr(e) => show(e),
        Stmt::Return(e, _) => format!("^{}", show(e)),
    }
}

fn show_block(b: &Block) -> String {
    let params: String = b.params.iter().map(|p| format!(":{} ", p.name)).collect();
    let bar = if b.params.is_empty() { "" } else { "| " };
    format!("[{params}{bar}{}]", show_body(&b.body))
}

fn show(e: &Expr) -> String {
    match e {
        Expr::Var(id) => id.name.clone(),
        Expr::SelfRef(_) => "self".into(),
        Expr::Super(_) => "super".into(),
        Expr::Nil(_) => "nil".into(),
        Expr::True(_) => "true".into(),
        Expr::False(_) => "false".into(),
        Expr::Lit(lit, _) => show_lit(lit),
        Expr::Assign { target, value } => format!("({} := {})", target.name, show(value)),
        Expr::Send { receiver, selector, args, .. } => {
            let mut out = format!("({} {selector}", show(receiver));
            for a in args {
                out.push(' ');
                out.push_str(&show(a));
            }
            out.push(')');
            out
        }
        Expr::Cascade { receiver, parts } => {
            let parts: Vec<String> = parts.iter().map(show).collect();
            format!("(cascade {}; {})", show(receiver), parts.join("; "))
        }
        Expr::CascadeReceiver(_) => "<cr>".into(),
        Expr::Block(b) => show_block(b),
        Expr::Brace(items, _) => format!("{{{}}}", items.iter().map(show).collect::<Vec<_>>().join(". ")),
    }
}

/// Parses statements and renders them.
fn stmts(src: &str) -> String {
    let body = parse_statements("t.som", src).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"));
    show_body(&body)
}

/// Parses a single expression statement.
fn expr(src: &str) -> Expr {
    let body = parse_statements("t.som", src).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"));
    assert!(body.temps.is_empty(), "{src:?}: unexpected temporaries");
    assert_eq!(body.stmts.len(), 1, "{src:?}: expected one statement");
    match body.stmts.into_iter().next() {
        Some(Stmt::Expr(e)) => e,
        other => panic!("{src:?}: expected an expression statement, got {other:?}"),
    }
}

fn shown(src: &str) -> String {
    show(&expr(src))
}

/// The literal an expression consists of.
fn lit(src: &str) -> Lit {
    match expr(src) {
        Expr::Lit(l, _) => l,
        other => panic!("{src:?}: expected a literal, got {}", show(&other)),
    }
}

fn class(src: &str) -> ClassDef {
    parse_class("T.som", src).unwrap_or_else(|e| panic!("class should parse: {e}"))
}

fn code_body(m: &MethodDef) -> &Body {
    match &m.body {
        MethodBody::Code(b) => b,
        MethodBody::Primitive(_) => panic!("method {} is primitive", m.selector),
    }
}

fn names(ids: &[Ident]) -> Vec<&str> {
    ids.iter().map(|i| i.name.as_str()).collect()
}

/// An error from parsing a class; checks its position and message.
fn class_error(src: &str, line: u32, col: u32, message_part: &str) {
    let e = parse_class("T.som", src).expect_err(&format!("{src:?} should not parse"));
    check_error(src, &e, line, col, message_part);
}

/// An error from parsing statements; checks its position and message.
fn stmts_error(src: &str, line: u32, col: u32, message_part: &str) {
    let e = parse_statements("t.som", src).expect_err(&format!("{src:?} should not parse"));
    check_error(src, &e, line, col, message_part);
}

fn check_error(src: &str, e: &CompileError, line: u32, col: u32, message_part: &str) {
    assert_eq!((e.span.line, e.span.col), (line, col), "{src:?}: wrong position for: {e}");
    assert!(e.message.contains(message_part), "{src:?}: message {:?} lacks {message_part:?}", e.message);
    // The caret line shows the line the error is on.
    let expected_line = src.lines().nth(line as usize - 1).unwrap_or("");
    assert_eq!(e.source_line, expected_line, "{src:?}: wrong source line");
}

// ---- literals ----------------------------------------------------------------

#[test]
fn small_and_large_integers() {
    assert_eq!(lit("0"), Lit::Int(IntValue::Small(0)));
    assert_eq!(lit("42"), Lit::Int(IntValue::Small(42)));
    assert_eq!(lit("9223372036854775807"), Lit::Int(IntValue::Small(i64::MAX)));
    assert_eq!(lit("9223372036854775808"), Lit::Int(IntValue::Large("9223372036854775808".into())));
    assert_eq!(
        lit("340282366920938463463374607431768211456"),
        Lit::Int(IntValue::Large("340282366920938463463374607431768211456".into()))
    );
    assert_eq!(lit("16r1F"), Lit::Int(IntValue::Small(31)));
    assert_eq!(lit("16rFFFFFFFFFFFFFFFFFF"), Lit::Int(IntValue::Large("4722366482869645213695".into())));
}

#[test]
fn negative_numbers_in_primary_position() {
    assert_eq!(lit("-5"), Lit::Int(IntValue::Small(-5)));
    assert_eq!(lit("- 5"), Lit::Int(IntValue::Small(-5)));
    assert_eq!(lit("-2.5"), Lit::Double(-2.5));
    assert_eq!(lit("-9223372036854775808"), Lit::Int(IntValue::Small(i64::MIN)));
    assert_eq!(
        lit("-123456789012345678901234567890"),
        Lit::Int(IntValue::Large("-123456789012345678901234567890".into()))
    );
    // As arguments too.
    assert_eq!(shown("x at: -1"), "(x at: -1)");
    assert_eq!(shown("x max: - 1"), "(x max: -1)");
}

#[test]
fn minus_between_operands_is_a_binary_send() {
    assert_eq!(shown("3-2"), "(3 - 2)");
    assert_eq!(shown("3 - 2"), "(3 - 2)");
    assert_eq!(shown("3 - -2"), "(3 - -2)");
    assert_eq!(shown("3 - - 2"), "(3 - -2)");
    assert_eq!(shown("x-1"), "(x - 1)");
    assert_eq!(shown("-3 abs"), "(-3 abs)");
    assert_eq!(shown("-3 - -3"), "(-3 - -3)");
}

#[test]
fn doubles() {
    assert_eq!(lit("2.75"), Lit::Double(2.75));
    assert_eq!(lit("0.5"), Lit::Double(0.5));
    assert_eq!(lit("1.5e2"), Lit::Double(150.0));
    assert_eq!(lit("2.5e-3"), Lit::Double(2.5e-3));
    // `1.` ends a statement; `1.0` is a Double.
    assert_eq!(stmts("1. 2"), "1. 2");
    assert_eq!(lit("1.0"), Lit::Double(1.0));
}

#[test]
fn strings_with_som_escapes() {
    assert_eq!(lit(r"'a\tb\nc\\d\'e'"), Lit::Str("a\tb\nc\\d'e".into()));
    assert_eq!(lit(r"'\b\f\r\0'"), Lit::Str("\u{8}\u{c}\r\0".into()));
    assert_eq!(lit("'it''s'"), Lit::Str("it's".into()));
    assert_eq!(lit("''"), Lit::Str(String::new()));
    assert_eq!(lit("'two\nlines'"), Lit::Str("two\nlines".into()));
    assert_eq!(lit("'héllo ✓'"), Lit::Str("héllo ✓".into()));
    // A comment quote inside a string is just a character.
    assert_eq!(lit("'say \"hi\"'"), Lit::Str("say \"hi\"".into()));
}

#[test]
fn symbols() {
    assert_eq!(lit("#foo"), Lit::Symbol("foo".into()));
    assert_eq!(lit("#at:put:"), Lit::Symbol("at:put:".into()));
    assert_eq!(lit("#value:"), Lit::Symbol("value:".into()));
    assert_eq!(lit("#+"), Lit::Symbol("+".into()));
    assert_eq!(lit("#<="), Lit::Symbol("<=".into()));
    assert_eq!(lit("#'x y'"), Lit::Symbol("x y".into()));
    assert_eq!(lit("#with_underscore"), Lit::Symbol("with_underscore".into()));
    // A symbol as an argument.
    assert_eq!(shown("x perform: #foo with: #+"), "(x perform:with: #foo #+)");
}

#[test]
fn characters() {
    assert_eq!(lit("$a"), Lit::Char('a'));
    assert_eq!(lit("$ "), Lit::Char(' '));
    assert_eq!(lit("$'"), Lit::Char('\''));
    assert_eq!(lit("$$"), Lit::Char('$'));
    assert_eq!(lit("$é"), Lit::Char('é'));
    assert_eq!(shown("$a < $b"), "($a < $b)");
}

#[test]
fn nested_literal_arrays() {
    let l = lit("#(1 #a b 'c' $d (1 2) #(3) true false nil at:put: + -1)");
    let int = |i| Lit::Int(IntValue::Small(i));
    assert_eq!(
        l,
        Lit::Array(vec![
            int(1),
            Lit::Symbol("a".into()),
            Lit::Symbol("b".into()),
            Lit::Str("c".into()),
            Lit::Char('d'),
            Lit::Array(vec![int(1), int(2)]),
            Lit::Array(vec![int(3)]),
            Lit::True,
            Lit::False,
            Lit::Nil,
            Lit::Symbol("at:put:".into()),
            Lit::Symbol("+".into()),
            int(-1),
        ])
    );
    assert_eq!(lit("#()"), Lit::Array(vec![]));
    assert_eq!(show_lit(&lit("#(1.5 -2.5 $  #foo: ((())))")), "#(1.5 -2.5 $  #foo: #(#(#())))");
    // Keywords separated by a space are two symbols.
    assert_eq!(show_lit(&lit("#(at: put:)")), "#(#at: #put:)");
    // A lone `-` before a non-number is a symbol.
    assert_eq!(show_lit(&lit("#(- a)")), "#(#- #a)");
    assert_eq!(show_lit(&lit("#(123456789012345678901234567890)")), "#(123456789012345678901234567890L)");
}

// ---- messages ------------------------------------------------------------------

#[test]
fn unary_binds_tighter_than_binary_tighter_than_keyword() {
    assert_eq!(shown("a b + c d: e f - g h: i"), "(((a b) + c) d:h: ((e f) - g) i)");
    assert_eq!(shown("a b c"), "((a b) c)");
    assert_eq!(shown("a + b c"), "(a + (b c))");
    assert_eq!(shown("a at: b c put: d + e"), "(a at:put: (b c) (d + e))");
    assert_eq!(shown("a foo: b bar: c"), "(a foo:bar: b c)");
}

#[test]
fn binary_sends_are_left_associative() {
    assert_eq!(shown("1 + 2 * 3"), "((1 + 2) * 3)");
    assert_eq!(shown("a - b - c"), "((a - b) - c)");
    assert_eq!(shown("a , b , c"), "((a , b) , c)");
    assert_eq!(shown("a <= b ~= c"), "((a <= b) ~= c)");
    assert_eq!(shown("a == b"), "(a == b)");
}

#[test]
fn parentheses_override_precedence() {
    assert_eq!(shown("1 + (2 * 3)"), "(1 + (2 * 3))");
    assert_eq!(shown("(a foo: b) bar: c"), "((a foo: b) bar: c)");
    assert_eq!(shown("a foo: (b bar: c)"), "(a foo: (b bar: c))");
    assert_eq!(shown("(a) b"), "(a b)");
    assert_eq!(shown("((((1))))"), "1");
    assert_eq!(shown("(x := 3) + 1"), "((x := 3) + 1)");
}

#[test]
fn pseudo_variables() {
    assert_eq!(shown("self foo"), "(self foo)");
    assert_eq!(shown("super foo"), "(super foo)");
    assert_eq!(shown("nil isNil"), "(nil isNil)");
    assert_eq!(shown("true & false"), "(true & false)");
    assert!(matches!(expr("self"), Expr::SelfRef(_)));
    assert!(matches!(expr("super"), Expr::Super(_)));
    assert!(matches!(expr("nil"), Expr::Nil(_)));
}

#[test]
fn assignments_chain_to_the_right() {
    assert_eq!(shown("a := b := 3"), "(a := (b := 3))");
    assert_eq!(shown("a := b foo: c + d"), "(a := (b foo: (c + d)))");
    assert_eq!(shown("a:=3"), "(a := 3)");
    let Expr::Assign { target, value } = expr("a := b := 3") else { panic!("assignment") };
    assert_eq!(target.name, "a");
    assert_eq!(target.span, Span::new(1, 1));
    let Expr::Assign { target, .. } = *value else { panic!("inner assignment") };
    assert_eq!(target.span, Span::new(1, 6));
}

#[test]
fn cascades_share_the_receiver() {
    assert_eq!(shown("x foo; bar: 1; baz"), "(cascade x; (<cr> foo); (<cr> bar: 1); (<cr> baz))");
    let Expr::Cascade { receiver, parts } = expr("x foo; bar: 1; baz") else { panic!("cascade") };
    assert!(matches!(*receiver, Expr::Var(ref id) if id.name == "x"));
    assert_eq!(parts.len(), 3);
    for part in &parts {
        let Expr::Send { receiver, .. } = part else { panic!("part is a send") };
        assert!(matches!(**receiver, Expr::CascadeReceiver(_)));
    }
    // The receiver of the cascade is the receiver of the last message before `;`.
    assert_eq!(shown("x a b; c"), "(cascade (x a); (<cr> b); (<cr> c))");
    assert_eq!(shown("x a: 1 + 2; b"), "(cascade x; (<cr> a: (1 + 2)); (<cr> b))");
    // A part may be a chain of messages; its innermost receiver is the cascade receiver.
    assert_eq!(shown("x foo; bar baz + 1; qux: 2"), "(cascade x; (<cr> foo); (((<cr> bar) baz) + 1); (<cr> qux: 2))");
    // As an argument, in parentheses.
    assert_eq!(shown("y add: (x foo; bar)"), "(y add: (cascade x; (<cr> foo); (<cr> bar)))");
}

#[test]
fn cascade_to_super_keeps_super_receivers() {
    let Expr::Cascade { receiver, parts } = expr("super foo; bar") else { panic!("cascade") };
    assert!(matches!(*receiver, Expr::Super(_)));
    assert_eq!(parts.len(), 2);
    for part in &parts {
        let Expr::Send { receiver, .. } = part else { panic!("part is a send") };
        assert!(matches!(**receiver, Expr::Super(_)), "{}", show(part));
    }
}

#[test]
fn cascade_on_keyword_message_with_binary_argument() {
    assert_eq!(shown("Transcript show: 'a' , 'b'; cr"), "(cascade Transcript; (<cr> show: ('a' , 'b')); (<cr> cr))");
}

#[test]
fn brace_arrays() {
    assert_eq!(shown("{}"), "{}");
    assert_eq!(shown("{1. 2.}"), "{1. 2}");
    assert_eq!(shown("{1. 2}"), "{1. 2}");
    assert_eq!(shown("{a foo. b + c. {d}}"), "{(a foo). (b + c). {d}}");
    assert_eq!(shown("{x := 1} size"), "({(x := 1)} size)");
    let Expr::Brace(items, span) = expr("  {1. 2.}") else { panic!("brace") };
    assert_eq!(items.len(), 2);
    assert_eq!(span, Span::new(1, 3));
}

// ---- blocks --------------------------------------------------------------------

#[test]
fn blocks_with_parameters_and_temporaries() {
    assert_eq!(shown("[:a :b | | t | a]"), "[:a :b | |t| a]");
    assert_eq!(shown("[:a :b | |t u| t := a. ^u]"), "[:a :b | |t u| (t := a). ^u]");
    assert_eq!(shown("[]"), "[]");
    assert_eq!(shown("[ | t | t ]"), "[|t| t]");
    assert_eq!(shown("[:a | ]"), "[:a | ]");
    assert_eq!(shown("[1. 2.]"), "[1. 2]");
    assert_eq!(shown("[:x | x] value: 3"), "([:x | x] value: 3)");
}

#[test]
fn double_bar_after_block_parameters_is_split() {
    assert_eq!(shown("[:a || t | a]"), "[:a | |t| a]");
    let Expr::Block(b) = expr("[:a || t | a]") else { panic!("block") };
    assert_eq!(names(&b.params), ["a"]);
    assert_eq!(names(&b.body.temps), ["t"]);
    assert_eq!(b.body.stmts.len(), 1);
}

#[test]
fn block_parameters_without_a_body() {
    let Expr::Block(b) = expr("[:a]") else { panic!("block") };
    assert_eq!(names(&b.params), ["a"]);
    assert!(b.body.stmts.is_empty());
    assert!(b.body.temps.is_empty());
    assert_eq!(b.span, Span::new(1, 1));
    assert_eq!(shown("[:a :b]"), "[:a :b | ]");
}

#[test]
fn comments_anywhere() {
    let src = "\"c\" Foo \"c\" = \"c\" Bar \"c\" ( \"c\" | \"c\" a \"c\" | \"c\"\n\
               foo \"c\" : \"c\" x \"c\" = \"c\" ( \"c\" | \"c\" t \"c\" | \"c\" ^ \"c\" a \"c\" + \"c\" x \"c\" . \"c\" ) \"c\"\n\
               \"c\" ---- \"c\" | \"c\" k \"c\" | \"c\" ) \"c\"";
    // `foo "c" :` is not a keyword: a comment between name and colon breaks it.
    assert!(parse_class("T.som", src).is_err());
    let src = src.replacen("foo \"c\" :", "foo:", 1);
    let c = class(&src);
    assert_eq!(c.name.name, "Foo");
    assert!(matches!(&c.superclass, SuperclassSpec::Named(id) if id.name == "Bar"));
    assert_eq!(names(&c.fields), ["a"]);
    assert_eq!(names(&c.class_fields), ["k"]);
    assert_eq!(c.methods.len(), 1);
    assert_eq!(c.methods[0].selector, "foo:");
    assert_eq!(show_body(code_body(&c.methods[0])), "|t| ^(a + x)");
    assert_eq!(stmts("1 \"one\" + \"plus\" 2 \"two\""), "(1 + 2)");
    assert_eq!(stmts("x \"\" foo"), "(x foo)");
}

// ---- classes and methods ---------------------------------------------------------

#[test]
fn method_patterns() {
    let c = class(
        "Foo = (\n\
         | f |\n\
         unary = ( ^1 )\n\
         at: i put: v = ( ^v )\n\
         || x = ( ^x )\n\
         = other = ( ^self == other )\n\
         == x = ( ^true )\n\
         , x = ( ^x )\n\
         - x = ( ^x )\n\
         <= x = ( ^x )\n\
         with: a = ( ^a )\n\
         )",
    );
    let sels: Vec<&str> = c.methods.iter().map(|m| m.selector.as_str()).collect();
    assert_eq!(sels, ["unary", "at:put:", "||", "=", "==", ",", "-", "<=", "with:"]);
    let params: Vec<Vec<&str>> = c.methods.iter().map(|m| names(&m.params)).collect();
    assert_eq!(params[0], Vec::<&str>::new());
    assert_eq!(params[1], ["i", "v"]);
    assert_eq!(params[2], ["x"]);
    assert_eq!(params[3], ["other"]);
    assert_eq!(show_body(code_body(&c.methods[3])), "^(self == other)");
    // Method spans are where the pattern starts.
    assert_eq!(c.methods[0].span, Span::new(3, 1));
    assert_eq!(c.methods[1].span, Span::new(4, 1));
}

#[test]
fn primitive_method_bodies() {
    let c = class("Foo = ( foo = primitive  at: i put: v = primitive  + x = primitive  bar = ( ^1 ) )");
    assert_eq!(c.methods.len(), 4);
    for m in &c.methods[..3] {
        assert_eq!(m.body, MethodBody::Primitive(None), "{}", m.selector);
    }
    assert_eq!(names(&c.methods[1].params), ["i", "v"]);
    assert!(matches!(c.methods[3].body, MethodBody::Code(_)));
}

#[test]
fn primitive_pragma_starts_a_fallback_body() {
    let c = class("Foo = ( at: i = ( <primitive> | t | t := i. ^t )  x = ( ^1 < 2 ) )");
    let MethodBody::Primitive(Some(body)) = &c.methods[0].body else { panic!("{:?}", c.methods[0].body) };
    assert_eq!(names(&body.temps), ["t"]);
    assert_eq!(body.stmts.len(), 2);
    // `<` elsewhere is the binary message.
    assert!(matches!(c.methods[1].body, MethodBody::Code(_)));
}

#[test]
fn class_side_with_separator_and_class_fields() {
    let c = class(
        "Foo = Bar (\n\
         | a b |\n\
         foo = ( ^a )\n\
         ------------\n\
         | c d |\n\
         new = ( ^super new init )\n\
         c = ( ^c )\n\
         )",
    );
    assert_eq!(names(&c.fields), ["a", "b"]);
    assert_eq!(names(&c.class_fields), ["c", "d"]);
    assert_eq!(c.methods.iter().map(|m| m.selector.as_str()).collect::<Vec<_>>(), ["foo"]);
    assert_eq!(c.class_methods.iter().map(|m| m.selector.as_str()).collect::<Vec<_>>(), ["new", "c"]);
    assert_eq!(show_body(code_body(&c.class_methods[0])), "^((super new) init)");
    // A class side without fields or methods, and one with methods only.
    let c = class("Foo = ( ---- )");
    assert!(c.class_fields.is_empty() && c.class_methods.is_empty());
    let c = class("Foo = ( ---- bar = ( ) )");
    assert!(c.class_fields.is_empty());
    assert_eq!(c.class_methods.len(), 1);
}

#[test]
fn superclass_forms() {
    let c = class("Object = nil ( | class | == other = primitive )");
    assert_eq!(c.superclass, SuperclassSpec::Nil);
    assert_eq!(c.name.name, "Object");
    let c = class("Foo = ( )");
    assert_eq!(c.superclass, SuperclassSpec::Default);
    assert!(c.fields.is_empty() && c.methods.is_empty());
    let c = class("Foo = Bar ( )");
    let SuperclassSpec::Named(id) = &c.superclass else { panic!("named superclass") };
    assert_eq!(id.name, "Bar");
    assert_eq!(id.span, Span::new(1, 7));
    assert_eq!(c.name.span, Span::new(1, 1));
}

#[test]
fn empty_field_lists_and_a_leading_double_bar() {
    assert!(class("Foo = ( | | )").fields.is_empty());
    assert!(class("Foo = ( | | ---- | | )").class_fields.is_empty());
    // As in SOM, `||` where fields could start is the binary selector `||`.
    let c = class("Foo = ( || x = ( ^x ) )");
    assert!(c.fields.is_empty());
    assert_eq!(c.methods.len(), 1);
    assert_eq!(c.methods[0].selector, "||");
    assert_eq!(names(&c.methods[0].params), ["x"]);
    let c = class("Foo = ( | a | ---- || x = ( ^x ) )");
    assert_eq!(names(&c.fields), ["a"]);
    assert!(c.class_fields.is_empty());
    assert_eq!(c.class_methods[0].selector, "||");
}

#[test]
fn parse_method_and_statements_entry_points() {
    let m = parse_method("m", "at: i put: v = ( | t | t := v. ^t )").expect("parses");
    assert_eq!(m.selector, "at:put:");
    assert_eq!(show_body(code_body(&m)), "|t| (t := v). ^t");
    assert!(parse_method("m", "foo = ( ) bar").is_err());
    assert_eq!(stmts("| a b | a := 1. ^a"), "|a b| (a := 1). ^a");
    assert_eq!(stmts(""), "");
    assert_eq!(stmts("^3."), "^3");
}

// ---- errors ----------------------------------------------------------------------

#[test]
fn missing_close_paren() {
    class_error("Foo = (\n  bar = ( ^(1 + 2. )\n)", 2, 18, "expected ')' to close the parenthesis but found '.'");
    class_error("Foo = (\n  bar = ( ^1 )\n", 3, 1, "')' to end the class but found the end of the file");
    class_error("Foo = (\n  bar = ( ^1\n", 3, 1, "but found the end of the file");
}

#[test]
fn missing_method_body() {
    class_error("Foo = (\n  bar =\n)", 3, 1, "expected '(' or 'primitive' for the body of method bar but found ')'");
    class_error("Foo = (\n  bar ( ^1 )\n)", 2, 7, "expected '=' after the pattern of method bar");
    class_error("Foo = (\n  at: = ( )\n)", 2, 7, "an argument name after the keyword");
    class_error("Foo = (\n  + = ( )\n)", 2, 5, "an argument name after the binary selector");
}

#[test]
fn statement_after_return() {
    class_error("Foo = (\n  bar = ( ^1. 2 )\n)", 2, 15, "expected ')' after a return statement but found number 2");
    stmts_error("[ ^1. x ]", 1, 7, "expected ']' after a return statement");
    stmts_error("^1 ^2", 1, 4, "after a return statement");
}

#[test]
fn missing_period_between_statements() {
    stmts_error("x foo\ny bar: 1 2", 2, 10, "expected '.' or the end of the file but found number 2");
    class_error("Foo = ( bar = ( 1 2 ) )", 1, 19, "expected '.' or ')' but found number 2");
}

#[test]
fn unclosed_string_comment_block_and_literal_array() {
    class_error("Foo = (\n  bar = ( ^'abc )\n)", 2, 12, "string is not closed");
    class_error("Foo = (\n  \"oops\n)", 2, 3, "comment is not closed");
    class_error("Foo = (\n  bar = ( ^[:x | x\n", 3, 1, "expected '.' or ']' but found the end of the file");
    class_error("Foo = (\n  bar = ( ^[ 1 )\n)", 2, 16, "expected '.' or ']' but found ')'");
    stmts_error("x := #(1 2 (3", 1, 14, "expected ')' to close the literal array but found the end of the file");
    stmts_error("x := #(1 2\n  ", 2, 3, "')' to close the literal array");
    stmts_error("{1. 2", 1, 6, "expected '.' or '}' in a brace array but found the end of the file");
}

#[test]
fn bad_literals() {
    stmts_error("x := # foo", 1, 6, "after '#'");
    stmts_error("x := #", 1, 6, "after '#' but found the end of the file");
    stmts_error("x := #(1 ; 2)", 1, 10, "a literal or ')' in the literal array");
    stmts_error("x := #(1 [ ])", 1, 10, "a literal or ')' in the literal array");
    stmts_error("x := 3 ` 4", 1, 8, "unexpected character");
    stmts_error("x := $", 1, 6, "expected a character after '$'");
    stmts_error("x := 'a\\qb'", 1, 8, "unknown escape");
}

#[test]
fn duplicate_declarations() {
    class_error("Foo = (\n  bar = ( | a b a | ^a )\n)", 2, 17, "temporary 'a' is declared twice");
    class_error("Foo = (\n  at: x put: x = ( ^x )\n)", 2, 14, "argument 'x' is declared twice");
    class_error("Foo = (\n  | a b\n    a |\n)", 3, 5, "field 'a' is declared twice");
    class_error("Foo = ( ---- | k j k | )", 1, 20, "class field 'k' is declared twice");
    stmts_error("[:a :b :a | a]", 1, 9, "block parameter 'a' is declared twice");
    stmts_error("[:a | | t t | a]", 1, 11, "temporary 't' is declared twice");
}

#[test]
fn cascade_after_a_non_send() {
    stmts_error("3; foo", 1, 2, "a cascade (';') must follow a message send");
    stmts_error("x := y; foo", 1, 7, "a cascade (';') must follow a message send");
    stmts_error("x foo; 3", 1, 8, "expected a message after ';' but found number 3");
    stmts_error("x foo;", 1, 7, "expected a message after ';' but found the end of the file");
}

#[test]
fn assignment_without_a_value() {
    stmts_error("x := ", 1, 6, "expected an expression but found the end of the file");
    class_error("Foo = (\n  bar = ( x := )\n)", 2, 16, "expected an expression but found ')'");
    stmts_error("x := := 3", 1, 6, "expected an expression but found ':='");
}

#[test]
fn missing_arguments_and_bad_block_headers() {
    stmts_error("x at: )", 1, 7, "expected an argument but found ')'");
    stmts_error("x + ", 1, 5, "expected an argument but found the end of the file");
    stmts_error("x + ^y", 1, 5, "expected an argument but found '^'");
    stmts_error("[:a a]", 1, 5, "expected '|' after the block parameters but found identifier 'a'");
    stmts_error("[: | a]", 1, 4, "a block parameter name after ':'");
}

#[test]
fn bad_class_headers() {
    class_error("Foo ( )", 1, 5, "expected '=' after the class name but found '('");
    class_error("Foo = Bar baz ( )", 1, 11, "expected '(' to start the class body");
    class_error("3 = ( )", 1, 1, "expected a class name but found number 3");
    class_error("Foo = ( ) extra", 1, 11, "expected the end of the file but found identifier 'extra'");
    class_error("Foo = ( | a 3 | )", 1, 13, "expected a variable name or '|'");
    class_error("Foo = ( ---- ---- )", 1, 14, "a method definition, '----' or ')' to end the class");
    class_error("", 1, 1, "expected a class name but found the end of the file");
}

#[test]
fn error_columns_count_characters_not_bytes() {
    stmts_error("'é✓' foo: )", 1, 11, "expected an argument but found ')'");
    stmts_error("\t\tx := )", 1, 8, "expected an expression but found ')'");
    stmts_error("\"é\nü\" 1 2", 2, 6, "found number 2");
}

#[test]
fn error_display_points_at_the_column() {
    let e = parse_class("Foo.som", "Foo = (\n  bar = ( ^1 + )\n)").expect_err("missing operand");
    assert_eq!(e.span, Span::new(2, 16));
    assert_eq!(
        e.to_string(),
        "Foo.som:2:16: error: expected an argument but found ')'\n  |\n2 |   bar = ( ^1 + )\n  |                ^"
    );
}

// ---- robustness ------------------------------------------------------------------

/// Runs `f` on a thread with the stack a program's main thread usually gets
/// (8 MiB), and fails the test if `f` panics.
/// Runs `f` on a thread with a small (256 KiB) stack: the compiler must grow
/// its stack itself rather than rely on the caller's.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .unwrap_or_else(|_| panic!("the parser panicked"))
}

/// Inputs nested 5,000 deep in each of the ways the grammar recurses.
fn deeply_nested_inputs() -> Vec<String> {
    let depth = 5_000;
    vec![
        format!("{}1{}", "(".repeat(depth), ")".repeat(depth)),
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
        format!("#{}{}", "(".repeat(depth), ")".repeat(depth)),
        format!("{}1{}", "{".repeat(depth), "}".repeat(depth)),
        format!("x{}", " + (y".repeat(depth)),
        format!("x{}", " at: (y".repeat(depth)),
        "a := ".repeat(depth) + "1",
        "(".repeat(depth),
    ]
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for src in deeply_nested_inputs() {
        let head: String = src.chars().take(12).collect();
        let result = on_small_stack(move || parse_statements("deep.som", &src).map(|_| ()));
        let e = result.expect_err(&format!("{head}... should be rejected"));
        assert!(e.message.contains("nest"), "{head}...: {e}");
        assert_eq!(e.span.line, 1);
    }
}

#[test]
fn nesting_up_to_the_limit_compiles_on_a_small_stack() {
    let src = format!("Deep = ( run = ( ^ {}1{} ) )", "(".repeat(990), ")".repeat(990));
    let class = on_small_stack(move || {
        crate::compiler::compile_class_source("deep.som", &src, None, &crate::compiler::ClassPath::new(vec![]))
    })
    .expect("990 levels compile");
    crate::bytecode::verify_class(&class).expect("verifies");
}

#[test]
fn deeply_nested_blocks_compile_verify_and_disassemble_on_a_small_stack() {
    let src = format!("Deep = ( run = ( ^ {}1{} ) )", "[".repeat(450), "]".repeat(450));
    let listing = on_small_stack(move || {
        let class =
            crate::compiler::compile_class_source("deep.som", &src, None, &crate::compiler::ClassPath::new(vec![]))
                .expect("450 nested blocks compile");
        crate::bytecode::verify_class(&class).expect("verifies");
        crate::bytecode::disassemble_class(&class)
    });
    assert_eq!(listing.matches("MakeBlock").count(), 450);
}

#[test]
fn moderate_nesting_parses() {
    let src = format!("{}1{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(stmts(&src), "1");
    let src = format!("{}{}", "[".repeat(50), "]".repeat(50));
    assert!(parse_statements("ok.som", &src).is_ok());
    let src = format!("x{}{}", " + (y".repeat(50), ")".repeat(50));
    assert!(parse_statements("ok.som", &src).is_ok());
}

const SAMPLE_CLASS: &str = r#""A sample class with most of the syntax, for the prefix test."
Sample = Object (
    | count items name |

    "Initialisation"
    init = (
        count := 0.
        items := Array new: 10.
        name := 'sämple \'q\' \\ ✓'
    )

    at: index put: value = ( ^items at: index put: value )
    + other = ( ^count + other count )
    || other = ( ^self or: [ other ] )
    = other = ( ^self == other )

    run: args = (
        | sum block |
        sum := 0.
        1 to: 10 do: [:i | sum := sum + i].
        10 to: 1 by: -2 do: [:i || t | t := i * 2. sum := sum - t].
        [ sum > 0 ] whileTrue: [ sum := sum - 1 ].
        block := [:a :b | a < b ifTrue: [ a ] ifFalse: [ b ]].
        (block value: 3 with: 4) println.
        Transcript show: 'x' , 'y'; cr; show: #(1 $a #b 'c' (2 3) -4 at:put: + true nil).
        ^{ sum. -5. - 6. 3 - -2. 1.5e3. 16rFF. 123456789012345678901234567890 }
    )

    count = ( ^count ifNil: [ 0 ] ifNotNil: [:c | c ] )
    primitiveThing: x = primitive
    escape = ( items do: [:e | e isNil ifTrue: [ ^e ] ]. ^nil )

    ----

    | instances |

    new = ( instances := (instances ifNil: [0]) + 1. ^super new init )
    instances = ( ^instances )
)
"#;

#[test]
fn sample_class_parses() {
    let c = class(SAMPLE_CLASS);
    assert_eq!(c.name.name, "Sample");
    assert_eq!(names(&c.fields), ["count", "items", "name"]);
    assert_eq!(names(&c.class_fields), ["instances"]);
    let sels: Vec<&str> = c.methods.iter().map(|m| m.selector.as_str()).collect();
    assert_eq!(sels, ["init", "at:put:", "+", "||", "=", "run:", "count", "primitiveThing:", "escape"]);
    assert_eq!(c.class_methods.len(), 2);
}

#[test]
fn no_prefix_of_a_class_makes_the_parser_panic() {
    let prefixes: Vec<usize> = SAMPLE_CLASS.char_indices().map(|(i, _)| i).chain([SAMPLE_CLASS.len()]).collect();
    let mut parsed = 0;
    for end in prefixes {
        let prefix = &SAMPLE_CLASS[..end];
        let result = std::panic::catch_unwind(|| parse_class("prefix.som", prefix));
        match result {
            Ok(Ok(_)) => parsed += 1,
            Ok(Err(e)) => {
                // Errors point inside the text (or just past its end).
                let lines = prefix.split('\n').count() as u32;
                assert!(e.span.line >= 1 && e.span.line <= lines, "prefix of {end} bytes: bad line in {e}");
                assert!(e.span.col >= 1, "prefix of {end} bytes: bad column in {e}");
            }
            Err(_) => panic!("parse_class panicked on the prefix of {end} bytes:\n{prefix}"),
        }
    }
    // Only the whole text (possibly without its trailing newline) is a class.
    assert!((1..=2).contains(&parsed), "{parsed} prefixes parsed");
}

#[test]
fn no_suffix_of_a_class_makes_the_parser_panic() {
    for (start, _) in SAMPLE_CLASS.char_indices() {
        let suffix = &SAMPLE_CLASS[start..];
        let result = std::panic::catch_unwind(|| {
            let _ = parse_class("suffix.som", suffix);
            let _ = parse_statements("suffix.som", suffix);
        });
        assert!(result.is_ok(), "the parser panicked on the suffix from byte {start}:\n{suffix}");
    }
}

#[test]
fn a_temporary_may_not_hide_an_argument_of_its_own_method_or_block() {
    class_error("A = (\n  foo: x = ( | x | ^ x )\n)", 2, 16, "temporary 'x' has the same name as an argument");
    stmts_error("[:a | | b a | a ]", 1, 11, "temporary 'a' has the same name as an argument");
    // An inner block may reuse an outer name.
    assert!(parse_statements("ok.som", "[:a | [:b | | a | a ] ]").is_ok());
}
