import {
  Button, Checkbox, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Field, Input, MessageBar, MessageBarBody, Select, Switch, Tab, TabList, Table, TableBody, TableCell,
  TableHeader, TableHeaderCell, TableRow, Text, Textarea,
} from "@fluentui/react-components";
import { useEffect, useState, type ReactNode } from "react";
import { ApiError, graph, graphList } from "../api.ts";
import type { PortalInfo } from "../auth.ts";
import { CopyField, ErrorBar, Loading, LoadState, ManageNav, PageTitle, shortDate, useAccount, useLoad, usePortal, useTenantName } from "../ui.tsx";
import { audienceLabel, platformLabel, type GraphApplication, type Platform } from "./app-registrations.tsx";

const DYNAMICS_CRM = "00000007-0000-0000-c000-000000000000";
const MICROSOFT_GRAPH = "00000003-0000-0000-c000-000000000000";

const TABS: readonly [string, string][] = [
  ["overview", "Overview"],
  ["authentication", "Authentication"],
  ["credentials", "Certificates & secrets"],
  ["permissions", "API permissions"],
  ["expose", "Expose an API"],
  ["manifest", "Manifest"],
];

/** One app registration, with the blade's Manage menu. */
export function AppDetail({ objectId, tab }: { objectId: string; tab: string }): ReactNode {
  const { info } = usePortal();
  const app = useLoad(() => graph<GraphApplication>(info, "GET", `/applications/${objectId}`), [objectId, tab]);
  const title = TABS.find(([k]) => k === tab)?.[1] ?? "Overview";
  return (
    <div>
      <PageTitle
        title={app.data ? `${app.data.displayName} | ${title}` : title}
        trail={[
          { label: "Home", href: "#/" },
          { label: "App registrations", href: "#/entra/apps" },
        ]}
      />
      <div style={{ display: "flex", gap: 24 }}>
        <ManageNav tabs={TABS} base={`#/entra/apps/${objectId}`} current={tab} />
        <section style={{ flex: 1, minWidth: 0 }} aria-label={title}>
          <LoadState state={app} />
          {app.data && tab === "overview" && <Overview app={app.data} />}
          {app.data && tab === "authentication" && <Authentication app={app.data} reload={app.reload} />}
          {app.data && tab === "credentials" && <Credentials app={app.data} reload={app.reload} />}
          {app.data && tab === "permissions" && <ApiPermissions app={app.data} reload={app.reload} />}
          {app.data && tab === "expose" && <ExposeApi app={app.data} reload={app.reload} />}
          {app.data && tab === "manifest" && <Manifest app={app.data} reload={app.reload} />}
        </section>
      </div>
    </div>
  );
}

function Overview({ app }: { app: GraphApplication }): ReactNode {
  const { info } = usePortal();
  const account = useAccount();
  const [endpoints, setEndpoints] = useState(false);
  const t = account.tenantId;
  const base = info.identityUrl;
  const list: [string, string][] = [
    ["OAuth 2.0 authorization endpoint (v2)", `${base}/${t}/oauth2/v2.0/authorize`],
    ["OAuth 2.0 token endpoint (v2)", `${base}/${t}/oauth2/v2.0/token`],
    ["OAuth 2.0 authorization endpoint (v1)", `${base}/${t}/oauth2/authorize`],
    ["OAuth 2.0 token endpoint (v1)", `${base}/${t}/oauth2/token`],
    ["OpenID Connect metadata document", `${base}/${t}/v2.0/.well-known/openid-configuration`],
    ["Microsoft Graph API endpoint", info.graphUrl],
  ];
  return (
    <div>
      <div style={{ marginBottom: 12 }}>
        <Button onClick={() => setEndpoints(true)}>Endpoints</Button>
      </div>
      <h2 style={{ fontSize: 16 }}>Essentials</h2>
      <CopyField label="Display name" value={app.displayName} />
      <CopyField label="Application (client) ID" value={app.appId} />
      <CopyField label="Object ID" value={app.id} />
      <CopyField label="Directory (tenant) ID" value={account.tenantId} />
      <Text as="p">
        Supported account types: <strong>{audienceLabel(app.signInAudience)}</strong>
      </Text>
      <Text as="p">
        Client credentials: {app.passwordCredentials.length} secret(s), {app.keyCredentials.length} certificate(s) · Redirect URIs: {app.web.redirectUris.length} web, {app.spa.redirectUris.length} spa,{" "}
        {app.publicClient.redirectUris.length} public client · Application ID URI: {app.identifierUris[0] ?? "Add an Application ID URI"}
      </Text>
      <Dialog open={endpoints} onOpenChange={(_e, d) => setEndpoints(d.open)}>
        <DialogSurface style={{ maxWidth: 900 }}>
          <DialogBody>
            <DialogTitle>Endpoints</DialogTitle>
            <DialogContent>
              {list.map(([label, value]) => (
                <CopyField key={label} label={label} value={value} />
              ))}
            </DialogContent>
            <DialogActions>
              <Button onClick={() => setEndpoints(false)}>Close</Button>
            </DialogActions>
          </DialogBody>
        </DialogSurface>
      </Dialog>
    </div>
  );
}

function Saved({ text }: { text: string | undefined }): ReactNode {
  if (!text) return null;
  return (
    <MessageBar intent="success" style={{ margin: "8px 0" }}>
      <MessageBarBody>{text}</MessageBarBody>
    </MessageBar>
  );
}

function Authentication({ app, reload }: { app: GraphApplication; reload: () => void }): ReactNode {
  const { info } = usePortal();
  const [uris, setUris] = useState<Record<Platform, string[]>>({ web: app.web.redirectUris, spa: app.spa.redirectUris, publicClient: app.publicClient.redirectUris });
  const [publicFlows, setPublicFlows] = useState(app.isFallbackPublicClient === true);
  const [logoutUrl, setLogoutUrl] = useState(app.web.logoutUrl ?? "");
  const [platform, setPlatform] = useState<Platform>("web");
  const [uri, setUri] = useState("");
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const add = () => {
    if (!uri.trim()) return;
    setUris({ ...uris, [platform]: [...uris[platform], uri.trim()] });
    setUri("");
  };
  const save = async () => {
    setError(undefined);
    setSaved(undefined);
    try {
      const web: Record<string, unknown> = { redirectUris: uris.web };
      if (logoutUrl !== (app.web.logoutUrl ?? "")) web.logoutUrl = logoutUrl || null;
      await graph(info, "PATCH", `/applications/${app.id}`, { web, spa: { redirectUris: uris.spa }, publicClient: { redirectUris: uris.publicClient }, isFallbackPublicClient: publicFlows });
      setSaved("Successfully updated the application's authentication settings.");
      reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <ErrorBar error={error} />
      <Saved text={saved} />
      <h2 style={{ fontSize: 16 }}>Platform configurations</h2>
      {(Object.keys(uris) as Platform[]).map((p) =>
        uris[p].length === 0 ? null : (
          <section key={p} aria-label={platformLabel(p)} style={{ border: "1px solid #e0e0e0", padding: 12, marginBottom: 12 }}>
            <h3 style={{ fontSize: 14, margin: "0 0 8px" }}>{platformLabel(p)}</h3>
            <Text as="p">Redirect URIs</Text>
            <ul style={{ listStyle: "none", padding: 0 }}>
              {uris[p].map((u) => (
                <li key={u} style={{ display: "flex", gap: 8, alignItems: "center", marginBottom: 4 }}>
                  <code style={{ flex: 1 }}>{u}</code>
                  <Button size="small" aria-label={`Delete ${u}`} onClick={() => setUris({ ...uris, [p]: uris[p].filter((x) => x !== u) })}>
                    Delete
                  </Button>
                </li>
              ))}
            </ul>
          </section>
        ),
      )}
      <section aria-label="Add a platform" style={{ border: "1px solid #e0e0e0", padding: 12, marginBottom: 12 }}>
        <h3 style={{ fontSize: 14, margin: "0 0 8px" }}>Add a platform</h3>
        <div style={{ display: "flex", gap: 8, alignItems: "flex-end" }}>
          <Field label="Platform" style={{ width: 320 }}>
            <Select value={platform} onChange={(_e, d) => setPlatform(d.value as Platform)}>
              <option value="web">Web</option>
              <option value="spa">Single-page application (SPA)</option>
              <option value="publicClient">Public client/native (mobile &amp; desktop)</option>
            </Select>
          </Field>
          <Field label="Add URI" style={{ flex: 1 }}>
            <Input value={uri} placeholder="e.g. https://example.com/auth" onChange={(_e, d) => setUri(d.value)} onKeyDown={(e) => e.key === "Enter" && add()} />
          </Field>
          <Button onClick={add}>Configure</Button>
        </div>
      </section>
      <Field label="Front-channel logout URL" hint="This is where we send a request to have the application clear the user's session data." style={{ marginBottom: 12, maxWidth: 620 }}>
        <Input value={logoutUrl} placeholder="e.g. https://example.com/logout" onChange={(_e, d) => setLogoutUrl(d.value)} />
      </Field>
      <h2 style={{ fontSize: 16 }}>Advanced settings</h2>
      <Text as="p">Enable the following mobile and desktop flows: app collects plaintext password (ROPC), no keyboard (device code flow), integrated Windows authentication.</Text>
      <Switch checked={publicFlows} onChange={(_e, d) => setPublicFlows(d.checked)} label={`Allow public client flows: ${publicFlows ? "Yes" : "No"}`} />
      <div style={{ marginTop: 16 }}>
        <Button appearance="primary" onClick={() => void save()}>
          Save
        </Button>
      </div>
    </div>
  );
}

const EXPIRES: readonly [string, number][] = [
  ["Recommended: 180 days (6 months)", 180],
  ["90 days (3 months)", 90],
  ["365 days (12 months)", 365],
  ["545 days (18 months)", 545],
  ["730 days (24 months)", 730],
];

function Credentials({ app, reload }: { app: GraphApplication; reload: () => void }): ReactNode {
  const { info } = usePortal();
  const [tab, setTab] = useState<"secrets" | "certificates">("secrets");
  const [open, setOpen] = useState(false);
  const [description, setDescription] = useState("");
  const [days, setDays] = useState(180);
  const [created, setCreated] = useState<{ keyId: string; secretText: string }>();
  const [error, setError] = useState<unknown>();
  // The value is shown once: forget it when leaving the page.
  useEffect(() => () => setCreated(undefined), []);
  const addSecret = async () => {
    setError(undefined);
    try {
      const end = new Date(Date.now() + days * 86_400_000).toISOString();
      const result = await graph<{ keyId: string; secretText: string }>(info, "POST", `/applications/${app.id}/addPassword`, { passwordCredential: { displayName: description, endDateTime: end } });
      setCreated({ keyId: result.keyId, secretText: result.secretText });
      setOpen(false);
      setDescription("");
      reload();
    } catch (e) {
      setOpen(false);
      setError(e);
    }
  };
  const remove = async (keyId: string) => {
    setError(undefined);
    try {
      await graph(info, "POST", `/applications/${app.id}/removePassword`, { keyId });
      if (created?.keyId === keyId) setCreated(undefined);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <Text as="p">Credentials enable confidential applications to identify themselves to the authentication service when receiving tokens at a web addressable location (using an HTTPS scheme).</Text>
      <ErrorBar error={error} />
      <TabList selectedValue={tab} onTabSelect={(_e, d) => setTab(d.value as "secrets" | "certificates")} aria-label="Credential types">
        <Tab value="certificates">Certificates ({app.keyCredentials.length})</Tab>
        <Tab value="secrets">Client secrets ({app.passwordCredentials.length})</Tab>
      </TabList>
      {tab === "secrets" && (
        <div>
          <Text as="p">A secret string that the application uses to prove its identity when requesting a token. Also can be referred to as application password.</Text>
          <Button appearance="primary" onClick={() => setOpen(true)}>
            New client secret
          </Button>
          {created && (
            <MessageBar intent="warning" style={{ margin: "8px 0" }}>
              <MessageBarBody>Client secret values cannot be viewed, except for immediately after creation. Be sure to save the secret when created before leaving the page.</MessageBarBody>
            </MessageBar>
          )}
          {created && <CopyField label="Value" value={created.secretText} />}
          <Table aria-label="Client secrets" size="small" style={{ marginTop: 8 }}>
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Description</TableHeaderCell>
                <TableHeaderCell>Expires</TableHeaderCell>
                <TableHeaderCell>Value</TableHeaderCell>
                <TableHeaderCell>Secret ID</TableHeaderCell>
                <TableHeaderCell>Delete</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {app.passwordCredentials.length === 0 && (
                <TableRow>
                  <TableCell colSpan={5}>No client secrets have been created for this application.</TableCell>
                </TableRow>
              )}
              {app.passwordCredentials.map((p) => (
                <TableRow key={p.keyId}>
                  <TableCell>{p.displayName ?? ""}</TableCell>
                  <TableCell>{shortDate(p.endDateTime)}</TableCell>
                  <TableCell>
                    <code>{created?.keyId === p.keyId ? created.secretText : `${p.hint ?? ""}${"*".repeat(9)}`}</code>
                  </TableCell>
                  <TableCell>
                    <code>{p.keyId}</code>
                  </TableCell>
                  <TableCell>
                    <Button size="small" aria-label={`Delete client secret ${p.displayName ?? p.keyId}`} onClick={() => void remove(p.keyId)}>
                      Delete
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      {tab === "certificates" && <Certificates app={app} reload={reload} setError={setError} />}
      <Dialog open={open} onOpenChange={(_e, d) => setOpen(d.open)}>
        <DialogSurface>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void addSecret();
            }}
          >
            <DialogBody>
              <DialogTitle>Add a client secret</DialogTitle>
              <DialogContent>
                <Field label="Description" style={{ marginBottom: 12 }}>
                  <Input value={description} onChange={(_e, d) => setDescription(d.value)} />
                </Field>
                <Field label="Expires">
                  <Select value={String(days)} onChange={(_e, d) => setDays(Number(d.value))}>
                    {EXPIRES.map(([label, n]) => (
                      <option key={n} value={n}>
                        {label}
                      </option>
                    ))}
                  </Select>
                </Field>
              </DialogContent>
              <DialogActions>
                <Button appearance="primary" type="submit">
                  Add
                </Button>
                <Button onClick={() => setOpen(false)}>Cancel</Button>
              </DialogActions>
            </DialogBody>
          </form>
        </DialogSurface>
      </Dialog>
    </div>
  );
}

function Certificates({ app, reload, setError }: { app: GraphApplication; reload: () => void; setError: (e: unknown) => void }): ReactNode {
  const { info } = usePortal();
  const [pem, setPem] = useState("");
  const [description, setDescription] = useState("");
  const upload = async () => {
    setError(undefined);
    try {
      const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
      await graph(info, "POST", `/applications/${app.id}/addKey`, { keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: body, displayName: description || null }, passwordCredential: null, proof: "" });
      setPem("");
      reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <Text as="p">Certificates can be used as secrets to prove the application's identity when requesting a token. Also can be referred to as public keys.</Text>
      <div style={{ display: "flex", gap: 8, alignItems: "flex-end", margin: "8px 0" }}>
        <Field label="Upload certificate (PEM, .cer or .crt content)" style={{ flex: 1 }}>
          <Textarea value={pem} onChange={(_e, d) => setPem(d.value)} rows={3} />
        </Field>
        <Field label="Description">
          <Input value={description} onChange={(_e, d) => setDescription(d.value)} />
        </Field>
        <Button onClick={() => void upload()} disabled={!pem.trim()}>
          Add
        </Button>
      </div>
      <Table aria-label="Certificates" size="small">
        <TableHeader>
          <TableRow>
            <TableHeaderCell>Description</TableHeaderCell>
            <TableHeaderCell>Start date</TableHeaderCell>
            <TableHeaderCell>Expires</TableHeaderCell>
            <TableHeaderCell>Certificate ID</TableHeaderCell>
          </TableRow>
        </TableHeader>
        <TableBody>
          {app.keyCredentials.length === 0 && (
            <TableRow>
              <TableCell colSpan={4}>No certificates have been added for this application.</TableCell>
            </TableRow>
          )}
          {app.keyCredentials.map((k) => (
            <TableRow key={k.keyId}>
              <TableCell>{k.displayName ?? ""}</TableCell>
              <TableCell>{shortDate(k.startDateTime)}</TableCell>
              <TableCell>{shortDate(k.endDateTime)}</TableCell>
              <TableCell>
                <code>{k.keyId}</code>
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </div>
  );
}

interface GraphServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  appRoles: { id: string; value: string; displayName: string; description: string; allowedMemberTypes: string[] }[];
  oauth2PermissionScopes: { id: string; value: string; adminConsentDisplayName: string; adminConsentDescription: string; type: string }[];
}

interface Grant {
  id: string;
  clientId: string;
  consentType: string;
  principalId: string | null;
  resourceId: string;
  scope: string;
}

async function servicePrincipalOf(info: PortalInfo, appId: string): Promise<GraphServicePrincipal | undefined> {
  const found = await graph<{ value: GraphServicePrincipal[] }>(info, "GET", `/servicePrincipals?$filter=${encodeURIComponent(`appId eq '${appId}'`)}`);
  return found.value[0];
}

/** What the API permissions page shows: each configured permission and whether the tenant granted it. */
async function loadPermissions(info: PortalInfo, app: GraphApplication) {
  const clientSp = await servicePrincipalOf(info, app.appId);
  const grants = clientSp ? await graphList<Grant>(info, `/oauth2PermissionGrants?$filter=${encodeURIComponent(`clientId eq '${clientSp.id}'`)}`) : [];
  const assignments = clientSp ? await graphList<{ appRoleId: string; resourceId: string }>(info, `/servicePrincipals/${clientSp.id}/appRoleAssignments`) : [];
  const rows: { api: string; resourceAppId: string; resourceSp: GraphServicePrincipal | undefined; id: string; type: "Scope" | "Role"; value: string; description: string; adminConsentRequired: string; granted: boolean }[] = [];
  for (const required of app.requiredResourceAccess) {
    const resourceSp = await servicePrincipalOf(info, required.resourceAppId);
    for (const access of required.resourceAccess) {
      const scope = resourceSp?.oauth2PermissionScopes.find((s) => s.id === access.id);
      const role = resourceSp?.appRoles.find((r) => r.id === access.id);
      const value = access.type === "Scope" ? (scope?.value ?? access.id) : (role?.value ?? access.id);
      const granted =
        access.type === "Scope"
          ? grants.some((g) => g.consentType === "AllPrincipals" && g.resourceId === resourceSp?.id && g.scope.split(" ").includes(value))
          : assignments.some((a) => a.resourceId === resourceSp?.id && a.appRoleId === access.id);
      rows.push({
        api: resourceSp?.displayName ?? required.resourceAppId,
        resourceAppId: required.resourceAppId,
        resourceSp,
        id: access.id,
        type: access.type,
        value,
        description: access.type === "Scope" ? (scope?.adminConsentDisplayName ?? "") : (role?.displayName ?? ""),
        adminConsentRequired: access.type === "Role" || scope?.type === "Admin" ? "Yes" : "No",
        granted,
      });
    }
  }
  return { clientSp, grants, rows };
}

function ApiPermissions({ app, reload }: { app: GraphApplication; reload: () => void }): ReactNode {
  const { info } = usePortal();
  const tenantName = useTenantName();
  const state = useLoad(() => loadPermissions(info, app), [app]);
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();

  const grantAdminConsent = async () => {
    setError(undefined);
    setSaved(undefined);
    try {
      const clientSp = state.data?.clientSp ?? (await graph<GraphServicePrincipal>(info, "POST", "/servicePrincipals", { appId: app.appId }));
      const rows = state.data?.rows ?? [];
      const grants = state.data?.grants ?? [];
      const byResource = new Map<string, string[]>();
      for (const row of rows) {
        if (!row.resourceSp) throw new ApiError(404, "Request_ResourceNotFound", `${row.api} has no service principal in ${tenantName}.`);
        if (row.type === "Scope") byResource.set(row.resourceSp.id, [...(byResource.get(row.resourceSp.id) ?? []), row.value]);
        else if (!row.granted) await graph(info, "POST", `/servicePrincipals/${row.resourceSp.id}/appRoleAssignedTo`, { principalId: clientSp.id, resourceId: row.resourceSp.id, appRoleId: row.id });
      }
      for (const [resourceId, scopes] of byResource) {
        const existing = grants.find((g) => g.consentType === "AllPrincipals" && g.resourceId === resourceId);
        const scope = [...new Set([...(existing?.scope.split(" ").filter(Boolean) ?? []), ...scopes])].join(" ");
        if (existing) await graph(info, "PATCH", `/oauth2PermissionGrants/${existing.id}`, { scope });
        else await graph(info, "POST", "/oauth2PermissionGrants", { clientId: clientSp.id, consentType: "AllPrincipals", resourceId, scope });
      }
      setSaved(`Successfully granted admin consent for the requested permissions.`);
      state.reload();
    } catch (e) {
      setError(e);
    }
  };
  const removePermission = async (resourceAppId: string, id: string) => {
    setError(undefined);
    try {
      const next = app.requiredResourceAccess.map((r) => (r.resourceAppId === resourceAppId ? { ...r, resourceAccess: r.resourceAccess.filter((a) => a.id !== id) } : r)).filter((r) => r.resourceAccess.length > 0);
      await graph(info, "PATCH", `/applications/${app.id}`, { requiredResourceAccess: next });
      reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <Text as="p">
        Applications are authorized to call APIs when they are granted permissions by users/admins as part of the consent process. The list of configured permissions should include all the
        permissions the application needs.
      </Text>
      <ErrorBar error={error ?? state.error} />
      <Saved text={saved} />
      <h2 style={{ fontSize: 16 }}>Configured permissions</h2>
      <div style={{ display: "flex", gap: 8, marginBottom: 8 }}>
        <Button onClick={() => setAdding(true)}>Add a permission</Button>
        <Button appearance="primary" onClick={() => void grantAdminConsent()} disabled={!state.data || state.data.rows.length === 0}>
          Grant admin consent for {tenantName}
        </Button>
      </div>
      {!state.data && !state.error && <Loading />}
      {state.data && (
        <Table aria-label="Configured permissions" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>API / Permissions name</TableHeaderCell>
              <TableHeaderCell>Type</TableHeaderCell>
              <TableHeaderCell>Description</TableHeaderCell>
              <TableHeaderCell>Admin consent required</TableHeaderCell>
              <TableHeaderCell>Status</TableHeaderCell>
              <TableHeaderCell>Remove</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {state.data.rows.length === 0 && (
              <TableRow>
                <TableCell colSpan={6}>No permissions added</TableCell>
              </TableRow>
            )}
            {state.data.rows.map((r) => (
              <TableRow key={`${r.resourceAppId}/${r.id}`}>
                <TableCell>
                  {r.api} · <strong>{r.value}</strong>
                </TableCell>
                <TableCell>{r.type === "Scope" ? "Delegated" : "Application"}</TableCell>
                <TableCell>{r.description}</TableCell>
                <TableCell>{r.adminConsentRequired}</TableCell>
                <TableCell>{r.granted ? `Granted for ${tenantName}` : `Not granted for ${tenantName}`}</TableCell>
                <TableCell>
                  <Button size="small" aria-label={`Remove permission ${r.value}`} onClick={() => void removePermission(r.resourceAppId, r.id)}>
                    Remove
                  </Button>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {adding && (
        <RequestApiPermissions
          app={app}
          onClose={(changed) => {
            setAdding(false);
            if (changed) reload();
          }}
        />
      )}
    </div>
  );
}

/** "Request API permissions": Microsoft APIs → an API → Delegated / Application permissions → Add permissions. */
function RequestApiPermissions({ app, onClose }: { app: GraphApplication; onClose: (changed: boolean) => void }): ReactNode {
  const { info } = usePortal();
  const apis = useLoad(async () => {
    const found: GraphServicePrincipal[] = [];
    for (const id of [MICROSOFT_GRAPH, DYNAMICS_CRM]) {
      const sp = await servicePrincipalOf(info, id);
      if (sp) found.push(sp);
    }
    const mine = await graphList<GraphServicePrincipal>(info, "/servicePrincipals?$top=100");
    return { microsoft: found, mine: mine.filter((sp) => sp.appId !== MICROSOFT_GRAPH && sp.appId !== DYNAMICS_CRM && (sp.oauth2PermissionScopes.length > 0 || sp.appRoles.length > 0)) };
  }, []);
  const [api, setApi] = useState<GraphServicePrincipal>();
  const [kind, setKind] = useState<"Scope" | "Role">();
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>();
  const add = async () => {
    if (!api || !kind) return;
    try {
      const existing = app.requiredResourceAccess.find((r) => r.resourceAppId === api.appId);
      const more = [...picked].filter((id) => !existing?.resourceAccess.some((a) => a.id === id)).map((id) => ({ id, type: kind }));
      const next = existing
        ? app.requiredResourceAccess.map((r) => (r.resourceAppId === api.appId ? { ...r, resourceAccess: [...r.resourceAccess, ...more] } : r))
        : [...app.requiredResourceAccess, { resourceAppId: api.appId, resourceAccess: more }];
      await graph(info, "PATCH", `/applications/${app.id}`, { requiredResourceAccess: next });
      onClose(true);
    } catch (e) {
      setError(e);
    }
  };
  const permissions = api ? (kind === "Scope" ? api.oauth2PermissionScopes.map((s) => ({ id: s.id, value: s.value, text: s.adminConsentDisplayName })) : api.appRoles.filter((r) => r.allowedMemberTypes.includes("Application")).map((r) => ({ id: r.id, value: r.value, text: r.displayName }))) : [];
  return (
    <Dialog open onOpenChange={(_e, d) => !d.open && onClose(false)}>
      <DialogSurface style={{ maxWidth: 760 }}>
        <DialogBody>
          <DialogTitle>Request API permissions</DialogTitle>
          <DialogContent>
            <ErrorBar error={error ?? apis.error} />
            {!api && (
              <div>
                <h3 style={{ fontSize: 14 }}>Microsoft APIs</h3>
                {!apis.data && <Loading />}
                <div style={{ display: "flex", gap: 8, flexWrap: "wrap" }}>
                  {apis.data?.microsoft.map((sp) => (
                    <Button key={sp.appId} onClick={() => setApi(sp)} style={{ minWidth: 200, height: 64 }}>
                      {sp.displayName}
                    </Button>
                  ))}
                </div>
                <h3 style={{ fontSize: 14 }}>APIs my organization uses</h3>
                <div style={{ display: "flex", gap: 8, flexWrap: "wrap" }}>
                  {apis.data?.mine.length === 0 && <Text>No other API in this directory exposes permissions.</Text>}
                  {apis.data?.mine.map((sp) => (
                    <Button key={sp.appId} onClick={() => setApi(sp)}>
                      {sp.displayName}
                    </Button>
                  ))}
                </div>
              </div>
            )}
            {api && (
              <div>
                <Button appearance="subtle" onClick={() => (setApi(undefined), setKind(undefined), setPicked(new Set()))}>
                  &lt; All APIs
                </Button>
                <h3 style={{ fontSize: 16 }}>{api.displayName}</h3>
                <Text as="p">What type of permissions does your application require?</Text>
                <div style={{ display: "flex", gap: 8, marginBottom: 12 }}>
                  <Button appearance={kind === "Scope" ? "primary" : "secondary"} aria-pressed={kind === "Scope"} onClick={() => (setKind("Scope"), setPicked(new Set()))} style={{ height: 64 }}>
                    Delegated permissions
                  </Button>
                  <Button appearance={kind === "Role" ? "primary" : "secondary"} aria-pressed={kind === "Role"} onClick={() => (setKind("Role"), setPicked(new Set()))} style={{ height: 64 }}>
                    Application permissions
                  </Button>
                </div>
                {kind && permissions.length === 0 && <Text>{api.displayName} has no {kind === "Scope" ? "delegated" : "application"} permissions.</Text>}
                {kind && (
                  <fieldset style={{ border: "none", padding: 0 }}>
                    <legend style={{ fontWeight: 600 }}>Select permissions</legend>
                    {permissions.map((p) => (
                      <div key={p.id}>
                        <Checkbox
                          checked={picked.has(p.id)}
                          onChange={(_e, d) => {
                            const next = new Set(picked);
                            if (d.checked) next.add(p.id);
                            else next.delete(p.id);
                            setPicked(next);
                          }}
                          label={`${p.value} — ${p.text}`}
                        />
                      </div>
                    ))}
                  </fieldset>
                )}
              </div>
            )}
          </DialogContent>
          <DialogActions>
            <Button appearance="primary" disabled={!api || !kind || picked.size === 0} onClick={() => void add()}>
              Add permissions
            </Button>
            <Button onClick={() => onClose(false)}>Discard</Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}

function ExposeApi({ app, reload }: { app: GraphApplication; reload: () => void }): ReactNode {
  const { info } = usePortal();
  const [uri, setUri] = useState(app.identifierUris[0] ?? `api://${app.appId}`);
  const [scope, setScope] = useState({ value: "", adminConsentDisplayName: "", adminConsentDescription: "", type: "User" });
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const scopes = app.api?.oauth2PermissionScopes ?? [];
  const patch = async (body: Record<string, unknown>, text: string) => {
    setError(undefined);
    setSaved(undefined);
    try {
      await graph(info, "PATCH", `/applications/${app.id}`, body);
      setSaved(text);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <ErrorBar error={error} />
      <Saved text={saved} />
      <div style={{ display: "flex", gap: 8, alignItems: "flex-end", marginBottom: 16 }}>
        <Field label="Application ID URI" style={{ flex: 1, maxWidth: 620 }}>
          <Input value={uri} onChange={(_e, d) => setUri(d.value)} />
        </Field>
        <Button onClick={() => void patch({ identifierUris: uri ? [uri] : [] }, "Application ID URI saved.")}>Save</Button>
      </div>
      <h2 style={{ fontSize: 16 }}>Scopes defined by this API</h2>
      <Table aria-label="Scopes defined by this API" size="small">
        <TableHeader>
          <TableRow>
            <TableHeaderCell>Scopes</TableHeaderCell>
            <TableHeaderCell>Who can consent</TableHeaderCell>
            <TableHeaderCell>Admin consent display name</TableHeaderCell>
            <TableHeaderCell>State</TableHeaderCell>
          </TableRow>
        </TableHeader>
        <TableBody>
          {scopes.length === 0 && (
            <TableRow>
              <TableCell colSpan={4}>No scopes have been defined</TableCell>
            </TableRow>
          )}
          {scopes.map((s) => (
            <TableRow key={s.id}>
              <TableCell>
                <code>{`${app.identifierUris[0] ?? ""}/${s.value}`}</code>
              </TableCell>
              <TableCell>{s.type === "Admin" ? "Admins only" : "Admins and users"}</TableCell>
              <TableCell>{s.adminConsentDisplayName}</TableCell>
              <TableCell>{s.isEnabled === false ? "Disabled" : "Enabled"}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <section aria-label="Add a scope" style={{ border: "1px solid #e0e0e0", padding: 12, marginTop: 12, maxWidth: 700 }}>
        <h3 style={{ fontSize: 14, margin: 0 }}>Add a scope</h3>
        <Field label="Scope name">
          <Input value={scope.value} onChange={(_e, d) => setScope({ ...scope, value: d.value })} />
        </Field>
        <Field label="Who can consent?">
          <Select value={scope.type} onChange={(_e, d) => setScope({ ...scope, type: d.value })}>
            <option value="User">Admins and users</option>
            <option value="Admin">Admins only</option>
          </Select>
        </Field>
        <Field label="Admin consent display name">
          <Input value={scope.adminConsentDisplayName} onChange={(_e, d) => setScope({ ...scope, adminConsentDisplayName: d.value })} />
        </Field>
        <Field label="Admin consent description">
          <Input value={scope.adminConsentDescription} onChange={(_e, d) => setScope({ ...scope, adminConsentDescription: d.value })} />
        </Field>
        <Button
          style={{ marginTop: 8 }}
          disabled={!scope.value}
          onClick={() => void patch({ api: { oauth2PermissionScopes: [...scopes, { ...scope, id: crypto.randomUUID(), isEnabled: true }] } }, `Scope '${scope.value}' added.`)}
        >
          Add scope
        </Button>
      </section>
    </div>
  );
}

/** The manifest: the application as Graph returns it; Save sends the changed writable properties back as a PATCH. */
function Manifest({ app, reload }: { app: GraphApplication; reload: () => void }): ReactNode {
  const { info } = usePortal();
  const original = JSON.stringify(app, null, 2);
  const [text, setText] = useState(original);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const save = async () => {
    setError(undefined);
    setSaved(undefined);
    try {
      let edited: Record<string, unknown>;
      try {
        edited = JSON.parse(text) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`The manifest is not valid JSON: ${(e as Error).message}`, { cause: e });
      }
      const before = app as unknown as Record<string, unknown>;
      const patch: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(edited)) if (JSON.stringify(value) !== JSON.stringify(before[key])) patch[key] = value;
      if (Object.keys(patch).length === 0) return setSaved("No changes to save.");
      await graph(info, "PATCH", `/applications/${app.id}`, patch);
      setSaved(`Successfully updated ${app.displayName} (${Object.keys(patch).join(", ")}).`);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <Text as="p">The editor below allows you to update this application by directly modifying its JSON representation (the Microsoft Graph application object).</Text>
      <div style={{ display: "flex", gap: 8, margin: "8px 0" }}>
        <Button appearance="primary" onClick={() => void save()}>
          Save
        </Button>
        <Button onClick={() => setText(original)}>Discard</Button>
      </div>
      <ErrorBar error={error} />
      <Saved text={saved} />
      <Field label="Manifest (JSON)">
        <Textarea value={text} onChange={(_e, d) => setText(d.value)} rows={28} style={{ fontFamily: "Consolas, monospace", width: "100%" }} textarea={{ spellCheck: false }} />
      </Field>
    </div>
  );
}
