//! [`PropertyBox`]: a packet's property set held out of line, so that a packet
//! without properties (nearly every PUBLISH and acknowledgement) is small to move
//! and drop and allocates nothing.

use core::fmt;
use core::ops::{Deref, DerefMut};

/// A property set type ([`crate::PublishProperties`], [`crate::AckProperties`],
/// ...): what a [`PropertyBox`] can hold. Sealed: implemented by this crate's
/// property sets only.
pub trait PropertySet: Default + sealed::Sealed + 'static {
    /// The empty set, shared (what an empty [`PropertyBox`] dereferences to).
    fn empty() -> &'static Self;
    /// `true` when no property is set.
    fn is_empty(&self) -> bool;
}

pub(crate) mod sealed {
    /// Seals [`super::PropertySet`].
    pub trait Sealed {}
}

/// A packet's property set, boxed when there is one and absent (no allocation)
/// when it is empty.
///
/// It reads like the set it holds: it dereferences to it (to a shared empty set
/// when there is none), so `ack.properties.reason_string` works as a field
/// access. A mutable access (`ack.properties.reason_string = Some(..)`) allocates
/// the set on first use. Equality compares the sets, so an empty box equals an
/// absent one. (PUBLISH holds its properties in a
/// [`crate::PublishPropertySection`] instead.)
///
/// ```
/// use mqtt_proto::{AckProperties, PacketId, PubResponse};
///
/// let mut ack = PubResponse::new(PacketId::new(1).unwrap());
/// assert!(ack.properties.is_empty() && ack.properties.reason_string.is_none());
/// ack.properties.reason_string = Some("quota".into());
/// assert_eq!(ack.properties.reason_string.as_deref(), Some("quota"));
/// ack.properties = AckProperties { reason_string: Some("busy".into()), ..Default::default() }.into();
/// assert_eq!(ack.properties.into_inner().reason_string.as_deref(), Some("busy"));
/// ```
#[derive(Clone)]
pub struct PropertyBox<T>(Option<Box<T>>);

impl<T> Default for PropertyBox<T> {
    /// No properties, no allocation.
    #[inline]
    fn default() -> Self {
        Self(None)
    }
}

impl<T: PropertySet> PropertyBox<T> {
    /// Holds `set`, allocating only if it is not empty.
    #[inline]
    pub fn new(set: T) -> Self {
        if set.is_empty() {
            Self(None)
        } else {
            Self(Some(Box::new(set)))
        }
    }

    /// Holds an already boxed set.
    #[inline]
    pub(crate) fn from_box(set: Box<T>) -> Self {
        Self(Some(set))
    }

    /// `true` when no property is set (without dereferencing when nothing was
    /// ever allocated).
    #[inline]
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            None => true,
            Some(set) => set.is_empty(),
        }
    }

    /// The set, by value (the default, empty set if there is none).
    #[inline]
    pub fn into_inner(self) -> T {
        match self.0 {
            None => T::default(),
            Some(set) => *set,
        }
    }

    /// Takes the set out, leaving no properties.
    #[inline]
    pub fn take(&mut self) -> T {
        core::mem::take(self).into_inner()
    }
}

impl<T: PropertySet> Deref for PropertyBox<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match &self.0 {
            Some(set) => set,
            None => T::empty(),
        }
    }
}

impl<T: PropertySet> DerefMut for PropertyBox<T> {
    /// The set, allocated (empty) first if there is none.
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: PropertySet> From<T> for PropertyBox<T> {
    #[inline]
    fn from(set: T) -> Self {
        Self::new(set)
    }
}

impl<T: PropertySet + PartialEq> PartialEq for PropertyBox<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: PropertySet + PartialEq> PartialEq<T> for PropertyBox<T> {
    fn eq(&self, other: &T) -> bool {
        **self == *other
    }
}

impl<T: PropertySet + Eq> Eq for PropertyBox<T> {}

impl<T: PropertySet + fmt::Debug> fmt::Debug for PropertyBox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AckProperties, PublishProperties, UserProperty};

    /// An empty set is not allocated, and compares equal to an allocated empty one.
    #[test]
    fn empty_sets_allocate_nothing_and_compare_equal() {
        let none = PropertyBox::new(PublishProperties::default());
        assert!(none.0.is_none());
        let mut touched = PropertyBox::<PublishProperties>::default();
        let set: &mut PublishProperties = &mut touched;
        set.topic_alias = None;
        assert!(touched.0.is_some());
        assert_eq!(none, touched);
        assert!(touched.is_empty());
    }

    /// Reads go to the shared empty set; the first write allocates and is kept.
    #[test]
    fn reads_and_writes_go_through() {
        let mut b = PropertyBox::<AckProperties>::default();
        assert!(b.reason_string.is_none() && b.user_properties.is_empty());
        b.user_properties.push(UserProperty::new("k", "v"));
        assert!(!b.is_empty());
        assert_eq!(b.user_properties.len(), 1);
        let taken = b.take();
        assert_eq!(taken.user_properties.len(), 1);
        assert!(b.is_empty() && b.0.is_none());
    }
}
