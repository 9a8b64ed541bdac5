//! The tables inside the metadata sections: namespaces, imports (with the
//! outside objects the image refers to), exports, symbols, relocations and
//! chunk checksums. Each section is self-contained: fixed-size entries,
//! then a pool of UTF-8 names they point into (`StrRef`: offset and length
//! within the pool). All integers are little-endian.
//!
//! ```text
//!  Namespaces  count u32 | list_len u32 | count x 48-byte entries
//!              | list_len x u32 namespace imports | pool
//!    entry     name, version, main (StrRef each; main len 0 = none)
//!              descriptor u64 (file offset of the namespace's descriptor)
//!              exports first u32, count u32 (its range of the export table)
//!              imports first u32, count u32 (its range of the list)
//!    list      bit 31 set: namespace (bits 0..31) of this image; else an
//!              index into the import table
//!
//!  Imports     imports u32 | outside u32 | 0 u64 | imports x 64 bytes
//!              | outside x 32 bytes | pool
//!    import    name, requirement, version linked against (StrRef each)
//!              build_id u64, base u64, span u64, abi u64, 0 u64
//!              (build 0: not an image; every reference is found by name)
//!    outside   import u32, kind u32, name StrRef, offset u64, address u64
//!              kind 1 binding named, 2 value of the binding named,
//!              3 class of that value (a metaclass), 4 object at `offset`
//!              of that exact build; `address` is where this build expects
//!              the object
//!
//!  Exports     count u32 | 0 u32 | count x 24 bytes | pool
//!    entry     namespace u32, kind u32 (1 = binding), name StrRef,
//!              offset u64 of the binding; sorted by (namespace, name)
//!
//!  Symbols     count u32 | 0 u32 | count x 16 bytes
//!    entry     hash u32, length u32, offset u64; sorted by (hash, offset)
//!
//!  Relocations pointers u64 | cells u64 | pointers x u32 | cells x u32
//!              word indices (file offset / 8) of every word holding a
//!              pointer into an image, then of every method cell address
//!
//!  Chunks      one u64 checksum per CHUNK_SIZE bytes of the file up to the
//!              chunks section ("covered"); chunk i covers
//!              [max(i * CHUNK_SIZE, PAGE_SIZE), min((i+1) * CHUNK_SIZE,
//!              covered)) (the first page is the header's, checked by the
//!              header checksum; the chunks section by its own)
//! ```
//!
//! Decoding never panics: a malformed table is an [`ImageError::BadTable`].

use std::ops::Range;

use crate::error::{ImageError, Result};
use crate::section::SectionKind;

/// A namespace an image defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceEntry {
    /// Its name.
    pub name: String,
    /// Its version (semantic versioning).
    pub version: String,
    /// The class `mica run` starts, if any.
    pub main: Option<String>,
    /// File offset of its descriptor object.
    pub descriptor: u64,
    /// Its entries in the export table.
    pub exports: Range<u32>,
    /// What its code imports, in resolution order.
    pub imports: Vec<NamespaceImport>,
}

/// One namespace a namespace imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamespaceImport {
    /// Another namespace of the same (linked) image, by index.
    Internal(u32),
    /// An entry of the import table.
    External(u32),
}

/// A namespace an image needs from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportEntry {
    /// The namespace's name.
    pub name: String,
    /// The version requirement (`^1.0`).
    pub requirement: String,
    /// The version the image was built against.
    pub version: String,
    /// The build it was linked against (0: a namespace with no image; its
    /// objects are always found by name).
    pub build_id: u64,
    /// Where that build prefers to be mapped.
    pub base: u64,
    /// Bytes of address space that build occupies from `base`.
    pub span: u64,
    /// Its object layout hash.
    pub abi: u64,
}

/// How an outside object is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutsideKind {
    /// The global binding of that name.
    Binding,
    /// The value of that binding (a class, nil, true...).
    Value,
    /// The class of that value (a metaclass).
    Metaclass,
    /// The object at a file offset of the exact build linked against.
    Offset,
    /// An object of an object graph's saving program that the graph
    /// shares with the rest of that program (the `offset` field holds its
    /// position in the list the loader is given): bound at load.
    Shared,
}

impl OutsideKind {
    /// The stable code.
    pub const fn code(self) -> u32 {
        match self {
            Self::Binding => 1,
            Self::Value => 2,
            Self::Metaclass => 3,
            Self::Offset => 4,
            Self::Shared => 5,
        }
    }

    /// The kind of a code.
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Self::Binding),
            2 => Some(Self::Value),
            3 => Some(Self::Metaclass),
            4 => Some(Self::Offset),
            5 => Some(Self::Shared),
            _ => None,
        }
    }
}

/// An object of another image (or namespace) that this image refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutsideEntry {
    /// The import it comes from.
    pub import: u32,
    /// How it is named.
    pub kind: OutsideKind,
    /// The global's name (kinds other than `Offset`).
    pub name: String,
    /// The file offset in the imported build (kind `Offset`).
    pub offset: u64,
    /// Where this build expects it: the address every reference to it holds.
    pub address: u64,
}

/// A global binding an image offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportEntry {
    /// The namespace (index in the namespace table).
    pub namespace: u32,
    /// The global's name.
    pub name: String,
    /// File offset of the binding object.
    pub offset: u64,
}

/// A Symbol object of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SymbolEntry {
    /// Its identity hash (a hash of its bytes).
    pub hash: u32,
    /// Its length in bytes.
    pub len: u32,
    /// File offset of the object.
    pub offset: u64,
}

/// Bytes per namespace entry.
const NAMESPACE_ENTRY: usize = 48;
/// Bytes per import entry.
const IMPORT_ENTRY: usize = 64;
/// Bytes per outside entry.
const OUTSIDE_ENTRY: usize = 32;
/// Bytes per export entry.
const EXPORT_ENTRY: usize = 24;
/// Bytes per symbol entry.
const SYMBOL_ENTRY: usize = 16;
/// Export kind code of a binding.
const EXPORT_BINDING: u32 = 1;
/// Marks an internal namespace import.
const INTERNAL_BIT: u32 = 1 << 31;

fn bad(section: SectionKind, detail: impl Into<String>) -> ImageError {
    ImageError::BadTable { section, detail: detail.into() }
}

/// Bounds-checked little-endian reads from a section.
struct Reader<'a> {
    bytes: &'a [u8],
    section: SectionKind,
}

impl<'a> Reader<'a> {
    fn u32(&self, at: usize) -> Result<u32> {
        let b = at.checked_add(4).and_then(|end| self.bytes.get(at..end));
        b.map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .ok_or_else(|| bad(self.section, format!("ends before byte {}", at + 4)))
    }

    fn u64(&self, at: usize) -> Result<u64> {
        let b = at.checked_add(8).and_then(|end| self.bytes.get(at..end));
        b.map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| bad(self.section, format!("ends before byte {}", at + 8)))
    }

    /// The name at `at` (offset and length into the pool at `pool`).
    fn name(&self, at: usize, pool: usize) -> Result<String> {
        let off = self.u32(at)? as usize;
        let len = self.u32(at + 4)? as usize;
        let start = pool.checked_add(off).ok_or_else(|| bad(self.section, "name offset overflows"))?;
        let bytes = start
            .checked_add(len)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| bad(self.section, format!("a name ({len} bytes at pool offset {off}) lies outside it")))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| bad(self.section, "a name is not UTF-8"))
    }

    /// The byte offset `count` entries of `size` from `at`, if in bounds.
    fn after(&self, at: usize, count: u32, size: usize) -> Result<usize> {
        (count as usize)
            .checked_mul(size)
            .and_then(|n| n.checked_add(at))
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| bad(self.section, format!("{count} entries do not fit in {} bytes", self.bytes.len())))
    }
}

/// Builds a pool of names and their references.
#[derive(Default)]
struct Pool(Vec<u8>);

impl Pool {
    fn add(&mut self, name: &str) -> [u8; 8] {
        let off = self.0.len() as u32;
        self.0.extend_from_slice(name.as_bytes());
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&off.to_le_bytes());
        out[4..].copy_from_slice(&(name.len() as u32).to_le_bytes());
        out
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Encodes the namespaces section.
pub fn encode_namespaces(namespaces: &[NamespaceEntry]) -> Vec<u8> {
    let list: Vec<u32> = namespaces
        .iter()
        .flat_map(|n| n.imports.iter())
        .map(|i| match *i {
            NamespaceImport::Internal(n) => n | INTERNAL_BIT,
            NamespaceImport::External(n) => n,
        })
        .collect();
    let mut pool = Pool::default();
    let mut out = Vec::new();
    put_u32(&mut out, namespaces.len() as u32);
    put_u32(&mut out, list.len() as u32);
    let mut first_import = 0u32;
    for n in namespaces {
        out.extend_from_slice(&pool.add(&n.name));
        out.extend_from_slice(&pool.add(&n.version));
        out.extend_from_slice(&pool.add(n.main.as_deref().unwrap_or("")));
        put_u64(&mut out, n.descriptor);
        put_u32(&mut out, n.exports.start);
        put_u32(&mut out, n.exports.end - n.exports.start);
        put_u32(&mut out, first_import);
        put_u32(&mut out, n.imports.len() as u32);
        first_import += n.imports.len() as u32;
    }
    for v in list {
        put_u32(&mut out, v);
    }
    out.extend_from_slice(&pool.0);
    out
}

/// Decodes the namespaces section.
pub fn decode_namespaces(bytes: &[u8]) -> Result<Vec<NamespaceEntry>> {
    let r = Reader { bytes, section: SectionKind::Namespaces };
    let count = r.u32(0)?;
    let list_len = r.u32(4)?;
    let list_at = r.after(8, count, NAMESPACE_ENTRY)?;
    let pool = r.after(list_at, list_len, 4)?;
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let at = 8 + i * NAMESPACE_ENTRY;
        let main = r.name(at + 16, pool)?;
        let (first, n) = (r.u32(at + 32)?, r.u32(at + 36)?);
        let (ifirst, icount) = (r.u32(at + 40)?, r.u32(at + 44)?);
        let exports = first..first.checked_add(n).ok_or_else(|| bad(r.section, "export range overflows"))?;
        if ifirst.checked_add(icount).is_none_or(|end| end > list_len) {
            return Err(bad(r.section, format!("namespace {i} imports entries past the list")));
        }
        let mut imports = Vec::with_capacity(icount as usize);
        for k in ifirst..ifirst + icount {
            let v = r.u32(list_at + 4 * k as usize)?;
            imports.push(if v & INTERNAL_BIT != 0 {
                NamespaceImport::Internal(v & !INTERNAL_BIT)
            } else {
                NamespaceImport::External(v)
            });
        }
        out.push(NamespaceEntry {
            name: r.name(at, pool)?,
            version: r.name(at + 8, pool)?,
            main: (!main.is_empty()).then_some(main),
            descriptor: r.u64(at + 24)?,
            exports,
            imports,
        });
    }
    Ok(out)
}

/// Encodes the imports section.
pub fn encode_imports(imports: &[ImportEntry], outside: &[OutsideEntry]) -> Vec<u8> {
    let mut pool = Pool::default();
    let mut out = Vec::new();
    put_u32(&mut out, imports.len() as u32);
    put_u32(&mut out, outside.len() as u32);
    put_u64(&mut out, 0);
    for i in imports {
        out.extend_from_slice(&pool.add(&i.name));
        out.extend_from_slice(&pool.add(&i.requirement));
        out.extend_from_slice(&pool.add(&i.version));
        for v in [i.build_id, i.base, i.span, i.abi, 0] {
            put_u64(&mut out, v);
        }
    }
    for o in outside {
        put_u32(&mut out, o.import);
        put_u32(&mut out, o.kind.code());
        out.extend_from_slice(&pool.add(&o.name));
        put_u64(&mut out, o.offset);
        put_u64(&mut out, o.address);
    }
    out.extend_from_slice(&pool.0);
    out
}

/// Decodes the imports section.
pub fn decode_imports(bytes: &[u8]) -> Result<(Vec<ImportEntry>, Vec<OutsideEntry>)> {
    let r = Reader { bytes, section: SectionKind::Imports };
    let count = r.u32(0)?;
    let outside_count = r.u32(4)?;
    let outside_at = r.after(16, count, IMPORT_ENTRY)?;
    let pool = r.after(outside_at, outside_count, OUTSIDE_ENTRY)?;
    let mut imports = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let at = 16 + i * IMPORT_ENTRY;
        imports.push(ImportEntry {
            name: r.name(at, pool)?,
            requirement: r.name(at + 8, pool)?,
            version: r.name(at + 16, pool)?,
            build_id: r.u64(at + 24)?,
            base: r.u64(at + 32)?,
            span: r.u64(at + 40)?,
            abi: r.u64(at + 48)?,
        });
    }
    let mut outside = Vec::with_capacity(outside_count as usize);
    for i in 0..outside_count as usize {
        let at = outside_at + i * OUTSIDE_ENTRY;
        let import = r.u32(at)?;
        if import >= count {
            return Err(bad(r.section, format!("outside object {i} names import {import} of {count}")));
        }
        let code = r.u32(at + 4)?;
        let kind = OutsideKind::from_code(code)
            .ok_or_else(|| bad(r.section, format!("outside object {i} has unknown kind {code}")))?;
        outside.push(OutsideEntry {
            import,
            kind,
            name: r.name(at + 8, pool)?,
            offset: r.u64(at + 16)?,
            address: r.u64(at + 24)?,
        });
    }
    Ok((imports, outside))
}

/// Encodes the exports section (sorting the entries by namespace and name).
pub fn encode_exports(exports: &[ExportEntry]) -> Vec<u8> {
    let mut sorted: Vec<&ExportEntry> = exports.iter().collect();
    sorted.sort_by(|a, b| (a.namespace, a.name.as_bytes()).cmp(&(b.namespace, b.name.as_bytes())));
    let mut pool = Pool::default();
    let mut out = Vec::new();
    put_u32(&mut out, sorted.len() as u32);
    put_u32(&mut out, 0);
    for e in sorted {
        put_u32(&mut out, e.namespace);
        put_u32(&mut out, EXPORT_BINDING);
        out.extend_from_slice(&pool.add(&e.name));
        put_u64(&mut out, e.offset);
    }
    out.extend_from_slice(&pool.0);
    out
}

/// The export table in place: entries are read when asked for, so a lookup
/// touches a few pages of a large table.
pub struct Exports<'a> {
    r: Reader<'a>,
    count: u32,
    pool: usize,
}

impl<'a> Exports<'a> {
    /// Checks the section's shape (not every entry).
    pub fn new(bytes: &'a [u8]) -> Result<Exports<'a>> {
        let r = Reader { bytes, section: SectionKind::Exports };
        let count = r.u32(0)?;
        let pool = r.after(8, count, EXPORT_ENTRY)?;
        Ok(Exports { r, count, pool })
    }

    /// Number of entries.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Entry `i`.
    pub fn get(&self, i: u32) -> Result<ExportEntry> {
        if i >= self.count {
            return Err(bad(self.r.section, format!("entry {i} of {}", self.count)));
        }
        let at = 8 + i as usize * EXPORT_ENTRY;
        let kind = self.r.u32(at + 4)?;
        if kind != EXPORT_BINDING {
            return Err(bad(self.r.section, format!("entry {i} has unknown kind {kind}")));
        }
        Ok(ExportEntry {
            namespace: self.r.u32(at)?,
            name: self.r.name(at + 8, self.pool)?,
            offset: self.r.u64(at + 16)?,
        })
    }

    /// Every entry, in order.
    pub fn all(&self) -> Result<Vec<ExportEntry>> {
        (0..self.count).map(|i| self.get(i)).collect()
    }

    /// The binding offset of `name` in namespace `namespace`, by binary
    /// search.
    pub fn find(&self, namespace: u32, name: &str) -> Result<Option<u64>> {
        let key = (namespace, name.as_bytes());
        let (mut lo, mut hi) = (0u32, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.get(mid)?;
            match (e.namespace, e.name.as_bytes()).cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(e.offset)),
            }
        }
        Ok(None)
    }
}

/// Encodes the symbols section (sorting the entries).
pub fn encode_symbols(symbols: &[SymbolEntry]) -> Vec<u8> {
    let mut sorted = symbols.to_vec();
    sorted.sort();
    let mut out = Vec::new();
    put_u32(&mut out, sorted.len() as u32);
    put_u32(&mut out, 0);
    for s in sorted {
        put_u32(&mut out, s.hash);
        put_u32(&mut out, s.len);
        put_u64(&mut out, s.offset);
    }
    out
}

/// The symbol table in place.
pub struct Symbols<'a> {
    r: Reader<'a>,
    count: u32,
}

impl<'a> Symbols<'a> {
    /// Checks the section's shape.
    pub fn new(bytes: &'a [u8]) -> Result<Symbols<'a>> {
        let r = Reader { bytes, section: SectionKind::Symbols };
        let count = r.u32(0)?;
        r.after(8, count, SYMBOL_ENTRY)?;
        Ok(Symbols { r, count })
    }

    /// Number of entries.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Entry `i`.
    pub fn get(&self, i: u32) -> Result<SymbolEntry> {
        let at = 8 + i as usize * SYMBOL_ENTRY;
        Ok(SymbolEntry { hash: self.r.u32(at)?, len: self.r.u32(at + 4)?, offset: self.r.u64(at + 8)? })
    }

    /// The entries with `hash` and length `len`.
    pub fn candidates(&self, hash: u32, len: u32) -> Result<Vec<SymbolEntry>> {
        let (mut lo, mut hi) = (0u32, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid)?.hash < hash {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut out = Vec::new();
        let mut i = lo;
        while i < self.count {
            let e = self.get(i)?;
            if e.hash != hash {
                break;
            }
            if e.len == len {
                out.push(e);
            }
            i += 1;
        }
        Ok(out)
    }
}

/// The word indices of pointers and of method cell addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Relocations {
    /// Words holding a pointer into an image (this one or another).
    pub pointers: Vec<u32>,
    /// Words holding a method cell address (tagged).
    pub cells: Vec<u32>,
}

/// Encodes the relocations section.
pub fn encode_relocations(r: &Relocations) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 4 * (r.pointers.len() + r.cells.len()));
    put_u64(&mut out, r.pointers.len() as u64);
    put_u64(&mut out, r.cells.len() as u64);
    for &w in r.pointers.iter().chain(&r.cells) {
        put_u32(&mut out, w);
    }
    out
}

/// Decodes the relocations section.
pub fn decode_relocations(bytes: &[u8]) -> Result<Relocations> {
    let r = Reader { bytes, section: SectionKind::Relocations };
    let pointers = r.u64(0)?;
    let cells = r.u64(8)?;
    let total = pointers.checked_add(cells).and_then(|n| u32::try_from(n).ok());
    let end = total.map(|n| r.after(16, n, 4));
    match end {
        Some(Ok(end)) if end == bytes.len() => {}
        _ => return Err(bad(r.section, format!("{pointers} + {cells} entries do not fill {} bytes", bytes.len()))),
    }
    let word = |i: usize| r.u32(16 + 4 * i);
    Ok(Relocations {
        pointers: (0..pointers as usize).map(word).collect::<Result<_>>()?,
        cells: (pointers as usize..(pointers + cells) as usize).map(word).collect::<Result<_>>()?,
    })
}

/// Encodes the chunks section.
pub fn encode_chunks(checksums: &[u64]) -> Vec<u8> {
    checksums.iter().flat_map(|c| c.to_le_bytes()).collect()
}

/// Decodes the chunks section of a file whose first `covered` bytes the
/// chunks cover.
pub fn decode_chunks(bytes: &[u8], covered: u64) -> Result<Vec<u64>> {
    let chunks = covered.div_ceil(crate::CHUNK_SIZE);
    if bytes.len() as u64 != chunks * 8 {
        return Err(bad(SectionKind::Chunks, format!("{} bytes for {chunks} chunks of {covered} bytes", bytes.len())));
    }
    Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
}

/// The file range chunk `i` checks, when the chunks cover `covered` bytes.
pub fn chunk_range(i: u64, covered: u64) -> Range<u64> {
    let start = i.saturating_mul(crate::CHUNK_SIZE).max(u64::from(crate::PAGE_SIZE)).min(covered);
    let end = i.saturating_add(1).saturating_mul(crate::CHUNK_SIZE).min(covered).max(start);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_round_trip() {
        let ns = vec![
            NamespaceEntry {
                name: "Geometry".into(),
                version: "1.2.0".into(),
                main: Some("App".into()),
                descriptor: 4096,
                exports: 0..3,
                imports: vec![NamespaceImport::External(0), NamespaceImport::Internal(1)],
            },
            NamespaceEntry {
                name: "Fmt".into(),
                version: "2.0.1".into(),
                main: None,
                descriptor: 4200,
                exports: 3..5,
                imports: vec![],
            },
        ];
        assert_eq!(decode_namespaces(&encode_namespaces(&ns)), Ok(ns));
    }

    #[test]
    fn imports_round_trip_and_bad_indices_are_errors() {
        let imports = vec![ImportEntry {
            name: "Kernel".into(),
            requirement: "^0.1".into(),
            version: "0.1.0".into(),
            build_id: 7,
            base: 0x2000_0000_0000,
            span: 1 << 20,
            abi: 9,
        }];
        let outside = vec![
            OutsideEntry { import: 0, kind: OutsideKind::Value, name: "Array".into(), offset: 0, address: 0x2000 },
            OutsideEntry { import: 0, kind: OutsideKind::Offset, name: String::new(), offset: 4104, address: 0x3000 },
        ];
        let bytes = encode_imports(&imports, &outside);
        assert_eq!(decode_imports(&bytes), Ok((imports.clone(), outside.clone())));
        let mut bad_import = outside.clone();
        bad_import[0].import = 1;
        assert!(matches!(decode_imports(&encode_imports(&imports, &bad_import)), Err(ImageError::BadTable { .. })));
        for len in 0..bytes.len() {
            let _ = decode_imports(&bytes[..len]);
        }
    }

    #[test]
    fn exports_are_found_by_binary_search() {
        let names = ["Zeta", "Alpha", "Mid", "Beta"];
        let exports: Vec<ExportEntry> = names
            .iter()
            .enumerate()
            .map(|(i, n)| ExportEntry { namespace: (i % 2) as u32, name: n.to_string(), offset: 100 + i as u64 })
            .collect();
        let bytes = encode_exports(&exports);
        let table = Exports::new(&bytes).expect("decodes");
        assert_eq!(table.len(), 4);
        for e in &exports {
            assert_eq!(table.find(e.namespace, &e.name), Ok(Some(e.offset)), "{}", e.name);
        }
        assert_eq!(table.find(0, "Alpha"), Ok(None), "Alpha is in namespace 1");
        assert_eq!(table.find(2, "Zeta"), Ok(None));
    }

    #[test]
    fn symbols_are_found_by_hash_and_length() {
        let symbols = vec![
            SymbolEntry { hash: 5, len: 3, offset: 10 },
            SymbolEntry { hash: 1, len: 2, offset: 20 },
            SymbolEntry { hash: 5, len: 4, offset: 30 },
            SymbolEntry { hash: 5, len: 3, offset: 40 },
        ];
        let bytes = encode_symbols(&symbols);
        let table = Symbols::new(&bytes).expect("decodes");
        let found: Vec<u64> = table.candidates(5, 3).expect("reads").iter().map(|e| e.offset).collect();
        assert_eq!(found, [10, 40]);
        assert!(table.candidates(2, 3).expect("reads").is_empty());
    }

    #[test]
    fn relocations_and_chunks_round_trip() {
        let r = Relocations { pointers: vec![512, 513, 900], cells: vec![600] };
        assert_eq!(decode_relocations(&encode_relocations(&r)), Ok(r));
        assert!(decode_relocations(&[0u8; 15]).is_err());
        let mut lying = encode_relocations(&Relocations { pointers: vec![1], cells: vec![] });
        lying[0] = 200;
        assert!(decode_relocations(&lying).is_err());
        let size = 3 * crate::CHUNK_SIZE + 5;
        let sums = vec![1, 2, 3, 4];
        assert_eq!(decode_chunks(&encode_chunks(&sums), size), Ok(sums));
        assert!(decode_chunks(&[0u8; 24], size).is_err());
        assert_eq!(chunk_range(0, size), 4096..crate::CHUNK_SIZE);
        assert_eq!(chunk_range(3, size), 3 * crate::CHUNK_SIZE..size);
    }
}
