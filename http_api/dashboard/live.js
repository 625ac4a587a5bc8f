// The page's live feed: the operator event stream (GET /api/v1/events as Server-Sent Events) while
// it is up; while it is not (a node without it, a network break), the views are reloaded from the
// REST API every 2 s and the stream is tried again, backing off to 15 s. A reconnect sends
// Last-Event-ID, so the node replays what was missed; "stream.behind" (missed more than it keeps)
// reloads the views.

import { sessionEnded } from "./api.js";
import { session } from "./auth.js";
import { SseParser } from "./sse.js";

const POLL_MS = 2000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15000;
/** A stream that stayed up this long was healthy: the next outage retries quickly again. */
const HEALTHY_MS = 10000;
/** The node writes at least a keepalive comment every 15 s: a stream silent for longer is a
 * connection that died without closing (a laptop asleep, a NAT that forgot it). */
const SILENT_MS = 45000;

export class LiveFeed {
  /**
   * onEvent(event): an event of the stream.
   * onResync(reason): reload the views from the REST API ("start", "resumed", "behind", "poll").
   * onMode(mode): "connecting", "live" or "polling".
   */
  constructor({ onEvent, onResync, onMode }) {
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onMode = onMode;
    this.lastId = null;
    this.running = false;
    this.generation = 0;
    this.controller = null;
    this.pollTimer = null;
    this.retryTimer = null;
    this.wake = null;
    this.mode = "connecting";
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.lastId = null;
    this.generation += 1;
    this.loop(this.generation);
  }

  stop() {
    this.running = false;
    this.generation += 1;
    this.controller?.abort();
    this.stopPolling();
    clearTimeout(this.retryTimer);
    this.wake?.();
  }

  setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.onMode(mode);
  }

  /** One loop per start(); a loop whose generation has passed (stopped, restarted) ends. */
  async loop(generation) {
    const current = () => this.running && this.generation === generation;
    let attempt = 0;
    this.setMode("connecting");
    while (current()) {
      const opened = Date.now();
      try {
        await this.stream(current);
      } catch (error) {
        if (!current()) break;
        console.debug("event stream unavailable:", error.message);
      }
      if (!current()) break;
      if (Date.now() - opened > HEALTHY_MS) attempt = 0;
      this.setMode("polling");
      this.startPolling();
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt);
      attempt += 1;
      await new Promise((resolve) => {
        this.wake = resolve;
        this.retryTimer = setTimeout(resolve, delay * (0.8 + Math.random() * 0.4));
      });
    }
  }

  async stream(current) {
    const operator = session();
    if (!operator) {
      sessionEnded();
      return;
    }
    this.controller = new AbortController();
    const headers = { Authorization: `Bearer ${operator.token}`, Accept: "text/event-stream" };
    if (this.lastId !== null) headers["Last-Event-ID"] = this.lastId;
    const response = await fetch("/api/v1/events", {
      headers,
      cache: "no-store",
      signal: this.controller.signal,
    });
    if (!current()) return;
    if (response.status === 401) {
      this.stop();
      sessionEnded();
      return;
    }
    const type = response.headers.get("Content-Type") ?? "";
    if (!response.ok || !type.startsWith("text/event-stream")) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status} ${type}`);
    }
    this.stopPolling();
    this.setMode("live");
    // Read the views afresh now that the stream holds every later change: without a position
    // there is nothing to continue from, and a resumed stream may have reached another member of
    // the cluster, whose replay can miss events another member published a moment before.
    this.onResync(this.lastId === null ? "start" : "resumed");
    const parser = new SseParser((message) => this.receive(message));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let heard = Date.now();
    const controller = this.controller;
    const watchdog = setInterval(() => {
      if (Date.now() - heard > SILENT_MS) controller.abort();
    }, 5000);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || !current()) break;
        heard = Date.now();
        parser.push(value);
      }
    } finally {
      clearInterval(watchdog);
    }
    throw new Error("the stream ended");
  }

  receive(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (message.id) this.lastId = message.id;
    else if (event.id !== undefined && event.id !== null) this.lastId = String(event.id);
    if (event.type === "stream.behind") this.onResync("behind");
    else if (event.type !== "stream.dropped") this.onEvent(event);
  }

  startPolling() {
    if (this.pollTimer !== null) return;
    let busy = false;
    const poll = async () => {
      if (busy || !this.running) return;
      busy = true;
      try {
        await this.onResync("poll");
      } finally {
        busy = false;
      }
    };
    poll();
    this.pollTimer = setInterval(poll, POLL_MS);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}
