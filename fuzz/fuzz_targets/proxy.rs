#![no_main]
//! libFuzzer entry point of the `proxy` target (see `sockscope_fuzz::proxy`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockscope_fuzz::proxy(data));
