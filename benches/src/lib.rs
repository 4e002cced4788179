//! End-to-end benchmark harness (issue 8).
