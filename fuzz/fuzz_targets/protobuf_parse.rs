#![no_main]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::parse(accord::types::SchemaType::Protobuf, data)
});
