/**
 * `GET /_orgbox/clock` and `POST /_orgbox/clock` (time travel, see `time-travel.ts`), on the admin
 * surface (`Authorization: Bearer {adminKey}`, registered by `registerAdmin`).
 */
import type { FastifyInstance } from "fastify";
import { ClockMoveError, type TimeTravel } from "./time-travel.ts";

/**
 * `GET /_orgbox/clock` → {@link ClockState}; `POST /_orgbox/clock` with exactly one of
 * `{"advanceSeconds": N}` (a number ≥ 0) or `{"now": "<ISO 8601 with zone>"}` (not earlier than
 * orgbox's now) → the new {@link ClockState}. Anything else: 400 `{error: "invalid_request", error_description}`.
 */
export function registerClockAdmin(scope: FastifyInstance, timeTravel: TimeTravel): void {
  scope.get("/_orgbox/clock", async (_request, reply) => reply.header("cache-control", "no-store").send(timeTravel.state()));
  scope.post("/_orgbox/clock", async (request, reply) => {
    const body = request.body as Record<string, unknown> | undefined;
    const refuse = (message: string) => reply.status(400).send({ error: "invalid_request", error_description: message });
    if (typeof body !== "object" || body === null || Array.isArray(body)) return refuse('send a JSON object: {"advanceSeconds": 86400} or {"now": "2027-01-01T00:00:00Z"}');
    const keys = Object.keys(body);
    const unknown = keys.filter((k) => k !== "advanceSeconds" && k !== "now");
    if (unknown.length > 0) return refuse(`unknown propert${unknown.length > 1 ? "ies" : "y"} ${unknown.map((k) => `'${k}'`).join(", ")}: send advanceSeconds or now`);
    if (keys.length !== 1) return refuse("send exactly one of advanceSeconds or now");
    try {
      const state = "now" in body ? await timeTravel.set(body.now as string) : await timeTravel.advance(body.advanceSeconds as number);
      request.log.info({ offsetSeconds: state.offsetSeconds, now: state.now }, "clock moved");
      return reply.header("cache-control", "no-store").send(state);
    } catch (error) {
      if (error instanceof ClockMoveError) return refuse(error.message);
      throw error;
    }
  });
}
