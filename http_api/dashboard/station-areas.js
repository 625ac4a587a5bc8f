// What a station holds beyond its connectors: the charging profiles it accepted and its
// composite schedule (1.6 section 3.13, 2.0.1 K), limits other systems set on it (2.0.1 K12),
// its reservations (1.6 section 5.13, 2.0.1 H), and its latest firmware updates and log requests
// with their status (1.6 sections 5.19 and 5.9, 2.0.1 L and N). Read-only: each block is read
// from the REST API and read again when the stream says it changed.

import { api, ApiError } from "./api.js";
import { scheduleChart } from "./chart.js";
import { coalesce, fill, h } from "./dom.js";
import { ago, clock, offset, rate } from "./format.js";

const SHOWN = 8;
const COMPOSITE_SECONDS = 24 * 3600;
const SITE_PROFILES = [911000, 913000];
const NEEDS_PROFILES = 2_000_000_000;
/** Reading the composite schedule asks the charger (GetCompositeSchedule): a burst of profile
 * changes (a site rebalancing) costs one question. */
const COMPOSITE_EVERY_MS = 3000;

const FIRMWARE_FAILED = new Set([
  "NotSent",
  "Rejected",
  "InvalidCertificate",
  "RevokedCertificate",
  "DownloadFailed",
  "InstallationFailed",
  "InstallVerificationFailed",
  "InvalidSignature",
  "TimedOut",
  "Canceled",
]);
const LOG_FAILED = new Set(["NotSent", "Rejected", "UploadFailure", "UploadFailed", "BadMessage", "NotSupportedOperation", "PermissionDenied", "TimedOut", "Canceled"]);

function table(className, headings, rows) {
  return h(
    "table",
    { class: `${className} compact responsive` },
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows),
  );
}

/** A cell's content as one element: on a phone a cell is a grid of its label and one value. */
function one(...children) {
  return h("div", { class: "cell" }, ...children);
}

/** A status chip: green once done, red when it failed, blue while under way. */
function statusChip(status, { final, failed, done }) {
  const kind = failed.has(status) ? "faulted" : final ? (done ? "available" : "unavailable") : "charging";
  return h("span", { class: `chip ${kind}`, dataset: { status } }, status);
}

function bytes(size) {
  if (size === null || size === undefined) return "";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

function owner(profileId) {
  if (profileId >= SITE_PROFILES[0] && profileId < SITE_PROFILES[1]) return "site";
  if (profileId >= NEEDS_PROFILES) return "EV needs";
  return null;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** When a period starts: a time of day (a weekday and a time, a date and a time) where its
 * schedule has a start and is not Relative, else the offset from the transaction's start. */
function periodStart(schedule, profile, seconds) {
  const origin = schedule?.start ? new Date(schedule.start).getTime() : Number.NaN;
  if (profile?.kind === "Relative" || Number.isNaN(origin)) return offset(seconds);
  const at = new Date(origin + Number(seconds) * 1000);
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (profile?.kind === "Recurring") return profile.recurrency === "Weekly" ? `from ${WEEKDAYS[at.getDay()]} ${time}` : `from ${time}`;
  return `from ${clock(at.toISOString())}`;
}

/** A schedule's periods as "16.0 A from 00:00", "10.0 A from 18:00" (the first few). */
function periodLines(schedule, profile) {
  const periods = schedule?.periods ?? [];
  const shown = periods.slice(0, 4).map((p) => `${rate(p.limit, schedule.unit)} ${periodStart(schedule, profile, p.start_period)}`);
  return periods.length > shown.length ? [...shown, `and ${periods.length - shown.length} more`] : shown;
}

function periodsText(schedule) {
  return periodLines(schedule).join(", ");
}

/** The file a URL names (its last path segment), the URL itself when it names none. */
function fileOf(location) {
  try {
    const url = new URL(location);
    return decodeURIComponent(url.pathname.split("/").filter(Boolean).pop() ?? "") || url.host;
  } catch {
    return location;
  }
}

function kindText(profile) {
  if (profile.kind === "Recurring") return `Recurring ${profile.recurrency ?? "Daily"}`;
  return profile.kind;
}

function profileRows(items) {
  return items.map((p) => {
    const by = owner(p.id);
    return h(
      "tr",
      { dataset: { profile: p.id } },
      h("td", { "data-label": "Id" }, one(String(p.id), by ? h("span", { class: "chip tag" }, by) : null)),
      h("td", { "data-label": "EVSE" }, p.evse_id === 0 ? "station" : String(p.evse_id)),
      h("td", { "data-label": "Purpose" }, p.purpose),
      h("td", { "data-label": "Kind" }, kindText(p)),
      h("td", { "data-label": "Stack" }, String(p.stack_level)),
      h("td", { "data-label": "Limit", class: "limit" }, one((p.schedules ?? []).map((s) => periodLines(s, p).map((line) => h("div", { class: "period" }, line))))),
      h("td", { "data-label": "Transaction", class: "id" }, p.transaction_id ?? "–"),
      h("td", { "data-label": "Accepted", class: "time" }, clock(p.accepted_at)),
    );
  });
}

function limitRows(items) {
  return items.map((l) =>
    h(
      "li",
      {},
      `${l.source}${l.evse_id ? ` on EVSE ${l.evse_id}` : ""}: `,
      l.charging_limit?.isGridCritical || l.grid_critical ? "grid critical, " : "",
      (l.schedules ?? []).map((s) => periodsText({ unit: s.chargingRateUnit, periods: (s.chargingSchedulePeriod ?? []).map((p) => ({ limit: p.limit, start_period: p.startPeriod })) })).join("; ") || "no schedule",
      h("span", { class: "muted" }, ` (${ago(l.reported_at)})`),
    ),
  );
}

export function mountStationAreas({ stationId, store }) {
  const path = `/api/v1/stations/${encodeURIComponent(stationId)}`;
  let destroyed = false;
  let unit = "A";

  const profilesBody = h("div", { class: "profiles-body" });
  const limitsBody = h("div");
  const compositeBody = h("div", { class: "chart-box composite" });
  const compositeNote = h("p", { class: "muted small-note" });
  const refresh = h("button", { type: "button", name: "refresh-composite", class: "small" }, "Ask the charger again");
  // Whose composite: an EVSE's is what a session there may draw (station maximum, TxProfile or
  // TxDefaultProfile, external limits); the whole station's is its maximum and external limits.
  const evseChoice = h("select", { name: "composite-evse", "aria-label": "Composite schedule of" });
  let evseChoices = null;
  let chosenByUser = false;
  const computedKey = h("span", { class: "key computed" }, "computed by voltmesh");
  const stationKey = h("span", { class: "key station" }, "the charger's answer");
  computedKey.hidden = true;
  stationKey.hidden = true;
  const reservationsBody = h("div");
  const firmwareBody = h("div");
  const logsBody = h("div");

  const profilesSection = h(
    "section",
    { class: "card", id: "charging-profiles" },
    h("h2", {}, "Charging profiles"),
    profilesBody,
    limitsBody,
    h("div", { class: "composite-head" }, h("h3", {}, "Composite schedule, next 24 h"), evseChoice),
    compositeBody,
    h("div", { class: "legend" }, computedKey, stationKey, refresh),
    compositeNote,
  );
  const reservationsSection = h("section", { class: "card", id: "reservations" }, h("h2", {}, "Reservations"), reservationsBody);
  const maintenanceSection = h(
    "section",
    { class: "card", id: "maintenance" },
    h("h2", {}, "Firmware updates"),
    firmwareBody,
    h("h2", { class: "next" }, "Log requests"),
    logsBody,
  );

  function failure(body, error) {
    const text = error instanceof ApiError && error.status === 404 ? "Not known for this station." : `Cannot read it: ${error.message}`;
    fill(body, h("p", { class: error instanceof ApiError && error.status === 404 ? "muted" : "error" }, text));
  }

  let composite = null;
  function drawComposite() {
    if (!composite) {
      fill(compositeBody, h("p", { class: "muted" }, "Loading…"));
      return;
    }
    const lines = [{ schedule: composite.computed, className: "computed", label: "computed by voltmesh" }];
    const answer = composite.station ?? {};
    if (answer.schedule) lines.push({ schedule: answer.schedule, className: "station", label: "the charger's answer" });
    const limited = (line) => (line.schedule?.periods ?? []).some((p) => p.limit !== null && p.limit !== undefined);
    const anyLimit = lines.some(limited);
    computedKey.hidden = !limited(lines[0]);
    stationKey.hidden = !(lines[1] && limited(lines[1]));
    fill(
      compositeBody,
      anyLimit
        ? scheduleChart(lines, composite.duration, composite.unit, compositeBody.clientWidth || 640)
        : h("p", { class: "muted" }, "No profile limits it over the next 24 h."),
    );
    compositeNote.textContent = answer.error
      ? `Without the charger's answer: ${answer.error.detail}`
      : answer.status && answer.status !== "Accepted"
        ? `The charger answered ${answer.status}.`
        : "";
  }

  async function loadProfiles() {
    try {
      const [profiles, limits] = await Promise.all([api(`${path}/charging-profiles`), api(`${path}/charging-limits`)]);
      if (destroyed) return;
      const items = profiles.items.sort((a, b) => a.evse_id - b.evse_id || b.stack_level - a.stack_level || a.id - b.id);
      unit = items[0]?.schedules?.[0]?.unit ?? unit;
      fill(
        profilesBody,
        items.length === 0
          ? h("p", { class: "muted empty" }, "The station holds no profile voltmesh sent.")
          : table("profiles", ["Id", "EVSE", "Purpose", "Kind", "Stack", "Limit", "Transaction", "Accepted"], profileRows(items)),
      );
      fill(
        limitsBody,
        limits.items.length > 0 ? [h("h3", {}, "Limits set by other systems"), h("ul", { class: "limits" }, limitRows(limits.items))] : null,
      );
    } catch (error) {
      if (!destroyed) failure(profilesBody, error);
    }
  }

  /** The EVSEs known of the station (from the fleet store), the first one chosen at first. */
  function updateEvseChoice() {
    const evses = (store.stations.get(stationId)?.evses ?? []).map((e) => e.id).filter((id) => id > 0);
    const key = evses.join(",");
    if (key === evseChoices) return false;
    const chosen = chosenByUser ? evseChoice.value : String(evses[0] ?? 0);
    evseChoices = key;
    // A 1.6 connector N is EVSE N (its connectorId in GetCompositeSchedule).
    const name = store.stations.get(stationId)?.protocol === "ocpp1.6" ? "Connector" : "EVSE";
    fill(evseChoice, evses.map((id) => h("option", { value: String(id) }, `${name} ${id}`)), h("option", { value: "0" }, "Whole station"));
    evseChoice.value = [...evseChoice.options].some((o) => o.value === chosen) ? chosen : String(evses[0] ?? 0);
    return true;
  }

  async function loadComposite() {
    refresh.disabled = true;
    updateEvseChoice();
    try {
      const answer = await api(`${path}/composite-schedule`, {
        query: { duration: COMPOSITE_SECONDS, unit, evse_id: evseChoice.value || 0 },
      });
      if (destroyed) return;
      composite = answer;
      drawComposite();
    } catch (error) {
      if (!destroyed) failure(compositeBody, error);
    } finally {
      refresh.disabled = false;
    }
  }

  async function loadReservations() {
    try {
      const page = await api("/api/v1/reservations", { query: { station_id: stationId, limit: SHOWN } });
      if (destroyed) return;
      fill(
        reservationsBody,
        page.items.length === 0
          ? h("p", { class: "muted empty" }, "No reservation.")
          : table(
              "reservations",
              ["Id", "Status", "Token", "EVSE", "Expires", "Transaction"],
              page.items.map((r) =>
                h(
                  "tr",
                  { dataset: { reservation: r.id, status: r.status } },
                  h("td", { "data-label": "Id" }, String(r.id)),
                  h("td", { "data-label": "Status" }, h("span", { class: `chip ${r.status === "Active" ? "reserved" : r.status === "Used" ? "available" : ""}` }, r.status)),
                  h("td", { "data-label": "Token" }, r.id_token ?? "–"),
                  h(
                    "td",
                    { "data-label": "EVSE" },
                    one(
                      r.evse_id ? String(r.evse_id) : "any",
                      r.status === "Active"
                        ? (r.connectors ?? []).map((c) => h("span", { class: "muted" }, ` (${c.status ?? "?"})`))
                        : null,
                    ),
                  ),
                  h("td", { "data-label": "Expires", class: "time" }, clock(r.expires_at)),
                  h("td", { "data-label": "Transaction", class: "id" }, r.transaction_id ?? "–"),
                ),
              ),
            ),
      );
    } catch (error) {
      if (!destroyed) failure(reservationsBody, error);
    }
  }

  async function loadFirmware() {
    try {
      const page = await api(`${path}/firmware-updates`, { query: { limit: 5 } });
      if (destroyed) return;
      fill(
        firmwareBody,
        page.items.length === 0
          ? h("p", { class: "muted empty" }, "No firmware update sent.")
          : table(
              "firmware",
              ["Id", "Status", "Firmware", "Attempts", "Last news"],
              page.items.map((u) =>
                h(
                  "tr",
                  { dataset: { update: u.id, status: u.status } },
                  h("td", { "data-label": "Id" }, one(String(u.id), u.campaign_id ? h("span", { class: "muted" }, ` (campaign ${u.campaign_id})`) : null)),
                  h(
                    "td",
                    { "data-label": "Status" },
                    one(
                      statusChip(u.status, { final: u.final, failed: FIRMWARE_FAILED, done: u.status === "Installed" }),
                      u.detail ? h("div", { class: "muted detail" }, u.detail) : null,
                    ),
                  ),
                  h("td", { "data-label": "Firmware", class: "url", title: u.location }, one(fileOf(u.location), u.signed ? h("span", { class: "chip tag" }, "signed") : null)),
                  h("td", { "data-label": "Attempts" }, String(u.attempts ?? 0)),
                  h("td", { "data-label": "Last news", class: "time" }, clock(u.last_status_at ?? u.updated_at ?? u.created_at)),
                ),
              ),
            ),
      );
    } catch (error) {
      if (!destroyed) failure(firmwareBody, error);
    }
  }

  async function loadLogs() {
    try {
      const page = await api(`${path}/log-requests`, { query: { limit: 5 } });
      if (destroyed) return;
      fill(
        logsBody,
        page.items.length === 0
          ? h("p", { class: "muted empty" }, "No log requested.")
          : table(
              "logs",
              ["Id", "Type", "Status", "File", "Last news"],
              page.items.map((r) =>
                h(
                  "tr",
                  { dataset: { log: r.id, status: r.status } },
                  h("td", { "data-label": "Id" }, String(r.id)),
                  h("td", { "data-label": "Type" }, r.log_type ?? r.action),
                  h(
                    "td",
                    { "data-label": "Status" },
                    one(
                      statusChip(r.status, { final: r.final, failed: LOG_FAILED, done: r.status === "Uploaded" }),
                      r.detail ? h("div", { class: "muted detail" }, r.detail) : null,
                    ),
                  ),
                  h("td", { "data-label": "File", class: "url" }, r.file ? `${r.file.name} (${bytes(r.file.size)})` : (r.announced_name ?? "–")),
                  h("td", { "data-label": "Last news", class: "time" }, clock(r.last_status_at ?? r.updated_at ?? r.created_at)),
                ),
              ),
            ),
      );
    } catch (error) {
      if (!destroyed) failure(logsBody, error);
    }
  }

  const reloadProfiles = coalesce(loadProfiles, 500);
  const reloadComposite = coalesce(loadComposite, COMPOSITE_EVERY_MS);
  const reloadReservations = coalesce(loadReservations, 500);
  const reloadFirmware = coalesce(loadFirmware, 500);
  const reloadLogs = coalesce(loadLogs, 500);
  const redraw = coalesce(drawComposite, 100);
  refresh.addEventListener("click", () => loadComposite());
  evseChoice.addEventListener("change", () => {
    chosenByUser = true;
    loadComposite();
  });

  const onEvent = (event) => {
    const { type, station_id: about } = event.detail;
    if (about !== stationId) return;
    if (type.startsWith("charging_profile.") || type.startsWith("charging_limit.")) {
      reloadProfiles();
      reloadComposite();
    } else if (type.startsWith("reservation.")) reloadReservations();
    else if (type === "firmware.update" || type === "firmware.status") reloadFirmware();
    else if (type === "log.upload" || type === "log.status") reloadLogs();
    else if (type === "station.connected") reloadComposite();
  };
  const onChange = (event) => {
    // The station's EVSEs become known (its page opened before the fleet was read, or its
    // first StatusNotification): the composite of the first one is the one shown.
    if (composite && evseChoices !== null && updateEvseChoice()) reloadComposite();
    if (event.detail !== "all") return;
    reloadProfiles();
    reloadReservations();
    reloadFirmware();
    reloadLogs();
  };
  store.addEventListener("event", onEvent);
  store.addEventListener("change", onChange);
  window.addEventListener("resize", redraw);

  function start() {
    loadProfiles().then(() => loadComposite());
    loadReservations();
    loadFirmware();
    loadLogs();
  }

  return {
    profilesSection,
    reservationsSection,
    maintenanceSection,
    start,
    destroy() {
      destroyed = true;
      store.removeEventListener("event", onEvent);
      store.removeEventListener("change", onChange);
      window.removeEventListener("resize", redraw);
    },
  };
}
