"""What the Python client scripts share: a Web API GET with a bearer token, trusting orgbox's CA."""
import json
import ssl
import urllib.request


def get_json(org_url, path, token, ca):
    """GET {org_url}/api/data/v9.2/{path}; returns (status, parsed JSON body)."""
    request = urllib.request.Request(
        org_url + "/api/data/v9.2/" + path,
        headers={"Authorization": "Bearer " + token, "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca)) as response:
        return response.status, json.load(response)
