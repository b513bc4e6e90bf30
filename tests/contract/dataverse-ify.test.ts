/**
 * Smoke test with the real dataverse-ify client (v2): its `XrmContextDataverseClient` over its own
 * `WebApiBase` + `NodeWebApiRequest` (node-fetch v2) creates, retrieves, queries (OData and FetchXML)
 * and batches against orgbox. The token comes from orgbox (dataverse-ify's own msal-node sign-in
 * only talks to login.microsoftonline.com). Metadata is the minimal subset dataverse-gen would emit.
 * dataverse-ify looks entity set names up in `EntityDefinitions`, which needs `prvReadEntity`, so the
 * client runs as an application user holding System Administrator (the demo app's custom role lacks it,
 * as a custom role would in Dataverse; the last test pins that failure).
 *
 * Wire facts exercised (see /work/shared/reference/dataverse.md §4): lower-case GUID in
 * `OData-EntityId`, entity set names via `EntityDefinitions(LogicalName='x')?$select=EntitySetName`,
 * `Prefer: odata.include-annotations="*"`, `\n`-joined `$batch` bodies with relative request lines,
 * and a batch response that starts with `--batchresponse_` under a Content-Type with `boundary=`.
 */
import { EntityReference, setMetadataCache, XrmContextDataverseClient, type IEntity, type WebApiExecuteRequest } from "dataverse-ify";
import { WebApiBase } from "dataverse-ify/lib/webapi/WebApiBase.js";
import { NodeWebApiRequest } from "dataverse-ify/lib/webapi/node/NodeWebApiRequest.js";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";
import { appUser } from "../helpers/security.ts";

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The part of dataverse-gen's generated metadata the calls below need. */
const accountMetadata = {
  typeName: "mscrm.account",
  logicalName: "account",
  collectionName: "accounts",
  primaryIdAttribute: "accountid",
  attributeTypes: {
    accountid: "Uniqueidentifier",
    name: "String",
    description: "Memo",
    numberofemployees: "Integer",
    revenue: "Money",
    statecode: "State",
    primarycontactid: "Lookup",
    accountcategorycode: "Picklist",
    creditlimit: "Money",
    address1_latitude: "Double",
    address1_longitude: "Double",
    address1_utcoffset: "Integer",
    lastonholdtime: "DateTime",
    preferredsystemuserid: "Lookup",
  },
  navigation: { primarycontactid: ["mscrm.contact"], preferredsystemuserid: ["mscrm.systemuser"] },
};
const contactMetadata = {
  typeName: "mscrm.contact",
  logicalName: "contact",
  collectionName: "contacts",
  primaryIdAttribute: "contactid",
  attributeTypes: { contactid: "Uniqueidentifier", firstname: "String", lastname: "String", parentcustomerid: "Lookup" },
  navigation: { parentcustomerid: ["mscrm.account", "mscrm.contact"] },
};
const systemuserMetadata = {
  typeName: "mscrm.systemuser",
  logicalName: "systemuser",
  collectionName: "systemusers",
  primaryIdAttribute: "systemuserid",
  attributeTypes: { systemuserid: "Uniqueidentifier", fullname: "String" },
  navigation: {},
};

describe("dataverse-ify against orgbox", () => {
  const orgbox = useOrgbox();
  let token = "";
  let client: XrmContextDataverseClient;

  /** dataverse-ify's client over its node-fetch request implementation, bearing `accessToken`. */
  function dataverseify(accessToken: string): XrmContextDataverseClient {
    return new XrmContextDataverseClient(new WebApiBase(new NodeWebApiRequest(orgbox().orgUrl, "9.2", accessToken)));
  }

  beforeAll(async () => {
    const o = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso")) as Org;
    const admin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator");
    ({ token } = await appUser(o, org, "dataverse-ify", DEMO.org.rootBusinessUnitId, [admin?.id as string]));
    setMetadataCache({ entities: { account: accountMetadata, contact: contactMetadata, systemuser: systemuserMetadata } });
    client = dataverseify(token);
  });

  it("creates an account and reads its lower-case id from OData-EntityId, then retrieves it", async () => {
    const id = await client.create({ logicalName: "account", name: "Dataverse-ify Ltd", numberofemployees: 42, revenue: 1250.5 });
    expect(id).toMatch(GUID_RE);

    const account = await client.retrieve<IEntity>("account", id, ["name", "numberofemployees", "revenue", "statecode"]);
    expect(account).toMatchObject({ logicalName: "account", accountid: id, name: "Dataverse-ify Ltd", numberofemployees: 42, revenue: 1250.5, statecode: 0 });
    // sdkify keeps the OData-formatted annotations orgbox returns under Prefer: odata.include-annotations="*".
    expect(account.formattedValues?.["statecode"]).toBe("Active");
  });

  it("creates and reads an account with the standard columns of dataverse-ify's upstream CRUD test", async () => {
    // Columns Microsoft documents on account (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/account).
    const lastonholdtime = new Date("2024-03-01T10:15:00Z");
    const id = await client.create({
      logicalName: "account",
      name: "Sample Account",
      accountcategorycode: 2, // Standard
      creditlimit: 1000,
      address1_latitude: 1.523226,
      address1_longitude: 1.523226,
      address1_utcoffset: 60,
      lastonholdtime,
      preferredsystemuserid: new EntityReference("systemuser", DEMO.org.adminSystemUserId),
    });
    const account = await client.retrieve<IEntity>("account", id, ["name", "accountcategorycode", "creditlimit", "address1_latitude", "address1_longitude", "address1_utcoffset", "lastonholdtime", "preferredsystemuserid"]);
    expect(account).toMatchObject({ name: "Sample Account", accountcategorycode: 2, creditlimit: 1000, address1_latitude: 1.523226, address1_longitude: 1.523226, address1_utcoffset: 60, lastonholdtime });
    expect(account.formattedValues?.["accountcategorycode"]).toBe("Standard");
    expect(account.preferredsystemuserid).toMatchObject({ entityType: "systemuser", id: DEMO.org.adminSystemUserId });
  });

  it("binds a Customer lookup on create and retrieves it as an EntityReference", async () => {
    const accountId = await client.create({ logicalName: "account", name: "Lookup Parent" });
    const contactId = await client.create({ logicalName: "contact", firstname: "Ada", lastname: "Ifyson", parentcustomerid: new EntityReference("account", accountId) });

    const contact = await client.retrieve<IEntity>("contact", contactId, ["lastname", "parentcustomerid"]);
    expect(contact.lastname).toBe("Ifyson");
    expect(contact.parentcustomerid).toMatchObject({ entityType: "account", id: accountId, name: "Lookup Parent" });
  });

  it("clears a lookup and a column with null in an update, as its own integration test does (issue 12)", async () => {
    // dataverse-ify's nullvalues integration test: set values, then update them to null and retrieve.
    const contactId = await client.create({ logicalName: "contact", lastname: "Primary" });
    const account: IEntity = { logicalName: "account", name: "Null Values", description: "Description", primarycontactid: new EntityReference("contact", contactId) };
    account.id = await client.create(account);
    const before = await client.retrieve<IEntity>("account", account.id, ["description", "primarycontactid"]);
    expect(before).toMatchObject({ description: "Description", primarycontactid: { entityType: "contact", id: contactId } });

    account.description = null;
    account.primarycontactid = null; // odataify sends {"primarycontactid": null}
    await client.update(account);

    const after = await client.retrieve<IEntity>("account", account.id, ["description", "primarycontactid"]);
    expect(after.description).toBeNull();
    expect(after.primarycontactid).toBeUndefined();
    const raw = await apiGet(orgbox(), token, `accounts(${account.id})?$select=_primarycontactid_value`);
    expect(raw.body).toMatchObject({ _primarycontactid_value: null });
  });

  it("a navigation property set to anything but null or a record is still refused (0x80048d19)", async () => {
    const id = await client.create({ logicalName: "account", name: "Bad Lookup" });
    for (const value of ["not-a-record", [], 42]) {
      const res = await fetch(`${orgbox().apiUrl}/accounts(${id})`, { method: "PATCH", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "if-match": "*" }, body: JSON.stringify({ primarycontactid: value }) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("0x80048d19");
    }
  });

  it("updates and deletes through the client", async () => {
    const id = await client.create({ logicalName: "account", name: "Before" });
    await client.update({ logicalName: "account", id, name: "After" });
    expect((await client.retrieve<IEntity>("account", id, ["name"])).name).toBe("After");

    await client.delete("account", id);
    expect((await apiGet(orgbox(), token, `accounts(${id})?$select=name`)).status).toBe(404);
  });

  it("retrieveMultiple with an OData query ($select, $filter, $orderby) and a page size", async () => {
    for (const name of ["DFY Query C", "DFY Query A", "DFY Query B"]) await client.create({ logicalName: "account", name });

    const all = await client.retrieveMultiple<IEntity>("?$select=name&$filter=startswith(name,'DFY Query')&$orderby=name desc", { logicalName: "account" });
    expect(all.entities.map((e) => e.name)).toEqual(["DFY Query C", "DFY Query B", "DFY Query A"]);
    expect(all.entities.every((e) => e.logicalName === "account" && GUID_RE.test(String(e.accountid)))).toBe(true);

    const page = await client.retrieveMultiple<IEntity>("?$select=name&$filter=startswith(name,'DFY Query')&$orderby=name", { logicalName: "account", maxPageSize: 2 });
    expect(page.entities.map((e) => e.name)).toEqual(["DFY Query A", "DFY Query B"]);
    expect(page.nextLink).toMatch(/\$skiptoken=/);
  });

  it("retrieveMultiple with FetchXML (entity name read from the query)", async () => {
    for (const name of ["DFY Fetch 2", "DFY Fetch 1"]) await client.create({ logicalName: "account", name });
    const fetch = `<fetch><entity name="account"><attribute name="name" /><filter><condition attribute="name" operator="like" value="DFY Fetch%" /></filter><order attribute="name" /></entity></fetch>`;

    const result = await client.retrieveMultiple<IEntity>(fetch);
    expect(result.entities.map((e) => e.name)).toEqual(["DFY Fetch 1", "DFY Fetch 2"]);
  });

  it("executeMultiple sends a $batch with a change set and reads each part's result", async () => {
    const existing = await client.create({ logicalName: "account", name: "DFY Batch Existing" });
    const changeSet: WebApiExecuteRequest[] = [
      { logicalName: "Create", target: { logicalName: "account", name: "DFY Batch New 1" } },
      { logicalName: "Create", target: { logicalName: "account", name: "DFY Batch New 2" } },
      { logicalName: "Update", target: { logicalName: "account", id: existing, name: "DFY Batch Updated" } },
    ];
    const deleteTarget = await client.create({ logicalName: "account", name: "DFY Batch Doomed" });
    const responses = await client.executeMultiple<{ id?: string }>([changeSet, { logicalName: "Delete", target: new EntityReference("account", deleteTarget) }]);

    expect(responses).toHaveLength(4);
    const [first, second] = responses ?? [];
    expect(first?.id).toMatch(GUID_RE);
    expect(second?.id).toMatch(GUID_RE);
    expect((await client.retrieve<IEntity>("account", first?.id ?? "", ["name"])).name).toBe("DFY Batch New 1");
    expect((await client.retrieve<IEntity>("account", second?.id ?? "", ["name"])).name).toBe("DFY Batch New 2");
    expect((await client.retrieve<IEntity>("account", existing, ["name"])).name).toBe("DFY Batch Updated");
    expect((await apiGet(orgbox(), token, `accounts(${deleteTarget})?$select=name`)).status).toBe(404);
  });

  it("surfaces orgbox's Dataverse error envelope on a missing record", async () => {
    const missing = "00000000-0000-4000-8000-00000000dead";
    await expect(client.retrieve("account", missing, ["name"])).rejects.toMatchObject({ code: "0x80040217", message: expect.stringContaining(missing) as unknown });
  });

  it("ignores an empty JSON body's Content-Type on DELETE and GET (as dataverse-ify sends it) but not on writes", async () => {
    const id = await client.create({ logicalName: "account", name: "Empty Body" });
    const send = (method: string, path: string) =>
      fetch(`${orgbox().apiUrl}/${path}`, { method, headers: { authorization: `Bearer ${token}`, accept: "application/json", "content-type": "application/json; charset=UTF-8" } });

    expect((await send("GET", `accounts(${id})?$select=name`)).status).toBe(200);
    for (const [method, path] of [["POST", "accounts"], ["PATCH", `accounts(${id})`]] as const) {
      const res = await send(method, path);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("0x80048d19");
    }
    expect((await send("DELETE", `accounts(${id})`)).status).toBe(204);
    expect((await send("DELETE", `accounts(${id})`)).status).toBe(404);
  });

  it("fails to resolve entity set names for a caller without prvReadEntity (the demo app's custom role)", async () => {
    const demo = dataverseify(await demoToken(orgbox()));
    await expect(demo.create({ logicalName: "account", name: "Never" })).rejects.toThrow(/Cannot get entity set name for account/);
  });
});
