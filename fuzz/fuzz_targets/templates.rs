#![no_main]
//! libFuzzer entry point of the `templates` target (see `sockscope_fuzz::templates`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockscope_fuzz::templates(data));
