import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

/** Debian's chromium; `.ci/run` installs it (apt-get install chromium). */
export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

/** Launches headless Chromium for the e2e tests. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A headless browser and a local redirect target for the current test file. */
export interface ChromiumFixture {
  browser: Browser;
  /** `http://localhost:PORT{path}`: answers 200 "signed in" to anything. */
  redirectUri: string;
}

/**
 * Launches headless Chromium and a plain-HTTP callback server (the app's redirect
 * URI, at `path`) before the file's tests and closes both afterwards. Call it at
 * describe level; returns a getter (the fixture exists only after beforeAll).
 */
export function useChromium(path = "/callback"): () => ChromiumFixture {
  let fixture: ChromiumFixture | undefined;
  let server: Server | undefined;
  beforeAll(async () => {
    const callback = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("signed in"));
    server = callback;
    await new Promise<void>((resolve) => callback.listen(0, "127.0.0.1", resolve));
    fixture = { browser: await launchChromium(), redirectUri: `http://localhost:${(callback.address() as AddressInfo).port}${path}` };
  });
  afterAll(async () => {
    await fixture?.browser.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });
  return () => {
    if (!fixture) throw new Error("chromium is not started yet");
    return fixture;
  };
}
