'use strict';
/**
 * The "ocpp-rpc mix": OCPP 1.6 chargers on ocpp-rpc's RPCClient (strict mode), each sending a
 * Heartbeat or a MeterValues, in turn, once per interval.
 *
 *     node sim/node_baseline/load.js --url ws://127.0.0.1:9000/ocpp/ --clients 1000 \
 *         --interval 1 --seconds 20 [--handshake]
 *
 * The chargers connect in batches and boot (BootNotification), each as `<url><id>`; once all
 * are up it prints `{"event":"ready",...}`, sends the mix for `--seconds` (each charger from a
 * random phase within the first interval), waits for the answers still due and prints
 * `{"event":"done","answered":N,"errors":E,"seconds":S,"latency_ms":{"p50":..,"p99":..}}`
 * (answered: CALLRESULTs; errors: CALLERRORs and calls without an answer; S: the mix's length,
 * at least `--seconds`); then it closes every connection and exits. Every line on stdout is one
 * JSON object.
 *
 * With `--handshake` it reads a line on stdin after "ready" before the mix starts, and another
 * after "done" before it disconnects, so that a driver can sample the server exactly over the
 * mix. Exits 1 when more than `--max-failed-share` of the chargers fail to connect or boot, 2
 * when a stage outlasts its deadline.
 */

const readline = require('readline');
const { parseArgs } = require('util');
const { setTimeout: sleep } = require('timers/promises');
const { performance } = require('perf_hooks');
const { RPCClient } = require('ocpp-rpc');

const PROTOCOL = 'ocpp1.6';
const BOOT = { chargePointVendor: 'sim', chargePointModel: 'c' };

function options() {
    const { values } = parseArgs({
        options: {
            url: { type: 'string', default: 'ws://127.0.0.1:9000/ocpp/' },
            clients: { type: 'string', default: '1000' },
            interval: { type: 'string', default: '1' },
            seconds: { type: 'string', default: '20' },
            'connect-batch': { type: 'string', default: '100' },
            'connect-timeout': { type: 'string', default: '120' },
            'call-timeout': { type: 'string', default: '30' },
            'max-failed-share': { type: 'string', default: '0.01' },
            prefix: { type: 'string', default: 'MIX' },
            handshake: { type: 'boolean', default: false },
        },
    });
    const number = (name, min) => {
        const value = Number(values[name]);
        if (!Number.isFinite(value) || value < min) {
            throw new Error(`--${name}: ${values[name]} is not a number >= ${min}`);
        }
        return value;
    };
    return {
        // The chargers' ids follow the path: `ws://host/ocpp/` + id.
        endpoint: values.url.replace(/\/+$/, ''),
        clients: Math.floor(number('clients', 1)),
        intervalMs: number('interval', 0.001) * 1000,
        seconds: number('seconds', 0.001),
        connectBatch: Math.floor(number('connect-batch', 1)),
        connectTimeoutMs: number('connect-timeout', 0.001) * 1000,
        callTimeoutMs: number('call-timeout', 0.001) * 1000,
        maxFailedShare: number('max-failed-share', 0),
        prefix: values.prefix,
        handshake: values.handshake,
    };
}

function emit(event) {
    process.stdout.write(JSON.stringify(event) + '\n');
}

/** Exit with 2 unless `promise` settles within `ms`: every stage of a run is bounded. */
async function within(ms, what, promise) {
    const ac = new AbortController();
    const deadline = sleep(ms, null, { signal: ac.signal }).then(
        () => {
            emit({ event: 'timeout', stage: what, seconds: ms / 1000 });
            process.exit(2);
        },
        () => {},
    );
    try {
        return await Promise.race([promise, deadline]);
    } finally {
        ac.abort();
    }
}

function meterValues(k) {
    return {
        connectorId: 1,
        meterValue: [
            {
                timestamp: new Date().toISOString(),
                sampledValue: [
                    { value: String(k * 100) },
                    { value: '7000', measurand: 'Power.Active.Import', unit: 'W' },
                    { value: '16', measurand: 'Current.Import', phase: 'L1', unit: 'A' },
                ],
            },
        ],
    };
}

function percentile(sorted, p) {
    if (sorted.length === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return Math.round(sorted[rank - 1] * 1000) / 1000;
}

async function connectAndBoot(opts, index) {
    const identity = `${opts.prefix}${String(index).padStart(5, '0')}`;
    const client = new RPCClient({
        endpoint: opts.endpoint,
        identity,
        protocols: [PROTOCOL],
        strictMode: true,
        reconnect: false,
        callTimeoutMs: opts.callTimeoutMs,
        // The server's pings keep the connection alive; the chargers send none of their own.
        pingIntervalMs: 0,
    });
    client.on('socketError', () => {});
    await client.connect();
    if (client.protocol !== PROTOCOL) {
        client.close({ force: true });
        throw new Error(`${identity}: server agreed on ${client.protocol}`);
    }
    await client.call('BootNotification', BOOT);
    return client;
}

/** Connect and boot every charger, `connectBatch` at a time; returns the ones that made it. */
async function ramp(opts) {
    const clients = [];
    const failures = {};
    for (let start = 0; start < opts.clients; start += opts.connectBatch) {
        const batch = [];
        for (let i = start; i < Math.min(opts.clients, start + opts.connectBatch); i++) {
            batch.push(connectAndBoot(opts, i));
        }
        for (const outcome of await Promise.allSettled(batch)) {
            if (outcome.status === 'fulfilled') {
                clients.push(outcome.value);
            } else {
                const reason = String(outcome.reason?.message ?? outcome.reason).slice(0, 80);
                failures[reason] = (failures[reason] ?? 0) + 1;
            }
        }
    }
    return { clients, failures };
}

/** One charger's share of the mix: from a random phase, a call every interval, Heartbeat and
 * MeterValues in turn, until `endsAt`; a late answer makes the next calls go at once. */
async function drive(client, index, opts, startsAt, endsAt, tally) {
    const phase = Math.random() * opts.intervalMs;
    for (let k = 0; ; k++) {
        const due = startsAt + phase + k * opts.intervalMs;
        if (due >= endsAt) return;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const heartbeat = (index + k) % 2 === 0;
        const sent = performance.now();
        try {
            if (heartbeat) {
                await client.call('Heartbeat', {});
            } else {
                await client.call('MeterValues', meterValues(k));
            }
            tally.latencies.push(performance.now() - sent);
            tally.answered += 1;
        } catch (err) {
            tally.errors += 1;
            const reason = String(err.rpcErrorCode ?? err.message).slice(0, 80);
            tally.errorKinds[reason] = (tally.errorKinds[reason] ?? 0) + 1;
        }
    }
}

async function main() {
    const opts = options();
    const stdin = opts.handshake ? readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]() : null;
    const go = async (what) => {
        if (stdin !== null) await within(opts.connectTimeoutMs, `waiting for the driver (${what})`, stdin.next());
    };

    const rampStarted = performance.now();
    const { clients, failures } = await within(opts.connectTimeoutMs, 'connect and boot', ramp(opts));
    const failed = opts.clients - clients.length;
    emit({
        event: 'ready',
        connected: clients.length,
        failed,
        failures,
        connect_seconds: Math.round(performance.now() - rampStarted) / 1000,
    });
    if (failed > opts.maxFailedShare * opts.clients) {
        await Promise.all(clients.map((c) => c.close({ force: true })));
        process.exit(1);
    }

    await go('start');
    const tally = { answered: 0, errors: 0, errorKinds: {}, latencies: [] };
    const startsAt = performance.now();
    const endsAt = startsAt + opts.seconds * 1000;
    const mixDeadline = opts.seconds * 1000 + opts.callTimeoutMs + 10_000;
    await within(mixDeadline, 'mix', Promise.all(clients.map((c, i) => drive(c, i, opts, startsAt, endsAt, tally))));
    // The window is the whole mix even when the last answer came in before its end.
    // Timers fire on whole milliseconds and may come a fraction early: wait until it has passed.
    for (let left = endsAt - performance.now(); left > 0; left = endsAt - performance.now()) {
        await sleep(Math.ceil(left));
    }
    const seconds = (performance.now() - startsAt) / 1000;
    const closed = clients.filter((c) => c.state !== 1).length; // 1: OPEN
    tally.latencies.sort((a, b) => a - b);
    emit({
        event: 'done',
        answered: tally.answered,
        errors: tally.errors,
        error_kinds: tally.errorKinds,
        closed_during_mix: closed,
        seconds: Math.round(seconds * 1000) / 1000,
        latency_ms: { p50: percentile(tally.latencies, 50), p99: percentile(tally.latencies, 99) },
    });

    await go('disconnect');
    await within(30_000, 'disconnect', Promise.all(clients.map((c) => c.close({ code: 1000 }))));
    process.exit(0);
}

main().catch((err) => {
    emit({ event: 'error', message: String(err?.stack ?? err) });
    process.exit(3);
});
