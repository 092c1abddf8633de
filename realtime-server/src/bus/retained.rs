//! [`RetainedTrie`]: the retained message of each topic, found by topic filter.

use std::collections::HashMap;

use super::{BusError, is_dollar_topic, levels};

#[derive(Debug)]
struct Node<M> {
    children: HashMap<Box<str>, Node<M>>,
    value: Option<M>,
}

impl<M> Default for Node<M> {
    fn default() -> Self {
        Self {
            children: HashMap::new(),
            value: None,
        }
    }
}

/// Retained messages by topic name (MQTT 5.0 §3.3.1.3): at most one per topic,
/// looked up by topic filter when a subscription is made.
///
/// ```
/// use realtime_server::bus::RetainedTrie;
///
/// let mut retained = RetainedTrie::new();
/// retained.set("home/kitchen/temp", "21.5").unwrap();
/// retained.set("home/hall/temp", "19.0").unwrap();
/// let mut found = Vec::new();
/// retained.for_each_match("home/+/temp", |topic, m| found.push((topic.to_string(), *m)));
/// found.sort();
/// assert_eq!(found, [("home/hall/temp".to_string(), "19.0"), ("home/kitchen/temp".to_string(), "21.5")]);
/// ```
#[derive(Debug)]
pub struct RetainedTrie<M> {
    root: Node<M>,
    len: usize,
}

impl<M> Default for RetainedTrie<M> {
    fn default() -> Self {
        Self {
            root: Node::default(),
            len: 0,
        }
    }
}

impl<M> RetainedTrie<M> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of retained messages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no message is retained.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `message` as the retained message of `topic`, replacing any previous
    /// one (MQTT-3.3.1-5); returns the replaced message.
    pub fn set(&mut self, topic: &str, message: M) -> Result<Option<M>, BusError> {
        let levels = levels(topic)?;
        let mut node = &mut self.root;
        for level in levels {
            node = node.children.entry(Box::from(level)).or_default();
        }
        let old = node.value.replace(message);
        if old.is_none() {
            self.len += 1;
        }
        Ok(old)
    }

    /// Removes the retained message of `topic` (a retained PUBLISH with an empty
    /// payload, MQTT-3.3.1-6); returns it. Empty nodes are pruned.
    pub fn remove(&mut self, topic: &str) -> Option<M> {
        let levels = levels(topic).ok()?;
        let removed = remove_at(&mut self.root, &levels);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// The retained message of exactly `topic`.
    pub fn get(&self, topic: &str) -> Option<&M> {
        let levels = levels(topic).ok()?;
        let mut node = &self.root;
        for level in levels {
            node = node.children.get(level)?;
        }
        node.value.as_ref()
    }

    /// Calls `f(topic, message)` for every retained message whose topic matches
    /// the topic filter `filter` (MQTT 5.0 §4.7, including MQTT-4.7.2-1 for `$` topics).
    pub fn for_each_match(&self, filter: &str, mut f: impl FnMut(&str, &M)) {
        let Ok(filter_levels) = levels(filter) else {
            return;
        };
        // (node, filter depth, topic built so far)
        let mut stack: Vec<(&Node<M>, usize, String)> = vec![(&self.root, 0, String::new())];
        while let Some((node, depth, path)) = stack.pop() {
            match filter_levels.get(depth) {
                None => {
                    if let Some(m) = &node.value {
                        f(&path, m);
                    }
                }
                Some(&"#") if depth + 1 == filter_levels.len() => {
                    // `a/#` matches `a` itself and everything below it.
                    if depth > 0
                        && let Some(m) = &node.value
                    {
                        f(&path, m);
                    }
                    let mut below: Vec<(&Node<M>, String)> = Vec::new();
                    push_children(node, depth, &path, &mut below);
                    while let Some((n, p)) = below.pop() {
                        if let Some(m) = &n.value {
                            f(&p, m);
                        }
                        // Descendants are never at depth 0.
                        push_children(n, 1, &p, &mut below);
                    }
                }
                Some(&"+") => {
                    for (level, child) in &node.children {
                        if depth == 0 && is_dollar_topic(level) {
                            continue;
                        }
                        stack.push((child, depth + 1, join(&path, depth, level)));
                    }
                }
                Some(level) => {
                    if let Some(child) = node.children.get(*level) {
                        stack.push((child, depth + 1, join(&path, depth, level)));
                    }
                }
            }
        }
    }

    /// Calls `f` for every retained message (for persistence and `$SYS` counts).
    pub fn for_each(&self, mut f: impl FnMut(&str, &M)) {
        let mut stack: Vec<(&Node<M>, usize, String)> = vec![(&self.root, 0, String::new())];
        while let Some((node, depth, path)) = stack.pop() {
            if depth > 0
                && let Some(m) = &node.value
            {
                f(&path, m);
            }
            for (level, child) in &node.children {
                stack.push((child, depth + 1, join(&path, depth, level)));
            }
        }
    }
}

fn join(path: &str, depth: usize, level: &str) -> String {
    if depth == 0 {
        level.to_string()
    } else {
        format!("{path}/{level}")
    }
}

/// Pushes the children of `node`; at the root, `$` topics are skipped because
/// a filter starting with `#` must not match them (MQTT-4.7.2-1).
fn push_children<'a, M>(
    node: &'a Node<M>,
    depth: usize,
    path: &str,
    out: &mut Vec<(&'a Node<M>, String)>,
) {
    for (level, child) in &node.children {
        if depth == 0 && is_dollar_topic(level) {
            continue;
        }
        out.push((child, join(path, depth, level)));
    }
}

fn remove_at<M>(node: &mut Node<M>, levels: &[&str]) -> Option<M> {
    let Some((level, rest)) = levels.split_first() else {
        return node.value.take();
    };
    let child = node.children.get_mut(*level)?;
    let removed = remove_at(child, rest);
    if child.value.is_none() && child.children.is_empty() {
        node.children.remove(*level);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(r: &RetainedTrie<u32>, filter: &str) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        r.for_each_match(filter, |t, m| out.push((t.to_string(), *m)));
        out.sort();
        out
    }

    fn store(topics: &[&str]) -> RetainedTrie<u32> {
        let mut r = RetainedTrie::new();
        for (i, t) in topics.iter().enumerate() {
            r.set(t, i as u32).unwrap();
        }
        r
    }

    #[test]
    fn wildcard_lookup() {
        let r = store(&["a", "a/b", "a/b/c", "a/", "/x", "$SYS/uptime", "b"]);
        let names = |v: Vec<(String, u32)>| v.into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(names(matches(&r, "a/#")), ["a", "a/", "a/b", "a/b/c"]);
        assert_eq!(names(matches(&r, "a/+")), ["a/", "a/b"]);
        assert_eq!(names(matches(&r, "+")), ["a", "b"]);
        assert_eq!(names(matches(&r, "+/x")), ["/x"]);
        assert_eq!(names(matches(&r, "a/b/c")), ["a/b/c"]);
        // MQTT-4.7.2-1: `#` and `+/...` do not reach `$` topics; `$SYS/#` does.
        assert_eq!(
            names(matches(&r, "#")),
            ["/x", "a", "a/", "a/b", "a/b/c", "b"]
        );
        assert_eq!(names(matches(&r, "+/uptime")), Vec::<String>::new());
        assert_eq!(names(matches(&r, "$SYS/#")), ["$SYS/uptime"]);
    }

    /// MQTT-3.3.1-5 replaces, MQTT-3.3.1-6 removes (pruning empty nodes).
    #[test]
    fn mqtt_3_3_1_5_and_6_replace_and_remove() {
        let mut r = store(&["a/b"]);
        assert_eq!(r.set("a/b", 9).unwrap(), Some(0));
        assert_eq!(r.get("a/b"), Some(&9));
        assert_eq!(r.len(), 1);
        assert_eq!(r.remove("a/b"), Some(9));
        assert_eq!(r.remove("a/b"), None);
        assert!(r.is_empty());
        assert!(r.root.children.is_empty());
    }

    #[test]
    fn for_each_visits_every_message() {
        let r = store(&["a", "a/b", "$SYS/x", ""]);
        let mut seen = Vec::new();
        r.for_each(|t, m| seen.push((t.to_string(), *m)));
        seen.sort();
        assert_eq!(
            seen,
            [
                ("".to_string(), 3),
                ("$SYS/x".into(), 2),
                ("a".into(), 0),
                ("a/b".into(), 1)
            ]
        );
    }
}
