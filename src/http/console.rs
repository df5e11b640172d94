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

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
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

/// `/console/{*path}`: an asset (`assets/…`), or the page for any other path.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match path.strip_prefix("assets/") {
        Some(name) if !name.is_empty() && name != "index.html" => serve(name, &headers),
        _ => serve("index.html", &headers),
    }
}

/// An embedded file, revalidated by its `ETag` on every use (`no-cache`), so a new build's
/// console is never mixed with an old one's cached script.
fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(name) else {
        return crate::error::Error::NotFound("no such console asset".into()).into_response();
    };
    let mime = file.metadata.mimetype();
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
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

/// The headers every console answer carries.
fn secure(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
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
        assert!(!page.contains("<script>"), "no inline script");
        assert!(!page.contains("style="), "no inline style");
    }
}
