#![no_main]
//! libFuzzer entry point of the `jsonl` target (see `sockscope_fuzz::jsonl`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockscope_fuzz::jsonl(data));
