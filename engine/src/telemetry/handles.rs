//! Metric handles kept by their label values. A metric recorded with the `metrics`
//! macros builds its key (allocating each label), hashes it and looks it up in the
//! recorder every time: a tenth of what metrics cost a cached query
//! (docs/bench/telemetry.md). Here the handle is made once per set of label values,
//! and a hit is a hash and a read lock, without an allocation.
//!
//! Handles are kept only once a recorder is installed (before it, the macros give
//! handles that record nothing, which must not outlive the install). Label values come
//! from config or closed sets, so the map stays small.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, RwLock};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Keep handles from now on: the process's recorder is installed.
pub(super) fn installed() {
    INSTALLED.store(true, Ordering::Release);
}

/// Handles of type `H` by label values.
pub(super) struct Handles<H, const N: usize> {
    /// Keep handles before an install too (for the tests, whose recorders are local).
    always: bool,
    hasher: RandomState,
    /// Hash of the values → the values and their handle (more than one on a collision).
    map: RwLock<HashMap<u64, Vec<Entry<H, N>>>>,
}

/// Label values and their handle.
type Entry<H, const N: usize> = ([Box<str>; N], H);

impl<H: Clone, const N: usize> Handles<H, N> {
    pub fn new() -> Self {
        Handles {
            always: false,
            hasher: RandomState::new(),
            map: RwLock::default(),
        }
    }

    /// The handle for `values`, made by `make` the first time.
    pub fn get(&self, values: [&str; N], make: impl FnOnce() -> H) -> H {
        if !(self.always || INSTALLED.load(Ordering::Acquire)) {
            return make();
        }
        let hash = self.hasher.hash_one(values);
        let same = |(v, _): &&Entry<H, N>| v.iter().map(|s| &**s).eq(values);
        if let Ok(map) = self.map.read()
            && let Some((_, handle)) = map.get(&hash).and_then(|e| e.iter().find(same))
        {
            return handle.clone();
        }
        let handle = make();
        if let Ok(mut map) = self.map.write() {
            let entries = map.entry(hash).or_default();
            if !entries.iter().any(|e| same(&e)) {
                entries.push((values.map(Box::from), handle.clone()));
            }
        }
        handle
    }
}

/// A `Handles` in a static.
pub(super) type Lazy<H, const N: usize> = LazyLock<Handles<H, N>>;

/// An empty `Handles` for a static.
pub(super) const fn lazy<H: Clone, const N: usize>() -> Lazy<H, N> {
    LazyLock::new(Handles::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_made_once_per_set_of_values() {
        let handles: Handles<u32, 2> = Handles {
            always: true,
            ..Handles::new()
        };
        let mut made = 0;
        let mut get = |values: [&str; 2]| {
            handles.get(values, || {
                made += 1;
                made
            })
        };
        assert_eq!(get(["hr", "retrieve"]), 1);
        assert_eq!(get(["hr", "route"]), 2);
        assert_eq!(get(["hr", "retrieve"]), 1, "kept");
        assert_eq!(get(["hrretrieve", ""]), 3, "values, not their concatenation");
    }
}
