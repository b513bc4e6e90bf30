// Runs the example test with orgbox started once by jest.global-setup.mjs:
//   npx jest --config examples/runners/jest.config.mjs
// (paths are relative to this file's folder, Jest's rootDir)
export default {
  testMatch: ["<rootDir>/jest.example.test.cjs"],
  globalSetup: "<rootDir>/jest.global-setup.mjs",
  globalTeardown: "<rootDir>/jest.global-teardown.mjs",
};
