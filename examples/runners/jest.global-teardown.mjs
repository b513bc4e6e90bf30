// Jest globalTeardown: closes the orgbox of jest.global-setup.mjs.
export default async function globalTeardown() {
  await globalThis.__ORGBOX__?.close();
  delete globalThis.__ORGBOX__;
}
