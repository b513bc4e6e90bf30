/**
 * Issue 11 proof: every join or EXISTS into another table carries the caller's Read scope of that
 * table, from every query surface. A predicate on a row the caller may not read behaves as if the row
 * did not exist: a navigation through it yields null, a collection does not contain it.
 *
 * The probes of the report, each with a Basic-depth user and a Local-depth user (both in Sales)
 * against records owned by a user in another business unit (Service): `$filter` lookup paths,
 * `any`/`all`, `$apply` filter and groupby, `$expand` with a nested `$filter`, FetchXML link-entity;
 * then a property test (fast-check, seeded) over random filters through lookups and collections,
 * compared with a reference evaluator that first removes unreadable rows. On SQLite and PostgreSQL.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";
import { api, appUser } from "../helpers/security.ts";

type Depth = "Basic" | "Local";
type Prober = { depth: Depth; token: string; userId: string };
type Row = Record<string, unknown>;

const HIDDEN_ACCOUNT = "Hidden Co";
const HIDDEN_REVENUE = 1234567;
const HIDDEN_EMAIL = "hidden@fabrikam.example";

/** Deterministic PRNG (mulberry32) for the property test's data set. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const guid = (prefix: string, n: number) => `${prefix}-0000-4000-8000-${String(n).padStart(12, "0")}`;

describe.each(BACKENDS)("joins carry the caller's Read scope ($name)", (backend) => {
  let location: TestStoreLocation;
  let o: OrgboxInstance;
  let org: Org;
  let salesBu = "";
  let serviceBu = "";
  let outsider = "";
  let mate = "";
  const probers: Record<Depth, Prober> = { Basic: { depth: "Basic", token: "", userId: "" }, Local: { depth: "Local", token: "", userId: "" } };
  /** The prober's own records (readable at both depths), by role in the probes. */
  const own: Record<Depth, Record<string, string>> = { Basic: {}, Local: {} };
  let hiddenAccount = "";
  let hiddenContact = "";

  beforeAll(async () => {
    location = await backend.create();
    // SQLite in memory (a data folder would also bring its own, untrusted, CA); PostgreSQL in a fresh database.
    o = await startOrgbox(location.location.storeUrl !== undefined ? { storeUrl: location.location.storeUrl } : {});
    org = (await o.dataverse.service.findOrg("contoso")) as Org;
    const svc = o.dataverse.service;
    salesBu = (await svc.createBusinessUnit(org, { name: "Sales", parentBusinessUnitId: DEMO.org.rootBusinessUnitId })).businessUnitId;
    serviceBu = (await svc.createBusinessUnit(org, { name: "Service", parentBusinessUnitId: DEMO.org.rootBusinessUnitId })).businessUnitId;
    outsider = await svc.createSystemUser(org, { businessUnitId: serviceBu, lastName: "Outsider" });
    mate = await svc.createSystemUser(org, { businessUnitId: salesBu, lastName: "Mate" });
    for (const depth of ["Basic", "Local"] as const) {
      const role = await svc.createRole(org, {
        name: `Reader ${depth}`,
        businessUnitId: DEMO.org.rootBusinessUnitId,
        privileges: [
          { name: "prvReadAccount", depth },
          { name: "prvReadContact", depth },
        ],
      });
      const user = await appUser(o, org, `${depth} prober`, salesBu, [role]);
      probers[depth] = { depth, token: user.token, userId: user.userId };
    }
    const hidden = { id: outsider, businessUnitId: serviceBu };
    hiddenContact = await svc.insert(org, "contact", { lastname: "Hidden", emailaddress1: HIDDEN_EMAIL }, outsider, hidden);
    hiddenAccount = await svc.insert(org, "account", { name: HIDDEN_ACCOUNT, revenue: HIDDEN_REVENUE, primarycontactid: hiddenContact }, outsider, hidden);
    for (const depth of ["Basic", "Local"] as const) {
      const me = probers[depth].userId;
      const mine = { id: me, businessUnitId: salesBu };
      const ids = own[depth];
      const account = (values: Row) => svc.insert(org, "account", values, me, mine);
      const contact = (values: Row) => svc.insert(org, "contact", values, me, mine);
      // A contact of mine whose company is the hidden account; an account of mine whose primary contact is hidden.
      ids.probe = await contact({ lastname: `Probe ${depth}`, parentcustomerid: hiddenAccount, parentcustomeridtype: "account" });
      ids.account = await account({ name: `Probe ${depth}`, primarycontactid: hiddenContact });
      // Children of my account: one mine, one hidden (owned in Service).
      ids.visibleChild = await contact({ lastname: "Visible", emailaddress1: `visible-${depth.toLowerCase()}@contoso.example`, parentcustomerid: ids.account, parentcustomeridtype: "account" });
      await svc.insert(org, "contact", { lastname: "Hidden child", parentcustomerid: ids.account, parentcustomeridtype: "account" }, outsider, hidden);
      // A child account of mine whose primary contact is hidden.
      ids.childAccount = await account({ name: `Probe child ${depth}`, parentaccountid: ids.account, primarycontactid: hiddenContact });
      // Positive controls: a readable account and a contact of mine pointing at it.
      ids.openAccount = await account({ name: `Open Co ${depth}`, revenue: 5, primarycontactid: ids.visibleChild });
      ids.control = await contact({ lastname: `Control ${depth}`, parentcustomerid: ids.openAccount, parentcustomeridtype: "account" });
    }
  });
  afterAll(async () => {
    await o?.close();
    await location?.dispose();
  });

  const get = async (prober: Prober, path: string) => {
    const res = await api(o, prober.token, "GET", path);
    expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
    return res.body;
  };
  /** Ids of the prober's own rows matching `filter` (the owner condition keeps other probers' rows out). */
  const mine = async (prober: Prober, set: "accounts" | "contacts", filter: string): Promise<string[]> => {
    const pk = set === "accounts" ? "accountid" : "contactid";
    const body = await get(prober, `${set}?$select=${pk}&$filter=${encodeURIComponent(`_ownerid_value eq ${prober.userId} and (${filter})`)}`);
    return ((body.value ?? []) as Row[]).map((r) => String(r[pk])).sort();
  };
  const sorted = (...ids: (string | undefined)[]) => ids.map(String).sort();

  describe.each(["Basic", "Local"] as const)("%s depth, records owned in another business unit", (depth) => {
    it("cannot read the hidden records directly", async () => {
      const prober = probers[depth];
      expect((await api(o, prober.token, "GET", `accounts(${hiddenAccount})`)).status).toBe(403);
      expect((await api(o, prober.token, "GET", `contacts(${hiddenContact})`)).status).toBe(403);
    });

    it("$filter through a lookup to an unreadable record matches nothing (name, revenue, email)", async () => {
      const prober = probers[depth];
      const ids = own[depth];
      expect(await mine(prober, "contacts", `parentcustomerid_account/name eq '${HIDDEN_ACCOUNT}'`)).toEqual([]);
      expect(await mine(prober, "contacts", `parentcustomerid_account/name ne 'x'`)).toEqual(sorted(ids.visibleChild, ids.control));
      expect(await mine(prober, "contacts", "parentcustomerid_account/revenue gt 999999")).toEqual([]);
      expect(await mine(prober, "contacts", `parentcustomerid_account/revenue eq ${HIDDEN_REVENUE}`)).toEqual([]);
      expect(await mine(prober, "accounts", `primarycontactid/emailaddress1 eq '${HIDDEN_EMAIL}'`)).toEqual([]);
      expect(await mine(prober, "accounts", `startswith(primarycontactid/emailaddress1,'h')`)).toEqual([]);
      // Two navigations deep: my contact → hidden account → its hidden primary contact.
      expect(await mine(prober, "contacts", "parentcustomerid_account/primarycontactid/lastname eq 'Hidden'")).toEqual([]);
      // The negation sees the navigation as null: "not (name eq hidden)" holds for my probe contact.
      expect(await mine(prober, "contacts", `not (parentcustomerid_account/name eq '${HIDDEN_ACCOUNT}')`)).toEqual(sorted(ids.probe, ids.visibleChild, ids.control));
      // `/$count` compiles the same predicate.
      const counted = await api(o, prober.token, "GET", `contacts/$count?$filter=${encodeURIComponent(`_ownerid_value eq ${prober.userId} and parentcustomerid_account/name eq '${HIDDEN_ACCOUNT}'`)}`);
      expect(counted.status).toBe(200);
      expect(counted.body).toEqual({ text: "0" });
      // Controls: the same paths to readable records match.
      expect(await mine(prober, "contacts", `parentcustomerid_account/name eq 'Open Co ${depth}'`)).toEqual([ids.control]);
      expect(await mine(prober, "contacts", "parentcustomerid_account/revenue lt 10")).toEqual([ids.control]);
      expect(await mine(prober, "accounts", `primarycontactid/emailaddress1 eq 'visible-${depth.toLowerCase()}@contoso.example'`)).toEqual([ids.openAccount]);
    });

    it("any/all over a collection ignore the related rows the caller cannot read", async () => {
      const prober = probers[depth];
      const ids = own[depth];
      expect(await mine(prober, "accounts", "contact_customer_accounts/any(c:c/lastname eq 'Hidden child')")).toEqual([]);
      expect(await mine(prober, "accounts", "contact_customer_accounts/any(c:c/lastname eq 'Visible')")).toEqual([ids.account]);
      // all: the hidden child does not exist for the caller, so every child of my account is 'Visible'.
      expect(await mine(prober, "accounts", "contact_customer_accounts/all(c:c/lastname eq 'Visible')")).toEqual(sorted(ids.account, ids.childAccount));
      expect(await mine(prober, "accounts", "contact_customer_accounts/any()")).toEqual(sorted(ids.account, ids.openAccount));
      // A lambda whose predicate goes through a lookup: both joins are scoped.
      expect(await mine(prober, "accounts", `account_parent_account/any(a:a/primarycontactid/emailaddress1 eq '${HIDDEN_EMAIL}')`)).toEqual([]);
      expect(await mine(prober, "accounts", `account_parent_account/any(a:a/name eq 'Probe child ${depth}')`)).toEqual([ids.account]);
    });

    it("$apply filter(…) and groupby through a navigation see unreadable records as absent", async () => {
      const prober = probers[depth];
      const count = async (filter: string) => {
        const body = await get(prober, `contacts?$apply=${encodeURIComponent(`filter(_ownerid_value eq ${prober.userId} and ${filter})/aggregate($count as n)`)}`);
        return ((body.value ?? []) as Row[])[0]?.n;
      };
      expect(await count(`parentcustomerid_account/name eq '${HIDDEN_ACCOUNT}'`)).toBe(0);
      expect(await count("parentcustomerid_account/revenue gt 999999")).toBe(0);
      expect(await count(`parentcustomerid_account/name eq 'Open Co ${depth}'`)).toBe(1);
      const lambda = await get(prober, `accounts?$apply=${encodeURIComponent(`filter(_ownerid_value eq ${prober.userId} and contact_customer_accounts/any(c:c/lastname eq 'Hidden child'))/aggregate($count as n)`)}`);
      expect(lambda.value).toEqual([{ n: 0 }]);
      // groupby over the navigation: the hidden company's name never comes back; my probe contact groups under no name.
      const groups = await get(prober, `contacts?$apply=${encodeURIComponent(`filter(_ownerid_value eq ${prober.userId})/groupby((parentcustomerid_account/name),aggregate($count as n))`)}`);
      const names = ((groups.value ?? []) as Row[]).map((g) => g.account_name ?? null);
      expect(names).not.toContain(HIDDEN_ACCOUNT);
      expect(names.sort()).toEqual([null, `Open Co ${depth}`, `Probe ${depth}`].sort());
      const revenue = await get(prober, `contacts?$apply=${encodeURIComponent(`filter(_ownerid_value eq ${prober.userId})/aggregate(parentcustomerid_account/revenue with max as top)`)}`);
      expect(revenue.value).toEqual([{ top: 5 }]);
    });

    it("$expand: a nested $filter through a lookup is scoped, and a single-valued expand of a hidden record is null", async () => {
      const prober = probers[depth];
      const ids = own[depth];
      const expanded = async (filter: string) => {
        const body = await get(prober, `accounts(${ids.account})?$select=name&$expand=${encodeURIComponent(`account_parent_account($select=name;$filter=${filter})`)}`);
        return ((body.account_parent_account ?? []) as Row[]).map((r) => r.accountid);
      };
      expect(await expanded(`primarycontactid/emailaddress1 eq '${HIDDEN_EMAIL}'`)).toEqual([]);
      expect(await expanded("primarycontactid/lastname eq 'Hidden'")).toEqual([]);
      expect(await expanded(`name eq 'Probe child ${depth}'`)).toEqual([ids.childAccount]);
      const nested = await get(prober, `contacts(${ids.probe})?$select=lastname&$expand=parentcustomerid_account($select=name,revenue)`);
      expect(nested.parentcustomerid_account).toBeNull();
      const children = await get(prober, `accounts(${ids.account})?$select=name&$expand=${encodeURIComponent("contact_customer_accounts($select=lastname)")}`);
      expect(((children.contact_customer_accounts ?? []) as Row[]).map((c) => c.lastname)).toEqual(["Visible"]);
    });

    it("FetchXML link-entity and exists links carry the scope too", async () => {
      const prober = probers[depth];
      const ids = own[depth];
      const fetch = async (link: string) => {
        const xml = `<fetch><entity name="contact"><attribute name="contactid"/><filter><condition attribute="ownerid" operator="eq" value="${prober.userId}"/></filter>${link}</entity></fetch>`;
        const body = await get(prober, `contacts?fetchXml=${encodeURIComponent(xml)}`);
        return ((body.value ?? []) as Row[]).map((r) => String(r.contactid)).sort();
      };
      for (const type of ["inner", "exists", "in"]) {
        expect(await fetch(`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="${type}"><filter><condition attribute="name" operator="eq" value="${HIDDEN_ACCOUNT}"/></filter></link-entity>`), type).toEqual([]);
        expect(await fetch(`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="${type}"><filter><condition attribute="revenue" operator="lt" value="10"/></filter></link-entity>`), type).toEqual([ids.control]);
      }
    });

    it("$orderby on a lookup path stays refused", async () => {
      const res = await api(o, probers[depth].token, "GET", "contacts?$orderby=parentcustomerid_account/revenue desc");
      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe("0x80060888");
    });
  });

  it("a Local-depth caller still reaches records of its own business unit through lookups", async () => {
    // The Basic prober's records are in Sales: readable at Local depth, so paths through them match.
    const basic = own.Basic;
    const local = probers.Local;
    const body = await get(local, `contacts?$select=contactid&$filter=${encodeURIComponent("parentcustomerid_account/name eq 'Probe Basic'")}`);
    expect(((body.value ?? []) as Row[]).map((r) => r.contactid)).toEqual([basic.visibleChild]);
    const none = await get(probers.Basic, `contacts?$select=contactid&$filter=${encodeURIComponent("parentcustomerid_account/name eq 'Probe Local'")}`);
    expect(none.value).toEqual([]);
  });

  it("a join into a table the caller holds no Read privilege on fails with 0x80040220, as a link-entity does", async () => {
    const svc = o.dataverse.service;
    const role = await svc.createRole(org, { name: "Contacts only", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadContact", depth: "Global" }] });
    const user = await appUser(o, org, "contacts only", salesBu, [role]);
    expect((await api(o, user.token, "GET", "contacts?$select=lastname&$filter=lastname eq 'Hidden'")).status).toBe(200);
    const paths = [
      `contacts?$filter=${encodeURIComponent(`parentcustomerid_account/name eq '${HIDDEN_ACCOUNT}'`)}`,
      `contacts?$apply=${encodeURIComponent(`filter(parentcustomerid_account/revenue gt 999999)/aggregate($count as n)`)}`,
      `contacts?$apply=${encodeURIComponent("groupby((parentcustomerid_account/name))")}`,
      `contacts?$filter=${encodeURIComponent("contact_customer_contacts/any(c:c/parentcustomerid_account/name eq 'x')")}`,
    ];
    for (const path of paths) {
      const res = await api(o, user.token, "GET", path);
      expect(res.status, path).toBe(403);
      expect(res.body.error?.code, path).toBe("0x80040220");
      expect(res.body.error?.message, path).toContain("is missing prvReadAccount privilege");
    }
  });

  describe("random filters through lookups and collections agree with a reference evaluator (fast-check)", () => {
    type Account = { accountid: string; name: string; revenue: number | null; primarycontactid: string | null; parentaccountid: string | null; owner: string };
    type Contact = { contactid: string; lastname: string; emailaddress1: string | null; parentcustomerid: string | null; owner: string };
    /** Kleene three-valued logic, as SQL evaluates a predicate: `null` is unknown. */
    type Tri = boolean | null;
    type Gen<T> = { text: string; test: (row: T, readable: (owner: string) => boolean) => Tri };
    const accounts: Account[] = [];
    const contacts: Contact[] = [];
    const NAMES = ["Alpha", "Beta", "Gamma"];
    const LASTNAMES = ["Smith", "Jones", "Brown"];
    const EMAILS = ["a@x.example", "b@x.example"];
    const REVENUES = [null, 10, 500, 1_000_000, 2_000_000];
    let owners: { id: string; bu: string }[] = [];

    beforeAll(async () => {
      const svc = o.dataverse.service;
      owners = [
        { id: probers.Basic.userId, bu: salesBu },
        { id: probers.Local.userId, bu: salesBu },
        { id: mate, bu: salesBu },
        { id: outsider, bu: serviceBu },
      ];
      const random = prng(11);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      for (let i = 0; i < 10; i++) accounts.push({ accountid: guid("a11ce000", i), name: pick(NAMES), revenue: pick(REVENUES), primarycontactid: null, parentaccountid: null, owner: pick(owners).id });
      for (let i = 0; i < 14; i++) contacts.push({ contactid: guid("c0ffee00", i), lastname: pick(LASTNAMES), emailaddress1: random() < 0.3 ? null : pick(EMAILS), parentcustomerid: random() < 0.2 ? null : pick(accounts).accountid, owner: pick(owners).id });
      for (const a of accounts) {
        a.primarycontactid = random() < 0.3 ? null : pick(contacts).contactid;
        a.parentaccountid = random() < 0.4 ? null : pick(accounts.filter((p) => p !== a)).accountid;
      }
      const buOf = (id: string) => owners.find((w) => w.id === id)?.bu as string;
      for (const a of accounts) await svc.insert(org, "account", { accountid: a.accountid, name: a.name, revenue: a.revenue, primarycontactid: a.primarycontactid, parentaccountid: a.parentaccountid }, a.owner, { id: a.owner, businessUnitId: buOf(a.owner) });
      for (const c of contacts) {
        await svc.insert(org, "contact", { contactid: c.contactid, lastname: c.lastname, emailaddress1: c.emailaddress1, parentcustomerid: c.parentcustomerid, parentcustomeridtype: c.parentcustomerid ? "account" : null }, c.owner, { id: c.owner, businessUnitId: buOf(c.owner) });
      }
    });

    const and = (a: Tri, b: Tri): Tri => (a === false || b === false ? false : a === true && b === true ? true : null);
    const or = (a: Tri, b: Tri): Tri => (a === true || b === true ? true : a === false && b === false ? false : null);
    const not = (a: Tri): Tri => (a === null ? null : !a);
    const ci = (a: string | null, b: string): Tri => (a === null ? null : a.toLowerCase() === b.toLowerCase());
    const num = (a: number | null, op: "gt" | "lt" | "eq", b: number): Tri => (a === null ? null : op === "gt" ? a > b : op === "lt" ? a < b : a === b);
    const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
    /** The row a lookup points at, if it exists and is readable (otherwise the navigation is null). */
    const account = (id: string | null, readable: (owner: string) => boolean) => accounts.find((a) => a.accountid === id && readable(a.owner));
    const contact = (id: string | null, readable: (owner: string) => boolean) => contacts.find((c) => c.contactid === id && readable(c.owner));
    /** `EXISTS (readable related row matching p)`: a predicate through a navigation is false when the navigation is null. */
    const exists = <T>(row: T | undefined, p: (row: T) => Tri): Tri => (row !== undefined && p(row) === true);

    const accountLeaf = (): fc.Arbitrary<Gen<Account>> =>
      fc.oneof(
        fc.constantFrom(...NAMES, "Nobody").map((n): Gen<Account> => ({ text: `name eq ${quote(n)}`, test: (a) => ci(a.name, n) })),
        fc.tuple(fc.constantFrom("gt", "lt", "eq") as fc.Arbitrary<"gt" | "lt" | "eq">, fc.constantFrom(10, 500, 999_999, 2_000_000)).map(([op, k]): Gen<Account> => ({ text: `revenue ${op} ${k}`, test: (a) => num(a.revenue, op, k) })),
        fc.constantFrom(...LASTNAMES).map((n): Gen<Account> => ({ text: `primarycontactid/lastname eq ${quote(n)}`, test: (a, r) => exists(contact(a.primarycontactid, r), (c) => ci(c.lastname, n)) })),
        fc.constantFrom(...EMAILS).map((e): Gen<Account> => ({ text: `primarycontactid/emailaddress1 eq ${quote(e)}`, test: (a, r) => exists(contact(a.primarycontactid, r), (c) => ci(c.emailaddress1, e)) })),
        fc.constantFrom(...NAMES).map((n): Gen<Account> => ({ text: `parentaccountid/name eq ${quote(n)}`, test: (a, r) => exists(account(a.parentaccountid, r), (p) => ci(p.name, n)) })),
        fc.tuple(fc.constantFrom("any", "all") as fc.Arbitrary<"any" | "all">, fc.constantFrom(...LASTNAMES, ...EMAILS)).map(([op, v]): Gen<Account> => {
          const column = v.includes("@") ? "emailaddress1" : "lastname";
          const p = (c: Contact): Tri => ci(column === "lastname" ? c.lastname : c.emailaddress1, v);
          return {
            text: `contact_customer_accounts/${op}(c:c/${column} eq ${quote(v)})`,
            test: (a, r) => {
              const children = contacts.filter((c) => c.parentcustomerid === a.accountid && r(c.owner));
              // any: some readable child where p is true; all: no readable child where p is false.
              return op === "any" ? children.some((c) => p(c) === true) : !children.some((c) => p(c) === false);
            },
          };
        }),
        fc.constantFrom(10, 999_999).map((k): Gen<Account> => ({
          text: `account_parent_account/any(x:x/revenue gt ${k})`,
          test: (a, r) => accounts.some((x) => x.parentaccountid === a.accountid && r(x.owner) && num(x.revenue, "gt", k) === true),
        })),
      );
    const contactLeaf = (): fc.Arbitrary<Gen<Contact>> =>
      fc.oneof(
        fc.constantFrom(...LASTNAMES).map((n): Gen<Contact> => ({ text: `lastname eq ${quote(n)}`, test: (c) => ci(c.lastname, n) })),
        fc.constantFrom(...EMAILS).map((e): Gen<Contact> => ({ text: `emailaddress1 eq ${quote(e)}`, test: (c) => ci(c.emailaddress1, e) })),
        fc.constant<Gen<Contact>>({ text: "emailaddress1 eq null", test: (c) => c.emailaddress1 === null }),
        fc.constantFrom(...NAMES, "Nobody").map((n): Gen<Contact> => ({ text: `parentcustomerid_account/name eq ${quote(n)}`, test: (c, r) => exists(account(c.parentcustomerid, r), (a) => ci(a.name, n)) })),
        fc.tuple(fc.constantFrom("gt", "lt") as fc.Arbitrary<"gt" | "lt">, fc.constantFrom(10, 999_999)).map(([op, k]): Gen<Contact> => ({
          text: `parentcustomerid_account/revenue ${op} ${k}`,
          test: (c, r) => exists(account(c.parentcustomerid, r), (a) => num(a.revenue, op, k)),
        })),
        fc.constant<Gen<Contact>>({ text: "parentcustomerid_account/revenue eq null", test: (c, r) => exists(account(c.parentcustomerid, r), (a) => a.revenue === null) }),
        fc.constantFrom(...LASTNAMES).map((n): Gen<Contact> => ({
          text: `parentcustomerid_account/primarycontactid/lastname eq ${quote(n)}`,
          test: (c, r) => exists(account(c.parentcustomerid, r), (a) => exists(contact(a.primarycontactid, r), (p) => ci(p.lastname, n))),
        })),
      );
    function expression<T>(leaf: fc.Arbitrary<Gen<T>>): fc.Arbitrary<Gen<T>> {
      return fc.letrec<{ e: Gen<T> }>((tie) => ({
        e: fc.oneof(
          { depthSize: "small", withCrossShrink: true },
          leaf,
          fc.tuple(tie("e"), fc.constantFrom("and", "or"), tie("e")).map(([l, op, r]): Gen<T> => ({ text: `(${l.text} ${op} ${r.text})`, test: (row, rd) => (op === "and" ? and(l.test(row, rd), r.test(row, rd)) : or(l.test(row, rd), r.test(row, rd))) })),
          tie("e").map((e): Gen<T> => ({ text: `not (${e.text})`, test: (row, rd) => not(e.test(row, rd)) })),
        ),
      })).e;
    }

    it("for Basic and Local callers, on accounts and contacts", async () => {
      const readableBy = (depth: Depth) => (owner: string) => (depth === "Basic" ? owner === probers.Basic.userId : owners.find((w) => w.id === owner)?.bu === salesBu);
      const ours = new Set([...accounts.map((a) => a.accountid), ...contacts.map((c) => c.contactid)]);
      const query = fc.oneof(
        fc.tuple(fc.constantFrom<Depth>("Basic", "Local"), expression(accountLeaf())).map(([depth, gen]) => ({ depth, set: "accounts" as const, gen: gen as Gen<Account | Contact> })),
        fc.tuple(fc.constantFrom<Depth>("Basic", "Local"), expression(contactLeaf())).map(([depth, gen]) => ({ depth, set: "contacts" as const, gen: gen as Gen<Account | Contact> })),
      );
      await fc.assert(
        fc.asyncProperty(query, async ({ depth, set, gen }) => {
          const readable = readableBy(depth);
          const pk = set === "accounts" ? "accountid" : "contactid";
          const rows: (Account | Contact)[] = set === "accounts" ? accounts : contacts;
          const expected = rows.filter((row) => readable(row.owner) && gen.test(row, readable) === true).map((row) => (row as Row)[pk] as string);
          const body = await get(probers[depth], `${set}?$select=${pk}&$filter=${encodeURIComponent(gen.text)}`);
          // Only the generated rows are compared (the probes above own other records).
          const actual = ((body.value ?? []) as Row[]).map((r) => String(r[pk])).filter((id) => ours.has(id));
          expect(actual.sort(), `${depth} ${set}?$filter=${gen.text}`).toEqual(expected.sort());
        }),
        { numRuns: 80, seed: 20261206 },
      );
    });
  });
});
