// How figures read on the page: power in kW, energy in kWh, times in the operator's time zone.

const DASH = "–";

export function kw(watts) {
  if (watts === null || watts === undefined || Number.isNaN(watts)) return DASH;
  return `${(watts / 1000).toFixed(1)} kW`;
}

export function kwh(wattHours) {
  if (wattHours === null || wattHours === undefined || Number.isNaN(wattHours)) return DASH;
  return `${(wattHours / 1000).toFixed(2)} kWh`;
}

export function clock(iso) {
  if (!iso) return DASH;
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return DASH;
  const today = new Date().toDateString() === at.toDateString();
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return today ? time : `${at.toLocaleDateString()} ${time}`;
}

export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (Number.isNaN(seconds)) return DASH;
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return clock(iso);
}

export function duration(fromIso, toIso) {
  if (!fromIso) return DASH;
  const end = toIso ? new Date(toIso).getTime() : Date.now();
  const minutes = Math.max(0, Math.round((end - new Date(fromIso).getTime()) / 60000));
  if (Number.isNaN(minutes)) return DASH;
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

/** A cost of the transaction view ({currency, total, ...}, amounts as exact decimal strings,
 * already rounded to the currency's minor unit): shown as the server wrote it. */
export function money(cost) {
  if (!cost || cost.total === null || cost.total === undefined) return DASH;
  return `${cost.total} ${cost.currency}`;
}

/** What a cost is made of, for a tooltip. */
export function costParts(cost) {
  if (!cost) return "";
  const parts = [
    ["energy", cost.energy],
    ["time", cost.time],
    ["fee", cost.fee],
    ["idle", cost.idle],
  ].filter(([, value]) => value !== undefined && value !== null && Number(value) !== 0);
  const net = parts.map(([name, value]) => `${name} ${value}`).join(" + ") || "nothing";
  return `${net} = net ${cost.net}, tax ${cost.tax} (${cost.currency}; tariff ${cost.tariff_id})`;
}

/** A current (A, per phase) or a power (W) as a limit reads. */
export function rate(value, unit) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return DASH;
  if (unit === "W") return Number(value) >= 1000 ? `${(Number(value) / 1000).toFixed(1)} kW` : `${Math.round(Number(value))} W`;
  return `${Number(value).toFixed(1)} A`;
}

/** Seconds from a schedule's start, as an offset ("+1 h 30 min"). */
export function offset(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  if (total === 0) return "at start";
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `+${[h ? `${h} h` : "", m ? `${m} min` : "", s && !h ? `${s} s` : ""].filter(Boolean).join(" ")}`;
}
