// The common commands of a station page, for its OCPP version, and the dialog that confirms one,
// sends it (POST /api/v1/stations/{id}/commands/{action}) and shows the charger's answer.

import { sendCommand } from "./api.js";
import { h, fill } from "./dom.js";
import { json } from "./format.js";

const V16_TRIGGERS = [
  "StatusNotification",
  "BootNotification",
  "Heartbeat",
  "MeterValues",
  "DiagnosticsStatusNotification",
  "FirmwareStatusNotification",
];
const V2_TRIGGERS = [
  "StatusNotification",
  "BootNotification",
  "Heartbeat",
  "MeterValues",
  "TransactionEvent",
  "LogStatusNotification",
  "FirmwareStatusNotification",
  "SignChargingStationCertificate",
];
const V2_TOKEN_TYPES = ["Central", "ISO14443", "ISO15693", "KeyCode", "Local", "eMAID", "MacAddress"];

const int = (value) => Number.parseInt(value, 10);
const evseOptions = (evses, none) => [
  ...(none ? [["", none]] : []),
  ...evses.map((id) => [String(id), `EVSE ${id}`]),
];
const connectorOptions = (evses, none) => [
  ...(none ? [["", none]] : []),
  ...evses.map((id) => [String(id), `Connector ${id}`]),
];

function v16(ctx) {
  return [
    {
      key: "remote-start",
      label: "Remote start",
      action: "RemoteStartTransaction",
      fields: [
        { name: "connectorId", label: "Connector", options: connectorOptions(ctx.evses) },
        { name: "idTag", label: "Id tag", required: true, maxlength: 20 },
      ],
      build: (v) => ({ connectorId: int(v.connectorId), idTag: v.idTag }),
    },
    {
      key: "remote-stop",
      label: "Remote stop",
      action: "RemoteStopTransaction",
      fields: [{ name: "transactionId", label: "Transaction", options: ctx.transactions }],
      build: (v) => ({ transactionId: int(v.transactionId) }),
    },
    {
      key: "reset",
      label: "Reset",
      action: "Reset",
      danger: true,
      fields: [{ name: "type", label: "Kind", options: [["Soft", "Soft"], ["Hard", "Hard"]] }],
      build: (v) => ({ type: v.type }),
    },
    {
      key: "unlock",
      label: "Unlock",
      action: "UnlockConnector",
      fields: [{ name: "connectorId", label: "Connector", options: connectorOptions(ctx.evses) }],
      build: (v) => ({ connectorId: int(v.connectorId) }),
    },
    {
      key: "availability",
      label: "Availability",
      action: "ChangeAvailability",
      fields: [
        {
          name: "connectorId",
          label: "Connector",
          options: [["0", "Whole station"], ...connectorOptions(ctx.evses)],
        },
        { name: "type", label: "Make it", options: [["Operative", "Operative"], ["Inoperative", "Inoperative"]] },
      ],
      build: (v) => ({ connectorId: int(v.connectorId), type: v.type }),
    },
    {
      key: "trigger",
      label: "Trigger message",
      action: "TriggerMessage",
      fields: [
        { name: "requestedMessage", label: "Message", options: V16_TRIGGERS.map((m) => [m, m]) },
        { name: "connectorId", label: "Connector", options: connectorOptions(ctx.evses, "Any") },
      ],
      build: (v) => ({
        requestedMessage: v.requestedMessage,
        ...(v.connectorId ? { connectorId: int(v.connectorId) } : {}),
      }),
    },
  ];
}

function v2(ctx) {
  return [
    {
      key: "remote-start",
      label: "Remote start",
      action: "RequestStartTransaction",
      fields: [
        { name: "evseId", label: "EVSE", options: evseOptions(ctx.evses, "Station chooses") },
        { name: "idToken", label: "Id token", required: true, maxlength: 36 },
        { name: "type", label: "Token type", options: V2_TOKEN_TYPES.map((t) => [t, t]) },
      ],
      build: (v) => ({
        idToken: { idToken: v.idToken, type: v.type },
        // Ties the transaction the station starts to this request (remote_start_id).
        remoteStartId: 1 + Math.floor(Math.random() * 2_000_000_000),
        ...(v.evseId ? { evseId: int(v.evseId) } : {}),
      }),
    },
    {
      key: "remote-stop",
      label: "Remote stop",
      action: "RequestStopTransaction",
      fields: [{ name: "transactionId", label: "Transaction", options: ctx.transactions }],
      build: (v) => ({ transactionId: v.transactionId }),
    },
    {
      key: "reset",
      label: "Reset",
      action: "Reset",
      danger: true,
      fields: [{ name: "type", label: "When", options: [["OnIdle", "When idle"], ["Immediate", "Now"]] }],
      build: (v) => ({ type: v.type }),
    },
    {
      key: "unlock",
      label: "Unlock",
      action: "UnlockConnector",
      fields: [
        { name: "evseId", label: "EVSE", options: evseOptions(ctx.evses) },
        { name: "connectorId", label: "Connector", kind: "number", value: "1", min: 1 },
      ],
      build: (v) => ({ evseId: int(v.evseId), connectorId: int(v.connectorId) }),
    },
    {
      key: "availability",
      label: "Availability",
      action: "ChangeAvailability",
      fields: [
        { name: "evseId", label: "EVSE", options: evseOptions(ctx.evses, "Whole station") },
        {
          name: "operationalStatus",
          label: "Make it",
          options: [["Operative", "Operative"], ["Inoperative", "Inoperative"]],
        },
      ],
      build: (v) => ({
        operationalStatus: v.operationalStatus,
        ...(v.evseId ? { evse: { id: int(v.evseId) } } : {}),
      }),
    },
    {
      key: "trigger",
      label: "Trigger message",
      action: "TriggerMessage",
      fields: [
        { name: "requestedMessage", label: "Message", options: V2_TRIGGERS.map((m) => [m, m]) },
        { name: "evseId", label: "EVSE", options: evseOptions(ctx.evses, "Any") },
      ],
      build: (v) => ({
        requestedMessage: v.requestedMessage,
        ...(v.evseId ? { evse: { id: int(v.evseId) } } : {}),
      }),
    },
  ];
}

/**
 * The commands for a station's protocol. ctx: {evses: [EVSE ids above 0], transactions:
 * [[value, label]] of its active transactions}.
 */
export function commandsFor(protocol, ctx) {
  if (!protocol) return [];
  return protocol === "ocpp1.6" ? v16(ctx) : v2(ctx);
}

function field(spec) {
  const id = `command-${spec.name}`;
  let input;
  if (spec.options) {
    input = h(
      "select",
      { id, name: spec.name, required: true },
      spec.options.map(([value, label]) => h("option", { value }, label)),
    );
  } else {
    input = h("input", {
      id,
      name: spec.name,
      type: spec.kind ?? "text",
      required: spec.required ?? true,
      maxlength: spec.maxlength,
      min: spec.min,
      value: spec.value,
      autocomplete: "off",
    });
  }
  return h("div", { class: "field" }, h("label", { for: id }, spec.label), input);
}

function describeError(error) {
  const problem = error.problem ?? {};
  const parts = [`${error.status ?? ""} ${problem.title ?? ""}`.trim(), problem.detail];
  if (problem.code) parts.push(`(${problem.code}${problem.description ? `: ${problem.description}` : ""})`);
  return parts.filter(Boolean).join(": ");
}

/**
 * Open the confirmation dialog of a command; onAnswer(command, outcome) is called with
 * {ok, status, text, body} once the node answers.
 */
export function openCommand(dialog, stationId, command, onAnswer) {
  const form = h("form", { class: "command-form" });
  const answer = h("div", { class: "answer", role: "status", "aria-live": "polite" });
  const send = h("button", { type: "submit", name: "send", class: command.danger ? "danger" : "primary" }, "Send");
  const cancel = h("button", { type: "button", name: "cancel" }, "Cancel");
  cancel.addEventListener("click", () => dialog.close());
  const fields = command.fields.map(field);
  const noChoice = command.fields.some((f) => f.options && f.options.length === 0);
  if (noChoice) send.disabled = true;
  fill(
    form,
    h("h2", {}, `${command.label}: ${stationId}`),
    h("p", { class: "muted" }, "Sends ", h("code", {}, command.action), " to the charger."),
    fields,
    noChoice ? h("p", { class: "muted" }, "Nothing to choose from: no active transaction here.") : null,
    answer,
    h("div", { class: "actions" }, cancel, send),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (send.dataset.done) {
      dialog.close();
      return;
    }
    const values = Object.fromEntries(new FormData(form).entries());
    const payload = command.build(values);
    send.disabled = true;
    fields.forEach((f) => f.querySelector("input,select").setAttribute("disabled", ""));
    fill(answer, "Sending…");
    let outcome;
    try {
      const body = await sendCommand(stationId, command.action, payload);
      const status = body.response?.status ?? "answered";
      outcome = { ok: true, status, text: `Answer: ${status}`, body };
    } catch (error) {
      outcome = { ok: false, status: error.status, text: `Refused: ${describeError(error)}`, body: error.problem };
    }
    answer.className = `answer ${outcome.ok ? "ok" : "error"}`;
    fill(answer, h("strong", {}, outcome.text), h("pre", {}, json(outcome.body)));
    send.dataset.done = "1";
    send.textContent = "Close";
    send.className = "primary";
    send.disabled = false;
    cancel.hidden = true;
    onAnswer(command, outcome);
  });
  fill(dialog, form);
  dialog.showModal();
  (fields[0]?.querySelector("input,select") ?? send).focus();
}
