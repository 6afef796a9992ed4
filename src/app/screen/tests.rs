//! Tests of the screen state: filled in below.
