//! A Rust client for hostendpointd (typed CRUD, list and watch); built out in its own issue.
