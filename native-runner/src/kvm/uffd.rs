//! A minimal `userfaultfd` (missing mode) for the post-copy destination, through raw syscalls
//! and ioctls (the `userfaultfd` crate needs bindgen at build time).
//!
//! Guest memory registered here has its never-populated pages *missing*: a vCPU (or any
//! thread) touching one blocks in the kernel until the page is supplied with
//! [`Uffd::copy`] or [`Uffd::zero`]; [`Uffd::next_fault`] reports which page was touched.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const UFFD_API: u64 = 0xAA;
const UFFDIO_REGISTER_MODE_MISSING: u64 = 1;
const UFFD_EVENT_PAGEFAULT: u8 = 0x12;

/// `_IOWR(0xAA, nr, size)`.
const fn iowr(nr: u64, size: u64) -> u64 {
    (3 << 30) | (size << 16) | (0xAA << 8) | nr
}
const UFFDIO_API: u64 = iowr(0x3F, 24);
const UFFDIO_REGISTER: u64 = iowr(0x00, 32);
const UFFDIO_COPY: u64 = iowr(0x03, 40);
const UFFDIO_ZEROPAGE: u64 = iowr(0x04, 32);

#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}
#[repr(C)]
struct UffdioRegister {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}
#[repr(C)]
struct UffdioCopy {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    copy: i64,
}
#[repr(C)]
struct UffdioZeropage {
    start: u64,
    len: u64,
    mode: u64,
    zeropage: i64,
}

/// What supplying a page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supplied {
    /// The page was missing and is now present (a blocked thread, if any, goes on).
    Done,
    /// The page was already present (EEXIST): nothing was written.
    Exists,
}

/// A userfaultfd.
#[derive(Debug)]
pub struct Uffd {
    fd: OwnedFd,
}

fn last_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

impl Uffd {
    /// Opens a userfaultfd and registers `[start, start + len)` in missing mode.
    pub fn register(start: u64, len: u64) -> Result<Uffd, String> {
        // SAFETY: a plain syscall with flags; the result is checked.
        let raw = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if raw < 0 {
            return Err(last_err("userfaultfd"));
        }
        // SAFETY: `raw` is a new file descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        let mut api = UffdioApi { api: UFFD_API, features: 0, ioctls: 0 };
        // SAFETY: UFFDIO_API takes a pointer to a `uffdio_api`, which `api` is (repr(C)).
        if unsafe { libc::ioctl(fd.as_raw_fd(), UFFDIO_API as _, &mut api) } < 0 {
            return Err(last_err("UFFDIO_API"));
        }
        let mut reg = UffdioRegister { start, len, mode: UFFDIO_REGISTER_MODE_MISSING, ioctls: 0 };
        // SAFETY: UFFDIO_REGISTER takes a pointer to a `uffdio_register`, which `reg` is.
        if unsafe { libc::ioctl(fd.as_raw_fd(), UFFDIO_REGISTER as _, &mut reg) } < 0 {
            return Err(last_err("UFFDIO_REGISTER"));
        }
        Ok(Uffd { fd })
    }

    /// Copies `src` (one page) to the missing page at host address `dst`.
    pub fn copy(&self, dst: u64, src: &[u8]) -> Result<Supplied, String> {
        let mut c = UffdioCopy { dst, src: src.as_ptr() as u64, len: src.len() as u64, mode: 0, copy: 0 };
        // SAFETY: UFFDIO_COPY reads `len` bytes from `src` (a live slice) and writes them into
        // the registered range at `dst` (checked by the kernel); `c` is a `uffdio_copy`.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), UFFDIO_COPY as _, &mut c) };
        match r {
            0 => Ok(Supplied::Done),
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST) => Ok(Supplied::Exists),
            _ => Err(last_err("UFFDIO_COPY")),
        }
    }

    /// Copies the `len` bytes (whole pages) at host address `src` into the missing pages at
    /// `dst` in one ioctl, and returns how many bytes it put in: fewer than `len` when a page of
    /// the range was present already (EEXIST), where the caller goes on page by page.
    ///
    /// `src..src + len` must be readable memory of this process (the kernel faults if not,
    /// and the call fails).
    pub fn copy_range(&self, dst: u64, src: u64, len: u64) -> Result<u64, String> {
        let mut c = UffdioCopy { dst, src, len, mode: 0, copy: 0 };
        // SAFETY: UFFDIO_COPY reads `len` bytes at `src` (checked readable by the kernel, which
        // fails the call otherwise) into the registered range at `dst`; `c` is a `uffdio_copy`.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), UFFDIO_COPY as _, &mut c) };
        if r == 0 {
            return Ok(len);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EEXIST) | Some(libc::EAGAIN) => Ok(c.copy.max(0) as u64),
            _ => Err(last_err("UFFDIO_COPY")),
        }
    }

    /// Maps a zero page at the missing page at host address `dst` (`len` bytes).
    pub fn zero(&self, dst: u64, len: u64) -> Result<Supplied, String> {
        let mut z = UffdioZeropage { start: dst, len, mode: 0, zeropage: 0 };
        // SAFETY: UFFDIO_ZEROPAGE takes a pointer to a `uffdio_zeropage`, which `z` is.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), UFFDIO_ZEROPAGE as _, &mut z) };
        match r {
            0 => Ok(Supplied::Done),
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST) => Ok(Supplied::Exists),
            _ => Err(last_err("UFFDIO_ZEROPAGE")),
        }
    }

    /// Waits up to `timeout_ms` for a page fault; returns the faulting host address and whether
    /// it was a write.
    pub fn next_fault(&self, timeout_ms: i32) -> Result<Option<(u64, bool)>, String> {
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n < 0 {
            return Err(last_err("poll"));
        }
        if n == 0 {
            return Ok(None);
        }
        let mut msg = [0u8; 32];
        // SAFETY: reads at most 32 bytes (one `uffd_msg`) into `msg`.
        let r = unsafe { libc::read(self.fd.as_raw_fd(), msg.as_mut_ptr() as *mut libc::c_void, msg.len()) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EAGAIN) {
                return Ok(None);
            }
            return Err(format!("reading a userfault: {e}"));
        }
        if r as usize != msg.len() || msg[0] != UFFD_EVENT_PAGEFAULT {
            return Ok(None);
        }
        // struct uffd_msg { u8 event; u8 reserved1; u16 reserved2; u32 reserved3;
        //                   union { struct { u64 flags; u64 address; ... } pagefault; ... } }
        let flags = u64::from_le_bytes(msg[8..16].try_into().expect("8 bytes"));
        Ok(Some((u64::from_le_bytes(msg[16..24].try_into().expect("8 bytes")), flags & 1 != 0)))
    }
}
