//! The demo page, embedded in the binary.

/// `(content type, body)` of a static file, by request path.
pub(super) fn find(path: &str) -> Option<(&'static str, &'static [u8])> {
    Some(match path {
        "/" | "/index.html" => (
            "text/html; charset=utf-8",
            include_bytes!("../../static/index.html"),
        ),
        "/app.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("../../static/app.js"),
        ),
        "/style.css" => (
            "text/css; charset=utf-8",
            include_bytes!("../../static/style.css"),
        ),
        _ => return None,
    })
}
