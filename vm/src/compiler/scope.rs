//! Capture analysis: which variables a closure reaches from an outer
//! activation, and which methods need a home context for non-local returns.
//!
//! Variables that no real (non-inlined) block reaches live in frame slots;
//! the captured ones live in a heap context. Declarations are told apart by
//! their source position, which is unique within a file.

use std::collections::HashSet;

use super::ast::{Block, Body, Expr, Ident, MethodDef, Stmt};
use super::error::Span;
use super::inline::{inline_form, inlined_blocks};

/// The result of analysing one method.
#[derive(Debug, Default)]
pub struct Captures {
    /// Declarations (by position) that some inner real block reads or writes.
    pub captured: HashSet<Span>,
    /// Declarations (by position) that are assigned somewhere.
    pub assigned: HashSet<Span>,
    /// Whether a real block inside the method contains `^`.
    pub needs_home: bool,
}

/// Analyses `method`.
pub fn analyse(method: &MethodDef, body: &Body) -> Captures {
    let mut a = Analyser { scopes: Vec::new(), real: 0, next_real: 1, out: Captures::default() };
    a.scopes.push(Scope { real: 0, vars: method.params.iter().map(decl).collect() });
    a.body(body);
    a.out
}

fn decl(id: &Ident) -> (String, Span) {
    (id.name.clone(), id.span)
}

struct Scope {
    /// The real activation (method or non-inlined block) the scope belongs to.
    real: usize,
    vars: Vec<(String, Span)>,
}

struct Analyser {
    scopes: Vec<Scope>,
    real: usize,
    next_real: usize,
    out: Captures,
}

impl Analyser {
    fn body(&mut self, body: &Body) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.vars.extend(body.temps.iter().map(decl));
        }
        for stmt in &body.stmts {
            match stmt {
                Stmt::Expr(e) => self.expr(e),
                Stmt::Return(e, _) => {
                    if self.real != 0 {
                        self.out.needs_home = true;
                    }
                    self.expr(e);
                }
            }
        }
    }

    fn reference(&mut self, name: &str, assign: bool) {
        for scope in self.scopes.iter().rev() {
            if let Some((_, span)) = scope.vars.iter().rev().find(|(n, _)| n == name) {
                if scope.real != self.real {
                    self.out.captured.insert(*span);
                }
                if assign {
                    self.out.assigned.insert(*span);
                }
                return;
            }
        }
    }

    fn block(&mut self, block: &Block, inlined: bool) {
        let outer_real = self.real;
        if !inlined {
            self.real = self.next_real;
            self.next_real += 1;
        }
        self.scopes.push(Scope { real: self.real, vars: block.params.iter().map(decl).collect() });
        self.body(&block.body);
        self.scopes.pop();
        self.real = outer_real;
    }

    fn expr(&mut self, e: &Expr) {
        super::with_stack(|| self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &Expr) {
        match e {
            Expr::Var(id) => self.reference(&id.name, false),
            Expr::Assign { target, value } => {
                self.reference(&target.name, true);
                self.expr(value);
            }
            Expr::Send { receiver, selector, args, .. } => {
                if let Some(form) = inline_form(receiver, selector, args) {
                    let inlined: Vec<*const Block> =
                        inlined_blocks(form, receiver, args).into_iter().map(|b| b as *const Block).collect();
                    let is_inlined = |e: &Expr| matches!(e, Expr::Block(b) if inlined.contains(&(b as *const Block)));
                    for part in std::iter::once(receiver.as_ref()).chain(args) {
                        match part {
                            Expr::Block(b) if is_inlined(part) => self.block(b, true),
                            other => self.expr(other),
                        }
                    }
                } else {
                    self.expr(receiver);
                    for a in args {
                        self.expr(a);
                    }
                }
            }
            Expr::Cascade { receiver, parts } => {
                self.expr(receiver);
                for p in parts {
                    self.expr(p);
                }
            }
            Expr::Block(b) => self.block(b, false),
            Expr::Brace(items, _) => {
                for i in items {
                    self.expr(i);
                }
            }
            Expr::SelfRef(_)
            | Expr::Super(_)
            | Expr::Nil(_)
            | Expr::True(_)
            | Expr::False(_)
            | Expr::Lit(..)
            | Expr::CascadeReceiver(_) => {}
        }
    }
}
