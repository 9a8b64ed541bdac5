//! The deep check of an image file (`mica verify`): every checksum, every
//! object header, every reference, every table and every method's bytecode.
//!
//! It works on the file's bytes alone (no universe, nothing mapped for
//! execution): pointers are read as the image encodes them, for its
//! preferred base; a reference must land on the start of one of its own
//! objects or on an outside object its import table names.

use std::collections::{HashMap, HashSet};

use image_format::tables::{Exports, OutsideKind, Symbols, decode_relocations};
use image_format::{ImageMeta, OBJECTS_OFFSET, SectionKind};

use super::{ImageError, Result};
use crate::bytecode::{CodeFlags, CodeKind, CompiledCode, LineTable, Literal};
use crate::layout::*;
use crate::object::{FLAG_IMAGE, FLAGS_MASK, Format, HEADER_WORDS, symbol_hash};
use crate::runtime::METHOD_CELL_BYTES;
use crate::value::{TAG_CHARACTER, TAG_MASK, TAG_POINTER, TAG_SPECIAL, Value};

/// What `verify` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Objects checked.
    pub objects: usize,
    /// Methods whose bytecode was verified.
    pub methods: usize,
    /// References checked.
    pub references: usize,
    /// Problems, each naming where (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<String>,
}

/// Problems reported before the check stops listing them.
pub const MAX_PROBLEMS: usize = 20;

#[derive(Clone, Copy)]
struct Obj {
    offset: u64,
    format: Format,
    size: usize,
}

enum Target {
    Inside(usize),
    Outside(usize),
}

struct Checker<'a> {
    bytes: &'a [u8],
    meta: &'a ImageMeta,
    base: u64,
    objects: Vec<Obj>,
    outside: HashMap<u64, usize>,
    report: Report,
}

impl Checker<'_> {
    fn problem(&mut self, text: String) {
        if self.report.problems.len() < MAX_PROBLEMS {
            self.report.problems.push(text);
        }
    }

    fn word(&self, offset: u64) -> u64 {
        let at = offset as usize;
        u64::from_le_bytes(self.bytes[at..at + 8].try_into().expect("8 bytes"))
    }

    fn slot(&self, o: Obj, i: usize) -> u64 {
        self.word(o.offset + 8 * (HEADER_WORDS + i) as u64)
    }

    fn target(&self, p: u64) -> Option<Target> {
        if let Some(&i) = self.outside.get(&p) {
            return Some(Target::Outside(i));
        }
        let offset = p.checked_sub(self.base)?;
        self.objects.binary_search_by_key(&offset, |o| o.offset).ok().map(Target::Inside)
    }

    fn inside(&self, p: u64) -> Option<Obj> {
        match self.target(p) {
            Some(Target::Inside(i)) => Some(self.objects[i]),
            _ => None,
        }
    }

    /// The name of the class at `p`: its own name, or the name it is
    /// imported by.
    fn class_name(&self, p: u64) -> Option<String> {
        match self.target(p)? {
            Target::Outside(i) => Some(self.meta.outside[i].name.clone()),
            Target::Inside(i) => {
                let o = self.objects[i];
                if o.format != Format::Class || o.size < CLASS_FIXED_FIELDS {
                    return None;
                }
                self.text(self.slot(o, CLASS_NAME))
            }
        }
    }

    fn text(&self, p: u64) -> Option<String> {
        let o = self.inside(p)?;
        if !matches!(o.format, Format::Symbol | Format::Bytes | Format::Ascii) {
            return None;
        }
        let start = (o.offset + 16) as usize;
        String::from_utf8(self.bytes[start..start + o.size].to_vec()).ok()
    }

    fn is_nil(&self, p: u64) -> bool {
        matches!(self.target(p), Some(Target::Outside(i)) if self.meta.outside[i].name == "nil" && self.meta.outside[i].kind == OutsideKind::Value)
            || self.inside(p).is_some_and(|o| {
                o.format == Format::Fields
                    && o.size == 0
                    && self.class_name(self.word(o.offset)).as_deref() == Some("Nil")
            })
    }

    fn class_of_is(&self, o: Obj, name: &str) -> bool {
        self.class_name(self.word(o.offset)).as_deref() == Some(name)
    }
}

/// Checks `image`, an image file's bytes; `name` appears in messages. The
/// error is for damage that stops the check; other problems are listed in
/// the report.
pub fn verify_image(image: &[u8], name: &str) -> Result<Report> {
    let err = |e: image_format::ImageError| ImageError::new(name, e.to_string());
    let meta = ImageMeta::parse(image).map_err(err)?;
    meta.verify_sections(image).map_err(err)?;
    meta.verify_chunks(image).map_err(err)?;
    if meta.layout.header.abi != super::abi() {
        return Err(ImageError::new(name, "it was built by a Mica with another object layout or bytecode set"));
    }
    let objects_section = meta.layout.section(SectionKind::Objects);
    let end = objects_section.file_offset.get() + objects_section.size;
    let mut c = Checker {
        bytes: image,
        meta: &meta,
        base: meta.layout.header.preferred_base,
        objects: Vec::new(),
        outside: HashMap::new(),
        report: Report::default(),
    };
    for (i, o) in meta.outside.iter().enumerate() {
        if o.address % 8 != 0 || c.outside.insert(o.address, i).is_some() {
            c.problem(format!("outside object {i} ({}) has a bad or repeated address {:#x}", o.name, o.address));
        }
        if !matches!(o.kind, OutsideKind::Offset | OutsideKind::Shared) && o.name.is_empty() {
            c.problem(format!("outside object {i} has no name"));
        }
    }
    for (i, imp) in meta.imports.iter().enumerate() {
        if semver::VersionReq::parse(&imp.requirement).is_err() {
            c.problem(format!("import {i} ({}) has a bad requirement {:?}", imp.name, imp.requirement));
        }
    }
    // Pass 1: headers, sizes, object starts.
    let mut at = OBJECTS_OFFSET;
    while at < end {
        if at + 16 > end {
            c.problem(format!("the object at {at:#x} is cut off by the end of the objects section"));
            break;
        }
        let bits = c.word(at + 8);
        let format = Format::from_bits(((bits >> 4) & 0xf) as u8);
        let Some(format) = format.filter(|f| *f != Format::Free) else {
            c.problem(format!("the object at {at:#x} has a bad format"));
            break;
        };
        if bits & FLAGS_MASK != FLAG_IMAGE {
            c.problem(format!(
                "the object at {at:#x} has flags {:#x} (an image object has only IMAGE)",
                bits & FLAGS_MASK
            ));
        }
        let size = (bits >> 32) as usize;
        let next = at.checked_add(8 * (HEADER_WORDS + format.body_words(size)) as u64);
        let Some(next) = next.filter(|n| *n <= end) else {
            c.problem(format!("the object at {at:#x} ({size} {format:?} units) overruns the objects section"));
            break;
        };
        c.objects.push(Obj { offset: at, format, size });
        at = next;
    }
    c.report.objects = c.objects.len();
    // Pass 2: references.
    let header = &meta.layout.header;
    let cells_start = c.base.saturating_sub(image_format::runtime_below(header.runtime_size));
    let cells_end = cells_start.saturating_add(header.runtime_size);
    let mut pointer_words = Vec::new();
    let mut cell_words = Vec::new();
    let mut cells_seen = HashSet::new();
    for index in 0..c.objects.len() {
        let o = c.objects[index];
        let class = c.word(o.offset);
        pointer_words.push((o.offset / 8) as u32);
        match c.target(class) {
            Some(Target::Inside(i)) if c.objects[i].format == Format::Class => {}
            Some(Target::Outside(i)) if c.meta.outside[i].kind != OutsideKind::Binding => {}
            _ => c.problem(format!("the object at {:#x} has a bad class reference {class:#x}", o.offset)),
        }
        if o.format.has_pointers() {
            let binding = c.class_of_is(o, "GlobalBinding");
            for i in 0..o.size {
                let w = c.slot(o, i);
                let word_index = ((o.offset + 8 * (HEADER_WORDS + i) as u64) / 8) as u32;
                if o.format == Format::Method && i == METHOD_CELL {
                    let cell = w & !1;
                    if w & 1 == 0
                        || !(cells_start..cells_end).contains(&cell)
                        || !(cell - cells_start).is_multiple_of(METHOD_CELL_BYTES as u64)
                        || !cells_seen.insert(cell)
                    {
                        c.problem(format!("the method at {:#x} has a bad cell address {w:#x}", o.offset));
                    }
                    cell_words.push(word_index);
                    continue;
                }
                let v = Value::from_bits(w);
                match w & TAG_MASK {
                    TAG_POINTER => {
                        c.report.references += 1;
                        pointer_words.push(word_index);
                        if c.target(w).is_none() {
                            c.problem(format!("slot {i} of the object at {:#x} points nowhere ({w:#x})", o.offset));
                        }
                    }
                    TAG_SPECIAL if !(v == Value::UNBOUND && binding && i == BINDING_VALUE) => {
                        c.problem(format!("slot {i} of the object at {:#x} holds a VM-internal value", o.offset));
                    }
                    TAG_CHARACTER if char::from_u32((w >> 3) as u32).is_none() => {
                        c.problem(format!("slot {i} of the object at {:#x} holds a bad Character", o.offset));
                    }
                    _ => {}
                }
            }
        } else {
            let start = (o.offset + 16) as usize;
            let bytes = &image[start..start + o.size];
            match o.format {
                Format::Symbol => {
                    if std::str::from_utf8(bytes).is_err() {
                        c.problem(format!("the Symbol at {:#x} is not UTF-8", o.offset));
                    }
                    let hash = ((c.word(o.offset + 8) >> 8) & 0xff_ffff) as u32;
                    if hash != symbol_hash(bytes) {
                        c.problem(format!("the Symbol at {:#x} has the wrong hash", o.offset));
                    }
                }
                Format::Ascii if !bytes.is_ascii() => {
                    c.problem(format!("the ASCII String at {:#x} holds other bytes", o.offset));
                }
                Format::Double if o.size != 8 => c.problem(format!("the Double at {:#x} is not 8 bytes", o.offset)),
                Format::LargeInt if o.size < 2 || bytes[0] > 1 => {
                    c.problem(format!("the LargeInteger at {:#x} is malformed", o.offset));
                }
                _ => {}
            }
        }
    }
    // The relocation table lists exactly the pointers and cells.
    let relocations = meta
        .layout
        .section_bytes(image, SectionKind::Relocations)
        .ok_or_else(|| ImageError::new(name, "relocations section missing"))
        .and_then(|b| decode_relocations(b).map_err(err))?;
    let (mut listed_p, mut listed_c) = (relocations.pointers.clone(), relocations.cells.clone());
    listed_p.sort_unstable();
    listed_c.sort_unstable();
    pointer_words.sort_unstable();
    cell_words.sort_unstable();
    if listed_p != pointer_words {
        c.problem(format!(
            "the relocation table lists {} pointer words, the objects hold {}",
            listed_p.len(),
            pointer_words.len()
        ));
    }
    if listed_c != cell_words {
        c.problem("the relocation table's method cells differ from the methods'".into());
    }
    check_tables(&mut c, image, name)?;
    check_methods(&mut c);
    Ok(c.report)
}

fn check_tables(c: &mut Checker, image: &[u8], name: &str) -> Result<()> {
    let err = |e: image_format::ImageError| ImageError::new(name, e.to_string());
    let meta = c.meta;
    let exports_bytes = meta.layout.section_bytes(image, SectionKind::Exports).unwrap_or_default();
    let exports = Exports::new(exports_bytes).map_err(err)?;
    let all = exports.all().map_err(err)?;
    for pair in all.windows(2) {
        if (pair[0].namespace, pair[0].name.as_bytes()) >= (pair[1].namespace, pair[1].name.as_bytes()) {
            c.problem(format!("exports {} and {} are out of order or repeated", pair[0].name, pair[1].name));
        }
    }
    for e in &all {
        let Some(o) = c.inside(c.base.wrapping_add(e.offset)) else {
            c.problem(format!("export {} does not point to an object", e.name));
            continue;
        };
        if !c.class_of_is(o, "GlobalBinding") || o.size != BINDING_SIZE {
            c.problem(format!("export {} is not a global binding", e.name));
        } else if c.text(c.slot(o, BINDING_KEY)).as_deref() != Some(e.name.as_str()) {
            c.problem(format!("export {} names a binding of another name", e.name));
        }
        if e.namespace as usize >= meta.namespaces.len() {
            c.problem(format!("export {} belongs to namespace {}, which does not exist", e.name, e.namespace));
        }
    }
    let mut next = 0;
    for (i, ns) in meta.namespaces.iter().enumerate() {
        if ns.exports.start != next || ns.exports.end as usize > all.len() {
            c.problem(format!("namespace {} has a bad export range", ns.name));
        }
        next = ns.exports.end;
        if all
            .get(ns.exports.start as usize..ns.exports.end as usize)
            .is_some_and(|r| r.iter().any(|e| e.namespace as usize != i))
        {
            c.problem(format!("namespace {}'s export range holds another namespace's exports", ns.name));
        }
        match c.inside(c.base.wrapping_add(ns.descriptor)) {
            Some(o) if o.format == Format::Array && o.size == 2 => {}
            _ => c.problem(format!("namespace {} has a bad descriptor", ns.name)),
        }
        for imp in &ns.imports {
            let ok = match *imp {
                image_format::tables::NamespaceImport::Internal(k) => (k as usize) < meta.namespaces.len(),
                image_format::tables::NamespaceImport::External(k) => (k as usize) < meta.imports.len(),
            };
            if !ok {
                c.problem(format!("namespace {} imports a namespace that does not exist", ns.name));
            }
        }
    }
    if next as usize != all.len() {
        c.problem("some exports belong to no namespace".into());
    }
    let symbols_bytes = meta.layout.section_bytes(image, SectionKind::Symbols).unwrap_or_default();
    let symbols = Symbols::new(symbols_bytes).map_err(err)?;
    for i in 0..symbols.len() {
        let e = symbols.get(i).map_err(err)?;
        match c.inside(c.base.wrapping_add(e.offset)) {
            Some(o) if o.format == Format::Symbol && o.size == e.len as usize => {
                let hash = ((c.word(o.offset + 8) >> 8) & 0xff_ffff) as u32;
                if hash != e.hash {
                    c.problem(format!("symbol table entry {i} has the wrong hash"));
                }
            }
            _ => c.problem(format!("symbol table entry {i} does not point to a Symbol of its length")),
        }
    }
    Ok(())
}

/// Rebuilds the compiled form of every method (with its blocks) and runs
/// the bytecode verifier on it.
fn check_methods(c: &mut Checker) {
    for index in 0..c.objects.len() {
        let o = c.objects[index];
        if o.format != Format::Method {
            continue;
        }
        if o.size != METHOD_SIZE {
            c.problem(format!("the method at {:#x} has {} slots, not {METHOD_SIZE}", o.offset, o.size));
            continue;
        }
        if !c.is_nil(c.slot(o, METHOD_OUTER)) {
            continue; // a block: checked with its method
        }
        let holder = c.slot(o, METHOD_HOLDER);
        let fields = match c.inside(holder) {
            Some(h) if h.format == Format::Class && h.size >= CLASS_FIXED_FIELDS => {
                let spec = Value::from_bits(c.slot(h, CLASS_SPEC));
                if !spec.is_int() {
                    c.problem(format!("the class holding the method at {:#x} has a bad spec", o.offset));
                    continue;
                }
                (spec.int_value() >> 8) as u32
            }
            _ => {
                c.problem(format!("the method at {:#x} is not held by a class of the image", o.offset));
                continue;
            }
        };
        match decompile(c, o, 0) {
            Ok(code) => match crate::bytecode::verify_method(&code, fields) {
                Ok(()) => c.report.methods += 1,
                Err(e) => c.problem(format!("the method at {:#x}: {e}", o.offset)),
            },
            Err(e) => c.problem(format!("the method at {:#x}: {e}", o.offset)),
        }
    }
}

/// The compiled form of the method object `o`.
fn decompile(c: &Checker, o: Obj, depth: usize) -> std::result::Result<CompiledCode, String> {
    if depth > 1000 {
        return Err("blocks nested too deeply".into());
    }
    if o.format != Format::Method || o.size != METHOD_SIZE {
        return Err("a block literal is not a method object".into());
    }
    let int = |i: usize| {
        let v = Value::from_bits(c.slot(o, i));
        if v.is_int() { Ok(v.int_value()) } else { Err(format!("slot {i} is not a SmallInteger")) }
    };
    let info = int(METHOD_INFO)?;
    let selector = c.slot(o, METHOD_SELECTOR);
    let kind = if c.is_nil(selector) {
        CodeKind::Block
    } else {
        CodeKind::Method { selector: c.text(selector).ok_or("the selector is not a Symbol")? }
    };
    let code_obj =
        c.inside(c.slot(o, METHOD_BYTECODE)).filter(|b| b.format == Format::ByteArray).ok_or("no bytecode")?;
    let start = (code_obj.offset + 16) as usize;
    let code = c.bytes[start..start + code_obj.size].to_vec();
    let literals_obj =
        c.inside(c.slot(o, METHOD_LITERALS)).filter(|l| l.format == Format::Array).ok_or("no literal Array")?;
    let mut literals = Vec::with_capacity(literals_obj.size);
    for i in 0..literals_obj.size {
        literals.push(literal(c, c.slot(literals_obj, i), depth)?);
    }
    let mut lines = LineTable::default();
    lines.record(0, int(METHOD_LINE)? as u32);
    Ok(CompiledCode {
        kind,
        num_args: method_info_counts(info).0 as u32,
        num_temps: method_info_counts(info).1 as u32,
        max_stack: method_info_counts(info).2 as u32,
        num_ics: u32::try_from(int(METHOD_NUM_ICS)?).map_err(|_| "bad inline-cache count")?,
        flags: CodeFlags::from_bits((info >> METHOD_INFO_FLAGS_SHIFT) as u8),
        code,
        literals,
        lines,
        line: int(METHOD_LINE)? as u32,
        names: Vec::new(),
    })
}

fn literal(c: &Checker, w: u64, depth: usize) -> std::result::Result<Literal, String> {
    let v = Value::from_bits(w);
    if v.is_int() {
        return Ok(Literal::Integer(v.int_value()));
    }
    if v.is_small_float() {
        return Ok(Literal::Double(v.small_float_value()));
    }
    if let Some(ch) = v.as_char() {
        return Ok(Literal::Character(ch));
    }
    if !v.is_pointer() {
        return Err("a literal holds a VM-internal value".into());
    }
    match c.target(w) {
        None => Err("a literal points nowhere".into()),
        Some(Target::Outside(i)) => {
            let e = &c.meta.outside[i];
            Ok(match (e.kind, e.name.as_str()) {
                (OutsideKind::Binding, name) => Literal::Global(name.to_string()),
                (OutsideKind::Value, "nil") => Literal::Nil,
                (OutsideKind::Value, "true") => Literal::True,
                (OutsideKind::Value, "false") => Literal::False,
                _ => Literal::Nil,
            })
        }
        Some(Target::Inside(i)) => {
            let o = c.objects[i];
            Ok(match o.format {
                Format::Symbol => Literal::Symbol(c.text(w).ok_or("a Symbol literal is not UTF-8")?),
                Format::Bytes | Format::Ascii => Literal::String(c.text(w).unwrap_or_default()),
                Format::Double if o.size == 8 => Literal::Double(f64::from_bits(c.slot(o, 0))),
                Format::LargeInt => Literal::LargeInteger("0".into()),
                Format::Array => {
                    let mut items = Vec::with_capacity(o.size);
                    for k in 0..o.size {
                        items.push(literal(c, c.slot(o, k), depth + 1)?);
                    }
                    Literal::Array(items)
                }
                Format::Method => Literal::Block(Box::new(decompile(c, o, depth + 1)?)),
                Format::Fields if c.class_of_is(o, "GlobalBinding") => {
                    Literal::Global(c.text(c.slot(o, BINDING_KEY)).ok_or("a binding has no name")?)
                }
                _ => Literal::Nil,
            })
        }
    }
}
