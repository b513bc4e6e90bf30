"""A username/password (ROPC) sign-in with Debian's python3-msal, unmodified, then WhoAmI.

msal first asks user realm discovery (GET https://{host}/common/userrealm/{username}, always on port
443) and takes the WS-Trust path only for a Federated answer.
Usage: ropc.py AUTHORITY CLIENT_ID USERNAME PASSWORD ORG_URL CA_PATH
Prints one JSON line: the token result (without the token) and WhoAmI's UserId.
"""
import json
import sys

import msal

from webapi import get_json

authority, client_id, username, password, org_url, ca = sys.argv[1:7]
app = msal.PublicClientApplication(client_id, authority=authority, instance_discovery=False, verify=ca)
result = app.acquire_token_by_username_password(username, password, scopes=[org_url + "/user_impersonation"])
out = {"token_type": result.get("token_type"), "error": result.get("error"), "error_codes": result.get("error_codes")}
if "access_token" in result:
    out["status"], body = get_json(org_url, "WhoAmI", result["access_token"], ca)
    out["userId"] = body["UserId"]
print(json.dumps(out))
