// Energy delivered per hour, drawn as an SVG bar chart (no library: 24 bars and an axis).

import { svg } from "./dom.js";

const HOUR = 3600 * 1000;

/**
 * Wh per hour for the `hours` hours up to now, from transactions (REST shape, with live
 * energy_wh). A transaction's energy is spread evenly over its duration: meter values are not in
 * the list, and a session of three hours delivered over three hours.
 */
export function energyPerHour(transactions, hours = 24, now = Date.now()) {
  const end = Math.ceil(now / HOUR) * HOUR;
  const start = end - hours * HOUR;
  const buckets = Array.from({ length: hours }, (_, i) => ({ at: start + i * HOUR, wh: 0 }));
  for (const tx of transactions) {
    const energy = Number(tx.energy_wh);
    if (!tx.start_time || !(energy > 0)) continue;
    const from = new Date(tx.start_time).getTime();
    const to = tx.stop_time ? new Date(tx.stop_time).getTime() : now;
    if (Number.isNaN(from) || to < start) continue;
    if (to <= from) {
      const index = Math.floor((from - start) / HOUR);
      if (index >= 0 && index < hours) buckets[index].wh += energy;
      continue;
    }
    for (let i = 0; i < hours; i += 1) {
      const overlap = Math.min(to, buckets[i].at + HOUR) - Math.max(from, buckets[i].at);
      if (overlap > 0) buckets[i].wh += (energy * overlap) / (to - from);
    }
  }
  return buckets;
}

function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * power >= value);
  return step * power;
}

/** The chart of energyPerHour's buckets, in kWh, drawn `width` pixels wide (its box's width:
 * text keeps its size on a phone and on a wide screen). */
export function energyChart(buckets, width = 720) {
  width = Math.max(240, Math.round(width));
  const height = 220;
  const labelEvery = width < 560 ? 6 : 3;
  const left = 48;
  const bottom = 26;
  const top = 10;
  const plotWidth = width - left - 8;
  const plotHeight = height - top - bottom;
  const max = niceCeiling(Math.max(...buckets.map((b) => b.wh)) / 1000);
  const slot = plotWidth / buckets.length;
  const y = (kwh) => top + plotHeight - (kwh / max) * plotHeight;
  const ticks = [0, max / 2, max];
  const total = buckets.reduce((sum, b) => sum + b.wh, 0) / 1000;
  return svg(
    "svg",
    {
      class: "chart",
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `Energy delivered per hour over the last ${buckets.length} hours: ${total.toFixed(1)} kWh in all`,
    },
    ticks.map((tick) => [
      svg("line", { class: "grid", x1: left, x2: width - 8, y1: y(tick), y2: y(tick) }),
      svg("text", { class: "tick", x: left - 6, y: y(tick) + 4, "text-anchor": "end" }, String(Number(tick.toFixed(2)))),
    ]),
    buckets.map((bucket, i) => {
      const kwh = bucket.wh / 1000;
      const x = left + i * slot + slot * 0.15;
      const hour = new Date(bucket.at).getHours();
      return [
        svg(
          "rect",
          { class: "bar", x, y: y(kwh), width: slot * 0.7, height: Math.max(0, top + plotHeight - y(kwh)) },
          svg("title", {}, `${String(hour).padStart(2, "0")}:00 ${kwh.toFixed(2)} kWh`),
        ),
        // Every third (or sixth) hour is labelled, the current one among them.
        i % labelEvery === (buckets.length - 1) % labelEvery
          ? svg("text", { class: "tick", x: x + slot * 0.35, y: height - 8, "text-anchor": "middle" }, `${String(hour).padStart(2, "0")}h`)
          : null,
      ];
    }),
  );
}

/** The steps of a schedule's periods from `shift` seconds on, up to `duration`: [[from, to,
 * limit]] (a null limit: nothing applies then). */
function steps(periods, shift, duration) {
  const sorted = [...(periods ?? [])].sort((a, b) => a.start_period - b.start_period);
  const out = [];
  sorted.forEach((period, i) => {
    const from = shift + Number(period.start_period);
    const to = i + 1 < sorted.length ? shift + Number(sorted[i + 1].start_period) : duration;
    const a = Math.max(0, from);
    const b = Math.min(duration, to);
    if (b > a) out.push([a, b, period.limit === null || period.limit === undefined ? null : Number(period.limit)]);
  });
  return out;
}

/**
 * A composite schedule as a step line over its duration: `lines` is [{schedule: {start, periods},
 * className, label}], the first one's start being the chart's; `unit` "A" or "W".
 */
export function scheduleChart(lines, duration, unit, width = 720) {
  width = Math.max(240, Math.round(width));
  const height = 180;
  const left = 52;
  const right = 10;
  const bottom = 26;
  const top = 10;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const origin = new Date(lines[0]?.schedule?.start ?? Date.now()).getTime();
  const drawn = lines.map((line) => {
    const start = line.schedule?.start ? new Date(line.schedule.start).getTime() : origin;
    const shift = Number.isNaN(start) ? 0 : Math.round((start - origin) / 1000);
    return { ...line, steps: steps(line.schedule?.periods, shift, duration) };
  });
  const limits = drawn.flatMap((line) => line.steps.map((s) => s[2]).filter((v) => v !== null));
  const scaled = unit === "W" ? 1000 : 1;
  const max = niceCeiling(Math.max(0, ...limits) / scaled);
  const x = (seconds) => left + (seconds / duration) * plotWidth;
  const y = (value) => top + plotHeight - (value / scaled / max) * plotHeight;
  const ticks = [0, max / 2, max];
  const hours = duration / 3600;
  const every = hours <= 2 ? 0.25 : hours <= 6 ? 1 : width < 560 ? 6 : 3;
  const labels = [];
  for (let t = 0; t <= duration; t += every * 3600) labels.push(t);
  const unitLabel = unit === "W" ? "kW" : "A";
  return svg(
    "svg",
    {
      class: "chart schedule",
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": drawn
        .map((line) => `${line.label}: ${line.steps.map((s) => `${s[2] === null ? "none" : s[2]} ${unit}`).join(", ") || "nothing"}`)
        .join("; "),
    },
    ticks.map((tick) => [
      svg("line", { class: "grid", x1: left, x2: width - right, y1: y(tick * scaled), y2: y(tick * scaled) }),
      svg("text", { class: "tick", x: left - 6, y: y(tick * scaled) + 4, "text-anchor": "end" }, `${Number(tick.toFixed(2))} ${unitLabel}`),
    ]),
    labels.map((t) => {
      const at = new Date(origin + t * 1000);
      const text = `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
      const anchor = t === 0 ? "start" : t >= duration ? "end" : "middle";
      return svg("text", { class: "tick", x: x(t), y: height - 8, "text-anchor": anchor }, text);
    }),
    drawn.map((line) => {
      let d = "";
      let last = null;
      for (const [from, to, limit] of line.steps) {
        if (limit === null) {
          last = null;
          continue;
        }
        d += last === from ? ` V ${y(limit)} H ${x(to)}` : ` M ${x(from)} ${y(limit)} H ${x(to)}`;
        last = to;
      }
      return d ? svg("path", { class: `step ${line.className}`, d: d.trim() }, svg("title", {}, line.label)) : null;
    }),
  );
}
