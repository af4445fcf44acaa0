import type { PyroPaths } from "../paths.js";
import {
  checkLabels,
  checkWorkspaceName,
  ensureNameFree,
  withNamesLock,
  type Labels,
} from "./names.js";
import { writeRecord, type WorkspaceRecord } from "./record.js";
import { loadSecrets, writeSecretsFile, type SecretInput, type SecretMaterial } from "./secrets.js";

/** What create takes beside the guest spec: a name, labels and secrets. */
export interface WorkspaceIdentityOptions {
  name?: string;
  labels?: Labels;
  secrets?: SecretInput[];
}

/** The same, checked: secret files read, values in hand. */
export interface WorkspaceIdentity {
  name: string | null;
  labels: Labels;
  secrets: SecretMaterial[];
}

/** Check everything before anything is created, so bad input leaves nothing behind. */
export async function prepareIdentity(
  options: WorkspaceIdentityOptions,
): Promise<WorkspaceIdentity> {
  return {
    name: options.name === undefined ? null : checkWorkspaceName(options.name),
    labels: checkLabels(options.labels ?? {}),
    secrets: await loadSecrets(options.secrets ?? []),
  };
}

/**
 * Write a new workspace's first record with its name (taken under the names lock, so two
 * creates never get the same one), labels and secret names, and the 0600 secrets file.
 */
export async function writeNewRecord(
  paths: PyroPaths,
  record: WorkspaceRecord,
  identity: WorkspaceIdentity | undefined,
): Promise<void> {
  if (!identity) return writeRecord(paths, record);
  await writeSecretsFile(paths, record.workspace_id, identity.secrets);
  const full: WorkspaceRecord = {
    ...record,
    name: identity.name,
    labels: identity.labels,
    secrets: identity.secrets.map(({ name, source_kind }) => ({ name, source_kind })),
  };
  if (identity.name === null) return writeRecord(paths, full);
  const name = identity.name;
  await withNamesLock(paths, async () => {
    await ensureNameFree(paths, name);
    await writeRecord(paths, full);
  });
}
