//! A randomized model test of WatchHostEndpoints: random creates, relabels, node moves and
//! deletes from concurrent writers, watched by many filtered watchers that start at different
//! times, resume from random revisions or read slowly. Each watcher's state, rebuilt from its
//! events, must equal the model's state at the revision of every event it received.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use hostendpoint_api::pb;
use hostendpoint_tests::{watching::*, *};
use rand::{Rng, SeedableRng, rngs::StdRng};

const WRITERS: usize = 4;
const OPS_PER_WRITER: usize = 150;
const NAMES_PER_WRITER: usize = 10;
const NODES: [&str; 4] = ["n0", "n1", "n2", "n3"];

type State = BTreeMap<String, pb::HostEndpoint>;
/// revision -> (name, the object after the change or None when deleted)
type Log = Arc<Mutex<BTreeMap<u64, (String, Option<pb::HostEndpoint>)>>>;

/// One writer: its own names, so its writes to one name are sequential.
async fn write_randomly(mut client: ApiClient, writer: usize, seed: u64, log: Log) {
    let mut rng = StdRng::seed_from_u64(seed ^ writer as u64);
    let mut present: BTreeMap<String, pb::HostEndpoint> = BTreeMap::new();
    for op in 0..OPS_PER_WRITER {
        let name = format!("w{writer}-{}", rng.random_range(0..NAMES_PER_WRITER));
        let node = NODES[rng.random_range(0..NODES.len())];
        let (revision, after) = match present.get(&name).cloned() {
            None => {
                let created = create(&mut client, mk_hep(&name, node)).await;
                (meta(&created).resource_version, Some(created))
            }
            Some(_) if rng.random_bool(0.25) => {
                let gone = delete(&mut client, &name, 0, "").await.expect("delete");
                (meta(&gone).resource_version, None)
            }
            Some(mut hep) => {
                // Always a real change: a new label value, and sometimes another node.
                meta_mut(&mut hep)
                    .labels
                    .insert("op".into(), op.to_string());
                if rng.random_bool(0.5) {
                    spec_mut(&mut hep).node = node.into();
                }
                let updated = update(&mut client, hep, false).await.expect("update");
                (meta(&updated).resource_version, Some(updated))
            }
        };
        match &after {
            Some(hep) => present.insert(name.clone(), hep.clone()),
            None => present.remove(&name),
        };
        log.lock().expect("log").insert(revision, (name, after));
    }
}

/// How a watcher starts and reads.
#[derive(Clone, Copy, Debug)]
struct Plan {
    node: Option<&'static str>,
    /// Start after this many changes were acknowledged.
    start_after: u64,
    /// Resume from a revision at or below the start instead of taking a snapshot.
    resume: bool,
    /// Pause between events.
    slow: bool,
}

/// What one watcher saw: where it started and its events.
struct Seen {
    plan: Plan,
    start: u64,
    snapshot: Option<State>,
    events: Vec<pb::WatchEvent>,
}

async fn run_watcher(mut client: ApiClient, plan: Plan, seed: u64, log: Log, end: u64) -> Seen {
    let mut rng = StdRng::seed_from_u64(seed);
    while (log.lock().expect("log").len() as u64) < plan.start_after {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let node = plan.node.unwrap_or("");
    let (mut watch, start, snapshot) = if plan.resume {
        // Revision 0 would ask for a snapshot, not a resume.
        let start = rng.random_range(rev(0)..=rev(plan.start_after)).max(1);
        (
            watch(&mut client, node, start).await.expect("resume"),
            start,
            None,
        )
    } else {
        let mut watch = watch(&mut client, node, 0).await.expect("watch");
        let (added, synced) = watch.expect_snapshot().await;
        let rebuilt = Rebuilt::from_snapshot(added, synced);
        (watch, synced, Some(rebuilt.objects))
    };
    let mut events = Vec::new();
    loop {
        let event = watch.expect_event().await;
        let at = event.resource_version;
        events.push(event);
        if at >= end {
            return Seen {
                plan,
                start,
                snapshot,
                events,
            };
        }
        if plan.slow {
            tokio::time::sleep(Duration::from_micros(rng.random_range(0..2000))).await;
        }
    }
}

fn filtered(state: &State, node: Option<&str>) -> State {
    state
        .iter()
        .filter(|(_, h)| node.is_none_or(|n| spec(h).node == n))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The model's state after every write: states[n] is the state at revision `rev(n)`.
fn states(log: &BTreeMap<u64, (String, Option<pb::HostEndpoint>)>) -> Vec<State> {
    let mut states = vec![State::new()];
    for (revision, (name, after)) in log {
        assert_eq!(
            *revision,
            rev(states.len() as u64),
            "every revision is acknowledged once"
        );
        let mut next = states.last().cloned().unwrap_or_default();
        match after {
            Some(hep) => next.insert(name.clone(), hep.clone()),
            None => next.remove(name),
        };
        states.push(next);
    }
    states
}

fn check(seen: &Seen, states: &[State]) {
    let node = seen.plan.node;
    // The state at revision r: after the last write at or before r (revisions need not be
    // contiguous from rev(0): on etcd the server's own first write sits between).
    let at = |r: u64| {
        let writes = (0..states.len())
            .rev()
            .find(|&n| rev(n as u64) <= r)
            .expect("no revision precedes the fresh store's");
        filtered(&states[writes], node)
    };
    let mut rebuilt = Rebuilt {
        objects: seen.snapshot.clone().unwrap_or_else(|| at(seen.start)),
        revision: seen.start,
    };
    assert_eq!(
        rebuilt.objects,
        at(seen.start),
        "{:?}: the start state",
        seen.plan
    );
    for event in &seen.events {
        rebuilt.apply(event);
        assert_eq!(
            rebuilt.objects,
            at(event.resource_version),
            "{:?}: state after the {:?} at revision {}",
            seen.plan,
            kind(event),
            event.resource_version
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_rebuild_exactly_the_model_state() {
    let seed: u64 = std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("MODEL_SEED={seed}");
    // A small change buffer, so slow watchers fall back to the on-disk log.
    let server =
        ServerProcess::start_with(&["--watch-buffer", "32", "--bookmark-interval", "50ms"]);
    let client = server.client().await;
    let log: Log = Arc::default();
    let writes = (WRITERS * OPS_PER_WRITER) as u64;
    let end = rev(writes);

    let mut rng = StdRng::seed_from_u64(seed);
    let mut watchers = Vec::new();
    for i in 0..16 {
        let node = if i % 5 == 0 {
            None
        } else {
            Some(NODES[i % NODES.len()])
        };
        let plan = Plan {
            node,
            start_after: rng.random_range(0..writes / 2),
            resume: i % 3 == 1,
            slow: i % 4 == 2,
        };
        let task = run_watcher(client.clone(), plan, seed + i as u64, Arc::clone(&log), end);
        watchers.push(tokio::spawn(task));
    }
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_randomly(client.clone(), w, seed, Arc::clone(&log))))
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let states = states(&log.lock().expect("log"));
    assert_eq!(states.len() as u64, writes + 1);
    for watcher in watchers {
        let seen = watcher.await.expect("watcher");
        check(&seen, &states);
    }
    let listed = list(&mut client.clone(), "", 0, "").await;
    let final_state: State = listed
        .host_endpoints
        .into_iter()
        .map(|h| (meta(&h).name.clone(), h))
        .collect();
    assert_eq!(final_state, states[writes as usize]);
    assert!(
        some_object_moved_between_nodes(&states),
        "the walk must exercise moves"
    );
}

fn some_object_moved_between_nodes(states: &[State]) -> bool {
    states.windows(2).any(|pair| {
        pair[1].iter().any(|(name, after)| {
            pair[0]
                .get(name)
                .is_some_and(|before| spec(before).node != spec(after).node)
        })
    })
}
