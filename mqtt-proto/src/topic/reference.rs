//! The reference matcher of MQTT 5.0 §4.7, written straight from the standard and
//! slow: [`super::matches`] is checked against it by this crate's unit tests and by
//! the fuzz target `mqtt_topic_match`, which includes this file by path (so it uses
//! `std` only).

/// Whether `filter` matches `name`, both valid: no leading wildcard matches a `$`
/// topic (MQTT-4.7.2-1), then the levels are compared one by one.
pub(crate) fn naive_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let f: Vec<&str> = filter.split('/').collect();
    let n: Vec<&str> = name.split('/').collect();
    levels(&f, &n)
}

/// Level lists compared recursively.
fn levels(filter: &[&str], name: &[&str]) -> bool {
    match (filter.split_first(), name.split_first()) {
        (Some((&"#", _)), _) => true,
        (Some((&"+", f)), Some((_, n))) => levels(f, n),
        (Some((fl, f)), Some((nl, n))) => fl == nl && levels(f, n),
        (None, None) => true,
        _ => false,
    }
}
