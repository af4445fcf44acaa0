import { describe, expect, it } from "vitest";
import { redactShellRead } from "../../src/core/workspace/shells.js";
import { REDACTED, redactText, StreamRedactor } from "../../src/core/workspace/redact.js";
import { redactionValues } from "../../src/core/workspace/secrets.js";

/** The redactor alone: every split point of a value, overlapping values, what it holds back. */
describe("redaction", () => {
  const value = "s3cr3t-value";

  it("redact: a value split at every byte across two chunks never passes through", () => {
    for (let at = 0; at <= value.length; at += 1) {
      const text = `before ${value} after`;
      const cut = 7 + at;
      const r = new StreamRedactor([value]);
      const out = Buffer.concat([
        r.push(Buffer.from(text.slice(0, cut))),
        r.push(Buffer.from(text.slice(cut))),
        r.end(),
      ]).toString();
      expect(out, `split at ${at}`).toBe(`before ${REDACTED} after`);
    }
  });

  it("redact: holds back at most the longest value's length minus one, and only a possible start", () => {
    const r = new StreamRedactor([value, "ab"]);
    expect(r.push(Buffer.from("xyz s3cr3t")).toString()).toBe("xyz ");
    expect(r.push(Buffer.from("-nope")).toString()).toBe("s3cr3t-nope");
    expect(r.push(Buffer.from("plain text")).toString()).toBe("plain text");
    expect(r.end().toString()).toBe("");
    const byteWise = new StreamRedactor([value]);
    let out = "";
    for (const byte of Buffer.from(`${value}${value}x`)) out += byteWise.push(Buffer.from([byte]));
    expect(out + byteWise.end().toString()).toBe(`${REDACTED}${REDACTED}x`);
  });

  it("redact: a longer value containing a shorter one is replaced whole", () => {
    expect(redactText("a-token-b token", ["token", "a-token-b"])).toBe(`${REDACTED} ${REDACTED}`);
  });

  it("redact: a running shell's read stops before a possible start of a value", () => {
    const read = { output: "ok s3cr", next_cursor: 107, state: "running" };
    expect(redactShellRead(read, [value])).toEqual({ ...read, output: "ok ", next_cursor: 103 });
    const ended = { ...read, state: "stopped" };
    expect(redactShellRead(ended, [value]).output).toBe("ok s3cr");
  });

  it("redact: a token file's trailing newline and a multi-line value's PTY form are redacted too", () => {
    expect(redactionValues([{ value: "tok\n" }])).toEqual(["tok\n", "tok\r\n", "tok"]);
    const pem = "-----BEGIN-----\nAAAA\n-----END-----\n";
    const values = redactionValues([{ value: pem }]);
    expect(redactText(`key: ${pem.replace(/\n/g, "\r\n")}`, values)).toBe(`key: ${REDACTED}`);
    expect(redactText("-----BEGIN-----\nAAAA\n-----END-----", values)).toBe(REDACTED);
  });
});
