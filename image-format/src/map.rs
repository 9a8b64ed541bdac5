//! Mapping images for execution, with lazy verification.
//!
//! An image is mapped copy-on-write (`MAP_PRIVATE`) at its preferred base
//! when that range is free (`MAP_FIXED_NOREPLACE`), so that the pointers
//! inside it hold as they are; otherwise wherever the system puts it, and
//! the caller relocates it. Below the file lies its runtime area: zeroed
//! anonymous memory for method cells. (memmap2, which the read-only tools
//! use, cannot place a mapping at an address, which this needs; so this
//! module calls `mmap` itself.)
//!
//! **Lazy verification.** The file is mapped with no access at all. The
//! first touch of a chunk ([`CHUNK_SIZE`] bytes) faults; a `SIGSEGV`
//! handler finds the chunk, opens it (`mprotect`), checks it against its
//! checksum and returns, and the touching instruction runs again. A chunk
//! that does not match ends the process with a message naming the image
//! and the bytes: damaged data is never used, and loading still reads
//! nothing but the header and tables. (macOS checks code-signature page
//! hashes the same way, at page-in.) Faults elsewhere go to the handler
//! that was installed before (Rust's stack-overflow handler, or the
//! default).
//!
//! The handler is async-signal-safe: it reads a list of regions published
//! through an atomic pointer (lists are never freed), calls `mprotect`,
//! computes a checksum, and at worst `write`s and `_exit`s.

use std::ffi::c_void;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Mutex, Once, OnceLock};

use crate::checksum::fast64;
use crate::error::{ImageError, Result};
use crate::file::{ImageMeta, Located};
use crate::header::{CHUNK_SIZE, PAGE_SIZE};
use crate::tables::chunk_range;

/// An image mapped for execution. Images stay mapped until the process
/// ends (or [`Mapped::unmap`] for one whose loading failed).
#[derive(Debug)]
pub struct Mapped {
    /// Where it is mapped.
    pub base: usize,
    /// Whether that is its preferred base (if not, it must be relocated).
    pub at_preferred: bool,
    /// Bytes of the image file.
    pub file_size: usize,
    /// Where its runtime area starts (below `base`; the reservation starts
    /// here too).
    pub runtime_start: usize,
    /// Bytes of address space reserved from `runtime_start`.
    pub span: usize,
    /// Whether chunks are verified on first touch (else all were verified).
    pub lazy: bool,
    region: Option<&'static Region>,
}

/// A mapped image as the fault handler sees it.
#[derive(Debug)]
struct Region {
    start: usize,
    /// End of the file mapping (page-rounded).
    file_end: usize,
    /// The chunk checksums cover file bytes up to here.
    covered: u64,
    chunks: &'static [u64],
    verified: &'static [AtomicBool],
    /// "mica: image NAME " for messages.
    prefix: &'static [u8],
    retired: AtomicBool,
}

struct RegionList(Vec<&'static Region>);

static REGIONS: AtomicPtr<RegionList> = AtomicPtr::new(std::ptr::null_mut());
static REGISTRY: Mutex<()> = Mutex::new(());
static INSTALL: Once = Once::new();
/// The handlers installed before ours (SIGSEGV, SIGBUS), read before ours
/// is installed.
static PREVIOUS: OnceLock<[Option<libc::sigaction>; 2]> = OnceLock::new();

fn os_error(what: &str) -> ImageError {
    ImageError::Io { detail: format!("{what}: {}", std::io::Error::last_os_error()) }
}

/// Maps the image `at` in `file` (metadata `meta`). With `lazy`, chunks are
/// verified when first touched; otherwise all are verified now (and the
/// image is readable at once). `name` appears in messages.
pub fn map_image(file: &File, at: Located, meta: &ImageMeta, name: &str, lazy: bool) -> Result<Mapped> {
    install_handler();
    let header = &meta.layout.header;
    let file_size = usize::try_from(header.file_size).map_err(|_| too_big())?;
    let Reservation { start, below, span, at_preferred } = reserve_for(header)?;
    let base = start + below;
    let file_map = file_size.next_multiple_of(PAGE_SIZE as usize);
    let prot = if lazy { libc::PROT_NONE } else { libc::PROT_READ | libc::PROT_WRITE };
    // SAFETY: `[base, base + span)` is a reservation this function just
    // made and nothing else uses; MAP_FIXED replaces its first part with a
    // private mapping of the file. The offset is page-aligned (0, or a
    // chunk boundary in a bundle).
    let p = unsafe {
        libc::mmap(
            base as *mut c_void,
            file_map,
            prot,
            libc::MAP_PRIVATE | libc::MAP_FIXED,
            file.as_raw_fd(),
            at.offset as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED || p as usize != base {
        let e = os_error("cannot map the image");
        // SAFETY: the reservation is ours and holds nothing yet.
        unsafe { libc::munmap(start as *mut c_void, span) };
        return Err(e);
    }
    // SAFETY: the runtime area is the head of our reservation (anonymous,
    // zeroed); making it writable touches nothing else.
    let opened = unsafe { libc::mprotect(start as *mut c_void, below, libc::PROT_READ | libc::PROT_WRITE) };
    if below > 0 && opened != 0 {
        let e = os_error("cannot make the runtime area writable");
        // SAFETY: as above.
        unsafe { libc::munmap(start as *mut c_void, span) };
        return Err(e);
    }
    let mut mapped = Mapped { base, at_preferred, file_size, runtime_start: start, span, lazy, region: None };
    if lazy {
        let chunks: &'static [u64] = Box::leak(meta.chunks.clone().into_boxed_slice());
        let count = (file_map as u64).div_ceil(CHUNK_SIZE) as usize;
        let verified: &'static [AtomicBool] = Box::leak((0..count).map(|_| AtomicBool::new(false)).collect());
        let prefix: &'static [u8] = Box::leak(format!("mica: image {name} ").into_bytes().into_boxed_slice());
        let region: &'static Region = Box::leak(Box::new(Region {
            start: base,
            file_end: base + file_map,
            covered: meta.layout.covered(),
            chunks,
            verified,
            prefix,
            retired: AtomicBool::new(false),
        }));
        publish(Some(region), None);
        mapped.region = Some(region);
    } else if let Err(e) = mapped.verify_now(meta) {
        // SAFETY: nothing refers to the mapping yet.
        unsafe { libc::munmap(start as *mut c_void, span) };
        return Err(e);
    }
    Ok(mapped)
}

/// Maps an image held in memory (when its file cannot be mapped: an
/// embedded image whose place in the executable is unknown): the bytes are
/// copied into a fresh reservation, at the preferred base if free, and
/// every chunk is verified now.
pub fn map_image_from_bytes(image: &[u8], meta: &ImageMeta) -> Result<Mapped> {
    let header = &meta.layout.header;
    let file_size = usize::try_from(header.file_size).map_err(|_| too_big())?;
    if image.len() != file_size {
        return Err(ImageError::Truncated { needed: header.file_size, got: image.len() as u64 });
    }
    let Reservation { start, below, span, at_preferred } = reserve_for(header)?;
    // SAFETY: the whole reservation is ours; making it accessible and
    // copying the image into it touches nothing else.
    unsafe {
        if libc::mprotect(start as *mut c_void, span, libc::PROT_READ | libc::PROT_WRITE) != 0 {
            let e = os_error("cannot open the image mapping");
            libc::munmap(start as *mut c_void, span);
            return Err(e);
        }
        std::ptr::copy_nonoverlapping(image.as_ptr(), (start + below) as *mut u8, file_size);
    }
    let mapped =
        Mapped { base: start + below, at_preferred, file_size, runtime_start: start, span, lazy: false, region: None };
    if let Err(e) = mapped.verify_now(meta) {
        // SAFETY: nothing refers to the mapping yet.
        unsafe { libc::munmap(start as *mut c_void, span) };
        return Err(e);
    }
    Ok(mapped)
}

fn too_big() -> ImageError {
    ImageError::Io { detail: "the image is larger than the address space".into() }
}

/// Reserves `len` bytes of address space with no access: at `addr` exactly
/// (when `fixed`), or anywhere.
/// The address space an image needs: its runtime area, then its file.
struct Reservation {
    /// Where the reservation (the runtime area) starts.
    start: usize,
    /// Bytes of runtime area below the image's base.
    below: usize,
    /// Bytes reserved from `start`.
    span: usize,
    /// Whether the image's base is its preferred base.
    at_preferred: bool,
}

/// Reserves the address space of the image `header` describes, at its
/// preferred base if that is free, else wherever the system chooses.
fn reserve_for(header: &crate::header::Header) -> Result<Reservation> {
    let below = usize::try_from(crate::builder::runtime_below(header.runtime_size)).map_err(|_| too_big())?;
    let span = usize::try_from(crate::builder::span(header.file_size, header.runtime_size)).map_err(|_| too_big())?;
    let preferred = usize::try_from(header.preferred_base).map_err(|_| too_big())?;
    let (start, at_preferred) = match preferred.checked_sub(below).and_then(|s| reserve(s, span, true)) {
        Some(s) => (s, true),
        None => (reserve(0, span, false).ok_or_else(|| os_error("cannot reserve address space for the image"))?, false),
    };
    Ok(Reservation { start, below, span, at_preferred })
}

fn reserve(addr: usize, len: usize, fixed: bool) -> Option<usize> {
    if fixed && addr == 0 {
        return None;
    }
    let flags = libc::MAP_PRIVATE
        | libc::MAP_ANONYMOUS
        | libc::MAP_NORESERVE
        | if fixed { libc::MAP_FIXED_NOREPLACE } else { 0 };
    // SAFETY: an anonymous PROT_NONE mapping; with MAP_FIXED_NOREPLACE the
    // kernel refuses to replace anything already mapped.
    let p = unsafe { libc::mmap(addr as *mut c_void, len, libc::PROT_NONE, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return None;
    }
    if fixed && p as usize != addr {
        // An old kernel took the flag as a hint and put it elsewhere.
        // SAFETY: the mapping was just made by us.
        unsafe { libc::munmap(p, len) };
        return None;
    }
    Some(p as usize)
}

impl Mapped {
    /// Opens and verifies every chunk now (before relocating, which writes
    /// throughout the image).
    pub fn verify_now(&self, meta: &ImageMeta) -> Result<()> {
        let file_map = self.file_size.next_multiple_of(PAGE_SIZE as usize);
        // SAFETY: the file mapping is ours; opening it for reading and
        // writing changes no byte.
        if unsafe { libc::mprotect(self.base as *mut c_void, file_map, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
            return Err(os_error("cannot open the image mapping"));
        }
        if let Some(r) = self.region {
            r.verified.iter().for_each(|v| v.store(true, Ordering::Release));
        }
        // SAFETY: the mapping covers `file_size` readable bytes.
        let bytes = unsafe { std::slice::from_raw_parts(self.base as *const u8, self.file_size) };
        meta.verify_chunks(bytes)
    }

    /// The mapped file (touching it verifies the chunks it reaches).
    ///
    /// # Safety
    /// The caller must not hold the slice across an `unmap`, and must
    /// coordinate writes (the VM is single-threaded).
    pub unsafe fn bytes(&self) -> &'static mut [u8] {
        // SAFETY: the file mapping covers `file_size` bytes for as long as
        // the image stays mapped; the caller upholds the rest.
        unsafe { std::slice::from_raw_parts_mut(self.base as *mut u8, self.file_size) }
    }

    /// Unmaps an image whose loading failed.
    ///
    /// # Safety
    /// Nothing may refer to the image's memory any more.
    pub unsafe fn unmap(self) {
        if let Some(r) = self.region {
            r.retired.store(true, Ordering::Release);
            publish(None, Some(r));
        }
        // SAFETY: the caller guarantees nothing uses the mapping.
        unsafe { libc::munmap(self.runtime_start as *mut c_void, self.span) };
    }
}

/// Publishes a new region list with `add` and without `remove`.
fn publish(add: Option<&'static Region>, remove: Option<&'static Region>) {
    let _guard = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let old = REGIONS.load(Ordering::Acquire);
    // SAFETY: published lists are leaked, so `old` stays valid.
    let mut regions: Vec<&'static Region> = if old.is_null() { Vec::new() } else { unsafe { (*old).0.clone() } };
    if let Some(r) = remove {
        regions.retain(|x| !std::ptr::eq(*x, r));
    }
    regions.extend(add);
    let list = Box::leak(Box::new(RegionList(regions)));
    REGIONS.store(list, Ordering::Release);
}

fn install_handler() {
    INSTALL.call_once(|| {
        let signals = [libc::SIGSEGV, libc::SIGBUS];
        let previous = signals.map(|sig| {
            // SAFETY: reading the current action into a zeroed struct.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                (libc::sigaction(sig, std::ptr::null(), &mut old) == 0).then_some(old)
            }
        });
        let _ = PREVIOUS.set(previous);
        for sig in signals {
            // SAFETY: a zeroed sigaction is a valid value to fill in, and the
            // handler has the SA_SIGINFO signature.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    });
}

extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo for SIGSEGV/SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    let list = REGIONS.load(Ordering::Acquire);
    if !list.is_null() {
        // SAFETY: published lists are never freed.
        for region in unsafe { &(*list).0 } {
            if addr >= region.start && addr < region.file_end && !region.retired.load(Ordering::Acquire) {
                if open_chunk(region, addr, sig) {
                    return;
                }
                break;
            }
        }
    }
    chain(sig, info, context);
}

/// Opens and checks the chunk holding `addr`; false if this fault is not
/// one lazy verification explains.
fn open_chunk(region: &Region, addr: usize, sig: libc::c_int) -> bool {
    if sig == libc::SIGBUS {
        die(region, b"changed on disk while in use (the file was truncated)\n", None);
    }
    let index = (addr - region.start) / CHUNK_SIZE as usize;
    let Some(flag) = region.verified.get(index) else { return false };
    let lo = region.start + index * CHUNK_SIZE as usize;
    let hi = (lo + CHUNK_SIZE as usize).min(region.file_end);
    // SAFETY: `[lo, hi)` lies in the region's file mapping, which is ours.
    if unsafe { libc::mprotect(lo as *mut c_void, hi - lo, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
        die(region, b"could not be opened (mprotect failed)\n", None);
    }
    if flag.load(Ordering::Acquire) {
        // Another thread opened and checked it while this one faulted.
        return true;
    }
    if let Some(&sum) = region.chunks.get(index) {
        let r = chunk_range(index as u64, region.covered);
        // SAFETY: the chunk's bytes were just made readable; `r` lies within
        // the covered part of the file, inside the mapping.
        let bytes = unsafe {
            std::slice::from_raw_parts((region.start + r.start as usize) as *const u8, (r.end - r.start) as usize)
        };
        if fast64(bytes) != sum {
            die(region, b"is corrupt: the bytes from offset ", Some(r.start));
        }
    }
    flag.store(true, Ordering::Release);
    true
}

/// Writes `prefix message [offset...]` to standard error and exits with
/// status 1 (async-signal-safe: no allocation).
fn die(region: &Region, message: &[u8], offset: Option<u64>) -> ! {
    let write = |b: &[u8]| {
        // SAFETY: writing a valid buffer to fd 2.
        unsafe { libc::write(2, b.as_ptr() as *const c_void, b.len()) };
    };
    write(region.prefix);
    write(message);
    if let Some(n) = offset {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        write(&digits[i..]);
        write(b" on do not match their checksum\n");
    }
    // SAFETY: ends the process without running anything else.
    unsafe { libc::_exit(1) }
}

/// Hands a fault that is not ours to the handler installed before.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let previous = PREVIOUS.get().and_then(|p| p[usize::from(sig == libc::SIGBUS)]);
    match previous {
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            if p.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with this
                // signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                    unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig, info, context);
            } else {
                // SAFETY: a plain handler takes the signal number.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig);
            }
        }
        _ => {
            // Restore the default action; returning re-runs the faulting
            // instruction, which then ends the process as usual.
            // SAFETY: a zeroed sigaction with SIG_DFL is the default action.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    }
}

/// Finds the bytes at `addr` (of the running executable's own data, such
/// as an image embedded with `include_bytes!`) in the executable's file:
/// answers the file (`/proc/self/exe`) and the offset, if the bytes lie in
/// a file mapping of it at a page-aligned offset.
pub fn find_in_own_executable(addr: usize, len: usize) -> Option<(File, u64)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (range, _perms, offset) = (fields.next()?, fields.next()?, fields.next()?);
        let path = fields.nth(2).unwrap_or("");
        let (lo, hi) = range.split_once('-')?;
        let (lo, hi) = (usize::from_str_radix(lo, 16).ok()?, usize::from_str_radix(hi, 16).ok()?);
        if addr < lo || addr + len > hi || std::path::Path::new(path) != exe {
            continue;
        }
        let at = (addr - lo) as u64 + u64::from_str_radix(offset, 16).ok()?;
        if !at.is_multiple_of(u64::from(PAGE_SIZE)) {
            return None;
        }
        let file = File::open("/proc/self/exe").ok()?;
        // Check that the file holds those bytes (the binary may have been
        // replaced since it started).
        let mut head = vec![0u8; len.min(PAGE_SIZE as usize)];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut head, at).ok()?;
        // SAFETY: `addr` points to `len` bytes of the executable's data.
        let ours = unsafe { std::slice::from_raw_parts(addr as *const u8, head.len()) };
        return (head == ours).then_some((file, at));
    }
    None
}
