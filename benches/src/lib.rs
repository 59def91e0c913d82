//! Shared helpers for the sockudo-ws benchmarks (criterion kernels live in `benches/`).
