// What the page knows of the fleet: stations with their connectors, active transactions with their
// live power and energy, and the latest events per station. Filled from the REST API, then kept
// current by the event stream; views listen for "change".

import { api, listAll } from "./api.js";

const ACTIVITY_KEPT = 50;
const FAULTED_STATUSES = new Set(["Faulted"]);
const CHARGING_STATUSES = new Set(["Charging"]);
const COST_FIELDS = ["currency", "net", "tax", "total", "energy", "time", "fee", "idle", "tariff_id"];

export function connectorsOf(station) {
  return (station.evses ?? []).flatMap((evse) =>
    (evse.connectors ?? []).map((connector) => ({ evseId: evse.id, ...connector })),
  );
}

function isFaulted(connector) {
  return (
    FAULTED_STATUSES.has(connector.status) ||
    Boolean(connector.error_code && connector.error_code !== "NoError")
  );
}

/** The latest power of a transaction from its meter values, in W (null when none reported). */
export function latestPower(meterValues) {
  const samples = (meterValues ?? []).filter((s) => s.measurand === "Power.Active.Import");
  if (samples.length === 0) return null;
  const last = samples.reduce((a, b) => (a.timestamp >= b.timestamp ? a : b)).timestamp;
  const current = samples.filter((s) => s.timestamp === last);
  // A total when the charger gives one, else the sum of its phases.
  const totals = current.filter((s) => !s.phase);
  const chosen = totals.length > 0 ? totals.slice(0, 1) : current;
  const scale = (unit) => (unit === "kW" ? 1000 : 1);
  return chosen.reduce((sum, s) => sum + Number(s.value) * scale(s.unit), 0);
}

export class FleetStore extends EventTarget {
  constructor() {
    super();
    this.clear();
  }

  clear() {
    this.stations = new Map();
    this.active = new Map();
    this.activity = new Map();
    this.loaded = false;
    this.error = null;
    this.replayed = null;
    this.lastEventAt = null;
  }

  changed(what) {
    this.dispatchEvent(new CustomEvent("change", { detail: what }));
  }

  /** Reload stations and active transactions. Events that arrive meanwhile are applied again on
   * top: the snapshot may have been read before them (the status store writes behind). */
  async refresh() {
    this.replayed = [];
    try {
      const [stations, active] = await Promise.all([
        listAll("/api/v1/stations"),
        listAll("/api/v1/transactions", { active: true }),
      ]);
      const meters = new Map([...this.active].map(([id, tx]) => [id, tx]));
      this.stations = new Map(stations.map((s) => [s.id, s]));
      this.active = new Map(
        active.map((tx) => {
          const known = meters.get(tx.id);
          return [tx.id, { ...tx, power_w: known?.power_w ?? null, energy_wh: tx.energy_wh }];
        }),
      );
      const missed = this.replayed;
      this.replayed = null;
      for (const event of missed) this.applyState(event);
      this.loaded = true;
      this.error = null;
    } catch (error) {
      this.error = error.message;
    } finally {
      this.replayed = null;
    }
    this.changed("all");
  }

  /** Read one station (a station page opened before the list holds it). */
  async loadStation(id) {
    const station = await api(`/api/v1/stations/${encodeURIComponent(id)}`);
    this.stations.set(station.id, station);
    this.changed("stations");
    return station;
  }

  /** Power and energy of active transactions read from the REST API (when the stream is down). */
  async refreshMeters(ids) {
    await Promise.all(
      ids.map(async (id) => {
        try {
          const tx = await api(`/api/v1/transactions/${encodeURIComponent(id)}`);
          const known = this.active.get(id);
          if (!known) return;
          known.energy_wh = tx.energy_wh;
          known.cost = tx.cost ?? known.cost;
          known.power_w = latestPower(tx.meter_values) ?? known.power_w;
          if (!tx.active) this.active.delete(id);
        } catch {
          // Gone or unreachable: the next refresh settles it.
        }
      }),
    );
    this.changed("transactions");
  }

  apply(event) {
    this.replayed?.push(event);
    this.lastEventAt = Date.now();
    this.applyState(event);
    if (event.station_id) {
      const list = this.activity.get(event.station_id) ?? [];
      list.unshift(event);
      list.length = Math.min(list.length, ACTIVITY_KEPT);
      this.activity.set(event.station_id, list);
    }
    this.dispatchEvent(new CustomEvent("event", { detail: event }));
    this.changed(event.type.split(".")[0]);
  }

  station(id) {
    let station = this.stations.get(id);
    if (!station) {
      station = { id, registered: true, connected: false, protocol: null, boot: {}, evses: [] };
      this.stations.set(id, station);
    }
    return station;
  }

  connector(station, evseId, connectorId) {
    let evse = station.evses.find((e) => e.id === evseId);
    if (!evse) {
      evse = { id: evseId, connectors: [] };
      station.evses.push(evse);
      station.evses.sort((a, b) => a.id - b.id);
    }
    let connector = evse.connectors.find((c) => c.id === connectorId);
    if (!connector) {
      connector = { id: connectorId, status: null, error_code: null };
      evse.connectors.push(connector);
      evse.connectors.sort((a, b) => a.id - b.id);
    }
    return connector;
  }

  transaction(event) {
    const id = String(event.data.transaction_id);
    return this.active.get(id) ?? this.active.get(`${event.station_id},${id}`);
  }

  applyState(event) {
    const data = event.data ?? {};
    const id = event.station_id;
    switch (event.type) {
      case "station.connected": {
        const station = this.station(id);
        station.connected = true;
        station.protocol = data.protocol ?? station.protocol;
        station.last_seen = event.at;
        break;
      }
      case "station.disconnected":
        this.station(id).connected = false;
        break;
      case "station.booted": {
        const station = this.station(id);
        station.boot = {
          ...station.boot,
          vendor: data.vendor ?? station.boot?.vendor,
          model: data.model ?? station.boot?.model,
          firmware: data.firmware_version ?? station.boot?.firmware,
          status: data.boot_status ?? station.boot?.status,
          last_boot: event.at,
        };
        station.last_seen = event.at;
        break;
      }
      case "station.registration":
        if (data.deleted) this.stations.delete(id);
        else Object.assign(this.station(id), pick(data, ["registered", "allowed", "security_profile"]));
        break;
      case "status.connector":
      case "status.station": {
        const station = this.station(id);
        const connector =
          event.type === "status.station"
            ? this.connector(station, 0, 0)
            : this.connector(station, data.evse_id ?? 0, data.connector_id ?? 0);
        connector.status = data.status ?? connector.status;
        connector.error_code = data.error_code ?? null;
        connector.timestamp = event.at;
        station.last_seen = event.at;
        break;
      }
      case "transaction.started": {
        const txId = String(data.transaction_id);
        this.active.set(txId, {
          id: txId,
          station_id: id,
          evse_id: data.evse_id ?? null,
          connector_id: data.connector_id ?? null,
          id_token: data.id_token ?? null,
          meter_start_wh: data.meter_start_wh ?? null,
          start_time: event.at,
          active: true,
          energy_wh: 0,
          power_w: null,
          cost: this.active.get(txId)?.cost ?? null,
        });
        break;
      }
      case "transaction.meter": {
        const tx = this.transaction(event);
        if (tx) {
          if (data.power_w !== null && data.power_w !== undefined) tx.power_w = data.power_w;
          if (data.energy_wh !== null && data.energy_wh !== undefined) tx.energy_wh = data.energy_wh;
          tx.meter_at = event.at;
        }
        break;
      }
      case "transaction.cost": {
        // The running total of its tariff (2.0.1 I02); the final one is on the finished list.
        const tx = this.transaction(event);
        if (tx) tx.cost = pick(data, COST_FIELDS);
        break;
      }
      case "transaction.ended": {
        const tx = this.transaction(event);
        if (tx) this.active.delete(tx.id);
        break;
      }
      default:
        break;
    }
  }

  activeAt(stationId) {
    return [...this.active.values()].filter((tx) => tx.station_id === stationId);
  }

  /** Ids of the stations with an active transaction. */
  charging() {
    return new Set([...this.active.values()].map((tx) => tx.station_id));
  }

  isCharging(station, charging = this.charging()) {
    return (
      charging.has(station.id) || connectorsOf(station).some((c) => CHARGING_STATUSES.has(c.status))
    );
  }

  /** "offline", "faulted", "charging" or "online": what the fleet table shows first. */
  stateOf(station, charging = this.charging()) {
    if (!station.connected) return "offline";
    if (connectorsOf(station).some(isFaulted)) return "faulted";
    return this.isCharging(station, charging) ? "charging" : "online";
  }

  /** Online and offline add up to the fleet; faulted and charging count online stations (a
   * station charging on one connector may have another faulted). */
  counts() {
    const counts = { online: 0, offline: 0, faulted: 0, charging: 0 };
    const charging = this.charging();
    for (const station of this.stations.values()) {
      if (!station.connected) {
        counts.offline += 1;
        continue;
      }
      counts.online += 1;
      if (connectorsOf(station).some(isFaulted)) counts.faulted += 1;
      if (this.isCharging(station, charging)) counts.charging += 1;
    }
    return counts;
  }
}

function pick(object, keys) {
  return Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));
}
