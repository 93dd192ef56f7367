/**
 * A page per view, in history mode at /console/…, /portal/…, /cockpit and /login (the server
 * answers index.html for each; the scripts are under /ui/assets).
 * The console and the cockpit are the operator's, the portal a tenant's; without a session a
 * view sends to the sign-in page, which sends back after it.
 */
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router';
import { loadSession } from './composables/session';

declare module 'vue-router' {
  interface RouteMeta {
    /** Who may see the page; none: anyone. */
    kind?: 'operator' | 'tenant';
    /** The i18n key of its title (menu, breadcrumb, document title). */
    title?: string;
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/console' },
  { path: '/login', name: 'login', component: () => import('./views/login/LoginView.vue') },
  {
    path: '/console',
    component: () => import('./layouts/MainLayout.vue'),
    meta: { kind: 'operator' },
    children: [
      { path: '', redirect: '/console/overview' },
      { path: 'overview', name: 'overview', component: () => import('./views/overview/OverviewView.vue'), meta: { title: 'menu.overview' } },
      { path: 'clusters', name: 'clusters', component: () => import('./views/clusters/ClustersView.vue'), meta: { title: 'menu.clusters' } },
      { path: 'clusters/:id', name: 'cluster', component: () => import('./views/clusters/ClusterView.vue'), meta: { title: 'menu.clusters' } },
      { path: 'tenants', name: 'tenants', component: () => import('./views/tenants/TenantsView.vue'), meta: { title: 'menu.tenants' } },
      { path: 'workloads', name: 'workloads', component: () => import('./views/workloads/WorkloadsView.vue'), meta: { title: 'menu.workloads' } },
      { path: 'providers', name: 'providers', component: () => import('./views/money/ProvidersView.vue'), meta: { title: 'money.menu.providers' } },
      { path: 'statements', name: 'statements', component: () => import('./views/money/StatementsView.vue'), meta: { title: 'money.menu.statements' } },
      { path: 'invoices', name: 'invoices', component: () => import('./views/money/InvoicesView.vue'), meta: { title: 'money.menu.invoices' } },
      { path: 'payments', name: 'payments', component: () => import('./views/money/PaymentsView.vue'), meta: { title: 'money.menu.payments' } },
      { path: 'balances', name: 'balances', component: () => import('./views/money/BalancesView.vue'), meta: { title: 'money.menu.balances' } },
      { path: 'settlement', name: 'settlement', component: () => import('./views/money/SettlementView.vue'), meta: { title: 'money.menu.settlement' } },
      { path: 'catalog', name: 'ops-catalog', component: () => import('./views/ops/CatalogView.vue'), meta: { title: 'ops.menu.catalog' } },
      { path: 'plans', name: 'ops-plans', component: () => import('./views/ops/PlansView.vue'), meta: { title: 'ops.menu.plans' } },
      { path: 'tenants/:id', name: 'ops-tenant', component: () => import('./views/ops/TenantView.vue'), meta: { title: 'menu.tenants' } },
      { path: 'workloads/new', name: 'ops-workload-new', component: () => import('./views/ops/WorkloadNewView.vue'), meta: { title: 'ops.menu.newWorkload' } },
      { path: 'workloads/:id', name: 'ops-workload', component: () => import('./views/ops/WorkloadView.vue'), meta: { title: 'menu.workloads' } },
      { path: 'energy', name: 'energy', component: () => import('./views/energy/EnergyView.vue'), meta: { title: 'energy.menu' } },
      { path: 'logs', name: 'ops-logs', component: () => import('./views/ops/LogsView.vue'), meta: { title: 'ops.menu.logs' } },
    ],
  },
  { path: '/cockpit', name: 'cockpit', component: () => import('./views/cockpit/CockpitView.vue'), meta: { kind: 'operator', title: 'menu.cockpit' } },
  {
    path: '/portal',
    component: () => import('./layouts/MainLayout.vue'),
    meta: { kind: 'tenant' },
    children: [
      { path: '', redirect: '/portal/playground' },
      { path: 'playground', name: 'playground', component: () => import('./views/portal/PlaygroundView.vue'), meta: { title: 'menu.playground' } },
      { path: 'keys', name: 'keys', component: () => import('./views/portal/KeysView.vue'), meta: { title: 'portal.menu.keys' } },
      { path: 'usage', name: 'usage', component: () => import('./views/portal/UsageView.vue'), meta: { title: 'portal.menu.usage' } },
      { path: 'requests', name: 'requests', component: () => import('./views/portal/RequestsView.vue'), meta: { title: 'portal.menu.requests' } },
      { path: 'billing', name: 'billing', component: () => import('./views/portal/BillingView.vue'), meta: { title: 'portal.menu.billing' } },
      {
        path: 'workloads',
        name: 'portal-workloads',
        component: () => import('./views/portal/PortalWorkloadsView.vue'),
        meta: { title: 'portal.menu.workloads' },
      },
      { path: 'budget', name: 'budget', component: () => import('./views/portal/BudgetView.vue'), meta: { title: 'portal.menu.budget' } },
      { path: 'users', name: 'users', component: () => import('./views/portal/UsersView.vue'), meta: { title: 'portal.menu.users' } },
    ],
  },
  { path: '/:rest(.*)*', redirect: '/console' },
];

export const router = createRouter({ history: createWebHistory('/'), routes });

router.beforeEach(async (to) => {
  const kind = to.matched.find((r) => r.meta.kind)?.meta.kind;
  if (!kind) return true;
  const s = await loadSession();
  if (!s) return { name: 'login', query: { next: to.fullPath } };
  if (s.kind !== kind) return s.kind === 'tenant' ? '/portal' : '/console';
  return true;
});
