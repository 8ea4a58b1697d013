//! Compiles `proto/` with protox (a pure-Rust protobuf compiler, so no system `protoc` is
//! needed) and generates the prost messages and tonic client and server code; records the git
//! commit the binaries are built from (`VERGEN_GIT_SHA`, see `src/build_info.rs`).

use std::{env, fs, path::PathBuf};

use prost::Message as _;

const PROTOS: &[&str] = &["hostendpoint/v1/hostendpoint.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    // Outside a git checkout (a source tarball) vergen records a placeholder and warns.
    let git = vergen_gitcl::GitclBuilder::default().sha(true).build()?;
    vergen_gitcl::Emitter::default()
        .add_instructions(&git)?
        .emit()?;
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    // Server reflection serves this set, so grpcurl needs no proto files.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("hostendpoint_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    // The unit tests compare the hand-written messages with what prost generates for them.
    let reference_dir = out_dir.join("reference");
    fs::create_dir_all(&reference_dir)?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .out_dir(reference_dir)
        .compile_fds(descriptors.clone())?;
    tonic_prost_build::configure()
        // Hand-written so that watch events are encoded once and shared (see src/frames.rs).
        .extern_path(
            ".hostendpoint.v1.WatchHostEndpointsResponse",
            "crate::frames::WatchHostEndpointsResponse",
        )
        // Hand-written so that stored objects are sent as encoded once (see src/responses.rs).
        .extern_path(
            ".hostendpoint.v1.GetHostEndpointResponse",
            "crate::responses::GetHostEndpointResponse",
        )
        .extern_path(
            ".hostendpoint.v1.ListHostEndpointsResponse",
            "crate::responses::ListHostEndpointsResponse",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
