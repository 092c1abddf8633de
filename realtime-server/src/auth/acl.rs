//! The ACL file: who may publish to, subscribe to and receive which topics.
//!
//! ```text
//! # Rules before the first `user` line apply to anonymous clients.
//! topic read public/#
//!
//! user alice
//! topic readwrite home/alice/#
//! # Alice may subscribe to `#`, and still receives only what she may read:
//! topic subscribe #
//! topic deny home/alice/secret/#
//!
//! # Patterns apply to every client: %u is the user name, %c the client id.
//! pattern readwrite devices/%c/#
//! pattern read users/%u/inbox/#
//! ```
//!
//! Rights: `read` (receive messages on matching topics, and subscribe to filters
//! within the rule's filter), `write` (publish to matching topics), `subscribe`
//! (subscribe to filters within the rule's filter, without the right to receive
//! what is not readable), `readwrite` (read and write), `deny` (nothing: it wins
//! over every grant), or a comma list (`read,subscribe`). `topic FILTER` alone
//! means `readwrite`. A request is allowed when a granting rule matches and no
//! `deny` rule does; otherwise it is denied.
//!
//! A pattern whose `%u` or `%c` would be replaced by an empty value or one holding
//! `/`, `+` or `#` does not apply (a client id `#` must not widen a rule), and a
//! pattern with `%u` never applies to an anonymous client.

use std::collections::HashMap;

use mqtt_proto::topic;

/// The right asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Receive a message on a topic (checked at delivery).
    Read,
    /// Publish to a topic.
    Write,
    /// Subscribe to a filter.
    Subscribe,
}

impl Access {
    /// `read`, `write` or `subscribe`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Subscribe => "subscribe",
        }
    }
}

const READ: u8 = 1;
const WRITE: u8 = 2;
const SUBSCRIBE: u8 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Bits of READ / WRITE / SUBSCRIBE; 0 for deny.
    rights: u8,
    filter: String,
}

/// A parsed ACL file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    anonymous: Vec<Rule>,
    users: HashMap<String, Vec<Rule>>,
    patterns: Vec<Rule>,
}

fn parse_rights(word: &str) -> Option<u8> {
    let mut bits = 0;
    for part in word.split(',') {
        bits |= match part {
            "read" => READ,
            "write" => WRITE,
            "subscribe" => SUBSCRIBE,
            "readwrite" => READ | WRITE,
            "deny" if word == "deny" => return Some(0),
            _ => return None,
        };
    }
    Some(bits)
}

impl Acl {
    /// Parses an ACL file's text; an error names the line and what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut acl = Acl::default();
        let mut current: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let at = |m: String| format!("line {}: {m}", i + 1);
            // Only whole-line comments: `#` is a wildcard inside a rule.
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match keyword {
                "user" => {
                    super::password::valid_user_name(rest).map_err(at)?;
                    acl.users.entry(rest.to_string()).or_default();
                    current = Some(rest.to_string());
                }
                "topic" | "pattern" => {
                    let (rights, filter) = match rest.split_once(char::is_whitespace) {
                        Some((r, f)) => (
                            parse_rights(r).ok_or_else(|| {
                                at(format!(
                                    "unknown right {r:?} (read, write, subscribe, readwrite, deny)"
                                ))
                            })?,
                            f.trim(),
                        ),
                        None => (READ | WRITE, rest),
                    };
                    if filter.is_empty() {
                        return Err(at(format!("`{keyword}` needs a topic filter")));
                    }
                    let check = filter.replace("%u", "u").replace("%c", "c");
                    topic::validate_filter(&check).map_err(|e| {
                        at(format!("{filter:?} is not a topic filter: {}", e.message()))
                    })?;
                    if keyword == "topic" && (filter.contains("%u") || filter.contains("%c")) {
                        return Err(at(
                            "%u and %c are replaced in `pattern` rules only".to_string()
                        ));
                    }
                    let rule = Rule {
                        rights,
                        filter: filter.to_string(),
                    };
                    if keyword == "pattern" {
                        acl.patterns.push(rule);
                    } else {
                        match &current {
                            Some(user) => acl.users.entry(user.clone()).or_default().push(rule),
                            None => acl.anonymous.push(rule),
                        }
                    }
                }
                other => {
                    return Err(at(format!(
                        "unknown keyword {other:?} (user, topic, pattern)"
                    )));
                }
            }
        }
        Ok(acl)
    }

    /// Whether a client (`user` is `None` when anonymous) may do `access` on
    /// `topic` — a topic name for read and write, a filter for subscribe (for a
    /// shared subscription, the filter after `$share/{group}/`).
    pub fn allows(&self, user: Option<&str>, client_id: &str, access: Access, topic: &str) -> bool {
        let own = match user {
            Some(u) => self.users.get(u).map_or(&[][..], Vec::as_slice),
            None => &self.anonymous[..],
        };
        let mut granted = false;
        let mut check = |rights: u8, filter: &str| -> bool {
            let applies = match access {
                Access::Read | Access::Write => topic::matches(filter, topic),
                Access::Subscribe => covers(filter, topic),
            };
            if !applies {
                return true;
            }
            if rights == 0 {
                return false;
            }
            let wanted = match access {
                Access::Read => READ,
                Access::Write => WRITE,
                Access::Subscribe => READ | SUBSCRIBE,
            };
            granted |= rights & wanted != 0;
            true
        };
        for rule in own {
            if !check(rule.rights, &rule.filter) {
                return false;
            }
        }
        for rule in &self.patterns {
            let Some(filter) = substitute(&rule.filter, user, client_id) else {
                continue;
            };
            if !check(rule.rights, &filter) {
                return false;
            }
        }
        granted
    }
}

/// The pattern's filter with `%u` and `%c` replaced, or `None` if it does not apply.
fn substitute(pattern: &str, user: Option<&str>, client_id: &str) -> Option<String> {
    let safe = |v: &str| !v.is_empty() && !v.contains(['/', '+', '#']);
    let mut out = pattern.to_string();
    if pattern.contains("%u") {
        let u = user.filter(|u| safe(u))?;
        out = out.replace("%u", u);
    }
    if pattern.contains("%c") {
        if !safe(client_id) {
            return None;
        }
        out = out.replace("%c", client_id);
    }
    Some(out)
}

/// Whether every topic that `filter` matches is matched by `rule` (MQTT 5.0 §4.7
/// wildcards; topics starting with `$` are not matched by a leading wildcard,
/// MQTT-4.7.2-1).
pub fn covers(rule: &str, filter: &str) -> bool {
    let mut r = rule.split('/');
    let mut f = filter.split('/');
    let mut first = true;
    loop {
        match (r.next(), f.next()) {
            (Some("#"), next) => {
                return !(first && next.is_some_and(|l| l.starts_with('$')));
            }
            (Some(_), Some("#")) => return false,
            (Some("+"), Some(level)) => {
                if first && level.starts_with('$') {
                    return false;
                }
            }
            (Some(a), Some(b)) => {
                if a != b {
                    return false;
                }
            }
            (Some(rest), None) => return rest == "#" && r.next().is_none(),
            (None, Some(_)) => return false,
            (None, None) => return true,
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# anonymous
topic read public/#

user alice
topic readwrite home/alice/#
topic subscribe #
topic deny home/alice/secret/#

user bob
topic write,read shared/+/x

pattern readwrite devices/%c/#
pattern read users/%u/inbox
";

    #[test]
    fn users_anonymous_and_deny() {
        let acl = Acl::parse(FILE).unwrap();
        let alice = Some("alice");
        assert!(acl.allows(alice, "c1", Access::Write, "home/alice/lamp"));
        assert!(acl.allows(alice, "c1", Access::Read, "home/alice/lamp"));
        assert!(!acl.allows(alice, "c1", Access::Write, "home/alice/secret/x"));
        assert!(!acl.allows(alice, "c1", Access::Read, "home/alice/secret/x"));
        // `subscribe #` lets her subscribe to `#`, not read everything.
        assert!(acl.allows(alice, "c1", Access::Subscribe, "#"));
        assert!(!acl.allows(alice, "c1", Access::Read, "home/bob/lamp"));
        // Denied subscription: entirely inside the deny rule.
        assert!(!acl.allows(alice, "c1", Access::Subscribe, "home/alice/secret/+"));
        // Anonymous rules do not apply to users, and the reverse.
        assert!(!acl.allows(alice, "c1", Access::Read, "public/news"));
        assert!(acl.allows(None, "c1", Access::Read, "public/news"));
        assert!(acl.allows(None, "c1", Access::Subscribe, "public/#"));
        assert!(!acl.allows(None, "c1", Access::Write, "public/news"));
        assert!(!acl.allows(None, "c1", Access::Subscribe, "#"));
        // Unknown user: nothing but patterns.
        assert!(!acl.allows(Some("eve"), "c1", Access::Read, "public/news"));
        assert!(acl.allows(Some("bob"), "c1", Access::Write, "shared/a/x"));
        // `read` includes subscribing within the rule's filter, not beyond.
        assert!(acl.allows(Some("bob"), "c1", Access::Subscribe, "shared/a/x"));
        assert!(!acl.allows(Some("bob"), "c1", Access::Subscribe, "shared/#"));
    }

    /// `%c` and `%u` are replaced; a client id or user name that would widen the
    /// rule disables it; `%u` never applies to anonymous clients.
    #[test]
    fn patterns_substitute_safely() {
        let acl = Acl::parse(FILE).unwrap();
        assert!(acl.allows(Some("bob"), "dev1", Access::Write, "devices/dev1/temp"));
        assert!(acl.allows(None, "dev1", Access::Subscribe, "devices/dev1/#"));
        assert!(!acl.allows(None, "dev1", Access::Write, "devices/dev2/temp"));
        for evil in ["#", "+", "a/b", ""] {
            assert!(!acl.allows(None, evil, Access::Write, "devices/x/temp"));
            assert!(!acl.allows(None, evil, Access::Subscribe, "devices/#"));
        }
        assert!(acl.allows(Some("bob"), "c", Access::Read, "users/bob/inbox"));
        assert!(!acl.allows(Some("bob"), "c", Access::Read, "users/alice/inbox"));
        assert!(!acl.allows(None, "c", Access::Read, "users//inbox"));
    }

    /// MQTT-4.7.2-1: a leading wildcard does not cover `$` topics, so `subscribe #`
    /// is no grant on `$SYS/#`.
    #[test]
    fn coverage_of_filters() {
        for (rule, filter, want) in [
            ("#", "a/b", true),
            ("#", "#", true),
            ("#", "$SYS/#", false),
            ("+/#", "$SYS/x", false),
            ("$SYS/#", "$SYS/broker/+", true),
            ("a/#", "a", true),
            ("a/#", "a/+/c", true),
            ("a/+", "a/#", false),
            ("a/+", "a/+", true),
            ("a/+", "a/b/c", false),
            ("a/b", "a/+", false),
            ("a/b", "a/b", true),
            ("a/+/c", "a/x/c", true),
            ("a", "a/b", false),
        ] {
            assert_eq!(covers(rule, filter), want, "{rule} covers {filter}");
        }
    }

    #[test]
    fn parse_errors_name_the_line() {
        for (text, line) in [
            ("topic bogus a/b\n", "line 1:"),
            ("\nuser\n", "line 2:"),
            ("topic read a/#/b\n", "line 1:"),
            ("topic read a/%c\n", "line 1:"),
            ("frobnicate x\n", "line 1:"),
        ] {
            let err = Acl::parse(text).unwrap_err();
            assert!(err.starts_with(line), "{text:?}: {err}");
        }
        // `topic FILTER` alone is readwrite.
        let acl = Acl::parse("topic a/b\n").unwrap();
        assert!(acl.allows(None, "c", Access::Write, "a/b"));
        assert!(acl.allows(None, "c", Access::Read, "a/b"));
    }
}
