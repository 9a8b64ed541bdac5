//! Compiler throughput: compiles a generated class of many methods (sends,
//! blocks, inlined loops and conditionals, literals) several times and
//! reports source lines and methods compiled per second.
//!
//! Run with `cargo bench --bench compile`.

use std::time::{Duration, Instant};

use vm::bytecode::verify_class;
use vm::compiler::{ClassPath, compile_class_source};

fn generated_class(methods: usize) -> String {
    let mut src = String::from("Generated = (\n  | a b c |\n");
    for i in 0..methods {
        src.push_str(&format!(
            "  method{i}: x with: y = (\n    | t u |\n    t := 0.\n    1 to: x do: [:k |\n      \
             (k \\\\ 3 = 0) ifTrue: [ t := t + k ] ifFalse: [ u := [:z | z * y + a ] value: k ].\n      \
             b := #(1 $a 'str' #sym 2.5) , {{ k. t. u }} ].\n    \
             [ t > 100 ] whileTrue: [ t := t - 7 ].\n    \
             c isNil ifTrue: [ ^ 'method{i}' ].\n    \
             ^ t max: (y ifNil: [ 0 ] ifNotNil: [:v | v + {i} ])\n  )\n"
        ));
    }
    src.push_str(")\n");
    src
}

fn main() {
    let methods = 2_000;
    let source = generated_class(methods);
    let lines = source.lines().count();
    let class_path = ClassPath::new(Vec::new());
    // Warm up, and check that the output is valid.
    let class = compile_class_source("Generated.som", &source, None, &class_path).expect("benchmark source compiles");
    verify_class(&class).expect("benchmark output verifies");
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let class = compile_class_source("Generated.som", &source, None, &class_path).expect("compiles");
        let elapsed = start.elapsed();
        assert_eq!(class.methods.len(), methods);
        best = best.min(elapsed);
    }
    let secs = best.as_secs_f64();
    println!(
        "compile: {methods} methods, {lines} lines in {:.2} ms (best of 5): {:.0} lines/s, {:.1} us/method",
        secs * 1e3,
        lines as f64 / secs,
        secs * 1e6 / methods as f64
    );
}
