// Intentionally empty: SwiftPM needs one source file; everything is static inline in the header.
