//! The gateway's HTTP API, served on the same port as Socket.IO so a backend (or a
//! curl in a terminal) can push events and look inside without a socket.
//!
//! - `POST /emit {namespace?, event, data, room?, tenant?}` -> `{delivered: N}`
//! - `GET /inspect` -> namespaces -> rooms -> sockets as JSON
//!
//! Bad JSON gets a 400 whose body names the problem.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sockscope_protocol::EmitRequest;

use super::GatewayHandle;
use crate::Error;

pub fn router(handle: GatewayHandle) -> Router {
    Router::new()
        .route("/emit", post(emit))
        .route("/inspect", get(inspect))
        .with_state(handle)
}

async fn emit(
    State(gateway): State<GatewayHandle>,
    body: Result<Json<EmitRequest>, JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(req)) => req,
        Err(rejection) => {
            return error(StatusCode::BAD_REQUEST, "bad_json", &rejection.body_text())
        }
    };
    match gateway.emit(&req).await {
        Ok(delivered) => Json(json!({ "delivered": delivered })).into_response(),
        Err(e) => {
            let status = match e {
                Error::UnknownNamespace(_) => StatusCode::NOT_FOUND,
                Error::BadTenant(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, e.code(), &e.to_string())
        }
    }
}

async fn inspect(State(gateway): State<GatewayHandle>) -> Response {
    Json(gateway.inspect()).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "error": message }))).into_response()
}
