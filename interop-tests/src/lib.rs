//! Network-namespace harness for interop tests.
