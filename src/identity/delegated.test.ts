import { describe, expect, it } from "vitest";
import { AadError } from "./errors.ts";
import { BARE_SCOPE_RESOURCE, parseScope } from "./delegated.ts";

describe("parseScope", () => {
  it("splits OIDC scopes from one resource's permissions, at the last slash", () => {
    expect(parseScope("https://h/org/contoso/user_impersonation openid profile offline_access")).toEqual({ oidc: new Set(["openid", "profile", "offline_access"]), resource: "https://h/org/contoso", permissions: ["user_impersonation"] });
    expect(parseScope("https://h/org/contoso//user_impersonation").resource).toBe("https://h/org/contoso/");
    expect(parseScope("https://h/org/contoso/.default").permissions).toEqual([".default"]);
  });
  it("bare and OIDC-only scopes mean Microsoft Graph", () => {
    expect(parseScope("User.Read openid")).toMatchObject({ resource: BARE_SCOPE_RESOURCE, permissions: ["User.Read"] });
    expect(parseScope("openid profile")).toMatchObject({ resource: "00000003-0000-0000-c000-000000000000", permissions: [] });
    expect(parseScope("User.Read https://graph.microsoft.com/Mail.Read").permissions).toEqual(["User.Read", "Mail.Read"]);
  });
  it("two resources → AADSTS28000", () => {
    expect(() => parseScope("https://a/x https://b/y")).toThrow(AadError);
    try {
      parseScope("https://a/x https://b/y");
    } catch (e) {
      expect((e as AadError).code).toBe(28000);
    }
  });
});
