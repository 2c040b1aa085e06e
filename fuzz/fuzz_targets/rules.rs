#![no_main]
//! libFuzzer entry point of the `rules` target (see `sockscope_fuzz::rules`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockscope_fuzz::rules(data));
