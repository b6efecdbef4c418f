//! Transport failures sorted into the kinds the guest and the summary
//! tell apart, each with a stable `error_code` tag value.

use std::error::Error as _;
use std::io;

use loadwit_metrics::format::error_chain;

use crate::host::loadwit::scenario::types::{ErrorKind, HttpError};

/// The `error_code` tag value of an error kind, stable across versions.
pub(crate) fn error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidUrl => "invalid-url",
        ErrorKind::Dns => "dns",
        ErrorKind::ConnectionRefused => "connection-refused",
        ErrorKind::ConnectionReset => "connection-reset",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Tls => "tls",
        ErrorKind::TooManyRedirects => "too-many-redirects",
        ErrorKind::BodyTooLarge => "body-too-large",
        ErrorKind::InvalidRequest => "invalid-request",
        ErrorKind::Other => "other",
    }
}

pub(crate) fn error(kind: ErrorKind, message: impl Into<String>) -> HttpError {
    HttpError {
        kind,
        message: message.into(),
    }
}

/// A failed TCP connect.
pub(crate) fn connect_error(error: &io::Error, address: &str) -> HttpError {
    let kind = match error.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            ErrorKind::ConnectionReset
        }
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Other,
    };
    HttpError {
        kind,
        message: format!("connecting to {address}: {error}"),
    }
}

/// A failed TLS handshake: rustls reports through an `io::Error` whose
/// source is a `rustls::Error`; a plain I/O failure is the connection's.
pub(crate) fn handshake_error(error: &io::Error, host: &str) -> HttpError {
    let tls = error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        || error.kind() == io::ErrorKind::InvalidData;
    if tls {
        return HttpError {
            kind: ErrorKind::Tls,
            message: format!("TLS handshake with {host} failed: {error}"),
        };
    }
    connect_error(error, host)
}

/// A failure while sending the request or reading the response, on a
/// connection that is `secure` (TLS) or not.
pub(crate) fn transfer_error(error: &hyper::Error, secure: bool) -> HttpError {
    let message = error_chain(error);
    let io = io_kind(error);
    // rustls reports as `InvalidData`; HTTP/2 keeps only the kind and the
    // text of its I/O errors, so the kind is all there is to go on.
    let kind = if has_tls_error(error) || secure && io == Some(io::ErrorKind::InvalidData) {
        ErrorKind::Tls
    } else if let Some(kind) = io {
        match kind {
            io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::ConnectionReset,
        }
    } else if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
        ErrorKind::ConnectionReset
    } else if error.is_parse() || error.is_user() {
        ErrorKind::Other
    } else {
        ErrorKind::ConnectionReset
    };
    HttpError { kind, message }
}

/// Whether a rustls error is among the causes: a TLS 1.3 server rejects
/// a client certificate after the handshake, on the first read.
fn has_tls_error(error: &hyper::Error) -> bool {
    let mut source = error.source();
    while let Some(inner) = source {
        // HTTP/2 errors keep their I/O cause out of the `source` chain.
        let io = inner.downcast_ref::<io::Error>().or_else(|| {
            inner
                .downcast_ref::<h2::Error>()
                .and_then(h2::Error::get_io)
        });
        let wrapped = io
            .and_then(io::Error::get_ref)
            .is_some_and(|e| e.downcast_ref::<rustls::Error>().is_some());
        if wrapped || inner.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        source = inner.source();
    }
    false
}

fn io_kind(error: &hyper::Error) -> Option<io::ErrorKind> {
    let mut source = error.source();
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        if let Some(io) = inner
            .downcast_ref::<h2::Error>()
            .and_then(h2::Error::get_io)
        {
            return Some(io.kind());
        }
        source = inner.source();
    }
    None
}
