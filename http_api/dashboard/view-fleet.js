// Fleet overview: counts online, offline, faulted and charging, and every station with a filter.

import { coalesce, fill, h } from "./dom.js";
import { ago } from "./format.js";
import { connectorsOf } from "./store.js";

const SHOWN_MAX = 500;
const STATES = [
  ["online", "Online"],
  ["offline", "Offline"],
  ["faulted", "Faulted"],
  ["charging", "Charging"],
];
const LABELS = Object.fromEntries(STATES);

export function stationHref(id) {
  return `#/stations/${encodeURIComponent(id)}`;
}

export function stateBadge(state) {
  return h("span", { class: `badge ${state}` }, LABELS[state]);
}

function connectorChips(station) {
  return connectorsOf(station)
    .filter((c) => c.evseId > 0)
    .map((c) =>
      h(
        "span",
        { class: `chip ${String(c.status ?? "unknown").toLowerCase()}`, title: `EVSE ${c.evseId} connector ${c.id}` },
        `${c.evseId}: ${c.status ?? "?"}`,
      ),
    );
}

function matches(station, state, words) {
  const haystack = [
    station.id,
    station.protocol,
    station.boot?.vendor,
    station.boot?.model,
    LABELS[state],
    ...connectorsOf(station).map((c) => c.status),
  ]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
  return words.every((word) => haystack.includes(word));
}

export function mountFleet(container, { store }) {
  let only = null;
  const tiles = Object.fromEntries(
    STATES.map(([state, label]) => [
      state,
      h(
        "button",
        { type: "button", class: `tile ${state}`, "aria-pressed": "false", dataset: { state } },
        h("span", { class: "count" }, "–"),
        h("span", { class: "label" }, label),
      ),
    ]),
  );
  for (const [state, tile] of Object.entries(tiles)) {
    tile.addEventListener("click", () => {
      only = only === state ? null : state;
      render();
    });
  }
  const filter = h("input", {
    type: "search",
    id: "station-filter",
    placeholder: "Filter: id, model, status…",
    "aria-label": "Filter stations",
    autocomplete: "off",
  });
  const note = h("p", { class: "muted note" });
  const rows = h("tbody");
  const table = h(
    "table",
    { class: "stations responsive" },
    h(
      "thead",
      {},
      h("tr", {}, ["Station", "State", "Protocol", "Model", "Connectors", "Last seen"].map((t) => h("th", {}, t))),
    ),
    rows,
  );

  function render() {
    const counts = store.counts();
    for (const [state, tile] of Object.entries(tiles)) {
      tile.querySelector(".count").textContent = store.loaded ? String(counts[state]) : "–";
      tile.setAttribute("aria-pressed", String(only === state));
    }
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const charging = store.charging();
    const shown = [];
    let matching = 0;
    const stations = [...store.stations.values()].sort((a, b) => a.id.localeCompare(b.id));
    for (const station of stations) {
      const state = store.stateOf(station, charging);
      const inState =
        only === null ||
        (only === "online" ? station.connected : only === "offline" ? !station.connected : false) ||
        (only === "faulted" && state === "faulted") ||
        (only === "charging" && station.connected && store.isCharging(station, charging));
      if (!inState || !matches(station, state, words)) continue;
      matching += 1;
      if (shown.length < SHOWN_MAX) shown.push([station, state]);
    }
    fill(
      rows,
      shown.map(([station, state]) =>
        h(
          "tr",
          { dataset: { station: station.id, state } },
          h("td", { "data-label": "Station" }, h("a", { href: stationHref(station.id) }, station.id)),
          h("td", { "data-label": "State" }, stateBadge(state)),
          h("td", { "data-label": "Protocol" }, station.protocol ?? "–"),
          h("td", { "data-label": "Model" }, [station.boot?.vendor, station.boot?.model].filter(Boolean).join(" ") || "–"),
          h("td", { "data-label": "Connectors" }, h("div", { class: "chips" }, connectorChips(station))),
          h("td", { "data-label": "Last seen" }, ago(station.last_seen)),
        ),
      ),
    );
    let text = "";
    if (store.error && !store.loaded) text = `Cannot read the stations: ${store.error}`;
    else if (!store.loaded) text = "Loading…";
    else if (matching === 0) text = store.stations.size === 0 ? "No station has connected yet." : "No station matches.";
    else if (matching > shown.length) text = `Showing ${shown.length} of ${matching}: narrow the filter to see the others.`;
    else text = `${matching} of ${store.stations.size} stations`;
    note.textContent = text;
  }

  const schedule = coalesce(render);
  filter.addEventListener("input", render);
  store.addEventListener("change", schedule);
  const clock = setInterval(schedule, 5000);
  fill(
    container,
    h("h1", {}, "Fleet"),
    h("section", { class: "tiles", "aria-label": "Stations by state" }, Object.values(tiles)),
    h("div", { class: "toolbar" }, filter),
    h("div", { class: "card flush" }, table),
    note,
  );
  render();
  return {
    destroy() {
      store.removeEventListener("change", schedule);
      clearInterval(clock);
    },
  };
}
