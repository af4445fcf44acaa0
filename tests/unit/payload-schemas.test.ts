import type { z } from "zod";
import { describe, expect, it } from "vitest";
import type { WorkspaceManager } from "../../src/core/manager.js";
import { OPERATIONS, type Operations } from "../../src/operations/index.js";

/**
 * Every field a manager payload carries (at any depth) is in its operation's strict output
 * schema and the other way round. A field core adds without declaring it would fail MCP's
 * output validation at run time; this makes it fail `tsc` first, naming the operation.
 */
type FieldTree<T> = T extends readonly (infer E)[]
  ? FieldTree<E>
  : T extends object
    ? { [K in keyof T]-?: FieldTree<NonNullable<T[K]>> }
    : never;
type Payload<K extends keyof Operations> = Awaited<ReturnType<WorkspaceManager[K]>>;
type Declared<K extends keyof Operations> = z.output<Operations[K]["output"]>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Mismatched = {
  [K in keyof Operations]: Same<FieldTree<Payload<K>>, FieldTree<Declared<K>>> extends true
    ? never
    : K;
}[keyof Operations];

// A compile error here names the operations whose payload and output schema disagree.
const everyPayloadDeclared: [Mismatched] extends [never] ? true : Mismatched = true;

describe("payload schemas", () => {
  it("every operation's output schema has exactly the fields of its manager payload", () => {
    expect(everyPayloadDeclared).toBe(true);
    expect(Object.keys(OPERATIONS).length).toBeGreaterThan(30);
  });
});
