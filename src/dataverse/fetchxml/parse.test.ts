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
    expect(spec.entity.filters[0]).toEqual({ type: "or", conditions: [{ attribute: "name", operator: "like", value: "a%", values: [] }], filters: [{ type: "and", conditions: [{ attribute: "industrycode", operator: "in", values: ["1", "7"] }], filters: [] }] });
    expect(spec.entity.links[0]).toMatchObject({ name: "contact", from: "parentcustomerid", to: "accountid", outer: true, alias: "c", attributes: [{ name: "fullname" }] });
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
    ["<fetch returntotalrecordcount='true'><entity name='account' /></fetch>", "0x80060888"],
    ["<fetch><entity name='account'><link-entity name='contact' from='a' to='b' link-type='exists' /></entity></fetch>", "0x80060888"],
    ["<fetch aggregate='true'><entity name='account'><attribute name='revenue' alias='x' aggregate='stdev' /></entity></fetch>", "0x80060888"],
  ])("refuses %s with %s", (xml, code) => {
    const error = failure(xml);
    expect(error).toBeInstanceOf(DataverseError);
    expect(error.status).toBe(400);
    expect(error.code).toBe(code);
  });
});
