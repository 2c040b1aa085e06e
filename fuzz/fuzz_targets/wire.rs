#![no_main]
//! libFuzzer entry point of the `wire` target (see `sockscope_fuzz::wire`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockscope_fuzz::wire(data));
