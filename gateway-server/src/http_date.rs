//! The clock: the `Date` header (RFC 9110 IMF-fixdate) and the access log's
//! timestamp, each formatted at most once a second per worker.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Cached renderings of "now", refreshed when the second changes.
#[derive(Debug)]
pub(crate) struct Clock {
    second: u64,
    date: String,
    log_time: String,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        let mut clock = Clock {
            second: u64::MAX,
            date: String::new(),
            log_time: String::new(),
        };
        clock.tick();
        clock
    }

    /// Refresh the cached strings if a new second has begun.
    pub(crate) fn tick(&mut self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        if now != self.second {
            self.second = now;
            self.date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now));
            self.log_time = common_log_time(now);
        }
    }

    /// `Tue, 15 Nov 1994 08:12:31 GMT`
    pub(crate) fn date(&self) -> &str {
        &self.date
    }

    /// `15/Nov/1994:08:12:31 +0000`, as Common Log Format writes it.
    pub(crate) fn log_time(&self) -> &str {
        &self.log_time
    }
}

/// Format seconds since the epoch as a Common Log Format timestamp in UTC.
fn common_log_time(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(common_log_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(common_log_time(971_211_336), "10/Oct/2000:20:55:36 +0000");
        assert_eq!(common_log_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn date_header_is_imf_fixdate() {
        let clock = Clock::new();
        assert!(clock.date().ends_with(" GMT"));
        assert_eq!(clock.date().len(), 29);
    }
}
