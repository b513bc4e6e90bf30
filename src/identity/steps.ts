/**
 * One named step of an endpoint: it reads and fills the endpoint's context object, and either
 * returns nothing (the next step runs) or the endpoint's answer (no further step runs). Errors are
 * thrown, in the identity error family (`AadError`), and rendered by the endpoint's one error hook.
 * Steps are plain named functions so that a chain reads as a list of what the endpoint does.
 */
export type Step<C, R> = (context: C) => Promise<R | undefined> | R | undefined;

/**
 * Runs `steps` in order over `context` until one returns an answer.
 * @returns the first answer, or undefined when every step ran without one.
 */
export async function runSteps<C, R>(context: C, steps: readonly Step<C, R>[]): Promise<R | undefined> {
  for (const step of steps) {
    const answer = await step(context);
    if (answer !== undefined) return answer;
  }
  return undefined;
}

/**
 * The value a previous step put into the context.
 * @throws Error when it is missing: the steps are listed in the wrong order (a programming error).
 */
export function filled<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`step order: '${what}' is not set yet`);
  return value;
}
