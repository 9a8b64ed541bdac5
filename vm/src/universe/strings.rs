//! Symbols, Strings and Arrays.

use super::{Result, Universe};
use crate::object::Format;
use crate::value::Value;

impl Universe {
    /// The Symbol for `name` (made, in old space, on first use). Symbols of
    /// mapped images are not in this table: symbols are identical when their
    /// bytes are equal, whichever object holds them.
    pub fn intern(&mut self, name: &str) -> Result<Value> {
        if let Some(&s) = self.symbols.get(name) {
            return Ok(s);
        }
        if let Some(s) = self.image_symbol(name) {
            self.symbols.insert(name.into(), s);
            return Ok(s);
        }
        let sym = self.alloc_old(self.known.symbol, Format::Symbol, name.len())?;
        sym.bytes_mut().copy_from_slice(name.as_bytes());
        sym.set_identity_hash(crate::object::symbol_hash(name.as_bytes()));
        self.symbols.insert(name.into(), sym);
        Ok(sym)
    }

    /// A Symbol with these bytes in a mapped image, found through the
    /// image's symbol table.
    fn image_symbol(&self, name: &str) -> Option<Value> {
        let hash = crate::object::symbol_hash(name.as_bytes());
        for img in &self.images {
            let table = image_format::tables::Symbols::new(img.section(image_format::SectionKind::Symbols)).ok()?;
            for e in table.candidates(hash, name.len() as u32).ok()? {
                if e.offset % 8 != 0 || e.offset + 16 + u64::from(e.len) > img.meta.file_size() {
                    continue;
                }
                let v = Value::from_addr(img.address_of(e.offset));
                if v.format() == Format::Symbol && v.bytes() == name.as_bytes() {
                    return Some(v);
                }
            }
        }
        None
    }

    /// The Symbol for `name`, if it exists.
    pub fn existing_symbol(&self, name: &str) -> Option<Value> {
        self.symbols.get(name).copied().or_else(|| self.image_symbol(name))
    }

    /// A new String (may collect).
    pub fn new_string(&mut self, text: &str) -> Result<Value> {
        self.new_string_bytes(text.as_bytes())
    }

    /// A new String of these bytes (may collect).
    pub fn new_string_bytes(&mut self, bytes: &[u8]) -> Result<Value> {
        let format = if bytes.is_ascii() { Format::Ascii } else { Format::Bytes };
        let s = self.alloc(self.known.string, format, bytes.len())?;
        s.bytes_mut().copy_from_slice(bytes);
        Ok(s)
    }

    /// A new String in old space (literals).
    pub fn new_old_string(&mut self, text: &str) -> Result<Value> {
        let format = if text.is_ascii() { Format::Ascii } else { Format::Bytes };
        let s = self.alloc_old(self.known.string, format, text.len())?;
        s.bytes_mut().copy_from_slice(text.as_bytes());
        Ok(s)
    }

    /// A new Array of `len` nils (may collect).
    pub fn new_array(&mut self, len: usize) -> Result<Value> {
        self.alloc(self.known.array, Format::Array, len)
    }

    /// Whether `v` is a String or Symbol.
    pub fn is_string(&self, v: Value) -> bool {
        v.is_pointer() && matches!(v.format(), Format::Bytes | Format::Ascii | Format::Symbol)
    }

    /// Whether `v` is a Symbol.
    pub fn is_symbol(&self, v: Value) -> bool {
        v.is_pointer() && v.format() == Format::Symbol
    }

    /// The text of a String or Symbol (invalid UTF-8 replaced), or `None`.
    pub fn string_value(&self, v: Value) -> Option<String> {
        if self.is_string(v) { Some(String::from_utf8_lossy(v.bytes()).into_owned()) } else { None }
    }

    /// The text of a String or Symbol, or a description of what it is.
    pub fn text_or_describe(&self, v: Value) -> String {
        self.string_value(v).unwrap_or_else(|| format!("{v:?}"))
    }

    /// Whether `v` is an Array.
    pub fn is_array(&self, v: Value) -> bool {
        v.is_pointer() && v.format() == Format::Array
    }
}
