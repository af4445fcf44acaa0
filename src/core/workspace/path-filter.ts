import { invalidArgument } from "../errors.js";

/**
 * Include/exclude globs for diff (and anything else that walks /workspace). Paths are relative to
 * /workspace. `*` and `?` stay within one path component, `**` crosses them. A pattern without a
 * `/` matches any single component (`__pycache__`, `*.pyc`), as in .gitignore; one with a `/`
 * matches from /workspace (`build/**`, `src/*.ts`). A pattern that matches a directory also
 * matches everything below it. A path is kept when it matches some include (or there are none)
 * and no exclude.
 */
export interface PathFilter {
  include: readonly string[];
  exclude: readonly string[];
}

const MAX_PATTERNS = 64;
const MAX_PATTERN_LENGTH = 256;

function globRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` matches zero or more whole directories; a bare `**` anything.
      if (glob[i + 2] === "/") {
        source += "(?:.*/)?";
        i += 2;
      } else {
        source += ".*";
        i += 1;
      }
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

interface Compiled {
  anchored: boolean;
  re: RegExp;
}

function compile(patterns: readonly string[], flag: string): Compiled[] {
  if (patterns.length > MAX_PATTERNS)
    throw invalidArgument(`at most ${MAX_PATTERNS} ${flag} patterns`, `Give fewer ${flag} globs.`);
  return patterns.map((raw) => {
    const glob = raw
      .replace(/^\.?\/+/, "")
      .replace(/^workspace\//, "")
      .replace(/\/+$/, "");
    if (glob === "" || raw.length > MAX_PATTERN_LENGTH || raw.includes("\0")) {
      throw invalidArgument(
        `${flag} pattern ${JSON.stringify(raw)} is empty or too long`,
        `Give ${flag} globs such as 'src/**' or '__pycache__'.`,
      );
    }
    return { anchored: glob.includes("/"), re: globRegExp(glob) };
  });
}

function matches(patterns: Compiled[], rel: string): boolean {
  const parts = rel.split("/");
  return patterns.some((p) => {
    if (!p.anchored) return parts.some((part) => p.re.test(part));
    for (let n = 1; n <= parts.length; n++) if (p.re.test(parts.slice(0, n).join("/"))) return true;
    return false;
  });
}

/** A predicate for relative paths, or null when no filter was given. */
export function pathFilter(filter: Partial<PathFilter>): ((rel: string) => boolean) | null {
  const include = compile(filter.include ?? [], "--include");
  const exclude = compile(filter.exclude ?? [], "--exclude");
  if (include.length === 0 && exclude.length === 0) return null;
  return (rel) => (include.length === 0 || matches(include, rel)) && !matches(exclude, rel);
}
