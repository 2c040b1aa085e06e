#![no_main]
//! libFuzzer entry point of the `codec` target (see `sockscope_fuzz::codec`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockscope_fuzz::codec(data));
