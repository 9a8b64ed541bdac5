//! Putting an image file together from its parts: the caller supplies the
//! objects (already encoded for the preferred base, at [`OBJECTS_OFFSET`])
//! and the tables; the builder lays out the sections, computes every
//! checksum and the build id, and answers the bytes.

use crate::checksum::fast64;
use crate::header::{CHUNK_SIZE, Flags, Header, PAGE_SIZE};
use crate::layout::{OBJECTS_OFFSET, write_layout};
use crate::section::{ImageOffset, SectionEntry, SectionKind};
use crate::tables::{self, ExportEntry, ImportEntry, NamespaceEntry, OutsideEntry, Relocations, SymbolEntry};

/// Everything an image holds, before layout.
#[derive(Clone, Debug, Default)]
pub struct ImageBuilder {
    /// Header flags.
    pub flags: Flags,
    /// Where the objects were encoded to be mapped.
    pub preferred_base: u64,
    /// Bytes of zeroed runtime memory the image needs after its file.
    pub runtime_size: u64,
    /// The object layout hash.
    pub abi: u64,
    /// The objects section, encoded for `preferred_base`.
    pub objects: Vec<u8>,
    /// The namespaces defined.
    pub namespaces: Vec<NamespaceEntry>,
    /// The namespaces imported.
    pub imports: Vec<ImportEntry>,
    /// The outside objects referred to.
    pub outside: Vec<OutsideEntry>,
    /// The bindings offered.
    pub exports: Vec<ExportEntry>,
    /// The Symbol objects.
    pub symbols: Vec<SymbolEntry>,
    /// Where the pointers and cell addresses are.
    pub relocations: Relocations,
}

fn page_align(n: u64) -> u64 {
    n.next_multiple_of(u64::from(PAGE_SIZE))
}

impl ImageBuilder {
    /// The image file.
    pub fn finish(&self) -> Vec<u8> {
        let bodies: [(SectionKind, Vec<u8>); 6] = [
            (SectionKind::Exports, tables::encode_exports(&self.exports)),
            (SectionKind::Symbols, tables::encode_symbols(&self.symbols)),
            (SectionKind::Namespaces, tables::encode_namespaces(&self.namespaces)),
            (SectionKind::Imports, tables::encode_imports(&self.imports, &self.outside)),
            (SectionKind::Relocations, tables::encode_relocations(&self.relocations)),
            (SectionKind::Chunks, Vec::new()),
        ];
        let mut file = vec![0u8; OBJECTS_OFFSET as usize];
        file.extend_from_slice(&self.objects);
        let mut sections = vec![SectionEntry {
            checksum: fast64(&self.objects),
            ..SectionEntry::new(SectionKind::Objects, ImageOffset::new(OBJECTS_OFFSET), self.objects.len() as u64)
        }];
        for (kind, body) in &bodies[..5] {
            let at = page_align(file.len() as u64);
            file.resize(at as usize, 0);
            file.extend_from_slice(body);
            sections.push(SectionEntry {
                checksum: fast64(body),
                ..SectionEntry::new(*kind, ImageOffset::new(at), body.len() as u64)
            });
        }
        let covered = page_align(file.len() as u64);
        file.resize(covered as usize, 0);
        let chunks: Vec<u64> = (0..covered.div_ceil(CHUNK_SIZE))
            .map(|i| {
                let r = tables::chunk_range(i, covered);
                fast64(&file[r.start as usize..r.end as usize])
            })
            .collect();
        let body = tables::encode_chunks(&chunks);
        file.extend_from_slice(&body);
        sections.push(SectionEntry {
            checksum: fast64(&body),
            ..SectionEntry::new(SectionKind::Chunks, ImageOffset::new(covered), body.len() as u64)
        });
        let mut id = self.preferred_base.to_le_bytes().to_vec();
        for s in &sections[..sections.len() - 1] {
            id.extend_from_slice(&s.checksum.to_le_bytes());
        }
        let mut header = Header::new(self.flags, self.preferred_base, file.len() as u64);
        header.runtime_size = self.runtime_size;
        header.abi = self.abi;
        header.build_id = fast64(&id);
        let head = write_layout(&header, &sections);
        file[..head.len()].copy_from_slice(&head);
        file
    }
}

/// How far below an image's base its runtime area (zeroed memory for
/// method cells) starts: the area ends where the file begins, so cell
/// addresses are known before the file's size is.
pub const fn runtime_below(runtime_size: u64) -> u64 {
    match runtime_size.checked_next_multiple_of(CHUNK_SIZE) {
        Some(n) => n,
        None => u64::MAX,
    }
}

/// Bytes of address space an image occupies, from its runtime area's start:
/// the runtime area and the file, each rounded up to whole chunks.
pub const fn span(file_size: u64, runtime_size: u64) -> u64 {
    match file_size.checked_next_multiple_of(CHUNK_SIZE) {
        Some(f) => runtime_below(runtime_size).saturating_add(f),
        None => u64::MAX,
    }
}

/// Recomputes every checksum of an image edited in place (section
/// checksums, chunk checksums, the header checksum), whatever else is
/// wrong with it; `None` if it is too short to have a section table. For
/// tools and fuzzing: it lets a test reach the checks behind the
/// checksums.
pub fn reseal(image: &[u8]) -> Option<Vec<u8>> {
    use crate::header::HEADER_SIZE;
    use crate::section::SECTION_ENTRY_SIZE;
    let mut out = image.to_vec();
    let count = u32::from_le_bytes(out.get(40..44)?.try_into().ok()?) as usize;
    let table_end = HEADER_SIZE.checked_add(count.checked_mul(SECTION_ENTRY_SIZE)?)?;
    if table_end > out.len() || table_end > PAGE_SIZE as usize {
        return None;
    }
    let entry = |i: usize| HEADER_SIZE + i * SECTION_ENTRY_SIZE;
    let field = |out: &[u8], at: usize| u64::from_le_bytes(out[at..at + 8].try_into().expect("8 bytes"));
    let range = |out: &[u8], i: usize| -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(field(out, entry(i) + 8)).ok()?;
        let end = start.checked_add(usize::try_from(field(out, entry(i) + 16)).ok()?)?;
        (end <= out.len()).then_some(start..end)
    };
    // Chunk checksums first (they cover the other sections).
    for i in 0..count {
        let kind = u32::from_le_bytes(out[entry(i)..entry(i) + 4].try_into().expect("4 bytes"));
        if SectionKind::from_code(kind) != Some(SectionKind::Chunks) {
            continue;
        }
        let Some(r) = range(&out, i) else { continue };
        let covered = r.start as u64;
        let sums: Vec<u64> = (0..covered.div_ceil(CHUNK_SIZE))
            .map(|c| {
                let cr = tables::chunk_range(c, covered);
                fast64(&out[cr.start as usize..cr.end as usize])
            })
            .collect();
        let body = tables::encode_chunks(&sums);
        if body.len() == r.len() {
            out[r].copy_from_slice(&body);
        }
    }
    for i in 0..count {
        if let Some(r) = range(&out, i) {
            let sum = fast64(&out[r]);
            out[entry(i) + 24..entry(i) + 32].copy_from_slice(&sum.to_le_bytes());
        }
    }
    out[48..56].fill(0);
    let sum = crate::layout::layout_checksum(&out[..table_end]);
    out[48..56].copy_from_slice(&sum.to_le_bytes());
    Some(out)
}
