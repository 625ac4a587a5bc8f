'use strict';
/**
 * The Node baseline: an ocpp-rpc RPCServer in strict mode (every CALL and every answer checked
 * against the OCPP JSON schemas) that accepts every charger and stores nothing.
 *
 *     node sim/node_baseline/server.js --host 127.0.0.1 --port 9000
 *
 * Chargers connect to ws://host:port/<any path>/<id> with ocpp1.6 or ocpp2.0.1; the identity is
 * the last path segment. It answers what voltmesh's benchmarks send: 1.6 BootNotification,
 * Heartbeat, StatusNotification, Authorize, StartTransaction, StopTransaction, MeterValues and
 * DataTransfer (Accepted, kept nowhere); 2.0.1 BootNotification, Heartbeat, StatusNotification,
 * Authorize and TransactionEvent. Prints one ready line once it listens; exits on SIGTERM/SIGINT.
 * Nothing is logged per message.
 */

const http = require('http');
const { parseArgs } = require('util');
const { RPCServer } = require('ocpp-rpc');

const HEARTBEAT_INTERVAL = 300;
/** Pending connections the kernel may queue: a fleet connects in bursts of hundreds. */
const LISTEN_BACKLOG = 4096;
/** Milliseconds the open connections get to close on a stop before the process exits anyway. */
const STOP_GRACE_MS = 5000;

function now() {
    return new Date().toISOString();
}

const accepted16 = { status: 'Accepted' };
const accepted201 = { status: 'Accepted' };

function handlers16() {
    let transactions = 0;
    return {
        BootNotification: () => ({ status: 'Accepted', currentTime: now(), interval: HEARTBEAT_INTERVAL }),
        Heartbeat: () => ({ currentTime: now() }),
        StatusNotification: () => ({}),
        Authorize: () => ({ idTagInfo: accepted16 }),
        StartTransaction: () => ({ transactionId: ++transactions, idTagInfo: accepted16 }),
        StopTransaction: () => ({}),
        MeterValues: () => ({}),
        DataTransfer: () => ({ status: 'Accepted' }),
    };
}

function handlers201() {
    return {
        BootNotification: () => ({ status: 'Accepted', currentTime: now(), interval: HEARTBEAT_INTERVAL }),
        Heartbeat: () => ({ currentTime: now() }),
        StatusNotification: () => ({}),
        Authorize: () => ({ idTokenInfo: accepted201 }),
        TransactionEvent: ({ params }) => (params.idToken ? { idTokenInfo: accepted201 } : {}),
    };
}

function main() {
    const { values } = parseArgs({
        options: {
            host: { type: 'string', default: '127.0.0.1' },
            port: { type: 'string', default: '9000' },
        },
    });
    const port = Number.parseInt(values.port, 10);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error(`--port: not a port: ${values.port}`);
    }

    const server = new RPCServer({
        protocols: ['ocpp1.6', 'ocpp2.0.1'],
        strictMode: true,
    });
    // One table per protocol, shared by every connection: transaction ids count across chargers.
    const tables = { 'ocpp1.6': handlers16(), 'ocpp2.0.1': handlers201() };
    server.on('client', (client) => {
        const table = tables[client.protocol];
        if (table === undefined) {
            client.close({ code: 1002, reason: 'no OCPP subprotocol agreed' });
            return;
        }
        for (const [action, handler] of Object.entries(table)) {
            client.handle(action, handler);
        }
        // A charger that drops its connection is no news; only the count of errors matters.
        client.on('socketError', () => {});
    });
    server.on('error', (err) => console.error(`server error: ${err.message}`));

    // Our own HTTP server rather than RPCServer.listen(): a longer accept queue, and no
    // per-request timeouts on sockets that become websockets.
    const httpServer = http.createServer({ noDelay: true }, (request, response) => {
        response.statusCode = 404;
        response.end();
    });
    httpServer.headersTimeout = 30_000;
    httpServer.requestTimeout = 0;
    httpServer.keepAliveTimeout = 5_000;
    httpServer.on('upgrade', server.handleUpgrade);
    httpServer.on('clientError', (err, socket) => socket.destroy());

    let stopping = false;
    const stop = (signal) => {
        if (stopping) return;
        stopping = true;
        const forced = setTimeout(() => process.exit(0), STOP_GRACE_MS);
        forced.unref();
        httpServer.close();
        server.close({ code: 1001, reason: 'server stopping', force: true }).then(
            () => process.exit(0),
            (err) => {
                console.error(`stopping on ${signal}: ${err.message}`);
                process.exit(1);
            },
        );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));

    httpServer.listen({ host: values.host, port, backlog: LISTEN_BACKLOG }, () => {
        const address = httpServer.address();
        console.log(
            `ocpp-rpc server (strict mode, stores nothing) ready on ws://${address.address}:${address.port}`,
        );
    });
}

main();
