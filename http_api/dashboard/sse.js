// A Server-Sent Events parser for a body read through fetch() (EventSource cannot send the
// Authorization header). It follows the WHATWG event-stream rules: fields id, event, data;
// comment lines start with ":"; a blank line dispatches the event.

export class SseParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.buffer = "";
    this.lastId = null;
    this.event = "";
    this.data = [];
  }

  push(chunk) {
    this.buffer += chunk;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    // The last piece may be a line cut in the middle: keep it for the next chunk. (A chunk that
    // ends between "\r" and "\n" yields one blank line too many, which dispatches nothing.)
    this.buffer = lines.pop();
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
  }

  dispatch() {
    if (this.data.length > 0) {
      this.onMessage({ id: this.lastId, event: this.event || "message", data: this.data.join("\n") });
    }
    this.event = "";
    this.data = [];
  }
}
