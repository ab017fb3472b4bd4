//! wirebench harness.
