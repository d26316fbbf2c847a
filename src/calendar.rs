//! Business-hours calendars and deadline arithmetic in working time (pure).
//!
//! A calendar is a time zone, weekly opening hours (several ranges per day, a range
//! may run past midnight) and holidays (a date, or a day of every year). Working time
//! is counted in real elapsed time within the open intervals, so a deadline is right
//! across weekends, holidays, overnight ranges and daylight-saving changes: opening
//! hours are read in local time, then turned into instants.
//!
//! An overnight range belongs to the day it starts on: Friday's `22:00-06:00` runs
//! into Saturday, and a holiday closes the ranges that start on that date.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

/// How far ahead a deadline is looked for: a year of working time in the thinnest
/// calendar that is still open some hours a week, with room to spare.
const MAX_DAYS_SCANNED: i64 = 12 * 366;

/// One opening range within a day, in local time. `end <= start` runs past midnight;
/// an `end` of midnight (`24:00`) closes at the end of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Opens.
    pub start: NaiveTime,
    /// Closes.
    pub end: NaiveTime,
}

/// A day the calendar is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holiday {
    /// One date.
    Date(NaiveDate),
    /// The same day every year (month, day).
    Yearly(u32, u32),
}

/// A business-hours calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// Its name, as automations and SLA policies refer to it.
    pub name: String,
    /// The time zone its hours are read in.
    pub timezone: Tz,
    /// Opening ranges by weekday, Monday first, each sorted by start.
    pub week: [Vec<Range>; 7],
    /// Days it is closed.
    pub holidays: Vec<Holiday>,
}

impl Calendar {
    /// Whether it opens at all in a week (a calendar that never opens would make every
    /// deadline infinite; loading refuses it).
    pub fn opens(&self) -> bool {
        self.week.iter().any(|day| !day.is_empty())
    }

    fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.iter().any(|h| match *h {
            Holiday::Date(d) => d == date,
            Holiday::Yearly(m, d) => date.month() == m && date.day() == d,
        })
    }

    /// The open intervals of `date` (local), as instants, in order of opening.
    fn intervals_of(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.is_holiday(date) {
            return Vec::new();
        }
        let ranges = &self.week[date.weekday().num_days_from_monday() as usize];
        ranges
            .iter()
            .filter_map(|r| {
                let start = date.and_time(r.start);
                let end = if r.end <= r.start {
                    date.succ_opt()?.and_time(r.end)
                } else {
                    date.and_time(r.end)
                };
                let (start, end) = (self.instant(start, true), self.instant(end, false));
                (end > start).then_some((start, end))
            })
            .collect()
    }

    /// The instant of a local time: in a repeated hour (autumn) the first for an
    /// opening and the second for a closing, so the range lasts as long as it really
    /// does; in a skipped hour (spring) the moment the clocks jump.
    fn instant(&self, local: NaiveDateTime, opening: bool) -> DateTime<Utc> {
        let mut t = local;
        for _ in 0..=24 * 60 {
            match self.timezone.from_local_datetime(&t) {
                LocalResult::Single(at) => return at.with_timezone(&Utc),
                LocalResult::Ambiguous(first, second) => {
                    return if opening { first } else { second }.with_timezone(&Utc);
                }
                LocalResult::None => t += Duration::minutes(1),
            }
        }
        Utc.from_utc_datetime(&local)
    }

    /// The open intervals from the one that contains `from` on, in order, without
    /// overlaps (a range running past midnight may overlap the next day's first).
    fn open_from(
        &self,
        from: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        // The day before may have a range running into `from`'s day.
        let first = from.with_timezone(&self.timezone).date_naive() - Duration::days(1);
        let mut cursor = from;
        (0..MAX_DAYS_SCANNED)
            .filter_map(move |i| first.checked_add_signed(Duration::days(i)))
            .flat_map(|date| self.intervals_of(date))
            .filter_map(move |(start, end)| {
                let start = start.max(cursor);
                if end <= start {
                    return None;
                }
                cursor = end;
                Some((start, end))
            })
    }

    /// The instant at which `working` time has passed since `from`. A deadline that
    /// falls exactly on a closing time is that closing time, not the next opening.
    /// `None` if it is further away than the calendar is scanned (about 12 years).
    pub fn add(&self, from: DateTime<Utc>, working: Duration) -> Option<DateTime<Utc>> {
        let mut left = working.max(Duration::zero());
        for (start, end) in self.open_from(from) {
            let open = end - start;
            if left <= open {
                return Some(start + left);
            }
            left -= open;
        }
        None
    }

    /// Working time between two instants (zero if `to` is not after `from`).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if to <= from {
            return total;
        }
        for (start, end) in self.open_from(from) {
            if start >= to {
                break;
            }
            total += end.min(to) - start;
        }
        total
    }
}

/// Parses `HH:MM-HH:MM` (`24:00` allowed as a closing time).
pub fn parse_range(text: &str) -> Result<Range, String> {
    let bad = || format!("{text:?} is not a range of hours: write it like \"09:00-17:30\"");
    let (start, end) = text.trim().split_once('-').ok_or_else(bad)?;
    let time = |t: &str| -> Option<NaiveTime> {
        let t = t.trim();
        if t == "24:00" {
            return Some(NaiveTime::MIN);
        }
        NaiveTime::parse_from_str(t, "%H:%M").ok()
    };
    let (start, end) = (time(start).ok_or_else(bad)?, time(end).ok_or_else(bad)?);
    if start == end && end != NaiveTime::MIN {
        return Err(format!("{text:?} opens and closes at the same time"));
    }
    Ok(Range { start, end })
}

/// Parses a holiday: `YYYY-MM-DD` (that date) or `MM-DD` (every year).
pub fn parse_holiday(text: &str) -> Result<Holiday, String> {
    let t = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(Holiday::Date(date));
    }
    // Every year: check the day exists in a leap year (02-29 is allowed).
    if let Ok(date) = NaiveDate::parse_from_str(&format!("2024-{t}"), "%Y-%m-%d") {
        return Ok(Holiday::Yearly(date.month(), date.day()));
    }
    Err(format!(
        "{text:?} is not a holiday: write a date (\"2026-12-25\") or a day of every year (\"12-25\")"
    ))
}

/// The weekdays a key of the `[hours]` table names: `mon` … `sun`, or `weekdays`.
pub fn weekdays_named(key: &str) -> Option<Vec<Weekday>> {
    use Weekday::*;
    Some(match key {
        "mon" => vec![Mon],
        "tue" => vec![Tue],
        "wed" => vec![Wed],
        "thu" => vec![Thu],
        "fri" => vec![Fri],
        "sat" => vec![Sat],
        "sun" => vec![Sun],
        "weekdays" => vec![Mon, Tue, Wed, Thu, Fri],
        "weekend" => vec![Sat, Sun],
        "daily" => vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn calendar(tz: &str, week: &[(&str, &[&str])], holidays: &[&str]) -> Calendar {
        let mut days: [Vec<Range>; 7] = Default::default();
        for (key, ranges) in week {
            for day in weekdays_named(key).unwrap() {
                let slot = &mut days[day.num_days_from_monday() as usize];
                slot.extend(ranges.iter().map(|r| parse_range(r).unwrap()));
                slot.sort_by_key(|r| r.start);
            }
        }
        Calendar {
            name: "test".into(),
            timezone: tz.parse().unwrap(),
            week: days,
            holidays: holidays.iter().map(|h| parse_holiday(h).unwrap()).collect(),
        }
    }

    fn office(tz: &str) -> Calendar {
        calendar(tz, &[("weekdays", &["09:00-12:00", "13:00-17:00"])], &[])
    }

    fn mins(m: i64) -> Duration {
        Duration::minutes(m)
    }

    #[test]
    fn deadlines_in_working_time() {
        let berlin = office("Europe/Berlin");
        // 2026-11-30 is a Monday; Berlin is UTC+1 in winter.
        let cases = [
            // Within a morning.
            ("2026-11-30T08:00:00Z", mins(30), "2026-11-30T08:30:00Z"),
            // Across lunch: 10:30 local, 1h30 to noon, lunch, 30 min -> 13:30 local.
            ("2026-11-30T09:30:00Z", mins(120), "2026-11-30T12:30:00Z"),
            // Before opening: the clock starts at 09:00 local.
            ("2026-11-30T05:00:00Z", mins(15), "2026-11-30T08:15:00Z"),
            // Exactly on a closing time: that closing time.
            ("2026-11-30T15:00:00Z", mins(60), "2026-11-30T16:00:00Z"),
            // Past the day's end: next morning.
            ("2026-11-30T15:30:00Z", mins(60), "2026-12-01T08:30:00Z"),
            // Friday afternoon over the weekend to Monday.
            ("2026-12-04T15:00:00Z", mins(120), "2026-12-07T09:00:00Z"),
            // Started on Saturday: Monday morning.
            ("2026-12-05T12:00:00Z", mins(30), "2026-12-07T08:30:00Z"),
            // Four working hours is half of Monday's seven.
            ("2026-11-30T08:00:00Z", mins(240), "2026-11-30T13:00:00Z"),
            // A whole week of working time (35 h) from Monday's opening.
            (
                "2026-11-30T08:00:00Z",
                mins(35 * 60),
                "2026-12-04T16:00:00Z",
            ),
        ];
        for (from, working, want) in cases {
            assert_eq!(
                berlin.add(utc(from), working),
                Some(utc(want)),
                "{from} + {working}"
            );
        }
    }

    #[test]
    fn holidays_close_the_day_and_yearly_ones_every_year() {
        let cal = calendar(
            "Europe/London",
            &[("weekdays", &["09:00-17:00"])],
            &["2026-12-25", "12-28", "01-01"],
        );
        // Thursday 24 Dec 16:00 + 2h: Friday 25 is closed, the weekend, Monday 28 is a
        // yearly holiday: Tuesday 29 10:00.
        assert_eq!(
            cal.add(utc("2026-12-24T16:00:00Z"), mins(120)),
            Some(utc("2026-12-29T10:00:00Z"))
        );
        // The yearly 01-01 closes 2027 and 2028 alike.
        for (from, want) in [
            ("2026-12-31T16:30:00Z", "2027-01-04T09:30:00Z"), // Fri 1 Jan 2027: next Mon
            ("2027-12-31T16:30:00Z", "2028-01-03T09:30:00Z"), // Sat 1 Jan 2028: the weekend anyway
        ] {
            assert_eq!(cal.add(utc(from), mins(60)), Some(utc(want)), "{from}");
        }
    }

    #[test]
    fn overnight_ranges_run_into_the_next_day() {
        // A night desk: 22:00-06:00 Monday to Friday nights (UTC).
        let night = calendar("UTC", &[("weekdays", &["22:00-06:00"])], &[]);
        // Monday 23:00 + 2h = Tuesday 01:00.
        assert_eq!(
            night.add(utc("2026-11-30T23:00:00Z"), mins(120)),
            Some(utc("2026-12-01T01:00:00Z"))
        );
        // Saturday 03:00 is still Friday's night.
        assert_eq!(
            night.add(utc("2026-12-05T03:00:00Z"), mins(60)),
            Some(utc("2026-12-05T04:00:00Z"))
        );
        // Saturday 05:30 + 1h: 30 min Friday night, then Monday's at 22:00.
        assert_eq!(
            night.add(utc("2026-12-05T05:30:00Z"), mins(60)),
            Some(utc("2026-12-07T22:30:00Z"))
        );
        // A range to midnight, then one from midnight: counted once, no gap.
        let split = calendar(
            "UTC",
            &[("mon", &["20:00-24:00"]), ("tue", &["00:00-02:00"])],
            &[],
        );
        assert_eq!(
            split.add(utc("2026-11-30T23:00:00Z"), mins(120)),
            Some(utc("2026-12-01T01:00:00Z"))
        );
        // Overlapping ranges (Monday night into Tuesday's early range) count once.
        let overlap = calendar(
            "UTC",
            &[("mon", &["22:00-04:00"]), ("tue", &["02:00-06:00"])],
            &[],
        );
        assert_eq!(
            overlap.between(utc("2026-11-30T00:00:00Z"), utc("2026-12-02T00:00:00Z")),
            mins(8 * 60)
        );
    }

    #[test]
    fn daylight_saving_changes_in_two_time_zones() {
        // Europe: clocks go forward on 29 March 2026 (02:00 -> 03:00) and back on 25
        // October 2026 (03:00 -> 02:00). A 24/7 calendar counts real time.
        let always = calendar("Europe/Berlin", &[("daily", &["00:00-24:00"])], &[]);
        assert_eq!(
            always.between(utc("2026-03-28T23:00:00Z"), utc("2026-03-29T22:00:00Z")),
            mins(23 * 60),
            "the local day of 29 March has 23 hours"
        );
        assert_eq!(
            always.between(utc("2026-10-24T22:00:00Z"), utc("2026-10-25T23:00:00Z")),
            mins(25 * 60),
            "the local day of 25 October has 25 hours"
        );
        // A night shift over the change: 22:00-06:00 Saturday night is 7 hours in
        // spring and 9 in autumn.
        let night = calendar("Europe/Berlin", &[("sat", &["22:00-06:00"])], &[]);
        assert_eq!(
            night.between(utc("2026-03-28T00:00:00Z"), utc("2026-03-30T00:00:00Z")),
            mins(7 * 60)
        );
        assert_eq!(
            night.between(utc("2026-10-24T00:00:00Z"), utc("2026-10-26T00:00:00Z")),
            mins(9 * 60)
        );
        // New York changes on 8 March and 1 November 2026. Office hours keep their
        // local times: Friday 16:00 EST + 2h = Monday 10:00 EDT (14:00 UTC).
        let new_york = calendar("America/New_York", &[("weekdays", &["09:00-17:00"])], &[]);
        assert_eq!(
            new_york.add(utc("2026-03-06T21:00:00Z"), mins(120)),
            Some(utc("2026-03-09T14:00:00Z"))
        );
        // …and back: Friday 30 Oct 16:00 EDT + 2h = Monday 2 Nov 10:00 EST (15:00 UTC).
        assert_eq!(
            new_york.add(utc("2026-10-30T20:00:00Z"), mins(120)),
            Some(utc("2026-11-02T15:00:00Z"))
        );
        // A range that opens in the skipped hour opens when the clocks jump.
        let early = calendar("America/New_York", &[("sun", &["02:30-04:00"])], &[]);
        assert_eq!(
            early.between(utc("2026-03-08T00:00:00Z"), utc("2026-03-09T00:00:00Z")),
            mins(60),
            "02:30 does not exist on 8 March: open 03:00-04:00 EDT"
        );
    }

    #[test]
    fn between_and_add_agree() {
        let berlin = office("Europe/Berlin");
        let from = utc("2026-12-03T10:17:00Z");
        for m in [1, 59, 60, 61, 179, 420, 421, 2000, 10_000] {
            let due = berlin.add(from, mins(m)).unwrap();
            assert_eq!(berlin.between(from, due), mins(m), "{m} minutes");
        }
    }

    #[test]
    fn a_calendar_that_never_opens_has_no_deadline() {
        let closed = calendar("UTC", &[], &[]);
        assert!(!closed.opens());
        assert_eq!(closed.add(utc("2026-11-30T00:00:00Z"), mins(1)), None);
    }

    #[test]
    fn ranges_and_holidays_parse_or_say_why() {
        assert_eq!(
            parse_range("09:00-17:30").unwrap(),
            Range {
                start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(17, 30, 0).unwrap()
            }
        );
        assert_eq!(parse_range("18:00-24:00").unwrap().end, NaiveTime::MIN);
        for bad in ["9-5", "09:00", "25:00-26:00", "09:00-09:00"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_holiday("12-25").unwrap(), Holiday::Yearly(12, 25));
        assert_eq!(parse_holiday("02-29").unwrap(), Holiday::Yearly(2, 29));
        assert!(matches!(
            parse_holiday("2026-12-25").unwrap(),
            Holiday::Date(_)
        ));
        assert!(parse_holiday("13-01").is_err());
        assert!(parse_holiday("Christmas").is_err());
    }
}
