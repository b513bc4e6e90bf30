import { Button, Field, Input, Link, Radio, RadioGroup, Select, Tab, TabList, Table, TableBody, TableCell, TableHeader, TableHeaderCell, TableRow, Text } from "@fluentui/react-components";
import { useState, type ReactNode } from "react";
import { graph, graphList } from "../api.ts";
import { ErrorBar, LoadState, navigate, PageTitle, shortDate, useAccount, useLoad, usePortal, useTenantName } from "../ui.tsx";

/** The Graph `application` fields the pages read. */
export interface GraphApplication {
  id: string;
  appId: string;
  displayName: string;
  createdDateTime: string | null;
  signInAudience: string;
  publisherDomain: string;
  identifierUris: string[];
  isFallbackPublicClient: boolean | null;
  web: { redirectUris: string[]; logoutUrl?: string | null };
  spa: { redirectUris: string[] };
  publicClient: { redirectUris: string[] };
  passwordCredentials: { keyId: string; displayName: string | null; hint: string | null; startDateTime: string; endDateTime: string }[];
  keyCredentials: { keyId: string; displayName: string | null; endDateTime: string; startDateTime: string; customKeyIdentifier?: string | null }[];
  requiredResourceAccess: { resourceAppId: string; resourceAccess: { id: string; type: "Scope" | "Role" }[] }[];
  api?: { oauth2PermissionScopes?: { id: string; value: string; adminConsentDisplayName: string; adminConsentDescription: string; type: string; isEnabled?: boolean }[]; requestedAccessTokenVersion?: number | null };
}

const AUDIENCES: Record<string, string> = {
  AzureADMyOrg: "My organization only",
  AzureADMultipleOrgs: "Multiple organizations",
};

export const audienceLabel = (a: string): string => AUDIENCES[a] ?? a;

/** App registrations: All applications / Owned applications. */
export function AppRegistrations(): ReactNode {
  const { info } = usePortal();
  const account = useAccount();
  const [tab, setTab] = useState<"all" | "owned">("all");
  const apps = useLoad(async () => {
    const all = await graphList<GraphApplication>(info, "/applications?$top=100&$orderby=displayName");
    if (tab === "all") return all;
    const owned: GraphApplication[] = [];
    for (const app of all) {
      const owners = await graph<{ value: { id: string }[] }>(info, "GET", `/applications/${app.id}/owners`);
      if (owners.value.some((o) => o.id === account.objectId)) owned.push(app);
    }
    return owned;
  }, [tab]);
  return (
    <div>
      <PageTitle title="App registrations" trail={[{ label: "Home", href: "#/" }]} />
      <div style={{ display: "flex", gap: 8, marginBottom: 8 }}>
        <Button appearance="primary" onClick={() => navigate("/entra/apps/new")}>
          New registration
        </Button>
        <Button onClick={apps.reload}>Refresh</Button>
      </div>
      <TabList selectedValue={tab} onTabSelect={(_e, d) => setTab(d.value as "all" | "owned")} aria-label="Application lists">
        <Tab value="all">All applications</Tab>
        <Tab value="owned">Owned applications</Tab>
      </TabList>
      <LoadState state={apps} />
      {apps.data && (
        <Table aria-label={tab === "all" ? "All applications" : "Owned applications"} size="small" style={{ marginTop: 8 }}>
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Display name</TableHeaderCell>
              <TableHeaderCell>Application (client) ID</TableHeaderCell>
              <TableHeaderCell>Created on</TableHeaderCell>
              <TableHeaderCell>Certificates &amp; secrets</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {apps.data.length === 0 && (
              <TableRow>
                <TableCell colSpan={4}>{tab === "all" ? "No applications in this directory." : "You do not own any application."}</TableCell>
              </TableRow>
            )}
            {apps.data.map((a) => (
              <TableRow key={a.id}>
                <TableCell>
                  <Link href={`#/entra/apps/${a.id}/overview`}>{a.displayName}</Link>
                </TableCell>
                <TableCell>
                  <code>{a.appId}</code>
                </TableCell>
                <TableCell>{shortDate(a.createdDateTime)}</TableCell>
                <TableCell>{credentialStatus(a)}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </div>
  );
}

function credentialStatus(a: GraphApplication): string {
  const ends = [...a.passwordCredentials, ...a.keyCredentials].map((c) => Date.parse(c.endDateTime));
  if (ends.length === 0) return "";
  return ends.some((e) => e > Date.now()) ? "Current" : "Expired";
}

const PLATFORMS = { web: "Web", spa: "Single-page application (SPA)", publicClient: "Public client/native (mobile & desktop)" } as const;
export type Platform = keyof typeof PLATFORMS;
export const platformLabel = (p: Platform): string => PLATFORMS[p];

/** Register an application (New registration). Creates the app, then its service principal, as the portal does. */
export function NewRegistration(): ReactNode {
  const { info } = usePortal();
  const tenantName = useTenantName();
  const [name, setName] = useState("");
  const [audience, setAudience] = useState("AzureADMyOrg");
  const [platform, setPlatform] = useState<Platform | "">("");
  const [uri, setUri] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const register = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const body: Record<string, unknown> = { displayName: name.trim(), signInAudience: audience };
      if (platform && uri.trim()) body[platform] = { redirectUris: [uri.trim()] };
      const app = await graph<GraphApplication>(info, "POST", "/applications", body);
      await graph(info, "POST", "/servicePrincipals", { appId: app.appId });
      navigate(`/entra/apps/${app.id}/overview`);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void register();
      }}
      style={{ maxWidth: 760 }}
    >
      <PageTitle title="Register an application" trail={[{ label: "Home", href: "#/" }, { label: "App registrations", href: "#/entra/apps" }]} />
      <ErrorBar error={error} />
      <Field label="Name" required hint="The user-facing display name for this application (this can be changed later)." style={{ marginBottom: 16 }}>
        <Input value={name} onChange={(_e, d) => setName(d.value)} />
      </Field>
      <Field label="Supported account types" style={{ marginBottom: 16 }}>
        <RadioGroup value={audience} onChange={(_e, d) => setAudience(d.value)}>
          <Radio value="AzureADMyOrg" label={`Accounts in this organizational directory only (${tenantName} only - Single tenant)`} />
          <Radio value="AzureADMultipleOrgs" label="Accounts in any organizational directory (Any Microsoft Entra ID tenant - Multitenant)" />
        </RadioGroup>
      </Field>
      <Text as="p" weight="semibold" style={{ display: "block" }}>
        Redirect URI (optional)
      </Text>
      <Text as="p" style={{ display: "block", marginBottom: 8 }}>
        We'll return the authentication response to this URI after successfully authenticating the user. Providing this now is optional and it can be changed later.
      </Text>
      <div style={{ display: "flex", gap: 8, marginBottom: 24 }}>
        <Field label="Select a platform" style={{ width: 320 }}>
          <Select value={platform} onChange={(_e, d) => setPlatform(d.value as Platform | "")}>
            <option value="">Select a platform</option>
            <option value="web">Web</option>
            <option value="spa">Single-page application (SPA)</option>
            <option value="publicClient">Public client/native (mobile &amp; desktop)</option>
          </Select>
        </Field>
        <Field label="Redirect URI" style={{ flex: 1 }}>
          <Input value={uri} placeholder="e.g. https://example.com/auth" onChange={(_e, d) => setUri(d.value)} />
        </Field>
      </div>
      <Button appearance="primary" type="submit" disabled={busy || name.trim() === ""}>
        Register
      </Button>
    </form>
  );
}

export { AUDIENCES };
