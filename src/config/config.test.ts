import { describe, expect, it } from "vitest";
import { resolveConfig, configFromEnv } from "./config.ts";
import { ConfigError } from "../common/errors.ts";

describe("resolveConfig", () => {
  it("applies documented defaults", () => {
    const config = resolveConfig({});
    expect(config.port).toBe(8443);
    expect(config.host).toBe("127.0.0.1");
    expect(config.http).toBe(false);
    expect(config.caDir.endsWith("/.orgbox/ca")).toBe(true);
  });

  it("maps ORGBOX_* variables 1:1 and lets explicit options win", () => {
    const env = { ORGBOX_PORT: "9000", ORGBOX_HTTP: "true", ORGBOX_HOST: "0.0.0.0" };
    expect(configFromEnv(env)).toEqual({ port: "9000", http: "true", host: "0.0.0.0" });
    const config = resolveConfig({ port: 0 }, env);
    expect(config.port).toBe(0);
    expect(config.http).toBe(true);
    expect(config.host).toBe("0.0.0.0");
  });

  it("rejects a bad port with the key named", () => {
    expect(() => resolveConfig({ port: "99999" })).toThrow(/port/);
    expect(() => resolveConfig({}, { ORGBOX_PORT: "abc" })).toThrow(ConfigError);
  });

  it("rejects --in-memory combined with --data", () => {
    expect(() => resolveConfig({ inMemory: true, dataDir: "/tmp/x" })).toThrow(/cannot be combined/);
  });

  it("reads storeUrl from ORGBOX_STORE_URL, accepts only postgres URLs, and refuses it with --in-memory (not with --data: the CA's folder)", () => {
    const url = "postgres://orgbox@localhost:5432/orgbox";
    expect(resolveConfig({}, { ORGBOX_STORE_URL: url }).storeUrl).toBe(url);
    expect(resolveConfig({}).storeUrl).toBeUndefined();
    expect(resolveConfig({ storeUrl: "postgresql://u@/db?host=/tmp/sock", dataDir: "/tmp/x" }).caDir).toBe("/tmp/x/ca");
    expect(() => resolveConfig({ storeUrl: "sqlite:///tmp/x" })).toThrow(/storeUrl: a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(() => resolveConfig({ storeUrl: url, inMemory: true })).toThrow("--in-memory and --store-url cannot be combined");
    expect(() => resolveConfig({ inMemory: "true" }, { ORGBOX_STORE_URL: url })).toThrow(ConfigError);
  });

  it("puts the CA in a per-user temp folder when in memory", () => {
    expect(resolveConfig({ inMemory: true }).caDir).toMatch(new RegExp(`orgbox-ca-${process.getuid?.() ?? ".+"}$`));
  });

  it("refresh-token and lockout settings: Entra's defaults, ORGBOX_* variables, and refusals naming the key", () => {
    const defaults = resolveConfig({});
    expect(defaults).toMatchObject({ refreshTokenLifetimeSeconds: 7776000, spaRefreshTokenLifetimeSeconds: 86400, refreshTokenRotation: "entra", lockoutThreshold: 10, lockoutDurationSeconds: 60 });
    const env = { ORGBOX_REFRESH_TOKEN_LIFETIME: "3600", ORGBOX_SPA_REFRESH_TOKEN_LIFETIME: "600", ORGBOX_REFRESH_TOKEN_ROTATION: "strict", ORGBOX_LOCKOUT_THRESHOLD: "0", ORGBOX_LOCKOUT_DURATION: "5" };
    expect(resolveConfig({}, env)).toMatchObject({ refreshTokenLifetimeSeconds: 3600, spaRefreshTokenLifetimeSeconds: 600, refreshTokenRotation: "strict", lockoutThreshold: 0, lockoutDurationSeconds: 5 });
    expect(() => resolveConfig({ refreshTokenRotation: "sometimes" })).toThrow(/refreshTokenRotation/);
    expect(() => resolveConfig({ lockoutThreshold: "-1" })).toThrow(/lockoutThreshold/);
    expect(() => resolveConfig({ lockoutDurationSeconds: "0" })).toThrow(/lockoutDurationSeconds/);
    expect(() => resolveConfig({ refreshTokenLifetimeSeconds: "ten" })).toThrow(/refreshTokenLifetimeSeconds/);
    expect(() => resolveConfig({ refreshTokenRotations: "strict" } as never)).toThrow(ConfigError);
  });

  it("service protection, token throttling and fault settings: Dataverse's defaults, ORGBOX_* variables, and refusals naming the key", () => {
    const defaults = resolveConfig({});
    expect(defaults).toMatchObject({ serviceProtection: true, serviceProtectionRequests: 6000, serviceProtectionExecutionSeconds: 1200, serviceProtectionConcurrency: 52, serviceProtectionWindowSeconds: 300 });
    expect([defaults.tokenRequestsPerMinute, defaults.faults]).toEqual([undefined, undefined]);
    const env = { ORGBOX_SERVICE_PROTECTION: "false", ORGBOX_SERVICE_PROTECTION_REQUESTS: "10", ORGBOX_SERVICE_PROTECTION_EXECUTION: "0.5", ORGBOX_SERVICE_PROTECTION_CONCURRENCY: "2", ORGBOX_SERVICE_PROTECTION_WINDOW: "60", ORGBOX_TOKEN_REQUESTS_PER_MINUTE: "30", ORGBOX_FAULTS: '[{"surface":"graph"}]' };
    expect(resolveConfig({}, env)).toMatchObject({ serviceProtection: false, serviceProtectionRequests: 10, serviceProtectionExecutionSeconds: 0.5, serviceProtectionConcurrency: 2, serviceProtectionWindowSeconds: 60, tokenRequestsPerMinute: 30, faults: [{ surface: "graph" }] });
    expect(() => resolveConfig({ serviceProtectionConcurrency: "0" })).toThrow(/serviceProtectionConcurrency/);
    expect(() => resolveConfig({ serviceProtectionExecutionSeconds: "-1" })).toThrow(/serviceProtectionExecutionSeconds/);
    expect(() => resolveConfig({ serviceProtectionWindowSeconds: "1.5" })).toThrow(/serviceProtectionWindowSeconds/);
    expect(() => resolveConfig({ tokenRequestsPerMinute: "0" })).toThrow(/tokenRequestsPerMinute/);
    expect(() => resolveConfig({ faults: '{"surface":"graph"}' })).toThrow(/faults: a JSON array of fault rules/);
  });

  it("publicPort and workers: unset by default, ORGBOX_PUBLIC_PORT and ORGBOX_WORKERS, refusals naming the key, more than one worker only on PostgreSQL", () => {
    const defaults = resolveConfig({});
    expect([defaults.publicPort, defaults.workers]).toEqual([undefined, undefined]);
    const url = "postgres://orgbox@db.example/orgbox";
    expect(resolveConfig({}, { ORGBOX_PUBLIC_PORT: "443", ORGBOX_WORKERS: "4", ORGBOX_STORE_URL: url })).toMatchObject({ publicPort: 443, workers: 4 });
    expect(() => resolveConfig({ publicPort: "0" })).toThrow(/publicPort/);
    expect(() => resolveConfig({ workers: "0", storeUrl: url })).toThrow(/workers/);
    expect(() => resolveConfig({ workers: "2", dataDir: "/tmp/x" })).toThrow(/--workers 2 needs a PostgreSQL store/);
    expect(resolveConfig({ workers: "1" }).workers).toBe(1);
  });

  it("proxy settings: on with passthrough by default, ORGBOX_PROXY* variables, refusals naming the key", () => {
    expect(resolveConfig({})).toMatchObject({ proxy: true, proxyPassthrough: true });
    expect(resolveConfig({}).proxyPort).toBeUndefined();
    expect(resolveConfig({}, { ORGBOX_PROXY: "false", ORGBOX_PROXY_PORT: "9000", ORGBOX_PROXY_PASSTHROUGH: "0" })).toMatchObject({ proxy: false, proxyPort: 9000, proxyPassthrough: false });
    expect(() => resolveConfig({ proxyPort: "70000" })).toThrow(/proxyPort/);
    expect(() => resolveConfig({ proxy: "maybe" })).toThrow(/proxy/);
  });
});
