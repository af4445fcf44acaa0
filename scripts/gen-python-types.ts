/**
 * Generate python/pyro_mcp/types.py (the Python SDK's TypedDicts: results and structured
 * parameters) and client.pyi (the typed Pyro methods) from the operation declarations. `npm run gen:python` writes it;
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
      case "ZodDefault": {
        // Absent in input means the default; a raw payload may leave the field out too.
        const inner = this.typeOf(def.innerType as z.ZodTypeAny, name);
        return { py: inner.py, optional: true };
      }
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

interface PythonParameter {
  name: string;
  py: string;
  optional: boolean;
}

interface PythonMethod {
  name: string;
  positional: PythonParameter[];
  keywords: PythonParameter[];
  result: string;
}

/** Host paths (seed_path, source_path, output_path) also take os.PathLike, as in the original. */
const withPathLike = (field: string, py: string): string =>
  field.endsWith("_path") && py === "str" ? "str | os.PathLike[str]" : py;

const PYTHON_KEYWORDS = new Set([
  "from",
  "import",
  "class",
  "def",
  "global",
  "lambda",
  "pass",
  "in",
  "is",
  "not",
  "or",
  "and",
  "as",
  "async",
  "await",
  "with",
  "yield",
  "try",
  "except",
  "finally",
  "raise",
  "return",
  "while",
  "for",
  "if",
  "elif",
  "else",
  "del",
  "assert",
  "break",
  "continue",
  "nonlocal",
  "None",
  "True",
  "False",
]);

/** Every operation's result type and parameter types, rendered through one shared Renderer. */
function describe(renderer: Renderer): { methods: PythonMethod[]; aliases: string[] } {
  const methods: PythonMethod[] = [];
  const aliases: string[] = [];
  for (const [sdkName, op] of Object.entries(OPERATIONS)) {
    const method = snake(sdkName);
    const param = ([field, schema]: [string, z.ZodTypeAny]): PythonParameter => {
      const typed = renderer.typeOf(schema, `${pascal(method)}${pascal(field)}`);
      // A Python keyword (`from`) is spelled with a trailing underscore, as client.py does.
      const name = PYTHON_KEYWORDS.has(field) ? `${field}_` : field;
      return { name, py: withPathLike(field, typed.py), optional: typed.optional };
    };
    const shape = op.input.shape as Record<string, z.ZodTypeAny>;
    const fields = Object.entries(shape);
    const positional = op.sdkArgs as readonly string[];
    // Parameters first, so a shape shared by input and output is named after the parameter.
    const args = positional.map((f) => param([f, shape[f] as z.ZodTypeAny]));
    const keywords = fields.filter(([f]) => !positional.includes(f)).map(param);
    const name = resultTypeName(sdkName);
    const { py } = renderer.typeOf(op.output as z.ZodTypeAny, name);
    // A shape shared with an earlier operation keeps that name; give this method its own alias.
    if (py !== name) aliases.push(`${name} = ${py}`);
    methods.push({ name: method, positional: args, keywords, result: name });
  }
  return { methods, aliases };
}

export function renderPythonTypes(): string {
  const renderer = new Renderer();
  const { aliases: results } = describe(renderer);
  return [
    '"""TypedDicts of the Pyro methods: one result type per operation (`<Method>Result`) and the',
    "structured parameters (service readiness).",
    "",
    "Generated from the declarations in src/operations/ (npm run gen:python). Do not edit by hand.",
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

/**
 * The type stub of client.py: the Pyro class as type checkers and IDEs should see it, with each
 * generated method's parameters and result typed. The runtime methods are made from the table in
 * operations.py; python/tests/test_local.py checks that this stub names the same parameters.
 */
export function renderPythonStub(): string {
  const { methods } = describe(new Renderer());
  const signature = (p: PythonParameter) =>
    p.optional
      ? `${p.name}: ${p.py.endsWith(" | None") ? p.py : `${p.py} | None`} = None`
      : `${p.name}: ${p.py}`;
  const lines = methods.map((m) => {
    const params = ["self", ...m.positional.map(signature)];
    if (m.keywords.length > 0) params.push("*", ...m.keywords.map(signature));
    return `    def ${m.name}(${params.join(", ")}) -> ${m.result}: ...`;
  });
  return [
    '"""Type stub of pyro_mcp.client, generated from src/operations/ (npm run gen:python)."""',
    "",
    "import os",
    "from typing import Any, Literal",
    "",
    "from .types import *",
    "",
    "PROTOCOL_VERSION: str",
    "",
    "class Pyro:",
    "    bin: str",
    "    request_timeout: float | None",
    "    cleanup: bool",
    "    cleanup_timeout: float",
    "    server_version: str",
    "    def __init__(",
    "        self,",
    "        bin: str | os.PathLike[str] | None = None,",
    "        *,",
    "        request_timeout: float | None = None,",
    "        startup_timeout: float = 60.0,",
    "        cleanup: bool = True,",
    "        cleanup_timeout: float = 300.0,",
    "        env: dict[str, str] | None = None,",
    "        max_message_bytes: int = ...,",
    "    ) -> None: ...",
    "    def __enter__(self) -> Pyro: ...",
    "    def __exit__(self, *exc: object) -> None: ...",
    "    def close(self) -> None: ...",
    "    @property",
    "    def created(self) -> dict[str, list[str]]: ...",
    ...lines,
    "",
  ].join("\n");
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const PYTHON_TYPES_PATH = path.join(ROOT, "python", "pyro_mcp", "types.py");
export const PYTHON_STUB_PATH = path.join(ROOT, "python", "pyro_mcp", "client.pyi");

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(PYTHON_TYPES_PATH, renderPythonTypes());
  writeFileSync(PYTHON_STUB_PATH, renderPythonStub());
}
