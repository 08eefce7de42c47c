//! The console overview's figures: sign-ins per day, active people, second factors and the
//! busiest applications. They come from the audit log, so reading them takes `audit:read`.

use super::Actor;
use crate::domain::insights::{Insights, ACTIVE_DAYS, BUSIEST_DAYS, BUSIEST_SHOWN, SIGN_IN_DAYS};
use crate::domain::{Tenant, Timestamp};
use crate::error::AppResult;
use crate::state::AppState;

const DAY_SECS: i64 = 24 * 3600;

pub async fn overview(state: &AppState, actor: &Actor, tenant: &Tenant) -> AppResult<Insights> {
    actor.require(tenant, "audit:read")?;
    let now = Timestamp::now();
    let today = now.unix().div_euclid(DAY_SECS);
    let first_day = Timestamp::from_unix((today - SIGN_IN_DAYS + 1) * DAY_SECS);
    let figures = &state.store.insights;
    let sign_ins = figures.sign_ins_per_day(tenant.id, first_day).await?;
    let people = figures
        .people(tenant.id, now.plus_secs(-ACTIVE_DAYS * DAY_SECS))
        .await?;
    let mut busiest = figures
        .busiest_clients(
            tenant.id,
            now.plus_secs(-BUSIEST_DAYS * DAY_SECS),
            BUSIEST_SHOWN,
        )
        .await?;
    for client in &mut busiest {
        // A deleted application keeps its id in the log; it is shown by id.
        client.name = match state
            .store
            .clients
            .by_client_id(tenant.id, &client.client_id)
            .await?
        {
            Some(found) => found.name,
            None => client.client_id.clone(),
        };
    }
    let mut sign_ins = Insights::every_day(&sign_ins, today);
    for day in &mut sign_ins {
        day.date = date_of(day.day);
    }
    Ok(Insights {
        sign_ins,
        people,
        busiest,
    })
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
fn date_of(day: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(day * DAY_SECS)
        .ok()
        .and_then(|at| at.date().format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_are_utc_dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(20_793), "2026-12-06");
    }
}
