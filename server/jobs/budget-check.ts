/**
 * Raises budget alerts: every 30 s the leader checks every tenant's spending this month against
 * its budget's thresholds (BudgetsService.evaluate; an alert is raised once per tenant, threshold
 * and month). Never twice at once (LeaderJob).
 */
import type { Logger } from '../log.js';
import type { LeaderElector } from '../scheduling/leader.js';
import type { BudgetsService } from '../services/budgets.service.js';
import { LeaderJob } from './leader-job.js';

/** Every 30 seconds (node-cron's optional seconds field). */
export const BUDGET_CHECK_SCHEDULE = '*/30 * * * * *';

/** The budget check as a leader job: `run()` checks now (leader only), joining a check in flight. */
export function budgetCheckJob(budgets: Pick<BudgetsService, 'evaluate'>, leader: LeaderElector, log: Logger): LeaderJob {
  return new LeaderJob({
    name: 'budget check',
    schedule: BUDGET_CHECK_SCHEDULE,
    leader,
    log,
    work: async () => {
      await budgets.evaluate();
    },
  });
}
