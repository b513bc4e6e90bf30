import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { ensureLocalTls } from "./tls.ts";

const dir = mkdtempSync(join(tmpdir(), "orgbox-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ensureLocalTls", () => {
  it("creates a CA and a server certificate for localhost, 127.0.0.1 and ::1, signed by it", async () => {
    const tls = await ensureLocalTls(join(dir, "ca"));
    const ca = new X509Certificate(tls.caCert);
    const leaf = new X509Certificate(tls.cert);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toContain("DNS:localhost");
    expect(leaf.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(leaf.checkHost("localhost")).toBe("localhost");
  });

  it("reuses the same CA on the next start, and agrees when started concurrently", async () => {
    const [a, b] = await Promise.all([ensureLocalTls(join(dir, "shared")), ensureLocalTls(join(dir, "shared"))]);
    const again = await ensureLocalTls(join(dir, "shared"));
    expect(again.caCert).toBe(a.caCert);
    expect(new X509Certificate(b.cert).checkIssued(new X509Certificate(again.caCert))).toBe(true);
  });
});
