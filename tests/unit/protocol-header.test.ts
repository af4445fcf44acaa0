import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { HEADER_PATH, renderProtocolHeader } from "../../scripts/gen-protocol-header.js";

describe("protocol definition", () => {
  it("protocol header: the C header matches the TypeScript message table (run npm run gen:protocol)", () => {
    expect(readFileSync(HEADER_PATH, "utf8")).toBe(renderProtocolHeader());
  });
});
