//! Mini-images on the VM side: encoding heap objects into an image
//! ([`writer`]), mapping images and binding them into the universe
//! ([`loader`]), the deep check of an image file ([`verify`]), linking
//! several images into one ([`link`]), packages built from source
//! ([`package`]) and object graphs saved as images ([`graph`]).
//!
//! The byte layout is the `image-format` crate's; this module knows what
//! the objects mean. See `docs/design/mini-images.md`.

pub mod graph;
pub mod link;
pub mod loader;
pub mod package;
pub mod verify;
pub mod writer;

use std::fmt;

pub use image_format::{ImageMeta, Located};

use crate::universe::NamespaceId;

/// A hash of everything the objects of an image depend on: the object
/// header, formats and VM object shapes, the packed words (method info,
/// header masks, tags, the SmallInteger range, the SmallFloat rotation,
/// code flags), the method cell's size and fields, and the bytecode set.
/// An image built for another ABI is refused.
pub fn abi() -> u64 {
    use crate::layout::*;
    use crate::object::*;
    let mut text = format!(
        "header {HEADER_BYTES} {CLASS_OFFSET} {BITS_OFFSET} {BODY_OFFSET} {FORMAT_SHIFT} {HASH_SHIFT} {SIZE_SHIFT} \
         {FLAG_MARK} {FLAG_FORWARDED} {FLAG_REMEMBERED} {FLAG_IMAGE} \
         class {CLASS_SUPERCLASS} {CLASS_NAME} {CLASS_METHOD_DICT} {CLASS_METHOD_LIST} {CLASS_INSTANCE_FIELDS} \
         {CLASS_SPEC} {CLASS_COMPANION} {CLASS_NAMESPACE} {CLASS_FIXED_FIELDS} \
         method {METHOD_SELECTOR} {METHOD_HOLDER} {METHOD_LITERALS} {METHOD_BYTECODE} {METHOD_INFO} \
         {METHOD_NUM_ICS} {METHOD_LINES} {METHOD_CELL} {METHOD_OUTER} {METHOD_LINE} {METHOD_FILE} {METHOD_NAMES} {METHOD_SIZE} \
         closure {CLOSURE_CODE} {CLOSURE_RECEIVER} {CLOSURE_CONTEXT} context {CONTEXT_PARENT} {CONTEXT_HOME_FRAME} \
         binding {BINDING_KEY} {BINDING_VALUE} cell {} tags {} {} {} {} floats rotated formats",
        crate::runtime::METHOD_CELL_BYTES,
        crate::value::TAG_INT,
        crate::value::TAG_CHARACTER,
        crate::value::TAG_FLOAT,
        crate::value::TAG_SPECIAL,
    );
    // The packed words and the immediates: how their bits are laid out.
    {
        use crate::bytecode::CodeFlags;
        use crate::runtime::code_cell;
        use crate::value::*;
        text.push_str(&format!(
            " words {WORD_BYTES} masks {FLAGS_MASK} {HASH_MASK} {TAG_MASK} {TAG_POINTER} \
             ints {SMALL_INT_MIN} {SMALL_INT_MAX} floats {FLOAT_BIAS} {FLOAT_LOWEST} {FLOAT_SPAN} \
             info {METHOD_INFO_ARGS_SHIFT} {METHOD_INFO_TEMPS_SHIFT} {METHOD_INFO_STACK_SHIFT} \
             {METHOD_INFO_FLAGS_SHIFT} {METHOD_INFO_MAX_COUNT} sizes {CLOSURE_SIZE} {CONTEXT_FIXED} {BINDING_SIZE} \
             code flags {} {} {} {} {} {} cell offsets {} {} {} {} {} {} {} {}",
            CodeFlags::PRIMITIVE.bits(),
            CodeFlags::HOME_CONTEXT.bits(),
            CodeFlags::HANDLER.bits(),
            CodeFlags::UNWIND.bits(),
            CodeFlags::HANDLING.bits(),
            CodeFlags::HIDDEN.bits(),
            code_cell::CODE,
            code_cell::RUNTIME,
            code_cell::NUM_ARGS,
            code_cell::NUM_TEMPS,
            code_cell::MAX_STACK,
            code_cell::PRIMITIVE,
            code_cell::TRIVIAL,
            code_cell::CONSTANT,
        ));
    }
    for bits in 0..16u8 {
        if let Some(f) = Format::from_bits(bits) {
            text.push_str(&format!(" {f:?}={bits}"));
        }
    }
    for (i, op) in crate::bytecode::Opcode::ALL.iter().enumerate() {
        text.push_str(&format!(" {}:{}:{}", op.name(), op.byte(), crate::bytecode::OPERAND_COUNTS[i]));
    }
    image_format::fast64(text.as_bytes())
}

/// Builds the kernel image: the kernel compiled from its sources, written
/// for the kernel's base. (The `mica` build runs this and carries the
/// result in the binary.)
pub fn build_kernel_image() -> std::result::Result<Vec<u8>, String> {
    let mut u = crate::universe::Universe::new(Default::default())?;
    let kernel = writer::EmitNamespace::of(&mut u, NamespaceId::KERNEL);
    let spec = writer::WriteSpec {
        namespaces: vec![kernel],
        requirements: Default::default(),
        base: image_format::window::KERNEL_BASE,
        flags: image_format::Flags::empty(),
        shared: Default::default(),
    };
    writer::write(&mut u, &spec)
}

/// Why an image could not be built, loaded or checked: the file and the
/// problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageError {
    /// The file (or image) concerned.
    pub file: String,
    /// What is wrong.
    pub problem: String,
}

impl ImageError {
    /// An error about `file`.
    pub fn new(file: impl Into<String>, problem: impl Into<String>) -> ImageError {
        ImageError { file: file.into(), problem: problem.into() }
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.problem)
    }
}

impl std::error::Error for ImageError {}

/// The result of image operations.
pub type Result<T> = std::result::Result<T, ImageError>;

/// An image mapped into the running program.
#[derive(Debug)]
pub struct LoadedImage {
    /// Where it came from (a path, or `<kernel>`).
    pub name: String,
    /// Its metadata.
    pub meta: ImageMeta,
    /// Where it is mapped.
    pub base: usize,
    /// Where its runtime area (method cells) starts.
    pub runtime_start: usize,
    /// Whether it had to be relocated (it could not be mapped at its
    /// preferred base, or an import was not the build it was linked
    /// against).
    pub relocated: bool,
    /// Its namespaces, in the order of its namespace table.
    pub namespaces: Vec<NamespaceId>,
    /// The mapping (kept for the process's lifetime).
    pub mapping: image_format::map::Mapped,
}

impl LoadedImage {
    /// Whether `addr` lies in the image's file mapping.
    pub fn contains(&self, addr: usize) -> bool {
        addr >= self.base && addr < self.base + self.meta.file_size() as usize
    }

    /// The address the object at file offset `offset` has.
    pub fn address_of(&self, offset: u64) -> usize {
        self.base + offset as usize
    }

    /// Where `addr` would be if the image were at its preferred base.
    pub fn preferred_address(&self, addr: usize) -> u64 {
        self.meta.layout.header.preferred_base + (addr - self.base) as u64
    }

    /// The image's build id.
    pub fn build_id(&self) -> u64 {
        self.meta.layout.header.build_id
    }

    /// The bytes of a section, in the mapping (touching them verifies the
    /// chunks they lie in).
    pub fn section(&self, kind: image_format::SectionKind) -> &'static [u8] {
        let s = self.meta.layout.section(kind);
        // SAFETY: the section lies inside the file mapping (the layout was
        // checked against the file size), which stays mapped for the
        // process's lifetime; the slice is only read.
        unsafe { std::slice::from_raw_parts((self.base + s.file_offset.get() as usize) as *const u8, s.size as usize) }
    }
}

/// Memory figures of the mapped images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageMemory {
    /// Images loaded.
    pub images: usize,
    /// Bytes of image files mapped.
    pub mapped: u64,
    /// Bytes of them resident in memory (read at least once).
    pub resident: u64,
    /// Bytes of them written (pages copied on write).
    pub dirty: u64,
    /// Image objects the program wrote into.
    pub written_objects: usize,
}

/// The process's resident memory in bytes (`VmRSS` of
/// `/proc/self/status`; 0 where that is not available).
pub fn process_resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok());
    kb.unwrap_or(0u64) * 1024
}

/// How much of the mapped images is resident and how much was written,
/// from the kernel's account of the process's mappings
/// (`/proc/self/smaps`; zero where that is not available).
pub fn memory(u: &crate::universe::Universe) -> ImageMemory {
    let ranges: Vec<(usize, usize)> = u.images.iter().map(|i| (i.base, i.base + i.meta.file_size() as usize)).collect();
    let mut m = ImageMemory {
        images: u.images.len(),
        mapped: ranges.iter().map(|(a, b)| (b - a) as u64).sum(),
        written_objects: u.heap.written_image_objects(),
        ..Default::default()
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else { return m };
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-')
            && let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
        {
            inside = ranges.iter().any(|&(a, b)| lo < b && hi > a);
            continue;
        }
        if !inside {
            continue;
        }
        let kb = |l: &str| l.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0) * 1024;
        if line.starts_with("Rss:") {
            m.resident += kb(line);
        } else if line.starts_with("Anonymous:") {
            // Pages of a private file mapping become anonymous when they are
            // written (copied on write); file pages freshly written to disk
            // may count as dirty without being written here, so "dirty" is
            // not the measure.
            m.dirty += kb(line);
        }
    }
    m
}
