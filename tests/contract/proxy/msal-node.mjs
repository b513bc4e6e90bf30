// An unmodified msal-node app written for the cloud: the default authority https://login.microsoftonline.com/{tenant}
// (no knownAuthorities, no custom network client), then fetch() to the org's cloud URL. orgbox is reached only
// through the environment: HTTPS_PROXY + NODE_USE_ENV_PROXY=1 + NODE_EXTRA_CA_CERTS (tests/contract/proxy-clients.test.ts).
import { ConfidentialClientApplication } from "@azure/msal-node";

const { TENANT_ID, CLIENT_ID, CLIENT_SECRET, ORG_URL } = process.env;
const app = new ConfidentialClientApplication({ auth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, authority: `https://login.microsoftonline.com/${TENANT_ID}` } });
const result = await app.acquireTokenByClientCredential({ scopes: [`${ORG_URL}/.default`] });
const response = await fetch(`${ORG_URL}/api/data/v9.2/leads?$select=subject`, { headers: { authorization: `Bearer ${result.accessToken}`, accept: "application/json" } });
const claims = JSON.parse(Buffer.from(result.accessToken.split(".")[1], "base64url").toString());
process.stdout.write(JSON.stringify({ iss: claims.iss, aud: claims.aud, status: response.status, body: await response.json() }));
