// The design of villardl/filter-nodejs, for hack/bench: express with body-parser's JSON
// parser, the FILTER expression compiled once as a vm.Script and run in a new context
// per event with the `event` and `env` bindings, and the event logged per request as the
// original does. Our code, not the original's; the same libraries and the same steps.
"use strict";
const express = require("express");
const bodyParser = require("body-parser");
const vm = require("vm");

const script = new vm.Script("(" + process.env.FILTER + ")");
const app = express();
app.use(bodyParser.json());

app.post("/", (req, res) => {
  const event = { data: req.body };
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith("ce-")) event[name.slice(3)] = value;
  }
  console.log("received a CloudEvent");
  console.log(JSON.stringify(event, null, 2));
  let pass;
  try {
    pass = script.runInNewContext({ event, env: process.env });
  } catch (e) {
    res.status(200).send({ error: e.message });
    return;
  }
  if (!pass) {
    res.status(200).end();
    return;
  }
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith("ce-")) res.set(name, value);
  }
  res.status(200).send(req.body);
});

app.listen(Number(process.env.PORT || 8080), "127.0.0.1");
