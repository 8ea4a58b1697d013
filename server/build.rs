//! Generates the gRPC client of the subset of etcd's v3 API in `etcd-proto/` with protox (a
//! pure-Rust protobuf compiler, so no system `protoc` is needed; `etcd-proto/README.md` says
//! why not the `etcd-client` crate).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=etcd-proto");
    let descriptors = protox::compile(["etcdserverpb/rpc.proto"], ["etcd-proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(descriptors)?;
    Ok(())
}
