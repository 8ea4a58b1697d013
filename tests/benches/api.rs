//! Benchmarks of the API crate's per-request work: validating a host endpoint into the domain
//! model, encoding one as protobuf, encoding a watch response from pre-encoded events, and
//! building and encoding a list page from domain objects or from pre-encoded ones.
//!
//! Run with `cargo bench -p hostendpoint-tests --bench api`. The object is the benchmark
//! harness's (`hep-bench`) realistic one: five labels, two expected IPs, two profiles, two
//! named ports; a large one adds 64 labels and 16 ports.

use std::{collections::HashMap, hint::black_box};

use criterion::{BatchSize, Criterion, Throughput};
use hostendpoint_api::{
    frames::{EventFrame, WatchHostEndpointsResponse},
    model, pb,
    responses::ListHostEndpointsResponse,
    validation,
};
use prost::Message as _;

fn mk_port(name: &str, port: u32) -> pb::EndpointPort {
    pb::EndpointPort {
        name: name.into(),
        protocol: "TCP".into(),
        port,
    }
}

/// The benchmark harness's host endpoint, with `extra` labels and ports more.
fn mk_host_endpoint(extra: usize) -> pb::HostEndpoint {
    let mut labels: HashMap<String, String> = [
        ("environment", "production"),
        ("role", "worker"),
        ("topology.kubernetes.io/zone", "zone-1"),
        ("kubernetes.io/hostname", "node-00042"),
        ("generation", "17"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut ports = vec![mk_port("http", 8080), mk_port("metrics", 9100)];
    for i in 0..extra {
        labels.insert(format!("example.com/label-{i:02}"), format!("value-{i}"));
        if i < 16 {
            ports.push(mk_port(&format!("port-{i}"), 10_000 + i as u32));
        }
    }
    pb::HostEndpoint {
        metadata: Some(pb::ObjectMeta {
            name: "hep-0000042".into(),
            labels,
            ..Default::default()
        }),
        spec: Some(pb::HostEndpointSpec {
            node: "node-00042".into(),
            interface_name: "eth0".into(),
            expected_ips: vec!["10.0.0.42".into(), "fd00::2a".into()],
            profiles: vec!["kns.default".into(), "host-endpoints".into()],
            ports,
        }),
    }
}

fn objects() -> [(&'static str, pb::HostEndpoint); 2] {
    [
        ("typical", mk_host_endpoint(0)),
        ("large", mk_host_endpoint(64)),
    ]
}

fn validate(c: &mut Criterion) {
    let mut group = c.benchmark_group("validation");
    for (name, hep) in objects() {
        group.bench_function(name, |b| {
            b.iter_batched(
                || hep.clone(),
                |hep| validation::host_endpoint(black_box(hep)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (name, hep) in objects() {
        group.throughput(Throughput::Bytes(hep.encoded_len() as u64));
        group.bench_function(format!("host_endpoint/{name}"), |b| {
            let mut buf = Vec::with_capacity(hep.encoded_len());
            b.iter(|| {
                buf.clear();
                black_box(&hep).encode(&mut buf).expect("a Vec grows");
                black_box(buf.len())
            })
        });
        group.bench_function(format!("decode_host_endpoint/{name}"), |b| {
            let bytes = hep.encode_to_vec();
            b.iter(|| pb::HostEndpoint::decode(black_box(bytes.as_slice())))
        });
    }
    group.finish();
}

/// A watch response of `events` MODIFIED events of one pre-encoded object, as the server
/// sends to a watcher that fell behind by that many changes.
fn encode_frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("watch_response");
    let object = prost::bytes::Bytes::from(mk_host_endpoint(0).encode_to_vec());
    for events in [1, 64] {
        let frames: Vec<_> = (0..events)
            .map(|i| EventFrame::object(pb::EventType::Modified, object.clone(), 1000 + i))
            .collect();
        let response = WatchHostEndpointsResponse::from_frames(frames);
        group.throughput(Throughput::Elements(events));
        group.bench_function(format!("encode/{events}_events"), |b| {
            let mut buf = Vec::with_capacity(response.encoded_len());
            b.iter(|| {
                buf.clear();
                black_box(&response).encode(&mut buf).expect("a Vec grows");
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

/// A list page of 500 objects, built and encoded as the server did before serving from the
/// objects' cached encodings (a protobuf copy of each domain object) and as it does now.
fn list_page(c: &mut Criterion) {
    const OBJECTS: usize = 500;
    let mut group = c.benchmark_group("list_page");
    let objects: Vec<model::HostEndpoint> = (0..OBJECTS)
        .map(|i| {
            let mut hep = mk_host_endpoint(0);
            if let Some(meta) = hep.metadata.as_mut() {
                meta.name = format!("hep-{i:07}");
            }
            validation::host_endpoint(hep).expect("a valid object")
        })
        .collect();
    let encoded: Vec<prost::bytes::Bytes> = objects
        .iter()
        .map(|hep| pb::HostEndpoint::from(hep).encode_to_vec().into())
        .collect();
    group.throughput(Throughput::Elements(OBJECTS as u64));
    let mut buf = Vec::new();
    group.bench_function(format!("convert_and_encode/{OBJECTS}"), |b| {
        b.iter(|| {
            let mut page = ListHostEndpointsResponse::default();
            page.host_endpoints = black_box(&objects).iter().map(Into::into).collect();
            buf.clear();
            page.encode(&mut buf).expect("a Vec grows");
            black_box(buf.len())
        })
    });
    group.bench_function(format!("from_encoded/{OBJECTS}"), |b| {
        b.iter(|| {
            let page = ListHostEndpointsResponse::from_encoded(black_box(&encoded).clone());
            buf.clear();
            page.encode(&mut buf).expect("a Vec grows");
            black_box(buf.len())
        })
    });
    group.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, written out because the macros
// generate an undocumented `pub fn`, which the workspace's `missing_docs` lint rejects.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    validate(&mut c);
    encode(&mut c);
    encode_frames(&mut c);
    list_page(&mut c);
    c.final_summary();
}
