"""Seed 004's server-to-server flow with Debian's python3-msal, unmodified.

Usage: s2s.py AUTHORITY CLIENT_ID CLIENT_SECRET ORG_URL CA_PATH
Prints one JSON line: the token result (without the token) and the Web API status and row count.
"""
import json
import sys

import msal

from webapi import get_json

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
    out["status"], body = get_json(org_url, "leads?$select=subject", result["access_token"], ca)
    out["rows"] = len(body["value"])
print(json.dumps(out))
