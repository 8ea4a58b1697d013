//! A client of etcd's v3 API, generated from the subset in `server/etcd-proto/` (whose README
//! says why it is not the `etcd-client` crate): what the etcd backend and the benchmark's
//! plain-etcd scenarios use.

/// etcd's KV, Watch and Maintenance services and their messages.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::unwrap_used)]
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

/// etcd's key-value records.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::unwrap_used)]
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// The end of the key range of every key that starts with `prefix` (etcd's `--prefix`).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte was 0xff: the range runs to the end of the keyspace.
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/calico/"), b"/calico0");
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b");
        assert_eq!(prefix_end(&[0xff]), [0]);
    }
}
