// An unmodified adal-node app (seed 004's shape): authority https://login.microsoftonline.com/{tenant} with
// authority validation on, resource = the org's cloud URL; then fetch() to the Web API.
import adal from "adal-node";

const { TENANT_ID, CLIENT_ID, CLIENT_SECRET, ORG_URL } = process.env;
const context = new adal.AuthenticationContext(`https://login.microsoftonline.com/${TENANT_ID}`, true);
const token = await new Promise((resolve, reject) =>
  context.acquireTokenWithClientCredentials(ORG_URL, CLIENT_ID, CLIENT_SECRET, (error, response) => (error ? reject(Object.assign(error, { response })) : resolve(response))),
);
const response = await fetch(`${ORG_URL}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${token.accessToken}`, accept: "application/json" } });
const claims = JSON.parse(Buffer.from(token.accessToken.split(".")[1], "base64url").toString());
process.stdout.write(JSON.stringify({ iss: claims.iss, aud: claims.aud, resource: token.resource, status: response.status, body: await response.json() }));
