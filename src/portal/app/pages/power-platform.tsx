import type { ReactNode } from "react";
import { PageTitle } from "../ui.tsx";

export function PowerPlatform({ org }: { org: string; route: string[] }): ReactNode {
  return <PageTitle title={org} />;
}
