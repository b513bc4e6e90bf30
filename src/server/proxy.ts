import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type AddressInfo, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { cloudHostKind, hostName } from "../common/cloud-hosts.ts";

/** What the proxy needs from the running orgbox. */
export interface ProxyOptions {
  /** The HTTPS server of orgbox: a `CONNECT` to a cloud host name is handed to it as a new connection (it terminates TLS, SNI picks the leaf certificate). */
  target: Server;
  /** Tunnel `CONNECT`s to other hosts, and forward plain-HTTP requests for them (true), or refuse them with 502 (false). */
  passthrough: boolean;
  logger: Pick<Logger, "debug" | "warn">;
}

/** A listening proxy. */
export interface OrgboxProxy {
  port: number;
  /** Stops listening and ends the tunnels it opened. */
  close(): Promise<void>;
}

/** True for a client on this machine (IPv4/IPv6 loopback, IPv4-mapped included). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.replace(/^::ffff:/i, "");
  return a === "::1" || /^127\./.test(a);
}

const AUTHORITY_RE = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):(\d{1,5})$/i;

function refuseSocket(socket: Duplex, status: number, reason: string, message: string): void {
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

function refuse(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: "close" }).end(`${message}\n`);
}

/**
 * orgbox's HTTP proxy (RFC 9110 §9.3.6 `CONNECT`; what `HTTPS_PROXY` points at). A `CONNECT` to port 443 of a
 * Microsoft host name orgbox answers as (`login.microsoftonline.com`, `login.windows.net`, `login.microsoft.com`,
 * `sts.windows.net`, `graph.microsoft.com`, `*.crm*.dynamics.com`) is answered `200` and the connection handed to
 * orgbox's HTTPS server, which terminates TLS with a certificate of the local CA for that host. A `CONNECT` elsewhere
 * is tunnelled unchanged (a TCP pipe), or refused with `502` when `passthrough` is off, the client is not on this
 * machine (never an open proxy, whatever `host` it listens on) or the host is unreachable.
 * Requests in absolute form (`GET http://host/path`): to a cloud host, `308` to its `https` URL (as the cloud does);
 * `GET https://host/path` (what axios 0.21 sends to an HTTP proxy) to a cloud host is served as through a tunnel;
 * elsewhere forwarded (or `502` without passthrough). A request that is not a proxy request gets `400`.
 * @throws when the port is taken.
 */
export async function startProxy(options: ProxyOptions, port: number, host: string): Promise<OrgboxProxy> {
  const tunnels = new Set<Socket | Duplex>();
  const track = (socket: Socket | Duplex) => {
    tunnels.add(socket);
    socket.once("close", () => tunnels.delete(socket));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      refuse(res, 400, `This is orgbox's HTTP proxy: send requests through it (HTTPS_PROXY=http://${req.headers.host ?? "localhost"}), not to it.`);
      return;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      refuse(res, 400, `orgbox's proxy forwards http:// and https:// URLs (and tunnels with CONNECT); it cannot forward '${url.protocol}' URLs.`);
      return;
    }
    const target = url.hostname.toLowerCase();
    const secure = url.protocol === "https:";
    if (cloudHostKind(target)) {
      if (!secure) {
        // As the cloud does: its http:// URLs redirect to https://.
        res.writeHead(308, { location: `https://${target}${url.pathname}${url.search}`, "content-length": "0" }).end();
        return;
      }
      if ((url.port || "443") !== "443") {
        refuse(res, 502, `orgbox answers as ${target} on port 443 only (got port ${url.port}).`);
        return;
      }
      // `GET https://host/path` sent to the proxy in the clear (axios 0.21, as adal-node uses it, does this instead of
      // CONNECT): served by orgbox's app as that host, as if it had come through a tunnel.
      req.url = `${url.pathname}${url.search}`;
      req.headers.host = target;
      options.target.emit("request", req, res);
      return;
    }
    if (!isLoopback(req.socket.remoteAddress)) {
      refuse(res, 502, `orgbox's proxy forwards to other hosts (${url.host}) only for clients on this machine: it is not an open proxy.`);
      return;
    }
    if (!options.passthrough) {
      refuse(res, 502, `orgbox's proxy does not forward to ${url.host}: passthrough is off (proxyPassthrough: false). It answers only as login.microsoftonline.com, graph.microsoft.com and the orgs' *.crm.dynamics.com hosts.`);
      return;
    }
    const headers = { ...req.headers };
    delete headers["proxy-connection"];
    delete headers["proxy-authorization"];
    const send = secure ? httpsRequest : httpRequest;
    const upstream = send({ host: url.hostname, port: url.port || (secure ? 443 : 80), method: req.method, path: `${url.pathname}${url.search}`, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", (error) => {
      if (res.headersSent) res.destroy();
      else refuse(res, 502, `orgbox's proxy could not reach ${url.host}: ${error.message}`);
    });
    req.pipe(upstream);
  });

  server.on("connect", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => undefined);
    const match = AUTHORITY_RE.exec(req.url ?? "");
    if (!match) {
      refuseSocket(socket, 400, "Bad Request", `orgbox's proxy: CONNECT needs host:port (got '${req.url ?? ""}').`);
      return;
    }
    const target = hostName(match[1]);
    const targetPort = Number(match[2]);
    if (targetPort === 443 && cloudHostKind(target)) {
      options.logger.debug({ host: target }, "proxy: serving as the cloud host");
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) socket.unshift(head);
      track(socket);
      options.target.emit("connection", socket);
      return;
    }
    if (!isLoopback(req.socket.remoteAddress)) {
      refuseSocket(socket, 502, "Bad Gateway", `orgbox's proxy tunnels to other hosts (${target}:${targetPort}) only for clients on this machine: it is not an open proxy.`);
      return;
    }
    if (!options.passthrough) {
      refuseSocket(socket, 502, "Bad Gateway", `orgbox's proxy does not tunnel to ${target}:${targetPort}: passthrough is off (proxyPassthrough: false). It answers only as login.microsoftonline.com, graph.microsoft.com and the orgs' *.crm.dynamics.com hosts, on port 443.`);
      return;
    }
    const upstream = connect({ host: target.replace(/^\[|\]$/g, ""), port: targetPort });
    track(upstream);
    track(socket);
    upstream.once("connect", () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", (error) => {
      if (upstream.readyState === "opening" || !upstream.remoteAddress) {
        options.logger.debug({ host: target, err: error }, "proxy: upstream unreachable");
        refuseSocket(socket, 502, "Bad Gateway", `orgbox's proxy could not reach ${target}:${targetPort}: ${error.message}`);
      } else socket.destroy();
    });
    socket.once("close", () => upstream.destroy());
  });
  server.on("clientError", (_error, socket) => refuseSocket(socket, 400, "Bad Request", "orgbox's proxy could not read the request."));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of tunnels) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
