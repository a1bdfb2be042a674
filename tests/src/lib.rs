//! Shared helpers for the kernel tests.
