// The fastest Node.js filter, for hack/bench: the same
// expression binding (`event`, `env`) and reply as villardl/filter-nodejs, on bare http
// and one compiled function (original.js has the original design: express, a vm context
// per event). Ratios against this script are the least flattering to fnmesh.
"use strict";
const http = require("http");

const filter = new Function("event", "env", "return (" + process.env.FILTER + ");");
const port = Number(process.env.PORT || 8080);

http
  .createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const event = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (name.startsWith("ce-")) event[name.slice(3)] = value;
      }
      event.datacontenttype = req.headers["content-type"];
      try {
        event.data = JSON.parse(body.toString("utf8"));
      } catch (e) {
        event.data = body.toString("utf8");
      }
      let pass;
      try {
        pass = filter(event, process.env);
      } catch (e) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: String(e) }));
        return;
      }
      if (!pass) {
        res.writeHead(200);
        res.end();
        return;
      }
      const headers = { "content-type": req.headers["content-type"] || "application/json" };
      for (const [name, value] of Object.entries(req.headers)) {
        if (name.startsWith("ce-")) headers[name] = value;
      }
      res.writeHead(200, headers);
      res.end(body);
    });
  })
  .listen(port, "127.0.0.1");
