// An unmodified @azure/identity app: ClientSecretCredential with its defaults (authority host
// https://login.microsoftonline.com, instance discovery on), then fetch() to the org's cloud URL.
import { ClientSecretCredential } from "@azure/identity";

const { TENANT_ID, CLIENT_ID, CLIENT_SECRET, ORG_URL } = process.env;
const credential = new ClientSecretCredential(TENANT_ID, CLIENT_ID, CLIENT_SECRET);
const token = await credential.getToken(`${ORG_URL}/.default`);
const response = await fetch(`${ORG_URL}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${token.token}`, accept: "application/json" } });
const claims = JSON.parse(Buffer.from(token.token.split(".")[1], "base64url").toString());
process.stdout.write(JSON.stringify({ iss: claims.iss, aud: claims.aud, status: response.status, body: await response.json() }));
