//! Shared by every fuzz target: the bound on memory per input, enforced by the global
//! allocator, and small helpers.
//!
//! # The memory bound
//!
//! Inputs are at most [`MAX_INPUT`] bytes (`cargo xtask fuzz` passes `-max_len`). No parser or
//! decoder here may hold more than [`MAX_HEAP`] bytes of Rust heap at once for such an input: the
//! allocator below refuses any allocation beyond it, which aborts the run ("memory allocation of
//! N bytes failed") and libFuzzer records the input as a crash. libFuzzer's own `-rss_limit_mb`
//! (set by `cargo xtask fuzz`) bounds the whole process besides.
//!
//! Targets are declared with this crate's [`fuzz_target!`], which links this allocator in (a
//! target that never names this crate would not be, and its inputs would go unbounded) and
//! checks once that it is the one in use.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Largest input a target is given.
pub const MAX_INPUT: usize = 64 << 10;
/// Largest Rust heap live at once while a target runs.
pub const MAX_HEAP: usize = 64 << 20;

/// Bytes allocated and not yet freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, refusing to go over [`MAX_HEAP`] live bytes.
pub struct Bounded;

impl Bounded {
    /// Reserves `size` more live bytes; false (and nothing reserved) if that passes the bound.
    fn reserve(size: usize) -> bool {
        let before = LIVE.fetch_add(size, Ordering::Relaxed);
        if before.saturating_add(size) > MAX_HEAP {
            LIVE.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        true
    }
}

// SAFETY: every call forwards to `System` with the caller's layout; the counter only decides
// whether to forward, and a refusal returns null, which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Bounded::reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc(layout);
        if p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Bounded::reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc_zeroed(layout);
        if p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !Bounded::reserve(new_size - old) {
            return std::ptr::null_mut();
        }
        let p = System.realloc(ptr, layout, new_size);
        match (p.is_null(), new_size > old) {
            (true, true) => {
                LIVE.fetch_sub(new_size - old, Ordering::Relaxed);
            }
            (false, false) => {
                LIVE.fetch_sub(old - new_size, Ordering::Relaxed);
            }
            _ => {}
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Bounded = Bounded;

pub use libfuzzer_sys;

/// Checks, once per process, that [`Bounded`] is the global allocator: an allocation over the
/// bound must be refused.
pub fn check_bound() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let layout = Layout::from_size_align(MAX_HEAP + 1, 1).expect("a valid layout");
        // SAFETY: a non-zero size; a pointer returned is freed at once with its layout. (The
        // pointer escapes through `black_box`, so the compiler cannot elide the allocation.)
        let p = std::hint::black_box(unsafe { std::alloc::alloc(std::hint::black_box(layout)) });
        if !p.is_null() {
            // SAFETY: allocated just above with `layout`.
            unsafe { std::alloc::dealloc(p, layout) };
            panic!("the fuzz harness's allocator is not in use: the memory bound is not enforced");
        }
    });
}

/// `libfuzzer_sys::fuzz_target!` with the memory bound of this crate checked and enforced.
#[macro_export]
macro_rules! fuzz_target {
    (|$data:ident: &[u8]| $body:block) => {
        $crate::libfuzzer_sys::fuzz_target!(|$data: &[u8]| {
            $crate::check_bound();
            $body
        });
    };
}

/// The input as text, if it is UTF-8 (the text parsers take `&str`).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
