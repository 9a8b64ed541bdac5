//! Assembler: instructions and labels to encoded bytecode.
//!
//! Tracks the operand-stack depth as code is emitted (so the method header
//! gets its maximum), drops code that cannot be reached (after a return or
//! an unconditional jump, until a label that some jump targets), and sizes
//! jumps by relaxation: every jump starts narrow and is widened until all
//! offsets fit.

use crate::bytecode::{Insn, LineTable, encode, encode_at_width, encoded_len};

/// A jump target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// The jumps the code generator uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JumpKind {
    /// Unconditional, forward.
    Forward,
    /// Unconditional, backward (a loop back-edge).
    Back,
    /// Pop; jump if true.
    IfTrue,
    /// Pop; jump if false.
    IfFalse,
    /// Pop; jump if nil.
    IfNil,
    /// Pop; jump unless nil.
    IfNotNil,
}

impl JumpKind {
    fn insn(self, offset: u32) -> Insn {
        match self {
            JumpKind::Forward => Insn::Jump { offset },
            JumpKind::Back => Insn::JumpBack { offset },
            JumpKind::IfTrue => Insn::JumpIfTrue { offset },
            JumpKind::IfFalse => Insn::JumpIfFalse { offset },
            JumpKind::IfNil => Insn::JumpIfNil { offset },
            JumpKind::IfNotNil => Insn::JumpIfNotNil { offset },
        }
    }

    fn is_conditional(self) -> bool {
        !matches!(self, JumpKind::Forward | JumpKind::Back)
    }
}

enum Item {
    Insn(Insn, u32),
    Jump(JumpKind, Label, u32),
    Bind(Label),
}

#[derive(Default, Clone)]
struct LabelInfo {
    /// Stack depth at the label, once a jump or a binding fixed it.
    depth: Option<u32>,
    bound: bool,
}

/// Collects instructions and labels of one method or block.
#[derive(Default)]
pub struct Assembler {
    items: Vec<Item>,
    labels: Vec<LabelInfo>,
    depth: u32,
    max_depth: u32,
    reachable: bool,
    line: u32,
    problem: Option<String>,
}

/// The finished code of one unit.
pub struct Assembled {
    /// The bytecode.
    pub code: Vec<u8>,
    /// Source lines.
    pub lines: LineTable,
    /// The deepest the stack gets.
    pub max_stack: u32,
}

impl Assembler {
    /// An empty assembler.
    pub fn new() -> Assembler {
        Assembler { reachable: true, ..Assembler::default() }
    }

    /// Sets the source line of the instructions that follow.
    pub fn set_line(&mut self, line: u32) {
        self.line = line;
    }

    /// Whether the next instruction can be reached.
    pub fn is_reachable(&self) -> bool {
        self.reachable
    }

    /// The current operand-stack depth.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    fn note(&mut self, problem: String) {
        if self.problem.is_none() {
            self.problem = Some(problem);
        }
    }

    fn apply(&mut self, pops: u32, pushes: u32) {
        if self.depth < pops {
            self.note(format!("stack underflow: pop {pops} of {}", self.depth));
            self.depth = 0;
        } else {
            self.depth -= pops;
        }
        self.depth += pushes;
        self.max_depth = self.max_depth.max(self.depth);
    }

    /// Emits a non-jump instruction.
    pub fn emit(&mut self, insn: Insn) {
        if !self.reachable {
            return;
        }
        let (pops, pushes) = insn.stack_effect();
        self.apply(pops, pushes);
        if matches!(insn, Insn::Return {} | Insn::ReturnSelf {} | Insn::ReturnNonLocal { .. }) {
            self.reachable = false;
        }
        self.items.push(Item::Insn(insn, self.line));
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(LabelInfo::default());
        Label(self.labels.len() - 1)
    }

    fn merge(&mut self, label: Label, depth: u32) {
        match self.labels[label.0].depth {
            Some(d) if d != depth => self.note(format!("label {} reached with stack depth {d} and {depth}", label.0)),
            _ => self.labels[label.0].depth = Some(depth),
        }
    }

    /// Emits a jump to `label` (a conditional jump pops its condition).
    pub fn jump(&mut self, kind: JumpKind, label: Label) {
        if !self.reachable {
            return;
        }
        if kind.is_conditional() {
            self.apply(1, 0);
        }
        if kind == JumpKind::Back && !self.labels[label.0].bound {
            self.note("backward jump to an unbound label".into());
        }
        if kind != JumpKind::Back && self.labels[label.0].bound {
            self.note("forward jump to a bound label".into());
        }
        self.merge(label, self.depth);
        if !kind.is_conditional() {
            self.reachable = false;
        }
        self.items.push(Item::Jump(kind, label, self.line));
    }

    /// Binds `label` here.
    pub fn bind(&mut self, label: Label) {
        let info = self.labels[label.0].clone();
        if info.bound {
            self.note(format!("label {} bound twice", label.0));
            return;
        }
        if self.reachable {
            self.merge(label, self.depth);
        } else if let Some(d) = info.depth {
            self.depth = d;
            self.reachable = true;
        }
        self.labels[label.0].bound = true;
        self.items.push(Item::Bind(label));
    }

    /// Lays out and encodes the code. Fails only on a code-generator bug.
    pub fn finish(self) -> Result<Assembled, String> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        if self.reachable {
            return Err("code falls off the end".into());
        }
        // Each jump's operand width; grows until every offset fits.
        let mut widths: Vec<usize> = self.items.iter().map(|_| 1).collect();
        let mut positions = vec![0usize; self.items.len()];
        let mut label_pos = vec![0usize; self.labels.len()];
        loop {
            let mut pc = 0;
            for (i, item) in self.items.iter().enumerate() {
                positions[i] = pc;
                pc += match item {
                    Item::Insn(insn, _) => encoded_len(insn),
                    Item::Jump(..) => jump_len(widths[i]),
                    Item::Bind(label) => {
                        label_pos[label.0] = pc;
                        0
                    }
                };
            }
            let mut changed = false;
            for (i, item) in self.items.iter().enumerate() {
                if let Item::Jump(kind, label, _) = item {
                    let end = positions[i] + jump_len(widths[i]);
                    let offset = jump_offset(*kind, end, label_pos[label.0])?;
                    let needed_width = match encoded_len(&kind.insn(offset)) {
                        2 => 1,
                        4 => 2,
                        _ => 4,
                    };
                    if needed_width > widths[i] {
                        widths[i] = needed_width;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut code = Vec::new();
        let mut lines = LineTable::default();
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Insn(insn, line) => {
                    lines.record(code.len() as u32, *line);
                    encode(insn, &mut code);
                }
                Item::Jump(kind, label, line) => {
                    lines.record(code.len() as u32, *line);
                    let end = positions[i] + jump_len(widths[i]);
                    let offset = jump_offset(*kind, end, label_pos[label.0])?;
                    let before = code.len();
                    encode_at_width(&kind.insn(offset), widths[i], &mut code);
                    if code.len() - before != jump_len(widths[i]) {
                        return Err("jump relaxation did not converge".into());
                    }
                }
                Item::Bind(_) => {}
            }
        }
        Ok(Assembled { code, lines, max_stack: self.max_depth })
    }
}

/// The encoded length of a jump with operands `width` bytes wide.
fn jump_len(width: usize) -> usize {
    if width == 1 { 2 } else { 2 + width }
}

fn jump_offset(kind: JumpKind, end: usize, target: usize) -> Result<u32, String> {
    let distance = if kind == JumpKind::Back { end.checked_sub(target) } else { target.checked_sub(end) };
    distance
        .and_then(|d| u32::try_from(d).ok())
        .ok_or_else(|| format!("jump from {end} to {target} goes the wrong way"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::{decode, instructions};

    #[test]
    fn loops_and_branches_encode() {
        let mut a = Assembler::new();
        let head = a.new_label();
        let exit = a.new_label();
        a.bind(head);
        a.emit(Insn::PushTrue {});
        a.jump(JumpKind::IfFalse, exit);
        a.emit(Insn::PushNil {});
        a.emit(Insn::Pop {});
        a.jump(JumpKind::Back, head);
        a.bind(exit);
        a.emit(Insn::ReturnSelf {});
        let out = a.finish().expect("assembles");
        assert_eq!(out.max_stack, 1);
        let d = decode(&out.code, 1).expect("jump");
        assert_eq!(d.insn.jump_target(1, d.len), Some(7));
        let back = decode(&out.code, 5).expect("back");
        assert_eq!(back.insn.jump_target(5, back.len), Some(0));
    }

    #[test]
    fn long_jumps_widen() {
        let mut a = Assembler::new();
        let exit = a.new_label();
        a.emit(Insn::PushTrue {});
        a.jump(JumpKind::IfFalse, exit);
        for _ in 0..300 {
            a.emit(Insn::PushNil {});
            a.emit(Insn::Pop {});
        }
        a.bind(exit);
        a.emit(Insn::ReturnSelf {});
        let out = a.finish().expect("assembles");
        let d = decode(&out.code, 1).expect("jump");
        assert_eq!(d.len, 4);
        assert_eq!(d.insn.jump_target(1, d.len), Some(out.code.len() - 1));
        assert!(instructions(&out.code).all(|r| r.is_ok()));
    }

    #[test]
    fn unreachable_code_is_dropped() {
        let mut a = Assembler::new();
        a.emit(Insn::PushSelf {});
        a.emit(Insn::Return {});
        a.emit(Insn::PushNil {});
        a.emit(Insn::Return {});
        let out = a.finish().expect("assembles");
        assert_eq!(out.code.len(), 2);
    }

    #[test]
    fn mismatched_depths_are_reported() {
        let mut a = Assembler::new();
        let l = a.new_label();
        a.emit(Insn::PushTrue {});
        a.jump(JumpKind::IfFalse, l);
        a.emit(Insn::PushNil {});
        a.bind(l);
        a.emit(Insn::ReturnSelf {});
        assert!(a.finish().is_err());
    }
}
