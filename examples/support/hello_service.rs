//! The service `hyper_hello` and `smol_hello` serve, so the tokio and the
//! smol servers answer alike: `GET /` answers "Hello, world!", `POST /echo`
//! streams the request body back as it arrives, anything else is a 404.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};

pub type Body = BoxBody<Bytes, hyper::Error>;

fn full(text: &'static str) -> Body {
    Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed()
}

pub async fn handle(
    request: Request<Incoming>,
    answered: Arc<AtomicU64>,
) -> Result<Response<Body>, Infallible> {
    answered.fetch_add(1, Ordering::Relaxed);
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/") => Response::new(full("Hello, world!\n")),
        (&Method::POST, "/echo") => {
            // Reading the body before answering is what makes hyper send
            // `100 Continue` to a client that asked for it; the rest then
            // streams back while it still arrives.
            let mut body = request.into_body();
            let first = body.frame().await;
            let frames = futures::stream::iter(first).chain(BodyStream::new(body));
            Response::new(BodyExt::boxed(StreamBody::new(frames)))
        }
        _ => {
            let mut not_found = Response::new(full(""));
            *not_found.status_mut() = StatusCode::NOT_FOUND;
            not_found
        }
    };
    Ok(response)
}
