//! Browser return URLs: only to this site or a configured peer, with the same scheme, host and
//! port — no open redirects.

use url::Url;

/// The longest return URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// A site's origin: scheme, host and port, as WHATWG URL parsing normalises them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(url::Origin);

impl Origin {
    /// `scheme://host[:port]`, as browsers write an origin (e.g. for `postMessage`, CSP).
    pub fn text(&self) -> String {
        self.0.ascii_serialization()
    }

    /// The origin of a configured site URL (`https://shop.example.com`, with optional path).
    pub fn of_site_url(text: &str) -> Result<(Url, Origin), String> {
        let url =
            parse_strict(text).ok_or_else(|| format!("{text:?} is not an absolute http(s) URL"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("{text:?}: a site URL has no query or fragment"));
        }
        let origin = Origin(url.origin());
        Ok((url, origin))
    }
}

/// Parses an absolute http(s) URL, refusing what browsers would silently repair or reinterpret:
/// control characters, spaces and backslashes, user info, and anything not http or https.
fn parse_strict(text: &str) -> Option<Url> {
    if text.len() > MAX_URL_LEN
        || text
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'\\')
    {
        return None;
    }
    let url = Url::parse(text).ok()?;
    let scheme_ok = url.scheme() == "https" || url.scheme() == "http";
    let written_as_absolute = text
        .get(..url.scheme().len() + 3)
        .is_some_and(|p| p.eq_ignore_ascii_case(&format!("{}://", url.scheme())));
    (scheme_ok
        && written_as_absolute
        && url.username().is_empty()
        && url.password().is_none()
        && url.host().is_some())
    .then_some(url)
}

/// Checks a return URL against the allowed origins; returns its normalised form.
pub fn check_return_url(text: &str, allowed: &[&Origin]) -> Option<String> {
    let url = parse_strict(text)?;
    let origin = url.origin();
    allowed
        .iter()
        .any(|o| o.0 == origin)
        .then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> Vec<Origin> {
        ["https://a.test", "https://b.test:8443/blog/"]
            .iter()
            .map(|u| Origin::of_site_url(u).unwrap().1)
            .collect()
    }

    #[test]
    fn accepts_same_origin_urls() {
        let o = origins();
        let allowed: Vec<&Origin> = o.iter().collect();
        for ok in [
            "https://a.test/",
            "https://a.test/wp-admin/?x=1#top",
            "https://A.TEST/path",
            "https://a.test:443/",
            "https://b.test:8443/blog/wp-admin/",
        ] {
            assert!(check_return_url(ok, &allowed).is_some(), "{ok}");
        }
        assert_eq!(
            check_return_url("https://A.test:443/x", &allowed).unwrap(),
            "https://a.test/x"
        );
    }

    #[test]
    fn refuses_open_redirects() {
        let o = origins();
        let allowed: Vec<&Origin> = o.iter().collect();
        for bad in [
            "//evil.test",
            "//a.test/",
            "/wp-admin/",
            "https://a.test.evil.test/",
            "https://evil.test/?https://a.test/",
            "https://a.test@evil.test/",
            "https://user:pw@a.test/",
            "javascript:alert(1)",
            "JavaScript://a.test/%0aalert(1)",
            "data:text/html,hi",
            "http://a.test/",
            "https://b.test/blog/",
            "https://b.test:8444/",
            "https:/a.test/",
            "https:a.test/",
            "https:\\\\evil.test",
            "https://a.test\\@evil.test/",
            " https://a.test/",
            "https://a.test/\n",
            "https://a.te\tst/",
            "ftp://a.test/",
            "",
        ] {
            assert!(check_return_url(bad, &allowed).is_none(), "{bad:?}");
        }
        let long = format!("https://a.test/{}", "x".repeat(MAX_URL_LEN));
        assert!(check_return_url(&long, &allowed).is_none());
    }

    #[test]
    fn site_urls_are_checked() {
        assert!(Origin::of_site_url("https://a.test/?q").is_err());
        assert!(Origin::of_site_url("a.test").is_err());
        assert!(Origin::of_site_url("ftp://a.test").is_err());
    }
}
