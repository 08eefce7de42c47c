use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout, System};

#[global_allocator]
static ALLOCATOR: SplitAllocator = SplitAllocator;

/// Small blocks from mimalloc: the token endpoint allocates and frees many per request on
/// every worker thread, and glibc's malloc spent about a tenth of the server's CPU on them
/// (bench/). Large blocks (Argon2's 19 MiB per password hash) from glibc, which maps each
/// afresh and unmaps it when freed ([`return_freed_memory`]); mimalloc would keep them.
struct SplitAllocator;

/// From this size on a block comes from glibc (its mmap threshold, set below).
const LARGE: usize = 1 << 20;

// SAFETY: every block is freed or resized by the allocator that made it: the layout's size
// (which the caller passes back unchanged) decides, and a resize across the threshold moves
// the block.
unsafe impl GlobalAlloc for SplitAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            System.alloc(layout)
        } else {
            MiMalloc.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            System.alloc_zeroed(layout)
        } else {
            MiMalloc.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= LARGE {
            System.dealloc(ptr, layout)
        } else {
            MiMalloc.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (layout.size() >= LARGE, new_size >= LARGE) {
            (true, true) => System.realloc(ptr, layout, new_size),
            (false, false) => MiMalloc.realloc(ptr, layout, new_size),
            _ => {
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let moved = self.alloc(new_layout);
                if !moved.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                moved
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    return_freed_memory();
    purge_freed_pages_at_once();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
        .block_on(tessera::cli::run())
}

/// Argon2id takes 19 MiB per password hash, from glibc ([`SplitAllocator`]). glibc raises its
/// mmap threshold after the first such block is freed, and then keeps the next ones in each
/// thread's heap for good; a fixed threshold maps every large block afresh and returns it
/// when freed, so memory falls back after a burst of sign-ins. Set before any thread starts (`mallopt` is not thread-safe).
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing in `main`, while this is the only thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE as libc::c_int);
    }
}

/// mimalloc keeps freed pages for a second (ten in its arenas) before it returns them, which
/// raised the peak RSS of a full bench/ run by 3 MiB (84 instead of 81); returned at once,
/// the pages cost a `madvise` each and the throughput stays.
fn purge_freed_pages_at_once() {
    /// `mi_option_purge_delay` of mimalloc.h, which the crate's bindings do not name; mimalloc
    /// keeps the numbers of its options (retired ones stay as placeholders).
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets an option of the allocator, with a value its documentation allows.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}
