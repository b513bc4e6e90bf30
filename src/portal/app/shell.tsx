import { Button, Menu, MenuItemRadio, MenuList, MenuPopover, MenuTrigger, Text } from "@fluentui/react-components";
import type { ReactNode } from "react";
import { signIn, signOut } from "./auth.ts";
import { Landing } from "./pages/landing.tsx";
import { AppRegistrations, NewRegistration } from "./pages/app-registrations.tsx";
import { AppDetail } from "./pages/app-detail.tsx";
import { EnterpriseApps, EnterpriseAppDetail, Groups, Users } from "./pages/directory.tsx";
import { PowerPlatform } from "./pages/power-platform.tsx";
import { GetToken, RecentDenials, TokenDecoder } from "./pages/tools.tsx";
import { ErrorBar, usePortal, useRoute } from "./ui.tsx";

const NAV_LINK = { display: "block", padding: "6px 12px", color: "#242424", textDecoration: "none", borderRadius: 4 } as const;

function NavLink({ href, label, current }: { href: string; label: string; current: boolean }): ReactNode {
  return (
    <li>
      <a href={href} aria-current={current ? "page" : undefined} style={{ ...NAV_LINK, background: current ? "#ebf3fc" : undefined, fontWeight: current ? 600 : 400 }}>
        {label}
      </a>
    </li>
  );
}

function NavSection({ title, children }: { title: string; children: ReactNode }): ReactNode {
  return (
    <section aria-label={title} style={{ marginBottom: 12 }}>
      <h2 style={{ fontSize: 12, fontWeight: 600, textTransform: "uppercase", color: "#616161", margin: "8px 12px 4px" }}>{title}</h2>
      <ul style={{ listStyle: "none", margin: 0, padding: 0 }}>{children}</ul>
    </section>
  );
}

/** "Switch directory": orgbox has no B2B guests, so switching signs in again to the chosen tenant. */
function SwitchDirectory(): ReactNode {
  const { info, account } = usePortal();
  if (!account) return null;
  return (
    <Menu checkedValues={{ directory: [account.tenantId] }}>
      <MenuTrigger disableButtonEnhancement>
        <Button appearance="subtle" style={{ color: "#fff" }}>
          Switch directory
        </Button>
      </MenuTrigger>
      <MenuPopover>
        <MenuList aria-label="Directories">
          {info.tenants.map((t) => (
            <MenuItemRadio key={t.id} name="directory" value={t.id} onClick={() => t.id !== account.tenantId && void signIn(info, t.id, "/", "login")}>
              {t.displayName} ({t.defaultDomain})
            </MenuItemRadio>
          ))}
        </MenuList>
      </MenuPopover>
    </Menu>
  );
}

function Page({ route }: { route: string[] }): ReactNode {
  const [area, section, id, tab] = route;
  if (area === "entra") {
    if (section === "apps" && id === "new") return <NewRegistration />;
    if (section === "apps" && id) return <AppDetail objectId={id} tab={tab ?? "overview"} />;
    if (section === "apps") return <AppRegistrations />;
    if (section === "enterprise" && id) return <EnterpriseAppDetail id={id} tab={tab ?? "properties"} />;
    if (section === "enterprise") return <EnterpriseApps />;
    if (section === "users") return <Users />;
    if (section === "groups") return <Groups />;
  }
  if (area === "ppac" && section) return <PowerPlatform org={section} route={route.slice(2)} />;
  if (area === "tools" && section === "decoder") return <TokenDecoder />;
  if (area === "tools" && section === "token") return <GetToken />;
  if (area === "tools" && section === "denials") return <RecentDenials />;
  return <Landing />;
}

/** The frame: the top bar (directory, account), the left navigation, the page. */
export function Shell({ signInError }: { signInError: unknown }): ReactNode {
  const { info, account } = usePortal();
  const route = useRoute();
  const here = `#/${route.join("/")}`;
  const orgs = account ? info.orgs.filter((o) => o.tenantId === account.tenantId) : [];
  const tenant = account ? info.tenants.find((t) => t.id === account.tenantId) : undefined;
  return (
    <div style={{ display: "flex", flexDirection: "column", minHeight: "100vh" }}>
      <header style={{ background: "#0f6cbd", color: "#fff", display: "flex", alignItems: "center", gap: 12, padding: "6px 16px" }}>
        <a href="#/" style={{ color: "#fff", textDecoration: "none", fontWeight: 600, fontSize: 16 }}>
          orgbox portal
        </a>
        <Text style={{ color: "#fff" }}>Microsoft Entra ID and Power Platform admin, in a box</Text>
        <span style={{ flex: 1 }} />
        {account ? (
          <>
            <SwitchDirectory />
            <Text style={{ color: "#fff" }}>
              {account.username}
              <br />
              <span style={{ fontSize: 11, textTransform: "uppercase" }}>{tenant?.displayName ?? account.tenantId}</span>
            </Text>
            <Button appearance="subtle" style={{ color: "#fff" }} onClick={() => signOut(info)}>
              Sign out
            </Button>
          </>
        ) : null}
      </header>
      <div style={{ display: "flex", flex: 1 }}>
        {account && (
          <nav aria-label="Portal navigation" style={{ width: 240, borderRight: "1px solid #e0e0e0", padding: "8px 4px", background: "#fafafa" }}>
            <ul style={{ listStyle: "none", margin: 0, padding: 0 }}>
              <NavLink href="#/" label="Home" current={here === "#/"} />
            </ul>
            <NavSection title="Microsoft Entra ID">
              <NavLink href="#/entra/apps" label="App registrations" current={here.startsWith("#/entra/apps")} />
              <NavLink href="#/entra/enterprise" label="Enterprise applications" current={here.startsWith("#/entra/enterprise")} />
              <NavLink href="#/entra/users" label="Users" current={here.startsWith("#/entra/users")} />
              <NavLink href="#/entra/groups" label="Groups" current={here.startsWith("#/entra/groups")} />
            </NavSection>
            <NavSection title="Power Platform admin">
              {orgs.length === 0 && <li style={{ padding: "6px 12px", color: "#616161" }}>No environment in this directory</li>}
              {orgs.map((o) => (
                <NavLink key={o.name} href={`#/ppac/${o.name}`} label={o.displayName} current={here.startsWith(`#/ppac/${o.name}`)} />
              ))}
            </NavSection>
            <NavSection title="Tools">
              <NavLink href="#/tools/decoder" label="Token decoder" current={here === "#/tools/decoder"} />
              <NavLink href="#/tools/token" label="Get a token" current={here === "#/tools/token"} />
              <NavLink href="#/tools/denials" label="Recent denials" current={here === "#/tools/denials"} />
            </NavSection>
          </nav>
        )}
        <main style={{ flex: 1, padding: "16px 24px", minWidth: 0 }}>
          <ErrorBar error={signInError} />
          {account ? <Page route={route} /> : <Landing />}
        </main>
      </div>
    </div>
  );
}
