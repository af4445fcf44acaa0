import { PyroError } from "../core/errors.js";
import { MESSAGE_TYPES as T, PROTOCOL_VERSION } from "../protocol/messages.js";
import type { Multiplexer } from "./mux.js";

const SETUP_DEADLINE_MS = 30_000;

/**
 * The clock and fresh entropy for a VM this supervisor saved and restored, sent through the
 * multiplexer (the agent session goes on). A hello first: if the guest saw its port close while
 * QEMU was replaced, it waits for one; if not, it answers and the answer is ignored.
 */
export function setupThroughMux(
  mux: Multiplexer,
  setup: { timeMs: number; entropy: Buffer },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      mux.ownChannelHandlers.delete(0);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => done(new PyroError("VM_BOOT_TIMEOUT", "the restored guest did not finish its setup")),
      SETUP_DEADLINE_MS,
    );
    mux.ownChannelHandlers.set(0, (frame) => {
      if (frame.header.type === T.SETUP_DONE) done();
      else if (frame.header.type === T.ERROR) {
        const message = typeof frame.header.message === "string" ? frame.header.message : "";
        done(
          new PyroError(
            "VM_BOOT_FAILED",
            `the restored guest refused its setup: ${message.slice(0, 500)}`,
          ),
        );
      }
    });
    mux.sendToAgent(0, { type: T.HELLO, protocol: PROTOCOL_VERSION, host_version: "supervisor" });
    mux.sendToAgent(0, { type: T.SETUP, time_ms: setup.timeMs }, setup.entropy);
  });
}
