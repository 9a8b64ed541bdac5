//! Methods and classes: helpers, the hierarchy, the edited method, sections, programs.

use std::fmt::Write;

use super::*;

impl Gen {
    /// A method made of temporaries, statements and an answer; the text of
    /// its body, declarations included.
    pub(super) fn method_body(
        &mut self,
        sc: &mut Scope,
        temps: &[(String, Ty, f64)],
        count: usize,
        depth: u32,
        answer: &str,
    ) -> String {
        let mut body = String::new();
        let mut init = String::new();
        for (name, ty, bound) in temps {
            let e = self.value_for(sc, *ty, *bound);
            let _ = writeln!(init, "        {name} := {e}.");
            sc.add(name, *ty, *bound, true);
        }
        self.statements(sc, count, depth, 2, &mut body);
        let answer = if answer.is_empty() { String::new() } else { format!("        {answer}\n") };
        let mut names: Vec<String> = temps.iter().map(|t| t.0.clone()).collect();
        names.append(&mut self.pending);
        let decl = if names.is_empty() { String::new() } else { format!("        | {} |\n", names.join(" ")) };
        format!("{decl}{init}{body}{answer}")
    }

    pub(super) fn random_temps(&mut self, n: usize) -> Vec<(String, Ty, f64)> {
        (0..n)
            .map(|_| {
                let (prefix, ty, bound) = match self.rng.below(10) {
                    8 => ("blk", Ty::Blk, 100.0),
                    9 => ("o", Ty::Obj, 0.0),
                    0..=2 => ("n", Ty::Int, *self.rng.pick(&[20.0, 64.0, 130.0])),
                    3 | 4 => ("d", Ty::Dbl, *self.rng.pick(&[1.0e3, 1.0e9])),
                    5 => ("s", Ty::Str, 0.0),
                    6 => ("b", Ty::Bool, 0.0),
                    _ => ("n", Ty::Int, 70.0),
                };
                (self.fresh(prefix), ty, bound)
            })
            .collect()
    }

    /// Helper `k`: an integer method the program's sections call in loops.
    pub(super) fn helper(&mut self, k: usize) -> String {
        let two = self.rng.chance(40);
        let arg_bits = *self.rng.pick(&[20.0, 40.0, 64.0]);
        let bits = *self.rng.pick(&[64.0, 100.0, 140.0]);
        let selector = if two { format!("h{k}:with:") } else { format!("h{k}:") };
        let mut sc = Scope::new(false, Some(Ty::Int));
        sc.helpers = k;
        sc.objects = k.is_multiple_of(2);
        sc.add("x", Ty::Int, arg_bits, false);
        if two {
            sc.add("y", Ty::Int, arg_bits, false);
        }
        let n = self.rng.range(1, 3) as usize;
        let temps = self.random_temps(n);
        // Loops in helpers are short, and call no other helper, so that
        // helpers calling helpers stay cheap.
        let mut body_scope = sc.clone();
        body_scope.helpers = 0;
        body_scope.ret_bound = bits;
        body_scope.loop_max = 4;
        body_scope.iteration_limit = 16;
        let count = self.rng.range(1, 4) as usize;
        let mut body = self.method_body(&mut body_scope, &temps, count, 2, "");
        body_scope.helpers = k;
        let (answer, ab) = self.int(&body_scope, 3, bits);
        let _ = writeln!(body, "        ^{answer}");
        debug_assert!(ab <= bits);
        let header = if two { format!("h{k}: x with: y") } else { format!("h{k}: x") };
        self.helpers.push(Helper { selector, args: if two { 2 } else { 1 }, arg_bits, bits });
        format!("    {header} = (\n{body}    )\n")
    }

    /// `hot:` in a fresh version: an integer function of `x`.
    pub(super) fn hot_version(&mut self) -> String {
        let mut sc = Scope::new(false, None);
        sc.add("x", Ty::Int, HOT_ARG_BITS, false);
        sc.helpers = self.helpers.len();
        sc.objects = false;
        let (e, _) = self.int(&sc, 3, HOT_BITS);
        if self.rng.chance(30) {
            // With a non-local return from a loop.
            let (lim, _) = self.int_literal(HOT_BITS);
            format!("hot: x = ( 1 to: 5 do: [ :i | i = (x % 7) ifTrue: [ ^{lim} ] ]. ^{e} )")
        } else {
            format!("hot: x = ( ^{e} )")
        }
    }

    /// The hierarchy: a root with fields and `init:`, `val:`, `name`,
    /// `apply:`, and subclasses overriding some of them with super sends.
    pub(super) fn hierarchy(&mut self) -> Vec<(String, String)> {
        let count = self.rng.range(2, 4) as usize;
        let letters = ["A", "B", "C", "D"];
        self.classes.clear();
        for (i, letter) in letters.iter().enumerate().take(count) {
            let parent = if i == 0 { None } else { Some(self.rng.below(i as u64) as usize) };
            self.classes.push((format!("{}{letter}", self.name), parent));
        }
        let mut sources = Vec::new();
        for i in 0..count {
            let (name, parent) = self.classes[i].clone();
            let mut text = String::new();
            match parent {
                None => {
                    let _ = writeln!(text, "{name} = (\n    | a b |\n");
                    let _ = writeln!(text, "    init: v = ( a := v. b := (v * 3) + 1 )");
                    let _ = writeln!(text, "    a = ( ^a )\n    b = ( ^b )");
                    let _ = writeln!(text, "    name = ( ^'{name}' )");
                    let _ = writeln!(text, "    apply: aBlock = ( ^aBlock value: (self val: 3) )");
                    let _ = writeln!(
                        text,
                        "    find: n = ( #(1 2 3 4 5 6) do: [ :e | (self val: e) > n ifTrue: [ ^e ] ]. ^0 )"
                    );
                    let _ = writeln!(
                        text,
                        "    callBack: aBlock = ( 1 to: 4 do: [ :i | i = 3 ifTrue: [ aBlock value: (self val: i) ] ]. ^-1 )"
                    );
                    let body = self.val_body(None);
                    let _ = writeln!(text, "    val: n = ( ^{body} )");
                }
                Some(p) => {
                    let pname = self.classes[p].0.clone();
                    let _ = writeln!(text, "{name} = {pname} (\n    | c{i} |\n");
                    if self.rng.chance(50) {
                        let _ = writeln!(text, "    init: v = ( super init: v + 1. c{i} := v - 2 )");
                    } else {
                        let _ = writeln!(text, "    init: v = ( super init: v. c{i} := 5 )");
                    }
                    let _ = writeln!(text, "    name = ( ^'{name}<' + super name )");
                    if self.rng.chance(80) {
                        let body = self.val_body(Some(i));
                        let _ = writeln!(text, "    val: n = ( ^{body} )");
                    }
                    if self.rng.chance(30) {
                        let _ = writeln!(text, "    apply: aBlock = ( ^(super apply: aBlock) + 1 )");
                    }
                }
            }
            text += ")\n";
            sources.push((name, text));
        }
        sources
    }

    /// The body of a `val:` method, bounded by [`VAL_BITS`].
    pub(super) fn val_body(&mut self, sub: Option<usize>) -> String {
        let mut sc = Scope::new(false, None);
        sc.objects = false;
        sc.add("n", Ty::Int, VAL_ARG_BITS, false);
        sc.add("a", Ty::Int, 66.0, false);
        sc.add("b", Ty::Int, 68.0, false);
        if let Some(i) = sub {
            sc.add(&format!("c{i}"), Ty::Int, 66.0, false);
            sc.add("(super val: n)", Ty::Int, VAL_BITS, false);
        }
        let (e, b) = self.int(&sc, 3, 2.0 * VAL_BITS);
        if b <= VAL_BITS && self.rng.chance(50) { e } else { format!("({e} rem: 1267650600228229401496703205376)") }
    }

    /// A section of `run`: a method printing what it computes.
    pub(super) fn section(&mut self, k: usize, kind: u64) -> String {
        let main = self.name.clone();
        let mut sc = Scope::new(true, Some(Ty::Int));
        sc.helpers = self.helpers.len();
        let pad = indent(2);
        let body = match kind {
            // Arithmetic and loops over random statements.
            0 | 1 => {
                let n = self.rng.range(2, 5) as usize;
                let temps = self.random_temps(n);
                let count = self.rng.range(3, 7) as usize;
                self.method_body(&mut sc, &temps, count, 3, "")
            }
            // Polymorphic sends over the hierarchy, in a loop.
            2 => {
                let mut t = String::new();
                let n = self.rng.range(2, 4);
                let _ = writeln!(t, "{pad}| objs acc |\n{pad}objs := Array new: {n}.");
                for i in 1..=n {
                    let o = self.new_object(&sc);
                    let _ = writeln!(t, "{pad}objs at: {i} put: {o}.");
                }
                let reps = self.rng.range(3, 15);
                let (arg, _) = {
                    let mut inner = sc.clone();
                    inner.add("i", Ty::Int, 8.0, false);
                    self.int(&inner, 2, VAL_ARG_BITS)
                };
                let _ = writeln!(t, "{pad}acc := 0.");
                let _ = writeln!(
                    t,
                    "{pad}1 to: {reps} do: [ :i | objs do: [ :o | acc := (acc + (o val: {arg})) rem: 1267650600228229401496703205376 ] ]."
                );
                let _ = writeln!(t, "{pad}acc println.");
                let _ = writeln!(
                    t,
                    "{pad}objs do: [ :o | o name println. (o val: 7) println. (o find: {}) println ].",
                    self.int_literal(120.0).0
                );
                let blk = self.int_block(&sc, VAL_BITS + 2.0, 110.0);
                let _ = writeln!(t, "{pad}objs do: [ :o | (o apply: {blk}) println ].");
                let _ = writeln!(t, "{pad}(objs inject: 0 into: [ :s :o | s + o a - o b ]) println.");
                t
            }
            // Blocks: stored, valued later, capturing and nested.
            3 => {
                let mut t = String::new();
                let _ = writeln!(t, "{pad}| blocks counter acc adders |");
                let (c0, _) = self.int_literal(64.0);
                let _ = writeln!(t, "{pad}counter := {c0}.");
                let n = self.rng.range(2, 5);
                let _ = writeln!(t, "{pad}blocks := Array new: {n}.");
                let mut inner = sc.clone();
                inner.add("k", Ty::Int, 8.0, false);
                inner.add("counter", Ty::Int, 80.0, false);
                inner.print = false;
                let blk = self.int_block(&inner, 80.0, 100.0);
                let _ = writeln!(t, "{pad}1 to: {n} do: [ :k | blocks at: k put: {blk} ].");
                let (m, _) = self.modulus(80.0);
                let _ =
                    writeln!(t, "{pad}blocks do: [ :b | counter := ((b value: counter) rem: {m}). counter println ].");
                let _ = writeln!(t, "{pad}acc := 0.");
                let reps = self.rng.range(5, 25);
                let _ = writeln!(
                    t,
                    "{pad}{reps} timesRepeat: [ blocks do: [ :b | acc := (acc + (b value: acc)) rem: {m} ] ]."
                );
                let _ = writeln!(t, "{pad}acc println.");
                // A literal block valued by a short method of the program
                // (which the JIT inlines, the block with it), writing a
                // variable of its maker.
                let mut folded = sc.clone();
                folded.add("i", Ty::Int, 8.0, false);
                folded.add("acc", Ty::Int, 80.0, false);
                folded.print = false;
                folded.ret = None;
                let (step, _) = self.int(&folded, 2, 100.0);
                let _ = writeln!(
                    t,
                    "{pad}self fold: [ :i | acc := (acc + {step}) rem: {m} ] from: 1 to: {}.",
                    self.rng.range(1, 30)
                );
                let _ = writeln!(t, "{pad}acc println.");
                let (x, _) = self.int_literal(60.0);
                let _ = writeln!(t, "{pad}adders := [ :p | [ :q | [ :r | p + q * r ] ] ].");
                let _ = writeln!(t, "{pad}(((adders value: {x}) value: counter) value: 3) println.");
                if !self.block_helpers.is_empty() {
                    let (sel, _) = self.block_helpers[self.rng.below(self.block_helpers.len() as u64) as usize].clone();
                    let (a, _) = self.int_literal(30.0);
                    let _ = writeln!(t, "{pad}acc := self {sel} {a}.");
                    let _ = writeln!(t, "{pad}1 to: {} do: [ :i | (acc value: i) println ].", self.rng.range(1, 4));
                }
                t
            }
            // Non-local returns.
            4 => {
                let mut t = String::new();
                let _ = writeln!(t, "{pad}(self nlrFind: {}) println.", self.int_literal(70.0).0);
                let _ = writeln!(t, "{pad}(self nlrCallee: {}) println.", self.int_literal(10.0).0);
                let _ = writeln!(t, "{pad}(self nlrDeep: {}) println.", self.rng.range(0, 30));
                let _ = writeln!(t, "{pad}(self nlrObject) println.");
                let _ = writeln!(t, "{pad}1 to: {} do: [ :i | (self nlrFind: i * 3) println ].", self.rng.range(2, 15));
                let _ = writeln!(t, "{pad}(self nlrKept: {}) println.", self.rng.range(0, 20));
                t
            }
            // Edits while the program runs.
            5 | 6 => {
                let mut t = String::new();
                let _ = writeln!(t, "{pad}| acc |");
                let reps = self.rng.range(3, 40);
                let _ = writeln!(t, "{pad}acc := 0.");
                let _ = writeln!(
                    t,
                    "{pad}1 to: {reps} do: [ :i | acc := (acc + (self hot: i)) rem: 9223372036854775783 ]."
                );
                let _ = writeln!(t, "{pad}acc println.");
                let v = quote(&self.hot_version());
                let _ = writeln!(t, "{pad}{main} compile: {v}.");
                let _ = writeln!(t, "{pad}(self hot: 5) println.");
                let _ = writeln!(t, "{pad}(self callHot: {}) println.", self.rng.range(0, 100));
                let v = quote(&self.hot_version());
                let at = self.rng.range(1, reps);
                let _ = writeln!(t, "{pad}acc := 0.");
                let _ = writeln!(
                    t,
                    "{pad}1 to: {reps} do: [ :i | i = {at} ifTrue: [ {main} compile: {v} ]. acc := (acc + (self hot: i)) rem: 9223372036854775783 ]."
                );
                let _ = writeln!(t, "{pad}acc println.");
                let _ = writeln!(t, "{pad}(self callHot: 7) println.");
                // An edit in the hierarchy, seen by a polymorphic site.
                let c = self.rng.below(self.classes.len() as u64) as usize;
                let (class, parent) = self.classes[c].clone();
                let _ = writeln!(t, "{pad}{} println.", self.poly_call(&sc));
                let body = self.val_body(parent.map(|_| c));
                let _ = writeln!(t, "{pad}{class} compile: {}.", quote(&format!("val: n = ( ^{body} )")));
                let _ = writeln!(t, "{pad}{} println.", self.poly_call(&sc));
                if parent.is_some() && self.rng.chance(50) {
                    let _ = writeln!(t, "{pad}{class} removeSelector: #val:.");
                    let _ = writeln!(t, "{pad}{} println.", self.poly_call(&sc));
                }
                t
            }
            // Recursion.
            _ => {
                let mut t = String::new();
                let _ = writeln!(t, "{pad}(self rec: {}) println.", self.rng.range(0, 25));
                let _ = writeln!(t, "{pad}1 to: {} do: [ :i | (self rec: i) println ].", self.rng.range(1, 12));
                t
            }
        };
        format!("    section{k} = (\n{body}    )\n")
    }

    /// An expression summing `val:` over one instance of each class.
    pub(super) fn poly_call(&mut self, sc: &Scope) -> String {
        let mut parts = Vec::new();
        for (name, _) in self.classes.clone() {
            let (a, _) = self.int_literal(40.0);
            let (x, _) = self.int(sc, 1, VAL_ARG_BITS);
            parts.push(format!("(({name} new init: {a}) val: {x})"));
        }
        let sum = parts.join(" + ");
        format!("((1 to: 12) inject: 0 into: [ :s :j | s + ({sum}) ])")
    }

    /// The fixed methods sections of `kinds` rely on: `hot:` and
    /// `callHot:` always, the non-local return methods, `rec:` and the
    /// methods answering blocks when a section needs them.
    pub(super) fn fixed_methods(&mut self, kinds: &[u64]) -> String {
        let mut t = String::new();
        let hot = self.hot_version();
        let _ = writeln!(t, "    {hot}");
        let _ = writeln!(t, "    callHot: n = ( ^(self hot: n) + 1 )");
        if kinds.contains(&4) {
            self.nlr_methods(&mut t);
        }
        if kinds.contains(&7) {
            self.rec_method(&mut t);
        }
        if kinds.contains(&3) {
            self.block_methods(&mut t);
        }
        t
    }

    /// The methods of the non-local return section.
    pub(super) fn nlr_methods(&mut self, t: &mut String) {
        let mut sc = Scope::new(false, None);
        sc.add("e", Ty::Int, 8.0, false);
        sc.add("n", Ty::Int, 70.0, false);
        sc.helpers = self.helpers.len();
        let c = self.boolean(&sc, 2);
        let (r, _) = self.int(&sc, 2, 90.0);
        let _ = writeln!(
            t,
            "    nlrFind: n = ( #(1 2 3 4 5 6 7 8 9 10) do: [ :e | (e * e > n or: [ {c} ]) ifTrue: [ ^{r} ] ]. ^-1 )"
        );
        let _ =
            writeln!(t, "    each: aBlock upTo: n = ( 1 to: 10 do: [ :i | i >= n ifTrue: [ aBlock value: i ] ]. ^0 )");
        let mut sc = Scope::new(false, None);
        sc.add("v", Ty::Int, 8.0, false);
        sc.add("n", Ty::Int, 20.0, false);
        let (r, _) = self.int(&sc, 2, 90.0);
        let _ = writeln!(t, "    nlrCallee: n = ( self each: [ :v | ^{r} ] upTo: n. ^'none' )");
        let _ = writeln!(
            t,
            "    deep: n with: aBlock = ( n = 0 ifTrue: [ aBlock value: n ]. ^self deep: n - 1 with: aBlock )"
        );
        let _ = writeln!(t, "    nlrDeep: n = ( ^(self deep: n with: [ :v | ^n * 1000 + v ]) + 1 )");
        let class = self.classes[self.rng.below(self.classes.len() as u64) as usize].0.clone();
        let _ = writeln!(
            t,
            "    nlrObject = ( ({class} new init: 3) callBack: [ :v | ^'back ' + v asString ]. ^'not reached' )"
        );
        let _ = writeln!(
            t,
            "    keep: aBlock = ( kept := aBlock )\n    runKept: n = ( n timesRepeat: [ kept value ]. ^'kept ran' )"
        );
        let _ = writeln!(
            t,
            "    nlrKept: n = ( | count | count := 0. self keep: [ count := count + 1. count > 3 ifTrue: [ ^'left at ' + count asString ] ]. ^self runKept: n )"
        );
    }

    /// `rec:`, recursion on a counter.
    pub(super) fn rec_method(&mut self, t: &mut String) {
        let mut sc = Scope::new(false, None);
        sc.add("n", Ty::Int, 6.0, false);
        let (base, _) = self.int_literal(64.0);
        let (step, _) = self.int(&sc, 1, 64.0);
        let (m, _) = self.modulus(130.0);
        let _ = writeln!(t, "    rec: n = ( n <= 0 ifTrue: [ ^{base} ]. ^((self rec: n - 1) * 3 + {step}) rem: {m} )");
    }

    /// Methods answering blocks that capture their argument and a temporary.
    pub(super) fn block_methods(&mut self, t: &mut String) {
        let _ = writeln!(
            t,
            "    fold: aBlock from: a to: b = ( | i | i := a. [ i <= b ] whileTrue: [ aBlock value: i. i := i + 1 ] )"
        );
        // Methods answering blocks that capture their argument and a temporary.
        for j in 0..2 {
            let sel = format!("block{j}:");
            let mut sc = Scope::new(false, None);
            sc.add("x", Ty::Int, 30.0, false);
            sc.add("t", Ty::Int, 40.0, false);
            let blk = self.int_block(&sc, 12.0, 100.0);
            let _ = writeln!(t, "    block{j}: x = ( | t | t := x * 7. ^{blk} )");
            self.block_helpers.push((sel, 100.0));
        }
    }

    pub(super) fn program(&mut self, index: u64) -> Program {
        let main = self.name.clone();
        let mut classes = self.hierarchy();
        let mut text = format!("{main} = (\n    | kept |\n\n");
        for k in 0..self.rng.range(1, 4) as usize {
            text += &self.helper(k);
        }
        // The first section edits; of the others, about half are random
        // statements.
        let sections = self.rng.range(3, 5) as usize;
        let kinds: Vec<u64> = (0..sections)
            .map(|k| if k == 0 { 5 } else { *self.rng.pick(&[0, 0, 0, 0, 0, 2, 2, 3, 3, 4, 4, 5, 7]) })
            .collect();
        text += &self.fixed_methods(&kinds);
        let mut calls = Vec::new();
        for (k, &kind) in kinds.iter().enumerate() {
            text += &self.section(k, kind);
            calls.push(format!("        self section{k}."));
        }
        let _ = writeln!(text, "    run = (\n{}\n    )\n)", calls.join("\n"));
        classes.insert(0, (main, text));
        Program { index, classes }
    }
}
