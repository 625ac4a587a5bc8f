// Station page: its connectors live, the common commands, recent events, its charging profiles,
// reservations, firmware updates and log requests (station-areas.js), and its configuration (1.6)
// or device model (2.x).

import { api, ApiError, listAll, sendCommand } from "./api.js";
import { mayOperate } from "./auth.js";
import { commandsFor, openCommand } from "./commands.js";
import { coalesce, fill, h } from "./dom.js";
import { ago, clock, costParts, duration, kw, kwh, money } from "./format.js";
import { mountStationAreas } from "./station-areas.js";
import { stateBadge } from "./view-fleet.js";

const EVENTS_SHOWN = 20;
const VARIABLES_MAX = 5000;

function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

function describe(station) {
  const boot = station.boot ?? {};
  const rows = [
    ["Protocol", station.protocol ?? "–"],
    ["Vendor, model", [boot.vendor, boot.model].filter(Boolean).join(" ") || "–"],
    ["Firmware", boot.firmware ?? "–"],
    ["Boot", [boot.status, boot.reason].filter(Boolean).join(", ") || "–"],
    ["Last boot", clock(boot.last_boot)],
    ["Last seen", ago(station.last_seen)],
    ["Registered", station.registered === false ? "no (pending)" : station.allowed === false ? "refused" : "yes"],
    ["Security profile", station.security_profile ?? "node default"],
  ];
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
}

/** A 1.6 connector N is EVSE N with connector 1: it is named as the charger names it. */
function connectorName(station, evse, connector) {
  if (evse.id === 0) return "Station";
  if (station.protocol === "ocpp1.6") return `Connector ${evse.id}`;
  return (evse.connectors ?? []).length > 1 ? `EVSE ${evse.id} · ${connector.id}` : `EVSE ${evse.id}`;
}

/** An event's data as "key: value" pairs, objects as JSON. */
function summary(data) {
  return Object.entries(data ?? {})
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(", ");
}

function connectorCards(station, transactions) {
  const cards = [];
  for (const evse of station.evses ?? []) {
    for (const connector of evse.connectors ?? []) {
      const tx = transactions.find(
        (t) => t.evse_id === evse.id && (t.connector_id === null || t.connector_id === connector.id),
      );
      const status = connector.status ?? "Unknown";
      const title = connectorName(station, evse, connector);
      cards.push(
        h(
          "div",
          { class: "connector", dataset: { evse: evse.id, connector: connector.id, status } },
          h("div", { class: "connector-head" }, h("span", {}, title), h("span", { class: `chip ${status.toLowerCase()}` }, status)),
          connector.error_code && connector.error_code !== "NoError" ? h("p", { class: "error" }, connector.error_code) : null,
          tx
            ? h(
                "dl",
                { class: "facts small" },
                h("dt", {}, "Token"),
                h("dd", {}, tx.id_token ?? "–"),
                h("dt", {}, "Power"),
                h("dd", { class: "power" }, kw(tx.power_w)),
                h("dt", {}, "Energy"),
                h("dd", { class: "energy" }, kwh(tx.energy_wh)),
                h("dt", {}, "For"),
                h("dd", {}, duration(tx.start_time)),
                tx.cost ? [h("dt", {}, "Cost so far"), h("dd", { class: "cost", title: costParts(tx.cost) }, money(tx.cost))] : null,
              )
            : null,
        ),
      );
    }
  }
  return cards.length > 0 ? cards : [h("p", { class: "muted" }, "No connector has reported a status yet.")];
}

function eventRows(items) {
  return items.map((event) =>
    h(
      "tr",
      {},
      h("td", { "data-label": "At", class: "time" }, clock(event.at)),
      h("td", { "data-label": "Type", class: "kind" }, event.type),
      h("td", { "data-label": "Details" }, h("span", { class: "payload" }, summary(event.payload ?? event.data))),
    ),
  );
}

function eventTable(items) {
  return h(
    "table",
    { class: "events responsive" },
    h("thead", {}, h("tr", {}, ["At", "Type", "Details"].map((t) => h("th", {}, t)))),
    h("tbody", {}, eventRows(items)),
  );
}

export function mountStation(container, { store, stationId }) {
  const header = h("div", { class: "station-head" });
  const facts = h("div");
  const connectors = h("div", { class: "connectors" });
  const commandButtons = h("div", { class: "commands" });
  const commandNote = h("p", { class: "muted" });
  const lastAnswer = h("p", { class: "last-answer", role: "status" });
  const eventsBody = h("div");
  const eventsSection = section("Recent events", eventsBody);
  eventsSection.hidden = true;
  const activityBody = h("div");
  const activitySection = section("Live activity", activityBody);
  activitySection.hidden = true;
  const configTitle = h("h2", {}, "Configuration");
  const configBody = h("div");
  const configSection = h("section", { class: "card" }, configTitle, configBody);
  const dialog = document.getElementById("command-dialog");
  const areas = mountStationAreas({ stationId, store });
  let protocolShown = undefined;
  let destroyed = false;

  function transactionsHere() {
    return store.activeAt(stationId);
  }

  function renderCommands(station) {
    const active = transactionsHere();
    const evses = (station.evses ?? []).map((e) => e.id).filter((id) => id > 0);
    const ctx = {
      evses: evses.length > 0 ? evses : [1],
      transactions: active.map((tx) => [
        String(station.protocol === "ocpp1.6" ? (tx.station_transaction_id ?? tx.id) : (tx.station_transaction_id ?? tx.id.split(",").pop())),
        `${tx.id} (${tx.id_token ?? "no token"}, EVSE ${tx.evse_id ?? "?"})`,
      ]),
    };
    const allowed = mayOperate();
    const commands = commandsFor(station.protocol, ctx);
    fill(
      commandButtons,
      commands.map((command) =>
        h(
          "button",
          {
            type: "button",
            class: command.danger ? "danger" : "",
            dataset: { command: command.key },
            disabled: !allowed || !station.connected,
            onclick: () =>
              openCommand(dialog, stationId, command, (sent, outcome) => {
                lastAnswer.className = `last-answer ${outcome.ok ? "ok" : "error"}`;
                lastAnswer.textContent = `${sent.action}: ${outcome.text}`;
              }),
          },
          command.label,
        ),
      ),
    );
    commandNote.textContent = !allowed
      ? "Your role may read only; commands need the operator role."
      : !station.connected
        ? "The station is offline: commands wait until it connects."
        : "";
    commandNote.hidden = commandNote.textContent === "";
  }

  function render() {
    if (destroyed) return;
    const station = store.stations.get(stationId);
    if (!station) {
      fill(header, h("h1", {}, stationId), h("p", { class: "muted" }, store.loaded ? "No such station." : "Loading…"));
      return;
    }
    fill(header, h("h1", {}, station.id), stateBadge(store.stateOf(station)));
    fill(facts, describe(station));
    fill(connectors, connectorCards(station, transactionsHere()));
    // Rebuilding the buttons while a command dialog is open would be harmless, but keeps focus
    // where it is only if nothing changed; rebuild them only when their inputs change.
    const key = JSON.stringify([station.protocol, station.connected, station.evses?.map((e) => e.id), transactionsHere().map((t) => t.id)]);
    if (commandButtons.dataset.key !== key) {
      commandButtons.dataset.key = key;
      renderCommands(station);
    }
    const activity = store.activity.get(stationId) ?? [];
    activitySection.hidden = activity.length === 0;
    fill(activityBody, eventTable(activity.slice(0, EVENTS_SHOWN)));
    if (station.protocol !== protocolShown && station.protocol) {
      protocolShown = station.protocol;
      loadConfiguration(station.protocol);
    }
  }

  async function loadEvents() {
    try {
      const page = await api(`/api/v1/stations/${encodeURIComponent(stationId)}/events`, {
        query: { limit: EVENTS_SHOWN },
      });
      if (destroyed) return;
      eventsSection.hidden = false;
      fill(eventsBody, page.items.length > 0 ? eventTable(page.items) : h("p", { class: "muted" }, "No stored event yet."));
    } catch {
      // A node without the stored events list (or a station it does not know): no block.
      eventsSection.hidden = true;
    }
  }

  async function loadConfiguration(protocol) {
    const path = `/api/v1/stations/${encodeURIComponent(stationId)}`;
    if (protocol === "ocpp1.6") {
      configTitle.textContent = "Configuration";
      const ask = h("button", { type: "button", name: "read-configuration", disabled: !mayOperate() }, "Read from the charger");
      ask.addEventListener("click", async () => {
        ask.disabled = true;
        try {
          await sendCommand(stationId, "GetConfiguration", {});
        } catch (error) {
          fill(configBody, h("p", { class: "error" }, error.message), ask);
          return;
        }
        loadConfiguration(protocol);
      });
      try {
        const view = await api(`${path}/configuration`);
        if (destroyed) return;
        const rows = view.keys.map((k) =>
          h("tr", {}, h("td", { "data-label": "Key" }, k.key), h("td", { "data-label": "Value" }, k.value ?? "–"), h("td", { "data-label": "Read-only" }, k.readonly ? "yes" : "no")),
        );
        fill(
          configBody,
          rows.length > 0
            ? h("table", { class: "config responsive" }, h("thead", {}, h("tr", {}, ["Key", "Value", "Read-only"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))
            : h("p", { class: "muted" }, "No key known yet: read them from the charger."),
          view.updated_at ? h("p", { class: "muted" }, `As of ${clock(view.updated_at)}`) : null,
          ask,
        );
      } catch (error) {
        fill(configBody, h("p", { class: "muted" }, error instanceof ApiError && error.status === 404 ? "Known while the station is connected." : error.message));
      }
      return;
    }
    configTitle.textContent = "Device model";
    try {
      const variables = await listAll(`${path}/variables`, {}, VARIABLES_MAX);
      if (destroyed) return;
      const filter = h("input", { type: "search", placeholder: "Filter components and variables", "aria-label": "Filter the device model" });
      const body = h("tbody");
      const show = () => {
        const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
        const rows = variables.filter((v) => {
          const text = [v.component, v.component_instance, v.variable, v.variable_instance, v.value].filter(Boolean).join(" ").toLowerCase();
          return words.every((w) => text.includes(w));
        });
        fill(
          body,
          rows.slice(0, 500).map((v) =>
            h(
              "tr",
              {},
              h("td", { "data-label": "Component" }, [v.component, v.component_instance].filter(Boolean).join(" / "), v.evse_id !== null ? ` (EVSE ${v.evse_id})` : ""),
              h("td", { "data-label": "Variable" }, [v.variable, v.variable_instance].filter(Boolean).join(" / ")),
              h("td", { "data-label": "Attribute" }, v.attribute_type),
              h("td", { "data-label": "Value" }, v.value ?? "–"),
              h("td", { "data-label": "Mutability" }, v.mutability ?? "–"),
            ),
          ),
        );
      };
      filter.addEventListener("input", show);
      show();
      fill(
        configBody,
        variables.length > 0
          ? [
              h("div", { class: "toolbar" }, filter),
              h("table", { class: "config responsive" }, h("thead", {}, h("tr", {}, ["Component", "Variable", "Attribute", "Value", "Mutability"].map((t) => h("th", {}, t)))), body),
            ]
          : h("p", { class: "muted" }, "The station has not reported its device model (GetBaseReport fills it)."),
      );
    } catch (error) {
      fill(configBody, h("p", { class: "error" }, error.message));
    }
  }

  const schedule = coalesce(render);
  const reloadEvents = coalesce(loadEvents, 500);
  const onChange = (event) => {
    schedule();
    if (event.detail === "all") reloadEvents();
  };
  const onEvent = (event) => {
    if (event.detail?.station_id === stationId) reloadEvents();
  };
  store.addEventListener("change", onChange);
  store.addEventListener("event", onEvent);
  const clockTimer = setInterval(schedule, 5000);

  fill(
    container,
    h("p", { class: "crumbs" }, h("a", { href: "#/fleet" }, "Fleet"), " / ", stationId),
    header,
    h(
      "div",
      { class: "station-grid" },
      h("div", { class: "column" }, section("Connectors", connectors), section("Commands", commandNote, commandButtons, lastAnswer)),
      h("div", { class: "column" }, section("Station", facts)),
    ),
    // What the station holds, above the event lists, which grow long.
    areas.profilesSection,
    h("div", { class: "station-grid even" }, h("div", { class: "column" }, areas.reservationsSection), h("div", { class: "column" }, areas.maintenanceSection)),
    h("div", { class: "station-grid" }, h("div", { class: "column" }, eventsSection), h("div", { class: "column" }, activitySection)),
    // Full width: a device model has long names and many rows.
    configSection,
  );
  if (!store.stations.has(stationId)) {
    store.loadStation(stationId).catch(() => render());
  }
  render();
  loadEvents();
  areas.start();
  return {
    /** Transactions whose power the REST API should be asked for while the stream is down. */
    metered() {
      return transactionsHere().map((tx) => tx.id);
    },
    destroy() {
      destroyed = true;
      areas.destroy();
      store.removeEventListener("change", onChange);
      store.removeEventListener("event", onEvent);
      clearInterval(clockTimer);
      if (dialog.open) dialog.close();
    },
  };
}
