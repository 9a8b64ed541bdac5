//! Statements: prints, assignments, conditionals, loops, non-local returns.

use std::fmt::Write;

use super::*;

impl Gen {
    pub(super) fn statements(&mut self, sc: &mut Scope, count: usize, depth: u32, level: usize, out: &mut String) {
        for _ in 0..count {
            self.statement(sc, depth, level, out);
        }
    }

    pub(super) fn print_statement(&mut self, sc: &Scope, level: usize, out: &mut String) {
        let e = match self.rng.below(10) {
            0..=3 => self.int(sc, 3, MAX_BITS).0,
            4..=6 => self.dbl(sc, 3, MAX_MAG).0,
            7 => self.boolean(sc, 2),
            _ => self.string(sc, 2),
        };
        let _ = writeln!(out, "{}{e} println.", indent(level));
    }

    pub(super) fn statement(&mut self, sc: &mut Scope, depth: u32, level: usize, out: &mut String) {
        let pad = indent(level);
        let loops_ok = depth > 0 && sc.iterations < sc.iteration_limit;
        match self.rng.below(12) {
            0..=2 if sc.print && sc.iterations <= 40 => self.print_statement(sc, level, out),
            3..=5 => self.assignment(sc, level, out),
            6 if depth > 0 => {
                let c = self.boolean(sc, 2);
                let _ = writeln!(out, "{pad}{c} ifTrue: [");
                self.statements(&mut sc.clone(), 2, depth - 1, level + 1, out);
                if self.rng.chance(60) {
                    let _ = writeln!(out, "{pad}] ifFalse: [");
                    self.statements(&mut sc.clone(), 2, depth - 1, level + 1, out);
                }
                let _ = writeln!(out, "{pad}].");
            }
            7 | 8 if loops_ok => self.loop_statement(sc, depth, level, out),
            9 if sc.ret.is_some() && sc.loops > 0 => {
                // A non-local return from inside a loop's block.
                let c = self.boolean(sc, 1);
                let e = self.value_for(sc, sc.ret.unwrap_or(Ty::Int), sc.ret_bound);
                let _ = writeln!(out, "{pad}{c} ifTrue: [ ^{e} ].");
            }
            10 if sc.print && sc.iterations < 50 => {
                // A cascade of prints.
                let (e, _) = self.int(sc, 2, MAX_BITS);
                let _ = writeln!(out, "{pad}system printString: {e} asString; printString: ' '; printNewline.");
            }
            _ => {
                if sc.print && sc.iterations <= 40 {
                    self.print_statement(sc, level, out);
                } else {
                    self.assignment(sc, level, out);
                }
            }
        }
    }

    pub(super) fn assignment(&mut self, sc: &Scope, level: usize, out: &mut String) {
        let vars: Vec<Var> = sc.vars.iter().filter(|v| v.mutable).cloned().collect();
        if vars.is_empty() {
            return;
        }
        let v = self.rng.pick(&vars).clone();
        let e = self.value_for(sc, v.ty, v.bound);
        let _ = writeln!(out, "{}{} := {e}.", indent(level), v.name);
    }

    pub(super) fn loop_statement(&mut self, sc: &mut Scope, depth: u32, level: usize, out: &mut String) {
        let pad = indent(level);
        let n = self.rng.range(1, if sc.loops == 0 { sc.loop_max } else { sc.loop_max.min(6) });
        let mut inner = sc.clone();
        inner.loops += 1;
        inner.iterations *= n as u64 + 1;
        let body_count = self.rng.range(1, 3) as usize;
        match self.rng.below(6) {
            0 => {
                let i = self.fresh("i");
                inner.add(&i, Ty::Int, 8.0, false);
                let _ = writeln!(out, "{pad}1 to: {n} do: [ :{i} |");
                self.statements(&mut inner, body_count, depth - 1, level + 1, out);
                let _ = writeln!(out, "{pad}].");
            }
            1 => {
                let _ = writeln!(out, "{pad}{n} timesRepeat: [");
                self.statements(&mut inner, body_count, depth - 1, level + 1, out);
                let _ = writeln!(out, "{pad}].");
            }
            2 => {
                // A counter declared in the loop's block: every iteration has its own.
                let k = self.fresh("k");
                let _ = writeln!(out, "{pad}{k}Count := 0.");
                inner.add(&format!("{k}Count"), Ty::Int, 8.0, false);
                let _ = writeln!(out, "{pad}[ {k}Count < {n} ] whileTrue: [");
                self.statements(&mut inner, body_count, depth - 1, level + 1, out);
                let _ = writeln!(out, "{pad}    {k}Count := {k}Count + 1 ].");
                sc.vars.push(Var { name: format!("{k}Count"), ty: Ty::Int, bound: 8.0, mutable: false });
                self.pending.push(format!("{k}Count"));
            }
            3 => {
                let e = self.fresh("e");
                inner.add(&e, Ty::Int, 64.0, false);
                let items: Vec<String> = (0..self.rng.range(1, 6))
                    .map(|_| {
                        let (lit, _) = self.int_literal(64.0);
                        lit.trim_start_matches('(').trim_end_matches(')').to_string()
                    })
                    .filter(|l| !l.contains('<'))
                    .collect();
                let items = if items.is_empty() { vec!["7".to_string()] } else { items };
                let _ = writeln!(out, "{pad}#({}) do: [ :{e} |", items.join(" "));
                self.statements(&mut inner, body_count, depth - 1, level + 1, out);
                let _ = writeln!(out, "{pad}].");
            }
            4 => {
                let i = self.fresh("i");
                inner.add(&i, Ty::Int, 8.0, false);
                let step = self.rng.range(1, 4);
                let _ = writeln!(out, "{pad}{} to: 1 by: {} do: [ :{i} |", n * step, -step);
                self.statements(&mut inner, body_count, depth - 1, level + 1, out);
                let _ = writeln!(out, "{pad}].");
            }
            _ => {
                // Over an array built at run time.
                let e = self.fresh("e");
                let (a, ba) = self.int(sc, 2, 64.0);
                let (b, bb) = self.int(sc, 2, 64.0);
                inner.add(&e, Ty::Int, ba.max(bb), false);
                let _ = writeln!(out, "{pad}(Array with: {a} with: {b}) do: [ :{e} |");
                self.statements(&mut inner, body_count, depth - 1, level + 1, out);
                let _ = writeln!(out, "{pad}].");
            }
        }
    }
}
