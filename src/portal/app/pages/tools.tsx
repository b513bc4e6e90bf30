import { Button, Field, Input, Select, Table, TableBody, TableCell, TableHeader, TableHeaderCell, TableRow, Text, Textarea } from "@fluentui/react-components";
import { useState, type ReactNode } from "react";
import { orgboxApi } from "../api.ts";
import { jwtPayload, type PortalInfo } from "../auth.ts";
import { CopyField, ErrorBar, LoadState, PageTitle, useAccount, useLoad, usePortal } from "../ui.tsx";

const GRAPH_AUDIENCES = ["https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"];

function decodePart(part: string): Record<string, unknown> {
  return jwtPayload(`x.${part}.x`);
}

function base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const raw = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * Checks a token as orgbox's resource servers do: the RS256 signature against the tenant's JWKS
 * (`{url}/{tid}/discovery/v2.0/keys`, verified with WebCrypto), the issuer, the lifetime, and which
 * orgbox API (a Dataverse org or Microsoft Graph) its audience names, with the tenant rule of each.
 */
async function checkToken(info: PortalInfo, token: string): Promise<{ header: Record<string, unknown>; claims: Record<string, unknown>; checks: Check[] }> {
  const parts = token.trim().split(".");
  if (parts.length !== 3) throw new Error(`A JWT has three dot-separated parts; this has ${parts.length}.`);
  const [h, p, s] = parts as [string, string, string];
  const header = decodePart(h);
  const claims = decodePart(p);
  const checks: Check[] = [];
  const tid = String(claims.tid ?? "");
  const now = Math.floor(Date.now() / 1000);
  try {
    const jwks = (await (await fetch(`${info.identityUrl}/${encodeURIComponent(tid || "common")}/discovery/v2.0/keys`, { credentials: "omit" })).json()) as { keys: (JsonWebKey & { kid: string })[] };
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    if (!jwk) checks.push({ name: "Signature", ok: false, detail: `No orgbox signing key has kid '${String(header.kid)}' (tokens from another issuer, or a key rotated out).` });
    else if (header.alg !== "RS256") checks.push({ name: "Signature", ok: false, detail: `alg is ${String(header.alg)}; orgbox signs RS256 only.` });
    else {
      const key = await crypto.subtle.importKey("jwk", { kty: jwk.kty, n: jwk.n, e: jwk.e }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
      const ok = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, base64urlBytes(s), new TextEncoder().encode(`${h}.${p}`));
      checks.push({ name: "Signature", ok, detail: ok ? `Valid: signed by orgbox key ${jwk.kid}.` : "Invalid: the signature does not match the header and claims." });
    }
  } catch (e) {
    checks.push({ name: "Signature", ok: false, detail: `Could not check: ${(e as Error).message}` });
  }
  const issuers = [`${info.identityUrl}/sts/${tid}/`, `${info.identityUrl}/${tid}/v2.0`];
  checks.push({ name: "Issuer", ok: issuers.includes(String(claims.iss)), detail: issuers.includes(String(claims.iss)) ? `${String(claims.iss)} (tenant ${tid})` : `${String(claims.iss)} is not an issuer of this orgbox (expected ${issuers.join(" or ")}).` });
  const exp = Number(claims.exp);
  const nbf = Number(claims.nbf ?? claims.iat);
  const lifetimeOk = Number.isFinite(exp) && exp > now && (!Number.isFinite(nbf) || nbf <= now + 300);
  checks.push({
    name: "Lifetime",
    ok: lifetimeOk,
    detail: `Not before ${Number.isFinite(nbf) ? new Date(nbf * 1000).toISOString() : "—"}, expires ${Number.isFinite(exp) ? new Date(exp * 1000).toISOString() : "—"}${exp <= now ? ` (expired ${now - exp} s ago)` : ` (${exp - now} s left)`}.`,
  });
  const aud = String(claims.aud ?? "");
  const org = info.orgs.find((o) => o.url.toLowerCase() === aud.replace(/\/$/, "").toLowerCase());
  if (org) {
    const sameTenant = org.tenantId === tid;
    checks.push({ name: "Accepted by", ok: sameTenant, detail: sameTenant ? `The Dataverse org '${org.displayName}' (${org.webApiUrl}), if the caller is a user or application user there with the privileges the request needs.` : `No: the org '${org.displayName}' belongs to tenant ${org.tenantId}, the token to ${tid}.` });
  } else if (GRAPH_AUDIENCES.includes(aud)) {
    checks.push({ name: "Accepted by", ok: true, detail: `Microsoft Graph (${info.graphUrl}), acting in tenant ${tid} with ${claims.scp ? `delegated scopes '${String(claims.scp)}'` : `application permissions ${JSON.stringify(claims.roles ?? [])}`}.` });
  } else {
    checks.push({ name: "Accepted by", ok: false, detail: `No orgbox API: the audience '${aud}' is neither an org URL of this orgbox nor Microsoft Graph.` });
  }
  return { header, claims, checks };
}

/** A token "Get a token" hands to the decoder (in memory, across one hash navigation; read once). */
let handoff = "";

/** Token decoder: paste a JWT; header, claims, and the checks orgbox's APIs make. Nothing leaves the page but the JWKS fetch. */
export function TokenDecoder(): ReactNode {
  const { info } = usePortal();
  const [token, setToken] = useState(() => {
    const given = handoff;
    handoff = "";
    return given;
  });
  const [result, setResult] = useState<Awaited<ReturnType<typeof checkToken>>>();
  const [error, setError] = useState<unknown>();
  const decode = async () => {
    setError(undefined);
    setResult(undefined);
    try {
      setResult(await checkToken(info, token));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <PageTitle title="Token decoder" trail={[{ label: "Home", href: "#/" }]} />
      <Field label="Token (JWT)" hint="Decoded in this page; only the signing keys are fetched.">
        <Textarea value={token} onChange={(_e, d) => setToken(d.value)} rows={5} textarea={{ spellCheck: false }} style={{ fontFamily: "Consolas, monospace" }} />
      </Field>
      <Button appearance="primary" style={{ marginTop: 8 }} onClick={() => void decode()} disabled={!token.trim()}>
        Decode
      </Button>
      <ErrorBar error={error} />
      {result && (
        <div>
          <Table aria-label="Checks" size="small" style={{ marginTop: 12 }}>
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Check</TableHeaderCell>
                <TableHeaderCell>Result</TableHeaderCell>
                <TableHeaderCell>Details</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {result.checks.map((c) => (
                <TableRow key={c.name}>
                  <TableCell>{c.name}</TableCell>
                  <TableCell>{c.ok ? "Pass" : "Fail"}</TableCell>
                  <TableCell>{c.detail}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <h2 style={{ fontSize: 16 }}>Header</h2>
          <pre aria-label="Header" style={{ background: "#f5f5f5", padding: 8, overflowX: "auto" }}>
            {JSON.stringify(result.header, null, 2)}
          </pre>
          <h2 style={{ fontSize: 16 }}>Claims</h2>
          <pre aria-label="Claims" style={{ background: "#f5f5f5", padding: 8, overflowX: "auto" }}>
            {JSON.stringify(result.claims, null, 2)}
          </pre>
        </div>
      )}
    </div>
  );
}

/** Get a token: client credentials for an app and a resource, from this page, with the curl line to do it yourself. */
export function GetToken(): ReactNode {
  const { info } = usePortal();
  const account = useAccount();
  const [tenant, setTenant] = useState(account.tenantId);
  const [clientId, setClientId] = useState("");
  const [secret, setSecret] = useState("");
  const [resource, setResource] = useState(info.orgs.find((o) => o.tenantId === account.tenantId)?.url ?? "https://graph.microsoft.com");
  const [token, setToken] = useState<string>();
  const [error, setError] = useState<unknown>();
  const endpoint = `${info.identityUrl}/${tenant}/oauth2/v2.0/token`;
  const curl = `curl${info.ca ? ` --cacert ${info.ca.path}` : ""} -X POST ${endpoint} -d grant_type=client_credentials -d client_id=${clientId || "<client id>"} --data-urlencode 'client_secret=<client secret>' --data-urlencode 'scope=${resource}/.default'`;
  const request = async () => {
    setError(undefined);
    setToken(undefined);
    try {
      const response = await fetch(endpoint, { method: "POST", credentials: "omit", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope: `${resource}/.default` }) });
      const body = (await response.json()) as Record<string, unknown>;
      if (!response.ok) throw new Error(`${String(body.error)}: ${String(body.error_description)}`);
      setToken(String(body.access_token));
    } catch (e) {
      setError(e);
    } finally {
      // The secret is not kept in the page once used.
      setSecret("");
    }
  };
  return (
    <div style={{ maxWidth: 900 }}>
      <PageTitle title="Get a token" trail={[{ label: "Home", href: "#/" }]} />
      <Text as="p">Client credentials (v2 token endpoint) for an app with a client secret.</Text>
      <Field label="Tenant">
        <Select value={tenant} onChange={(_e, d) => setTenant(d.value)}>
          {info.tenants.map((t) => (
            <option key={t.id} value={t.id}>
              {t.displayName} ({t.defaultDomain})
            </option>
          ))}
        </Select>
      </Field>
      <Field label="Application (client) ID">
        <Input value={clientId} onChange={(_e, d) => setClientId(d.value)} />
      </Field>
      <Field label="Client secret">
        <Input type="password" value={secret} onChange={(_e, d) => setSecret(d.value)} />
      </Field>
      <Field label="Resource">
        <Select value={resource} onChange={(_e, d) => setResource(d.value)}>
          {info.orgs.map((o) => (
            <option key={o.name} value={o.url}>
              {o.displayName} ({o.url})
            </option>
          ))}
          <option value="https://graph.microsoft.com">Microsoft Graph</option>
        </Select>
      </Field>
      <Button appearance="primary" style={{ margin: "8px 0" }} disabled={!clientId || !secret} onClick={() => void request()}>
        Get token
      </Button>
      <ErrorBar error={error} />
      {token && <CopyField label="Access token" value={token} />}
      {token && (
        <Button
          onClick={() => {
            handoff = token;
            location.hash = "#/tools/decoder";
          }}
        >
          Open in the token decoder
        </Button>
      )}
      <CopyField label="curl" value={curl} />
    </div>
  );
}

interface Denial {
  at: string;
  surface: string;
  method: string;
  path: string;
  status: number;
  code: string;
  message: string;
  correlationId: string;
  caller: { tid?: string; appid?: string; oid?: string; upn?: string } | null;
}

/** Recent denials: the last 401/403s of identity, Graph and Dataverse in this directory (`GET /_orgbox/denials`). */
export function RecentDenials(): ReactNode {
  const { info } = usePortal();
  const denials = useLoad(() => orgboxApi<{ value: Denial[] }>(info, "/_orgbox/denials"), []);
  return (
    <div>
      <PageTitle title="Recent denials" trail={[{ label: "Home", href: "#/" }]} />
      <Text as="p">The last 401 and 403 answers of each surface for this directory (kept in memory, 50 per surface). The caller is what the refused token claimed.</Text>
      <Button onClick={denials.reload}>Refresh</Button>
      <LoadState state={denials} />
      {denials.data && (
        <Table aria-label="Recent denials" size="small" style={{ marginTop: 8 }}>
          <TableHeader>
            <TableRow>
              <TableHeaderCell>When (UTC)</TableHeaderCell>
              <TableHeaderCell>Surface</TableHeaderCell>
              <TableHeaderCell>Request</TableHeaderCell>
              <TableHeaderCell>Status</TableHeaderCell>
              <TableHeaderCell>Reason</TableHeaderCell>
              <TableHeaderCell>Caller</TableHeaderCell>
              <TableHeaderCell>Correlation ID</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {denials.data.value.length === 0 && (
              <TableRow>
                <TableCell colSpan={7}>No denials recorded for this directory.</TableCell>
              </TableRow>
            )}
            {denials.data.value.map((d) => (
              <TableRow key={`${d.correlationId}-${d.at}`}>
                <TableCell>{d.at.replace("T", " ").replace("Z", "")}</TableCell>
                <TableCell>{d.surface === "dataverse" ? "Dataverse" : d.surface === "graph" ? "Microsoft Graph" : "Identity"}</TableCell>
                <TableCell>
                  <code>
                    {d.method} {d.path}
                  </code>
                </TableCell>
                <TableCell>{d.status}</TableCell>
                <TableCell>
                  <strong>{d.code}</strong> {d.message}
                </TableCell>
                <TableCell>
                  <span style={{ wordBreak: "break-all" }}>{d.caller ? (d.caller.upn ?? d.caller.appid ?? d.caller.oid ?? "") : "anonymous"}</span>
                </TableCell>
                <TableCell>
                  <code>{d.correlationId}</code>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </div>
  );
}
