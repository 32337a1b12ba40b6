//! Forward-compatible string enums.
//!
//! The server may add values to any enum it returns. Each such enum here is `#[non_exhaustive]`
//! and carries an `Unknown(String)` variant, so an unfamiliar value decodes instead of failing
//! the whole response, and re-encodes byte-for-byte.

/// Declares a forward-compatible string enum with `as_str`, `Display`, infallible `FromStr`,
/// and serde impls that match known values without allocating.
///
/// `pub enum Name in VALUES { … }` holds the variants to `VALUES`, a list generated from the
/// API's specification (`crate::generated::enum_values`): the build fails when the wire values
/// are not exactly those. The variants, their names and docs stay hand-written.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident in $values:path {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        const _: () = assert!(
            $crate::open_enum::same_values(&[$($wire),+], $values),
            concat!(
                "the variants of `", stringify!($name), "` are not the values the spec lists (",
                stringify!($values), "); follow the spec or record a deviation"
            )
        );

        $crate::open_enum::open_enum! {
            $(#[$meta])*
            pub enum $name {
                $( $(#[$vmeta])* $variant => $wire, )+
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the crate does not know yet, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every value this version of the crate knows, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(other) => other,
                }
            }

            /// Whether this is a value the crate does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Unknown(_))
            }

            fn from_wire(value: &str) -> Option<Self> {
                match value {
                    $( $wire => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(value).unwrap_or_else(|| $name::Unknown(value.to_owned())))
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::from_wire(value).unwrap_or_else(|| $name::Unknown(value.to_owned()))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str($crate::open_enum::Visitor::<$name>::new())
            }
        }

        impl $crate::open_enum::OpenEnum for $name {
            const EXPECTING: &'static str = concat!("a ", stringify!($name), " string");
            fn from_str_value(value: &str) -> Self {
                Self::from(value)
            }
        }

        #[cfg(feature = "schemars")]
        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "type": "string",
                    "description": "Known values are listed in `examples`; unknown values are accepted for forward compatibility.",
                    "examples": [$($wire),+]
                })
            }
        }
    };
}

pub(crate) use open_enum;

/// Whether `declared` and `listed` hold the same strings, each once: the compile-time check
/// behind `open_enum!`'s `in VALUES`.
pub(crate) const fn same_values(declared: &[&str], listed: &[&str]) -> bool {
    if declared.len() != listed.len() {
        return false;
    }
    let mut i = 0;
    while i < declared.len() {
        let mut count = 0;
        let mut j = 0;
        while j < listed.len() {
            if same_str(declared[i], listed[j]) {
                count += 1;
            }
            j += 1;
        }
        // Exactly once in the list: with equal lengths, that makes the two sets equal.
        if count != 1 {
            return false;
        }
        let mut k = 0;
        while k < i {
            if same_str(declared[i], declared[k]) {
                return false;
            }
            k += 1;
        }
        i += 1;
    }
    true
}

const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Implemented by every [`open_enum!`] type so one serde visitor serves them all.
pub(crate) trait OpenEnum: Sized {
    const EXPECTING: &'static str;
    fn from_str_value(value: &str) -> Self;
}

/// Deserializes an open enum from any string form, borrowed or owned.
pub(crate) struct Visitor<T>(std::marker::PhantomData<T>);

impl<T> Visitor<T> {
    pub(crate) fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<T: OpenEnum> serde::de::Visitor<'_> for Visitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<T, E> {
        Ok(T::from_str_value(value))
    }
}

#[cfg(test)]
mod tests {
    use super::same_values;

    #[test]
    fn values_compare_as_sets_of_distinct_strings() {
        assert!(same_values(&["a", "b"], &["b", "a"]));
        assert!(same_values(&[], &[]));
        assert!(!same_values(&["a"], &["a", "b"]));
        assert!(!same_values(&["a", "c"], &["a", "b"]));
        assert!(!same_values(&["a", "a"], &["a", "b"]));
        assert!(!same_values(&["ab"], &["a"]));
    }
}
