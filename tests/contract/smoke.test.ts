import { describe, expect, it } from "vitest";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";

describe("smoke", () => {
  const orgbox = useOrgbox();
  it("serves leads to the demo app over HTTPS", async () => {
    const token = await demoToken(orgbox());
    const res = await apiGet(orgbox(), token, "leads?$select=subject&$top=2");
    expect(res.status).toBe(200);
    expect((res.body as { value: unknown[] }).value).toHaveLength(2);
  });
});
