//! Time in a cue: English day and month expressions ("on 29 Dec 2023", "December
//! 29th", "in May", "yesterday", "last week", "New Year's Eve", "2024-01-03") turned
//! into instants ranges, relative to the request's `as_of`. Activation favours
//! candidates created inside one of them (docs/activation.md, "Time in the cue").
//!
//! Pure and small on purpose: a day or month named without a year is the latest
//! such day or month not after `as_of`; weekday names and vague words ("recently")
//! are ignored. Ranges are widened by [`SLACK_MS`] on both sides, because a chat's
//! times are local and the store keeps UTC.

const DAY_MS: i64 = 86_400_000;

/// Widening of every range on both sides (6 hours).
pub const SLACK_MS: i64 = 6 * 3_600_000;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn month_of(word: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let w = word.trim_end_matches('.');
    if w.len() < 3 {
        return None;
    }
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    NAMES
        .iter()
        .zip(full)
        .position(|(short, long)| {
            w == *short
                || (w.len() >= 3 && long.starts_with(w) && w.len() <= long.len())
                || (w == "sept" && *short == "sep")
        })
        .map(|p| p as u32 + 1)
}

fn day_of(word: &str) -> Option<u32> {
    let w = word
        .trim_end_matches("st")
        .trim_end_matches("nd")
        .trim_end_matches("rd")
        .trim_end_matches("th");
    let d: u32 = w.parse().ok()?;
    (1..=31).contains(&d).then_some(d)
}

fn year_of(word: &str) -> Option<i64> {
    let y: i64 = word.parse().ok()?;
    (1900..=2200).contains(&y).then_some(y)
}

fn day_range(y: i64, m: u32, d: u32) -> (i64, i64) {
    let start = days_from_civil(y, m, d) * DAY_MS;
    (start - SLACK_MS, start + DAY_MS + SLACK_MS)
}

fn month_range(y: i64, m: u32) -> (i64, i64) {
    let start = days_from_civil(y, m, 1) * DAY_MS;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let end = days_from_civil(ny, nm, 1) * DAY_MS;
    (start - SLACK_MS, end + SLACK_MS)
}

/// The year that puts month `m` (day `d`) latest but not after `as_of`.
fn latest_year(as_of_ms: i64, m: u32, d: u32) -> i64 {
    let (y, am, ad) = civil_from_days(as_of_ms.div_euclid(DAY_MS));
    if (m, d) <= (am, ad) { y } else { y - 1 }
}

/// Splits text into lowercase words of letters, digits and `'`/`-`/`.`/`/`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-' || c == '.' || c == '/'))
        .map(|w| {
            w.trim_matches(|c: char| c == '.' || c == '\'' || c == '-')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// A numeric date: `2023-12-29`, `29.12.2023` or `29/12/2023` (day first).
fn numeric_date(w: &str) -> Option<(i64, u32, u32)> {
    let parts: Vec<&str> = w.split(['-', '.', '/']).collect();
    if parts.len() != 3 {
        return None;
    }
    let n: Vec<i64> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (y, m, d) = if parts[0].len() == 4 {
        (n[0], n[1], n[2])
    } else if parts[2].len() == 4 {
        (n[2], n[1], n[0])
    } else {
        return None;
    };
    let (m, d) = (u32::try_from(m).ok()?, u32::try_from(d).ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d) && (1900..=2200).contains(&y))
        .then_some((y, m, d))
}

/// The time ranges `[start, end)` (milliseconds since the epoch, widened by
/// [`SLACK_MS`]) that `text` names, relative to `as_of_ms`; empty when it names none.
/// At most 8 ranges, in order of appearance.
pub fn time_ranges(text: &str, as_of_ms: i64) -> Vec<(i64, i64)> {
    let w = words(text);
    let mut out: Vec<(i64, i64)> = Vec::new();
    let today = as_of_ms.div_euclid(DAY_MS);
    let day = |days: i64| -> (i64, i64) {
        let (y, m, d) = civil_from_days(days);
        day_range(y, m, d)
    };
    let mut i = 0;
    while i < w.len() && out.len() < 8 {
        let cur = w[i].as_str();
        let next = w.get(i + 1).map(String::as_str);
        let next2 = w.get(i + 2).map(String::as_str);
        // Holidays.
        let holiday = match (cur, next, next2) {
            ("christmas", Some("eve"), _) => Some((12, 24, 2)),
            ("christmas", _, _) => Some((12, 25, 1)),
            ("new", Some("year's" | "years" | "year"), Some("eve")) => Some((12, 31, 3)),
            ("new", Some("year's" | "years" | "year"), Some("day")) => Some((1, 1, 3)),
            ("nye", _, _) => Some((12, 31, 1)),
            _ => None,
        };
        if let Some((m, d, used)) = holiday {
            let y = latest_year(as_of_ms, m, d);
            out.push(day_range(y, m, d));
            i += used;
            continue;
        }
        match (cur, next) {
            ("today" | "tonight", _) => {
                out.push(day(today));
                i += 1;
                continue;
            }
            ("yesterday", _) => {
                out.push(day(today - 1));
                i += 1;
                continue;
            }
            ("last" | "past", Some("week")) => {
                out.push(((today - 14) * DAY_MS, (today + 1) * DAY_MS));
                i += 2;
                continue;
            }
            ("this", Some("week")) => {
                out.push(((today - 7) * DAY_MS, (today + 1) * DAY_MS));
                i += 2;
                continue;
            }
            ("last" | "past", Some("month")) => {
                let (y, m, _) = civil_from_days(today);
                let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
                out.push(month_range(py, pm));
                i += 2;
                continue;
            }
            _ => {}
        }
        if let Some((y, m, d)) = numeric_date(cur) {
            out.push(day_range(y, m, d));
            i += 1;
            continue;
        }
        // "<day> <month> [year]"
        if let (Some(d), Some(m)) = (day_of(cur), next.and_then(month_of)) {
            let (y, used) = match next2.and_then(year_of) {
                Some(y) => (y, 3),
                None => (latest_year(as_of_ms, m, d), 2),
            };
            out.push(day_range(y, m, d));
            i += used;
            continue;
        }
        // "<month> <day> [year]" or "<month> <year>" or "<month>" after "in"/"of".
        if let Some(m) = month_of(cur) {
            // "may" alone is a verb too often: only with a day, a year or "in".
            let prev = i.checked_sub(1).and_then(|p| w.get(p)).map(String::as_str);
            if let Some(d) = next.and_then(day_of) {
                let (y, used) = match next2.and_then(year_of) {
                    Some(y) => (y, 3),
                    None => (latest_year(as_of_ms, m, d), 2),
                };
                out.push(day_range(y, m, d));
                i += used;
                continue;
            }
            if let Some(y) = next.and_then(year_of) {
                out.push(month_range(y, m));
                i += 2;
                continue;
            }
            if matches!(
                prev,
                Some("in" | "during" | "of" | "early" | "late" | "mid")
            ) && (cur != "may" || prev == Some("in"))
            {
                let y = latest_year(as_of_ms, m, 1);
                out.push(month_range(y, m));
                i += 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        let (y, m, d) = numeric_date(s).expect("date");
        days_from_civil(y, m, d) * DAY_MS
    }

    #[test]
    fn civil_round_trip() {
        for z in [-1000, 0, 1, 19_720, 19_725, 60_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn dates_and_months() {
        let as_of = ms("2024-01-20") + 3_600_000;
        let day = |s: &str| (ms(s) - SLACK_MS, ms(s) + DAY_MS + SLACK_MS);
        assert_eq!(
            time_ranges("What pasta did Kate make on 29 Dec 2023?", as_of),
            vec![day("2023-12-29")]
        );
        assert_eq!(
            time_ranges("on December 29th", as_of),
            vec![day("2023-12-29")]
        );
        assert_eq!(time_ranges("on 3 January", as_of), vec![day("2024-01-03")]);
        assert_eq!(time_ranges("2024-01-03 and 4.1.2024", as_of).len(), 2);
        assert_eq!(
            time_ranges("on New Year's Eve", as_of),
            vec![day("2023-12-31")]
        );
        assert_eq!(time_ranges("yesterday", as_of), vec![day("2024-01-19")]);
        assert_eq!(
            time_ranges("What happened in December?", as_of),
            vec![(ms("2023-12-01") - SLACK_MS, ms("2024-01-01") + SLACK_MS)]
        );
        assert!(time_ranges("You may go; what did Emi say?", as_of).is_empty());
        assert!(time_ranges("Did he march on?", as_of).is_empty());
        assert_eq!(time_ranges("last week", as_of).len(), 1);
    }
}
