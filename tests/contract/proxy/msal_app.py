# An unmodified Python msal app with default settings (authority https://login.microsoftonline.com/{tenant},
# instance discovery on, default verify), then requests to the org's cloud URL. orgbox is reached only through
# the environment: HTTPS_PROXY and REQUESTS_CA_BUNDLE.
import base64, json, os, sys
import msal, requests

tenant, client_id, secret, org = (os.environ[k] for k in ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET", "ORG_URL"))
app = msal.ConfidentialClientApplication(client_id, client_credential=secret, authority=f"https://login.microsoftonline.com/{tenant}")
result = app.acquire_token_for_client(scopes=[f"{org}/.default"])
if "access_token" not in result:
    print(json.dumps({"error": result}))
    sys.exit(1)
token = result["access_token"]
payload = token.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
response = requests.get(f"{org}/api/data/v9.2/leads?$select=subject", headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
print(json.dumps({"iss": claims["iss"], "aud": claims["aud"], "status": response.status_code, "body": response.json()}))
