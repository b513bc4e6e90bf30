import { FluentProvider, webLightTheme } from "@fluentui/react-components";
import { StrictMode, useEffect, useState, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import { completeSignIn, type Account, type PortalInfo } from "./auth.ts";
import { Shell } from "./shell.tsx";
import { ErrorBar, Loading, PortalContext } from "./ui.tsx";

/** The few page-wide rules Fluent's components do not set: long ids wrap in tables, paragraphs are blocks. */
const GLOBAL_CSS = "body{margin:0}code{word-break:break-all;font-family:Consolas,'Courier New',monospace}p.fui-Text{display:block;margin:8px 0}";

function App(): ReactNode {
  const [state, setState] = useState<{ info?: PortalInfo; account?: Account; error?: unknown; ready: boolean }>({ ready: false });
  useEffect(() => {
    (async () => {
      const response = await fetch("/_orgbox/portal-info", { credentials: "omit" });
      if (!response.ok) throw new Error(`GET /_orgbox/portal-info answered ${response.status}`);
      const info = (await response.json()) as PortalInfo;
      try {
        const { account, returnTo } = await completeSignIn(info);
        if (returnTo && account) location.hash = returnTo;
        setState({ info, account, ready: true });
      } catch (error) {
        setState({ info, error, ready: true });
      }
    })().catch((error: unknown) => setState({ error, ready: true }));
  }, []);
  if (!state.ready) return <Loading label="Loading the orgbox portal…" />;
  if (!state.info) return <ErrorBar error={state.error} />;
  return (
    <PortalContext.Provider value={{ info: state.info, account: state.account }}>
      <Shell signInError={state.error} />
    </PortalContext.Provider>
  );
}

const root = document.getElementById("root");
if (root)
  createRoot(root).render(
    <StrictMode>
      <FluentProvider theme={webLightTheme} style={{ minHeight: "100vh" }}>
        <style>{GLOBAL_CSS}</style>
        <App />
      </FluentProvider>
    </StrictMode>,
  );
