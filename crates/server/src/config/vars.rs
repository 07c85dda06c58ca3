//! Typed reads of environment variables, each failure naming its variable.

use std::{str::FromStr, time::Duration};

use super::ConfigError;

pub(super) struct Vars<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    pub(super) fn string(&self, name: &'static str) -> Option<String> {
        (self.0)(name)
    }

    pub(super) fn optional<T: FromStr>(
        &self,
        name: &'static str,
        valid: impl Fn(&T) -> bool,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        let Some(raw) = self.string(name) else { return Ok(None) };
        match raw.trim().parse::<T>() {
            Ok(v) if valid(&v) => Ok(Some(v)),
            _ => Err(ConfigError::new(name, format!("`{raw}` is not {expected}"))),
        }
    }

    /// Any value of `T`, `expected` saying in words what one looks like.
    pub(super) fn parse<T: FromStr>(
        &self,
        name: &'static str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        Ok(self.optional(name, |_| true, expected)?.unwrap_or(default))
    }

    /// A count that must be at least 1, e.g. a queue size or a cap.
    pub(super) fn at_least_one<T: FromStr + PartialOrd + From<u8>>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        Ok(self.optional(name, |n: &T| *n >= T::from(1), "an integer of at least 1")?.unwrap_or(default))
    }

    /// Seconds no shorter than `min`: a lease shorter than a database round trip would expire
    /// while it is being renewed.
    pub(super) fn at_least_seconds(
        &self,
        name: &'static str,
        default: f64,
        min: f64,
    ) -> Result<Duration, ConfigError> {
        let valid = |s: &f64| *s >= min && Duration::try_from_secs_f64(*s).is_ok();
        let secs = self.optional(name, valid, &format!("a number of seconds of at least {min}"))?;
        Ok(Duration::from_secs_f64(secs.unwrap_or(default)))
    }

    pub(super) fn seconds(&self, name: &'static str, default: f64) -> Result<Duration, ConfigError> {
        let valid = |s: &f64| *s > 0.0 && Duration::try_from_secs_f64(*s).is_ok();
        let secs = self.optional(name, valid, "a positive number of seconds")?;
        Ok(Duration::from_secs_f64(secs.unwrap_or(default)))
    }
}
