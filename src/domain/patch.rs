//! Three-state fields for PATCH bodies: absent (leave as is), `null` (clear), a value (set).

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Value(v),
        })
    }
}

impl<T> Patch<T> {
    /// Applies the patch to an optional field.
    pub fn apply_optional(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => current,
            Patch::Null => None,
            Patch::Value(v) => Some(v),
        }
    }

    /// Applies the patch to a required field; `null` is refused with `field` named.
    pub fn apply_required(self, current: T, field: &str) -> Result<T, String> {
        match self {
            Patch::Absent => Ok(current),
            Patch::Null => Err(format!("{field}: may not be null")),
            Patch::Value(v) => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        a: Patch<i64>,
    }

    #[test]
    fn three_states() {
        let absent: Body = serde_json::from_str("{}").unwrap();
        let null: Body = serde_json::from_str(r#"{"a": null}"#).unwrap();
        let value: Body = serde_json::from_str(r#"{"a": 3}"#).unwrap();
        assert_eq!(absent.a, Patch::Absent);
        assert_eq!(null.a, Patch::Null);
        assert_eq!(value.a, Patch::Value(3));
        assert_eq!(Patch::Absent.apply_optional(Some(1)), Some(1));
        assert_eq!(Patch::<i64>::Null.apply_optional(Some(1)), None);
        assert!(Patch::<i64>::Null.apply_required(1, "a").is_err());
    }
}
