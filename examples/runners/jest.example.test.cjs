// A Jest test against the orgbox that jest.global-setup.mjs started, through process.env.ORGBOX_*.
// CommonJS, as Jest runs test files without a transform (ES module tests need --experimental-vm-modules).
/* global test, expect -- Jest's globals */

test("gets an app-only token from a customer tenant and reads its org", async () => {
  const org = process.env.ORGBOX_ORG_URL; // the first org of the environment file: northwind
  const token = await fetch(`${process.env.ORGBOX_AUTHORITY}/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: "fab00000-0000-4000-8000-0000f00d0001", client_secret: "fabrikam-sync-secret-1", scope: `${org}/.default` }),
  }).then((r) => r.json());
  const accounts = await fetch(`${org}/api/data/v9.2/accounts?$select=name&$orderby=name`, { headers: { authorization: `Bearer ${token.access_token}` } }).then((r) => r.json());
  expect(accounts.value.map((a) => a.name)).toEqual(["Alfreds Futterkiste", "Northwind Traders HQ"]);
});
