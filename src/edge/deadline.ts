/** A call the check path made did not answer within its time limit. */
export class DeadlineExceeded extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = "DeadlineExceeded";
  }
}

/**
 * `promise`, or a DeadlineExceeded rejection after `ms`. The call itself is not cancelled (the
 * platform has no way to); its late answer is ignored by this caller.
 */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(what, ms)), ms);
  });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}
