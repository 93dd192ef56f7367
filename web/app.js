// The operator console (/console/) and the tenant portal (/portal/): one page each, built only on
// the public HTTP API with the session cookie; every change sends the session's CSRF token.
import { csvText } from './csv.js';
import { initialLang, makeI18n } from './i18n.js';

const area = location.pathname.startsWith('/portal') ? 'portal' : 'console';
let i18n = makeI18n(initialLang());
let session = null;
const t = (k) => i18n.t(k);
const live = []; // pool samples taken while the dashboard is open

// ---- the API -------------------------------------------------------------------------------
async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session) headers['x-csrf-token'] = session.csrfToken;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  const data = text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text;
  if (!res.ok) {
    const err = new Error(
      data?.errors?.length ? `${data.detail} (${data.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})` : (data?.detail ?? `${res.status}`),
    );
    err.status = res.status;
    throw err;
  }
  return data;
}
const all = async (path) => {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', `${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
};

// ---- tiny DOM helpers ----------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const field = (label, input) => h('label', {}, label, input);
const input = (name, attrs = {}) => h('input', { name, ...attrs });
const select = (name, options, attrs = {}) =>
  h(
    'select',
    { name, ...attrs },
    options.map(([v, l]) => h('option', { value: v }, l)),
  );
const table = (heads, rows) =>
  rows.length === 0
    ? h('p', { class: 'muted' }, t('noData'))
    : h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            heads.map((x) => h('th', { scope: 'col', class: x.num ? 'num' : undefined }, x.label ?? x)),
          ),
        ),
        h(
          'tbody',
          {},
          rows.map((r) =>
            h(
              'tr',
              {},
              r.map((c, i) => h('td', { class: heads[i]?.num ? 'num' : undefined }, c)),
            ),
          ),
        ),
      );
const num = (label) => ({ label, num: true });
const message = (el, text, kind = 'ok') => {
  el.replaceChildren(h('span', { class: kind, role: kind === 'error' ? 'alert' : 'status' }, text));
};

/** A form whose submit runs `action(values)`; errors are shown beside it, nothing is lost. */
function form(name, fields, submitLabel, action) {
  const status = h('div', { 'aria-live': 'polite' });
  const f = h('form', { 'data-form': name }, fields, h('button', { type: 'submit' }, submitLabel), status);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    // A name given several times (ticked checkboxes) becomes a list of its values.
    const values = {};
    for (const [k, v] of new FormData(f)) values[k] = k in values ? [values[k], v].flat() : v;
    status.replaceChildren();
    try {
      const shown = await action(values, status);
      if (shown !== false) message(status, t('saved'));
    } catch (err) {
      message(status, err.message, 'error');
    }
  });
  return f;
}
const secret = (value) => h('p', {}, t('shownOnce'), ' ', h('code', { class: 'secret', 'data-secret': '' }, value));

function chart(el, option) {
  if (!window.echarts) return;
  const c = window.echarts.init(el);
  c.setOption({ tooltip: { trigger: 'axis' }, grid: { left: 70, right: 20, top: 30, bottom: 30 }, ...option });
}

// ---- layout, routing -------------------------------------------------------------------------
const VIEWS = {
  console: {
    dashboard,
    clusters,
    tenants,
    keys: keysConsole,
    plans,
    engines,
    energy,
    workloads: workloadsConsole,
    requests: requestsConsole,
    billing: billingConsole,
    alerts,
  },
  portal: { workloads: workloadsPortal, call: callPortal, requests: requestsPortal, usage: usagePortal, invoices: invoicesPortal, keys, budget },
};

/** The view named by the location's hash (`#/requests?model=…`) and its parameters. */
function where() {
  const [name, query = ''] = location.hash.slice(2).split('?');
  return { name: name && name in VIEWS[area] ? name : Object.keys(VIEWS[area])[0], params: new URLSearchParams(query) };
}
/** Shows `name` with `params`; rendered again when the hash is already that (no hashchange then). */
function go(name, params = new URLSearchParams()) {
  const hash = `#/${name}${[...params.keys()].length ? `?${params}` : ''}`;
  if (location.hash === hash) render();
  else location.hash = hash;
}

function header() {
  const top = document.getElementById('top');
  document.documentElement.lang = i18n.lang;
  document.title = `Tokenpool — ${t(area)}`;
  const current = where().name;
  top.replaceChildren(
    h('span', { class: 'brand' }, `Tokenpool · ${t(area)}`),
    session
      ? h(
          'nav',
          { 'aria-label': t(area) },
          Object.keys(VIEWS[area]).map((v) => h('a', { href: `#/${v}`, 'aria-current': v === current ? 'page' : undefined }, t(v))),
        )
      : null,
    h('span', { class: 'spacer' }),
    h(
      'button',
      {
        type: 'button',
        'data-action': 'language',
        onclick: () => {
          localStorage.setItem('tokenpool.lang', i18n.lang === 'en' ? 'zh-CN' : 'en');
          i18n = makeI18n(localStorage.getItem('tokenpool.lang'));
          render();
        },
      },
      t('language'),
    ),
    session ? h('span', {}, session.name) : null,
    session ? h('button', { type: 'button', 'data-action': 'sign-out', onclick: signOut }, t('signOut')) : null,
  );
}

async function render() {
  header();
  const main = document.getElementById('main');
  if (!session) return signInPage(main);
  const { name, params } = where();
  main.replaceChildren(h('p', { class: 'loading', role: 'status' }, t('loading')));
  try {
    const content = await VIEWS[area][name](params);
    main.replaceChildren(h('h1', {}, t(name)), ...[content].flat());
    main.setAttribute('data-view', name);
  } catch (err) {
    if (err.status === 401) {
      session = null;
      return render();
    }
    main.replaceChildren(h('p', { class: 'error', role: 'alert' }, t('failed') + err.message));
  }
}
window.addEventListener('hashchange', render);
// The dashboard samples the pool every 15 s while it is shown, so its chart grows.
setInterval(() => {
  if (session && area === 'console' && document.querySelector('main[data-view="dashboard"]') && !document.hidden) render();
}, 15_000);

function signInPage(main) {
  const status = h('div', { 'aria-live': 'polite' });
  const done = async (body) => {
    try {
      session = await api('POST', '/api/v1/session', body);
      const home = session.kind === 'tenant' ? 'portal' : 'console';
      if (home !== area) {
        location.href = `/${home}/`;
        return;
      }
      render();
    } catch (err) {
      message(status, err.message, 'error');
    }
  };
  const pw = h(
    'form',
    { 'data-form': 'password' },
    field(t('username'), input('username', { autocomplete: 'username', required: true })),
    field(t('password'), input('password', { type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit' }, t('signIn')),
  );
  pw.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = Object.fromEntries(new FormData(pw));
    done({ username: v.username, password: v.password });
  });
  const tok = h(
    'form',
    { 'data-form': 'token' },
    field(t('token'), input('token', { type: 'password', autocomplete: 'off', required: true })),
    h('button', { type: 'submit' }, t('signIn')),
  );
  tok.addEventListener('submit', (e) => {
    e.preventDefault();
    done({ token: new FormData(tok).get('token') });
  });
  main.replaceChildren(
    h('section', { class: 'signin' }, h('h1', {}, `${t('signIn')} — ${t(area)}`), pw, h('p', { class: 'muted' }, t('orToken')), tok, status),
  );
  main.setAttribute('data-view', 'sign-in');
}

async function signOut() {
  await api('DELETE', '/api/v1/session').catch(() => {});
  session = null;
  render();
}

// ---- console ---------------------------------------------------------------------------------
async function dashboard() {
  const [pool, clusters, profiles] = await Promise.all([api('GET', '/api/v1/pool'), all('/api/v1/clusters'), all('/api/v1/device-profiles')]);
  live.push({ at: new Date().toISOString(), total: pool.totalStdPerMin, allocated: pool.allocatedStdPerMin });
  // Energy efficiency of the healthy devices: standard tokens per second per watt of TDP.
  const byName = new Map(profiles.flatMap((p) => [[p.name, p], ...p.aliases.map((a) => [a, p])]));
  let tokens = 0,
    watts = 0;
  for (const c of clusters)
    for (const d of c.inventory) {
      const p = byName.get(d.profile ?? d.deviceModel);
      if (p) {
        tokens += d.healthy * Number(p.stdTokensPerSec);
        watts += d.healthy * Number(p.tdpWatts);
      }
    }
  const card = (key, value, raw) =>
    h('div', { class: 'card', 'data-metric': key, 'data-value': raw }, h('div', { class: 'label' }, t(key)), h('div', { class: 'value' }, value));
  const el = h('div', { class: 'chart', role: 'img', 'aria-label': t('overTime') });
  setTimeout(() =>
    chart(el, {
      legend: { top: 0, data: [t('total'), t('allocated')] },
      xAxis: { type: 'time' },
      yAxis: { type: 'value' },
      series: [
        { name: t('total'), type: 'line', data: live.map((s) => [s.at, s.total]) },
        { name: t('allocated'), type: 'line', areaStyle: {}, data: live.map((s) => [s.at, s.allocated]) },
      ],
    }),
  );
  return [
    h(
      'div',
      { class: 'cards' },
      card('total', i18n.num(pool.totalStdPerMin), pool.totalStdPerMin),
      card('allocated', i18n.num(pool.allocatedStdPerMin), pool.allocatedStdPerMin),
      card('free', i18n.num(pool.freeStdPerMin), pool.freeStdPerMin),
      card('efficiency', watts ? i18n.num(tokens / watts) : '—', watts ? tokens / watts : ''),
      card('ready', i18n.num(pool.clusters.ready), pool.clusters.ready),
      card('notReady', i18n.num(pool.clusters.notReady), pool.clusters.notReady),
      card('cordoned', i18n.num(pool.clusters.cordoned), pool.clusters.cordoned),
    ),
    h('h2', {}, t('overTime')),
    el,
    h('h2', {}, t('byVendor')),
    table(
      [t('vendor'), num(t('devices')), num(t('total')), num(t('free'))],
      pool.byVendor.map((v) => [v.vendor, i18n.num(v.devices), i18n.num(v.totalStdPerMin), i18n.num(v.freeStdPerMin)]),
    ),
    h('h2', {}, t('byCluster')),
    table(
      [t('name'), t('state'), num(t('total')), num(t('free'))],
      pool.byCluster.map((c) => [c.name, c.state, i18n.num(c.totalStdPerMin), i18n.num(c.freeStdPerMin)]),
    ),
  ];
}

/** A placement's health as its agent reported it, when there is something to say (API values, as the API shows them). */
function health(p) {
  const what = p.state === 'failed' ? 'failed' : p.phase && p.phase !== 'running' ? p.phase : null;
  return what ? ` [${what}${p.reason ? `: ${p.reason}` : ''}]` : '';
}

async function clusters() {
  const [list, work] = await Promise.all([all('/api/v1/clusters'), all('/api/v1/workloads')]);
  const placements = new Map();
  for (const w of work)
    for (const p of w.placements)
      if (p.state === 'placed' || p.state === 'running' || p.state === 'failed')
        placements.set(p.clusterId, [...(placements.get(p.clusterId) ?? []), `${w.name} (${p.replicas}×${p.devicesPerReplica} ${p.deviceModel})${health(p)}`]);
  const register = form(
    'register-cluster',
    [field(t('name'), input('name', { required: true })), field(t('region'), input('region', { required: true }))],
    t('register'),
    async (v, status) => {
      const c = await api('POST', '/api/v1/clusters', { name: v.name, region: v.region });
      status.replaceChildren(h('p', {}, `${c.name}: ${t('agentToken')}`), secret(c.agentToken));
      return false;
    },
  );
  const hold = async (c) => {
    await api('POST', `/api/v1/clusters/${c.id}/${c.cordoned ? 'uncordon' : 'cordon'}`);
    render();
  };
  return [
    register,
    table(
      [t('name'), t('region'), t('state'), t('lastHeartbeat'), t('inventory'), t('unprofiled'), t('placementsOn'), num(t('free')), t('actions')],
      list.map((c) => [
        c.name,
        c.region,
        h('span', { 'data-cluster-state': c.name }, c.state),
        i18n.date(c.lastHeartbeatAt),
        c.inventory.map((d) => `${d.deviceModel}: ${d.healthy}/${d.total}`).join(', '),
        c.unprofiledDevices.join(', '),
        (placements.get(c.id) ?? []).join(', '),
        i18n.num(c.capacity.freeStdPerMin),
        h('button', { type: 'button', class: 'secondary', 'data-cordon': c.name, onclick: () => hold(c) }, c.cordoned ? t('uncordon') : t('cordon')),
      ]),
    ),
  ];
}

async function tenants() {
  const [list, planList] = await Promise.all([all('/api/v1/tenants'), all('/api/v1/plans')]);
  const plansOptions = planList.map((p) => [p.id, p.name]);
  const tenantOptions = list.map((x) => [x.id, x.name]);
  return [
    form(
      'create-tenant',
      [
        field(t('name'), input('name', { required: true })),
        field(
          t('kind'),
          select('kind', [
            ['government', t('government')],
            ['enterprise', t('enterprise')],
          ]),
        ),
      ],
      t('create'),
      async (v, status) => {
        const x = await api('POST', '/api/v1/tenants', { name: v.name, kind: v.kind });
        status.replaceChildren(h('p', {}, `${x.name}: ${t('keys')}`), secret(x.apiKey));
        return false;
      },
    ),
    h('h2', {}, t('setQuota')),
    form(
      'set-quota',
      [field(t('tenant'), select('tenantId', tenantOptions)), field(t('quota'), input('quota', { type: 'number', min: 0 }))],
      t('setQuota'),
      async (v) => {
        await api('PATCH', `/api/v1/tenants/${v.tenantId}`, { maxStdPerMin: v.quota === '' ? null : Number(v.quota) });
      },
    ),
    h('h2', {}, t('subscribe')),
    form('subscribe', [field(t('tenant'), select('tenantId', tenantOptions)), field(t('plan'), select('planId', plansOptions))], t('subscribe'), async (v) => {
      await api('POST', `/api/v1/tenants/${v.tenantId}/subscriptions`, { planId: v.planId });
    }),
    h('h2', {}, t('newUser')),
    form(
      'new-user',
      [
        field(t('tenant'), select('tenantId', [['', `— ${t('console')} —`], ...tenantOptions])),
        field(t('username'), input('username', { required: true, autocomplete: 'off' })),
        field(t('password'), input('password', { type: 'password', required: true, minlength: 10, autocomplete: 'new-password' })),
        field(t('admin'), input('admin', { type: 'checkbox', value: 'yes' })),
      ],
      t('create'),
      async (v) => {
        await api(
          'POST',
          '/api/v1/users',
          v.tenantId
            ? { username: v.username, password: v.password, kind: 'tenant', tenantId: v.tenantId, admin: v.admin === 'yes' }
            : { username: v.username, password: v.password, kind: 'operator' },
        );
      },
    ),
    h('h2', {}, t('tenants')),
    table(
      [t('name'), t('kind'), num(t('quota')), t('created'), t('actions')],
      list.map((x) => [
        x.name,
        t(x.kind),
        i18n.num(x.maxStdPerMin),
        i18n.date(x.createdAt),
        h(
          'span',
          {},
          h('a', { href: `#/keys?tenant=${encodeURIComponent(x.id)}`, 'data-tenant-keys': x.name }, t('keys')),
          ' · ',
          h('a', { href: `#/requests?tenantId=${encodeURIComponent(x.id)}` }, t('requests')),
        ),
      ]),
    ),
  ];
}

/** A tenant picked from the list (`?tenant=`), for the console's per-tenant views. */
function tenantPicker(tenantList, chosen, view, param, allowAll) {
  const s = select('tenant', [...(allowAll ? [['', t('allTenants')]] : []), ...tenantList.map((x) => [x.id, x.name])]);
  s.value = chosen ?? '';
  return form('pick-tenant', [field(t('tenant'), s)], t('show'), (v) => {
    go(view, new URLSearchParams(v.tenant ? { [param]: v.tenant } : {}));
    return false;
  });
}

async function keysConsole(params) {
  const tenantList = await all('/api/v1/tenants');
  const chosen = params.get('tenant') ?? tenantList[0]?.id;
  if (!chosen) return h('p', { class: 'muted' }, t('noData'));
  const name = tenantList.find((x) => x.id === chosen)?.name ?? chosen;
  return [tenantPicker(tenantList, chosen, 'keys', 'tenant', false), h('h2', {}, `${t('keys')} — ${name}`), ...(await keyManager(chosen, true))];
}

async function plans() {
  const list = await all('/api/v1/plans');
  const typeSel = select('type', [
    ['unit', t('unit')],
    ['periodic', t('periodic')],
  ]);
  return [
    form(
      'create-plan',
      [
        field(t('name'), input('name', { required: true })),
        field(t('type'), typeSel),
        field(t('price'), input('price', { inputmode: 'decimal' })),
        field(t('fee'), input('fee', { inputmode: 'decimal' })),
        field(t('included'), input('included', { type: 'number', min: 0 })),
        field(t('overage'), input('overage', { inputmode: 'decimal' })),
        field(t('reserved'), input('reserved', { type: 'number', min: 0 })),
      ],
      t('create'),
      async (v) => {
        const body =
          v.type === 'unit'
            ? { name: v.name, type: 'unit', pricePerMillionStd: v.price }
            : {
                name: v.name,
                type: 'periodic',
                period: 'month',
                fee: v.fee,
                includedStd: Number(v.included),
                overagePricePerMillionStd: v.overage === '' ? null : v.overage,
                ...(v.reserved ? { reservedStdPerMin: Number(v.reserved) } : {}),
              };
        await api('POST', '/api/v1/plans', body);
        setTimeout(render, 600);
      },
    ),
    table(
      [t('name'), t('type'), t('price'), t('fee'), num(t('included')), t('overage')],
      list.map((p) => [
        p.name + (p.default ? ' ★' : ''),
        p.type === 'unit' ? t('unit') : t('periodic'),
        i18n.money(p.pricePerMillionStd),
        i18n.money(p.fee),
        i18n.num(p.includedStd),
        i18n.money(p.overagePricePerMillionStd),
      ]),
    ),
  ];
}

/** The engine catalog, read-only: what each vendor's placements run, and where each entry's facts come from. */
async function engines() {
  const list = await all('/api/v1/engines');
  return [
    h('p', { class: 'muted' }, t('enginesNote')),
    table(
      [t('name'), t('vendor'), t('defaultFor'), t('image'), t('apiKey'), num(t('port')), t('shm'), t('perDevice'), t('basis')],
      list.map((e) => [
        e.name + (e.builtin ? ` (${t('builtin')})` : ''),
        e.vendors.join(', '),
        e.defaultFor.join(', '),
        e.image ? h('code', { class: 'nowrap' }, e.image) : h('span', { class: 'error nowrap' }, t('notConfigured')),
        e.apiKeyEnv ?? '--api-key',
        String(e.port),
        e.shmSize,
        h('span', { class: 'nowrap' }, `${e.cpuPerDevice} CPU · ${e.memoryPerDevice}`),
        h('small', { class: 'basis' }, e.basis),
      ]),
    ),
  ];
}

/**
 * Measured standard tokens per joule per cluster over the last 24 hours, beside the catalog's TDP
 * estimate, and measured throughput at load per device profile with its proposed correction (the
 * API decides both; nothing here changes the catalog).
 */
async function energy() {
  const [perCluster, throughput] = await Promise.all([api('GET', '/api/v1/energy?groupBy=cluster'), api('GET', '/api/v1/energy/throughput')]);
  const perJoule = (n) => (n === null || n === undefined ? '—' : Number(n.toPrecision(3)).toString());
  return [
    h('p', { class: 'muted' }, t('energyNote')),
    table(
      [t('cluster'), t('vendor'), t('profile'), num(t('measuredPerJoule')), num(t('tdpPerJoule')), num(t('energyKWh')), num(t('powerNow'))],
      perCluster.items.map((f) => [
        f.clusterName ?? f.clusterId,
        f.vendor ?? '—',
        f.profile ?? '—',
        h('span', { 'data-measured-per-joule': f.clusterName ?? f.clusterId }, perJoule(f.stdTokensPerJoule)),
        perJoule(f.tdpStdTokensPerJoule),
        i18n.num(f.joules / 3.6e6),
        i18n.num(f.powerWatts),
      ]),
    ),
    h('h2', {}, t('throughputAtLoad')),
    h('p', { class: 'muted' }, t('throughputNote')),
    table(
      [t('profile'), t('vendor'), num(t('catalogPerSec')), num(t('measuredPerSec')), num(t('loadMinutes')), num(t('proposed'))],
      throughput.items.map((f) => [
        f.profile,
        f.vendor,
        i18n.num(f.catalogStdTokensPerSec),
        i18n.num(f.measuredStdTokensPerSec),
        i18n.num(f.loadMinutes),
        h('span', { 'data-proposed': f.profile }, i18n.num(f.proposedStdTokensPerSec)),
      ]),
    ),
  ];
}

function workloadTable(list, actions) {
  return table(
    [t('name'), t('model'), num(t('tokensPerMin')), t('priority'), t('access'), t('state'), t('reason'), num(t('placed')), ...(actions ? [t('actions')] : [])],
    list.map((w) => [
      w.name,
      w.model,
      i18n.num(w.tokensPerMin),
      w.priority,
      h('span', { 'data-workload-access': w.name }, t(w.access)),
      h('span', { 'data-workload-state': w.name }, w.state),
      w.reason ? `${w.reason}: ${w.message ?? ''}` : '',
      i18n.num(w.placedTokensPerMin),
      ...(actions ? [actions(w)] : []),
    ]),
  );
}

/** The fields a workload is made with, in the console and the portal alike. */
const workloadFields = (models) => [
  field(t('name'), input('name', { required: true, maxlength: 128 })),
  field(
    t('model'),
    select(
      'model',
      models.map((m) => [m.name, m.name]),
    ),
  ),
  field(t('tokensPerMin'), input('tokensPerMin', { type: 'number', min: 1, required: true })),
  field(
    t('priority'),
    select('priority', [
      ['normal', 'normal'],
      ['high', 'high'],
      ['low', 'low'],
    ]),
  ),
  field(
    t('access'),
    select('access', [
      ['gateway', t('gateway')],
      ['direct', t('direct')],
    ]),
  ),
];

async function workloadsConsole() {
  const [list, tenantList, models] = await Promise.all([all('/api/v1/workloads'), all('/api/v1/tenants'), all('/api/v1/models')]);
  const names = new Map(tenantList.map((x) => [x.id, x.name]));
  // The operator makes a tenant's workload, or a shared one (no tenant) every tenant calls through the gateway.
  const create = form(
    'create-workload',
    [
      ...workloadFields(models),
      field(t('tenant'), select('tenantId', [['', '—'], ...tenantList.map((x) => [x.id, x.name])])),
      field(t('sharedHint'), input('shared', { type: 'checkbox', value: 'yes' })),
    ],
    t('create'),
    async (v) => {
      await api('POST', '/api/v1/workloads', {
        name: v.name,
        model: v.model,
        tokensPerMin: Number(v.tokensPerMin),
        priority: v.priority,
        access: v.access,
        ...(v.shared === 'yes' ? { shared: true } : {}),
        ...(v.tenantId ? { tenantId: v.tenantId } : {}),
      });
      setTimeout(render, 600);
    },
  );
  return [
    h('h2', {}, t('newWorkload')),
    create,
    table(
      [t('tenant'), t('name'), t('model'), num(t('tokensPerMin')), t('access'), t('shared'), t('state'), t('reason')],
      list.map((w) => [
        w.shared ? t('platform') : (names.get(w.tenantId) ?? w.tenantId),
        w.name,
        w.model,
        i18n.num(w.tokensPerMin),
        h('span', { 'data-workload-access': w.name }, t(w.access)),
        w.shared ? h('span', { 'data-workload-shared': w.name }, '✓') : '',
        h('span', { 'data-workload-state': w.name }, w.state),
        w.reason ? `${w.reason}: ${w.message ?? ''}` : '',
      ]),
    ),
  ];
}

function usageCharts(usage) {
  const daily = h('div', { class: 'chart', role: 'img', 'aria-label': t('byDay') });
  const models = h('div', { class: 'chart', role: 'img', 'aria-label': t('byModel') });
  setTimeout(() => {
    chart(daily, {
      legend: { top: 0 },
      xAxis: { type: 'category', data: usage.byDay.map((d) => d.day) },
      yAxis: { type: 'value' },
      series: [
        { name: t('input'), type: 'bar', stack: 'x', data: usage.byDay.map((d) => d.inputTokens) },
        { name: t('output'), type: 'bar', stack: 'x', data: usage.byDay.map((d) => d.outputTokens) },
      ],
    });
    chart(models, {
      tooltip: { trigger: 'item' },
      series: [{ type: 'pie', radius: '60%', data: usage.byModel.map((m) => ({ name: m.model, value: Number(m.stdTokens) })) }],
    });
  });
  return [
    h(
      'div',
      { class: 'cards' },
      h('div', { class: 'card', 'data-metric': 'input' }, h('div', { class: 'label' }, t('input')), h('div', { class: 'value' }, i18n.num(usage.inputTokens))),
      h(
        'div',
        { class: 'card', 'data-metric': 'output' },
        h('div', { class: 'label' }, t('output')),
        h('div', { class: 'value' }, i18n.num(usage.outputTokens)),
      ),
      h(
        'div',
        { class: 'card', 'data-metric': 'std' },
        h('div', { class: 'label' }, t('std')),
        h('div', { class: 'value' }, i18n.num(Number(usage.stdTokens))),
      ),
    ),
    h('h2', {}, t('byDay')),
    daily,
    h('h2', {}, t('byModel')),
    models,
    ...usageByKey(usage),
  ];
}

/** Tokens per API key, when the API gives them (`byApiKey`); nothing otherwise. */
function usageByKey(usage) {
  if (!Array.isArray(usage.byApiKey)) return [];
  return [
    h('h2', {}, t('byKey')),
    table(
      [t('key'), num(t('input')), num(t('output')), num(t('std'))],
      usage.byApiKey.map((k) => [
        h('span', { 'data-usage-key': k.apiKeyId ?? '' }, k.apiKeyId === null ? t('noKey') : (k.name ?? k.apiKeyId)),
        i18n.num(k.inputTokens),
        i18n.num(k.outputTokens),
        i18n.num(k.stdTokens),
      ]),
    ),
  ];
}

function invoiceList(list) {
  return table(
    [t('number'), t('period'), t('tenant'), num(t('amount')), t('actions')],
    list.map((inv) => [
      inv.number,
      inv.period,
      inv.tenantId,
      h('span', { 'data-invoice-total': inv.number }, i18n.money(inv.total)),
      h(
        'span',
        {},
        h('button', { type: 'button', class: 'secondary', 'data-view-invoice': inv.number, onclick: (e) => showInvoice(inv, e.target) }, t('view')),
        ' ',
        h('a', { href: csvUrl(inv), download: `${inv.number}.csv`, 'data-csv': inv.number }, t('download')),
      ),
    ]),
  );
}

function csvUrl(inv) {
  const rows = [
    ['number', 'period', 'kind', 'description', 'quantity', 'unitPrice', 'amount'],
    ...inv.lines.map((l) => [inv.number, inv.period, l.kind, l.description, l.quantity, l.unitPrice, l.amount]),
    [inv.number, inv.period, 'total', '', '', '', inv.total],
  ];
  return `data:text/csv;charset=utf-8,${encodeURIComponent(csvText(rows))}`;
}

function showInvoice(inv, button) {
  const box = h(
    'section',
    { 'data-invoice': inv.number, 'aria-label': inv.number },
    h('h2', {}, `${inv.number} · ${inv.period}`),
    table(
      [t('lines'), num('×'), num('¥'), num(t('amount'))],
      inv.lines.map((l) => [l.description, l.quantity, l.unitPrice, i18n.money(l.amount)]),
    ),
    h('p', {}, `${t('total2')}: `, h('strong', {}, i18n.money(inv.total))),
  );
  document.querySelector('[data-invoice]')?.remove();
  button.closest('table').after(box);
  box.querySelector('h2').setAttribute('tabindex', '-1');
  box.querySelector('h2').focus();
}

/** A decimal money string as whole fen (an exact integer), and back: charts plot fen, labels show yuan. */
const fen = (s) => {
  const [i, f = ''] = String(s).split('.');
  return Number(BigInt(i) * 100n + BigInt((f + '00').slice(0, 2)) * (String(s).startsWith('-') ? -1n : 1n));
};
const yuan = (n) => {
  const v = BigInt(Math.round(n));
  const a = v < 0n ? -v : v;
  return `${v < 0n ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
};

async function billingConsole() {
  const [usage, invoices] = await Promise.all([api('GET', '/api/v1/usage'), all('/api/v1/invoices')]);
  const billed = new Map();
  for (const inv of invoices) billed.set(inv.period, (billed.get(inv.period) ?? 0) + fen(inv.total));
  const periods = [...billed.keys()].sort();
  const el = h('div', { class: 'chart', role: 'img', 'aria-label': t('billed') });
  setTimeout(() =>
    chart(el, {
      tooltip: { trigger: 'axis', valueFormatter: (v) => i18n.money(yuan(v)) },
      xAxis: { type: 'category', data: periods },
      yAxis: { type: 'value', axisLabel: { formatter: (v) => i18n.money(yuan(v)) } },
      series: [{ name: t('billed'), type: 'bar', data: periods.map((p) => billed.get(p)) }],
    }),
  );
  return [
    ...usageCharts(usage),
    h('h2', {}, t('billed')),
    el,
    h('h2', {}, t('invoices')),
    form('close-period', [field(t('period'), input('period', { required: true, placeholder: '2026-10', pattern: '\\d{4}-\\d{2}' }))], t('close'), async (v) => {
      await api('POST', '/api/v1/billing/close', { period: v.period });
      setTimeout(render, 600);
    }),
    invoiceList(invoices),
  ];
}

async function alerts() {
  const [budgetAlerts, list] = await Promise.all([all('/api/v1/alerts'), all('/api/v1/clusters')]);
  const rows = [
    ...budgetAlerts.map((a) => [t('budgetAlert'), a.tenantId, a.message, i18n.date(a.createdAt)]),
    ...list.filter((c) => c.state === 'not_ready').map((c) => [t('clusterDown'), c.name, i18n.date(c.lastHeartbeatAt), '']),
    ...list.filter((c) => c.unprofiledDevices.length > 0).map((c) => [t('unprofiledAlert'), c.name, c.unprofiledDevices.join(', '), '']),
  ];
  return table([t('type'), t('name'), '', t('created')], rows);
}

async function requestsConsole(params) {
  return requestLog(params, true);
}

// ---- the request log (console: every tenant's; portal: the tenant's, or a member's own) -------
const LOG_FILTERS = ['tenantId', 'apiKeyId', 'model', 'status', 'from', 'to'];
/** Rows a page: `?limit=` in the location (the API's 1–1000), else 50. */
const pageSize = (params) => {
  const n = Number(params.get('limit'));
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 50;
};
/** An ISO instant as a datetime-local input's value (local time), and back. */
const localInput = (iso) => (iso ? new Date(Date.parse(iso) - new Date(iso).getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : '');

async function requestLog(params, operator) {
  const query = new URLSearchParams({ limit: String(pageSize(params)) });
  for (const k of [...LOG_FILTERS, 'cursor']) if (params.get(k) && (operator || k !== 'tenantId')) query.set(k, params.get(k));
  const tenantId = operator ? params.get('tenantId') : session.tenantId;
  const [page, models, keyList, tenantList, clusterList] = await Promise.all([
    api('GET', `/api/v1/requests?${query}`),
    all('/api/v1/models'),
    tenantId ? all(`/api/v1/tenants/${encodeURIComponent(tenantId)}/api-keys`) : [],
    operator ? all('/api/v1/tenants') : [],
    operator ? all('/api/v1/clusters') : [],
  ]);
  const keyNames = new Map(keyList.map((k) => [k.id, k.name ?? k.prefix]));
  const tenantNames = new Map(tenantList.map((x) => [x.id, x.name]));
  const clusterNames = new Map(clusterList.map((c) => [c.id, c.name]));
  const pick = (name, options) => {
    const s = select(name, [['', t('any')], ...options]);
    s.value = params.get(name) ?? '';
    return s;
  };
  const filters = form(
    'request-filters',
    [
      operator
        ? field(
            t('tenant'),
            pick(
              'tenantId',
              tenantList.map((x) => [x.id, x.name]),
            ),
          )
        : '',
      // Keys are listed per tenant: the operator picks a tenant first.
      tenantId
        ? field(
            t('key'),
            pick(
              'apiKeyId',
              keyList.map((k) => [k.id, `${k.name ?? ''} ${k.prefix}`.trim()]),
            ),
          )
        : '',
      field(
        t('model'),
        pick(
          'model',
          models.map((m) => [m.name, m.name]),
        ),
      ),
      field(t('httpStatus'), input('status', { type: 'number', min: 100, max: 599, step: 1, value: params.get('status') ?? undefined })),
      field(t('from'), input('from', { type: 'datetime-local', value: localInput(params.get('from')) })),
      field(t('to'), input('to', { type: 'datetime-local', value: localInput(params.get('to')) })),
    ],
    t('filter'),
    (v) => {
      const next = new URLSearchParams(params.has('limit') ? { limit: params.get('limit') } : {});
      for (const k of LOG_FILTERS) if (v[k]) next.set(k, k === 'from' || k === 'to' ? new Date(v[k]).toISOString() : v[k]);
      go('requests', next);
      return false;
    },
  );
  const pageAt = (cursor) => {
    const next = new URLSearchParams(params);
    if (cursor) next.set('cursor', cursor);
    else next.delete('cursor');
    return `#/requests?${next}`;
  };
  const paging = h(
    'nav',
    { class: 'paging', 'aria-label': t('paging') },
    params.get('cursor') ? h('a', { href: pageAt(null), 'data-page': 'first' }, t('firstPage')) : '',
    page.nextCursor ? h('a', { href: pageAt(page.nextCursor), 'data-page': 'next' }, t('nextPage')) : '',
  );
  const who = (r) => (r.apiKeyId ? (keyNames.get(r.apiKeyId) ?? r.apiKeyId) : t('signedInUser'));
  const ms = (n) => (n === null ? '—' : i18n.num(n));
  return [
    filters,
    table(
      [
        t('requestId'),
        t('time'),
        ...(operator ? [t('tenant')] : []),
        t('key'),
        t('model'),
        t('cluster'),
        t('httpStatus'),
        num(t('promptTokens')),
        num(t('completionTokens')),
        num(t('ttft')),
        num(t('durationMs')),
        t('streamed'),
      ],
      page.items.map((r) => [
        h('code', { 'data-request': r.requestId }, r.requestId),
        i18n.dateTime(r.startedAt),
        ...(operator ? [tenantNames.get(r.tenantId) ?? r.tenantId] : []),
        who(r),
        r.model,
        r.clusterId === null ? '—' : (clusterNames.get(r.clusterId) ?? r.clusterId),
        h('span', { class: r.status < 400 ? 'ok' : 'error', 'data-status': r.status }, r.errorCode ? `${r.status} ${r.errorCode}` : String(r.status)),
        ms(r.promptTokens),
        ms(r.completionTokens),
        ms(r.ttftMs),
        ms(r.durationMs),
        r.streamed ? t('yes') : t('no'),
      ]),
    ),
    paging,
  ];
}

// ---- portal ----------------------------------------------------------------------------------
async function workloadsPortal() {
  const [list, models] = await Promise.all([all('/api/v1/workloads'), all('/api/v1/models')]);
  const preview = h('div', { 'data-preview': '', 'aria-live': 'polite' });
  const body = (v) => ({
    name: v.name,
    model: v.model,
    tokensPerMin: Number(v.tokensPerMin),
    priority: v.priority,
    access: v.access,
    ...(v.regions?.trim()
      ? {
          regions: v.regions
            .split(',')
            .map((r) => r.trim())
            .filter(Boolean),
        }
      : {}),
  });
  const f = form('create-workload', [...workloadFields(models), field(t('regions'), input('regions'))], t('create'), async (v) => {
    await api('POST', '/api/v1/workloads', body(v));
    setTimeout(render, 600);
  });
  f.insertBefore(
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        'data-action': 'preview',
        onclick: async () => {
          try {
            const d = await api('POST', '/api/v1/workloads?dryRun=true', body(Object.fromEntries(new FormData(f))));
            preview.replaceChildren(
              d.placements.length > 0
                ? h(
                    'div',
                    {},
                    t('wouldPlace'),
                    h(
                      'ul',
                      {},
                      d.placements.map((p) =>
                        h(
                          'li',
                          {},
                          `${p.clusterId} · ${p.deviceModel} · ${p.replicas} × ${p.devicesPerReplica} · ${i18n.num(p.tokensPerMin)} ${t('tokensPerMin')}`,
                        ),
                      ),
                    ),
                  )
                : h('p', { class: 'error' }, `${t('wouldWait')}${d.reason}: ${d.message ?? ''}`),
            );
          } catch (err) {
            message(preview, err.message, 'error');
          }
        },
      },
      t('preview'),
    ),
    f.querySelector('button[type=submit]'),
  );
  const actions = (w) =>
    w.state === 'deleted'
      ? ''
      : h(
          'span',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              'data-rescale': w.name,
              onclick: async () => {
                const n = prompt(t('tokensPerMin'), String(w.tokensPerMin));
                if (n) {
                  await api('PATCH', `/api/v1/workloads/${w.id}`, { tokensPerMin: Number(n) }).catch((e) => alert(e.message));
                  render();
                }
              },
            },
            t('rescale'),
          ),
          ' ',
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              'data-delete': w.name,
              onclick: async () => {
                await api('DELETE', `/api/v1/workloads/${w.id}`);
                render();
              },
            },
            t('delete'),
          ),
        );
  return [f, preview, workloadTable(list, actions)];
}

async function requestsPortal(params) {
  return requestLog(params, false);
}

/** Code to copy, with a button that copies it (or selects it where the clipboard is refused). */
function snippet(title, text, heading = 'h3') {
  const code = h('code', {}, text);
  const pre = h('pre', { tabindex: 0, 'data-snippet': title }, code);
  const status = h('span', { 'aria-live': 'polite' });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(code.textContent);
      message(status, t('copied'));
    } catch {
      getSelection().selectAllChildren(code);
      message(status, t('copyFailed'), 'error');
    }
  };
  return h(
    'section',
    { class: 'snippet', 'aria-label': title },
    h(
      heading,
      {},
      title,
      ' ',
      h('button', { type: 'button', class: 'secondary', 'data-copy': title, 'aria-label': `${t('copy')}: ${title}`, onclick: copy }, t('copy')),
      ' ',
      status,
    ),
    pre,
  );
}

const snippets = (base, model) => ({
  curl: `export TOKENPOOL_API_KEY="tp_key_…"   # ${t('yourKey')}
curl ${base}/chat/completions \\
  -H "Authorization: Bearer $TOKENPOOL_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "${model}", "messages": [{"role": "user", "content": "你好"}]}'`,
  python: `import os
from openai import OpenAI

client = OpenAI(api_key=os.environ["TOKENPOOL_API_KEY"], base_url="${base}")
answer = client.chat.completions.create(
    model="${model}",
    messages=[{"role": "user", "content": "你好"}],
)
print(answer.choices[0].message.content)`,
  node: `import OpenAI from 'openai';

const client = new OpenAI({ apiKey: process.env.TOKENPOOL_API_KEY, baseURL: '${base}' });
const answer = await client.chat.completions.create({
  model: '${model}',
  messages: [{ role: 'user', content: '你好' }],
});
console.log(answer.choices[0].message.content);`,
});

async function callPortal() {
  // GET /v1/models answers, for the signed-in caller, the models with a running placement it may
  // use (its own workloads and the shared ones); the session cookie authenticates it as a key would.
  const [callable, own] = await Promise.all([api('GET', '/v1/models').then((x) => x.data.map((m) => m.id)), all('/api/v1/workloads')]);
  const base = `${location.origin}/v1`;
  // The gateway routes to the tenant's own running workloads of a model first, then to shared ones.
  const ownOf = (model) => own.filter((w) => w.model === model && w.access === 'gateway' && w.state === 'running');
  const codes = h('div', {});
  const show = (model) => {
    const s = snippets(base, model);
    codes.replaceChildren(snippet('curl', s.curl), snippet('Python (openai)', s.python), snippet('Node.js (openai)', s.node));
  };
  const chooser = select(
    'snippet-model',
    (callable.length ? callable : ['MODEL']).map((m) => [m, m]),
    { id: 'snippet-model', onchange: (e) => show(e.target.value) },
  );
  show(chooser.value);
  return [
    h('p', {}, t('callHelp')),
    snippet(t('baseUrl'), base, 'h2'),
    h('h2', {}, t('callableModels')),
    callable.length
      ? table(
          [t('model'), t('servedBy')],
          callable.map((m) => [
            h('code', { 'data-callable': m }, m),
            ownOf(m).length
              ? `${t('ownWorkloads')}${ownOf(m)
                  .map((w) => w.name)
                  .join(', ')}`
              : t('sharedPool'),
          ]),
        )
      : h('p', { class: 'muted', 'data-callable-none': '' }, t('noCallable')),
    h('h2', {}, t('examples')),
    field(t('model'), chooser),
    codes,
  ];
}

async function usagePortal() {
  const [me, usage] = await Promise.all([api('GET', '/api/v1/me'), api('GET', '/api/v1/usage')]);
  return [h('p', { 'data-metric': 'costSoFar' }, `${t('costSoFar')} (${me.period}): `, h('strong', {}, i18n.money(me.costSoFar))), ...usageCharts(usage)];
}

async function invoicesPortal() {
  return invoiceList(await all('/api/v1/invoices'));
}

async function keys() {
  const users = session.admin ? await all('/api/v1/users') : [];
  // A tenant admin also makes the tenant's users here.
  const people = session.admin
    ? [
        h('h2', {}, t('newUser')),
        form(
          'new-user',
          [
            field(t('username'), input('username', { required: true, autocomplete: 'off' })),
            field(t('password'), input('password', { type: 'password', required: true, minlength: 10, autocomplete: 'new-password' })),
            field(t('admin'), input('admin', { type: 'checkbox', value: 'yes' })),
          ],
          t('create'),
          async (v) => {
            await api('POST', '/api/v1/users', {
              username: v.username,
              password: v.password,
              kind: 'tenant',
              tenantId: session.tenantId,
              admin: v.admin === 'yes',
            });
            setTimeout(render, 600);
          },
        ),
        table(
          [t('username'), t('admin'), t('created')],
          users.map((u) => [u.username, u.admin ? '✓' : '', i18n.date(u.createdAt)]),
        ),
      ]
    : [];
  // Only a tenant's admins make and revoke its keys (API.md): members see the list.
  return [...(await keyManager(session.tenantId, session.admin)), ...people];
}

/** Whole numbers within the API's bounds (tenants.routes.ts RATE_BOUNDS), empty for none. */
const RATES = { rpm: 1_000_000, tpm: 1_000_000_000, maxConcurrent: 100_000 };

/**
 * A tenant's API keys: the form that makes one (when `manage`) and the list with each key's limits
 * and state. Keys cannot be changed once made (the API has no such route): revoke and make another.
 */
async function keyManager(tenantId, manage) {
  const [list, models] = await Promise.all([all(`/api/v1/tenants/${encodeURIComponent(tenantId)}/api-keys`), manage ? all('/api/v1/models') : []]);
  const now = Date.now();
  const state = (k) =>
    k.revokedAt
      ? h('span', { class: 'badge', 'data-key-state': 'revoked' }, t('revokedState'))
      : k.expiresAt && Date.parse(k.expiresAt) <= now
        ? h('span', { class: 'badge bad', 'data-key-state': 'expired' }, t('expired'))
        : h('span', { class: 'badge ok', 'data-key-state': 'active' }, t('active'));
  const limit = (n) => (n === null ? '—' : i18n.num(n));
  const create = manage
    ? form(
        'new-key',
        [
          field(t('name'), input('name', { maxlength: 200, autocomplete: 'off' })),
          field(
            t('role'),
            select('role', [
              ['member', t('member')],
              ['admin', t('admin')],
            ]),
          ),
          field(t('expires'), input('expiresAt', { type: 'datetime-local' })),
          ...Object.entries(RATES).map(([name, max]) => field(t(name), input(name, { type: 'number', min: 1, max, step: 1 }))),
          h(
            'fieldset',
            { class: 'choices' },
            h('legend', {}, t('allowedModels')),
            models.map((m) => h('label', { class: 'check' }, input('allowedModels', { type: 'checkbox', value: m.name }), m.name)),
          ),
        ],
        t('newKey'),
        async (v, status) => {
          // Fields left empty are not sent: no name, no expiry, every model, the platform's rates.
          const allowed = [v.allowedModels ?? []].flat();
          const body = {
            role: v.role,
            ...(v.name ? { name: v.name } : {}),
            ...(allowed.length ? { allowedModels: allowed } : {}),
            ...(v.expiresAt ? { expiresAt: new Date(v.expiresAt).toISOString() } : {}),
            ...Object.fromEntries(Object.keys(RATES).flatMap((r) => (v[r] ? [[r, Number(v[r])]] : []))),
          };
          const made = await api('POST', `/api/v1/tenants/${encodeURIComponent(tenantId)}/api-keys`, body);
          status.replaceChildren(
            secret(made.key),
            h('button', { type: 'button', class: 'secondary', 'data-action': 'show-keys', onclick: () => render() }, t('showInList')),
          );
          return false;
        },
      )
    : '';
  return [
    create,
    table(
      [
        t('name'),
        t('prefix'),
        t('role'),
        t('models'),
        t('expires'),
        num(t('rpm')),
        num(t('tpm')),
        num(t('maxConcurrent')),
        t('state'),
        t('created'),
        t('actions'),
      ],
      list.map((k) => [
        h('span', { 'data-key': k.prefix }, k.name ?? ''),
        h('code', {}, k.prefix),
        t(k.role),
        k.allowedModels ? k.allowedModels.join(', ') : t('allModels'),
        i18n.date(k.expiresAt),
        limit(k.rpm),
        limit(k.tpm),
        limit(k.maxConcurrent),
        h('span', {}, state(k), k.revokedAt ? ` ${i18n.date(k.revokedAt)}` : ''),
        i18n.date(k.createdAt),
        k.revokedAt || !manage
          ? ''
          : h(
              'button',
              {
                type: 'button',
                class: 'secondary',
                'aria-label': `${t('revoke')} ${k.name ?? k.prefix}`,
                onclick: async () => {
                  await api('DELETE', `/api/v1/api-keys/${k.id}`);
                  render();
                },
              },
              t('revoke'),
            ),
      ]),
    ),
  ];
}

async function budget() {
  const [current, list] = await Promise.all([api('GET', `/api/v1/tenants/${session.tenantId}/budget`).catch(() => null), all('/api/v1/alerts')]);
  return [
    form(
      'budget',
      [
        field(t('monthly'), input('monthlyCny', { inputmode: 'decimal', required: true, value: current?.monthlyCny })),
        field(t('thresholds'), input('thresholds', { value: (current?.thresholds ?? [80, 100]).join(',') })),
      ],
      t('save'),
      async (v) => {
        await api('PUT', `/api/v1/tenants/${session.tenantId}/budget`, {
          monthlyCny: v.monthlyCny,
          thresholds: v.thresholds
            .split(',')
            .map((x) => Number(x.trim()))
            .filter(Boolean),
        });
      },
    ),
    h('h2', {}, t('alerts')),
    table(
      [t('period'), num('%'), '', t('created')],
      list.map((a) => [a.period, a.threshold, a.message, i18n.date(a.createdAt)]),
    ),
  ];
}

// ---- start -----------------------------------------------------------------------------------
try {
  session = await api('GET', '/api/v1/session');
  const home = session.kind === 'tenant' ? 'portal' : 'console';
  if (home !== area) location.replace(`/${home}/`);
} catch {
  session = null;
}
render();
