//! What one benchmark operation is: the workload kinds, how each picks its next request,
//! and the znode names they use.
//!
//! Invariant: a workload only ever touches znodes under its `prefix`, so a benchmark never
//! changes anything else on the server it measures. Key choice is uniform over the key
//! space and drawn from a per-worker xorshift generator seeded from the worker's index, so
//! two runs with the same options issue the same sequence of requests.

use bytes::Bytes;
use keeper_core::proto::{Acl, CreateOp, CreateRequest, Request};

/// The request mix a run issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// getData on an existing key.
    Get,
    /// exists on an existing key.
    Exists,
    /// setData (any version) on an existing key.
    Set,
    /// create of a new persistent znode, one fresh name per operation.
    Create,
    /// delete of a key created during setup; the run ends early when none are left.
    Delete,
    /// getData with probability `read_pct`%, otherwise setData.
    Mixed,
    /// create the key znodes (each once, split over the workers), then stop: the setup of
    /// the other workloads, and how `bench/compare` loads a million znodes.
    Load,
}

impl Workload {
    /// Parses a workload name as the command line spells it.
    pub fn parse(name: &str) -> Result<Workload, String> {
        Ok(match name {
            "get" => Workload::Get,
            "exists" => Workload::Exists,
            "set" => Workload::Set,
            "create" => Workload::Create,
            "delete" => Workload::Delete,
            "mixed" => Workload::Mixed,
            "load" => Workload::Load,
            other => {
                return Err(format!(
                    "unknown workload {other:?} (get, exists, set, create, delete, mixed, load)"
                ))
            }
        })
    }

    /// The name the command line and the report use.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::Set => "set",
            Workload::Create => "create",
            Workload::Delete => "delete",
            Workload::Mixed => "mixed",
            Workload::Load => "load",
        }
    }

    /// Whether the setup must create the key znodes before the run.
    pub fn needs_keys(self) -> bool {
        !matches!(self, Workload::Create | Workload::Load)
    }
}

/// How a worker builds its requests. One per worker; not shared.
pub struct OpSource {
    workload: Workload,
    read_pct: u32,
    keys: u64,
    prefix: String,
    payload: Bytes,
    /// Unique among workers: names of created znodes and the slice of keys to delete.
    worker: u64,
    workers: u64,
    /// Operations issued so far by this worker.
    issued: u64,
    rng: XorShift,
}

/// Whether a request reads or writes, for the per-kind counts in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Read,
    Write,
}

impl OpSource {
    /// A source for worker `worker` of `workers`; `payload` is shared by every request.
    pub fn new(spec: &Spec, payload: Bytes, worker: u64, workers: u64) -> OpSource {
        assert!(worker < workers, "worker index within the worker count");
        OpSource {
            workload: spec.workload,
            read_pct: spec.read_pct,
            keys: spec.keys,
            prefix: spec.prefix.clone(),
            payload,
            worker,
            workers,
            issued: 0,
            rng: XorShift::new(worker.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D),
        }
    }

    /// The next request, or None when the workload has nothing left to do (delete only).
    pub fn next(&mut self) -> Option<(OpKind, Request)> {
        let n = self.issued;
        self.issued += 1;
        let op = match self.workload {
            Workload::Get => (OpKind::Read, self.get()),
            Workload::Exists => {
                (OpKind::Read, Request::Exists { path: self.random_key(), watch: false })
            }
            Workload::Set => (OpKind::Write, self.set()),
            Workload::Mixed => {
                if self.rng.below(100) < self.read_pct as u64 {
                    (OpKind::Read, self.get())
                } else {
                    (OpKind::Write, self.set())
                }
            }
            Workload::Create => {
                let path = format!("{}/c-{}-{n}", self.prefix, self.worker);
                (OpKind::Write, create_request(path, self.payload.clone()))
            }
            Workload::Delete | Workload::Load => {
                // Worker w takes keys w, w + workers, w + 2*workers, ...
                let key = self.worker + n * self.workers;
                if key >= self.keys {
                    return None;
                }
                let path = key_path(&self.prefix, key);
                let req = match self.workload {
                    Workload::Delete => Request::Delete { path, version: -1 },
                    _ => create_request(path, self.payload.clone()),
                };
                (OpKind::Write, req)
            }
        };
        Some(op)
    }

    fn get(&mut self) -> Request {
        Request::GetData { path: self.random_key(), watch: false }
    }

    fn set(&mut self) -> Request {
        Request::SetData { path: self.random_key(), data: Some(self.payload.clone()), version: -1 }
    }

    fn random_key(&mut self) -> String {
        key_path(&self.prefix, self.rng.below(self.keys))
    }
}

/// The options a workload needs, shared by every worker.
#[derive(Clone, Debug)]
pub struct Spec {
    pub workload: Workload,
    pub read_pct: u32,
    pub keys: u64,
    pub prefix: String,
}

/// The path of key `i` under `prefix`.
pub fn key_path(prefix: &str, i: u64) -> String {
    format!("{prefix}/k{i:08}")
}

/// A plain create (op 1, answered with the path only) of a persistent, world-writable
/// znode holding `data`.
pub fn create_request(path: String, data: Bytes) -> Request {
    Request::Create(CreateRequest {
        op: CreateOp::Create,
        path,
        data: Some(data),
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl: None,
    })
}

/// A tiny deterministic generator (xorshift64*): enough for uniform key choice, and it
/// keeps the bench free of a random-number crate for a few lines.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` for n far below 2^64 (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "a range to draw from");
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(workload: Workload, keys: u64) -> Spec {
        Spec { workload, read_pct: 90, keys, prefix: "/b".into() }
    }

    /// Delete workers split the keys between them and stop when theirs are gone.
    #[test]
    fn delete_workers_cover_each_key_once() {
        let mut seen = Vec::new();
        for w in 0..3 {
            let mut src = OpSource::new(&spec(Workload::Delete, 10), Bytes::new(), w, 3);
            while let Some((_, Request::Delete { path, .. })) = src.next() {
                seen.push(path);
            }
        }
        seen.sort();
        let want: Vec<String> = (0..10).map(|i| key_path("/b", i)).collect();
        assert_eq!(seen, want);
    }

    /// A 90% mix reads about 90% of the time, and only keys that exist.
    #[test]
    fn mixed_reads_about_the_asked_share() {
        let mut src = OpSource::new(&spec(Workload::Mixed, 50), Bytes::new(), 0, 1);
        let reads = (0..10_000).filter(|_| src.next().unwrap().0 == OpKind::Read).count();
        assert!((8_700..9_300).contains(&reads), "reads {reads}");
        let keys: Vec<String> = (0..50).map(|i| key_path("/b", i)).collect();
        for _ in 0..1000 {
            match src.next().unwrap().1 {
                Request::GetData { path, .. } | Request::SetData { path, .. } => {
                    assert!(keys.contains(&path))
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Workers create distinct names.
    #[test]
    fn create_names_are_unique_across_workers() {
        let mut names = std::collections::BTreeSet::new();
        for w in 0..4 {
            let mut src = OpSource::new(&spec(Workload::Create, 1), Bytes::new(), w, 4);
            for _ in 0..100 {
                let Some((_, Request::Create(c))) = src.next() else { panic!("create") };
                assert!(names.insert(c.path));
            }
        }
    }

    #[test]
    fn unknown_workload_is_a_clear_error() {
        assert!(Workload::parse("scan").unwrap_err().contains("unknown workload"));
        assert_eq!(Workload::parse("mixed").unwrap().name(), "mixed");
    }
}
