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
    runtime_size.next_multiple_of(CHUNK_SIZE)
}

/// Bytes of address space an image occupies, from its runtime area's start:
/// the runtime area and the file, each rounded up to whole chunks.
pub const fn span(file_size: u64, runtime_size: u64) -> u64 {
    runtime_below(runtime_size) + file_size.next_multiple_of(CHUNK_SIZE)
}
