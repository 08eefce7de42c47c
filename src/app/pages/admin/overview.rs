//! The console overview's charts: server-rendered SVG, so they need no JavaScript. Each chart
//! has a text summary for screen readers and its figures in a table.

use crate::domain::insights::{
    ClientUse, DaySignIns, Insights, People, ACTIVE_DAYS, BUSIEST_DAYS, SIGN_IN_DAYS,
};
use crate::domain::FactorKind;
use leptos::prelude::*;

/// The sign-in chart's drawing area, in the SVG's own units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
/// Room for the last day's label, centred under the last bar.
const RIGHT: f64 = 18.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

#[component]
pub fn InsightsPanel(insights: Insights) -> impl IntoView {
    view! {
        <section class="insights" aria-labelledby="insights-title">
            <h2 id="insights-title">"Activity"</h2>
            <SignInsChart days=insights.sign_ins/>
            <div class="insight-grid">
                <ActivePeople people=insights.people.clone()/>
                <SecondFactors people=insights.people/>
                <BusiestApplications clients=insights.busiest/>
            </div>
        </section>
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `n` (at least 1): the top of an axis.
fn axis_top(n: u64) -> u64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= n.max(1) {
                return step * m;
            }
        }
        step *= 10;
    }
}

/// `Nov 7` from `2026-11-07`.
fn short_date(date: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = date.split('-').skip(1);
    let month = parts.next().and_then(|m| m.parse::<usize>().ok());
    let day = parts.next().and_then(|d| d.parse::<u32>().ok());
    match (month, day) {
        (Some(m @ 1..=12), Some(d)) => format!("{} {d}", MONTHS[m - 1]),
        _ => date.to_owned(),
    }
}

/// `1 sign-in`, `3 sign-ins`.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn percent(part: u64, whole: u64) -> u64 {
    (part * 100).checked_div(whole).unwrap_or(0)
}

#[component]
fn SignInsChart(days: Vec<DaySignIns>) -> impl IntoView {
    let succeeded: u64 = days.iter().map(|d| d.succeeded).sum();
    let failed: u64 = days.iter().map(|d| d.failed).sum();
    let top = axis_top(
        days.iter()
            .map(|d| d.succeeded + d.failed)
            .max()
            .unwrap_or(0),
    );
    let plot_height = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT - RIGHT) / days.len().max(1) as f64;
    let y = move |n: u64| TOP + plot_height * (1.0 - n as f64 / top as f64);
    let grid = [0, top / 2, top]
        .into_iter()
        .map(|n| {
            view! {
                <line class="grid" x1=LEFT x2=WIDTH - RIGHT y1=y(n) y2=y(n)/>
                <text class="axis" x=LEFT - 6.0 y=y(n) + 4.0 text-anchor="end">{n}</text>
            }
        })
        .collect_view();
    let last = days.len().saturating_sub(1);
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = LEFT + slot * i as f64 + slot * 0.15;
            let width = slot * 0.7;
            // Today and every seventh day before it.
            let label = (last - i).is_multiple_of(7).then(|| {
                view! {
                    <text class="axis" x=x + width / 2.0 y=HEIGHT - 6.0 text-anchor="middle">
                        {short_date(&d.date)}
                    </text>
                }
            });
            view! {
                <g>
                    <title>{format!("{}: {} sign-ins, {} failed", d.date, d.succeeded, d.failed)}</title>
                    <rect class="bar-ok" x=x width=width y=y(d.succeeded)
                        height=plot_height * d.succeeded as f64 / top as f64/>
                    <rect class="bar-failed" x=x width=width y=y(d.succeeded + d.failed)
                        height=plot_height * d.failed as f64 / top as f64/>
                    {label}
                </g>
            }
        })
        .collect_view();
    let summary = format!(
        "{} and {} in the last {SIGN_IN_DAYS} days.",
        counted(succeeded, "sign-in", "sign-ins"),
        counted(failed, "failed attempt", "failed attempts")
    );
    let rows = days
        .iter()
        .rev()
        .map(|d| {
            view! {
                <tr><th scope="row">{d.date.clone()}</th><td class="num">{d.succeeded}</td><td class="num">{d.failed}</td></tr>
            }
        })
        .collect_view();
    view! {
        <figure class="chart-card wide-card">
            <figcaption><strong>"Sign-ins per day"</strong>
                <span class="muted small">{format!(" · last {SIGN_IN_DAYS} days, UTC")}</span></figcaption>
            <p class="chart-summary">{summary.clone()}</p>
            <svg class="chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=summary>
                {grid}
                {bars}
            </svg>
            <p class="legend small">
                <span class="swatch bar-ok" aria-hidden="true"></span>"Signed in "
                <span class="swatch bar-failed" aria-hidden="true"></span>"Failed attempts (wrong password or second factor)"
            </p>
            <details>
                <summary>"Figures by day"</summary>
                <div class="table-wrap">
                    <table>
                        <thead><tr><th scope="col">"Day"</th><th scope="col">"Signed in"</th><th scope="col">"Failed"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </details>
        </figure>
    }
}

/// Rows of horizontal bars: a label, a bar `value / max` long, and the figure as text.
fn bar_table(caption: &'static str, rows: Vec<(String, u64, String)>, max: u64) -> impl IntoView {
    let rows = rows
        .into_iter()
        .map(|(label, value, shown)| {
            let length = if max == 0 {
                0.0
            } else {
                100.0 * value as f64 / max as f64
            };
            view! {
                <tr>
                    <th scope="row" class="text">{label}</th>
                    <td class="bar-cell">
                        <svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">
                            <rect class="bar-track" width="100" height="8"/>
                            <rect class="bar-ok" width=length height="8"/>
                        </svg>
                    </td>
                    <td class="num">{shown}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="bar-table">
            <caption class="visually-hidden">{caption}</caption>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn ActivePeople(people: People) -> impl IntoView {
    let share = percent(people.active, people.total);
    view! {
        <figure class="chart-card">
            <figcaption><strong>"Active people"</strong>
                <span class="muted small">{format!(" · signed in within {ACTIVE_DAYS} days")}</span></figcaption>
            <p class="big-figure">{people.active}</p>
            <p class="muted small">{format!("of {} people ({share}%)", people.total)}</p>
            {bar_table("Active people", vec![("Active".into(), people.active, format!("{share}%"))], people.total)}
        </figure>
    }
}

#[component]
fn SecondFactors(people: People) -> impl IntoView {
    let of_kind = |kind: FactorKind| {
        people
            .by_kind
            .iter()
            .find(|(k, _)| k == kind.as_str())
            .map_or(0, |(_, n)| *n)
    };
    let row = |label: &str, n: u64| {
        let share = percent(n, people.total);
        (label.to_owned(), n, format!("{share}% ({n})"))
    };
    let rows = vec![
        row("Any second factor", people.with_second_factor),
        row("Authenticator app", of_kind(FactorKind::Totp)),
        row("Passkey", of_kind(FactorKind::Passkey)),
        row("Email code", of_kind(FactorKind::EmailCode)),
    ];
    view! {
        <figure class="chart-card">
            <figcaption><strong>"Second factors"</strong>
                <span class="muted small">" · share of all people"</span></figcaption>
            {bar_table("People with each kind of second factor", rows, people.total)}
        </figure>
    }
}

#[component]
fn BusiestApplications(clients: Vec<ClientUse>) -> impl IntoView {
    let max = clients.first().map_or(0, |c| c.tokens);
    let empty = clients.is_empty().then(|| {
        view! { <p class="muted">{format!("No tokens were issued in the last {BUSIEST_DAYS} days.")}</p> }
    });
    let rows = clients
        .into_iter()
        .map(|c| (c.name, c.tokens, c.tokens.to_string()))
        .collect();
    view! {
        <figure class="chart-card">
            <figcaption><strong>"Busiest applications"</strong>
                <span class="muted small">{format!(" · tokens issued, last {BUSIEST_DAYS} days")}</span></figcaption>
            {empty}
            {bar_table("Tokens issued per application", rows, max)}
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(axis_top(0), 1);
        assert_eq!(axis_top(1), 1);
        assert_eq!(axis_top(3), 5);
        assert_eq!(axis_top(7), 10);
        assert_eq!(axis_top(11), 20);
        assert_eq!(axis_top(501), 1000);
    }

    #[test]
    fn dates_are_shortened_for_the_axis() {
        assert_eq!(short_date("2026-11-07"), "Nov 7");
        assert_eq!(short_date("2026-12-31"), "Dec 31");
        assert_eq!(short_date("nonsense"), "nonsense");
    }
}
