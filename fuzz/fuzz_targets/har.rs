#![no_main]
//! libFuzzer entry point of the `har` target (see `sockscope_fuzz::har`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockscope_fuzz::har(data));
