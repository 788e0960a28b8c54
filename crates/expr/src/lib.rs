//! What the expression functions (filter, transformer, switcher) share.
//!
//! * [`event_view`]: the event as the JSON object expressions see, and [`js_event`] the
//!   same for the JavaScript engine, which builds the object itself;
//! * [`one_of`]: "exactly one of these variables", with errors naming them;
//! * [`EvalConfig`]: the time, memory and thread limits of every engine;
//! * [`jsonpath`]: compiled JSONPath queries and the JSONPath template, evaluated within
//!   the same time and memory limits (large events off the request threads);
//! * [`start_js`]: a JavaScript expression compiled with the `env` binding;
//! * [`js_error`]: how an expression failure answers over HTTP.

mod config;
mod errors;
mod js;
pub mod jsonpath;
mod view;

pub use config::{EvalConfig, one_of};
pub use errors::js_error;
pub use js::start_js;
pub use view::{event_view, js_event};
