import { Button, Card, Table, TableBody, TableCell, TableHeader, TableHeaderCell, TableRow, Text } from "@fluentui/react-components";
import type { ReactNode } from "react";
import { signIn } from "../auth.ts";
import { CopyField, usePortal } from "../ui.tsx";

const SECTION = { marginBottom: 20, padding: 16, maxWidth: 1100 } as const;

/** The README's client recipes (README.md, "Client recipes"); the README is the one source of the code. */
const RECIPES: readonly { title: string; anchor: string }[] = [
  { title: "MSAL Node: server to server (client credentials)", anchor: "msal-node-server-to-server-client-credentials" },
  { title: "Plain fetch: the v1 endpoint (seed 001 style)", anchor: "plain-fetch-the-v1-endpoint-seed-001-style" },
  { title: "@azure/identity", anchor: "azureidentity" },
  { title: "Microsoft Graph (the directory API)", anchor: "microsoft-graph-the-directory-api" },
];

/** The landing page: what is running and how to reach it, for anyone who opens orgbox's URL. */
export function Landing(): ReactNode {
  const { info, account } = usePortal();
  return (
    <div>
      <h1 style={{ fontSize: 28, fontWeight: 600, margin: "0 0 4px" }}>orgbox</h1>
      <Text as="p" style={{ marginBottom: 16, display: "block" }}>
        A Dynamics 365 organization and its Microsoft Entra ID tenant, in a box. Sign in to manage app registrations, enterprise applications, users, groups and each
        environment's application users and security roles, as in the Azure portal and the Power Platform admin center.
      </Text>
      <Card style={SECTION}>
        <h2 style={{ fontSize: 18, margin: 0 }}>Identity</h2>
        <CopyField label="Identity URL (authority host)" value={info.identityUrl} />
        <CopyField label="Microsoft Graph API" value={info.graphUrl} />
      </Card>
      <Card style={SECTION}>
        <h2 style={{ fontSize: 18, margin: 0 }}>Tenants</h2>
        <Table aria-label="Tenants" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Name</TableHeaderCell>
              <TableHeaderCell>Primary domain</TableHeaderCell>
              <TableHeaderCell>Tenant ID</TableHeaderCell>
              <TableHeaderCell>Authority</TableHeaderCell>
              <TableHeaderCell>Portal</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {info.tenants.map((t) => (
              <TableRow key={t.id}>
                <TableCell>{t.displayName}</TableCell>
                <TableCell>{t.defaultDomain}</TableCell>
                <TableCell>
                  <code style={{ wordBreak: "break-all" }}>{t.id}</code>
                </TableCell>
                <TableCell>
                  <code style={{ wordBreak: "break-all" }}>{t.authority}</code>
                </TableCell>
                <TableCell>
                  {account?.tenantId === t.id ? (
                    <Text>Signed in</Text>
                  ) : (
                    <Button appearance="primary" size="small" aria-label={`Sign in to ${t.displayName}`} onClick={() => void signIn(info, t.id, "/")}>
                      Sign in
                    </Button>
                  )}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </Card>
      <Card style={SECTION}>
        <h2 style={{ fontSize: 18, margin: 0 }}>Environments (Dataverse orgs)</h2>
        <Table aria-label="Environments" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Environment</TableHeaderCell>
              <TableHeaderCell>Environment URL</TableHeaderCell>
              <TableHeaderCell>Web API endpoint</TableHeaderCell>
              <TableHeaderCell>Tenant</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {info.orgs.map((o) => (
              <TableRow key={o.name}>
                <TableCell>{o.displayName}</TableCell>
                <TableCell>
                  <code style={{ wordBreak: "break-all" }}>{o.url}</code>
                </TableCell>
                <TableCell>
                  <code style={{ wordBreak: "break-all" }}>{o.webApiUrl}</code>
                </TableCell>
                <TableCell>{info.tenants.find((t) => t.id === o.tenantId)?.defaultDomain ?? o.tenantId}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </Card>
      {info.demo && (
        <Card style={SECTION}>
          <h2 style={{ fontSize: 18, margin: 0 }}>Demo credentials</h2>
          <Text as="p">Well-known values, the same on every machine. Never use them for anything real.</Text>
          <CopyField label="Admin user (Global Administrator)" value={info.demo.username} />
          <CopyField label="Admin password" value={info.demo.password} />
          <CopyField label="Demo app client ID" value={info.demo.clientId} />
          <CopyField label="Demo app client secret" value={info.demo.clientSecret} />
        </Card>
      )}
      <Card style={SECTION}>
        <h2 style={{ fontSize: 18, margin: 0 }}>Trust the local CA</h2>
        {info.ca ? (
          <>
            <Text as="p">
              orgbox serves HTTPS with a certificate from its own local certificate authority. <a href={info.ca.downloadUrl}>Download the CA certificate (orgbox-ca.pem)</a> or use
              the file on this machine:
            </Text>
            <CopyField label="CA certificate path" value={info.ca.path} />
            <Table aria-label="How to trust the CA" size="small">
              <TableHeader>
                <TableRow>
                  <TableHeaderCell>Client stack</TableHeaderCell>
                  <TableHeaderCell>How to trust the CA</TableHeaderCell>
                </TableRow>
              </TableHeader>
              <TableBody>
                <TableRow>
                  <TableCell>Node.js (MSAL, @azure/identity, fetch)</TableCell>
                  <TableCell>
                    <code style={{ wordBreak: "break-all" }}>export NODE_EXTRA_CA_CERTS={info.ca.path}</code>
                  </TableCell>
                </TableRow>
                <TableRow>
                  <TableCell>Python (requests, msal)</TableCell>
                  <TableCell>
                    <code style={{ wordBreak: "break-all" }}>export REQUESTS_CA_BUNDLE={info.ca.path}</code>
                  </TableCell>
                </TableRow>
                <TableRow>
                  <TableCell>curl</TableCell>
                  <TableCell>
                    <code style={{ wordBreak: "break-all" }}>curl --cacert {info.ca.path} …</code>
                  </TableCell>
                </TableRow>
              </TableBody>
            </Table>
          </>
        ) : (
          <Text as="p">orgbox serves plain HTTP (--http): there is no CA to trust.</Text>
        )}
      </Card>
      <Card style={SECTION}>
        <h2 style={{ fontSize: 18, margin: 0 }}>Client recipes</h2>
        <Text as="p">Each recipe in README.md runs as printed, with the values above filled in:</Text>
        <ul>
          {RECIPES.map((r) => (
            <li key={r.anchor}>
              <a href={`/_orgbox/readme.md#${r.anchor}`}>{r.title}</a> (README.md § Client recipes)
            </li>
          ))}
        </ul>
      </Card>
    </div>
  );
}
