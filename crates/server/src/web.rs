//! The dashboard: one HTML page, its stylesheet and ES modules, embedded in the binary at
//! compile time (`include_str!`), so the page needs no web server, no CDN and no network
//! beyond this server.
//!
//! Routes: `GET /` (the page), `/style.css`, `/app.js` (the page's logic),
//! `/charts.js` (a small canvas chart renderer), `/switchboard.js` (the JavaScript
//! client for every transport, documented in `docs/protocol.md`).
//!
//! Every asset is served with its exact `Content-Type` and `Cache-Control: no-cache`
//! (the browser revalidates, so a new binary is picked up at once).

use axum::{
    Router,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::app::AppState;

const INDEX_HTML: &str = include_str!("../web/index.html");
const STYLE_CSS: &str = include_str!("../web/style.css");
const APP_JS: &str = include_str!("../web/app.js");
const PANELS_JS: &str = include_str!("../web/panels.js");
const ACADEMY_JS: &str = include_str!("../web/academy.js");
const CHARTS_JS: &str = include_str!("../web/charts.js");
const SWITCHBOARD_JS: &str = include_str!("../web/switchboard.js");

/// The page's routes, merged into the app router.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/style.css",
            get(|| async { asset(STYLE_CSS, "text/css; charset=utf-8") }),
        )
        .route("/app.js", get(|| async { script(APP_JS) }))
        .route("/panels.js", get(|| async { script(PANELS_JS) }))
        .route("/academy.js", get(|| async { script(ACADEMY_JS) }))
        .route("/charts.js", get(|| async { script(CHARTS_JS) }))
        .route("/switchboard.js", get(|| async { script(SWITCHBOARD_JS) }))
}

fn script(body: &'static str) -> Response {
    asset(body, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
