import type { ReactNode } from "react";
import { PageTitle } from "../ui.tsx";

export function EnterpriseApps(): ReactNode {
  return <PageTitle title="Enterprise applications" />;
}
export function EnterpriseAppDetail({ id }: { id: string; tab: string }): ReactNode {
  return <PageTitle title={id} />;
}
export function Users(): ReactNode {
  return <PageTitle title="Users" />;
}
export function Groups(): ReactNode {
  return <PageTitle title="Groups" />;
}
