//! The figures of a tenant's console overview, counted from what the store keeps: the audit
//! log, the people and their second factors.

use serde::{Deserialize, Serialize};

/// Days (UTC) the overview's sign-in chart covers, today included.
pub const SIGN_IN_DAYS: i64 = 30;
/// People who signed in within this many days count as active.
pub const ACTIVE_DAYS: i64 = 30;
/// Applications are ranked by the tokens issued to them within this many days: the count
/// reads every `token.issued` event of the period, so it stays short.
pub const BUSIEST_DAYS: i64 = 7;
/// How many applications the overview ranks.
pub const BUSIEST_SHOWN: u32 = 5;

/// Sign-ins of one UTC day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySignIns {
    /// Days since 1970-01-01.
    pub day: i64,
    /// `YYYY-MM-DD`, filled in by the overview (the store counts day numbers).
    pub date: String,
    pub succeeded: u64,
    /// Wrong passwords and refused second factors.
    pub failed: u64,
}

/// The people of a tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct People {
    pub total: u64,
    /// Signed in within [`ACTIVE_DAYS`].
    pub active: u64,
    /// With at least one second factor (backup codes alone are none).
    pub with_second_factor: u64,
    /// People with each kind of second factor (`totp`, `email_code`, `passkey`), by kind name.
    pub by_kind: Vec<(String, u64)>,
}

/// An application and the tokens issued to it within [`BUSIEST_DAYS`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientUse {
    pub client_id: String,
    /// Its display name, filled in by the overview (the store counts ids).
    pub name: String,
    pub tokens: u64,
}

/// Everything the overview draws.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insights {
    /// One entry per day of [`SIGN_IN_DAYS`], oldest first, days without sign-ins as zeros.
    pub sign_ins: Vec<DaySignIns>,
    pub people: People,
    pub busiest: Vec<ClientUse>,
}

impl Insights {
    /// The days of `counted` (any order, days without sign-ins missing) as [`SIGN_IN_DAYS`]
    /// entries ending with `today`.
    pub fn every_day(counted: &[DaySignIns], today: i64) -> Vec<DaySignIns> {
        (today - SIGN_IN_DAYS + 1..=today)
            .map(|day| {
                counted
                    .iter()
                    .find(|c| c.day == day)
                    .cloned()
                    .unwrap_or(DaySignIns {
                        day,
                        ..DaySignIns::default()
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_of_the_period_has_an_entry_in_order() {
        let counted = [
            DaySignIns {
                day: 100,
                succeeded: 3,
                failed: 1,
                ..DaySignIns::default()
            },
            DaySignIns {
                day: 90,
                succeeded: 7,
                ..DaySignIns::default()
            },
            // Outside the period: left out.
            DaySignIns {
                day: 60,
                succeeded: 9,
                failed: 9,
                ..DaySignIns::default()
            },
        ];
        let days = Insights::every_day(&counted, 100);
        assert_eq!(days.len() as i64, SIGN_IN_DAYS);
        assert_eq!(days.first().unwrap().day, 100 - SIGN_IN_DAYS + 1);
        assert_eq!(days.last().unwrap(), &counted[0]);
        assert_eq!(days.iter().find(|d| d.day == 90).unwrap().succeeded, 7);
        assert_eq!(days.iter().map(|d| d.succeeded).sum::<u64>(), 10);
    }
}
