// The dashboard's entry point: hash routes, the header, and the live feed shared by every page.
//   #/login  #/fleet  #/stations/<id>  #/transactions  #/sites

import { onUnauthorized } from "./api.js";
import { clearSession, session } from "./auth.js";
import { fill } from "./dom.js";
import { LiveFeed } from "./live.js";
import { FleetStore } from "./store.js";
import { mountFleet } from "./view-fleet.js";
import { mountLogin } from "./view-login.js";
import { mountStation } from "./view-station.js";
import { mountSites } from "./view-sites.js";
import { mountTransactions } from "./view-transactions.js";

const main = document.getElementById("main");
const top = document.getElementById("top");
const live = document.getElementById("live");
const store = new FleetStore();
let view = null;

const MODES = {
  connecting: "Connecting…",
  live: "Live",
  polling: "Polling every 2 s",
};

async function resync() {
  await store.refresh();
  if (feed.mode !== "live") {
    const ids = view?.metered?.() ?? [];
    if (ids.length > 0) await store.refreshMeters(ids);
  }
}

const feed = new LiveFeed({
  onEvent: (event) => store.apply(event),
  onResync: () => resync(),
  onMode: (mode) => {
    live.className = `live ${mode}`;
    live.textContent = MODES[mode];
  },
});

function leave(next) {
  feed.stop();
  store.clear();
  const target = next ? `#/login?next=${encodeURIComponent(next)}` : "#/login";
  if (location.hash === target) render();
  else location.hash = target;
}

onUnauthorized(() => leave(location.hash.startsWith("#/login") ? null : location.hash));

document.getElementById("logout").addEventListener("click", () => {
  clearSession();
  leave(null);
});

function routeOf(hash) {
  const [path, query = ""] = hash.replace(/^#/, "").split("?");
  const station = path.match(/^\/stations\/(.+)$/);
  if (path === "/login") return { name: "login", next: new URLSearchParams(query).get("next") };
  if (station) {
    try {
      return { name: "station", stationId: decodeURIComponent(station[1]) };
    } catch {
      return { name: "fleet" }; // a malformed link (#/stations/%E0) is no station
    }
  }
  if (path === "/transactions") return { name: "transactions" };
  if (path === "/sites") return { name: "sites" };
  return { name: "fleet" };
}

function render() {
  view?.destroy();
  view = null;
  window.scrollTo(0, 0);
  const route = routeOf(location.hash || "#/fleet");
  const current = session();
  if (route.name === "login" || !current) {
    if (route.name !== "login") {
      leave(location.hash || "#/fleet");
      return;
    }
    feed.stop();
    top.hidden = true;
    document.title = "Log in · voltmesh";
    view = mountLogin(main, {
      next: route.next,
      onLoggedIn: (next) => {
        const target = next && !next.startsWith("#/login") ? next : "#/fleet";
        if (location.hash === target) render();
        else location.hash = target;
      },
    });
    return;
  }
  top.hidden = false;
  fill(document.getElementById("user"), `${current.user} (${current.role})`);
  for (const link of top.querySelectorAll("[data-nav]")) {
    const here = link.dataset.nav === route.name || (route.name === "station" && link.dataset.nav === "fleet");
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  feed.start();
  const context = { store, feed };
  if (route.name === "station") {
    document.title = `${route.stationId} · voltmesh`;
    view = mountStation(main, { ...context, stationId: route.stationId });
  } else if (route.name === "transactions") {
    document.title = "Transactions · voltmesh";
    view = mountTransactions(main, context);
  } else if (route.name === "sites") {
    document.title = "Sites · voltmesh";
    view = mountSites(main, context);
  } else {
    document.title = "Fleet · voltmesh";
    view = mountFleet(main, context);
  }
}

window.addEventListener("hashchange", render);
render();
