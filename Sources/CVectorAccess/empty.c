// CVectorAccess is header-only (always-inlined functions); SwiftPM needs one source file.
