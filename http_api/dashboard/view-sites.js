// Sites: each grid connection's limit in force now, what its sessions may draw by what their
// stations accepted, and each session's share (GET /api/v1/sites and /sites/{id}/allocation),
// kept current by the `site.allocated` events of the stream.

import { api, listAll } from "./api.js";
import { coalesce, fill, h } from "./dom.js";
import { clock, rate } from "./format.js";
import { stationHref } from "./view-fleet.js";

const SITES_MAX = 500;
const READ_AT_ONCE = 6;

const STATUS_TEXT = {
  accepted: "accepted",
  sent: "sent, no answer yet",
  pending: "waiting",
  rejected: "refused",
};

/** Reads `items` through `read`, a few at a time: a node with a hundred sites is not asked a
 * hundred things at once. */
async function inBatches(items, read) {
  const out = [];
  for (let i = 0; i < items.length; i += READ_AT_ONCE) {
    out.push(...(await Promise.all(items.slice(i, i + READ_AT_ONCE).map(read))));
  }
  return out;
}

/** When a division was computed, in ms (0 when never). */
function when(allocation) {
  const at = Date.parse(allocation?.computed_at ?? "");
  return Number.isNaN(at) ? 0 : at;
}

function limitText(limit) {
  if (!limit) return "–";
  const phases = limit.phases ?? 3;
  return limit.unit === "W" ? `${rate(limit.value, "W")} (${phases} phase${phases > 1 ? "s" : ""})` : `${rate(limit.value, "A")} per phase × ${phases}`;
}

/** The bar of what the sessions may draw against the limit in force. */
export function usageBar(allocated, limit) {
  const value = Number(allocated) || 0;
  const max = Number(limit?.value) || 0;
  const share = max > 0 ? value / max : value > 0 ? Infinity : 0;
  const over = share > 1 + 1e-9;
  const percent = Number.isFinite(share) ? Math.round(share * 100) : null;
  const label = `${rate(value, limit?.unit)} of ${rate(max, limit?.unit)}${percent === null ? "" : ` (${percent} %)`}`;
  const fillBar = h("div", { class: "meter-fill" });
  // Through the CSS object model: the page's Content-Security-Policy refuses style attributes.
  fillBar.style.width = `${Math.min(100, Number.isFinite(share) ? share * 100 : 100).toFixed(1)}%`;
  return h(
    "div",
    { class: "usage" },
    h(
      "div",
      {
        class: `meter${over ? " over" : ""}`,
        role: "meter",
        "aria-valuemin": "0",
        "aria-valuemax": String(max),
        "aria-valuenow": String(value),
        "aria-label": `Allocated ${label}`,
      },
      fillBar,
    ),
    h("span", { class: `meter-text${over ? " error" : ""}` }, over ? `${label}: over the limit` : label),
  );
}

function membersText(site) {
  const members = site.members ?? [];
  if (members.length === 0) return "none";
  const shown = members.slice(0, 6).map((m) => (m.evse_id === null ? m.station_id : `${m.station_id} (EVSE ${m.evse_id})`));
  return members.length > shown.length ? `${shown.join(", ")} and ${members.length - shown.length} more` : shown.join(", ");
}

function scheduleText(site) {
  if (!site.schedule || site.schedule.length === 0) return "none: the limit holds all day";
  return site.schedule.map((e) => `${e.start} UTC ${rate(e.value, site.limit?.unit)}`).join(", ");
}

function sessionRows(allocation) {
  return allocation.sessions.map((s) =>
    h(
      "tr",
      { dataset: { station: s.station_id, evse: s.evse_id ?? "", status: s.status } },
      h("td", { "data-label": "Station" }, h("a", { href: stationHref(s.station_id) }, s.station_id)),
      h("td", { "data-label": "EVSE" }, s.evse_id ?? "–"),
      h("td", { "data-label": "Transaction", class: "id" }, s.transaction_id ?? "–"),
      h("td", { "data-label": "Priority" }, String(s.priority ?? 0)),
      h("td", { "data-label": "Share", class: "share" }, rate(s.limit, s.unit)),
      h("td", { "data-label": "Accepted", class: "accepted" }, rate(s.accepted_limit, s.unit)),
      h("td", { "data-label": "Profile" }, h("span", { class: `chip ${s.status}` }, STATUS_TEXT[s.status] ?? s.status)),
    ),
  );
}

function siteCard(site, allocation, problem) {
  const limit = allocation?.limit ?? { ...site.limit, value: site.limit_now ?? site.limit?.value };
  const sessions = allocation?.sessions ?? [];
  return h(
    "section",
    { class: "card site", dataset: { site: site.id } },
    h("div", { class: "site-head" }, h("h2", {}, site.name), site.name !== site.id ? h("span", { class: "muted" }, site.id) : null),
    usageBar(allocation?.allocated ?? 0, limit),
    h(
      "dl",
      { class: "facts small" },
      h("dt", {}, "Limit now"),
      h("dd", { class: "limit-now" }, limitText(limit)),
      h("dt", {}, "Minimum"),
      h("dd", {}, site.min_current ? `${rate(site.min_current, "A")} per phase for a session, or none` : "none"),
      h("dt", {}, "Schedule"),
      h("dd", {}, scheduleText(site)),
      h("dt", {}, "Members"),
      h("dd", {}, membersText(site)),
      h("dt", {}, "Divided"),
      h("dd", {}, allocation?.computed_at ? clock(allocation.computed_at) : "not yet"),
    ),
    problem
      ? h("p", { class: "error" }, `Cannot read its allocation: ${problem}`)
      : sessions.length === 0
        ? h("p", { class: "muted empty" }, "No session is charging here.")
        : h(
            "table",
            { class: "sessions responsive" },
            h("thead", {}, h("tr", {}, ["Station", "EVSE", "Transaction", "Priority", "Share", "Accepted", "Profile"].map((t) => h("th", {}, t)))),
            h("tbody", {}, sessionRows(allocation)),
          ),
  );
}

export function mountSites(container, { store }) {
  let sites = [];
  const allocations = new Map();
  const problems = new Map();
  let loaded = false;
  let loadError = null;
  let destroyed = false;
  const body = h("div", { class: "sites" });
  const note = h("p", { class: "muted note" });

  function render() {
    if (destroyed) return;
    fill(
      body,
      sites.map((site) => siteCard(site, allocations.get(site.id), problems.get(site.id))),
    );
    note.textContent = loadError
      ? ""
      : !loaded
        ? "Loading…"
        : sites.length === 0
          ? "No site yet: an administrator creates them with PUT /api/v1/sites/{id}."
          : `${sites.length} site${sites.length > 1 ? "s" : ""}; shares update as sessions start and end.`;
    fill(errorBox, loadError ? h("p", { class: "error" }, loadError) : null);
  }

  let loading = null;
  let again = false;

  /** One reading at a time: while the page polls (every 2 s) a node with many sites may take
   * longer than that to answer, and readings must not pile up. */
  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = read();
    try {
      await loading;
    } finally {
      loading = null;
    }
    if (again && !destroyed) {
      again = false;
      load();
    }
  }

  async function read() {
    try {
      const listed = await listAll("/api/v1/sites", {}, SITES_MAX);
      const views = await inBatches(listed, async (site) => {
        try {
          return [site.id, await api(`/api/v1/sites/${encodeURIComponent(site.id)}/allocation`), null];
        } catch (error) {
          return [site.id, null, error.message];
        }
      });
      if (destroyed) return;
      sites = listed.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
      // A division the stream brought while this was read may be newer than the one read.
      const before = new Map(allocations);
      allocations.clear();
      problems.clear();
      for (const [id, view, problem] of views) {
        const known = before.get(id);
        if (view) allocations.set(id, known && when(known) > when(view) ? known : view);
        if (problem) problems.set(id, problem);
      }
      loaded = true;
      loadError = null;
    } catch (error) {
      loadError = `Cannot read the sites: ${error.message}`;
    }
    schedule();
  }

  const errorBox = h("div");
  const schedule = coalesce(render);
  const reload = coalesce(load, 500);
  const onChange = (event) => {
    if (event.detail === "all") reload();
  };
  const onEvent = (event) => {
    const { type, data } = event.detail;
    if (type === "site.allocated" && data?.site_id) {
      if (!sites.some((s) => s.id === data.site_id)) {
        reload();
        return;
      }
      allocations.set(data.site_id, data);
      problems.delete(data.site_id);
      schedule();
    } else if (type === "site.changed") {
      reload();
    }
  };
  store.addEventListener("change", onChange);
  store.addEventListener("event", onEvent);
  const clockTimer = setInterval(schedule, 30000);

  fill(container, h("h1", {}, "Sites"), errorBox, body, note);
  render();
  load();
  return {
    destroy() {
      destroyed = true;
      store.removeEventListener("change", onChange);
      store.removeEventListener("event", onEvent);
      clearInterval(clockTimer);
    },
  };
}
