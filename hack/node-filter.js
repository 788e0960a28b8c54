// A minimal Node.js equivalent of villardl/filter-nodejs, for hack/bench: the same
// expression binding (`event`, `env`) and reply, on Node's bare http module. The
// original adds express and the CloudEvents SDK on top, so it is slower than this:
// ratios against this script understate fnmesh's lead.
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
