//! Code for the inlined control structures (see [`InlineForm`]).
//!
//! Shapes (stack contents in brackets, `v` the expression's value):
//!
//! ```text
//! ifTrue:          <r> JumpIfFalse L1; <blk> Jump L2; L1: PushNil; L2: [v]
//! ifTrue:ifFalse:  <r> JumpIfFalse L1; <b1> Jump L2; L1: <b2>; L2: [v]
//! ifNil:           <r> Dup; JumpIfNotNil L; Pop; <blk>; L: [v]
//! ifNotNil: [:x|]  <r> Dup; JumpIfNil L; x := pop; <blk>; L: [v]
//! and:             <r> JumpIfFalse L1; <blk> Jump L2; L1: PushFalse; L2: [v]
//! whileTrue:       L1: <cond> JumpIfFalse L2; <body>; JumpBack L1; L2: PushNil
//! to:by:do:        <r> Dup; counter := pop; limit := <limit>;
//!                  L1: counter limit <= (>= for a negative step); JumpIfFalse L2;
//!                  <body with i = counter>; counter := counter + step; JumpBack L1;
//!                  L2: [r]
//! timesRepeat:     like `1 to: r do:`, value r
//! ```

use super::assembler::JumpKind;
use super::ast::{Block, Expr};
use super::codegen::{Gen, InlineParam};
use super::error::{Result, Span};
use super::inline::{InlineForm, Step};
use crate::bytecode::Insn;

fn block_of(e: &Expr) -> Option<&Block> {
    match e {
        Expr::Block(b) => Some(b),
        _ => None,
    }
}

impl Gen<'_> {
    fn block_arg<'e>(&self, e: &'e Expr, span: Span) -> Result<&'e Block> {
        block_of(e).ok_or_else(|| self.internal(span, "inlined send without a literal block"))
    }

    /// Compiles an inlined control structure; leaves its value on the stack.
    pub(super) fn inline_send(&mut self, form: InlineForm, receiver: &Expr, args: &[Expr], span: Span) -> Result<()> {
        match form {
            InlineForm::IfTrue | InlineForm::IfFalse => {
                let on = if form == InlineForm::IfTrue { JumpKind::IfFalse } else { JumpKind::IfTrue };
                let then = self.block_arg(&args[0], span)?;
                self.expr(receiver)?;
                self.branch(
                    on,
                    span,
                    |g| g.inline_block(then, InlineParam::None),
                    |g| {
                        g.emit(Insn::PushNil {});
                        Ok(())
                    },
                )
            }
            InlineForm::IfTrueIfFalse | InlineForm::IfFalseIfTrue => {
                let first = self.block_arg(&args[0], span)?;
                let second = self.block_arg(&args[1], span)?;
                let on = if form == InlineForm::IfTrueIfFalse { JumpKind::IfFalse } else { JumpKind::IfTrue };
                self.expr(receiver)?;
                self.branch(
                    on,
                    span,
                    |g| g.inline_block(first, InlineParam::None),
                    |g| g.inline_block(second, InlineParam::None),
                )
            }
            InlineForm::And | InlineForm::Or => {
                let rest = self.block_arg(&args[0], span)?;
                let (on, short) = if form == InlineForm::And {
                    (JumpKind::IfFalse, Insn::PushFalse {})
                } else {
                    (JumpKind::IfTrue, Insn::PushTrue {})
                };
                self.expr(receiver)?;
                self.branch(
                    on,
                    span,
                    |g| g.inline_block(rest, InlineParam::None),
                    |g| {
                        g.emit(short);
                        Ok(())
                    },
                )
            }
            InlineForm::IfNil => {
                let blk = self.block_arg(&args[0], span)?;
                self.nil_test(receiver, span, JumpKind::IfNotNil, |g| {
                    g.emit(Insn::Pop {});
                    g.inline_block(blk, InlineParam::None)
                })
            }
            InlineForm::IfNotNil => {
                let blk = self.block_arg(&args[0], span)?;
                self.nil_test(receiver, span, JumpKind::IfNil, |g| g.not_nil_block(blk))
            }
            InlineForm::IfNilIfNotNil | InlineForm::IfNotNilIfNil => {
                let (nil_blk, not_nil_blk) = if form == InlineForm::IfNilIfNotNil {
                    (self.block_arg(&args[0], span)?, self.block_arg(&args[1], span)?)
                } else {
                    (self.block_arg(&args[1], span)?, self.block_arg(&args[0], span)?)
                };
                self.expr(receiver)?;
                self.set_line(span);
                self.emit(Insn::Dup {});
                let is_nil = self.asm().new_label();
                let done = self.asm().new_label();
                self.asm().jump(JumpKind::IfNil, is_nil);
                self.not_nil_block(not_nil_blk)?;
                self.asm().jump(JumpKind::Forward, done);
                self.asm().bind(is_nil);
                self.emit(Insn::Pop {});
                self.inline_block(nil_blk, InlineParam::None)?;
                self.asm().bind(done);
                Ok(())
            }
            InlineForm::While { condition, has_body } => {
                let cond = self.block_arg(receiver, span)?;
                let body = if has_body { Some(self.block_arg(&args[0], span)?) } else { None };
                let head = self.asm().new_label();
                let exit = self.asm().new_label();
                self.asm().bind(head);
                self.inline_block(cond, InlineParam::None)?;
                self.set_line(span);
                self.asm().jump(if condition { JumpKind::IfFalse } else { JumpKind::IfTrue }, exit);
                if let Some(body) = body {
                    self.inline_block_effect(body, InlineParam::None)?;
                }
                self.set_line(span);
                self.asm().jump(JumpKind::Back, head);
                self.asm().bind(exit);
                self.emit(Insn::PushNil {});
                Ok(())
            }
            InlineForm::ToDo { step } => {
                let body = self.block_arg(&args[args.len() - 1], span)?;
                let mark = self.temp_mark();
                let counter = self.alloc_temp();
                let limit = self.alloc_temp();
                self.expr(receiver)?;
                self.set_line(span);
                self.emit(Insn::Dup {});
                self.emit(Insn::PopTemp { index: counter });
                self.expr(&args[0])?;
                self.set_line(span);
                self.emit(Insn::PopTemp { index: limit });
                self.counted_loop(counter, limit, step, span, |g| {
                    g.inline_block_effect(body, InlineParam::Temp(counter))
                })?;
                self.release_temps(mark);
                Ok(())
            }
            InlineForm::TimesRepeat => {
                let body = self.block_arg(&args[0], span)?;
                let mark = self.temp_mark();
                let counter = self.alloc_temp();
                let limit = self.alloc_temp();
                self.expr(receiver)?;
                self.set_line(span);
                self.emit(Insn::Dup {});
                self.emit(Insn::PopTemp { index: limit });
                self.emit(Insn::PushInteger { value: 1 });
                self.emit(Insn::PopTemp { index: counter });
                self.counted_loop(counter, limit, Step::Int(1), span, |g| {
                    g.inline_block_effect(body, InlineParam::None)
                })?;
                self.release_temps(mark);
                Ok(())
            }
        }
    }

    /// `<receiver> Dup; Jump<skip_if> L; <run>; L:` — the receiver is the
    /// value when the jump is taken.
    fn nil_test(
        &mut self,
        receiver: &Expr,
        span: Span,
        skip_if: JumpKind,
        run: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        self.expr(receiver)?;
        self.set_line(span);
        self.emit(Insn::Dup {});
        let done = self.asm().new_label();
        self.asm().jump(skip_if, done);
        run(self)?;
        self.asm().bind(done);
        Ok(())
    }

    /// `<condition on stack> Jump<on> L1; <taken> Jump L2; L1: <other>; L2:`
    fn branch(
        &mut self,
        on: JumpKind,
        span: Span,
        taken: impl FnOnce(&mut Self) -> Result<()>,
        other: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let skip = self.asm().new_label();
        let done = self.asm().new_label();
        self.set_line(span);
        self.asm().jump(on, skip);
        taken(self)?;
        self.set_line(span);
        self.asm().jump(JumpKind::Forward, done);
        self.asm().bind(skip);
        other(self)?;
        self.asm().bind(done);
        Ok(())
    }

    /// The not-nil branch: the receiver is on the stack; the block takes it
    /// as its argument, or it is dropped.
    fn not_nil_block(&mut self, blk: &Block) -> Result<()> {
        if blk.params.is_empty() {
            self.emit(Insn::Pop {});
            self.inline_block(blk, InlineParam::None)
        } else {
            self.inline_block(blk, InlineParam::Stack)
        }
    }

    /// `L1: counter limit <=; JumpIfFalse L2; <body>; counter := counter + step; JumpBack L1; L2:`
    /// (loop bodies leave nothing on the stack)
    fn counted_loop(
        &mut self,
        counter: u32,
        limit: u32,
        step: Step,
        span: Span,
        body: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let head = self.asm().new_label();
        let exit = self.asm().new_label();
        self.asm().bind(head);
        self.set_line(span);
        self.emit(Insn::PushTemp { index: counter });
        self.emit(Insn::PushTemp { index: limit });
        let compare = if step.is_negative() { ">=" } else { "<=" };
        self.emit_send(compare, 1, false);
        self.asm().jump(JumpKind::IfFalse, exit);
        body(self)?;
        self.set_line(span);
        self.emit(Insn::PushTemp { index: counter });
        self.push_step(step);
        self.emit_send("+", 1, false);
        self.emit(Insn::PopTemp { index: counter });
        self.asm().jump(JumpKind::Back, head);
        self.asm().bind(exit);
        Ok(())
    }
}
