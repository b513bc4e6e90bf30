import { sign as rsaSign } from "node:crypto";
import { decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey, loadSigningKey, type SigningKey } from "../../common/keys.ts";
import { TokenSigner } from "./signer.ts";
import { createTokenVerifier, TokenRejectedError } from "./verifier.ts";

const ISS = "https://localhost/sts/t/";
const AUD = "https://localhost/org/a";
const NOW = 1_800_000_000;

let key: SigningKey;
let other: SigningKey;
beforeAll(async () => {
  key = loadSigningKey(await generateSigningKey(NOW * 1000));
  other = loadSigningKey(await generateSigningKey(NOW * 1000));
});

const claims = (extra: Record<string, unknown> = {}) => ({ aud: AUD, iss: ISS, iat: NOW, nbf: NOW, exp: NOW + 3600, tid: "t", ...extra });
const signer = () => new TokenSigner({ signingKey: () => key });
const verifier = () => createTokenVerifier({ publicKey: (kid) => (kid === key.kid ? key.publicKey : undefined) }, () => NOW);
const expected = { issuers: [ISS], audiences: [AUD, `${AUD}/`] };

/** A token signed by jose with an arbitrary header and claims (negative cases). */
const joseToken = (header: Record<string, unknown>, body: Record<string, unknown>, by: SigningKey = key) =>
  new SignJWT(body).setProtectedHeader({ alg: "RS256", ...header }).sign(by.privateKey);

async function rejection(token: string): Promise<string> {
  try {
    await verifier()(token, expected);
  } catch (error) {
    expect(error).toBeInstanceOf(TokenRejectedError);
    return (error as TokenRejectedError).reason;
  }
  throw new Error("the token was accepted");
}

describe("TokenSigner (node:crypto compact JWS)", () => {
  it("signs v1.0 with typ, alg, x5t, kid and v2.0 with typ, alg, kid; jose verifies both", async () => {
    const v1 = await signer().sign(claims(), "1.0");
    const v2 = await signer().sign(claims(), "2.0");
    expect(decodeProtectedHeader(v1)).toEqual({ typ: "JWT", alg: "RS256", x5t: key.kid, kid: key.kid });
    expect(Object.keys(decodeProtectedHeader(v1))).toEqual(["typ", "alg", "x5t", "kid"]);
    expect(decodeProtectedHeader(v2)).toEqual({ typ: "JWT", alg: "RS256", kid: key.kid });
    for (const token of [v1, v2]) {
      const { payload } = await jwtVerify(token, key.publicKey, { algorithms: ["RS256"], currentDate: new Date(NOW * 1000) });
      expect(payload).toEqual(claims());
    }
  });

  it("produces the same bytes as jose for the same header and claims (RS256 is deterministic)", async () => {
    const mine = await signer().sign(claims(), "1.0");
    const theirs = await new SignJWT(claims()).setProtectedHeader({ typ: "JWT", alg: "RS256", x5t: key.x5t, kid: key.kid }).sign(key.privateKey);
    expect(mine).toBe(theirs);
  });
});

describe("createTokenVerifier (node:crypto)", () => {
  it("accepts its own tokens and jose's, returning the claims", async () => {
    expect(await verifier()(await signer().sign(claims(), "1.0"), expected)).toEqual(claims());
    expect(await verifier()(await joseToken({ kid: key.kid }, claims({ aud: [`${AUD}/`, "x"] })), expected)).toEqual(claims({ aud: [`${AUD}/`, "x"] }));
  });

  it("tolerates 60 s of skew on exp and nbf", async () => {
    await expect(verifier()(await joseToken({ kid: key.kid }, claims({ exp: NOW - 59 })), expected)).resolves.toBeTruthy();
    await expect(verifier()(await joseToken({ kid: key.kid }, claims({ nbf: NOW + 60 })), expected)).resolves.toBeTruthy();
  });

  it("refuses every bad token with a reason", async () => {
    const good = await signer().sign(claims(), "1.0");
    const [h, p, s] = good.split(".") as [string, string, string];
    expect(await rejection(`${h}.${p}.${Buffer.from("nope").toString("base64url")}`)).toBe("the token signature is invalid");
    expect(await rejection(`${h}.${Buffer.from(JSON.stringify(claims({ tid: "u" }))).toString("base64url")}.${s}`)).toBe("the token signature is invalid");
    expect(await rejection(`${h}.${p}`)).toBe("the token is malformed");
    expect(await rejection(`${good}.x`)).toBe("the token is malformed");
    expect(await rejection(`${h}.${p}.`)).toBe("the token is malformed");
    expect(await rejection("not a token")).toBe("the token is malformed");
    expect(await rejection(`${Buffer.from("[1]").toString("base64url")}.${p}.${s}`)).toBe("the token is malformed");
    expect(await rejection(`${h}.${p}.${s}!`)).toBe("the token is malformed");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", kid: key.kid })).toString("base64url")}.${p}.`;
    expect(await rejection(none)).toBe("the token is malformed");
    const hs = `${Buffer.from(JSON.stringify({ alg: "HS256", kid: key.kid })).toString("base64url")}.${p}`;
    expect(await rejection(`${hs}.${rsaSign("sha256", Buffer.from(hs), key.privateKey).toString("base64url")}`)).toBe("the token is malformed");
    const crit = `${Buffer.from(JSON.stringify({ alg: "RS256", kid: key.kid, crit: ["x"], x: 1 })).toString("base64url")}.${p}`;
    expect(await rejection(`${crit}.${rsaSign("sha256", Buffer.from(crit), key.privateKey).toString("base64url")}`)).toBe("the token is malformed");
    expect(await rejection(await joseToken({ kid: other.kid }, claims(), other))).toBe(`the signing key '${other.kid}' is not published by the issuer`);
    expect(await rejection(await joseToken({}, claims()))).toBe("the signing key '' is not published by the issuer");
    expect(await rejection(await joseToken({ kid: key.kid }, claims(), other))).toBe("the token signature is invalid");
    expect(await rejection(await joseToken({ kid: key.kid }, claims({ exp: NOW - 61 })))).toBe("the token is expired");
    expect(await rejection(await joseToken({ kid: key.kid }, claims({ exp: "soon" })))).toBe("the token's 'exp' claim is not valid here");
    expect(await rejection(await joseToken({ kid: key.kid }, claims({ nbf: NOW + 61 })))).toBe("the token's 'nbf' claim is not valid here");
    expect(await rejection(await joseToken({ kid: key.kid }, claims({ iss: "https://elsewhere/" })))).toMatch(/^the token's 'iss' claim is not valid here: it is "https:\/\/elsewhere\/"; accepted: "/);
    expect(await rejection(await joseToken({ kid: key.kid }, claims({ aud: "https://elsewhere" })))).toMatch(/^the token's 'aud' claim is not valid here: it is "https:\/\/elsewhere"; accepted: "/);
    expect(await rejection(await joseToken({ kid: key.kid }, claims({ aud: [] })))).toMatch(/^the token's 'aud' claim is not valid here: it is \[\]; accepted: /);
    expect(await rejection(await joseToken({ kid: key.kid }, claims({ iat: "x" })))).toBe("the token's 'iat' claim is not valid here");
    for (const claim of ["exp", "iat", "tid", "iss", "aud"]) {
      expect(await rejection(await joseToken({ kid: key.kid }, claims({ [claim]: undefined })))).toBe(`the token's '${claim}' claim is not valid here`);
    }
  });
});

describe("createTokenVerifier memo of verified signatures", () => {
  it("re-checks the claims and the key on every call for a token verified before", async () => {
    let published = true;
    let now = NOW;
    const verify = createTokenVerifier({ publicKey: (kid) => (published && kid === key.kid ? key.publicKey : undefined) }, () => now);
    const token = await signer().sign(claims(), "1.0");
    const first = await verify(token, expected);
    first.tid = "changed by a caller";
    expect((await verify(token, expected)).tid).toBe("t");
    await expect(verify(token, { issuers: ["https://other/"], audiences: expected.audiences })).rejects.toThrow(`the token's 'iss' claim is not valid here: it is ${JSON.stringify(expected.issuers[0])}; accepted: "https://other/"`);
    await expect(verify(token, { issuers: expected.issuers, audiences: ["https://other"] })).rejects.toThrow(`the token's 'aud' claim is not valid here: it is ${JSON.stringify(expected.audiences[0])}; accepted: "https://other"`);
    now = NOW + 3600 + 61;
    await expect(verify(token, expected)).rejects.toThrow("the token is expired");
    now = NOW;
    published = false;
    await expect(verify(token, expected)).rejects.toThrow(`the signing key '${key.kid}' is not published by the issuer`);
  });
});
