// The appender's job (data.message += MESSAGE, reply with the event) as a Knative func
// Node.js function on faas-js-runtime, the runtime `func create -l node` uses. A peer
// for hack/bench; our code.
"use strict";
const MESSAGE = process.env.MESSAGE || " - handled";

function handle(context, event) {
  const data = (event && event.data) || {};
  return event.cloneWith({ data: { id: data.id || 0, message: (data.message || "") + MESSAGE } });
}

module.exports = { handle, logLevel: "error" };
