//! Compiles `proto/evbus/envelope/v1/envelope.proto` with `protox` (a pure-Rust
//! protobuf compiler), so building this crate never needs `protoc` installed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/evbus/envelope/v1/envelope.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    prost_build::Config::new()
        // `bytes` fields become `bytes::Bytes`, so decoding from a `Bytes` buffer
        // slices the payload out of it instead of copying it.
        .bytes(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
