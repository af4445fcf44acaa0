/**
 * Generate python/pyro_mcp/types.py (the Python SDK's TypedDict result hints) from the output
 * schemas of the operation declarations. `npm run gen:python` writes it;
 * tests/unit/python-sdk.test.ts fails if it drifts from the declarations.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { z } from "zod";
import { OPERATIONS } from "../src/operations/index.js";
import { snake } from "../src/operations/define.js";

interface ZodDefLike {
  typeName?: string;
  innerType?: z.ZodTypeAny;
  schema?: z.ZodTypeAny;
  out?: z.ZodTypeAny;
  type?: z.ZodTypeAny;
  valueType?: z.ZodTypeAny;
  values?: readonly unknown[];
  value?: unknown;
  options?: readonly z.ZodTypeAny[] | Map<unknown, z.ZodTypeAny>;
  checks?: readonly { kind: string }[];
  shape?: () => Record<string, z.ZodTypeAny>;
}

const pascal = (name: string): string =>
  name
    .split(/[_\s-]+/)
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join("");

/** Python result type name of an SDK method: execWorkspace -> ExecWorkspaceResult. */
export const resultTypeName = (sdkName: string): string => `${pascal(snake(sdkName))}Result`;

class Renderer {
  private readonly classes: string[] = [];
  /** Structural key of each generated TypedDict -> its name, so shared shapes are written once. */
  private readonly byShape = new Map<string, string>();
  private readonly names = new Set<string>();

  typeOf(schema: z.ZodTypeAny, name: string): { py: string; optional: boolean } {
    const def = schema._def as ZodDefLike;
    switch (def.typeName) {
      case "ZodOptional": {
        const inner = this.typeOf(def.innerType as z.ZodTypeAny, name);
        return { py: inner.py, optional: true };
      }
      case "ZodDefault":
      case "ZodReadonly":
      case "ZodBranded":
      case "ZodCatch":
        return this.typeOf((def.innerType ?? def.type) as z.ZodTypeAny, name);
      case "ZodEffects":
        return this.typeOf(def.schema as z.ZodTypeAny, name);
      case "ZodPipeline":
        return this.typeOf(def.out as z.ZodTypeAny, name);
      case "ZodNullable":
        return {
          py: `${this.typeOf(def.innerType as z.ZodTypeAny, name).py} | None`,
          optional: false,
        };
      case "ZodString":
        return { py: "str", optional: false };
      case "ZodNumber":
        return { py: def.checks?.some((c) => c.kind === "int") ? "int" : "float", optional: false };
      case "ZodBoolean":
        return { py: "bool", optional: false };
      case "ZodNull":
        return { py: "None", optional: false };
      case "ZodEnum":
        return {
          py: `Literal[${(def.values ?? []).map((v) => JSON.stringify(v)).join(", ")}]`,
          optional: false,
        };
      case "ZodLiteral":
        return { py: `Literal[${pyLiteral(def.value)}]`, optional: false };
      case "ZodArray":
        return { py: `list[${this.typeOf(def.type as z.ZodTypeAny, name).py}]`, optional: false };
      case "ZodRecord":
        return {
          py: `dict[str, ${this.typeOf(def.valueType as z.ZodTypeAny, name).py}]`,
          optional: false,
        };
      case "ZodObject":
        return { py: this.typedDict(schema as z.AnyZodObject, name), optional: false };
      case "ZodUnion":
      case "ZodDiscriminatedUnion": {
        const options = [
          ...(def.options instanceof Map ? def.options.values() : (def.options ?? [])),
        ];
        const types = options.map((option, i) => this.typeOf(option, `${name}${i + 1}`).py);
        return { py: [...new Set(types)].join(" | "), optional: false };
      }
      default:
        return { py: "Any", optional: false };
    }
  }

  typedDict(schema: z.AnyZodObject, name: string): string {
    const fields = Object.entries(schema.shape as Record<string, z.ZodTypeAny>).map(
      ([field, value]) => {
        const { py, optional } = this.typeOf(value, `${name}${pascal(field)}`);
        return `    ${field}: ${optional ? `NotRequired[${py}]` : py}`;
      },
    );
    const body = fields.length > 0 ? fields.join("\n") : "    pass";
    const existing = this.byShape.get(body);
    if (existing) return existing;
    let unique = name;
    for (let n = 2; this.names.has(unique); n++) unique = `${name}${n}`;
    this.names.add(unique);
    this.byShape.set(body, unique);
    this.classes.push(`class ${unique}(TypedDict):\n${body}\n`);
    return unique;
  }

  render(): string {
    return this.classes.join("\n\n");
  }
}

function pyLiteral(value: unknown): string {
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null) return "None";
  return JSON.stringify(value);
}

export function renderPythonTypes(): string {
  const renderer = new Renderer();
  const results: string[] = [];
  for (const [sdkName, op] of Object.entries(OPERATIONS)) {
    const name = resultTypeName(sdkName);
    const { py } = renderer.typeOf(op.output as z.ZodTypeAny, name);
    // A shape shared with an earlier operation keeps that name; give this method its own alias.
    if (py !== name) results.push(`${name} = ${py}`);
  }
  return [
    '"""Result types of the Pyro methods, one per operation.',
    "",
    "Generated from the output schemas in src/operations/ (npm run gen:python). Do not edit by hand.",
    '"""',
    "",
    "from typing import Any, Literal, NotRequired, TypedDict",
    "",
    "",
    renderer.render(),
    "",
    ...results,
    "",
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  writeFileSync(path.join(root, "python", "pyro_mcp", "types.py"), renderPythonTypes());
}
