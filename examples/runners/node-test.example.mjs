// node:test: start orgbox in before(), close it in after().
//   node --test examples/runners/node-test.example.mjs   (Node 22.13 or later, in a project with orgbox
//   installed; in the orgbox repository, `npx node --conditions=orgbox-source --test …` runs it on the
//   sources with the pinned Node 24)
// Node reads NODE_EXTRA_CA_CERTS only at process start, so this in-process example passes
// orgbox's CA to node:https itself (with NODE_EXTRA_CA_CERTS set beforehand, plain fetch works too).
import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startOrgbox } from "orgbox";

const ENVIRONMENT = fileURLToPath(new URL("../isv-multitenant.orgbox.yaml", import.meta.url));
let orgbox;

before(async () => {
  orgbox = await startOrgbox({ config: ENVIRONMENT });
});
after(async () => {
  await orgbox?.close();
});

/** HTTPS request trusting orgbox's CA; resolves to the parsed JSON body. */
function call(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca: orgbox.caCert }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve(JSON.parse(text)));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("the ISV app reads a customer's org", async () => {
  const org = orgbox.orgUrlOf("tailspin");
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: "fab00000-0000-4000-8000-0000f00d0001", client_secret: "fabrikam-sync-secret-1", scope: `${org}/.default` }).toString();
  const token = await call(`${orgbox.url}/tailspin.onmicrosoft.com/oauth2/v2.0/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
  const who = await call(`${org}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${token.access_token}` } });
  assert.equal(who.UserId, "7a150000-0000-4000-8000-00000000d003");
  await orgbox.reset();
});
