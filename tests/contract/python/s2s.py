"""Seed 004's server-to-server flow with Debian's python3-msal, unmodified.

Usage: s2s.py AUTHORITY CLIENT_ID CLIENT_SECRET ORG_URL CA_PATH
Prints one JSON line: the token result (without the token) and the Web API status and row count.
"""
import json
import sys
import urllib.request
import ssl

import msal

authority, client_id, secret, org_url, ca = sys.argv[1:6]
app = msal.ConfidentialClientApplication(
    client_id,
    client_credential=secret,
    authority=authority,
    instance_discovery=False,
    verify=ca,
)
result = app.acquire_token_for_client(scopes=[org_url + "/.default"])
out = {"token_type": result.get("token_type"), "error": result.get("error"), "error_codes": result.get("error_codes")}
if "access_token" in result:
    request = urllib.request.Request(
        org_url + "/api/data/v9.2/leads?$select=subject",
        headers={"Authorization": "Bearer " + result["access_token"], "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca)) as response:
        out["status"] = response.status
        out["rows"] = len(json.load(response)["value"])
print(json.dumps(out))
