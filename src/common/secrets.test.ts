import { describe, expect, it } from "vitest";
import { hashPassword, hashSecret, newClientSecret, verifyPassword, verifySecret } from "./secrets.ts";

describe("client secrets", () => {
  it("look like Entra secrets: 40 characters, `abc8Q~…`", () => {
    const secret = newClientSecret();
    expect(secret).toHaveLength(40);
    expect(secret.slice(3, 6)).toBe("8Q~");
    expect(newClientSecret()).not.toBe(secret);
  });

  it("are stored as a hash that verifies only the same value", () => {
    const secret = newClientSecret();
    const stored = hashSecret(secret);
    expect(stored).not.toContain(secret);
    expect(verifySecret(secret, stored)).toBe(true);
    expect(verifySecret(`${secret}x`, stored)).toBe(false);
    expect(verifySecret(secret, "00")).toBe(false);
  });
});

describe("passwords", () => {
  it("are scrypt-hashed with a salt and verified", async () => {
    const a = await hashPassword("orgbox-Admin-1");
    const b = await hashPassword("orgbox-Admin-1");
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword("orgbox-Admin-1", a)).toBe(true);
    expect(await verifyPassword("orgbox-admin-1", a)).toBe(false);
    expect(await verifyPassword("x", "garbage")).toBe(false);
  });
});
