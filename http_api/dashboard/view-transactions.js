// Transactions: the active ones with live power, energy and running cost, energy delivered per
// hour, and the latest sessions with their final cost.

import { api } from "./api.js";
import { energyChart, energyPerHour } from "./chart.js";
import { coalesce, fill, h } from "./dom.js";
import { clock, costParts, duration, kw, kwh, money } from "./format.js";
import { stationHref } from "./view-fleet.js";

const CHART_HOURS = 24;
const RECENT_SHOWN = 50;
const RECENT_MAX = 5000;
const METERED_MAX = 25;

/** Transactions newest first, back to `since` (ms) or RECENT_MAX of them. */
async function transactionsSince(since) {
  const items = [];
  let cursor = null;
  do {
    const page = await api("/api/v1/transactions", { query: { limit: 1000, cursor } });
    items.push(...page.items);
    cursor = page.next;
    const oldest = page.items.at(-1)?.start_time;
    if (oldest && new Date(oldest).getTime() < since) break;
  } while (cursor && items.length < RECENT_MAX);
  return items;
}

/** A cost cell: the total with its currency, what it is made of on hover. */
function costCell(cost, running) {
  return h(
    "td",
    { "data-label": running ? "Cost so far" : "Cost", class: "cost", title: costParts(cost) || "no tariff applies" },
    money(cost),
  );
}

function table(className, headings, rows) {
  return h(
    "table",
    { class: `${className} responsive` },
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows),
  );
}

export function mountTransactions(container, { store }) {
  let recent = [];
  let loadError = null;
  let destroyed = false;
  const activeBody = h("div");
  const chartBody = h("div", { class: "chart-box" });
  const recentBody = h("div");

  function activeSorted() {
    return [...store.active.values()].sort((a, b) => String(b.start_time).localeCompare(String(a.start_time)));
  }

  function render() {
    if (destroyed) return;
    const active = activeSorted();
    // A running session's cost: from the stream (transaction.cost), else as last listed.
    const listed = new Map(recent.map((tx) => [tx.id, tx]));
    fill(
      activeBody,
      active.length === 0
        ? h("p", { class: "muted" }, store.loaded ? "No transaction is running." : "Loading…")
        : table(
            "active",
            ["Transaction", "Station", "EVSE", "Token", "Since", "Power", "Energy", "Cost so far"],
            active.map((tx) =>
              h(
                "tr",
                { dataset: { transaction: tx.id } },
                h("td", { "data-label": "Transaction" }, tx.id),
                h("td", { "data-label": "Station" }, h("a", { href: stationHref(tx.station_id) }, tx.station_id)),
                h("td", { "data-label": "EVSE" }, tx.evse_id ?? "–"),
                h("td", { "data-label": "Token" }, tx.id_token ?? "–"),
                h("td", { "data-label": "Since" }, `${clock(tx.start_time)} (${duration(tx.start_time)})`),
                h("td", { "data-label": "Power", class: "power" }, kw(tx.power_w)),
                h("td", { "data-label": "Energy", class: "energy" }, kwh(tx.energy_wh)),
                costCell(tx.cost ?? listed.get(tx.id)?.cost, true),
              ),
            ),
          ),
    );
    // Live figures of the running ones over the listed ones.
    const merged = new Map(recent.map((tx) => [tx.id, tx]));
    for (const tx of active) merged.set(tx.id, { ...merged.get(tx.id), ...tx });
    fill(chartBody, energyChart(energyPerHour([...merged.values()], CHART_HOURS), chartBody.clientWidth));
    const done = recent.filter((tx) => !store.active.has(tx.id)).slice(0, RECENT_SHOWN);
    fill(
      recentBody,
      loadError
        ? h("p", { class: "error" }, loadError)
        : done.length === 0
          ? h("p", { class: "muted" }, "No finished transaction yet.")
          : table(
              "recent",
              ["Transaction", "Station", "Token", "Started", "Stopped", "Energy", "Cost", "Reason"],
              done.map((tx) =>
                h(
                  "tr",
                  { dataset: { transaction: tx.id } },
                  h("td", { "data-label": "Transaction" }, tx.id),
                  h("td", { "data-label": "Station" }, h("a", { href: stationHref(tx.station_id) }, tx.station_id)),
                  h("td", { "data-label": "Token" }, tx.id_token ?? "–"),
                  h("td", { "data-label": "Started" }, clock(tx.start_time)),
                  h("td", { "data-label": "Stopped" }, tx.active ? "running" : clock(tx.stop_time)),
                  h("td", { "data-label": "Energy" }, kwh(tx.energy_wh)),
                  costCell(tx.cost, false),
                  h("td", { "data-label": "Reason" }, tx.stop_reason ?? "–"),
                ),
              ),
            ),
    );
  }

  async function loadRecent() {
    try {
      recent = await transactionsSince(Date.now() - CHART_HOURS * 3600 * 1000);
      loadError = null;
    } catch (error) {
      loadError = `Cannot read the transactions: ${error.message}`;
    }
    schedule();
  }

  const schedule = coalesce(render);
  const reload = coalesce(loadRecent, 1000);
  const onChange = (event) => {
    schedule();
    if (event.detail === "all") reload();
  };
  const onEvent = (event) => {
    const { type, data } = event.detail;
    // A final cost (1.6: priced by the leading member's loop, after the end) is read again.
    if (type === "transaction.ended" || type === "transaction.started" || (type === "transaction.cost" && data?.ended)) reload();
  };
  store.addEventListener("change", onChange);
  store.addEventListener("event", onEvent);
  const clockTimer = setInterval(schedule, 10000);
  window.addEventListener("resize", schedule);

  fill(
    container,
    h("h1", {}, "Transactions"),
    h("section", { class: "card" }, h("h2", {}, "Running"), activeBody),
    h("section", { class: "card" }, h("h2", {}, `Energy delivered per hour, kWh (last ${CHART_HOURS} h)`), chartBody),
    h("section", { class: "card" }, h("h2", {}, "Latest"), recentBody),
  );
  render();
  loadRecent();
  return {
    /** Transactions whose power the REST API should be asked for while the stream is down. */
    metered() {
      return activeSorted().slice(0, METERED_MAX).map((tx) => tx.id);
    },
    destroy() {
      destroyed = true;
      store.removeEventListener("change", onChange);
      store.removeEventListener("event", onEvent);
      window.removeEventListener("resize", schedule);
      clearInterval(clockTimer);
    },
  };
}
