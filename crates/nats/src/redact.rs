//! Server URLs as they may be shown: a password or token written into a URL
//! (`nats://user:password@host`, `nats://token@host`) is replaced, so
//! errors and `Debug` output, which end up in logs, never carry it.

use std::fmt;

/// What replaces a secret.
const HIDDEN: &str = "***";

/// `url` with the secret part of its user info hidden; the user name stays
/// (it helps to tell connections apart and is no secret).
pub(crate) fn url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user_info = &rest[..at];
    let shown = match user_info.split_once(':') {
        Some((user, _password)) => format!("{user}:{HIDDEN}"),
        // A lone user-info part is a token in NATS URLs.
        None => HIDDEN.to_owned(),
    };
    let scheme = scheme.map(|s| format!("{s}://")).unwrap_or_default();
    format!("{scheme}{shown}{}", &rest[at..])
}

/// Every URL of `servers`, hidden as [`url`] does, joined by `, `.
pub(crate) fn urls(servers: &[String]) -> String {
    servers
        .iter()
        .map(|s| url(s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Formats a server list with [`url`] applied, for `Debug` impls.
pub(crate) struct Servers<'a>(pub(crate) &'a [String]);

impl fmt::Debug for Servers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|s| url(s)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn passwords_and_tokens_are_hidden_hosts_are_kept() {
        assert_eq!(url("nats://u:hunter2@h:4222"), "nats://u:***@h:4222");
        assert_eq!(url("tls://s3cr3t@h:4222/x"), "tls://***@h:4222/x");
        assert_eq!(url("u:p@h:4222"), "u:***@h:4222");
        assert_eq!(url("nats://h:4222"), "nats://h:4222");
        assert_eq!(url("ws://h:80/p@th"), "ws://h:80/p@th");
    }
}
