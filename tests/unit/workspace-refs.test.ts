import { describe, expect, it } from "vitest";
import { WorkspaceManager } from "../../src/core/manager.js";
import { WORKSPACE_REF_METHODS } from "../../src/core/workspace/refs.js";

const PRIVATE_HELPERS = ["guestOnly"];

describe("workspace references", () => {
  it("every manager method that takes a workspace first resolves names and redacts secrets", () => {
    const proto = WorkspaceManager.prototype as unknown as Record<string, unknown>;
    const takesWorkspaceFirst = Object.getOwnPropertyNames(proto).filter((name) => {
      const method = proto[name];
      if (typeof method !== "function" || name === "constructor") return false;
      // Private helpers (called by the public methods with an id already resolved).
      if (PRIVATE_HELPERS.includes(name)) return false;
      const params = /^[^(]*\(([^)]*)\)/.exec(method.toString())?.[1] ?? "";
      return params.split(",")[0]?.trim().startsWith("workspaceId") === true;
    });
    expect(takesWorkspaceFirst.length).toBeGreaterThan(30);
    expect([...takesWorkspaceFirst].sort()).toEqual([...WORKSPACE_REF_METHODS].sort());
  });
});
