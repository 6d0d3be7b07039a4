//! Giving freed heap back to the system.
//!
//! A relist deserialises the whole list page by page: tens of megabytes of short-lived buffers
//! at L scale, freed as soon as the objects are stored in their compact forms. glibc keeps
//! such freed memory in its heap for reuse, so the resident size stays at the peak of the list
//! (at L: 175 MiB resident for 124 MiB of live data; docs/benchmarks.md, figure 6).
//! `malloc_trim(0)` returns free pages anywhere in the heap to the system; it is called after a
//! relist has been stored, which happens at start and after a watch had to list again: rarely.

/// Returns free heap pages to the system (glibc on Linux; a no-op elsewhere).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims the allocator's own free lists; it takes the
    // allocator's locks and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
