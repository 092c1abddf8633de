//! Topic matching, differential: `topic::matches` agrees with a naive recursive
//! reference written straight from MQTT 5.0 §4.7 for every valid filter and name;
//! validation and shared-subscription parsing never panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::topic;

#[path = "../../mqtt-proto/src/topic/reference.rs"]
mod reference;
use reference::naive_matches;

#[derive(Debug, Arbitrary)]
struct Input {
    filter: String,
    name: String,
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
