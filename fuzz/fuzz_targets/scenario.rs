#![no_main]
//! libFuzzer entry point of the `scenario` target (see `sockscope_fuzz::scenario`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockscope_fuzz::scenario(data));
