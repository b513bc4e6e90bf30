/**
 * Resolves once the process `pid` no longer exists (`kill(pid, 0)` fails with ESRCH), checking every
 * 50 ms: for processes a test did not start itself and so cannot wait on (a grandchild, a process
 * under a supervisor). Resolves to `false` when it is still there after `timeoutMs` milliseconds.
 */
export async function processGone(pid: number, timeoutMs = 15_000): Promise<boolean> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ESRCH") return true;
      throw error;
    }
  }
  return false;
}

/** True while the process `pid` exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
