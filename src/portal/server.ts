import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { IdentityService } from "../identity/index.ts";
import { ORGBOX_PORTAL_APP_ID, PORTAL_GRAPH_SCOPES, PortalRegistration } from "./registration.ts";

/** Where `npm run build:portal` writes the browser bundle (gitignored). */
export const PORTAL_DIST = resolve(dirname(fileURLToPath(import.meta.url)), "../../dist/portal");

/** The README with the client recipes, served as text at `/_orgbox/readme.md`. */
const README = resolve(dirname(fileURLToPath(import.meta.url)), "../../README.md");

/** The demo's well-known sign-in values, when the demo is seeded (README "The demo environment"). */
export interface PortalDemo {
  tenantId: string;
  username: string;
  password: string;
  clientId: string;
  clientSecret: string;
}

/** What the portal's server side needs from the running orgbox. */
export interface PortalOptions {
  identity: IdentityService;
  /** The Dataverse orgs (`organizationid`, URL name, tenant, display name). */
  listOrgs: () => Promise<{ id: string; name: string; tenantId: string; displayName: string }[]>;
  /** `https://host:port`, known once listening. */
  baseUrl: () => string;
  /** The local CA certificate (PEM) and its path; undefined with `--http`. */
  ca: { pem: string; path: string } | undefined;
  /** The demo values, or undefined when the demo is not seeded. */
  demo: () => Promise<PortalDemo | undefined>;
  /** Bundle folder; default {@link PORTAL_DIST}. */
  distDir?: string;
}

/** The JSON of `GET /_orgbox/portal-info`: public facts about the running orgbox. */
export interface PortalInfo {
  identityUrl: string;
  graphUrl: string;
  portalClientId: string;
  graphScopes: readonly string[];
  tenants: { id: string; displayName: string; defaultDomain: string; authority: string }[];
  orgs: { id: string; name: string; displayName: string; tenantId: string; url: string; webApiUrl: string }[];
  demo: PortalDemo | null;
  ca: { path: string; downloadUrl: string } | null;
}

/** Security headers shared by every portal response (the sign-in pages' set, with a CSP that allows the bundle). */
const SECURITY_HEADERS: Record<string, string> = {
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // Fluent UI (Griffel) inserts its CSS rules at run time: style-src needs 'unsafe-inline', as the sign-in pages have.
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

const ASSETS: Record<string, string> = { "app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8" };

interface Asset {
  body: Buffer;
  etag: string;
  mtimeMs: number;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page shown when `dist/portal/app.js` is missing. */
function missingBundlePage(dist: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>orgbox portal: not built</title></head><body style="font-family:Segoe UI,system-ui,sans-serif;margin:40px"><main><h1>The orgbox portal is not built</h1><p>The browser bundle is missing from <code>${esc(dist)}</code>. Build it with:</p><pre>npm run build:portal</pre><p>(<code>npm ci</code> runs it for you.) The APIs work without it: identity at this URL, Microsoft Graph at <code>/graph/v1.0</code>, Dataverse at <code>/org/{name}/api/data/v9.2</code>.</p></main></body></html>`;
}

/**
 * The admin portal's server side: `GET /` (the single-page app's HTML), `GET /portal/app.js` and
 * `/portal/app.css` (the esbuild bundle, `ETag` + `no-cache`, `immutable` when asked by content hash),
 * `GET /_orgbox/portal-info` (anonymous JSON: {@link PortalInfo}), `GET /_orgbox/readme.md` (the client recipes) and `GET /_orgbox/ca.pem` (the local
 * CA's public certificate). The portal itself calls only the public Graph and Dataverse Web APIs.
 */
export async function registerPortal(app: FastifyInstance, options: PortalOptions): Promise<void> {
  const dist = options.distDir ?? PORTAL_DIST;
  const registration = new PortalRegistration(options.identity);
  const cache = new Map<string, Asset>();

  /** The built file, re-read when its mtime changes (a rebuild while running); undefined when missing. */
  const asset = async (name: string): Promise<Asset | undefined> => {
    const path = join(dist, name);
    const info = await stat(path).catch(() => undefined);
    if (!info) return undefined;
    const cached = cache.get(name);
    if (cached && cached.mtimeMs === info.mtimeMs) return cached;
    const body = await readFile(path);
    const fresh = { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`, mtimeMs: info.mtimeMs };
    cache.set(name, fresh);
    return fresh;
  };
  const secure = (reply: FastifyReply): FastifyReply => reply.headers(SECURITY_HEADERS);

  app.get("/", async (_request, reply) => {
    const js = await asset("app.js");
    secure(reply).header("cache-control", "no-store, no-cache");
    if (!js) return reply.status(503).type("text/html; charset=utf-8").send(missingBundlePage(dist));
    const css = await asset("app.css");
    const v = (a: Asset) => encodeURIComponent(a.etag.slice(1, -1));
    const html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="none"><title>orgbox portal</title>${css ? `<link rel="stylesheet" href="/portal/app.css?v=${v(css)}">` : ""}</head><body><div id="root"></div><noscript>The orgbox portal needs JavaScript.</noscript><script type="module" src="/portal/app.js?v=${v(js)}"></script></body></html>`;
    return reply.type("text/html; charset=utf-8").send(html);
  });

  app.get<{ Params: { file: string }; Querystring: { v?: string } }>("/portal/:file", async (request, reply) => {
    const type = ASSETS[request.params.file];
    const found = type ? await asset(request.params.file) : undefined;
    secure(reply);
    if (!type || !found) return reply.status(404).send({ error: "not_found", error_description: `the portal has no file '${request.params.file}'`, correlation_id: request.id });
    const pinned = request.query.v !== undefined && `"${request.query.v}"` === found.etag;
    reply.header("etag", found.etag).header("cache-control", pinned ? "public, max-age=31536000, immutable" : "no-cache").type(type);
    if (request.headers["if-none-match"] === found.etag) return reply.status(304).send();
    return reply.send(found.body);
  });

  app.get("/_orgbox/portal-info", async (_request, reply) => {
    const base = options.baseUrl();
    await registration.ensure(base);
    const tenants = await options.identity.listTenants();
    const orgs = await options.listOrgs();
    const info: PortalInfo = {
      identityUrl: base,
      graphUrl: `${base}/graph/v1.0`,
      portalClientId: ORGBOX_PORTAL_APP_ID,
      graphScopes: PORTAL_GRAPH_SCOPES,
      tenants: tenants.map((t) => ({ id: t.id, displayName: t.displayName, defaultDomain: t.defaultDomain, authority: `${base}/${t.id}` })),
      orgs: orgs.map((o) => ({ id: o.id, name: o.name, displayName: o.displayName, tenantId: o.tenantId, url: `${base}/org/${o.name}`, webApiUrl: `${base}/org/${o.name}/api/data/v9.2` })),
      demo: (await options.demo()) ?? null,
      ca: options.ca ? { path: options.ca.path, downloadUrl: "/_orgbox/ca.pem" } : null,
    };
    return secure(reply).header("cache-control", "no-store").send(info);
  });

  app.get("/_orgbox/readme.md", async (request, reply) => {
    const text = await readFile(README, "utf8").catch(() => undefined);
    secure(reply);
    if (text === undefined) return reply.status(404).send({ error: "not_found", error_description: "README.md is not next to this orgbox", correlation_id: request.id });
    return reply.header("cache-control", "no-cache").type("text/plain; charset=utf-8").send(text);
  });

  app.get("/_orgbox/ca.pem", async (request, reply) => {
    secure(reply);
    if (!options.ca) return reply.status(404).send({ error: "not_found", error_description: "orgbox serves plain HTTP (--http): there is no local CA", correlation_id: request.id });
    return reply.header("content-disposition", 'attachment; filename="orgbox-ca.pem"').header("cache-control", "no-cache").type("application/x-pem-file").send(options.ca.pem);
  });
}
