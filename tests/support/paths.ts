import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = path.join(REPO_ROOT, "dist", "src", "cli", "main.js");
export const AGENT = path.join(REPO_ROOT, "build", "agent", "pyro-agent");
