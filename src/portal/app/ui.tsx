import { Button, Field, Input, MessageBar, MessageBarBody, MessageBarTitle, Spinner, Tooltip } from "@fluentui/react-components";
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { ApiError } from "./api.ts";
import type { Account, PortalInfo } from "./auth.ts";

/** What every page reads: the public facts, the signed-in account, and its tenant's display name. */
export interface Portal {
  info: PortalInfo;
  account: Account | undefined;
}

export const PortalContext = createContext<Portal | undefined>(undefined);

export function usePortal(): Portal {
  const portal = useContext(PortalContext);
  if (!portal) throw new Error("usePortal outside the portal");
  return portal;
}

/** The signed-in account (pages under the shell are only shown signed in). */
export function useAccount(): Account {
  const { account } = usePortal();
  if (!account) throw new Error("not signed in");
  return account;
}

/** The signed-in tenant's display name ("Contoso"). */
export function useTenantName(): string {
  const { info } = usePortal();
  const account = useAccount();
  return info.tenants.find((t) => t.id === account.tenantId)?.displayName ?? account.tenantId;
}

/** The current hash route, split on `/` ("#/entra/apps/x" → ["entra", "apps", "x"]). */
export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, "").split("?")[0]!.split("/").filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function navigate(path: string): void {
  location.hash = `#${path}`;
}

/** A load: the data, the error of the API (shown as it came), and a reload. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; key: string }>({ data: undefined, error: undefined, key: "" });
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(deps);
  useEffect(() => {
    let live = true;
    // A reload keeps showing the data it replaces (no flash, the page keeps its state); other inputs start afresh.
    setState((s) => (s.key === key ? { ...s, error: undefined } : { data: undefined, error: undefined, key }));
    load().then(
      (data) => live && setState({ data, error: undefined, key }),
      (error: unknown) => live && setState({ data: undefined, error, key }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data: state.key === key ? state.data : undefined, error: state.key === key ? state.error : undefined, reload: useCallback(() => setTick((t) => t + 1), []) };
}

/** An API's denial or failure, shown with the service's own code and message. */
export function ErrorBar({ error }: { error: unknown }): ReactNode {
  if (!error) return null;
  const title = error instanceof ApiError ? `${error.status} ${error.code}` : "Error";
  const message = error instanceof Error ? error.message : String(error);
  return (
    <MessageBar intent="error" role="alert" style={{ margin: "8px 0" }}>
      <MessageBarBody>
        <MessageBarTitle>{title}</MessageBarTitle>
        {message}
      </MessageBarBody>
    </MessageBar>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }): ReactNode {
  return <Spinner size="small" label={label} style={{ justifyContent: "flex-start", margin: "12px 0" }} />;
}

/** A read-only value with a "Copy to clipboard" button, as the portal shows ids. */
/** What a {@link useLoad} read shows until it has data: the API's error, or a spinner while it loads. */
export function LoadState({ state }: { state: { data: unknown; error: unknown } }): ReactNode {
  return (
    <>
      <ErrorBar error={state.error} />
      {!state.data && !state.error && <Loading />}
    </>
  );
}

export function CopyField({ label, value }: { label: string; value: string }): ReactNode {
  const [copied, setCopied] = useState(false);
  return (
    <Field label={label} style={{ marginBottom: 8 }}>
      <div style={{ display: "flex", gap: 4, alignItems: "center" }}>
        <Input readOnly value={value} style={{ flex: 1, maxWidth: 620 }} aria-label={label} />
        <Tooltip content={copied ? "Copied" : "Copy to clipboard"} relationship="description">
          <Button
            aria-label={`Copy ${label} to clipboard`}
            onClick={() => {
              void navigator.clipboard?.writeText(value).catch(() => undefined);
              setCopied(true);
            }}
          >
            {copied ? "Copied" : "Copy"}
          </Button>
        </Tooltip>
      </div>
    </Field>
  );
}

/** A page heading with an optional breadcrumb trail (plain links). */
/**
 * The "Manage" menu of a resource's blade (App registrations, Enterprise applications): one link per tab
 * under `base` (`#/entra/apps/{id}`), the current one marked `aria-current="page"`.
 */
export function ManageNav({ tabs, base, current }: { tabs: readonly (readonly [string, string])[]; base: string; current: string }): ReactNode {
  return (
    <nav aria-label="Manage" style={{ width: 200, flexShrink: 0 }}>
      <ul style={{ listStyle: "none", padding: 0, margin: 0 }}>
        {tabs.map(([key, label]) => (
          <li key={key}>
            <a
              href={`${base}/${key}`}
              aria-current={key === current ? "page" : undefined}
              style={{ display: "block", padding: "6px 10px", color: "#242424", textDecoration: "none", background: key === current ? "#ebf3fc" : undefined, fontWeight: key === current ? 600 : 400 }}
            >
              {label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function PageTitle({ title, trail = [] }: { title: string; trail?: { label: string; href: string }[] }): ReactNode {
  return (
    <header style={{ marginBottom: 12 }}>
      {trail.length > 0 && (
        <nav aria-label="Breadcrumb" style={{ fontSize: 13, marginBottom: 4 }}>
          {trail.map((t, i) => (
            <span key={t.href}>
              {i > 0 && " > "}
              <a href={t.href} style={{ color: "#0f6cbd" }}>
                {t.label}
              </a>
            </span>
          ))}
        </nav>
      )}
      <h1 style={{ fontSize: 24, fontWeight: 600, margin: 0 }}>{title}</h1>
    </header>
  );
}

/** A date (ms or ISO) as the portal shows it: "12/6/2026". */
export function shortDate(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleDateString("en-US", { timeZone: "UTC" });
}
