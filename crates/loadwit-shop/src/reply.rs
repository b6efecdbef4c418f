//! JSON responses: precomputed bodies, assembled arrays and errors.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A response with a body that is already JSON.
pub(crate) fn raw(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut response = Response::new(Body::from(body.into()));
    *response.status_mut() = status;
    let json = HeaderValue::from_static("application/json");
    response.headers_mut().insert(header::CONTENT_TYPE, json);
    response
}

/// An error response, `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message });
    (status, axum::Json(body)).into_response()
}

/// Appends the JSON string for `s`, quotes and escapes included.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Serializing a `&str` into a `Vec` cannot fail.
    serde_json::to_writer(&mut *out, s).unwrap_or_default();
}

/// Appends a JSON array of already-serialized values.
pub(crate) fn push_array<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a [u8]>) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
}
