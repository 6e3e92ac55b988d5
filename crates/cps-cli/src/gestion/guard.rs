//! The checks every request of the local page passes before anything else: the run's
//! secret as the first path segment, a `Host` naming this server (no DNS rebinding), an
//! `Origin` (when sent, and always for a POST) naming this server too, and no cross-site
//! `Sec-Fetch-Site` (no request from another tab's page). There is no CORS: no response
//! carries `Access-Control-Allow-*`, and a preflight (`OPTIONS`) is refused.

use subtle::ConstantTimeEq;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The path does not start with the secret (404: the page does not exist for them).
    Secret,
    /// `Host` is missing or names another server (DNS rebinding).
    Host,
    /// `Origin` names another site, or a POST came without one (cross-site request).
    Origin,
    /// `Sec-Fetch-Site` says another site sent it.
    CrossSite,
    /// A method the page never uses (`OPTIONS` preflights included).
    Method,
}

impl Refusal {
    /// The HTTP status of the refusal.
    pub fn status(self) -> u16 {
        match self {
            Refusal::Secret => 404,
            Refusal::Host => 421,
            Refusal::Origin | Refusal::CrossSite => 403,
            Refusal::Method => 405,
        }
    }

    /// A short reason (sent as the body; never reflects the request).
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Secret => "not found",
            Refusal::Host => "this server answers only to its own address (Host refused)",
            Refusal::Origin => "cross-origin request refused (Origin)",
            Refusal::CrossSite => "cross-site request refused (Sec-Fetch-Site)",
            Refusal::Method => "method not allowed",
        }
    }
}

/// What the server accepts.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The secret path segment.
    secret: String,
    /// Accepted `Host` values (lower case, with the port).
    hosts: Vec<String>,
}

/// The request parts the guard looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen<'a> {
    /// `GET`, `POST`...
    pub method: &'a str,
    /// The path (without the query).
    pub path: &'a str,
    /// `Host`.
    pub host: Option<&'a str>,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// `Sec-Fetch-Site`.
    pub fetch_site: Option<&'a str>,
}

impl Guard {
    /// A guard for `secret` and a server at `authority` (`127.0.0.1:PORT`); a loopback
    /// server also answers to `localhost:PORT`.
    pub fn new(secret: String, authority: &str, port: u16, loopback: bool) -> Guard {
        let mut hosts = vec![authority.to_ascii_lowercase()];
        if loopback {
            hosts.push(format!("localhost:{port}"));
        }
        Guard { secret, hosts }
    }

    /// The secret path segment.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The path after the secret (`/`, `/api/card`...), or why the request is refused.
    pub fn check<'a>(&self, r: &Seen<'a>) -> Result<&'a str, Refusal> {
        let host = r.host.map(str::to_ascii_lowercase);
        if !host.is_some_and(|h| self.hosts.contains(&h)) {
            return Err(Refusal::Host);
        }
        match r.origin {
            Some(origin) => {
                let o = origin.to_ascii_lowercase();
                let own = o
                    .strip_prefix("http://")
                    .is_some_and(|h| self.hosts.iter().any(|a| a == h));
                if !own {
                    return Err(Refusal::Origin);
                }
            }
            None if r.method != "GET" && r.method != "HEAD" => return Err(Refusal::Origin),
            None => {}
        }
        if let Some(site) = r.fetch_site {
            if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
                return Err(Refusal::CrossSite);
            }
        }
        let rest = r.path.strip_prefix('/').ok_or(Refusal::Secret)?;
        let (first, after) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let good: bool = first.as_bytes().ct_eq(self.secret.as_bytes()).into();
        if !good {
            return Err(Refusal::Secret);
        }
        if !matches!(r.method, "GET" | "HEAD" | "POST") {
            return Err(Refusal::Method);
        }
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new("s3cret".into(), "127.0.0.1:4000", 4000, true)
    }

    fn get(path: &str) -> Seen<'_> {
        Seen {
            method: "GET",
            path,
            host: Some("127.0.0.1:4000"),
            ..Seen::default()
        }
    }

    #[test]
    fn the_own_page_passes() {
        let g = guard();
        assert_eq!(g.check(&get("/s3cret/")), Ok("/"));
        assert_eq!(g.check(&get("/s3cret")), Ok(""));
        assert_eq!(g.check(&get("/s3cret/api/card")), Ok("/api/card"));
        let post = Seen {
            method: "POST",
            origin: Some("http://127.0.0.1:4000"),
            fetch_site: Some("same-origin"),
            host: Some("LOCALHOST:4000"),
            ..get("/s3cret/api/pin/change")
        };
        assert_eq!(g.check(&post), Ok("/api/pin/change"));
    }

    #[test]
    fn each_refusal() {
        let g = guard();
        assert_eq!(g.check(&get("/")), Err(Refusal::Secret));
        assert_eq!(g.check(&get("/s3cre/")), Err(Refusal::Secret));
        assert_eq!(g.check(&get("/s3cretX/")), Err(Refusal::Secret));
        assert_eq!(g.check(&get("s3cret/")), Err(Refusal::Secret));
        let rebound = Seen {
            host: Some("evil.example:4000"),
            ..get("/s3cret/")
        };
        assert_eq!(g.check(&rebound), Err(Refusal::Host));
        let no_host = Seen {
            host: None,
            ..get("/s3cret/")
        };
        assert_eq!(g.check(&no_host), Err(Refusal::Host));
        let other_port = Seen {
            host: Some("127.0.0.1:4001"),
            ..get("/s3cret/")
        };
        assert_eq!(g.check(&other_port), Err(Refusal::Host));
        let foreign = Seen {
            origin: Some("http://evil.example"),
            ..get("/s3cret/api/card")
        };
        assert_eq!(g.check(&foreign), Err(Refusal::Origin));
        let https = Seen {
            origin: Some("https://127.0.0.1:4000"),
            ..get("/s3cret/api/card")
        };
        assert_eq!(g.check(&https), Err(Refusal::Origin));
        let null = Seen {
            origin: Some("null"),
            ..get("/s3cret/api/card")
        };
        assert_eq!(g.check(&null), Err(Refusal::Origin));
        let post_without_origin = Seen {
            method: "POST",
            ..get("/s3cret/api/pin/change")
        };
        assert_eq!(g.check(&post_without_origin), Err(Refusal::Origin));
        let cross = Seen {
            fetch_site: Some("cross-site"),
            ..get("/s3cret/api/card")
        };
        assert_eq!(g.check(&cross), Err(Refusal::CrossSite));
        let preflight = Seen {
            method: "OPTIONS",
            ..get("/s3cret/api/card")
        };
        assert_eq!(g.check(&preflight), Err(Refusal::Origin));
        let put = Seen {
            method: "PUT",
            origin: Some("http://127.0.0.1:4000"),
            ..get("/s3cret/api/card")
        };
        assert_eq!(g.check(&put), Err(Refusal::Method));
    }
}
