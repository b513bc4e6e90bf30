/**
 * The activity and note tables (task, email, phonecall, annotation) and opportunity with the real
 * dynamics-web-api client: polymorphic `regardingobjectid` / `objectid` bound through Dataverse's
 * navigation names (`regardingobjectid_account_task`, `objectid_contact`), the EntityName type
 * column set on write, `_regardingobjectid_value` filters, and `customerid` on opportunity
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/task).
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import { apiGet, useOrgbox } from "../helpers/orgbox.ts";
import { failure, systemAdministratorToken } from "../helpers/dwa.ts";

type Row = Record<string, unknown>;

describe("activities, notes and opportunities with dynamics-web-api", () => {
  const orgbox = useOrgbox();
  let token = "";
  let dwa: DynamicsWebApi;
  let accountId = "";
  let contactId = "";

  beforeAll(async () => {
    // The System Administrator role createOrg makes covers the new tables without any change.
    const o = orgbox();
    token = await systemAdministratorToken(o, "activities admin");
    dwa = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    accountId = (await dwa.create({ collection: "accounts", data: { name: "Activity Holdings" } })) as string;
    contactId = (await dwa.create({ collection: "contacts", data: { lastname: "Noted" } })) as string;
  });

  it("creates tasks regarding an account and queries them by _regardingobjectid_value", async () => {
    const first = (await dwa.create({ collection: "tasks", data: { subject: "Call back", prioritycode: 2, "regardingobjectid_account_task@odata.bind": `/accounts(${accountId})` } })) as string;
    await dwa.create({ collection: "tasks", data: { subject: "Send quote", "regardingobjectid_account_task@odata.bind": `/accounts(${accountId})` } });
    await dwa.create({ collection: "tasks", data: { subject: "Unrelated", "regardingobjectid_contact_task@odata.bind": `/contacts(${contactId})` } });
    const res = await dwa.retrieveMultiple<Row>({
      collection: "tasks",
      select: ["subject", "_regardingobjectid_value", "regardingobjecttypecode", "statecode"],
      filter: `_regardingobjectid_value eq ${accountId}`,
      orderBy: ["subject"],
    });
    expect(res.value.map((r) => r.subject)).toEqual(["Call back", "Send quote"]);
    expect(res.value[0]?.activityid).toBe(first);
    expect(res.value[0]?._regardingobjectid_value).toBe(accountId);
    expect(res.value[0]?.regardingobjecttypecode).toBe("account");
  });

  it("annotates the regarding lookup with its table and navigation property", async () => {
    await dwa.create({ collection: "tasks", data: { subject: "Annotated", "regardingobjectid_contact_task@odata.bind": `/contacts(${contactId})` } });
    const res = await apiGet(orgbox(), token, `tasks?$select=subject,_regardingobjectid_value&$filter=subject eq 'Annotated'`, { Prefer: 'odata.include-annotations="*"' });
    const row = (res.body as { value: Row[] }).value[0] as Row;
    expect(row["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]).toBe("contact");
    expect(row["_regardingobjectid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"]).toBe("regardingobjectid_contact_task");
    expect(row["_regardingobjectid_value@OData.Community.Display.V1.FormattedValue"]).toBe("Noted");
  });

  it("expands an account's Account_Tasks and a task's regarding account", async () => {
    const account = await dwa.retrieve<Row>({ collection: "accounts", key: accountId, select: ["name"], expand: [{ property: "Account_Tasks", select: ["subject"], orderBy: ["subject"] }] });
    expect((account.Account_Tasks as Row[]).map((t) => t.subject)).toEqual(["Call back", "Send quote"]);
    const tasks = await dwa.retrieveMultiple<Row>({ collection: "tasks", select: ["subject"], filter: "subject eq 'Call back'", expand: [{ property: "regardingobjectid_account_task", select: ["name"] }] });
    expect((tasks.value[0]?.regardingobjectid_account_task as Row).name).toBe("Activity Holdings");
  });

  it("creates a note on a contact (objectid_contact) and an email and phone call regarding it", async () => {
    const noteId = (await dwa.create({ collection: "annotations", data: { subject: "Met at fair", notetext: "Likes orgbox", isdocument: false, "objectid_contact@odata.bind": `/contacts(${contactId})` } })) as string;
    const note = await dwa.retrieve<Row>({ collection: "annotations", key: noteId, select: ["subject", "notetext", "_objectid_value", "objecttypecode", "isdocument"] });
    expect(note).toMatchObject({ annotationid: noteId, subject: "Met at fair", notetext: "Likes orgbox", _objectid_value: contactId, objecttypecode: "contact", isdocument: false });
    const notes = await dwa.retrieveMultiple<Row>({ collection: "annotations", select: ["subject"], filter: `_objectid_value eq ${contactId}` });
    expect(notes.value.map((n) => n.subject)).toEqual(["Met at fair"]);

    const emailId = (await dwa.create({ collection: "emails", data: { subject: "Hello", directioncode: true, "regardingobjectid_contact_email@odata.bind": `/contacts(${contactId})` } })) as string;
    const email = await dwa.retrieve<Row>({ collection: "emails", key: emailId, select: ["subject", "directioncode", "statecode", "_regardingobjectid_value"] });
    expect(email).toMatchObject({ activityid: emailId, directioncode: true, _regardingobjectid_value: contactId });
    const callId = (await dwa.create({ collection: "phonecalls", data: { subject: "Ring", phonenumber: "+1 555 0100", "regardingobjectid_contact_phonecall@odata.bind": `/contacts(${contactId})` } })) as string;
    const call = await dwa.retrieve<Row>({ collection: "phonecalls", key: callId, select: ["phonenumber", "regardingobjecttypecode"] });
    expect(call).toMatchObject({ activityid: callId, phonenumber: "+1 555 0100", regardingobjecttypecode: "contact" });
  });

  it("creates an opportunity for an account customer (customerid_account) with money, date and probability", async () => {
    const id = (await dwa.create({
      collection: "opportunities",
      data: { name: "Big deal", estimatedvalue: 12500.5, estimatedclosedate: "2026-12-31", closeprobability: 60, "customerid_account@odata.bind": `/accounts(${accountId})` },
    })) as string;
    const opp = await dwa.retrieve<Row>({ collection: "opportunities", key: id, select: ["name", "estimatedvalue", "estimatedclosedate", "closeprobability", "_customerid_value", "customeridtype", "statecode"] });
    expect(opp).toMatchObject({ opportunityid: id, name: "Big deal", estimatedvalue: 12500.5, estimatedclosedate: "2026-12-31", closeprobability: 60, _customerid_value: accountId, customeridtype: "account" });
    const mine = await dwa.retrieveMultiple<Row>({ collection: "opportunities", select: ["name"], filter: `_customerid_value eq ${accountId}` });
    expect(mine.value.map((r) => r.name)).toEqual(["Big deal"]);
  });

  it("refuses a regarding navigation property of another activity table and an unknown priority option", async () => {
    const wrongNav = await failure(dwa.create({ collection: "tasks", data: { subject: "Bad", "regardingobjectid_account_email@odata.bind": `/accounts(${accountId})` } }));
    expect(wrongNav.status).toBe(400);
    const bad = await failure(dwa.create({ collection: "tasks", data: { subject: "Bad priority", prioritycode: 9 } }));
    expect(bad.status).toBe(400);
  });
});
