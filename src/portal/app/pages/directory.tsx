import {
  Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Field, Input, Link, MessageBar, MessageBarBody, Select, Switch, Table, TableBody, TableCell, TableHeader,
  TableHeaderCell, TableRow, Text,
} from "@fluentui/react-components";
import { useState, type ReactNode } from "react";
import { graph, graphList } from "../api.ts";
import { CopyField, ErrorBar, Loading, LoadState, ManageNav, PageTitle, useAccount, useLoad, usePortal, useTenantName } from "../ui.tsx";

interface ServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  accountEnabled: boolean;
  appRoleAssignmentRequired: boolean;
  appOwnerOrganizationId: string | null;
  appRoles: { id: string; displayName: string; value: string }[];
}

const HOME = { label: "Home", href: "#/" };

/** Enterprise applications: the tenant's service principals. */
export function EnterpriseApps(): ReactNode {
  const { info } = usePortal();
  const sps = useLoad(() => graphList<ServicePrincipal>(info, "/servicePrincipals?$top=100"), []);
  return (
    <div>
      <PageTitle title="Enterprise applications" trail={[HOME]} />
      <LoadState state={sps} />
      {sps.data && (
        <Table aria-label="All applications" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Name</TableHeaderCell>
              <TableHeaderCell>Object ID</TableHeaderCell>
              <TableHeaderCell>Application ID</TableHeaderCell>
              <TableHeaderCell>Assignment required</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {sps.data.map((sp) => (
              <TableRow key={sp.id}>
                <TableCell>
                  <Link href={`#/entra/enterprise/${sp.id}/properties`}>{sp.displayName}</Link>
                </TableCell>
                <TableCell>
                  <code>{sp.id}</code>
                </TableCell>
                <TableCell>
                  <code>{sp.appId}</code>
                </TableCell>
                <TableCell>{sp.appRoleAssignmentRequired ? "Yes" : "No"}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </div>
  );
}

const SP_TABS: readonly [string, string][] = [
  ["properties", "Properties"],
  ["users", "Users and groups"],
  ["permissions", "Permissions"],
];

export function EnterpriseAppDetail({ id, tab }: { id: string; tab: string }): ReactNode {
  const { info } = usePortal();
  const sp = useLoad(() => graph<ServicePrincipal>(info, "GET", `/servicePrincipals/${id}`), [id, tab]);
  const title = SP_TABS.find(([k]) => k === tab)?.[1] ?? "Properties";
  return (
    <div>
      <PageTitle title={sp.data ? `${sp.data.displayName} | ${title}` : title} trail={[HOME, { label: "Enterprise applications", href: "#/entra/enterprise" }]} />
      <div style={{ display: "flex", gap: 24 }}>
        <ManageNav tabs={SP_TABS} base={`#/entra/enterprise/${id}`} current={tab} />
        <section style={{ flex: 1, minWidth: 0 }} aria-label={title}>
          <LoadState state={sp} />
          {sp.data && tab === "properties" && <Properties sp={sp.data} reload={sp.reload} />}
          {sp.data && tab === "users" && <UsersAndGroups sp={sp.data} />}
          {sp.data && tab === "permissions" && <Permissions sp={sp.data} />}
        </section>
      </div>
    </div>
  );
}

function Properties({ sp, reload }: { sp: ServicePrincipal; reload: () => void }): ReactNode {
  const { info } = usePortal();
  const [enabled, setEnabled] = useState(sp.accountEnabled);
  const [required, setRequired] = useState(sp.appRoleAssignmentRequired);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  const save = async () => {
    setError(undefined);
    setSaved(false);
    try {
      await graph(info, "PATCH", `/servicePrincipals/${sp.id}`, { accountEnabled: enabled, appRoleAssignmentRequired: required });
      setSaved(true);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <ErrorBar error={error} />
      {saved && (
        <MessageBar intent="success">
          <MessageBarBody>Successfully updated {sp.displayName} properties.</MessageBarBody>
        </MessageBar>
      )}
      <Switch checked={enabled} onChange={(_e, d) => setEnabled(d.checked)} label={`Enabled for users to sign-in? ${enabled ? "Yes" : "No"}`} />
      <br />
      <Switch checked={required} onChange={(_e, d) => setRequired(d.checked)} label={`Assignment required? ${required ? "Yes" : "No"}`} />
      <CopyField label="Name" value={sp.displayName} />
      <CopyField label="Application ID" value={sp.appId} />
      <CopyField label="Object ID" value={sp.id} />
      <Button appearance="primary" onClick={() => void save()}>
        Save
      </Button>
    </div>
  );
}

interface Assignment {
  id: string;
  appRoleId: string;
  principalId: string;
  principalDisplayName: string;
  principalType: string;
}

const DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000";

function UsersAndGroups({ sp }: { sp: ServicePrincipal }): ReactNode {
  const { info } = usePortal();
  const assignments = useLoad(() => graphList<Assignment>(info, `/servicePrincipals/${sp.id}/appRoleAssignedTo`), [sp.id]);
  const [adding, setAdding] = useState(false);
  const [principal, setPrincipal] = useState("");
  const [role, setRole] = useState(DEFAULT_ACCESS);
  const [error, setError] = useState<unknown>();
  const candidates = useLoad(async () => {
    if (!adding) return [];
    const users = await graphList<{ id: string; displayName: string; userPrincipalName: string }>(info, "/users?$select=id,displayName,userPrincipalName&$top=100");
    const groups = await graphList<{ id: string; displayName: string }>(info, "/groups?$select=id,displayName&$top=100");
    return [...users.map((u) => ({ id: u.id, label: `${u.displayName} (${u.userPrincipalName}) · User` })), ...groups.map((g) => ({ id: g.id, label: `${g.displayName} · Group` }))];
  }, [adding]);
  const assign = async () => {
    setError(undefined);
    try {
      await graph(info, "POST", `/servicePrincipals/${sp.id}/appRoleAssignedTo`, { principalId: principal, resourceId: sp.id, appRoleId: role });
      setAdding(false);
      setPrincipal("");
      assignments.reload();
    } catch (e) {
      setAdding(false);
      setError(e);
    }
  };
  const remove = async (a: Assignment) => {
    setError(undefined);
    try {
      await graph(info, "DELETE", `/servicePrincipals/${sp.id}/appRoleAssignedTo/${a.id}`);
      assignments.reload();
    } catch (e) {
      setError(e);
    }
  };
  const roleName = (id: string) => (id === DEFAULT_ACCESS ? "Default Access" : (sp.appRoles.find((r) => r.id === id)?.displayName ?? id));
  return (
    <div>
      {sp.appRoleAssignmentRequired ? null : <Text as="p">Assignment is not required for this application: every user of the directory can sign in to it.</Text>}
      <Button appearance="primary" onClick={() => setAdding(true)}>
        Add user/group
      </Button>
      <ErrorBar error={error ?? assignments.error} />
      {assignments.data && (
        <Table aria-label="Users and groups" size="small" style={{ marginTop: 8 }}>
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Display name</TableHeaderCell>
              <TableHeaderCell>Object type</TableHeaderCell>
              <TableHeaderCell>Role assigned</TableHeaderCell>
              <TableHeaderCell>Remove</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {assignments.data.length === 0 && (
              <TableRow>
                <TableCell colSpan={4}>No application assignments found</TableCell>
              </TableRow>
            )}
            {assignments.data.map((a) => (
              <TableRow key={a.id}>
                <TableCell>{a.principalDisplayName}</TableCell>
                <TableCell>{a.principalType}</TableCell>
                <TableCell>{roleName(a.appRoleId)}</TableCell>
                <TableCell>
                  <Button size="small" aria-label={`Remove ${a.principalDisplayName}`} onClick={() => void remove(a)}>
                    Remove
                  </Button>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      <Dialog open={adding} onOpenChange={(_e, d) => setAdding(d.open)}>
        <DialogSurface>
          <DialogBody>
            <DialogTitle>Add Assignment</DialogTitle>
            <DialogContent>
              <ErrorBar error={candidates.error} />
              <Field label="Users and groups" style={{ marginBottom: 12 }}>
                <Select value={principal} onChange={(_e, d) => setPrincipal(d.value)}>
                  <option value="">None Selected</option>
                  {(candidates.data ?? []).map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.label}
                    </option>
                  ))}
                </Select>
              </Field>
              <Field label="Select a role">
                <Select value={role} onChange={(_e, d) => setRole(d.value)}>
                  <option value={DEFAULT_ACCESS}>Default Access</option>
                  {sp.appRoles.map((r) => (
                    <option key={r.id} value={r.id}>
                      {r.displayName}
                    </option>
                  ))}
                </Select>
              </Field>
            </DialogContent>
            <DialogActions>
              <Button appearance="primary" disabled={!principal} onClick={() => void assign()}>
                Assign
              </Button>
              <Button onClick={() => setAdding(false)}>Cancel</Button>
            </DialogActions>
          </DialogBody>
        </DialogSurface>
      </Dialog>
    </div>
  );
}

interface Grant {
  id: string;
  clientId: string;
  consentType: string;
  principalId: string | null;
  resourceId: string;
  scope: string;
}

/** Permissions: what this tenant granted the app (delegated grants and application permissions), each revocable. */
function Permissions({ sp }: { sp: ServicePrincipal }): ReactNode {
  const { info } = usePortal();
  const tenantName = useTenantName();
  const data = useLoad(async () => {
    const grants = await graphList<Grant>(info, `/servicePrincipals/${sp.id}/oauth2PermissionGrants`);
    const roles = await graphList<{ id: string; appRoleId: string; resourceId: string; resourceDisplayName: string }>(info, `/servicePrincipals/${sp.id}/appRoleAssignments`);
    const names = new Map<string, ServicePrincipal>();
    for (const id of new Set([...grants.map((g) => g.resourceId), ...roles.map((r) => r.resourceId)])) names.set(id, await graph<ServicePrincipal>(info, "GET", `/servicePrincipals/${id}`));
    return { grants, roles, names };
  }, [sp.id]);
  const [error, setError] = useState<unknown>();
  const revoke = async (path: string) => {
    setError(undefined);
    try {
      await graph(info, "DELETE", path);
      data.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <Text as="p">Applications can be granted permissions to your directory by an admin consenting to the application for all users, a user consenting for themselves, or an admin integrating an application and granting it permissions.</Text>
      <ErrorBar error={error ?? data.error} />
      {!data.data && !data.error && <Loading />}
      {data.data && (
        <Table aria-label="Permissions" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>API Name</TableHeaderCell>
              <TableHeaderCell>Claim value</TableHeaderCell>
              <TableHeaderCell>Type</TableHeaderCell>
              <TableHeaderCell>Granted through</TableHeaderCell>
              <TableHeaderCell>Revoke</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {data.data.grants.length + data.data.roles.length === 0 && (
              <TableRow>
                <TableCell colSpan={5}>No permissions have been granted to this application in {tenantName}.</TableCell>
              </TableRow>
            )}
            {data.data.grants.map((g) => (
              <TableRow key={g.id}>
                <TableCell>{data.data?.names.get(g.resourceId)?.displayName ?? g.resourceId}</TableCell>
                <TableCell>{g.scope}</TableCell>
                <TableCell>Delegated</TableCell>
                <TableCell>{g.consentType === "AllPrincipals" ? "Admin consent" : "User consent"}</TableCell>
                <TableCell>
                  <Button size="small" aria-label={`Revoke ${g.scope}`} onClick={() => void revoke(`/oauth2PermissionGrants/${g.id}`)}>
                    Revoke
                  </Button>
                </TableCell>
              </TableRow>
            ))}
            {data.data.roles.map((r) => {
              const value = data.data?.names.get(r.resourceId)?.appRoles.find((x) => x.id === r.appRoleId)?.value ?? r.appRoleId;
              return (
                <TableRow key={r.id}>
                  <TableCell>{r.resourceDisplayName}</TableCell>
                  <TableCell>{value}</TableCell>
                  <TableCell>Application</TableCell>
                  <TableCell>Admin consent</TableCell>
                  <TableCell>
                    <Button size="small" aria-label={`Revoke ${value}`} onClick={() => void revoke(`/servicePrincipals/${sp.id}/appRoleAssignments/${r.id}`)}>
                      Revoke
                    </Button>
                  </TableCell>
                </TableRow>
              );
            })}
          </TableBody>
        </Table>
      )}
    </div>
  );
}

interface User {
  id: string;
  displayName: string;
  userPrincipalName: string;
  accountEnabled: boolean;
}

/** Users: the directory's users, and New user. */
export function Users(): ReactNode {
  const { info } = usePortal();
  const users = useLoad(() => graphList<User>(info, "/users?$select=id,displayName,userPrincipalName,accountEnabled&$top=100"), []);
  const account = useAccount();
  const domain = info.tenants.find((t) => t.id === account.tenantId)?.defaultDomain ?? "";
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ name: "", displayName: "", password: "" });
  const [error, setError] = useState<unknown>();
  const create = async () => {
    setError(undefined);
    try {
      await graph(info, "POST", "/users", { accountEnabled: true, displayName: form.displayName, mailNickname: form.name, userPrincipalName: `${form.name}@${domain}`, passwordProfile: { password: form.password, forceChangePasswordNextSignIn: false } });
      setOpen(false);
      users.reload();
    } catch (e) {
      setOpen(false);
      setError(e);
    }
  };
  return (
    <div>
      <PageTitle title="Users" trail={[HOME]} />
      <Button appearance="primary" onClick={() => setOpen(true)}>
        New user
      </Button>
      <ErrorBar error={error ?? users.error} />
      {!users.data && !users.error && <Loading />}
      {users.data && (
        <Table aria-label="Users" size="small" style={{ marginTop: 8 }}>
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Display name</TableHeaderCell>
              <TableHeaderCell>User principal name</TableHeaderCell>
              <TableHeaderCell>Object ID</TableHeaderCell>
              <TableHeaderCell>Account enabled</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {users.data.map((u) => (
              <TableRow key={u.id}>
                <TableCell>{u.displayName}</TableCell>
                <TableCell>{u.userPrincipalName}</TableCell>
                <TableCell>
                  <code>{u.id}</code>
                </TableCell>
                <TableCell>{u.accountEnabled ? "Yes" : "No"}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      <Dialog open={open} onOpenChange={(_e, d) => setOpen(d.open)}>
        <DialogSurface>
          <DialogBody>
            <DialogTitle>Create new user</DialogTitle>
            <DialogContent>
              <Field label="User principal name" hint={`@${domain}`}>
                <Input value={form.name} onChange={(_e, d) => setForm({ ...form, name: d.value })} />
              </Field>
              <Field label="Display name">
                <Input value={form.displayName} onChange={(_e, d) => setForm({ ...form, displayName: d.value })} />
              </Field>
              <Field label="Password">
                <Input type="password" value={form.password} onChange={(_e, d) => setForm({ ...form, password: d.value })} />
              </Field>
            </DialogContent>
            <DialogActions>
              <Button appearance="primary" disabled={!form.name || !form.displayName || !form.password} onClick={() => void create()}>
                Create
              </Button>
              <Button onClick={() => setOpen(false)}>Cancel</Button>
            </DialogActions>
          </DialogBody>
        </DialogSurface>
      </Dialog>
    </div>
  );
}

/** Groups: the directory's security groups, and New group. */
export function Groups(): ReactNode {
  const { info } = usePortal();
  const groups = useLoad(() => graphList<{ id: string; displayName: string; description: string | null }>(info, "/groups?$select=id,displayName,description&$top=100"), []);
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>();
  const create = async () => {
    setError(undefined);
    try {
      await graph(info, "POST", "/groups", { displayName: name, mailEnabled: false, mailNickname: name.replace(/[^A-Za-z0-9]/g, "") || "group", securityEnabled: true });
      setName("");
      groups.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <PageTitle title="Groups" trail={[HOME]} />
      <div style={{ display: "flex", gap: 8, alignItems: "flex-end" }}>
        <Field label="Group name">
          <Input value={name} onChange={(_e, d) => setName(d.value)} />
        </Field>
        <Button appearance="primary" disabled={!name.trim()} onClick={() => void create()}>
          New group
        </Button>
      </div>
      <ErrorBar error={error ?? groups.error} />
      {!groups.data && !groups.error && <Loading />}
      {groups.data && (
        <Table aria-label="Groups" size="small" style={{ marginTop: 8 }}>
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Display name</TableHeaderCell>
              <TableHeaderCell>Object ID</TableHeaderCell>
              <TableHeaderCell>Group type</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {groups.data.length === 0 && (
              <TableRow>
                <TableCell colSpan={3}>No groups found</TableCell>
              </TableRow>
            )}
            {groups.data.map((g) => (
              <TableRow key={g.id}>
                <TableCell>{g.displayName}</TableCell>
                <TableCell>
                  <code>{g.id}</code>
                </TableCell>
                <TableCell>Security</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </div>
  );
}
