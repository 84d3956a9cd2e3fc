// The WebSocket @nangohq/frontend opens before an OAuth popup: Patchbay answers
// `connection_ack` with a `ws_client_id`, the popup's URL carries that id, and the callback
// sends `success` or `error` to it. The socket lives in the process that accepted it; a
// callback answered by another process reaches it through PostgreSQL NOTIFY.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Notifications } from '../store/notifications.js';

export type WsMessage =
  | { message_type: 'success'; provider_config_key: string; connection_id: string; is_pending: boolean }
  | { message_type: 'error'; provider_config_key?: string; connection_id?: string; error_type: string; error_desc: string };

export interface WsHub {
  /** Accepts WebSocket upgrades on `path` of `server`; other upgrade requests are refused. */
  attach(server: Server, path: string): void;
  /** Sends to the client with this id, in this process or another. */
  send(wsClientId: string, message: WsMessage): void;
  size(): number;
  close(): void;
}

const CHANNEL = 'patchbay_connect_ws';
// A browser tab holds one socket per authorization in progress: thousands of end users
// connecting at once fit, a flood of idle sockets does not.
const MAX_CLIENTS = 10_000;
// As long as a Connect session lives: the flow cannot outlast it.
const CLIENT_TTL_MS = 30 * 60_000;
// The client never needs to send anything; what it sends is read and dropped.
const MAX_INCOMING_BYTES = 1024;

export function createWsHub(notifications: Notifications | undefined): WsHub {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INCOMING_BYTES, perMessageDeflate: false });
  const clients = new Map<string, WebSocket>();

  const deliver = (wsClientId: string, text: string): boolean => {
    const client = clients.get(wsClientId);
    if (client === undefined) return false;
    client.send(text);
    return true;
  };

  notifications?.listen(CHANNEL, (payload) => {
    let parsed: { id?: unknown; message?: unknown };
    try {
      parsed = JSON.parse(payload) as { id?: unknown; message?: unknown };
    } catch {
      return;
    }
    if (typeof parsed.id === 'string') deliver(parsed.id, JSON.stringify(parsed.message));
  });

  const accept = (socket: WebSocket) => {
    const id = randomUUID();
    clients.set(id, socket);
    const expire = setTimeout(() => socket.close(1000, 'expired'), CLIENT_TTL_MS);
    expire.unref();
    socket.on('close', () => {
      clearTimeout(expire);
      clients.delete(id);
    });
    socket.on('error', () => socket.terminate());
    socket.send(JSON.stringify({ message_type: 'connection_ack', ws_client_id: id }));
  };

  const refuse = (socket: Duplex, status: number, reason: string) => {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  return {
    attach(server, path) {
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        socket.on('error', () => socket.destroy());
        const pathname = (request.url ?? '').split('?')[0];
        if (pathname !== path) return refuse(socket, 404, 'Not Found');
        if (clients.size >= MAX_CLIENTS) return refuse(socket, 503, 'Service Unavailable');
        // Any origin: the customer's page is on its own origin, and the socket carries nothing
        // until a flow that the session token authorized sends its result to this random id.
        wss.handleUpgrade(request, socket, head, accept);
      });
    },
    send(wsClientId, message) {
      const text = JSON.stringify(message);
      if (!deliver(wsClientId, text)) notifications?.notify(CHANNEL, JSON.stringify({ id: wsClientId, message }), { local: false });
    },
    size: () => clients.size,
    close() {
      for (const client of clients.values()) client.terminate();
      clients.clear();
      wss.close();
    },
  };
}
