/**
 * The leading scheduler's copy of the active placements. Reading every placement for every cycle
 * costs more than deciding on the pending workloads, so the copy is kept between cycles and read
 * again only when the placement epoch (migration 0006) shows that something other than this
 * scheduler's own commits changed what placements hold: a workload deleted or rescaled, a
 * placement lost, a model's cost factor edited, another replica's commit.
 *
 * The copy errs only on the safe side: a change made while it is being read is either in it or
 * moves the epoch past the one recorded with it, so the next cycle reads again.
 */
import type { ActivePlacement, WorkloadsRepository } from '../repositories/workloads.repository.js';

export class ActivePlacements {
  private rows: ActivePlacement[] | undefined;
  private epoch = -1;
  private reads = 0;

  constructor(private readonly workloads: WorkloadsRepository) {}

  /** The active placements now: the copy if the epoch has not moved, else read anew. */
  async current(): Promise<readonly ActivePlacement[]> {
    // The epoch is read first: whatever commits after this is either already in the rows read
    // below (harmless) or moves the epoch again.
    const epoch = await this.workloads.placementEpoch();
    if (this.rows && epoch === this.epoch) return this.rows;
    this.rows = await this.workloads.active();
    this.epoch = epoch;
    this.reads++;
    return this.rows;
  }

  /**
   * Applies this scheduler's own commit: `epoch` is what the commit moved the counter to. If the
   * counter moved exactly once since the copy was read, nothing else changed it in between and
   * the copy plus this commit is the truth; otherwise the copy is dropped.
   */
  committed(epoch: number, added: readonly ActivePlacement[], releasedWorkloads: ReadonlySet<string>): void {
    if (!this.rows || epoch !== this.epoch + 1) {
      this.forget();
      return;
    }
    if (releasedWorkloads.size > 0) this.rows = this.rows.filter((r) => !releasedWorkloads.has(r.workload_id));
    for (const r of added) this.rows.push(r);
    this.epoch = epoch;
  }

  /** Drops the copy (leadership changed, a cycle failed): the next cycle reads everything. */
  forget(): void {
    this.rows = undefined;
    this.epoch = -1;
  }

  /** The copy as it stands, if one is kept (tests compare it with the table). */
  get kept(): readonly ActivePlacement[] | undefined {
    return this.rows;
  }

  /** How many times the placements were read in full (metrics and tests). */
  get fullReads(): number {
    return this.reads;
  }
}
