import CBLASShim

/// Process-wide allocator settings for long numerical runs.
public enum MemoryTuning {
    /// Keeps glibc from returning large blocks to the kernel after every free: activation
    /// buffers of tens of MB would otherwise be mapped and zero-filled anew on each iteration
    /// (the same as `MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824`, the
    /// setting of PyTorch's best runs). Call once at program start; a library never calls it.
    public static func keepFreedMemoryForReuse() {
        nm_keep_freed_memory(256 << 20, 1 << 30)
    }
}
