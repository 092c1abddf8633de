//! Topic Names and Topic Filters (MQTT 5.0 §4.7, §4.8.2; MQTT 3.1.1 §4.7):
//! validation, splitting into levels, matching, and shared subscriptions.
//!
//! ```
//! use mqtt_proto::topic;
//! assert!(topic::matches("sport/+/player1", "sport/tennis/player1"));
//! assert!(topic::matches("sport/#", "sport"));
//! assert!(!topic::matches("#", "$SYS/uptime"));
//! let shared = topic::parse_shared("$share/g1/sport/#").unwrap().unwrap();
//! assert_eq!((shared.group, shared.filter), ("g1", "sport/#"));
//! ```

use core::fmt;

use crate::ProtocolVersion;
use crate::error::Rule;

/// The level separator.
pub const SEPARATOR: char = '/';
/// The multi-level wildcard.
pub const MULTI_LEVEL: char = '#';
/// The single-level wildcard.
pub const SINGLE_LEVEL: char = '+';
/// The prefix of a shared subscription's filter (MQTT 5.0 §4.8.2).
pub const SHARED_PREFIX: &str = "$share/";

const EMPTY: Rule = Rule::new("MQTT-4.7.3-1", "MQTT-4.7.3-1");
const NULL: Rule = Rule::new("MQTT-4.7.3-2", "MQTT-4.7.3-2");
const TOO_LONG: Rule = Rule::new("MQTT-4.7.3-3", "MQTT-4.7.3-3");
const WILDCARD_IN_NAME: Rule = Rule::new("MQTT-4.7.0-1", "MQTT-4.7.1-1");
const MULTI_LEVEL_LAST: Rule = Rule::new("MQTT-4.7.1-1", "MQTT-4.7.1-2");
const SINGLE_LEVEL_WHOLE: Rule = Rule::new("MQTT-4.7.1-2", "MQTT-4.7.1-3");
const SHARE_NAME: Rule = Rule::v5("MQTT-4.8.2-1");
const SHARE_NAME_CHARS: Rule = Rule::v5("MQTT-4.8.2-2");

/// Why a string is not a valid Topic Name or Topic Filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicError {
    rule: Rule,
    message: &'static str,
}

impl TopicError {
    const fn new(rule: Rule, message: &'static str) -> Self {
        Self { rule, message }
    }

    /// The normative statement broken, as numbered in `version`.
    pub fn rule(&self, version: ProtocolVersion) -> &'static str {
        self.rule.id(version)
    }

    /// What is wrong.
    pub fn message(&self) -> &'static str {
        self.message
    }

    pub(crate) fn rule_pair(&self) -> Rule {
        self.rule
    }
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.rule.v5)
    }
}

impl std::error::Error for TopicError {}

fn length(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::new(EMPTY, "topic is empty"));
    }
    if s.len() > usize::from(u16::MAX) {
        return Err(TopicError::new(TOO_LONG, "topic longer than 65,535 bytes"));
    }
    Ok(())
}

const NUL: TopicError = TopicError::new(NULL, "topic contains U+0000");

/// Checks a Topic Name: at least one character (MQTT-4.7.3-1), no U+0000
/// (MQTT-4.7.3-2), at most 65,535 bytes (MQTT-4.7.3-3), no wildcard (MQTT-4.7.0-1,
/// MQTT-3.3.2-2). Topics starting with `$` are valid names.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    length(name)?;
    if !crate::utf8::has_null_or_wildcard(name.as_bytes()) {
        return Ok(());
    }
    // Which comes first decides the error.
    for &b in name.as_bytes() {
        match b {
            0 => return Err(NUL),
            b'+' | b'#' => {
                return Err(TopicError::new(
                    WILDCARD_IN_NAME,
                    "wildcard in a Topic Name",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a Topic Filter: the rules of [`validate_name`] except wildcards, plus
/// `#` only as the whole last level (MQTT-4.7.1-1) and `+` only as a whole level
/// (MQTT-4.7.1-2). A shared subscription filter is checked as a plain filter
/// here; see [`parse_shared`].
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    length(filter)?;
    let bytes = filter.as_bytes();
    // `prev` is the byte before the current one (`/` at the start: a level begins).
    let mut prev = b'/';
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            0 => return Err(NUL),
            b'#' if prev != b'/' || i + 1 != bytes.len() => {
                return Err(TopicError::new(
                    MULTI_LEVEL_LAST,
                    "'#' must be the whole last level",
                ));
            }
            b'+' if prev != b'/' || !matches!(bytes.get(i + 1), None | Some(b'/')) => {
                return Err(TopicError::new(
                    SINGLE_LEVEL_WHOLE,
                    "'+' must occupy a whole level",
                ));
            }
            _ => {}
        }
        prev = b;
    }
    Ok(())
}

/// `true` if the filter contains a wildcard.
pub fn has_wildcards(filter: &str) -> bool {
    filter.bytes().any(|b| b == b'+' || b == b'#')
}

/// The levels of a topic, split at every `/` (empty levels included:
/// `"/a//b"` has four).
pub fn levels(topic: &str) -> core::str::Split<'_, char> {
    topic.split(SEPARATOR)
}

/// Whether Topic Filter `filter` matches Topic Name `name` (MQTT 5.0 §4.7): `+`
/// matches exactly one level, `#` the parent level and any number of levels below
/// it; a filter starting with a wildcard does not match a name starting with `$`
/// (MQTT-4.7.2-1). Levels are compared byte for byte, without normalisation
/// (MQTT-4.7.3-4). Both arguments are assumed valid; a shared subscription's
/// filter is matched by its inner filter ([`SharedSubscription::filter`]).
pub fn matches(filter: &str, name: &str) -> bool {
    let f = filter.as_bytes();
    let n = name.as_bytes();
    if n.first() == Some(&b'$') && matches!(f.first(), Some(b'+' | b'#')) {
        return false;
    }
    // One pass over both, byte by byte: `+` skips one name level, `#` ends the match.
    let (mut i, mut j) = (0, 0);
    loop {
        match f.get(i) {
            None => return j == n.len(),
            Some(b'#') => return true,
            Some(b'+') => {
                while n.get(j).is_some_and(|&c| c != b'/') {
                    j += 1;
                }
                i += 1;
            }
            Some(&c) => {
                if n.get(j) != Some(&c) {
                    // "a/#" also matches "a": the name ends where the filter has "/#".
                    return j == n.len() && c == b'/' && f.get(i + 1..) == Some(&b"#"[..]);
                }
                i += 1;
                j += 1;
            }
        }
    }
}

/// A shared subscription `$share/{group}/{filter}` (MQTT 5.0 §4.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedSubscription<'a> {
    /// The ShareName.
    pub group: &'a str,
    /// The Topic Filter that messages are matched against.
    pub filter: &'a str,
}

/// `true` if the filter names a shared subscription (starts with `$share/`).
pub fn is_shared(filter: &str) -> bool {
    filter.starts_with(SHARED_PREFIX)
}

/// Parses a shared subscription: `Ok(None)` for a filter that is not one,
/// `Ok(Some(..))` for `$share/{group}/{filter}` with a ShareName of at least one
/// character (MQTT-4.8.2-1) without `/`, `+` or `#`, followed by `/` and a valid
/// Topic Filter (MQTT-4.8.2-2).
pub fn parse_shared(filter: &str) -> Result<Option<SharedSubscription<'_>>, TopicError> {
    let Some(rest) = filter.strip_prefix(SHARED_PREFIX) else {
        if filter == "$share" {
            return Err(TopicError::new(SHARE_NAME, "'$share' without a ShareName"));
        }
        return Ok(None);
    };
    let Some((group, inner)) = rest.split_once(SEPARATOR) else {
        return Err(TopicError::new(
            SHARE_NAME_CHARS,
            "ShareName must be followed by '/' and a Topic Filter",
        ));
    };
    if group.is_empty() {
        return Err(TopicError::new(SHARE_NAME, "empty ShareName"));
    }
    if group.contains(['+', '#']) {
        return Err(TopicError::new(
            SHARE_NAME_CHARS,
            "ShareName contains '+' or '#'",
        ));
    }
    validate_filter(inner).map_err(|e| {
        if e.rule == EMPTY {
            TopicError::new(SHARE_NAME_CHARS, "no Topic Filter after the ShareName")
        } else {
            e
        }
    })?;
    Ok(Some(SharedSubscription {
        group,
        filter: inner,
    }))
}

#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `matches` agrees with the reference for every valid filter and name
        /// (MQTT-4.7.1-1, MQTT-4.7.1-2, MQTT-4.7.2-1).
        #[test]
        fn matches_agrees_with_reference(filter in "[ab/+#$]{1,8}", name in "[ab/$]{1,8}") {
            prop_assume!(validate_filter(&filter).is_ok() && validate_name(&name).is_ok());
            prop_assert_eq!(matches(&filter, &name), reference::naive_matches(&filter, &name));
        }
    }

    #[test]
    fn spec_examples_4_7_1() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(matches("+/tennis/#", "sport/tennis"));
        assert!(matches("$SYS/#", "$SYS/uptime"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }
}
