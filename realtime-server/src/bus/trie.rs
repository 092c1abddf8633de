//! [`SubscriptionTrie`]: topic filters arranged by level, matched against a topic
//! name in time proportional to the levels of the name and the matching branches,
//! not to the number of subscriptions.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{BusError, is_dollar_topic, levels};

/// One node per topic level of some filter.
#[derive(Debug)]
struct Node<K, T> {
    /// Children by literal level text.
    children: HashMap<Box<str>, Node<K, T>>,
    /// The `+` child.
    plus: Option<Box<Node<K, T>>>,
    /// Subscriptions to `<path of this node>/#` (or `#` at the root).
    multi: Subscribers<K, T>,
    /// Subscriptions whose filter ends exactly at this node.
    exact: Subscribers<K, T>,
}

/// The subscriptions stored at one filter: plain ones, and shared groups by name.
#[derive(Debug)]
struct Subscribers<K, T> {
    plain: Vec<(K, T)>,
    shared: Vec<SharedGroup<K, T>>,
}

impl<K, T> Default for Subscribers<K, T> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            shared: Vec::new(),
        }
    }
}

impl<K, T> Default for Node<K, T> {
    fn default() -> Self {
        Self {
            children: HashMap::new(),
            plus: None,
            multi: Subscribers::default(),
            exact: Subscribers::default(),
        }
    }
}

impl<K, T> Node<K, T> {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.multi.plain.is_empty()
            && self.multi.shared.is_empty()
            && self.exact.plain.is_empty()
            && self.exact.shared.is_empty()
    }
}

/// The members of one shared subscription (`$share/{group}/{filter}`, MQTT 5.0 §4.8.2).
///
/// A message matching the filter goes to one member; [`SharedGroup::next_index`]
/// spreads messages across members in turn, and the caller may skip members that
/// cannot take it (offline, full) by trying the following ones.
#[derive(Debug)]
pub struct SharedGroup<K, T> {
    name: Box<str>,
    members: Vec<(K, T)>,
    cursor: AtomicUsize,
}

impl<K, T> SharedGroup<K, T> {
    /// The ShareName.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The members, in subscription order.
    pub fn members(&self) -> &[(K, T)] {
        &self.members
    }

    /// The index at which to start looking for a member for the next message
    /// (round robin); advances the cursor. Always `< members().len()` unless the
    /// group is empty, in which case it is `0`.
    pub fn next_index(&self) -> usize {
        let n = self.members.len();
        if n == 0 {
            return 0;
        }
        self.cursor.fetch_add(1, Ordering::Relaxed) % n
    }

    /// The members starting at the round-robin position, wrapping around: try
    /// them in this order and deliver to the first that can take the message.
    pub fn rotation(&self) -> impl Iterator<Item = &(K, T)> {
        let start = self.next_index();
        let (head, tail) = self.members.split_at(start.min(self.members.len()));
        tail.iter().chain(head.iter())
    }
}

/// One match of a topic name: a plain subscription, or a shared group from which
/// the caller picks one member.
#[derive(Debug)]
pub enum TrieMatch<'a, K, T> {
    /// A non-shared subscription of `key`.
    Plain(&'a K, &'a T),
    /// A shared subscription group.
    Shared(&'a SharedGroup<K, T>),
}

/// Subscriptions by topic filter.
///
/// `K` identifies a subscriber (one subscription per subscriber per filter and
/// share group: subscribing again replaces, MQTT-3.8.4-3); `T` is what the
/// subscription carries.
///
/// ```
/// use realtime_server::bus::{SubscriptionTrie, TrieMatch};
///
/// let mut trie = SubscriptionTrie::new();
/// trie.insert("sport/+/player1", None, 1u64, "qos1").unwrap();
/// trie.insert("sport/#", None, 2u64, "qos0").unwrap();
/// let mut keys = Vec::new();
/// trie.for_each_match("sport/tennis/player1", |m| {
///     if let TrieMatch::Plain(k, _) = m {
///         keys.push(*k)
///     }
/// });
/// keys.sort();
/// assert_eq!(keys, [1, 2]);
/// ```
#[derive(Debug)]
pub struct SubscriptionTrie<K, T> {
    root: Node<K, T>,
    len: usize,
}

impl<K, T> Default for SubscriptionTrie<K, T> {
    fn default() -> Self {
        Self {
            root: Node::default(),
            len: 0,
        }
    }
}

impl<K: Copy + Eq + Hash, T> SubscriptionTrie<K, T> {
    /// An empty trie.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of subscriptions (a shared group counts each member).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no subscription at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Subscribes `key` to `filter` (in share group `group`, if any) with `value`;
    /// returns the value it replaces, if `key` was already subscribed there.
    pub fn insert(
        &mut self,
        filter: &str,
        group: Option<&str>,
        key: K,
        value: T,
    ) -> Result<Option<T>, BusError> {
        let levels = levels(filter)?;
        let mut node = &mut self.root;
        let mut multi = false;
        for (i, level) in levels.iter().enumerate() {
            match *level {
                "#" if i + 1 == levels.len() => multi = true,
                "+" => node = node.plus.get_or_insert_with(Box::default),
                _ => node = node.children.entry(Box::from(*level)).or_default(),
            }
        }
        let subs = if multi {
            &mut node.multi
        } else {
            &mut node.exact
        };
        let list = match group {
            None => &mut subs.plain,
            Some(name) => {
                let pos = match subs.shared.iter().position(|g| &*g.name == name) {
                    Some(pos) => pos,
                    None => {
                        subs.shared.push(SharedGroup {
                            name: Box::from(name),
                            members: Vec::new(),
                            cursor: AtomicUsize::new(0),
                        });
                        subs.shared.len() - 1
                    }
                };
                match subs.shared.get_mut(pos) {
                    Some(g) => &mut g.members,
                    None => return Ok(None),
                }
            }
        };
        if let Some(slot) = list.iter_mut().find(|(k, _)| *k == key) {
            return Ok(Some(std::mem::replace(&mut slot.1, value)));
        }
        list.push((key, value));
        self.len += 1;
        Ok(None)
    }

    /// Removes the subscription of `key` to `filter` in `group`; returns its value.
    /// Nodes left empty are pruned, so memory follows the live subscriptions.
    pub fn remove(&mut self, filter: &str, group: Option<&str>, key: K) -> Option<T> {
        let levels = levels(filter).ok()?;
        let removed = remove_at(&mut self.root, &levels, group, key);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// The shared group `group` subscribed to exactly `filter`, if it has members.
    pub fn shared_group(&self, filter: &str, group: &str) -> Option<&SharedGroup<K, T>> {
        let levels = levels(filter).ok()?;
        let mut node = &self.root;
        let mut multi = false;
        for (i, level) in levels.iter().enumerate() {
            match *level {
                "#" if i + 1 == levels.len() => multi = true,
                "+" => node = node.plus.as_deref()?,
                _ => node = node.children.get(*level)?,
            }
        }
        let subs = if multi { &node.multi } else { &node.exact };
        subs.shared.iter().find(|g| &*g.name == group)
    }

    /// Calls `f` for every subscription whose filter matches the topic name `topic`
    /// (MQTT 5.0 §4.7): once per plain subscription and once per shared group.
    /// A subscriber with several matching filters is reported once per filter;
    /// merging them (MQTT-3.3.4-2) is the caller's business.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(TrieMatch<'a, K, T>)) {
        let Ok(levels) = levels(topic) else { return };
        let dollar = is_dollar_topic(topic);
        let mut stack: Vec<(&'a Node<K, T>, usize)> = vec![(&self.root, 0)];
        while let Some((node, depth)) = stack.pop() {
            // MQTT-4.7.2-1: no leading wildcard matches a `$` topic.
            let wildcards_allowed = !(dollar && depth == 0);
            if wildcards_allowed {
                report(&node.multi, &mut f);
            }
            match levels.get(depth) {
                None => report(&node.exact, &mut f),
                Some(level) => {
                    if let Some(child) = node.children.get(*level) {
                        stack.push((child, depth + 1));
                    }
                    if wildcards_allowed && let Some(plus) = &node.plus {
                        stack.push((plus, depth + 1));
                    }
                }
            }
        }
    }
}

fn report<'a, K, T>(subs: &'a Subscribers<K, T>, f: &mut impl FnMut(TrieMatch<'a, K, T>)) {
    for (k, v) in &subs.plain {
        f(TrieMatch::Plain(k, v));
    }
    for group in &subs.shared {
        f(TrieMatch::Shared(group));
    }
}

/// Removes along `levels`, pruning empty nodes on the way back. Recursion depth is
/// bounded by `MAX_TOPIC_LEVELS`.
fn remove_at<K: Copy + Eq, T>(
    node: &mut Node<K, T>,
    levels: &[&str],
    group: Option<&str>,
    key: K,
) -> Option<T> {
    let Some((level, rest)) = levels.split_first() else {
        return remove_from(&mut node.exact, group, key);
    };
    if *level == "#" && rest.is_empty() {
        return remove_from(&mut node.multi, group, key);
    }
    if *level == "+" {
        let child = node.plus.as_deref_mut()?;
        let removed = remove_at(child, rest, group, key);
        if child.is_empty() {
            node.plus = None;
        }
        return removed;
    }
    let child = node.children.get_mut(*level)?;
    let removed = remove_at(child, rest, group, key);
    if child.is_empty() {
        node.children.remove(*level);
    }
    removed
}

fn remove_from<K: Copy + Eq, T>(
    subs: &mut Subscribers<K, T>,
    group: Option<&str>,
    key: K,
) -> Option<T> {
    match group {
        None => {
            let pos = subs.plain.iter().position(|(k, _)| *k == key)?;
            Some(subs.plain.swap_remove(pos).1)
        }
        Some(name) => {
            let gpos = subs.shared.iter().position(|g| &*g.name == name)?;
            let g = subs.shared.get_mut(gpos)?;
            let pos = g.members.iter().position(|(k, _)| *k == key)?;
            // Keep subscription order (fairness of the rotation): `remove`, not `swap_remove`.
            let (_, value) = g.members.remove(pos);
            if g.members.is_empty() {
                subs.shared.swap_remove(gpos);
            }
            Some(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plain_matches(trie: &SubscriptionTrie<u32, ()>, topic: &str) -> Vec<u32> {
        let mut out = Vec::new();
        trie.for_each_match(topic, |m| {
            if let TrieMatch::Plain(k, _) = m {
                out.push(*k);
            }
        });
        out.sort_unstable();
        out
    }

    fn trie_of(filters: &[&str]) -> SubscriptionTrie<u32, ()> {
        let mut trie = SubscriptionTrie::new();
        for (i, f) in filters.iter().enumerate() {
            trie.insert(f, None, i as u32, ()).unwrap();
        }
        trie
    }

    /// The examples of MQTT 5.0 §4.7.1.2 and §4.7.1.3.
    #[test]
    fn spec_4_7_1_wildcard_examples() {
        let trie = trie_of(&[
            "sport/tennis/player1/#",
            "sport/#",
            "#",
            "sport/tennis/#",
            "sport/+",
            "+/+",
            "/+",
            "+",
        ]);
        assert_eq!(plain_matches(&trie, "sport/tennis/player1"), [0, 1, 2, 3]);
        assert_eq!(
            plain_matches(&trie, "sport/tennis/player1/ranking"),
            [0, 1, 2, 3]
        );
        assert_eq!(plain_matches(&trie, "sport"), [1, 2, 7]);
        // "sport/+" matches "sport/" (an empty level) but not "sport".
        assert_eq!(plain_matches(&trie, "sport/"), [1, 2, 4, 5]);
        assert_eq!(plain_matches(&trie, "/finance"), [2, 5, 6]);
    }

    /// MQTT-4.7.2-1: filters starting with a wildcard do not match `$` topics;
    /// `$SYS/#` does.
    #[test]
    fn mqtt_4_7_2_1_dollar_topics_not_matched_by_leading_wildcards() {
        let trie = trie_of(&["#", "+/monitor/Clients", "$SYS/#", "$SYS/monitor/+"]);
        assert_eq!(plain_matches(&trie, "$SYS/monitor/Clients"), [2, 3]);
        assert_eq!(plain_matches(&trie, "SYS/monitor/Clients"), [0, 1]);
    }

    /// MQTT-4.7.3-4: no normalisation: case, spaces and empty levels all count.
    #[test]
    fn mqtt_4_7_3_4_no_normalisation() {
        let trie = trie_of(&["ACCOUNTS", "accounts", "a b/c", "a//c"]);
        assert_eq!(plain_matches(&trie, "ACCOUNTS"), [0]);
        assert_eq!(plain_matches(&trie, "accounts"), [1]);
        assert_eq!(plain_matches(&trie, "a b/c"), [2]);
        assert_eq!(plain_matches(&trie, "a//c"), [3]);
        assert_eq!(plain_matches(&trie, "a/c"), Vec::<u32>::new());
    }

    /// MQTT-3.8.4-3: subscribing again to the same filter replaces the subscription.
    #[test]
    fn mqtt_3_8_4_3_resubscribe_replaces() {
        let mut trie = SubscriptionTrie::new();
        assert_eq!(trie.insert("a/b", None, 7u32, 1u8).unwrap(), None);
        assert_eq!(trie.insert("a/b", None, 7u32, 2u8).unwrap(), Some(1));
        assert_eq!(trie.len(), 1);
        let mut seen = Vec::new();
        trie.for_each_match("a/b", |m| {
            if let TrieMatch::Plain(k, v) = m {
                seen.push((*k, *v));
            }
        });
        assert_eq!(seen, [(7, 2)]);
    }

    #[test]
    fn remove_prunes_nodes() {
        let mut trie = trie_of(&["a/+/c/#", "a/b", "#"]);
        assert_eq!(trie.remove("a/+/c/#", None, 0), Some(()));
        assert_eq!(trie.remove("a/+/c/#", None, 0), None);
        assert_eq!(trie.remove("a/b", None, 1), Some(()));
        assert_eq!(trie.remove("#", None, 2), Some(()));
        assert!(trie.is_empty());
        assert!(trie.root.is_empty(), "every node pruned: {:?}", trie.root);
    }

    /// MQTT 5.0 §4.8.2: one member of each shared group gets each message, in turn.
    #[test]
    fn shared_groups_rotate_and_are_separate_per_filter() {
        let mut trie: SubscriptionTrie<u32, ()> = SubscriptionTrie::new();
        for k in 0..3 {
            trie.insert("sensors/+", Some("g"), k, ()).unwrap();
        }
        trie.insert("sensors/#", Some("g"), 9, ()).unwrap();
        trie.insert("sensors/+", None, 5, ()).unwrap();
        let mut picks = Vec::new();
        for _ in 0..6 {
            let mut groups = 0;
            trie.for_each_match("sensors/t1", |m| {
                if let TrieMatch::Shared(g) = m {
                    groups += 1;
                    if g.members().len() == 3 {
                        picks.push(g.rotation().next().unwrap().0);
                    }
                }
            });
            assert_eq!(
                groups, 2,
                "same share name on two filters is two shared subscriptions"
            );
        }
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        assert_eq!(
            trie.shared_group("sensors/+", "g").unwrap().members().len(),
            3
        );
        assert_eq!(
            trie.shared_group("sensors/#", "g").unwrap().members().len(),
            1
        );
        assert!(trie.shared_group("sensors/+", "h").is_none());
        assert!(trie.shared_group("sensors/x", "g").is_none());
        assert_eq!(trie.remove("sensors/+", Some("g"), 1), Some(()));
        assert_eq!(trie.remove("sensors/+", Some("other"), 0), None);
        assert_eq!(trie.len(), 4);
    }

    #[test]
    fn too_deep_filters_are_refused_not_truncated() {
        let mut trie: SubscriptionTrie<u32, ()> = SubscriptionTrie::new();
        let deep = vec!["a"; super::super::MAX_TOPIC_LEVELS + 1].join("/");
        assert_eq!(
            trie.insert(&deep, None, 1, ()),
            Err(BusError::TooManyLevels)
        );
        let ok = vec!["a"; super::super::MAX_TOPIC_LEVELS].join("/");
        trie.insert(&ok, None, 1, ()).unwrap();
        assert_eq!(plain_matches(&trie, &ok), [1]);
        assert_eq!(plain_matches(&trie, &deep), Vec::<u32>::new());
    }

    /// The reference: MQTT 5.0 §4.7 matching written as plainly as possible.
    fn naive_matches(filter: &str, topic: &str) -> bool {
        if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
            return false;
        }
        let f: Vec<&str> = filter.split('/').collect();
        let t: Vec<&str> = topic.split('/').collect();
        for (i, level) in f.iter().enumerate() {
            if *level == "#" {
                return true;
            }
            match t.get(i) {
                None => return false,
                Some(tl) if *level != "+" && level != tl => return false,
                _ => {}
            }
        }
        f.len() == t.len()
    }

    fn level() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("a".into()),
            Just("b".into()),
            Just("$x".into())
        ]
    }

    fn topic() -> impl Strategy<Value = String> {
        proptest::collection::vec(level(), 1..5).prop_map(|v| v.join("/"))
    }

    fn filter() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(prop_oneof![level(), Just("+".to_string())], 1..5),
            any::<bool>(),
        )
            .prop_map(|(mut v, multi)| {
                if multi {
                    v.push("#".into());
                }
                v.join("/")
            })
    }

    proptest! {
        /// The trie agrees with the naive reference on every topic, and stays
        /// consistent after removing half of the filters.
        #[test]
        fn trie_agrees_with_reference(filters in proptest::collection::vec(filter(), 0..12), topics in proptest::collection::vec(topic(), 1..8)) {
            let mut trie = SubscriptionTrie::new();
            for (i, f) in filters.iter().enumerate() {
                trie.insert(f, None, i as u32, ()).unwrap();
            }
            for t in &topics {
                let expected: Vec<u32> = (0..filters.len() as u32).filter(|&i| naive_matches(&filters[i as usize], t)).collect();
                prop_assert_eq!(plain_matches(&trie, t), expected, "topic {:?}", t);
            }
            for (i, f) in filters.iter().enumerate().step_by(2) {
                prop_assert_eq!(trie.remove(f, None, i as u32), Some(()));
            }
            for t in &topics {
                let expected: Vec<u32> = (0..filters.len() as u32).filter(|&i| i % 2 == 1 && naive_matches(&filters[i as usize], t)).collect();
                prop_assert_eq!(plain_matches(&trie, t), expected, "topic {:?} after removals", t);
            }
        }
    }
}
