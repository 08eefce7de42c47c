//! How domain values are stored by the SQL backends, so that one statement binds and reads them
//! alike on both: ids are TEXT in SQLite and `uuid` in PostgreSQL, times are Unix seconds
//! (INTEGER) in SQLite and `timestamptz` in PostgreSQL.

use crate::domain::{ClientKey, TenantId, Timestamp, UserId};
use sqlx::{
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef},
    sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef},
    Decode, Encode, Postgres, Sqlite, Type,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// A plain UUID key (a team's id, a key's id), stored like the typed ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Id(pub Uuid);

/// Implements the storage of a UUID-backed type from its `Uuid` and back.
macro_rules! uuid_column {
    ($name:ty, $uuid:expr, $from:expr) => {
        impl Type<Sqlite> for $name {
            fn type_info() -> SqliteTypeInfo {
                <&str as Type<Sqlite>>::type_info()
            }
            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <&str as Type<Sqlite>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Sqlite> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut Vec<SqliteArgumentValue<'q>>,
            ) -> Result<IsNull, BoxDynError> {
                let uuid: fn(&$name) -> Uuid = $uuid;
                Encode::<Sqlite>::encode(uuid(self).to_string(), buf)
            }
        }

        impl<'r> Decode<'r, Sqlite> for $name {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                let from: fn(Uuid) -> $name = $from;
                Ok(from(Uuid::parse_str(<&str as Decode<Sqlite>>::decode(
                    value,
                )?)?))
            }
        }

        impl Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <Uuid as Type<Postgres>>::type_info()
            }
        }

        impl PgHasArrayType for $name {
            fn array_type_info() -> PgTypeInfo {
                <Uuid as PgHasArrayType>::array_type_info()
            }
        }

        impl Encode<'_, Postgres> for $name {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                let uuid: fn(&$name) -> Uuid = $uuid;
                Encode::<Postgres>::encode(uuid(self), buf)
            }
        }

        impl Decode<'_, Postgres> for $name {
            fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
                let from: fn(Uuid) -> $name = $from;
                Ok(from(<Uuid as Decode<Postgres>>::decode(value)?))
            }
        }
    };
}

uuid_column!(TenantId, |id| id.as_uuid(), TenantId::from);
uuid_column!(UserId, |id| id.as_uuid(), UserId::from);
uuid_column!(ClientKey, |id| id.as_uuid(), ClientKey::from);
uuid_column!(Id, |id| id.0, Id);

impl Type<Sqlite> for Timestamp {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Timestamp {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.unix(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Timestamp::from_unix(<i64 as Decode<Sqlite>>::decode(
            value,
        )?))
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Timestamp {
    /// Times past the year 9999 (a saturated "never") are stored as its last second.
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        const YEAR_9999_END: i64 = 253_402_300_799;
        let at = OffsetDateTime::from_unix_timestamp(self.unix().clamp(0, YEAR_9999_END))?;
        Encode::<Postgres>::encode(at, buf)
    }
}

impl Decode<'_, Postgres> for Timestamp {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        let at = <OffsetDateTime as Decode<Postgres>>::decode(value)?;
        Ok(Timestamp::from_unix(at.unix_timestamp()))
    }
}
