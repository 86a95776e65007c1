//! Schedules: five-field cron expressions in a time zone, and the next
//! times they fire.

use std::time::SystemTime;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// A parsed cron expression: minute, hour, day of month, month, day of week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    /// Standard cron: when both day fields are restricted, either may match.
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!("it has {} fields; cron needs 5 (minute hour day month weekday)", fields.len()));
        }
        let minutes = field(fields[0], 0, 59, &[], "minute")?;
        let hours = field(fields[1], 0, 23, &[], "hour")?;
        let days = field(fields[2], 1, 31, &[], "day of month")?;
        let months = field(fields[3], 1, 12, &MONTHS, "month")?;
        let mut weekdays = field(fields[4], 0, 7, &WEEKDAYS, "day of week")?;
        if weekdays[7] {
            weekdays[0] = true;
        }
        weekdays.truncate(7);
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted: fields[2] != "*",
            weekdays_restricted: fields[4] != "*",
        })
    }

    fn matches(&self, z: &Zoned) -> bool {
        let day_ok = self.days[z.day() as usize];
        let weekday_ok = self.weekdays[z.weekday().to_sunday_zero_offset() as usize];
        let date_ok = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day_ok || weekday_ok,
            _ => day_ok && weekday_ok,
        };
        self.minutes[z.minute() as usize] && self.hours[z.hour() as usize] && self.months[z.month() as usize] && date_ok
    }

    /// The first minute strictly after `after` that the expression matches,
    /// within the next four years.
    pub fn next_after(&self, after: SystemTime, zone: &Zone) -> Option<SystemTime> {
        let ts = Timestamp::try_from(after).ok()?;
        let mut z = ts.to_zoned(zone.0.clone());
        // Start at the next whole minute.
        z = z.checked_add((60 - i64::from(z.second())).seconds()).ok()?;
        z = z.round(jiff::Unit::Minute).ok()?;
        for _ in 0..(4 * 366 * 24 * 60) {
            if self.matches(&z) {
                return Some(SystemTime::from(z.timestamp()));
            }
            z = z.checked_add(1.minute()).ok()?;
        }
        None
    }
}

fn field(text: &str, min: u32, max: u32, names: &[&str], what: &str) -> Result<Vec<bool>, String> {
    let mut set = vec![false; max as usize + 1];
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or(format!("bad step in {part:?}"))?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, what)?, value(b, names, what)?)
        } else {
            let v = value(range, names, what)?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{what} {part:?} is outside {min}-{max}"));
        }
        let mut v = lo;
        while v <= hi {
            set[v as usize] = true;
            v += step;
        }
    }
    Ok(set)
}

fn value(text: &str, names: &[&str], what: &str) -> Result<u32, String> {
    if let Ok(v) = text.parse::<u32>() {
        return Ok(v);
    }
    let upper = text.to_ascii_uppercase();
    names
        .iter()
        .position(|n| *n == upper)
        .map(|i| i as u32 + u32::from(names.len() == 12)) // months count from 1
        .ok_or_else(|| format!("{what} {text:?} is not a number or name"))
}

/// A time zone: `UTC`, a fixed offset such as `+02:00`, or an IANA name.
#[derive(Debug, Clone)]
pub struct Zone(pub TimeZone);

impl Zone {
    pub fn parse(text: &str) -> Result<Zone, String> {
        if text.eq_ignore_ascii_case("utc") {
            return Ok(Zone(TimeZone::UTC));
        }
        if text.starts_with('+') || text.starts_with('-') {
            let sign = if text.starts_with('-') { -1 } else { 1 };
            let (h, m) = text[1..].split_once(':').unwrap_or((&text[1..], "0"));
            let (h, m): (i32, i32) = (h.parse().map_err(|_| "bad hours")?, m.parse().map_err(|_| "bad minutes")?);
            let offset = jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).map_err(|e| e.to_string())?;
            return Ok(Zone(TimeZone::fixed(offset)));
        }
        TimeZone::get(text).map(Zone).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        SystemTime::from(s.parse::<Timestamp>().unwrap())
    }

    #[test]
    fn a_weekly_schedule_fires_on_its_day_and_hour_in_its_zone() {
        let cron = Cron::parse("0 14 * * TUE").unwrap();
        // Monday 2026-11-23 10:00 UTC; the next Tuesday 14:00 in Berlin (UTC+1) is 13:00 UTC.
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(cron.next_after(at("2026-11-23T10:00:00Z"), &berlin), Some(at("2026-11-24T13:00:00Z")));
        let utc = Zone::parse("UTC").unwrap();
        assert_eq!(cron.next_after(at("2026-11-24T14:00:00Z"), &utc), Some(at("2026-12-01T14:00:00Z")));
    }

    #[test]
    fn lists_ranges_steps_and_names_parse() {
        let cron = Cron::parse("*/15 9-17 1,15 JAN-MAR MON-FRI").unwrap();
        assert!(cron.minutes[0] && cron.minutes[45] && !cron.minutes[10]);
        assert!(cron.hours[9] && cron.hours[17] && !cron.hours[18]);
        assert!(cron.months[1] && cron.months[3] && !cron.months[4]);
        assert!(cron.weekdays[1] && cron.weekdays[5] && !cron.weekdays[0]);
        assert!(Cron::parse("0 14 * *").is_err());
        assert!(Cron::parse("61 * * * *").is_err());
        assert!(Cron::parse("0 14 * * FUNDAY").is_err());
        assert!(Zone::parse("+02:00").is_ok());
        assert!(Zone::parse("Mars/Olympus").is_err());
    }
}
