import {
  Button, Checkbox, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, Field, Input, Link, MessageBar, MessageBarBody, Select, Table, TableBody, TableCell, TableHeader,
  TableHeaderCell, TableRow, Text,
} from "@fluentui/react-components";
import { useMemo, useState, type ReactNode } from "react";
import { graphList, webApi } from "../api.ts";
import type { PortalInfo } from "../auth.ts";
import { ErrorBar, Loading, LoadState, navigate, PageTitle, useLoad, usePortal } from "../ui.tsx";

type Org = PortalInfo["orgs"][number];
type Row = Record<string, unknown>;

/** A Web API collection, following `@odata.nextLink` (Dataverse pages by 5,000). */
async function list(info: PortalInfo, org: Org, path: string): Promise<Row[]> {
  const rows: Row[] = [];
  let next: string | undefined = path;
  while (next) {
    const page: { value: Row[]; "@odata.nextLink"?: string } = await webApi(info, org.url, "GET", next);
    rows.push(...page.value);
    const link = page["@odata.nextLink"];
    next = link ? link.slice(`${org.url}/api/data/v9.2`.length) : undefined;
  }
  return rows;
}

const SETTINGS: readonly [string, string][] = [
  ["appusers", "Application users"],
  ["users", "Users"],
  ["roles", "Security roles"],
  ["businessunits", "Business units"],
  ["teams", "Teams"],
  ["tables", "Tables"],
];

/** Power Platform admin center, per environment: Settings → Users + permissions, and Tables. */
export function PowerPlatform({ org: name, route }: { org: string; route: string[] }): ReactNode {
  const { info } = usePortal();
  const org = info.orgs.find((o) => o.name === name);
  if (!org) return <ErrorBar error={new Error(`There is no environment '${name}'.`)} />;
  const [page, id] = route;
  const title = SETTINGS.find(([k]) => k === page)?.[1] ?? "Settings";
  const trail = [
    { label: "Environments", href: "#/" },
    { label: org.displayName, href: `#/ppac/${org.name}` },
  ];
  return (
    <div>
      <PageTitle title={page === "roles" && id ? "Security role" : title} trail={page ? [...trail, { label: "Settings", href: `#/ppac/${org.name}` }] : trail} />
      {!page && (
        <div>
          <Text as="p">
            Environment URL: <code>{org.url}</code> · Web API endpoint: <code>{org.webApiUrl}</code>
          </Text>
          <h2 style={{ fontSize: 16 }}>Users + permissions</h2>
          <ul>
            {SETTINGS.filter(([k]) => k !== "tables").map(([k, label]) => (
              <li key={k}>
                <Link href={`#/ppac/${org.name}/${k}`}>{label}</Link>
              </li>
            ))}
          </ul>
          <h2 style={{ fontSize: 16 }}>Data</h2>
          <ul>
            <li>
              <Link href={`#/ppac/${org.name}/tables`}>Tables</Link>
            </li>
          </ul>
        </div>
      )}
      {page === "appusers" && <ApplicationUsers org={org} />}
      {page === "users" && <OrgUsers org={org} />}
      {page === "roles" && !id && <SecurityRoles org={org} />}
      {page === "roles" && id && <RoleEditor org={org} roleId={id} />}
      {page === "businessunits" && <BusinessUnits org={org} />}
      {page === "teams" && <Teams org={org} />}
      {page === "tables" && !id && <Tables org={org} />}
      {page === "tables" && id && <TableRows org={org} logicalName={id} />}
    </div>
  );
}

function ApplicationUsers({ org }: { org: Org }): ReactNode {
  const { info } = usePortal();
  const users = useLoad(
    () => list(info, org, "/systemusers?$select=fullname,applicationid,applicationiduri,azureactivedirectoryobjectid,isdisabled,_businessunitid_value&$filter=applicationid ne null&$orderby=fullname"),
    [org.name],
  );
  const [creating, setCreating] = useState(false);
  return (
    <div>
      <div style={{ display: "flex", gap: 8, marginBottom: 8 }}>
        <Button appearance="primary" onClick={() => setCreating(true)}>
          New app user
        </Button>
        <Button onClick={users.reload}>Refresh</Button>
      </div>
      <LoadState state={users} />
      {users.data && (
        <Table aria-label="Application users" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Name</TableHeaderCell>
              <TableHeaderCell>App ID</TableHeaderCell>
              <TableHeaderCell>Application ID URI</TableHeaderCell>
              <TableHeaderCell>Azure AD Object ID</TableHeaderCell>
              <TableHeaderCell>Business unit</TableHeaderCell>
              <TableHeaderCell>State</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {users.data.map((u) => (
              <TableRow key={String(u.systemuserid)}>
                <TableCell>{String(u.fullname ?? "")}</TableCell>
                <TableCell>
                  <code>{String(u.applicationid)}</code>
                </TableCell>
                <TableCell>{String(u.applicationiduri ?? "")}</TableCell>
                <TableCell>
                  <code>{String(u.azureactivedirectoryobjectid ?? "")}</code>
                </TableCell>
                <TableCell>{String(u["_businessunitid_value@OData.Community.Display.V1.FormattedValue"] ?? u._businessunitid_value ?? "")}</TableCell>
                <TableCell>{u.isdisabled ? "Inactive" : "Active"}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {creating && (
        <NewAppUser
          org={org}
          onClose={(created) => {
            setCreating(false);
            if (created) users.reload();
          }}
        />
      )}
    </div>
  );
}

/** "Create a new app user": Add an app → Business unit → Security roles → Create. */
function NewAppUser({ org, onClose }: { org: Org; onClose: (created: boolean) => void }): ReactNode {
  const { info } = usePortal();
  const choices = useLoad(async () => {
    const apps = await graphList<{ appId: string; displayName: string; appOwnerOrganizationId: string | null }>(info, "/servicePrincipals?$select=appId,displayName,appOwnerOrganizationId&$top=100");
    const units = await list(info, org, "/businessunits?$select=name,_parentbusinessunitid_value&$orderby=name");
    const roles = await list(info, org, "/roles?$select=name,_businessunitid_value&$orderby=name");
    // First-party apps (Microsoft's, orgbox's own) cannot be application users.
    const firstParty = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
    return { apps: apps.filter((a) => a.appOwnerOrganizationId !== firstParty), units, roles };
  }, [org.name]);
  const [appId, setAppId] = useState("");
  const [unit, setUnit] = useState("");
  const [roles, setRoles] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const businessUnit = unit || String(choices.data?.units.find((u) => !u._parentbusinessunitid_value)?.businessunitid ?? "");
  const create = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const user = await webApi<Row>(info, org.url, "POST", "/systemusers", { accessmode: 4, applicationid: appId, isdisabled: false, "businessunitid@odata.bind": `/businessunits(${businessUnit})` });
      for (const role of roles) await webApi(info, org.url, "POST", `/systemusers(${String(user.systemuserid)})/systemuserroles_association/$ref`, { "@odata.id": `${org.webApiUrl}/roles(${role})` });
      onClose(true);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  const unitRoles = (choices.data?.roles ?? []).filter((r) => r._businessunitid_value === businessUnit);
  return (
    <Dialog open onOpenChange={(_e, d) => !d.open && onClose(false)}>
      <DialogSurface style={{ maxWidth: 640 }}>
        <DialogBody>
          <DialogTitle>Create a new app user</DialogTitle>
          <DialogContent>
            <ErrorBar error={error ?? choices.error} />
            {!choices.data && !choices.error && <Loading />}
            {choices.data && (
              <div style={{ display: "flex", flexDirection: "column", gap: 12 }}>
                <Field label="App" hint="The enterprise applications (service principals) of this environment's directory.">
                  <Select value={appId} onChange={(_e, d) => setAppId(d.value)}>
                    <option value="">Add an app</option>
                    {choices.data.apps.map((a) => (
                      <option key={a.appId} value={a.appId}>
                        {a.displayName} ({a.appId})
                      </option>
                    ))}
                  </Select>
                </Field>
                <Field label="Business unit">
                  <Select value={businessUnit} onChange={(_e, d) => (setUnit(d.value), setRoles(new Set()))}>
                    {choices.data.units.map((u) => (
                      <option key={String(u.businessunitid)} value={String(u.businessunitid)}>
                        {String(u.name)}
                      </option>
                    ))}
                  </Select>
                </Field>
                <fieldset style={{ border: "1px solid #e0e0e0", padding: 8 }}>
                  <legend style={{ fontWeight: 600 }}>Security roles</legend>
                  {unitRoles.map((r) => (
                    <div key={String(r.roleid)}>
                      <Checkbox
                        label={String(r.name)}
                        checked={roles.has(String(r.roleid))}
                        onChange={(_e, d) => {
                          const next = new Set(roles);
                          if (d.checked) next.add(String(r.roleid));
                          else next.delete(String(r.roleid));
                          setRoles(next);
                        }}
                      />
                    </div>
                  ))}
                </fieldset>
              </div>
            )}
          </DialogContent>
          <DialogActions>
            <Button appearance="primary" disabled={!appId || busy} onClick={() => void create()}>
              Create
            </Button>
            <Button onClick={() => onClose(false)}>Cancel</Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}

function OrgUsers({ org }: { org: Org }): ReactNode {
  const { info } = usePortal();
  const users = useLoad(() => list(info, org, "/systemusers?$select=fullname,domainname,azureactivedirectoryobjectid,isdisabled&$filter=applicationid eq null&$orderby=fullname"), [org.name]);
  return (
    <div>
      <LoadState state={users} />
      {users.data && (
        <Table aria-label="Users" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Full name</TableHeaderCell>
              <TableHeaderCell>User name</TableHeaderCell>
              <TableHeaderCell>Azure AD Object ID</TableHeaderCell>
              <TableHeaderCell>State</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {users.data.map((u) => (
              <TableRow key={String(u.systemuserid)}>
                <TableCell>{String(u.fullname ?? "")}</TableCell>
                <TableCell>{String(u.domainname ?? "")}</TableCell>
                <TableCell>
                  <code>{String(u.azureactivedirectoryobjectid ?? "")}</code>
                </TableCell>
                <TableCell>{u.isdisabled ? "Disabled" : "Enabled"}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </div>
  );
}

function BusinessUnits({ org }: { org: Org }): ReactNode {
  const { info } = usePortal();
  const units = useLoad(() => list(info, org, "/businessunits?$select=name,_parentbusinessunitid_value&$orderby=name"), [org.name]);
  return (
    <div>
      <LoadState state={units} />
      {units.data && (
        <Table aria-label="Business units" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Name</TableHeaderCell>
              <TableHeaderCell>Parent business unit</TableHeaderCell>
              <TableHeaderCell>Business unit ID</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {units.data.map((u) => (
              <TableRow key={String(u.businessunitid)}>
                <TableCell>{String(u.name)}</TableCell>
                <TableCell>{String(u["_parentbusinessunitid_value@OData.Community.Display.V1.FormattedValue"] ?? "")}</TableCell>
                <TableCell>
                  <code>{String(u.businessunitid)}</code>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </div>
  );
}

/**
 * Settings → Users + permissions → Teams: each team with its type, business unit and members
 * (`teams` with `teammembership_association` expanded), the org's default teams marked.
 */
function Teams({ org }: { org: Org }): ReactNode {
  const { info } = usePortal();
  const teams = useLoad(() => list(info, org, "/teams?$select=name,teamtype,isdefault,_businessunitid_value&$orderby=name&$expand=teammembership_association($select=fullname)"), [org.name]);
  return (
    <div>
      <LoadState state={teams} />
      {teams.data && (
        <Table aria-label="Teams" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Team name</TableHeaderCell>
              <TableHeaderCell>Team type</TableHeaderCell>
              <TableHeaderCell>Business unit</TableHeaderCell>
              <TableHeaderCell>Members</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {teams.data.map((t) => {
              const members = (t.teammembership_association as Record<string, unknown>[] | undefined) ?? [];
              return (
                <TableRow key={String(t.teamid)}>
                  <TableCell>
                    {String(t.name)}
                    {t.isdefault === true ? " (default)" : ""}
                  </TableCell>
                  <TableCell>{String(t["teamtype@OData.Community.Display.V1.FormattedValue"] ?? t.teamtype ?? "")}</TableCell>
                  <TableCell>{String(t["_businessunitid_value@OData.Community.Display.V1.FormattedValue"] ?? "")}</TableCell>
                  <TableCell>{members.map((m) => String(m.fullname)).join(", ") || "—"}</TableCell>
                </TableRow>
              );
            })}
          </TableBody>
        </Table>
      )}
    </div>
  );
}

function SecurityRoles({ org }: { org: Org }): ReactNode {
  const { info } = usePortal();
  const roles = useLoad(() => list(info, org, "/roles?$select=name,_businessunitid_value,ismanaged&$orderby=name"), [org.name]);
  const units = useLoad(() => list(info, org, "/businessunits?$select=name,_parentbusinessunitid_value"), [org.name]);
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [unit, setUnit] = useState("");
  const [error, setError] = useState<unknown>();
  const root = String(units.data?.find((u) => !u._parentbusinessunitid_value)?.businessunitid ?? "");
  const create = async () => {
    setError(undefined);
    try {
      const role = await webApi<Row>(info, org.url, "POST", "/roles", { name, "businessunitid@odata.bind": `/businessunits(${unit || root})` });
      setOpen(false);
      navigate(`/ppac/${org.name}/roles/${String(role.roleid)}`);
    } catch (e) {
      setOpen(false);
      setError(e);
    }
  };
  return (
    <div>
      <div style={{ display: "flex", gap: 8, marginBottom: 8 }}>
        <Button appearance="primary" onClick={() => setOpen(true)}>
          New role
        </Button>
      </div>
      <ErrorBar error={error ?? roles.error} />
      {!roles.data && !roles.error && <Loading />}
      {roles.data && (
        <Table aria-label="Security roles" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Role</TableHeaderCell>
              <TableHeaderCell>Business unit</TableHeaderCell>
              <TableHeaderCell>Managed</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {roles.data.map((r) => (
              <TableRow key={String(r.roleid)}>
                <TableCell>
                  <Link href={`#/ppac/${org.name}/roles/${String(r.roleid)}`}>{String(r.name)}</Link>
                </TableCell>
                <TableCell>{String(r["_businessunitid_value@OData.Community.Display.V1.FormattedValue"] ?? "")}</TableCell>
                <TableCell>{r.ismanaged ? "Yes" : "No"}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      <Dialog open={open} onOpenChange={(_e, d) => setOpen(d.open)}>
        <DialogSurface>
          <DialogBody>
            <DialogTitle>Create new role</DialogTitle>
            <DialogContent>
              <Field label="Role name" style={{ marginBottom: 12 }}>
                <Input value={name} onChange={(_e, d) => setName(d.value)} />
              </Field>
              <Field label="Business unit">
                <Select value={unit || root} onChange={(_e, d) => setUnit(d.value)}>
                  {(units.data ?? []).map((u) => (
                    <option key={String(u.businessunitid)} value={String(u.businessunitid)}>
                      {String(u.name)}
                    </option>
                  ))}
                </Select>
              </Field>
            </DialogContent>
            <DialogActions>
              <Button appearance="primary" disabled={!name.trim()} onClick={() => void create()}>
                Save
              </Button>
              <Button onClick={() => setOpen(false)}>Cancel</Button>
            </DialogActions>
          </DialogBody>
        </DialogSurface>
      </Dialog>
    </div>
  );
}

const VERBS = ["Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"] as const;
const VERB_LABEL: Record<string, string> = { AppendTo: "Append To" };
/** Access levels, as the role editor names them, with their `PrivilegeDepth` and depth-mask bit. */
const LEVELS: readonly { label: string; depth: string | null; bit: number; can: string }[] = [
  { label: "None", depth: null, bit: 0, can: "" },
  { label: "User", depth: "Basic", bit: 1, can: "canbebasic" },
  { label: "Business Unit", depth: "Local", bit: 2, can: "canbelocal" },
  { label: "Parent: Child Business Units", depth: "Deep", bit: 4, can: "canbedeep" },
  { label: "Organization", depth: "Global", bit: 8, can: "canbeglobal" },
];
const PRIVILEGE_NAME = /^prv(Create|Read|Write|Delete|AppendTo|Append|Assign|Share)(.+)$/;

/**
 * The role editor: tables × Create … Share, each cell an access level. Reads the role's privileges with
 * `RetrieveRolePrivilegesRole()` and saves the whole grid with `ReplacePrivilegesRole` (None leaves a privilege out).
 */
function RoleEditor({ org, roleId }: { org: Org; roleId: string }): ReactNode {
  const { info } = usePortal();
  const data = useLoad(async () => {
    const role = await webApi<Row>(info, org.url, "GET", `/roles(${roleId})?$select=name`);
    const privileges = await list(info, org, "/privileges?$select=name,canbebasic,canbelocal,canbedeep,canbeglobal");
    const held = await webApi<{ RolePrivileges: { PrivilegeId: string; Depth: string }[] }>(info, org.url, "GET", `/roles(${roleId})/Microsoft.Dynamics.CRM.RetrieveRolePrivilegesRole()`);
    return { role, privileges, held: new Map(held.RolePrivileges.map((h) => [h.PrivilegeId, Math.max(0, LEVELS.findIndex((l) => l.depth === h.Depth))])) };
  }, [org.name, roleId]);
  const [edits, setEdits] = useState<Map<string, number>>(new Map());
  const [filter, setFilter] = useState("");
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const grid = useMemo(() => {
    const tables = new Map<string, Partial<Record<string, Row>>>();
    for (const p of data.data?.privileges ?? []) {
      const m = PRIVILEGE_NAME.exec(String(p.name));
      if (!m) continue;
      const entry = tables.get(m[2] as string) ?? {};
      entry[m[1] as string] = p;
      tables.set(m[2] as string, entry);
    }
    return [...tables.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  }, [data.data]);
  const current = (id: string) => edits.get(id) ?? data.data?.held.get(id) ?? 0;
  const save = async () => {
    setError(undefined);
    setSaved(undefined);
    try {
      // The role's privileges become exactly the grid: held ones with their edits, None left out.
      const levels = new Map(data.data?.held);
      let changed = 0;
      for (const [id, level] of edits) {
        if (level !== (levels.get(id) ?? 0)) changed++;
        levels.set(id, level);
      }
      const privileges = [...levels].filter(([, level]) => level > 0).map(([id, level]) => ({ PrivilegeId: id, Depth: (LEVELS[level] as { depth: string }).depth }));
      await webApi(info, org.url, "POST", `/roles(${roleId})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole`, { Privileges: privileges });
      setEdits(new Map());
      setSaved(`Saved ${changed} change(s).`);
      data.reload();
    } catch (e) {
      setError(e);
    }
  };
  const shown = grid.filter(([table]) => table.toLowerCase().includes(filter.toLowerCase()));
  return (
    <div>
      <ErrorBar error={error ?? data.error} />
      {saved && (
        <MessageBar intent="success">
          <MessageBarBody>{saved}</MessageBarBody>
        </MessageBar>
      )}
      {!data.data && !data.error && <Loading />}
      {data.data && (
        <div>
          <h2 style={{ fontSize: 18 }}>{String(data.data.role.name)}</h2>
          <div style={{ display: "flex", gap: 8, alignItems: "flex-end", marginBottom: 8 }}>
            <Field label="Search tables">
              <Input value={filter} onChange={(_e, d) => setFilter(d.value)} />
            </Field>
            <Button appearance="primary" onClick={() => void save()} disabled={edits.size === 0}>
              Save
            </Button>
          </div>
          <Table aria-label="Privileges" size="extra-small">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Table</TableHeaderCell>
                {VERBS.map((v) => (
                  <TableHeaderCell key={v}>{VERB_LABEL[v] ?? v}</TableHeaderCell>
                ))}
              </TableRow>
            </TableHeader>
            <TableBody>
              {shown.map(([table, cells]) => (
                <TableRow key={table}>
                  <TableCell>{table}</TableCell>
                  {VERBS.map((v) => {
                    const p = cells[v];
                    if (!p) return <TableCell key={v} />;
                    const id = String(p.privilegeid);
                    return (
                      <TableCell key={v}>
                        <Select
                          size="small"
                          style={{ minWidth: 150 }}
                          aria-label={`${table} ${VERB_LABEL[v] ?? v}`}
                          value={String(current(id))}
                          onChange={(_e, d) => setEdits(new Map(edits).set(id, Number(d.value)))}
                        >
                          {LEVELS.map((l, i) =>
                            i === 0 || p[l.can] === true || p[l.can] === 1 ? (
                              <option key={l.label} value={i}>
                                {l.label}
                              </option>
                            ) : null,
                          )}
                        </Select>
                      </TableCell>
                    );
                  })}
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
    </div>
  );
}

function Tables({ org }: { org: Org }): ReactNode {
  const { info } = usePortal();
  const tables = useLoad(async () => {
    const page = await webApi<{ value: Row[] }>(info, org.url, "GET", "/EntityDefinitions?$select=LogicalName,EntitySetName,DisplayName,IsCustomEntity");
    return page.value.sort((a, b) => String(a.LogicalName).localeCompare(String(b.LogicalName)));
  }, [org.name]);
  return (
    <div>
      <LoadState state={tables} />
      {tables.data && (
        <Table aria-label="Tables" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Display name</TableHeaderCell>
              <TableHeaderCell>Name</TableHeaderCell>
              <TableHeaderCell>Entity set</TableHeaderCell>
              <TableHeaderCell>Type</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {tables.data.map((t) => (
              <TableRow key={String(t.LogicalName)}>
                <TableCell>
                  <Link href={`#/ppac/${org.name}/tables/${String(t.LogicalName)}`}>{displayLabel(t.DisplayName) || String(t.LogicalName)}</Link>
                </TableCell>
                <TableCell>{String(t.LogicalName)}</TableCell>
                <TableCell>{String(t.EntitySetName)}</TableCell>
                <TableCell>{t.IsCustomEntity ? "Custom" : "Standard"}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </div>
  );
}

function displayLabel(value: unknown): string {
  const label = (value as { UserLocalizedLabel?: { Label?: string } } | null)?.UserLocalizedLabel?.Label;
  return typeof label === "string" ? label : "";
}

/** A table's columns and its rows, with an OData `$filter` typed by the user (the Web API's own errors shown). */
function TableRows({ org, logicalName }: { org: Org; logicalName: string }): ReactNode {
  const { info } = usePortal();
  const [filter, setFilter] = useState("");
  const [applied, setApplied] = useState("");
  const meta = useLoad(
    () => webApi<Row>(info, org.url, "GET", `/EntityDefinitions(LogicalName='${encodeURIComponent(logicalName)}')?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute&$expand=Attributes($select=LogicalName,AttributeType,DisplayName)`),
    [org.name, logicalName],
  );
  const attributes = ((meta.data?.Attributes as Row[] | undefined) ?? []).filter((a) => !String(a.LogicalName).endsWith("_base")).sort((a, b) => String(a.LogicalName).localeCompare(String(b.LogicalName)));
  // The columns a model-driven view shows first where the table has them, then other text columns.
  const usual = ["subject", "name", "fullname", "companyname", "emailaddress1", "telephone1", "statecode", "createdon"];
  const readable = attributes.filter((a) => !["Virtual", "EntityName", "PartyList", "Lookup", "Owner", "Customer"].includes(String(a.AttributeType)));
  const columns = [...usual.filter((c) => readable.some((a) => a.LogicalName === c)), ...readable.filter((a) => a.AttributeType === "String" && !String(a.LogicalName).startsWith("address")).map((a) => String(a.LogicalName))];
  const primary = meta.data ? [String(meta.data.PrimaryNameAttribute ?? ""), String(meta.data.PrimaryIdAttribute)].filter(Boolean) : [];
  const shown = [...new Set([...primary, ...columns])].filter((c) => readable.some((a) => a.LogicalName === c)).slice(0, 6);
  const rows = useLoad(
    async () => (meta.data ? (await webApi<{ value: Row[] }>(info, org.url, "GET", `/${String(meta.data.EntitySetName)}?$select=${shown.join(",")}&$top=50${applied ? `&$filter=${encodeURIComponent(applied)}` : ""}`)).value : []),
    [meta.data ? "ready" : "", applied, shown.join(",")],
  );
  return (
    <div>
      <LoadState state={meta} />
      {meta.data && (
        <div>
          <h2 style={{ fontSize: 18 }}>{logicalName}</h2>
          <details>
            <summary>Columns ({attributes.length})</summary>
            <Table aria-label="Columns" size="extra-small">
              <TableHeader>
                <TableRow>
                  <TableHeaderCell>Display name</TableHeaderCell>
                  <TableHeaderCell>Name</TableHeaderCell>
                  <TableHeaderCell>Data type</TableHeaderCell>
                </TableRow>
              </TableHeader>
              <TableBody>
                {attributes.map((a) => (
                  <TableRow key={String(a.LogicalName)}>
                    <TableCell>{displayLabel(a.DisplayName)}</TableCell>
                    <TableCell>{String(a.LogicalName)}</TableCell>
                    <TableCell>{String(a.AttributeType)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </details>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setApplied(filter.trim());
            }}
            style={{ display: "flex", gap: 8, alignItems: "flex-end", margin: "12px 0" }}
          >
            <Field label="Filter ($filter)" style={{ flex: 1, maxWidth: 620 }}>
              <Input value={filter} placeholder="e.g. startswith(subject,'Interested')" onChange={(_e, d) => setFilter(d.value)} />
            </Field>
            <Button type="submit">Apply</Button>
          </form>
          <ErrorBar error={rows.error} />
          {rows.data && (
            <Table aria-label="Rows" size="small">
              <TableHeader>
                <TableRow>
                  {shown.map((c) => (
                    <TableHeaderCell key={c}>{c}</TableHeaderCell>
                  ))}
                </TableRow>
              </TableHeader>
              <TableBody>
                {rows.data.map((r, i) => (
                  <TableRow key={i}>
                    {shown.map((c) => (
                      <TableCell key={c}>{String(r[c] ?? "")}</TableCell>
                    ))}
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </div>
      )}
    </div>
  );
}
