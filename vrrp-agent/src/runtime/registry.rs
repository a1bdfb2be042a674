//! The running routers under stable ids.
//!
//! A [`RouterId`] names one router for the whole run: it is handed out when the router is
//! inserted and never reused, not even after the router is removed (a reload that restarts
//! an instance gives the new router a new id). Side tables (adverts waiting to be sent,
//! follow-up inputs, the sender's frames) hold ids, so removing or adding a router never
//! shifts what they point at: an id whose router is gone is simply not found.
//!
//! The registry also keeps the two lookups the runtime needs, by kernel key (events from
//! XDP) and by instance name (tracking, sync groups), in step with its contents itself:
//! callers insert, remove and re-key through it, never edit an index.
use std::{
    collections::BTreeMap,
    fmt,
    ops::{Index, IndexMut},
};

use vrrp_common::InstanceKey;

/// A router's id, unique within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouterId(u64);

impl fmt::Display for RouterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the registry indexes an entry by.
pub(super) trait Entry {
    /// Its kernel key (interface index, VRID, family).
    fn key(&self) -> InstanceKey;
    /// Its instance name.
    fn name(&self) -> &str;
    /// Moves it to another kernel key (its interface was re-created).
    fn set_key(&mut self, key: InstanceKey);
    /// Gives it another instance name (a reload renamed it).
    fn set_name(&mut self, name: &str);
}

/// Routers by id, in the order they were inserted, with their key and name lookups.
#[derive(Debug)]
pub(super) struct Registry<V> {
    next: u64,
    items: BTreeMap<RouterId, V>,
    by_key: BTreeMap<InstanceKey, RouterId>,
    by_name: BTreeMap<String, RouterId>,
}

impl<V> Default for Registry<V> {
    fn default() -> Self {
        Registry {
            next: 1,
            items: BTreeMap::new(),
            by_key: BTreeMap::new(),
            by_name: BTreeMap::new(),
        }
    }
}

impl<V: Entry> Registry<V> {
    /// Adds `v` under a new id. A router already registered under the same key or name is
    /// removed first and returned with it (the caller removes it before; this keeps the
    /// indexes right even if it did not).
    pub fn insert(&mut self, v: V) -> (RouterId, Vec<V>) {
        let mut displaced = Vec::new();
        for old in [self.by_key.get(&v.key()), self.by_name.get(v.name())]
            .into_iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
        {
            displaced.extend(self.remove(old));
        }
        let id = RouterId(self.next);
        self.next += 1;
        self.by_key.insert(v.key(), id);
        self.by_name.insert(v.name().to_owned(), id);
        self.items.insert(id, v);
        (id, displaced)
    }

    /// Removes router `id`; `None` if there is none (any more).
    pub fn remove(&mut self, id: RouterId) -> Option<V> {
        let v = self.items.remove(&id)?;
        if self.by_key.get(&v.key()) == Some(&id) {
            self.by_key.remove(&v.key());
        }
        if self.by_name.get(v.name()) == Some(&id) {
            self.by_name.remove(v.name());
        }
        Some(v)
    }

    /// Moves router `id` to kernel key `key`. False if there is no such router or another
    /// router has that key.
    pub fn rekey(&mut self, id: RouterId, key: InstanceKey) -> bool {
        if self.by_key.get(&key).is_some_and(|&other| other != id) {
            return false;
        }
        let Some(v) = self.items.get_mut(&id) else {
            return false;
        };
        if self.by_key.get(&v.key()) == Some(&id) {
            self.by_key.remove(&v.key());
        }
        v.set_key(key);
        self.by_key.insert(key, id);
        true
    }

    /// Takes router `id` out of the key and name lookups; it stays registered (found by
    /// id, listed by `ids`/`values`). A router handing its VIPs over after a reload stopped
    /// it lingers so: its successor (same name, perhaps the same key) is the one kernel
    /// events, tracking and the control socket find. False if there is no such router.
    pub fn unindex(&mut self, id: RouterId) -> bool {
        let Some(v) = self.items.get(&id) else {
            return false;
        };
        if self.by_key.get(&v.key()) == Some(&id) {
            self.by_key.remove(&v.key());
        }
        if self.by_name.get(v.name()) == Some(&id) {
            self.by_name.remove(v.name());
        }
        true
    }

    /// Renames router `id` to `name`; the name index points at it from now on. Two routers
    /// may swap names one after the other: the index entry of a name moves to the router
    /// renamed to it last. False if there is no such router.
    pub fn rename(&mut self, id: RouterId, name: &str) -> bool {
        let Some(v) = self.items.get_mut(&id) else {
            return false;
        };
        if self.by_name.get(v.name()) == Some(&id) {
            self.by_name.remove(v.name());
        }
        v.set_name(name);
        self.by_name.insert(name.to_owned(), id);
        true
    }
}

impl<V> Registry<V> {
    pub fn get(&self, id: RouterId) -> Option<&V> {
        self.items.get(&id)
    }

    pub fn get_mut(&mut self, id: RouterId) -> Option<&mut V> {
        self.items.get_mut(&id)
    }

    pub fn contains(&self, id: RouterId) -> bool {
        self.items.contains_key(&id)
    }

    /// The router with kernel key `key`.
    pub fn by_key(&self, key: &InstanceKey) -> Option<RouterId> {
        self.by_key.get(key).copied()
    }

    /// The router of instance `name`.
    pub fn by_name(&self, name: &str) -> Option<RouterId> {
        self.by_name.get(name).copied()
    }

    /// Every id, in insertion order: a snapshot to loop over while routers are handled
    /// (and possibly removed) through `&mut self`.
    pub fn ids(&self) -> Vec<RouterId> {
        self.items.keys().copied().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (RouterId, &V)> {
        self.items.iter().map(|(id, v)| (*id, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (RouterId, &mut V)> {
        self.items.iter_mut().map(|(id, v)| (*id, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.items.values()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.items.values_mut()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// Router `id`, which the caller just got from this registry. Panics if it is gone: ids
/// that may be stale (queued across an await or a reload) go through [`Registry::get`].
impl<V> Index<RouterId> for Registry<V> {
    type Output = V;
    fn index(&self, id: RouterId) -> &V {
        &self.items[&id]
    }
}

impl<V> IndexMut<RouterId> for Registry<V> {
    fn index_mut(&mut self, id: RouterId) -> &mut V {
        self.items
            .get_mut(&id)
            .expect("a router id from this registry")
    }
}

#[cfg(test)]
mod tests {
    use vrrp_common::FAMILY_IPV4;

    use super::*;

    #[derive(Debug, PartialEq)]
    struct Fake {
        key: InstanceKey,
        name: String,
    }

    impl Entry for Fake {
        fn key(&self) -> InstanceKey {
            self.key
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn set_key(&mut self, key: InstanceKey) {
            self.key = key;
        }
        fn set_name(&mut self, name: &str) {
            self.name = name.into();
        }
    }

    fn fake(ifindex: u32, vrid: u8, name: &str) -> Fake {
        Fake {
            key: InstanceKey::new(ifindex, vrid, FAMILY_IPV4),
            name: name.into(),
        }
    }

    #[test]
    fn ids_are_never_reused_and_lookups_follow() {
        let mut r = Registry::default();
        let (a, _) = r.insert(fake(2, 1, "A"));
        let (b, _) = r.insert(fake(2, 2, "B"));
        assert_ne!(a, b);
        assert_eq!(r.by_name("B"), Some(b));
        assert_eq!(r.by_key(&InstanceKey::new(2, 1, FAMILY_IPV4)), Some(a));
        assert_eq!(r.remove(a).map(|f| f.name), Some("A".into()));
        assert_eq!(r.remove(a), None, "removed twice");
        assert_eq!(r.by_name("A"), None);
        assert_eq!(r.by_key(&InstanceKey::new(2, 1, FAMILY_IPV4)), None);
        // The same instance again gets a new id; the stale one finds nothing.
        let (a2, _) = r.insert(fake(2, 1, "A"));
        assert!(a2 > b && a2 != a);
        assert!(r.get(a).is_none());
        assert_eq!(r.ids(), vec![b, a2], "insertion order");
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn rekey_moves_the_key_index_only() {
        let mut r = Registry::default();
        let (a, _) = r.insert(fake(2, 1, "A"));
        let (b, _) = r.insert(fake(3, 1, "B"));
        let new = InstanceKey::new(7, 1, FAMILY_IPV4);
        assert!(r.rekey(a, new));
        assert_eq!(r.by_key(&new), Some(a));
        assert_eq!(r.by_key(&InstanceKey::new(2, 1, FAMILY_IPV4)), None);
        assert_eq!(r[a].key, new);
        assert!(!r.rekey(b, new), "taken by A");
        assert_eq!(r[b].key, InstanceKey::new(3, 1, FAMILY_IPV4));
    }

    #[test]
    fn two_routers_can_swap_names() {
        let mut r = Registry::default();
        let (a, _) = r.insert(fake(2, 1, "A"));
        let (b, _) = r.insert(fake(2, 2, "B"));
        assert!(r.rename(a, "B"));
        assert!(r.rename(b, "A"));
        assert_eq!(r.by_name("A"), Some(b));
        assert_eq!(r.by_name("B"), Some(a));
        assert_eq!(r[a].name, "B");
        assert!(r.rename(a, "C"));
        assert_eq!(r.by_name("B"), None);
        assert_eq!(r.by_name("C"), Some(a));
        assert_eq!(r.remove(a).map(|f| f.name), Some("C".into()));
        assert_eq!(r.by_name("C"), None);
    }

    #[test]
    fn a_duplicate_insert_displaces_the_old_entry() {
        let mut r = Registry::default();
        let (a, _) = r.insert(fake(2, 1, "A"));
        let (a2, displaced) = r.insert(fake(2, 1, "A"));
        assert_eq!(displaced, vec![fake(2, 1, "A")]);
        assert!(!r.contains(a));
        assert_eq!(r.by_name("A"), Some(a2));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn an_unindexed_router_stays_until_removed_and_displaces_nothing() {
        let mut r = Registry::default();
        let (a, _) = r.insert(fake(2, 1, "A"));
        assert!(r.unindex(a));
        assert_eq!(r.by_name("A"), None);
        assert_eq!(r.by_key(&InstanceKey::new(2, 1, FAMILY_IPV4)), None);
        // Its successor, same name and key, displaces nothing.
        let (a2, displaced) = r.insert(fake(2, 1, "A"));
        assert!(displaced.is_empty());
        assert_eq!(r.ids(), vec![a, a2]);
        assert_eq!(r.by_name("A"), Some(a2));
        // Removing the lingering one leaves the successor's lookups alone.
        assert!(r.remove(a).is_some());
        assert_eq!(r.by_name("A"), Some(a2));
        assert_eq!(r.by_key(&InstanceKey::new(2, 1, FAMILY_IPV4)), Some(a2));
        assert!(!r.unindex(a));
    }
}
