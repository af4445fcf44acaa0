/** Placeholder, replaced below. */
export async function offlineUsage(
  _disk: string,
): Promise<{ used_bytes: number; entry_count: number }> {
  return { used_bytes: 0, entry_count: 0 };
}
