//! How an expression failure answers over HTTP.

use fnmesh_js::JsError;
use fnmesh_runtime::Error;

/// The HTTP error for a failed JavaScript evaluation:
///
/// * the expression threw, or its value is not JSON: `422` (the same event fails
///   the same way: retrying cannot help, a dead letter sink should get it);
/// * the memory limit: `422`, for the same reason;
/// * the time limit (interrupted, or its engine abandoned past it), every engine busy,
///   or every engine stuck: `503` (load may be the cause; retried);
/// * the engine itself failed: `500`.
pub fn js_error(error: JsError) -> Error {
    let message = error.to_string();
    match error {
        JsError::Thrown { .. } | JsError::NotJson { .. } | JsError::OutOfMemory { .. } => Error::Unprocessable(message),
        JsError::Timeout { .. } | JsError::Abandoned { .. } | JsError::NoEngine { .. } | JsError::Busy { .. } => {
            Error::Unavailable(message)
        }
        JsError::Syntax { .. } | JsError::Engine(_) => Error::Internal(message),
    }
}
