import type { Migration } from "kysely";
import * as m001 from "./001_identity.ts";
import * as m002 from "./002_dataverse.ts";
import * as m003 from "./003_identity_sessions.ts";
import * as m004 from "./004_identity_credentials.ts";
import * as m005 from "./005_identity_consent.ts";
import * as m006 from "./006_identity_groups.ts";
import * as m007 from "./007_dataverse_relationships.ts";
import * as m008 from "./008_dataverse_option_sets.ts";
import * as m009 from "./009_dataverse_deletions.ts";
import * as m010 from "./010_identity_refresh_families_and_lockout.ts";
import * as m011 from "./011_identity_application_owners.ts";
import * as m012 from "./012_identity_service_principal_graph.ts";
import * as m013 from "./013_identity_directory_graph.ts";
import * as m014 from "./014_orgbox_clock.ts";
import * as m015 from "./015_identity_interaction_requirements.ts";
import * as m016 from "./016_store_changes.ts";
import * as m017 from "./017_identity_web_logout_url.ts";

/** Numbered migrations, applied in key order on every start. Never edit a landed one; add the next number. */
export const migrations: Record<string, Migration> = {
  "001_identity": m001,
  "002_dataverse": m002,
  "003_identity_sessions": m003,
  "004_identity_credentials": m004,
  "005_identity_consent": m005,
  "006_identity_groups": m006,
  "007_dataverse_relationships": m007,
  "008_dataverse_option_sets": m008,
  "009_dataverse_deletions": m009,
  "010_identity_refresh_families_and_lockout": m010,
  "011_identity_application_owners": m011,
  "012_identity_service_principal_graph": m012,
  "013_identity_directory_graph": m013,
  "014_orgbox_clock": m014,
  "015_identity_interaction_requirements": m015,
  "016_store_changes": m016,
  "017_identity_web_logout_url": m017,
};
