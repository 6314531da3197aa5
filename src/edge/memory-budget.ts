/**
 * One memory budget for every cache an isolate keeps across requests. Caches whose size varies with
 * traffic (delivery parts and indexes, allowlist shards) charge what they hold and give memory back
 * when asked; caches bounded by entry counts (admissions, memos) reserve their worst case up front.
 * When the charged total passes the budget, the largest members evict their coldest entries until
 * the total is back under RECLAIM_TO of it.
 *
 * Sizes are estimates of heap bytes (a stored JSON's length times a factor measured by
 * `npm run bench`, which prints the real heap next to this accounting with the caches full).
 */
export interface BudgetMember {
  readonly name: string;
  /** Bytes this member holds now (as charged). */
  held(): number;
  /** Frees cold entries until it holds at most `bytes` (or nothing evictable is left). */
  shrinkTo(bytes: number): void;
}

/** After a reclaim the charged total is at most this share of the budget (hysteresis). */
const RECLAIM_TO = 0.9;

export class MemoryBudget {
  private readonly members: BudgetMember[] = [];
  private readonly reservations = new Map<string, number>();
  private reclaiming = false;

  /** `limit`: bytes for all caches together, reservations included. */
  constructor(readonly limit: number) {}

  /** Reserves a fixed amount for a cache bounded by entry counts. */
  reserve(name: string, bytes: number): void {
    this.reservations.set(name, bytes);
  }

  join(member: BudgetMember): void {
    this.members.push(member);
  }

  reserved(): number {
    let sum = 0;
    for (const bytes of this.reservations.values()) sum += bytes;
    return sum;
  }

  /** What the members hold now, reservations included. */
  used(): number {
    let sum = this.reserved();
    for (const m of this.members) sum += m.held();
    return sum;
  }

  /** Called by a member after it took more memory: evicts when the total is over the budget. */
  charged(): void {
    if (this.reclaiming || this.used() <= this.limit) return;
    this.reclaiming = true;
    try {
      const target = this.limit * RECLAIM_TO;
      // Largest member first: each gives up what the total is over, as far as it can.
      const order = [...this.members].sort((a, b) => b.held() - a.held());
      for (const m of order) {
        const over = this.used() - target;
        if (over <= 0) break;
        m.shrinkTo(Math.max(0, m.held() - over));
      }
    } finally {
      this.reclaiming = false;
    }
  }

  /** Per member and reservation, the bytes held (for the bench and /probe routes). */
  report(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.reservations);
    for (const m of this.members) out[m.name] = m.held();
    return out;
  }
}

/**
 * The caches of one isolate together: half of the 128 MB a Workers isolate may use, the rest left
 * to the code, requests in flight and the runtime.
 */
export const ISOLATE_CACHE_BUDGET_BYTES = 64 * 1024 * 1024;

/**
 * Worst cases of the caches bounded by their own limits (estimates of heap bytes): the version,
 * lower-case and regex outcome memos of the targeting rules (4,096 entries each, values of at most
 * 128 characters), and the table of configurations and targetings parts share (2 Mi characters of
 * JSON and the objects parsed from it: edge/delivery-cache.ts). Every other cache is a member charging
 * what it holds.
 */
export const RESERVED_CACHE_BYTES = {
  memos: 3 * 1024 * 1024,
  interned: 6 * 1024 * 1024,
} as const;
