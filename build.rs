//! Compiles `proto/` with protox (a pure-Rust protobuf compiler, so no system `protoc` is
//! needed) and generates the prost messages and tonic client and server code.

use std::{env, fs, path::PathBuf};

use prost::Message as _;

const PROTOS: &[&str] = &["hostendpoint/v1/hostendpoint.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    // Server reflection serves this set, so grpcurl needs no proto files.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("hostendpoint_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        // Hand-written so that watch events are encoded once and shared (see src/frames.rs).
        .extern_path(
            ".hostendpoint.v1.WatchHostEndpointsResponse",
            "crate::frames::WatchHostEndpointsResponse",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
