//! Benchmarks of the selector language: parsing, matching a label map, printing the
//! canonical text.
//!
//! Run with `cargo bench -p hostendpoint-tests --bench selector`. The selectors range from one
//! comparison to the documentation's mixed example and a 100-value set; the label maps from the
//! handful of labels a host endpoint usually has to a 32-label one.

use std::hint::black_box;

use criterion::Criterion;
use hostendpoint_api::{model::StringMap, selector::Selector};

/// The benchmarked selectors, by name.
fn selectors() -> Vec<(&'static str, String)> {
    let big_set: Vec<String> = (0..100).map(|i| format!("'host-{i:03}'")).collect();
    vec![
        ("equality", "role == 'web'".to_owned()),
        (
            "typical",
            "has(kubernetes.io/hostname) && role in {'web', 'db'} && env != 'dev'".to_owned(),
        ),
        (
            "docs_example",
            "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}"
                .to_owned(),
        ),
        (
            "nested",
            "!(a == 'x' || (b contains 'y' && !(c ends with 'z' || d not in {'p', 'q'}))) \
             && (has(e) || f startswith 'w')"
                .to_owned(),
        ),
        ("set_of_100", format!("host in {{{}}}", big_set.join(", "))),
    ]
}

fn mk_labels(n: usize) -> StringMap {
    let common = [
        ("kubernetes.io/hostname", "node-1"),
        ("role", "db"),
        ("env", "prod"),
        ("my-label", "production"),
        ("host", "host-099"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let extra =
        (common.len()..n).map(|i| (format!("example.com/label-{i:02}"), format!("value-{i}")));
    common.into_iter().chain(extra).collect()
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, text) in selectors() {
        group.bench_function(name, |b| b.iter(|| Selector::parse(black_box(&text))));
    }
    group.finish();
}

fn matches(c: &mut Criterion) {
    let mut group = c.benchmark_group("matches");
    for n in [5, 32] {
        let labels = mk_labels(n);
        for (name, text) in selectors() {
            let selector = Selector::parse(&text).expect("benchmark selectors are valid");
            group.bench_function(format!("{name}/{n}_labels"), |b| {
                b.iter(|| black_box(&selector).matches(black_box(&labels)))
            });
        }
    }
    group.finish();
}

fn print(c: &mut Criterion) {
    let mut group = c.benchmark_group("print");
    for (name, text) in selectors() {
        let selector = Selector::parse(&text).expect("benchmark selectors are valid");
        group.bench_function(name, |b| b.iter(|| black_box(&selector).to_string()));
    }
    group.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, written out because the macros
// generate an undocumented `pub fn`, which the workspace's `missing_docs` lint rejects.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    parse(&mut c);
    matches(&mut c);
    print(&mut c);
    c.final_summary();
}
