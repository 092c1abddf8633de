//! The topic bus shared by every transport: who is subscribed to what, and which
//! retained message each topic holds.
//!
//! The bus knows no transport and no wire format. Subscribers are identified by a
//! small copyable key chosen by the caller (a session id), and what a subscription
//! carries (QoS, options, subscription identifier) is the caller's type too, so the
//! MQTT broker and the WebSocket gateway share one [`SubscriptionTrie`].
//!
//! Topic names and filters reaching the bus are already validated by the caller
//! (MQTT-4.7.x rules, via `mqtt-proto`); the bus still never panics on any input and
//! refuses filters deeper than [`MAX_TOPIC_LEVELS`], which bounds both memory and the
//! depth of the trie.

pub mod retained;
pub mod trie;

pub use retained::RetainedTrie;
pub use trie::{SharedGroup, SubscriptionTrie, TrieMatch};

/// The deepest topic name or filter the bus stores or matches, in levels
/// (Mosquitto uses 200 as well). Deeper input is refused, never truncated.
pub const MAX_TOPIC_LEVELS: usize = 200;

/// Why the bus refused a topic name or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusError {
    /// More than [`MAX_TOPIC_LEVELS`] levels.
    TooManyLevels,
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusError::TooManyLevels => write!(f, "topic has more than {MAX_TOPIC_LEVELS} levels"),
        }
    }
}

impl std::error::Error for BusError {}

/// Splits `topic` into levels after checking the level limit.
fn levels(topic: &str) -> Result<Vec<&str>, BusError> {
    let mut out = Vec::new();
    for level in topic.split('/') {
        if out.len() == MAX_TOPIC_LEVELS {
            return Err(BusError::TooManyLevels);
        }
        out.push(level);
    }
    Ok(out)
}

/// MQTT-4.7.2-1: a topic whose first character is `$` is not matched by a filter
/// whose first level is a wildcard.
fn is_dollar_topic(topic: &str) -> bool {
    topic.starts_with('$')
}
