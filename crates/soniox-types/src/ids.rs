//! Identifier newtypes, so a file id cannot be passed where a transcription id is expected.

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id received from the API or stored by the caller.
            ///
            /// The API issues UUIDs, but the value is kept opaque: nothing here relies on its
            /// format.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps the id.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type! {
    /// The id of a transcription job (a UUID issued by Soniox).
    ///
    /// ```
    /// use soniox_types::TranscriptionId;
    ///
    /// let id = TranscriptionId::new("548d023b-2b3d-4dc2-a3ef-cca26d05fd9a");
    /// assert_eq!(id.to_string(), "548d023b-2b3d-4dc2-a3ef-cca26d05fd9a");
    /// ```
    TranscriptionId
}

id_type! {
    /// The id of an uploaded file (a UUID issued by Soniox).
    FileId
}
