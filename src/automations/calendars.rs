//! Business-hours calendars as people write them: `calendars/<name>.toml` beside the
//! automation files, checked with file, line and column like them.
//!
//! ```toml
//! timezone = "Europe/Berlin"
//! holidays = ["12-25", "12-26", "2027-04-02"]   # every year, or one date
//! [hours]
//! weekdays = ["09:00-12:30", "13:30-17:30"]     # or mon … sun, weekend, daily
//! fri = ["09:00-15:00"]                          # a day's own key wins
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::Diagnostic;
use super::diagnostic::{Locator, path};
use crate::calendar::{self, Calendar, Range};

/// The folder of the automations directory that holds calendars.
pub const DIR: &str = "calendars";

/// The calendars in force, by name.
#[derive(Debug, Clone, Default)]
pub struct Calendars(HashMap<String, Arc<Calendar>>);

impl Calendars {
    /// The calendar called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Calendar>> {
        self.0.get(name)
    }

    /// Every name, sorted, for error messages.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.0.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `calendar` unless one of its name is there.
    pub fn keep(&mut self, calendar: Arc<Calendar>) {
        self.0.entry(calendar.name.clone()).or_insert(calendar);
    }

    /// A set of these calendars; for tests and benches.
    pub fn of(calendars: impl IntoIterator<Item = Calendar>) -> Self {
        Self(
            calendars
                .into_iter()
                .map(|c| (c.name.clone(), Arc::new(c)))
                .collect(),
        )
    }
}

/// Why `name` names no calendar of `calendars`, and what to do.
pub fn unknown(name: &str, calendars: &Calendars) -> String {
    let known = calendars.names();
    let hint = if known.is_empty() {
        format!("add `{DIR}/{name}.toml` beside the automations")
    } else {
        format!("the calendars are: {}", known.join(", "))
    };
    format!("there is no calendar {name:?}: {hint}")
}

/// Whether `name` can be a calendar's name (a file stem).
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarSpec {
    timezone: String,
    #[serde(default)]
    hours: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    holidays: Vec<String>,
}

/// Loads `dir/calendars/*.toml`: the calendars that check out, and every problem.
/// A missing folder is no calendars.
pub fn load(dir: &Path) -> (Calendars, Vec<Diagnostic>, Vec<PathBuf>) {
    let mut calendars = HashMap::new();
    let mut errors = Vec::new();
    let mut failed = Vec::new();
    for file in super::load::toml_files(&dir.join(DIR)) {
        let checked = super::load::read(&file).and_then(|source| compile(&file, &source));
        match checked {
            Ok(c) => {
                calendars.insert(c.name.clone(), Arc::new(c));
            }
            Err(mut e) => {
                errors.append(&mut e);
                failed.push(file);
            }
        }
    }
    (Calendars(calendars), errors, failed)
}

/// Checks one calendar file; its name is the file's stem.
pub fn compile(file: &Path, source: &str) -> Result<Calendar, Vec<Diagnostic>> {
    let locator = Locator::new(file.to_path_buf(), source);
    let spec: CalendarSpec = toml::from_str(source).map_err(|e| {
        vec![locator.at_offset(e.span().map_or(0, |s| s.start), e.message().trim())]
    })?;
    let mut errors = Vec::new();
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    if !is_name(&name) {
        errors.push(locator.at_offset(
            0,
            format!("{name:?} cannot name a calendar: rename the file to letters, digits, - and _"),
        ));
    }
    let timezone = spec.timezone.parse::<chrono_tz::Tz>().map_err(|_| {
        locator.at_path(
            &path!["timezone"],
            format!(
                "{:?} is not a time zone: use an IANA name such as \"Europe/Berlin\"",
                spec.timezone
            ),
        )
    });
    // The general keys first, so that a day's own key replaces them.
    let mut keys: Vec<(&String, &Vec<String>)> = spec.hours.iter().collect();
    keys.sort_by_key(|(k, _)| match k.as_str() {
        "daily" => 0,
        "weekdays" | "weekend" => 1,
        _ => 2,
    });
    let mut week: [Vec<Range>; 7] = Default::default();
    for (key, ranges) in keys {
        let Some(days) = calendar::weekdays_named(key) else {
            errors.push(locator.at_path(
                &path!["hours", key.as_str()],
                format!("{key:?} is not a day: use mon, tue, wed, thu, fri, sat, sun, weekdays, weekend or daily"),
            ));
            continue;
        };
        let mut parsed = Vec::new();
        for (i, text) in ranges.iter().enumerate() {
            match calendar::parse_range(text) {
                Ok(r) => parsed.push(r),
                Err(e) => errors.push(locator.at_path(&path!["hours", key.as_str(), i], e)),
            }
        }
        parsed.sort_by_key(|r| r.start);
        for day in days {
            week[day.num_days_from_monday() as usize] = parsed.clone();
        }
    }
    let mut holidays = Vec::new();
    for (i, text) in spec.holidays.iter().enumerate() {
        match calendar::parse_holiday(text) {
            Ok(h) => holidays.push(h),
            Err(e) => errors.push(locator.at_path(&path!["holidays", i], e)),
        }
    }
    let timezone = match timezone {
        Ok(tz) => Some(tz),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let calendar = Calendar {
        name,
        timezone: timezone.unwrap_or(chrono_tz::UTC),
        week,
        holidays,
    };
    if errors.is_empty() && !calendar.opens() {
        errors.push(locator.at_path(
            &path!["hours"],
            "the calendar never opens: give at least one day some hours, e.g. weekdays = [\"09:00-17:00\"]",
        ));
    }
    if errors.is_empty() {
        Ok(calendar)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str) -> Result<Calendar, Vec<String>> {
        compile(Path::new("calendars/emea.toml"), source)
            .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_calendar_file_reads_into_a_calendar() {
        let c = check(
            "timezone = \"Europe/Berlin\"\nholidays = [\"12-25\"]\n[hours]\nweekdays = [\"13:00-17:00\", \"09:00-12:00\"]\nfri = [\"09:00-15:00\"]\n",
        )
        .unwrap();
        assert_eq!(c.name, "emea");
        assert_eq!(c.week[0].len(), 2, "Monday");
        assert!(c.week[0][0].start < c.week[0][1].start, "sorted");
        assert_eq!(c.week[4].len(), 1, "Friday's own key wins");
        assert!(c.week[5].is_empty() && c.week[6].is_empty());
        assert_eq!(c.holidays.len(), 1);
    }

    #[test]
    fn errors_point_at_what_is_wrong() {
        let cases = [
            (
                "timezone = \"Mars/Olympus\"\n[hours]\ndaily = [\"09:00-17:00\"]\n",
                "emea.toml:1:12:",
                "not a time zone",
            ),
            (
                "timezone = \"UTC\"\n[hours]\nmonday = [\"09:00-17:00\"]\n",
                "emea.toml:3:10:",
                "not a day",
            ),
            (
                "timezone = \"UTC\"\n[hours]\nmon = [\"09:00-17:00\", \"9-5\"]\n",
                "emea.toml:3:23:",
                "not a range of hours",
            ),
            (
                "timezone = \"UTC\"\nholidays = [\"Christmas\"]\n[hours]\nmon = [\"09:00-17:00\"]\n",
                "emea.toml:2:13:",
                "not a holiday",
            ),
            (
                "timezone = \"UTC\"\n[hours]\nsat = []\n",
                "emea.toml:2:",
                "never opens",
            ),
            (
                "[hours]\nmon = []\n",
                "emea.toml:1:1:",
                "missing field `timezone`",
            ),
        ];
        for (source, at, says) in cases {
            let errors = check(source).unwrap_err();
            assert!(
                errors.iter().any(|e| e.contains(at) && e.contains(says)),
                "{source:?}: {errors:?}"
            );
        }
    }

    #[test]
    fn a_missing_folder_is_no_calendars() {
        let dir = tempfile::tempdir().unwrap();
        let (calendars, errors, _) = load(dir.path());
        assert!(calendars.is_empty() && errors.is_empty());
        std::fs::create_dir(dir.path().join(DIR)).unwrap();
        std::fs::write(
            dir.path().join(DIR).join("us.toml"),
            "timezone = \"America/New_York\"\n[hours]\nweekdays = [\"09:00-17:00\"]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join(DIR).join("bad.toml"), "timezone = 3\n").unwrap();
        let (calendars, errors, failed) = load(dir.path());
        assert_eq!(calendars.names(), ["us"]);
        assert_eq!(errors.len(), 1);
        assert!(failed[0].ends_with("bad.toml"));
    }
}
