import type { ReactNode } from "react";
import { PageTitle } from "../ui.tsx";

export function TokenDecoder(): ReactNode {
  return <PageTitle title="Token decoder" />;
}
export function GetToken(): ReactNode {
  return <PageTitle title="Get a token" />;
}
