//! Topic matching, differential: `topic::matches` agrees with a naive recursive
//! reference written straight from MQTT 5.0 §4.7 for every valid filter and name;
//! validation and shared-subscription parsing never panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::topic;

#[derive(Debug, Arbitrary)]
struct Input {
    filter: String,
    name: String,
}

/// The reference: level lists compared recursively.
fn reference(filter: &[&str], name: &[&str]) -> bool {
    match (filter.split_first(), name.split_first()) {
        (Some((&"#", _)), _) => true,
        (Some((&"+", f)), Some((_, n))) => reference(f, n),
        (Some((fl, f)), Some((nl, n))) => fl == nl && reference(f, n),
        (None, None) => true,
        _ => false,
    }
}

fn naive_matches(filter: &str, name: &str) -> bool {
    // MQTT-4.7.2-1: no leading wildcard matches a `$` topic.
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let f: Vec<&str> = filter.split('/').collect();
    let n: Vec<&str> = name.split('/').collect();
    reference(&f, &n)
}

fuzz_target!(|input: Input| {
    let _ = topic::parse_shared(&input.filter);
    let filter_ok = topic::validate_filter(&input.filter).is_ok();
    let name_ok = topic::validate_name(&input.name).is_ok();
    if filter_ok && name_ok {
        assert_eq!(
            topic::matches(&input.filter, &input.name),
            naive_matches(&input.filter, &input.name),
            "{input:?}"
        );
    }
    // A valid name used as a filter matches itself.
    if name_ok {
        assert!(topic::matches(&input.name, &input.name));
    }
});
