/** `work`, or a rejection naming `ms` when it does not settle within `ms` (the work itself goes on). */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined); // settled after the deadline: nothing waits for it any more
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
