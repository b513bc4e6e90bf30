import { describe, expect, it } from "vitest";
import { clientInfo, idTokenClaims, MEMBER_USER_ROLE, pairwiseSubject, userAccessTokenClaims, type TokenUser } from "./claims.ts";

const user: TokenUser = { id: "u1", tenantId: "t1", userPrincipalName: "pat@contoso.example", displayName: "Pat Doe", givenName: "Pat", surname: "Doe", directoryRoles: ["role-a"] };

describe("user token claims", () => {
  it("pairwise sub is stable per (user, app), differs across apps, 43 chars", () => {
    expect(pairwiseSubject("u1", "app1")).toBe(pairwiseSubject("U1", "APP1"));
    expect(pairwiseSubject("u1", "app1")).not.toBe(pairwiseSubject("u1", "app2"));
    expect(pairwiseSubject("u1", "app1")).toHaveLength(43);
  });
  it("client_info is base64url {uid, utid}", () => {
    expect(JSON.parse(Buffer.from(clientInfo("u1", "t1"), "base64url").toString())).toEqual({ uid: "u1", utid: "t1" });
  });
  it("v1 delegated access token", () => {
    const c = userAccessTokenClaims({ audience: "https://org/", issuer: "https://x/sts/t1/", user, clientAppId: "app1", clientAuth: "0", scopes: ["a", "b"], amr: ["pwd"], ipAddress: "127.0.0.1", issuedAt: 1000, lifetimeSeconds: 3600 });
    expect(c).toMatchObject({ aud: "https://org/", iss: "https://x/sts/t1/", scp: "a b", appid: "app1", appidacr: "0", oid: "u1", tid: "t1", upn: "pat@contoso.example", unique_name: "pat@contoso.example", given_name: "Pat", family_name: "Doe", amr: ["pwd"], ipaddr: "127.0.0.1", ver: "1.0", iat: 1000, nbf: 1000, exp: 4600 });
    expect(c.wids).toEqual(["role-a", MEMBER_USER_ROLE]);
    expect(c.sub).toBe(pairwiseSubject("u1", "app1"));
    expect("idp" in c).toBe(false);
  });
  it("v2 delegated access token: azp/azpacr and preferred_username instead of the v1-only claims; groups when given", () => {
    const c = userAccessTokenClaims({ version: "2.0", audience: "api-app-id", issuer: "https://x/t1/v2.0", user, clientAppId: "app1", clientAuth: "1", scopes: ["Data.Read"], amr: ["pwd"], ipAddress: "127.0.0.1", groups: ["g1"], issuedAt: 1000, lifetimeSeconds: 3600 });
    expect(c).toMatchObject({ aud: "api-app-id", iss: "https://x/t1/v2.0", azp: "app1", azpacr: "1", preferred_username: "pat@contoso.example", scp: "Data.Read", ver: "2.0", groups: ["g1"], name: "Pat Doe" });
    for (const v1Only of ["appid", "appidacr", "upn", "unique_name", "puid", "acr", "amr", "ipaddr", "given_name", "family_name"]) expect(v1Only in c).toBe(false);
    const v1 = userAccessTokenClaims({ audience: "https://org/", issuer: "i", user, clientAppId: "app1", clientAuth: "0", scopes: [], amr: ["pwd"], ipAddress: undefined, issuedAt: 1, lifetimeSeconds: 1 });
    expect("groups" in v1).toBe(false);
    expect(idTokenClaims({ version: "2.0", issuer: "i", user, clientAppId: "app1", nonce: undefined, amr: [], ipAddress: undefined, groups: [], issuedAt: 1, lifetimeSeconds: 1 }).groups).toEqual([]);
  });
  it("id tokens: v2 has preferred_username, v1 has upn/unique_name/amr; nonce only when given", () => {
    const base = { issuer: "i", user, clientAppId: "app1", amr: ["pwd"], ipAddress: undefined, issuedAt: 10, lifetimeSeconds: 3600 };
    const v2 = idTokenClaims({ ...base, version: "2.0", nonce: "n" });
    expect(v2).toMatchObject({ aud: "app1", ver: "2.0", preferred_username: "pat@contoso.example", nonce: "n", oid: "u1", tid: "t1" });
    expect(v2.upn).toBeUndefined();
    const v1 = idTokenClaims({ ...base, version: "1.0", nonce: undefined });
    expect(v1).toMatchObject({ ver: "1.0", upn: "pat@contoso.example", unique_name: "pat@contoso.example", amr: ["pwd"] });
    expect(v1.nonce).toBeUndefined();
    expect(v1.preferred_username).toBeUndefined();
  });
});
