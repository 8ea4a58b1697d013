//! End-to-end suites: each drives the real binaries through their real interfaces.

mod crud;
