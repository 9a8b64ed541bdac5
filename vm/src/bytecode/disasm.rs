//! Disassembler: compiled code to text (a `String`, never printed here).

use std::fmt::Write;

use super::{CodeFlags, CompiledClass, CompiledCode, Literal, OperandKind, instructions};

/// The listing of one method (with its blocks, nested below it).
/// `owner` names the method in the header, e.g. `Hello>>run`.
pub fn disassemble(code: &CompiledCode, owner: &str) -> String {
    let mut out = String::new();
    write_unit(&mut out, code, owner, 0);
    out
}

/// The listing of every method of a class: instance side, then class side.
pub fn disassemble_class(class: &CompiledClass) -> String {
    let mut out = String::new();
    let superclass = class.superclass.as_deref().unwrap_or("nil");
    let _ = writeln!(out, "class {} = {}  ({})", class.name, superclass, class.file);
    let _ = writeln!(out, "  fields: {}", field_list(&class.inherited_fields, &class.fields));
    let _ = writeln!(out, "  class fields: {}", field_list(&class.inherited_class_fields, &class.class_fields));
    for method in &class.methods {
        out.push('\n');
        let name = format!("{}>>{}", class.name, method.selector().unwrap_or("?"));
        write_unit(&mut out, method, &name, 0);
    }
    for method in &class.class_methods {
        out.push('\n');
        let name = format!("{} class>>{}", class.name, method.selector().unwrap_or("?"));
        write_unit(&mut out, method, &name, 0);
    }
    out
}

fn field_list(inherited: &[String], own: &[String]) -> String {
    if inherited.is_empty() && own.is_empty() {
        return "-".to_string();
    }
    let mut parts = Vec::new();
    for (i, name) in inherited.iter().chain(own).enumerate() {
        let mark = if i < inherited.len() { "^" } else { "" };
        parts.push(format!("{i}:{mark}{name}"));
    }
    parts.join(" ")
}

fn write_unit(out: &mut String, code: &CompiledCode, name: &str, depth: usize) {
    let pad = "  ".repeat(depth);
    if code.is_primitive() && !code.has_fallback() {
        let _ = writeln!(out, "{pad}{name}  (line {})  primitive", code.line);
        return;
    }
    let mut flags = Vec::new();
    if code.is_primitive() {
        flags.push("primitive, fallback below");
    }
    if code.flags.contains(CodeFlags::HOME_CONTEXT) {
        flags.push("home-context");
    }
    let _ = writeln!(
        out,
        "{pad}{name}  (line {})  args {}  temps {}  stack {}  ics {}{}",
        code.line,
        code.num_args,
        code.num_temps,
        code.max_stack,
        code.num_ics,
        if flags.is_empty() { String::new() } else { format!("  [{}]", flags.join(" ")) }
    );
    for (i, lit) in code.literals.iter().enumerate() {
        let _ = writeln!(out, "{pad}  #{i:<3} {lit}");
    }
    for item in instructions(&code.code) {
        let (pc, decoded) = match item {
            Ok(x) => x,
            Err(e) => {
                let _ = writeln!(out, "{pad}  ** {e}");
                break;
            }
        };
        let insn = decoded.insn;
        let opcode = insn.opcode();
        let line = code.lines.line_at(pc as u32);
        let mut text = format!("{pad}  {pc:>5}  {line:>4}  {}", opcode.name());
        let operands = insn.operands();
        for (name, value) in opcode.operand_names().iter().zip(operands.as_slice()) {
            let _ = write!(text, " {name}={value}");
        }
        let mut notes = Vec::new();
        for (&kind, &value) in opcode.operand_kinds().iter().zip(operands.as_slice()) {
            match kind {
                OperandKind::Lit => match usize::try_from(value).ok().and_then(|i| code.literals.get(i)) {
                    Some(Literal::Global(g)) => notes.push(g.clone()),
                    Some(Literal::Block(_)) => notes.push(format!("block #{value}")),
                    Some(lit) => notes.push(lit.to_string()),
                    None => notes.push("<bad literal>".to_string()),
                },
                OperandKind::Forward | OperandKind::Backward => {
                    if let Some(target) = insn.jump_target(pc, decoded.len) {
                        notes.push(format!("-> {target}"));
                    }
                }
                _ => {}
            }
        }
        if !notes.is_empty() {
            let width = pad.len() + 52;
            while text.len() < width {
                text.push(' ');
            }
            let _ = write!(text, " ; {}", notes.join(" "));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    for (i, lit) in code.literals.iter().enumerate() {
        if let Literal::Block(block) = lit {
            let block_name = format!("block #{i} of {name}");
            crate::with_stack(|| write_unit(out, block, &block_name, depth + 1));
        }
    }
}
