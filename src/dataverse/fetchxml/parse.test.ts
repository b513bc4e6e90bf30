import { describe, expect, it } from "vitest";
import { DataverseError } from "../errors.ts";
import { parseFetchXml } from "./parse.ts";

function failure(xml: string): DataverseError {
  try {
    parseFetchXml(xml);
  } catch (error) {
    return error as DataverseError;
  }
  throw new Error("expected the FetchXML to be refused");
}

describe("parseFetchXml", () => {
  it("reads fetch attributes, attributes, orders, nested filters, values and link-entities", () => {
    const spec = parseFetchXml(`<fetch count="5" page="2" distinct="true" mapping="logical">
      <entity name="account">
        <attribute name="name" /><order attribute="name" descending="true" />
        <filter type="or"><condition attribute="name" operator="like" value="a%" /><filter><condition attribute="industrycode" operator="in"><value>1</value><value>7</value></condition></filter></filter>
        <link-entity name="contact" from="parentcustomerid" to="accountid" link-type="outer" alias="c"><attribute name="fullname" /></link-entity>
      </entity></fetch>`);
    expect(spec).toMatchObject({ count: 5, page: 2, distinct: true, aggregate: false });
    expect(spec.entity.attributes).toEqual([{ name: "name", groupby: false, distinct: false }]);
    expect(spec.entity.orders).toEqual([{ attribute: "name", descending: true }]);
    expect(spec.entity.filters[0]).toEqual({ type: "or", conditions: [{ attribute: "name", operator: "like", value: "a%", values: [] }], filters: [{ type: "and", conditions: [{ attribute: "industrycode", operator: "in", values: ["1", "7"] }], filters: [], links: [] }], links: [] });
    expect(spec.entity.links[0]).toMatchObject({ name: "contact", from: "parentcustomerid", to: "accountid", outer: true, type: "outer", alias: "c", attributes: [{ name: "fullname" }] });
  });

  it("reads link-entities that filter by related rows: exists beside attributes, any inside a filter", () => {
    const spec = parseFetchXml(`<fetch><entity name="account">
        <link-entity name="contact" from="parentcustomerid" to="accountid" link-type="exists"><filter><condition attribute="lastname" operator="eq" value="x" /></filter></link-entity>
        <filter><link-entity name="lead" from="parentaccountid" to="accountid" link-type="not any" /></filter>
      </entity></fetch>`);
    expect(spec.entity.links[0]).toMatchObject({ name: "contact", type: "exists", outer: false, attributes: [] });
    expect(spec.entity.filters[0]?.links[0]).toMatchObject({ name: "lead", type: "not any" });
    expect(() => parseFetchXml(`<fetch><entity name="account"><link-entity name="lead" from="parentaccountid" to="accountid" link-type="all" /></entity></fetch>`)).toThrow(/must stand inside a <filter>/);
    expect(() => parseFetchXml(`<fetch><entity name="account"><filter><link-entity name="lead" from="parentaccountid" to="accountid" link-type="outer" /></filter></entity></fetch>`)).toThrow(/inside a <filter> needs link-type/);
  });

  it("reads aggregate attributes", () => {
    const spec = parseFetchXml(`<fetch aggregate="true"><entity name="account"><attribute name="address1_city" alias="city" groupby="true" /><attribute name="revenue" alias="total" aggregate="sum" /></entity></fetch>`);
    expect(spec.entity.attributes).toEqual([
      { name: "address1_city", alias: "city", groupby: true, distinct: false },
      { name: "revenue", alias: "total", groupby: false, aggregate: "sum", distinct: false },
    ]);
  });

  it.each([
    ["<fetch><entity name='account'>", "0x80040203"],
    ["<fetch><entity name='account' /><entity name='contact' /></fetch>", "0x80040203"],
    ["<savedquery />", "0x80040203"],
    ["<fetch top='0'><entity name='account' /></fetch>", "0x80040203"],
    ["<fetch top='5' count='5'><entity name='account' /></fetch>", "0x80040203"],
    ["<fetch><entity name='account'><filter type='xor' /></entity></fetch>", "0x80040203"],
    ["<fetch><entity name='account'><condition attribute='name' /></entity></fetch>", "0x80060888"],
    ["<fetch returntotalrecordcount='true' top='5'><entity name='account' /></fetch>", "0x80040203"],
    ["<fetch returntotalrecordcount='maybe'><entity name='account' /></fetch>", "0x80040203"],
    ["<fetch><entity name='account'><link-entity name='contact' from='a' to='b' link-type='matchfirstrowusingcrossapply' /></entity></fetch>", "0x80060888"],
    ["<fetch aggregate='true'><entity name='account'><attribute name='revenue' alias='x' aggregate='stdev' /></entity></fetch>", "0x80060888"],
  ])("refuses %s with %s", (xml, code) => {
    const error = failure(xml);
    expect(error).toBeInstanceOf(DataverseError);
    expect(error.status).toBe(400);
    expect(error.code).toBe(code);
  });
});
