/**
 * A guest output handler that writes to one of our own streams with backpressure: when the
 * stream's buffer is full (`write` returned false; a slow pipe reader, say), the returned promise
 * waits for 'drain', and the connection grants the guest no more output until then.
 */
export function streamTo(stream: NodeJS.WritableStream): (chunk: Buffer) => Promise<void> | void {
  return (chunk) => {
    if (stream.write(chunk)) return;
    return new Promise<void>((resolve) => {
      const done = () => {
        stream.off("drain", done);
        stream.off("close", done);
        stream.off("error", done);
        resolve();
      };
      stream.on("drain", done);
      stream.on("close", done);
      stream.on("error", done);
    });
  };
}
