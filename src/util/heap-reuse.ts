/**
 * Makes the C allocator keep freed memory for reuse instead of handing it back to the kernel after
 * every garbage collection.
 *
 * Streaming through Node allocates a fresh 64 KiB buffer per socket read (and per request-body
 * chunk); the garbage collector frees them in batches of tens of MiB. glibc's default is to return
 * the top of its heap to the kernel as soon as more than 128 KiB of it is free
 * (M_TRIM_THRESHOLD), so every batch was given back and the next reads faulted fresh, zeroed pages
 * in again: ~100–175k page faults and 0.3–0.9 s of system CPU per GiB proxied, about a third of
 * the server's CPU on a PUT or a proxied GET.
 *
 * glibc raises its thresholds by itself when a block it had mmap()ed is freed (mallopt(3), "dynamic
 * mmap threshold"): M_MMAP_THRESHOLD becomes that block's size and M_TRIM_THRESHOLD twice it. So we
 * allocate one such block (never touched: it costs no resident memory) and let it go; once the
 * garbage collector frees it, the heap keeps up to ~60 MiB of free memory for the next buffers.
 * An operator's own MALLOC_TRIM_THRESHOLD_/MALLOC_MMAP_THRESHOLD_ turn the dynamic rule off, and
 * other C libraries ignore it: then this is a no-op.
 */
const BLOCK = 30 * 1024 * 1024; // glibc adjusts only for blocks up to 32 MiB, header included

let done = false;

/** Once per process (later calls do nothing). */
export function keepFreedMemoryForReuse(): void {
  if (done) return;
  done = true;
  // A dedicated, uninitialised allocation, dropped at once: freed by the next collection.
  Buffer.allocUnsafeSlow(BLOCK);
}
