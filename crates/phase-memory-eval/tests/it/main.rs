//! Integration tests of the evaluation harness.

fn main() {}
