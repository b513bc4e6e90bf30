/**
 * Issue 2: v1 and v2 OpenID discovery, JWKS and instance discovery, checked the
 * way resource servers and MSAL use them.
 */
import { createRemoteJWKSet, jwtVerify } from "jose";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";

type Json = Record<string, unknown>;

describe("OpenID discovery, JWKS and instance discovery", () => {
  const orgbox = useOrgbox();
  const get = async (path: string) => {
    const res = await fetch(`${orgbox().url}${path}`);
    return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
  };

  it("serves the v2 document for a tenant GUID, with GUID endpoints and an exact issuer", async () => {
    const o = orgbox();
    const { status, headers, body } = await get(`/${o.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(status).toBe(200);
    expect(headers.get("cache-control")).toBe("max-age=86400, private");
    expect(headers.get("access-control-allow-origin")).toBe("*");
    expect(body).toMatchObject({
      issuer: `${o.url}/${o.tenantId}/v2.0`,
      token_endpoint: `${o.authority}/oauth2/v2.0/token`,
      authorization_endpoint: `${o.authority}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${o.authority}/oauth2/v2.0/devicecode`,
      jwks_uri: `${o.authority}/discovery/v2.0/keys`,
      id_token_signing_alg_values_supported: ["RS256"],
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    });
    // MSAL derives the device-code URL by replacing "/token": it must occur once.
    expect((body.token_endpoint as string).split("/token").length).toBe(2);
  });

  it("maps a domain (any case) to the tenant GUID in endpoint URLs", async () => {
    const o = orgbox();
    const { body } = await get(`/Contoso.OnMicrosoft.com/v2.0/.well-known/openid-configuration`);
    expect(body.token_endpoint).toBe(`${o.authority}/oauth2/v2.0/token`);
    expect(body.issuer).toBe(`${o.url}/${o.tenantId}/v2.0`);
  });

  it("uses the {tenantid} placeholder for common and organizations", async () => {
    const o = orgbox();
    for (const alias of ["common", "organizations"]) {
      const { body } = await get(`/${alias}/v2.0/.well-known/openid-configuration`);
      expect(body.issuer).toBe(`${o.url}/{tenantid}/v2.0`);
      expect(body.token_endpoint).toBe(`${o.url}/${alias}/oauth2/v2.0/token`);
    }
    const v1 = await get(`/common/.well-known/openid-configuration`);
    expect(v1.body.issuer).toBe(`${o.url}/sts/{tenantid}/`);
  });

  it("serves the v1 document with the sts-style issuer and the common JWKS", async () => {
    const o = orgbox();
    const { body } = await get(`/${o.tenantId}/.well-known/openid-configuration`);
    expect(body).toMatchObject({
      issuer: `${o.url}/sts/${o.tenantId}/`,
      token_endpoint: `${o.authority}/oauth2/token`,
      jwks_uri: `${o.url}/common/discovery/keys`,
      microsoft_multi_refresh_token: true,
    });
  });

  it("returns AADSTS90002 for an unknown tenant's discovery document", async () => {
    const res = await get(`/unknown.onmicrosoft.com/v2.0/.well-known/openid-configuration`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "invalid_tenant", error_codes: [90002] });
  });

  it("publishes JWKS keys (kty, use, kid, x5t, n, e, x5c) that verify issued tokens", async () => {
    const o = orgbox();
    const v1 = await get(`/common/discovery/keys`);
    const [key] = v1.body.keys as Json[];
    expect(key).toMatchObject({ kty: "RSA", use: "sig", e: "AQAB" });
    expect(key?.kid).toBe(key?.x5t);
    const der = Buffer.from((key?.x5c as string[])[0] as string, "base64");
    expect(createHash("sha1").update(der).digest("base64url")).toBe(key?.x5t);
    const v2 = await get(`/${o.tenantId}/discovery/v2.0/keys`);
    expect((v2.body.keys as Json[])[0]?.issuer).toBe(`${o.url}/${o.tenantId}/v2.0`);

    const jwks = createRemoteJWKSet(new URL(`${o.url}/common/discovery/keys`));
    const token = await demoToken(o);
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: `${o.url}/sts/${o.tenantId}/`, audience: o.orgUrl });
    expect(protectedHeader.kid).toBe(key?.kid);
    expect(payload.appid).toBe(o.demo.clientId);
  });

  it("answers instance discovery for its own host and refuses others (AADSTS50049)", async () => {
    const o = orgbox();
    const host = new URL(o.url).host;
    const ok = await get(`/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${o.authority}/oauth2/v2.0/authorize`)}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      tenant_discovery_endpoint: `${o.authority}/v2.0/.well-known/openid-configuration`,
      "api-version": "1.1",
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
    const bad = await get(`/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent("https://evil.example.com/x/oauth2/v2.0/authorize")}`);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: "invalid_instance", error_codes: [50049] });
  });
});
