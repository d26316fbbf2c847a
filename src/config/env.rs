//! Reading settings from the environment, with errors that name the variable.

use std::collections::HashMap;

use url::Url;

use super::ConfigError;

/// An http(s) base URL; its path ends in `/` so that relative paths join onto it.
pub(super) fn parse_base_url(
    raw: &str,
    env: &'static str,
    key: &'static str,
) -> Result<Url, ConfigError> {
    let mut url = Url::parse(raw).map_err(|e| invalid(env, key, format!("{raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            env,
            key,
            format!("{raw:?}: expected an http(s) URL"),
        ));
    }
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

pub(super) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

pub(super) fn invalid(env: &'static str, key: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { env, key, reason }
}

/// Environment lookups with typed parsing and errors naming the variable.
pub(super) struct Env<'a>(pub(super) &'a HashMap<String, String>);

impl Env<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }

    pub(super) fn parse<T: std::str::FromStr>(
        &self,
        env: &'static str,
        key: &'static str,
    ) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.get(env)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|e| invalid(env, key, format!("{v:?}: {e}")))
            })
            .transpose()
    }
}
