//! [`PublishPropertySection`]: a PUBLISH's properties as received (one validated
//! slice of the packet, read in place) or as built ([`PublishProperties`]).
//!
//! A received PUBLISH's properties are validated in full at decode (Table 2-4,
//! data types, duplicates, UTF-8, value ranges) and then kept as the raw bytes of
//! the property section: no `Bytes` handle per string, no allocation. Accessors
//! parse those bytes again without validating them again, and the encoder copies
//! them as they are.
#![allow(unsafe_code)]

use core::fmt;

use bytes::Bytes;

use crate::error::{DecodeError, Rule};
use crate::packet::connect::check_topic_name;
use crate::properties::{Dropped, PropertyValue, PublishProperties, UserProperty};
use crate::property::PropertyId;
use crate::reader::{Reader, STRING_PAIR};
use crate::utf8::Utf8Bytes;
use crate::varint;
use crate::writer::Out;

/// The Response Topic is a Topic Name: no wildcards.
const RESPONSE_TOPIC: Rule = Rule::v5("MQTT-3.3.2-14");

/// The properties of a [`crate::Publish`] (MQTT 5.0 §3.3.2.3).
///
/// A decoded PUBLISH holds them as they were received: one slice of the packet,
/// validated when it was decoded, read through the accessors
/// ([`topic_alias`](Self::topic_alias), [`user_properties`](Self::user_properties),
/// ...) and re-encoded by copying it. A PUBLISH built by the application holds a
/// [`PublishProperties`]; [`to_mut`](Self::to_mut) turns the received form into
/// that one (parsing it once) to change a property.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use mqtt_proto::{Decoder, Packet, ProtocolVersion, Publish, PublishProperties, UserProperty};
///
/// let mut p = Publish::new("t", Bytes::new());
/// p.properties = PublishProperties {
///     message_expiry_interval: Some(60),
///     user_properties: vec![UserProperty::new("k", "v")],
///     ..Default::default()
/// }
/// .into();
/// let mut wire = BytesMut::new();
/// p.encode(ProtocolVersion::V5, &mut wire).unwrap();
/// let Some(Packet::Publish(mut got)) = Decoder::new(ProtocolVersion::V5).decode(&mut wire).unwrap()
/// else { panic!() };
/// assert_eq!(got.properties.message_expiry_interval(), Some(60));
/// assert_eq!(got.properties.user_properties().collect::<Vec<_>>(), [("k", "v")]);
/// got.properties.to_mut().message_expiry_interval = Some(30);
/// assert_eq!(got.properties.message_expiry_interval(), Some(30));
/// ```
#[derive(Clone, Default)]
pub struct PublishPropertySection(Option<Box<Repr>>);

#[derive(Clone)]
enum Repr {
    /// The body of a property section (without its Property Length) that
    /// [`decode`] validated; never empty. (Boxed, with the built form, so that
    /// a PUBLISH stays small to move: a `Bytes` inline would add 24 bytes to
    /// every packet.)
    Wire(Bytes),
    /// Built (or changed) by the application.
    Built(PublishProperties),
}

/// What an empty section reads as.
static EMPTY: Repr = Repr::Built(PublishProperties {
    payload_format_indicator: None,
    message_expiry_interval: None,
    topic_alias: None,
    response_topic: None,
    correlation_data: None,
    content_type: None,
    subscription_identifiers: Vec::new(),
    user_properties: Vec::new(),
});

impl From<PublishProperties> for PublishPropertySection {
    /// Holds `props`, allocating only if it is not empty.
    #[inline]
    fn from(props: PublishProperties) -> Self {
        if props.is_empty() {
            Self(None)
        } else {
            Self(Some(Box::new(Repr::Built(props))))
        }
    }
}

/// One property of a validated section.
enum Prop<'a> {
    PayloadFormatIndicator(bool),
    MessageExpiryInterval(u32),
    TopicAlias(u16),
    ResponseTopic(&'a str),
    CorrelationData(&'a [u8]),
    ContentType(&'a str),
    SubscriptionIdentifier(u32),
    UserProperty(&'a str, &'a str),
}

/// The properties of a section that [`decode`] validated, in wire order.
#[derive(Clone)]
struct WireIter<'a> {
    rest: &'a [u8],
}

/// A length-prefixed field at the front of `rest`, and what follows it.
#[inline]
fn field(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    if len > rest.len() {
        return None;
    }
    Some(rest.split_at(len))
}

/// A UTF-8 field of a validated section.
#[inline]
fn str_field(rest: &[u8]) -> Option<(&str, &[u8])> {
    let (s, rest) = field(rest)?;
    // SAFETY: `rest` is part of a `Repr::Wire` section, which only `decode`
    // creates, after checking that every string field of it (this one included:
    // the walk follows the same field boundaries) is well-formed UTF-8; `Bytes`
    // are immutable.
    Some((unsafe { core::str::from_utf8_unchecked(s) }, rest))
}

impl<'a> Iterator for WireIter<'a> {
    type Item = Prop<'a>;

    /// The next property; `None` at the end (or, which validation rules out, on
    /// anything unexpected).
    #[inline]
    fn next(&mut self) -> Option<Prop<'a>> {
        let (&id, rest) = self.rest.split_first()?;
        let (prop, rest) = match PropertyId::from_u8(id)? {
            PropertyId::PayloadFormatIndicator => {
                let (&b, rest) = rest.split_first()?;
                (Prop::PayloadFormatIndicator(b != 0), rest)
            }
            PropertyId::MessageExpiryInterval => {
                let (v, rest) = rest.split_first_chunk::<4>()?;
                (Prop::MessageExpiryInterval(u32::from_be_bytes(*v)), rest)
            }
            PropertyId::TopicAlias => {
                let (v, rest) = rest.split_first_chunk::<2>()?;
                (Prop::TopicAlias(u16::from_be_bytes(*v)), rest)
            }
            PropertyId::ResponseTopic => {
                let (s, rest) = str_field(rest)?;
                (Prop::ResponseTopic(s), rest)
            }
            PropertyId::ContentType => {
                let (s, rest) = str_field(rest)?;
                (Prop::ContentType(s), rest)
            }
            PropertyId::CorrelationData => {
                let (b, rest) = field(rest)?;
                (Prop::CorrelationData(b), rest)
            }
            PropertyId::SubscriptionIdentifier => {
                let (v, len) = varint::decode(rest).ok()??;
                (Prop::SubscriptionIdentifier(v), rest.get(len..)?)
            }
            PropertyId::UserProperty => {
                let (name, rest) = str_field(rest)?;
                let (value, rest) = str_field(rest)?;
                (Prop::UserProperty(name, value), rest)
            }
            _ => return None,
        };
        self.rest = rest;
        Some(prop)
    }
}

/// The User Properties of a PUBLISH, in their order on the wire, as
/// `(name, value)` pairs: see [`PublishPropertySection::user_properties`].
#[derive(Clone)]
pub struct UserProperties<'a>(UserRepr<'a>);

#[derive(Clone)]
enum UserRepr<'a> {
    Wire(WireIter<'a>),
    Built(core::slice::Iter<'a, UserProperty>),
}

impl<'a> Iterator for UserProperties<'a> {
    type Item = (&'a str, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            UserRepr::Wire(it) => it.find_map(|p| match p {
                Prop::UserProperty(name, value) => Some((name, value)),
                _ => None,
            }),
            UserRepr::Built(it) => it.next().map(|p| (p.name.as_str(), p.value.as_str())),
        }
    }
}

/// The Subscription Identifiers of a PUBLISH, in their order on the wire: see
/// [`PublishPropertySection::subscription_identifiers`].
#[derive(Clone)]
pub struct SubscriptionIdentifiers<'a>(IdRepr<'a>);

#[derive(Clone)]
enum IdRepr<'a> {
    Wire(WireIter<'a>),
    Built(core::slice::Iter<'a, u32>),
}

impl Iterator for SubscriptionIdentifiers<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        match &mut self.0 {
            IdRepr::Wire(it) => it.find_map(|p| match p {
                Prop::SubscriptionIdentifier(v) => Some(v),
                _ => None,
            }),
            IdRepr::Built(it) => it.next().copied(),
        }
    }
}

/// Reads one property of the received form, or of the built one.
macro_rules! accessor {
    ($(#[$meta:meta])* $name:ident -> $ty:ty, $variant:ident, $built:expr) => {
        $(#[$meta])*
        #[inline]
        pub fn $name(&self) -> Option<$ty> {
            match self.repr() {
                Repr::Wire(b) => WireIter { rest: b }.find_map(|p| match p {
                    Prop::$variant(v) => Some(v),
                    _ => None,
                }),
                Repr::Built(p) => {
                    let f: fn(&PublishProperties) -> Option<$ty> = $built;
                    f(p)
                }
            }
        }
    };
}

impl PublishPropertySection {
    /// The held form (the empty built set when there is none).
    #[inline]
    fn repr(&self) -> &Repr {
        match &self.0 {
            Some(r) => r,
            None => &EMPTY,
        }
    }

    /// `true` when no property is set.
    #[inline]
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            None => true,
            Some(r) => match &**r {
                Repr::Wire(_) => false,
                Repr::Built(p) => p.is_empty(),
            },
        }
    }

    /// `true` when the properties are held as received (a copy of the received
    /// bytes is what the encoder writes); `false` when there are none.
    pub fn is_received(&self) -> bool {
        matches!(self.repr(), Repr::Wire(_))
    }

    accessor!(
        /// 0x01 Payload Format Indicator: `true` for UTF-8 character data.
        payload_format_indicator -> bool, PayloadFormatIndicator, |p| p.payload_format_indicator
    );
    accessor!(
        /// 0x02 Message Expiry Interval, seconds.
        message_expiry_interval -> u32, MessageExpiryInterval, |p| p.message_expiry_interval
    );
    accessor!(
        /// 0x23 Topic Alias (non-zero, MQTT-3.3.2-8).
        topic_alias -> u16, TopicAlias, |p| p.topic_alias
    );
    accessor!(
        /// 0x08 Response Topic (a Topic Name, no wildcards, MQTT-3.3.2-14).
        response_topic -> &str, ResponseTopic, |p| p.response_topic.as_deref()
    );
    accessor!(
        /// 0x09 Correlation Data.
        correlation_data -> &[u8], CorrelationData, |p| p.correlation_data.as_deref()
    );
    accessor!(
        /// 0x03 Content Type.
        content_type -> &str, ContentType, |p| p.content_type.as_deref()
    );

    /// 0x26 User Properties, `(name, value)`, in their order on the wire
    /// (MQTT-3.3.2-18).
    #[inline]
    pub fn user_properties(&self) -> UserProperties<'_> {
        UserProperties(match self.repr() {
            Repr::Wire(b) => UserRepr::Wire(WireIter { rest: b }),
            Repr::Built(p) => UserRepr::Built(p.user_properties.iter()),
        })
    }

    /// 0x0B Subscription Identifiers, in their order on the wire.
    #[inline]
    pub fn subscription_identifiers(&self) -> SubscriptionIdentifiers<'_> {
        SubscriptionIdentifiers(match self.repr() {
            Repr::Wire(b) => IdRepr::Wire(WireIter { rest: b }),
            Repr::Built(p) => IdRepr::Built(p.subscription_identifiers.iter()),
        })
    }

    /// The properties as a [`PublishProperties`] (strings and binary data are
    /// slices of the received packet, not copies).
    pub fn to_properties(&self) -> PublishProperties {
        match self.repr() {
            Repr::Wire(b) => parse(b),
            Repr::Built(p) => p.clone(),
        }
    }

    /// The properties as a [`PublishProperties`], by value.
    pub fn into_properties(self) -> PublishProperties {
        match self.0.map(|r| *r) {
            None => PublishProperties::default(),
            Some(Repr::Wire(b)) => parse(&b),
            Some(Repr::Built(p)) => p,
        }
    }

    /// Takes the properties out, leaving none.
    pub fn take(&mut self) -> PublishProperties {
        core::mem::take(self).into_properties()
    }

    /// The properties, to change them: the received form is parsed into a
    /// [`PublishProperties`] first (once; the encoder then writes that).
    pub fn to_mut(&mut self) -> &mut PublishProperties {
        let r = self
            .0
            .get_or_insert_with(|| Box::new(Repr::Built(PublishProperties::default())));
        // At most two rounds: a received form is parsed into the same
        // allocation, which the second round then finds built.
        loop {
            match **r {
                Repr::Built(ref mut p) => return p,
                Repr::Wire(ref b) => {
                    let parsed = parse(b);
                    **r = Repr::Built(parsed);
                }
            }
        }
    }

    /// The size of the properties without their Property Length. (Always
    /// inlined: out of line, as the error fallback made it, a PUBLISH without
    /// properties paid a call for its 0: 64 B PUBLISH v5 encode 6.6 -> 8.0 ns.)
    #[inline(always)]
    pub(crate) fn body_len(&self) -> Result<usize, &'static str> {
        match self.0.as_deref() {
            None => Ok(0),
            Some(Repr::Wire(b)) => Ok(b.len()),
            Some(Repr::Built(p)) => match built_body_len(p) {
                Some(len) => Ok(len),
                None => built_body_len_error(p),
            },
        }
    }

    /// Writes the Property Length `body_len` and the properties at `out`;
    /// returns the cursor after them (by value: in registers when this stays
    /// out of line).
    #[inline]
    pub(crate) fn put<'a>(&self, body_len: usize, mut out: Out<'a>) -> Out<'a> {
        match self.repr() {
            Repr::Wire(b) => {
                out.put_varint(body_len as u32);
                out.extend_from_slice(b);
            }
            Repr::Built(p) => p.put(Dropped::NONE, body_len, &mut out),
        }
        out
    }
}

/// [`PublishProperties::body_len`] in one pass without a branch per field: the
/// lengths are summed and their bounds checked together at the end; `None` for
/// an invalid set, which [`built_body_len_error`] sizes again for its error.
/// (An `Option<usize>` comes back in two registers where it stays out of line;
/// a `Result` with a message went through memory.)
#[inline]
fn built_body_len(p: &PublishProperties) -> Option<usize> {
    // Identifier + value for the fixed-size ones; identifier + length + bytes
    // for strings and binary data.
    let mut len = 2 * usize::from(p.payload_format_indicator.is_some())
        + 5 * usize::from(p.message_expiry_interval.is_some());
    // Any length above 65,535 sets a bit of `longest` above 0xFFFF.
    let mut longest = 0usize;
    let mut field = |n: Option<usize>| {
        if let Some(n) = n {
            len += 3 + n;
            longest |= n;
        }
    };
    field(p.response_topic.as_ref().map(Utf8Bytes::len));
    field(p.correlation_data.as_ref().map(Bytes::len));
    field(p.content_type.as_ref().map(Utf8Bytes::len));
    let mut valid = true;
    if let Some(alias) = p.topic_alias {
        len += 3;
        valid &= alias != 0;
    }
    for &id in &p.subscription_identifiers {
        len += 1 + varint::encoded_len(id);
        valid &= id != 0 && id <= varint::MAX;
    }
    for u in &p.user_properties {
        let (name, value) = (u.name.len(), u.value.len());
        len += 5 + name + value;
        longest |= name | value;
    }
    if valid && longest <= usize::from(u16::MAX) && len <= varint::MAX as usize {
        Some(len)
    } else {
        None
    }
}

/// The error of a set that cannot be encoded, as [`PublishProperties::body_len`]
/// words it (out of line: it would otherwise make `built_body_len` too large
/// to inline).
#[cold]
#[inline(never)]
fn built_body_len_error(p: &PublishProperties) -> Result<usize, &'static str> {
    p.body_len(Dropped::NONE)
}

/// Builds a [`PublishProperties`] from a validated section (`section` is a slice
/// of it, so that the strings share its buffer).
fn parse(section: &Bytes) -> PublishProperties {
    let mut out = PublishProperties::default();
    let slice = |s: &[u8]| section.slice_ref(s);
    // The strings come out of `WireIter` as `&str`: UTF-8, checked at decode.
    let text = |s: &str| Utf8Bytes::from_str_slice(slice(s.as_bytes()), s);
    for p in (WireIter { rest: section }) {
        match p {
            Prop::PayloadFormatIndicator(v) => out.payload_format_indicator = Some(v),
            Prop::MessageExpiryInterval(v) => out.message_expiry_interval = Some(v),
            Prop::TopicAlias(v) => out.topic_alias = Some(v),
            Prop::ResponseTopic(s) => out.response_topic = Some(text(s)),
            Prop::CorrelationData(b) => out.correlation_data = Some(slice(b)),
            Prop::ContentType(s) => out.content_type = Some(text(s)),
            Prop::SubscriptionIdentifier(v) => out.subscription_identifiers.push(v),
            Prop::UserProperty(name, value) => out.user_properties.push(UserProperty {
                name: text(name),
                value: text(value),
            }),
        }
    }
    out
}

/// Decodes a PUBLISH's Property Length and properties with every rule of
/// Table 2-4 and chapter 3 (allowed identifiers, types, duplicates, value
/// ranges, UTF-8, Response Topic without wildcards), keeping them as one slice
/// of the packet. Also returns whether a Topic Alias is present.
#[inline]
pub(crate) fn decode(r: &mut Reader<'_>) -> Result<(PublishPropertySection, bool), DecodeError> {
    if r.take_zero_byte() {
        return Ok((PublishPropertySection::default(), false));
    }
    let mut s = crate::properties::section(r)?;
    let start = s.position();
    let mut seen = 0u64;
    let mut response_topic = None;
    while s.remaining() > 0 {
        let id = crate::properties::identifier(&mut s)?;
        // Every property of PUBLISH but these two may appear once (chapter 3).
        if !matches!(
            id,
            PropertyId::UserProperty | PropertyId::SubscriptionIdentifier
        ) {
            let bit = 1u64 << (id as u8 & 63);
            if seen & bit != 0 {
                return Err(crate::properties::duplicate(&s));
            }
            seen |= bit;
        }
        match id {
            PropertyId::PayloadFormatIndicator => {
                <bool as PropertyValue>::read(&mut s, id)?;
            }
            PropertyId::MessageExpiryInterval => {
                s.u32()?;
            }
            PropertyId::TopicAlias | PropertyId::SubscriptionIdentifier => {
                // Topic Alias 0 (MQTT-3.3.2-8), Subscription Identifier 0 and
                // malformed Variable Byte Integers are refused here.
                if id == PropertyId::TopicAlias {
                    <u16 as PropertyValue>::read(&mut s, id)?;
                } else {
                    <u32 as PropertyValue>::read(&mut s, id)?;
                }
            }
            PropertyId::ResponseTopic => response_topic = Some(s.str_for(None)?),
            PropertyId::ContentType => {
                s.str_for(None)?;
            }
            PropertyId::CorrelationData => s.skip_binary()?,
            PropertyId::UserProperty => {
                s.str_for(Some(STRING_PAIR))?;
                s.str_for(Some(STRING_PAIR))?;
            }
            _ => return Err(crate::properties::not_allowed(&s)),
        }
    }
    if let Some(t) = response_topic {
        check_topic_name(&s, t, Some(RESPONSE_TOPIC))?;
    }
    let raw = s.slice_from(start);
    let has_alias = seen & (1u64 << (PropertyId::TopicAlias as u8)) != 0;
    Ok((
        PublishPropertySection(Some(Box::new(Repr::Wire(raw)))),
        has_alias,
    ))
}

impl PartialEq for PublishPropertySection {
    /// Compares the properties, whatever their form (wire order of repeated
    /// properties counts; that of different properties does not).
    fn eq(&self, other: &Self) -> bool {
        match (self.repr(), other.repr()) {
            (Repr::Wire(a), Repr::Wire(b)) if a == b => true,
            (Repr::Built(a), Repr::Built(b)) => a == b,
            _ => self.to_properties() == other.to_properties(),
        }
    }
}

impl PartialEq<PublishProperties> for PublishPropertySection {
    fn eq(&self, other: &PublishProperties) -> bool {
        match self.repr() {
            Repr::Built(p) => p == other,
            Repr::Wire(_) => self.to_properties() == *other,
        }
    }
}

impl Eq for PublishPropertySection {}

impl fmt::Debug for PublishPropertySection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.repr() {
            Repr::Wire(b) => fmt::Debug::fmt(&parse(b), f),
            Repr::Built(p) => fmt::Debug::fmt(p, f),
        }
    }
}

#[cfg(test)]
mod tests;
