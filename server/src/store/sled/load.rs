//! Reading every stored object at start-up.
//!
//! Reading sled and decoding were each about a third of a restart, so they overlap: this
//! thread walks sled and hands chunks of raw records to one decoder per core, which wrap each
//! object for the view. The chunks are put back in sled's order (by name), the order in which
//! the view's indexes are quickest to build.

use std::{
    path::Path,
    sync::{Arc, Mutex, PoisonError, mpsc},
};

use super::{
    OpenError,
    codec::{self, OBJECT_PREFIX},
};
use crate::store::Object;

/// Records handed to a decoder at once.
const CHUNK: usize = 4096;

type Raw = Vec<(sled::IVec, sled::IVec)>;
/// A decoded chunk, or the key and reason of its first record that did not decode.
type Decoded = Result<Vec<Arc<Object>>, (String, String)>;

/// Every object under [`OBJECT_PREFIX`], in key order.
pub(super) fn load_objects(db: &sled::Db, path: &Path) -> Result<Vec<Arc<Object>>, OpenError> {
    let decoders = std::thread::available_parallelism().map_or(1, usize::from);
    let (chunks, queue) = mpsc::sync_channel::<(usize, Raw)>(2 * decoders);
    // Held by the decoders alone: once the last has ended (a panic too), the scan's next
    // send fails instead of waiting for good.
    let queue = Arc::new(Mutex::new(queue));
    let (scanned, decoded) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..decoders)
            .map(|_| {
                let queue = Arc::clone(&queue);
                scope.spawn(move || decode_chunks(&queue))
            })
            .collect();
        drop(queue);
        let scanned = scan(db, &chunks);
        // The decoders end once the queue is empty and closed.
        drop(chunks);
        let decoded: Vec<_> = workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        (scanned, decoded)
    });
    scanned.map_err(|cause| OpenError::Sled {
        path: path.to_owned(),
        cause,
    })?;
    in_order(decoded).map_err(|(key, reason)| OpenError::Corrupt {
        path: path.to_owned(),
        what: key,
        reason,
    })
}

/// Walks sled's objects and queues them in numbered chunks; stops at sled's first error, or
/// when every decoder is gone.
fn scan(db: &sled::Db, chunks: &mpsc::SyncSender<(usize, Raw)>) -> sled::Result<()> {
    let mut records = db.scan_prefix(OBJECT_PREFIX);
    for number in 0.. {
        let chunk = records
            .by_ref()
            .take(CHUNK)
            .collect::<sled::Result<Raw>>()?;
        if chunk.is_empty() || chunks.send((number, chunk)).is_err() {
            break;
        }
    }
    Ok(())
}

/// Decodes queued chunks until the queue closes.
fn decode_chunks(queue: &Mutex<mpsc::Receiver<(usize, Raw)>>) -> Vec<(usize, Decoded)> {
    let mut decoded = Vec::new();
    loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((number, chunk)) = next else {
            return decoded;
        };
        decoded.push((number, decode_chunk(&chunk)));
    }
}

fn decode_chunk(chunk: &[(sled::IVec, sled::IVec)]) -> Decoded {
    chunk
        .iter()
        .map(|(key, value)| match codec::decode_object(value) {
            Ok(object) => Ok(Object::new(object)),
            Err(err) => Err((String::from_utf8_lossy(key).into_owned(), err.to_string())),
        })
        .collect()
}

/// The decoded chunks joined in the order they were read, or the first failure.
fn in_order(mut decoded: Vec<(usize, Decoded)>) -> Result<Vec<Arc<Object>>, (String, String)> {
    decoded.sort_unstable_by_key(|(number, _)| *number);
    let mut objects = Vec::with_capacity(
        decoded
            .iter()
            .map(|(_, d)| d.as_ref().map_or(0, Vec::len))
            .sum(),
    );
    for (_, chunk) in decoded {
        objects.extend(chunk?);
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::mk_hep;

    fn mk_db(names: impl IntoIterator<Item = String>) -> (tempfile::TempDir, sled::Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sled::open(dir.path()).expect("sled");
        for name in names {
            let hep = mk_hep(&name, "n1", "a");
            db.insert(codec::object_key(&name), codec::encode_object(&hep))
                .expect("insert");
        }
        (dir, db)
    }

    #[test]
    fn objects_of_many_chunks_come_back_in_name_order() {
        let count = 2 * CHUNK + 3;
        let (dir, db) = mk_db((0..count).rev().map(|i| format!("hep-{i:06}")));
        let objects = load_objects(&db, dir.path()).expect("load");
        let names: Vec<&str> = objects.iter().map(|o| &**o.name()).collect();
        let expected: Vec<String> = (0..count).map(|i| format!("hep-{i:06}")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn an_undecodable_record_is_named_by_its_key() {
        let (dir, db) = mk_db((0..CHUNK + 10).map(|i| format!("hep-{i:06}")));
        let damaged = format!("hep-{:06}", CHUNK + 5);
        db.insert(codec::object_key(&damaged), &[0xff, 0xff, 0xff][..])
            .expect("insert");
        let err = load_objects(&db, dir.path()).expect_err("damaged");
        match err {
            OpenError::Corrupt { what, .. } => assert_eq!(what, format!("obj/{damaged}")),
            other => panic!("expected Corrupt, got {other}"),
        }
    }

    #[test]
    fn chunks_decoded_out_of_order_are_joined_in_read_order_and_the_first_failure_wins() {
        let chunk = |names: &[&str]| -> Decoded {
            Ok(names
                .iter()
                .map(|n| Object::new(mk_hep(n, "n1", "a")))
                .collect())
        };
        let failed = |key: &str| -> Decoded { Err((key.into(), "bad".into())) };
        let joined = in_order(vec![
            (2, chunk(&["e"])),
            (0, chunk(&["a", "b"])),
            (1, chunk(&["c", "d"])),
        ])
        .expect("no failure");
        let names: Vec<&str> = joined.iter().map(|o| &**o.name()).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        let first = in_order(vec![
            (2, failed("obj/e")),
            (0, chunk(&["a"])),
            (1, failed("obj/c")),
        ]);
        assert_eq!(first.err(), Some(("obj/c".into(), "bad".into())));
    }
}
