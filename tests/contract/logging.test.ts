/**
 * Issue 11: request logs (debug/trace) never carry tokens, codes or secrets from request URLs.
 * Starts orgbox with a trace-level logger writing to a capture, sends the secret-bearing URLs
 * real clients send (logout with id_token_hint, authorize, token with a query), and reads the log.
 */
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, redactUrl } from "../../src/common/logger.ts";
import { resolveConfig } from "../../src/config/config.ts";
import { createOrgbox, type OrgboxInstance } from "../../src/server/create-orgbox.ts";
import { DEMO } from "../../src/server/demo.ts";

const SECRETS = {
  idTokenHint: "eyJhbGciOiJSUzI1NiJ9.eyJzZWNyZXQtaGludCI6dHJ1ZX0.c2lnbmF0dXJlLXNlY3JldA",
  code: "1.AcodeSECRETvalue",
  clientSecret: "client-SECRET-value",
  refreshToken: "refresh-SECRET-value",
  assertion: "assertion-SECRET-value",
  password: "password-SECRET-value",
};

describe("request logging", () => {
  const lines: string[] = [];
  let orgbox: OrgboxInstance;

  beforeAll(async () => {
    const capture = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
        done();
      },
    });
    const config = resolveConfig({ inMemory: true, port: 0, logLevel: "trace", caDir: defaultTempCaDir() }, {});
    orgbox = await createOrgbox(config, createLogger("trace", capture));
  });
  afterAll(async () => {
    await orgbox?.close();
  });

  it("redacts secret query parameters from logged request URLs, keeps the rest", async () => {
    const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
    await fetch(`${orgbox.authority}/oauth2/v2.0/logout?${q({ id_token_hint: SECRETS.idTokenHint, post_logout_redirect_uri: "https://app.example/bye", state: "keep-state" })}`);
    await fetch(`${orgbox.authority}/oauth2/v2.0/authorize?${q({ client_id: DEMO.app.clientId, code: SECRETS.code, redirect_uri: "https://app.example/cb" })}`);
    await fetch(`${orgbox.authority}/oauth2/v2.0/token?${q({ client_secret: SECRETS.clientSecret, refresh_token: SECRETS.refreshToken, client_assertion: SECRETS.assertion, Password: SECRETS.password })}`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials" }) });
    await fetch(`${orgbox.apiUrl}/accounts?$deltatoken=keep-delta&access_token=${SECRETS.assertion}x`);

    const log = lines.join("\n");
    const urls = lines.map((l) => (JSON.parse(l) as { req?: { url?: string } }).req?.url).filter((u): u is string => typeof u === "string");
    expect(urls.some((u) => u.includes("/logout?"))).toBe(true);
    for (const secret of Object.values(SECRETS)) expect(log).not.toContain(secret);
    expect(urls).toContainEqual(expect.stringContaining("id_token_hint=[redacted]&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=keep-state"));
    expect(urls).toContainEqual(expect.stringContaining("code=[redacted]"));
    expect(urls).toContainEqual(expect.stringContaining("client_secret=[redacted]&refresh_token=[redacted]&client_assertion=[redacted]&Password=[redacted]"));
    expect(urls).toContainEqual(expect.stringContaining("$deltatoken=keep-delta&access_token=[redacted]"));
  });

  it("redactUrl: only the named parameters, case-insensitive, encoded names, no query", () => {
    expect(redactUrl("/a/b")).toBe("/a/b");
    expect(redactUrl("/x?code=abc&state=s&CODE=d&c%6Fde=e&flag&assertion")).toBe("/x?code=[redacted]&state=s&CODE=[redacted]&c%6Fde=[redacted]&flag&assertion=[redacted]");
    expect(redactUrl("/x?%zz=1&device_code=2")).toBe("/x?%zz=1&device_code=[redacted]");
  });
});
