//! The web console at `/console`: static pages, scripts and styles from `console/`,
//! compiled into the binary (`rust-embed`, embedded in debug builds too), that call the
//! public `/v1` API from the browser with the key and tenant the person enters. The console
//! has no endpoint of its own and no session on the server: nothing it shows is reachable
//! here without a key, and the key never reaches a URL, a cookie or a log.
//!
//! Every path under `/console/` that is not an asset answers the page itself (the script
//! routes by path, so a page's URL, filters in its query string, can be shared). The
//! answers carry a strict Content-Security-Policy: scripts, styles and requests only from
//! this server, no inline script or style, no frames, and Trusted Types required for every
//! HTML sink, so a text the API returns cannot become markup even by a mistake in the
//! script (which renders every text with `textContent`).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "console/"]
struct Assets;

/// The policy every console answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
    trusted-types 'none'";

/// `/console`, `/console/` and every page under it.
pub async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `/console/{*path}`: an asset (`assets/…`), or the page for any other path. The path is
/// read raw (not percent-decoded): asset names are plain, and any other path, however it
/// is written, is the page's to route.
pub async fn asset(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().strip_prefix("/console/").unwrap_or_default();
    match path.strip_prefix("assets/") {
        Some(name) if !name.is_empty() && name != "index.html" => serve(name, &headers),
        _ => serve("index.html", &headers),
    }
}

/// An embedded file, revalidated by its `ETag` on every use (`no-cache`), so a new build's
/// console is never mixed with an old one's cached script.
fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(name) else {
        let mut res = crate::error::Error::NotFound("no such console asset".into()).into_response();
        secure(res.headers_mut());
        return res;
    };
    let mime = file.metadata.mimetype();
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches(v, &etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, file.data.into_owned()).into_response()
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(h);
    res
}

/// Whether an `If-None-Match` value names `etag`: `*`, or a list of tags compared weakly
/// (RFC 9110 §13.1.2: `W/"x"` matches `"x"`).
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// The headers every console answer carries.
fn secure(h: &mut axum::http::HeaderMap) {
    page_headers(h, CONTENT_SECURITY_POLICY);
}

/// The headers of a page grantd serves to browsers (the console, `/docs`): its
/// Content-Security-Policy, no MIME sniffing, no referrer, no framing.
pub fn page_headers(h: &mut axum::http::HeaderMap, csp: &'static str) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_weak_tags_and_star() {
        let e = "\"abc\"";
        assert!(matches("\"abc\"", e));
        assert!(matches("W/\"abc\"", e));
        assert!(matches("\"x\", W/\"abc\"", e));
        assert!(matches("*", e));
        assert!(!matches("\"abcd\"", e));
        assert!(!matches("abc", e));
        assert!(!matches("", e));
    }

    #[test]
    fn every_asset_the_page_names_is_embedded() {
        let page = Assets::get("index.html").expect("the page is embedded");
        let page = String::from_utf8(page.data.into_owned()).unwrap();
        let mut named = 0;
        for part in page.split("/console/assets/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(Assets::get(name).is_some(), "{name} is embedded");
            named += 1;
        }
        assert!(named >= 2, "the page names its script and style");
        // Every module a script imports is embedded too.
        for name in Assets::iter().filter(|n| n.ends_with(".js")) {
            let text = String::from_utf8(Assets::get(&name).unwrap().data.into_owned()).unwrap();
            for part in text.split(" from \"./").skip(1) {
                let module = part.split('"').next().unwrap();
                assert!(Assets::get(module).is_some(), "{name} imports {module}");
            }
        }
        assert!(!page.contains("<script>"), "no inline script");
        assert!(!page.contains("style="), "no inline style");
    }
}
