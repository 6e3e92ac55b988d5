//! Chaining.
