import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureLocalTls, LeafCertificates } from "../common/tls.ts";
import { isLoopback } from "./proxy.ts";

describe("proxy helpers", () => {
  it("isLoopback: only this machine's addresses pass through to other hosts", () => {
    for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) expect(isLoopback(a), a).toBe(true);
    for (const a of ["10.0.0.1", "192.168.1.5", "::ffff:10.0.0.1", "fe80::1", "", undefined]) expect(isLoopback(a), String(a)).toBe(false);
  });

  it("issues one leaf certificate per host name, kept up to the cap (the oldest is dropped)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "orgbox-leaf-"));
    try {
      const leaves = new LeafCertificates(await ensureLocalTls(join(dir, "ca")), 2);
      const first = leaves.context("a.crm.dynamics.com");
      expect(leaves.context("a.crm.dynamics.com")).toBe(first);
      await leaves.context("b.crm.dynamics.com");
      await leaves.context("c.crm.dynamics.com");
      const again = leaves.context("a.crm.dynamics.com");
      expect(again).not.toBe(first);
      await again;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
