/**
 * The text content of a tool result. structuredContent carries the payload; the text is for
 * clients and models that read only text, so it stays short: a small payload as compact JSON,
 * a command's result as a status line with the end of its output, anything else cut.
 */
export const TEXT_JSON_BYTES = 4096;
const OUTPUT_TAIL_CHARS = 2048;

interface CommandLike {
  exit_code: number | null;
  stdout: string;
  stderr: string;
  stdout_bytes: number;
  stderr_bytes: number;
  state?: string;
  sequence?: number;
  timed_out?: boolean;
}

function isCommandResult(payload: unknown): payload is CommandLike {
  const p = payload as Partial<CommandLike> | null;
  return (
    typeof p === "object" &&
    p !== null &&
    typeof p.stdout === "string" &&
    typeof p.stderr === "string" &&
    typeof p.stdout_bytes === "number"
  );
}

const tail = (text: string) =>
  text.length > OUTPUT_TAIL_CHARS ? `[...]${text.slice(-OUTPUT_TAIL_CHARS)}` : text;

export function resultText(payload: unknown): string {
  const json = JSON.stringify(payload);
  if (json.length <= TEXT_JSON_BYTES) return json;
  if (isCommandResult(payload)) {
    const status = [
      payload.state ? `state=${payload.state}` : "",
      payload.sequence !== undefined ? `sequence=${payload.sequence}` : "",
      `exit_code=${String(payload.exit_code)}`,
      payload.timed_out ? "timed_out=true" : "",
      `stdout_bytes=${payload.stdout_bytes}`,
      `stderr_bytes=${payload.stderr_bytes}`,
    ].filter(Boolean);
    return [
      status.join(" "),
      "(the full result is in structuredContent; page whole output with workspace_logs and the sequence)",
      payload.stdout ? `--- stdout (end) ---\n${tail(payload.stdout)}` : "",
      payload.stderr ? `--- stderr (end) ---\n${tail(payload.stderr)}` : "",
    ]
      .filter(Boolean)
      .join("\n");
  }
  return `${json.slice(0, TEXT_JSON_BYTES)}... (${json.length} bytes in all; the full result is in structuredContent)`;
}
