fn main() -> std::process::ExitCode {
    return_freed_memory();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
        .block_on(tessera::cli::run())
}

/// Argon2id takes 19 MiB per password hash. glibc raises its mmap threshold after the first
/// such block is freed, and then keeps the next ones in each thread's heap for good; a fixed
/// threshold maps every large block afresh and returns it when freed, so memory falls back
/// after a burst of sign-ins. Set before any thread starts (`mallopt` is not thread-safe).
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing in `main`, while this is the only thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
