//! Domain types (placeholder, being written).
