// An SSE client nobody on this project wrote: the `eventsource` npm package (a WHATWG
// EventSource for Node), pointed at a switchboard stream. Used by
// crates/server/tests/sse_node.rs to check our framing, ids and resume from the outside.
//
// Usage: node sse_client.mjs <url> <events>
// Prints one JSON line per thing that happens, and exits after <events> events:
//   {"open": n}                         the stream opened (n = 1, 2, ... on reconnects)
//   {"event": type, "id": lastEventId, "data": <parsed JSON>}
//   {"connection_error": message}       the stream failed; EventSource reconnects itself
import { EventSource } from "eventsource";

const [url, wanted] = process.argv.slice(2);
if (!url || !wanted) {
  console.error("usage: node sse_client.mjs <url> <events>");
  process.exit(2);
}

// Every `type` the protocol sends is an SSE event name.
const TYPES = [
  "welcome", "chat", "broadcast", "message", "join", "leave", "pong", "stats",
  "subscribed", "gap", "unsubscribed", "ack", "presence", "error",
];

const source = new EventSource(url);
let opens = 0;
let seen = 0;

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

source.onopen = () => print({ open: ++opens });

for (const type of TYPES) {
  source.addEventListener(type, (event) => {
    // A protocol `error` event and a connection failure share the name `error`; only
    // the former carries data.
    if (type === "error" && event.data === undefined) {
      print({ connection_error: String(event.message ?? "stream failed") });
      return;
    }
    print({ event: event.type, id: event.lastEventId, data: JSON.parse(event.data) });
    if (++seen >= Number(wanted)) {
      source.close();
      process.exit(0);
    }
  });
}
