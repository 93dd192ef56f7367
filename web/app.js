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
/**
 * Calls the API; `body` is sent as JSON, or as it is with `contentType` (a CSV upload). A failure
 * throws an Error with the problem's detail, its `status`, and its field errors (`fields`: the
 * problem's `errors`, each `{ path, message }`) for a form to show beside its inputs.
 */
async function api(method, path, body, contentType) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = contentType ?? 'application/json';
  if (method !== 'GET' && session) headers['x-csrf-token'] = session.csrfToken;
  const payload = body === undefined ? undefined : contentType ? body : JSON.stringify(body);
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  const text = await res.text();
  const data = text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text;
  if (!res.ok) {
    const err = new Error(
      data?.errors?.length ? `${data.detail} (${data.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})` : (data?.detail ?? `${res.status}`),
    );
    err.status = res.status;
    err.detail = data?.detail ?? `${res.status}`;
    err.fields = Array.isArray(data?.errors) ? data.errors : [];
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

/**
 * Shows the API's field errors beside the form's inputs: an error goes to the input whose name is
 * the longest prefix of its path (`terms.prices.0.match` beside `terms.prices`). Answers the
 * errors no input took.
 */
function fieldErrors(f, errors) {
  for (const el of f.querySelectorAll('[data-error-for]')) el.remove();
  for (const el of f.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const names = [...new Set([...f.elements].map((el) => el.name).filter(Boolean))].sort((a, b) => b.length - a.length);
  const rest = [];
  for (const e of errors) {
    const path = String(e.path ?? '');
    const name = names.find((n) => path === n || path.startsWith(`${n}.`));
    const target = name && f.elements.namedItem(name);
    const el = target instanceof RadioNodeList ? target[0] : target;
    if (!el) {
      rest.push(e);
      continue;
    }
    el.setAttribute('aria-invalid', 'true');
    const note = h('span', { class: 'field-error', 'data-error-for': name, role: 'alert' }, path === name ? e.message : `${path}: ${e.message}`);
    const label = el.closest('label');
    if (label) label.append(note);
    else el.after(note);
  }
  return rest;
}

/**
 * A form whose submit runs `action(values)`; errors are shown beside it (field errors beside their
 * inputs), nothing is lost.
 */
function form(name, fields, submitLabel, action) {
  const status = h('div', { 'aria-live': 'polite' });
  const f = h('form', { 'data-form': name }, fields, h('button', { type: 'submit' }, submitLabel), status);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    // A name given several times (ticked checkboxes) becomes a list of its values.
    const values = {};
    for (const [k, v] of new FormData(f)) values[k] = k in values ? [values[k], v].flat() : v;
    status.replaceChildren();
    fieldErrors(f, []);
    try {
      const shown = await action(values, status);
      if (shown !== false) message(status, t('saved'));
    } catch (err) {
      const rest = err.fields?.length ? fieldErrors(f, err.fields) : [];
      const text = err.fields?.length ? [err.detail, ...rest.map((x) => `${x.path}: ${x.message}`)].join(' ') : err.message;
      message(status, text, 'error');
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
    providers,
    statements,
    payments,
    creditNotes,
    balances,
    settlement,
    alerts,
  },
  portal: {
    workloads: workloadsPortal,
    call: callPortal,
    requests: requestsPortal,
    usage: usagePortal,
    balance: balancePortal,
    invoices: invoicesPortal,
    keys,
    budget,
  },
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

/**
 * Invoices with their state from the ledger (issued, partially paid, paid, void), what is still
 * owed, and each one's lines, CSV and printable PDF (`GET /api/v1/invoices/:id/pdf`, Chinese and
 * English in one document).
 */
function invoiceList(list, tenantNames = new Map()) {
  return table(
    [t('number'), t('period'), t('tenant'), t('status'), num(t('amount')), num(t('outstanding')), t('actions')],
    list.map((inv) => [
      inv.number,
      inv.period,
      tenantNames.get(inv.tenantId) ?? inv.tenantId,
      h('span', { 'data-invoice-status': inv.number }, invoiceStatus(inv)),
      h('span', { 'data-invoice-total': inv.number }, i18n.money(inv.total)),
      h('span', { 'data-invoice-outstanding': inv.number }, i18n.money(inv.outstanding)),
      h(
        'span',
        { class: 'nowrap' },
        h('button', { type: 'button', class: 'secondary', 'data-view-invoice': inv.number, onclick: (e) => showInvoice(inv, e.target) }, t('view')),
        ' ',
        h('a', { href: csvUrl(inv), download: `${inv.number}.csv`, 'data-csv': inv.number }, t('download')),
        ' ',
        h('a', { href: `/api/v1/invoices/${encodeURIComponent(inv.id)}/pdf`, target: '_blank', rel: 'noopener', 'data-pdf': inv.number }, t('pdf')),
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
  const [usage, invoices, tenantList] = await Promise.all([api('GET', '/api/v1/usage'), all('/api/v1/invoices'), all('/api/v1/tenants')]);
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
    invoiceList(invoices, names(tenantList)),
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

// ---- settlement and the ledger (console) -----------------------------------------------------
/** A datetime-local input's value as an ISO instant, or undefined when empty. */
const instantOf = (v) => (v ? new Date(v).toISOString() : undefined);
/** The month before this one, `YYYY-MM` (the period usually closed last). */
const lastMonth = () => {
  const d = new Date();
  d.setDate(1);
  d.setMonth(d.getMonth() - 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
};
const PERIOD = { placeholder: '2026-10', pattern: '\\d{4}-\\d{2}' };
const names = (list) => new Map(list.map((x) => [x.id, x.name]));
/** A decimal string's opposite ("-12.30" → "12.30", "0.00" stays). */
const negated = (s) => (s.startsWith('-') ? s.slice(1) : /^[0.]+$/.test(s) ? s : `-${s}`);
const badge = (value, kind) => h('span', { class: `badge ${kind ?? ''}`.trim(), 'data-badge': value }, t(value));
const cardOf = (key, value, raw) =>
  h('div', { class: 'card', 'data-metric': key, 'data-value': raw ?? undefined }, h('div', { class: 'label' }, t(key)), h('div', { class: 'value' }, value));
/** A CSV download of `rows` (first row: the header) as a link. */
const csvLink = (rows, filename, attrs = {}) =>
  h('a', { href: `data:text/csv;charset=utf-8,${encodeURIComponent(csvText(rows))}`, download: filename, ...attrs }, t('download'));

const PROVIDER_FIELDS = ['name', 'uscc', 'bankName', 'bankAccount', 'contactName', 'contactPhone', 'contactEmail'];
const providerFields = (p) =>
  PROVIDER_FIELDS.map((k) =>
    field(
      t(k === 'name' ? 'name' : k),
      input(k, { required: true, value: p?.[k], autocomplete: 'off', ...(k === 'uscc' ? { maxlength: 18, class: 'code' } : {}) }),
    ),
  );

/** What a rate card pays, in words, from its terms as created. */
function termsText(terms) {
  if (terms.kind === 'flat') return `${t('flat')}: ${i18n.money(terms.pricePerMillionStd)} / ${t('perMillion')}`;
  if (terms.kind === 'device_class')
    return `${t('device_class')}: ${[...terms.prices.map((x) => `${x.match} ${i18n.money(x.pricePerMillionStd)}`), `${t('otherwise')} ${i18n.money(terms.defaultPricePerMillionStd)}`].join(', ')} / ${t('perMillion')}`;
  if (terms.kind === 'revenue_share')
    return `${t('revenue_share')}: ${terms.sharePercent} % · ${t('unpaidPrice')} ${i18n.money(terms.unpaidPricePerMillionStd)}`;
  return JSON.stringify(terms);
}

/**
 * Providers (the operators of member clusters): the list and a new one; with `?id=` one provider's
 * details to change, the clusters it owns, and its rate cards.
 */
async function providers(params) {
  const [list, clusterList] = await Promise.all([all('/api/v1/providers'), all('/api/v1/clusters')]);
  const clusterNames = names(clusterList);
  const chosen = list.find((x) => x.id === params.get('id'));
  const create = form('create-provider', providerFields(), t('create'), async () => {
    const body = Object.fromEntries(PROVIDER_FIELDS.map((k) => [k, create.elements.namedItem(k).value]));
    const made = await api('POST', '/api/v1/providers', body);
    go('providers', new URLSearchParams({ id: made.id }));
    return false;
  });
  return [
    table(
      [t('name'), t('uscc'), t('bank'), t('contact'), t('clustersOwned'), t('actions')],
      list.map((x) => [
        h('span', { 'data-provider': x.name }, x.name),
        h('code', {}, x.uscc),
        `${x.bankName} ${x.bankAccount}`,
        `${x.contactName} · ${x.contactPhone} · ${x.contactEmail}`,
        x.clusterIds.map((id) => clusterNames.get(id) ?? id).join(', '),
        h('a', { href: `#/providers?id=${encodeURIComponent(x.id)}`, class: 'nowrap', 'data-open-provider': x.name }, t('open')),
      ]),
    ),
    ...(chosen ? await providerDetail(chosen, clusterList) : [h('h2', {}, t('newProvider')), create]),
  ];
}

async function providerDetail(p, clusterList) {
  // All of a provider's rate cards come in one answer (the route takes no paging).
  const cards = (await api('GET', `/api/v1/providers/${encodeURIComponent(p.id)}/rate-cards`)).items;
  const edit = form('edit-provider', providerFields(p), t('save'), async () => {
    // Only what changed is sent; the API checks each field as on creation.
    const body = Object.fromEntries(PROVIDER_FIELDS.map((k) => [k, edit.elements.namedItem(k).value]).filter(([k, v]) => v !== p[k]));
    if (Object.keys(body).length) await api('PATCH', `/api/v1/providers/${encodeURIComponent(p.id)}`, body);
    setTimeout(render, 600);
  });
  const own = async (clusterId, providerId) => {
    await api('PUT', `/api/v1/clusters/${encodeURIComponent(clusterId)}/provider`, { providerId });
    render();
  };
  const owned = clusterList.filter((c) => p.clusterIds.includes(c.id));
  const assign = form(
    'assign-cluster',
    [
      field(
        t('cluster'),
        select(
          'clusterId',
          clusterList.filter((c) => !p.clusterIds.includes(c.id)).map((c) => [c.id, c.name]),
        ),
      ),
    ],
    t('assign'),
    async (v) => {
      if (v.clusterId) await own(v.clusterId, p.id);
      return false;
    },
  );
  const kind = select('terms.kind', [
    ['flat', t('flat')],
    ['device_class', t('device_class')],
    ['revenue_share', t('revenue_share')],
  ]);
  const addCard = form(
    'add-rate-card',
    [
      field(t('cardKind'), kind),
      field(t('price'), input('terms.pricePerMillionStd', { inputmode: 'decimal' })),
      field(t('devicePrices'), h('textarea', { name: 'terms.prices', rows: 3, placeholder: 'NVIDIA-H100-80GB-HBM3=1.80\nascend=1.20' })),
      field(t('defaultPrice'), input('terms.defaultPricePerMillionStd', { inputmode: 'decimal' })),
      field(t('sharePercent'), input('terms.sharePercent', { inputmode: 'decimal' })),
      field(t('unpaidPrice'), input('terms.unpaidPricePerMillionStd', { inputmode: 'decimal' })),
      field(t('validFrom'), input('validFrom', { type: 'datetime-local' })),
      field(t('validTo'), input('validTo', { type: 'datetime-local' })),
      field(t('vatRateDefault'), input('vatRate', { inputmode: 'decimal', placeholder: '0.06' })),
      field(t('taxCodeDefault'), input('taxCode', { inputmode: 'numeric', placeholder: '3040203000000000000' })),
    ],
    t('addRateCard'),
    async (v) => {
      const k = v['terms.kind'];
      const terms =
        k === 'flat'
          ? { kind: k, pricePerMillionStd: v['terms.pricePerMillionStd'] }
          : k === 'device_class'
            ? {
                kind: k,
                prices: v['terms.prices']
                  .split('\n')
                  .map((l) => l.trim())
                  .filter(Boolean)
                  .map((l) => {
                    const at = l.lastIndexOf('=');
                    return { match: l.slice(0, at).trim(), pricePerMillionStd: l.slice(at + 1).trim() };
                  }),
                defaultPricePerMillionStd: v['terms.defaultPricePerMillionStd'],
              }
            : { kind: k, sharePercent: v['terms.sharePercent'], unpaidPricePerMillionStd: v['terms.unpaidPricePerMillionStd'] };
      await api('POST', `/api/v1/providers/${encodeURIComponent(p.id)}/rate-cards`, {
        terms,
        ...(v.validFrom ? { validFrom: instantOf(v.validFrom) } : {}),
        ...(v.validTo ? { validTo: instantOf(v.validTo) } : {}),
        ...(v.vatRate ? { vatRate: v.vatRate } : {}),
        ...(v.taxCode ? { taxCode: v.taxCode } : {}),
      });
      setTimeout(render, 600);
    },
  );
  const removeCard = async (card) => {
    try {
      await api('DELETE', `/api/v1/providers/${encodeURIComponent(p.id)}/rate-cards/${encodeURIComponent(card.id)}`);
      render();
    } catch (err) {
      alert(err.message);
    }
  };
  return [
    h('h2', { 'data-provider-detail': p.name }, p.name),
    h(
      'p',
      {},
      h('a', { href: '#/providers' }, t('newProvider')),
      ' · ',
      h('a', { href: `#/statements?providerId=${encodeURIComponent(p.id)}` }, t('statements')),
    ),
    edit,
    h('h2', {}, t('clustersOwned')),
    table(
      [t('name'), t('region'), t('state'), t('actions')],
      owned.map((c) => [
        h('span', { 'data-owned-cluster': c.name }, c.name),
        c.region,
        c.state,
        h('button', { type: 'button', class: 'secondary', 'data-release': c.name, onclick: () => own(c.id, null) }, t('release')),
      ]),
    ),
    assign,
    h('h2', {}, t('rateCards')),
    table(
      [t('terms'), t('vatRate'), t('validFrom'), t('validTo'), t('actions')],
      cards.map((c) => [
        h('span', { 'data-rate-card': c.terms.kind }, termsText(c.terms)),
        h('span', { 'data-rate-card-vat': c.terms.kind, title: c.taxCode }, c.vatRate),
        i18n.date(c.validFrom),
        c.validTo ? i18n.date(c.validTo) : t('openEnded'),
        h('button', { type: 'button', class: 'secondary', 'data-remove-card': c.id, onclick: () => removeCard(c) }, t('delete')),
      ]),
    ),
    addCard,
  ];
}

/** Provider statements (payables) by period and provider; a statement's lines below the list. */
async function statements(params) {
  const query = new URLSearchParams();
  for (const k of ['period', 'providerId']) if (params.get(k)) query.set(k, params.get(k));
  const [list, providerList, clusterList, payables] = await Promise.all([
    all(`/api/v1/statements${query.toString() ? `?${query}` : ''}`),
    all('/api/v1/providers'),
    all('/api/v1/clusters'),
    all('/api/v1/ledger/balances?kind=payable'),
  ]);
  const providerNames = names(providerList);
  const clusterNames = names(clusterList);
  const who = select('providerId', [['', t('allProviders')], ...providerList.map((x) => [x.id, x.name])]);
  who.value = params.get('providerId') ?? '';
  const filters = form(
    'statement-filters',
    [field(t('period'), input('period', { ...PERIOD, value: params.get('period') ?? undefined })), field(t('provider'), who)],
    t('filter'),
    (v) => {
      go('statements', new URLSearchParams(Object.entries(v).filter(([, x]) => x)));
      return false;
    },
  );
  const open = list.find((s) => s.id === params.get('id'));
  const at = (id) => {
    const next = new URLSearchParams(params);
    next.set('id', id);
    return `#/statements?${next}`;
  };
  const rows = [
    [
      'number',
      'provider',
      'period',
      'kind',
      'usagePeriod',
      'cluster',
      'model',
      'basis',
      'paidByTenants',
      'stdTokens',
      'unitPrice',
      'amount',
      'vatRate',
      'vat',
      'amountInclusive',
      'taxCode',
    ],
    ...list.flatMap((s) =>
      s.lines.map((l) => [
        s.number,
        providerNames.get(s.providerId) ?? s.providerId,
        s.period,
        l.kind,
        l.usagePeriod,
        clusterNames.get(l.clusterId) ?? l.clusterId,
        l.model,
        l.basis,
        l.paidByTenants ? 'yes' : 'no',
        l.stdTokens,
        l.unitPrice,
        l.amount,
        l.vatRate,
        l.vat,
        l.amountInclusive,
        l.taxCode,
      ]),
    ),
  ];
  // A payable account is a credit balance (negative, debit positive): what the city owes is its opposite.
  const owed = new Map(payables.map((a) => [a.providerId, negated(a.balance)]));
  const payout = form(
    'payout',
    [
      field(
        t('provider'),
        select(
          'providerId',
          providerList.map((x) => [x.id, `${x.name} · ${i18n.money(owed.get(x.id) ?? '0.00')}`]),
        ),
      ),
      field(t('amount'), input('amount', { inputmode: 'decimal', required: true })),
      field(t('reference'), input('reference', { required: true, autocomplete: 'off' })),
      field(t('paidAt'), input('paidAt', { type: 'datetime-local' })),
    ],
    t('recordPayout'),
    async (v, status) => {
      const r = await api('POST', `/api/v1/providers/${encodeURIComponent(v.providerId)}/payouts`, {
        amount: v.amount,
        reference: v.reference,
        ...(v.paidAt ? { paidAt: instantOf(v.paidAt) } : {}),
      });
      message(status, `${t('recorded')}: ${i18n.money(r.amount)} · ${t('stillOwed')} ${i18n.money(r.payable)}`);
      setTimeout(render, 1200);
      return false;
    },
  );
  return [
    filters,
    table(
      [
        t('number'),
        t('provider'),
        t('period'),
        t('issued'),
        num(t('lines')),
        num(t('unpaidByTenants')),
        num(t('amount')),
        num(t('vat')),
        num(t('totalInclusive')),
        t('actions'),
      ],
      list.map((s) => [
        s.number,
        providerNames.get(s.providerId) ?? s.providerId,
        s.period,
        i18n.date(s.issuedAt),
        i18n.num(s.lines.length),
        i18n.money(s.unpaidByTenants),
        h('span', { 'data-statement-total': s.number }, i18n.money(s.total)),
        h('span', { 'data-statement-vat': s.number }, i18n.money(s.vat)),
        h('span', { 'data-statement-inclusive': s.number }, i18n.money(s.totalInclusive)),
        h('a', { href: at(s.id), 'data-open-statement': s.number }, t('view')),
      ]),
    ),
    list.length ? h('p', {}, csvLink(rows, `statements${params.get('period') ? `-${params.get('period')}` : ''}.csv`, { 'data-csv': 'statements' })) : '',
    open
      ? h(
          'section',
          { 'data-statement': open.number, 'aria-label': open.number },
          h('h2', {}, `${open.number} · ${providerNames.get(open.providerId) ?? open.providerId} · ${open.period}`),
          h('p', { class: 'muted' }, `${t('cutoff')}: ${i18n.dateTime(open.cutoff)}`),
          table(
            [t('lines'), t('cluster'), t('model'), t('basis'), num(t('std')), num(t('unitPrice')), num(t('amount')), num(t('vat')), num(t('totalInclusive'))],
            open.lines.map((l) => [
              h(
                'span',
                {},
                l.description,
                l.kind === 'late_usage' ? ` (${t('lateUsage')} ${l.usagePeriod})` : '',
                l.paidByTenants ? '' : ` · ${t('notPaidByTenants')}`,
              ),
              clusterNames.get(l.clusterId) ?? l.clusterId,
              l.model,
              l.basis,
              i18n.num(Number(l.stdTokens)),
              l.unitPrice,
              i18n.money(l.amount),
              `${i18n.money(l.vat)} (${l.vatRate})`,
              i18n.money(l.amountInclusive),
            ]),
          ),
          h(
            'p',
            {},
            `${t('total2')}: `,
            h('strong', { 'data-open-total': '' }, i18n.money(open.total)),
            ` · ${t('vat')}: `,
            h('strong', { 'data-open-vat': '' }, i18n.money(open.vat)),
            ` · ${t('totalInclusive')}: `,
            h('strong', { 'data-open-inclusive': '' }, i18n.money(open.totalInclusive)),
          ),
        )
      : '',
    h('h2', {}, t('payouts')),
    h('p', { class: 'muted' }, t('payoutHelp')),
    table(
      [t('provider'), num(t('stillOwed'))],
      providerList.map((x) => [x.name, h('span', { 'data-owed': x.name }, i18n.money(owed.get(x.id) ?? '0.00'))]),
    ),
    payout,
  ];
}

const STATUS_KIND = { issued: '', partially_paid: 'warn', paid: 'ok', void: 'bad' };
const invoiceStatus = (inv) => (inv.status ? badge(inv.status, STATUS_KIND[inv.status]) : '');

/**
 * Payments: record one, import a bank statement (CSV) and see each line's result, top up a
 * prepaid tenant, and the invoices' states with a credit note against one.
 */
async function payments() {
  const [tenantList, invoices, paid] = await Promise.all([all('/api/v1/tenants'), all('/api/v1/invoices'), all('/api/v1/payments')]);
  const tenantNames = names(tenantList);
  const tenantOptions = tenantList.map((x) => [x.id, x.name]);
  const open = invoices.filter((i) => i.status !== 'void' && i.status !== 'paid');
  const invoiceOption = (i) => [i.id, `${i.number} · ${tenantNames.get(i.tenantId) ?? i.tenantId} · ${i18n.money(i.outstanding ?? i.total)}`];
  const record = form(
    'record-payment',
    [
      field(t('tenant'), select('tenantId', tenantOptions)),
      field(t('amount'), input('amount', { inputmode: 'decimal', required: true })),
      field(t('receivedAt'), input('receivedAt', { type: 'datetime-local', required: true })),
      field(t('reference'), input('reference', { required: true, autocomplete: 'off' })),
      field(t('invoice'), select('invoiceId', [['', t('oldestFirst')], ...open.map(invoiceOption)])),
    ],
    t('recordPayment'),
    async (v, status) => {
      const paid = await api('POST', '/api/v1/payments', {
        tenantId: v.tenantId,
        amount: v.amount,
        receivedAt: instantOf(v.receivedAt),
        reference: v.reference,
        ...(v.invoiceId ? { invoiceId: v.invoiceId } : {}),
      });
      message(status, `${t('recorded')}: ${i18n.money(paid.amount)} · ${paid.reference}`);
      setTimeout(render, 1200);
      return false;
    },
  );
  const results = h('div', { 'data-import-results': '', 'aria-live': 'polite' });
  const importForm = form(
    'import-statement',
    [
      h('p', { class: 'muted' }, t('importHelp')),
      field(t('csvFile'), input('file', { type: 'file', accept: '.csv,text/csv' })),
      field(t('csvText'), h('textarea', { name: 'csv', rows: 4, placeholder: 'date,amount,reference,payer\n2026-11-05,1200.00,BANK-0001,91440101MA59ABCD1D' })),
    ],
    t('import'),
    async (v) => {
      const file = v.file instanceof File && v.file.size ? await v.file.text() : v.csv;
      results.replaceChildren();
      try {
        const answer = await api('POST', '/api/v1/payments/import', file ?? '', 'text/csv');
        results.replaceChildren(
          table(
            [num(t('line')), t('reference'), t('result')],
            answer.items.map((r) => [
              String(r.line),
              r.reference,
              h('span', { 'data-line-result': r.line }, badge(r.status, r.status === 'recorded' ? 'ok' : '')),
            ]),
          ),
        );
        setTimeout(render, 2500);
      } catch (err) {
        // A bad statement records nothing: each bad line's errors (path lines.<n>.<column>).
        if (!err.fields?.length) throw err;
        results.replaceChildren(
          table(
            [num(t('line')), t('column'), t('result')],
            err.fields.map((e) => {
              const [, line = '', column = ''] = /^lines\.(\d+)\.?(.*)$/.exec(e.path) ?? [];
              return [line, column || e.path, h('span', { class: 'error', 'data-line-error': line }, e.message)];
            }),
          ),
        );
        throw Object.assign(new Error(err.detail), { fields: [] });
      }
      return false;
    },
  );
  const prepaidTenants = tenantList.filter((x) => x.billingMode === 'prepaid');
  const topUp = form(
    'top-up',
    [
      field(
        t('tenant'),
        select(
          'tenantId',
          prepaidTenants.map((x) => [x.id, x.name]),
        ),
      ),
      field(t('amount'), input('amount', { inputmode: 'decimal', required: true })),
      field(t('reference'), input('reference', { required: true, autocomplete: 'off' })),
    ],
    t('topUp'),
    async (v, status) => {
      const r = await api('POST', `/api/v1/tenants/${encodeURIComponent(v.tenantId)}/top-ups`, { amount: v.amount, reference: v.reference });
      message(status, `${t('prepaid')}: ${i18n.money(r.prepaid)}`);
      return false;
    },
  );
  const credit = form(
    'credit-note',
    [
      field(t('invoice'), select('invoiceId', invoices.filter((i) => i.status !== 'void').map(invoiceOption))),
      field(t('creditAmount'), input('amount', { inputmode: 'decimal' })),
      field(t('reason'), input('reason', { required: true, maxlength: 1000 })),
    ],
    t('issueCreditNote'),
    async (v, status) => {
      const note = await api('POST', `/api/v1/invoices/${encodeURIComponent(v.invoiceId)}/credit-notes`, {
        reason: v.reason,
        ...(v.amount ? { amount: v.amount } : {}),
      });
      message(status, `${note.number}: ${i18n.money(note.total)}`);
      setTimeout(render, 1200);
      return false;
    },
  );
  return [
    h('h2', {}, t('recordPayment')),
    record,
    h('h2', {}, t('importStatement')),
    importForm,
    results,
    ...(prepaidTenants.length ? [h('h2', {}, t('topUp')), topUp] : []),
    h('h2', {}, t('invoices')),
    table(
      [t('number'), t('tenant'), t('period'), t('status'), num(t('amount')), num(t('paid')), num(t('credited')), num(t('outstanding'))],
      invoices.map((i) => [
        i.number,
        tenantNames.get(i.tenantId) ?? i.tenantId,
        i.period,
        h('span', { 'data-invoice-status': i.number }, invoiceStatus(i)),
        i18n.money(i.total),
        i18n.money(i.paid),
        i18n.money(i.credited),
        h('span', { 'data-invoice-outstanding': i.number }, i18n.money(i.outstanding)),
      ]),
    ),
    h('h2', {}, t('creditNotes')),
    h('p', { class: 'muted' }, t('creditNoteHelp')),
    credit,
    h('h2', {}, t('paymentsList')),
    paymentTable(paid, invoices, tenantNames),
  ];
}

/** Payments, top-ups and refunds, the latest first, with the invoice each one named. */
function paymentTable(list, invoices, tenantNames) {
  const numbers = new Map(invoices.map((i) => [i.id, i.number]));
  const latest = [...list].sort((x, y) => y.receivedAt.localeCompare(x.receivedAt) || y.id.localeCompare(x.id));
  return table(
    [t('receivedAt'), ...(tenantNames ? [t('tenant')] : []), t('kind'), t('reference'), t('invoice'), num(t('amount'))],
    latest.map((x) => [
      i18n.dateTime(x.receivedAt),
      ...(tenantNames ? [tenantNames.get(x.tenantId) ?? x.tenantId] : []),
      t(`payment_${x.kind}`),
      h('span', { 'data-payment': x.reference }, x.reference),
      x.invoiceId ? (numbers.get(x.invoiceId) ?? x.invoiceId) : '',
      h('span', { 'data-payment-amount': x.reference }, i18n.money(x.kind === 'refund' ? `-${x.amount}` : x.amount)),
    ]),
  );
}

const AGES = ['0-30', '31-60', '61-90', '90+'];

/**
 * The ledger's accounts and their balances, the trial balance, receivables by age, and one
 * tenant's balance (`?tenant=`) with a refund from it.
 */
async function balances(params) {
  const items = [];
  let cursor = null;
  let trial;
  do {
    const page = await api('GET', `/api/v1/ledger/balances?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    trial = page.trialBalance;
    cursor = page.nextCursor;
  } while (cursor);
  const [ageing, tenantList, providerList] = await Promise.all([api('GET', '/api/v1/ledger/ageing'), all('/api/v1/tenants'), all('/api/v1/providers')]);
  const tenantNames = names(tenantList);
  const providerNames = names(providerList);
  const holder = (a) => (a.tenantId ? (tenantNames.get(a.tenantId) ?? a.tenantId) : a.providerId ? (providerNames.get(a.providerId) ?? a.providerId) : '');
  const balanced = trial.total.replace(/^-/, '').replace(/[0.]/g, '') === '' && trial.unbalancedEntries === 0;
  return [
    h('p', { class: 'muted' }, t('balancesNote')),
    h('h2', {}, t('tenantBalance')),
    tenantPicker(tenantList, params.get('tenant'), 'balances', 'tenant', false),
    ...(params.get('tenant') ? await tenantBalance(params.get('tenant')) : []),
    h(
      'div',
      { class: 'cards' },
      cardOf('trialBalance', h('span', { class: balanced ? 'ok' : 'error' }, i18n.money(trial.total)), trial.total),
      cardOf('unbalancedEntries', i18n.num(trial.unbalancedEntries), trial.unbalancedEntries),
    ),
    h('h2', {}, t('accounts')),
    table(
      [t('account'), t('kind'), t('holder'), num(t('postings')), num(t('balance'))],
      items.map((a) => [
        h('code', {}, a.id),
        t(`account_${a.kind}`),
        holder(a),
        i18n.num(a.postings),
        h('span', { 'data-balance': a.id }, i18n.money(a.balance)),
      ]),
    ),
    h('h2', {}, t('ageing')),
    h('p', { class: 'muted' }, `${t('asOf')} ${i18n.dateTime(ageing.asOf)}`),
    table(
      [t('tenant'), ...AGES.map((b) => num(`${b} ${t('days')}`))],
      [
        ...ageing.items.map((x) => [
          tenantNames.get(x.tenantId) ?? x.tenantId,
          ...AGES.map((b) => h('span', { 'data-ageing': `${x.tenantId}:${b}` }, i18n.money(x.ageing[b]))),
        ]),
        ...(ageing.items.length
          ? [[h('strong', {}, t('total2')), ...AGES.map((b) => h('strong', { 'data-ageing': `total:${b}` }, i18n.money(ageing.total[b])))]]
          : []),
      ],
    ),
  ];
}

/** A tenant's receivable and prepaid balance from the ledger, and a refund from either. */
async function tenantBalance(tenantId) {
  const b = await api('GET', `/api/v1/tenants/${encodeURIComponent(tenantId)}/balance`);
  // The receivable is debit-positive: below zero the tenant paid more than it was invoiced (a credit balance).
  const credit = b.receivable.startsWith('-') ? b.receivable.slice(1) : '0.00';
  const from = select('from', [
    ['prepaid', `${t('refundFrom_prepaid')} · ${i18n.money(b.prepaid)}`],
    ['receivable', `${t('refundFrom_receivable')} · ${i18n.money(credit)}`],
  ]);
  if (b.prepaid.replace(/[0.]/g, '') === '' && credit !== '0.00') from.value = 'receivable';
  const refund = form(
    'refund',
    [
      field(t('refundFrom'), from),
      field(t('amount'), input('amount', { inputmode: 'decimal', required: true })),
      field(t('reference'), input('reference', { required: true, autocomplete: 'off' })),
    ],
    t('refund'),
    async (v, status) => {
      const r = await api('POST', `/api/v1/tenants/${encodeURIComponent(tenantId)}/refunds`, { amount: v.amount, reference: v.reference, from: v.from });
      message(status, `${t('recorded')}: ${i18n.money(r.amount)} · ${r.reference}`);
      setTimeout(render, 1200);
      return false;
    },
  );
  return [
    h(
      'div',
      { class: 'cards', 'data-tenant-balance': tenantId },
      cardOf('billingMode', t(`mode_${b.billingMode}`), b.billingMode),
      cardOf('prepaid', i18n.money(b.prepaid), b.prepaid),
      cardOf('receivable', i18n.money(b.receivable), b.receivable),
    ),
    h('p', { class: 'muted' }, t('refundHelp')),
    refund,
  ];
}

/** Credit notes, the latest first: number, invoice, tenant (when several), amount and the VAT it took back, reason. */
function creditNoteTable(list, invoices, tenantNames) {
  const numbers = new Map(invoices.map((i) => [i.id, i.number]));
  const latest = [...list].sort((x, y) => y.issuedAt.localeCompare(x.issuedAt) || y.number.localeCompare(x.number));
  return table(
    [t('number'), t('invoice'), ...(tenantNames ? [t('tenant')] : []), t('issued'), num(t('amount')), num(t('vat')), t('reason')],
    latest.map((c) => [
      h('span', { 'data-credit-note': c.number }, c.number),
      numbers.get(c.invoiceId) ?? c.invoiceId,
      ...(tenantNames ? [tenantNames.get(c.tenantId) ?? c.tenantId] : []),
      i18n.date(c.issuedAt),
      h('span', { 'data-credit-note-total': c.number }, i18n.money(c.total)),
      h('span', { 'data-credit-note-vat': c.number }, i18n.money(c.vat)),
      c.reason,
    ]),
  );
}

/** Every credit note, or one tenant's (`?tenant=`); issued from the payments view. */
async function creditNotes(params) {
  const tenantId = params.get('tenant');
  const [list, tenantList, invoices] = await Promise.all([
    all(`/api/v1/credit-notes${tenantId ? `?tenantId=${encodeURIComponent(tenantId)}` : ''}`),
    all('/api/v1/tenants'),
    all(`/api/v1/invoices${tenantId ? `?tenantId=${encodeURIComponent(tenantId)}` : ''}`),
  ]);
  return [
    h('p', { class: 'muted' }, t('creditNoteHelp'), ' ', h('a', { href: '#/payments' }, t('issueCreditNote'))),
    tenantPicker(tenantList, tenantId, 'creditNotes', 'tenant', true),
    creditNoteTable(list, invoices, names(tenantList)),
  ];
}

/** The settlement report of a closed period: totals, and by provider, cluster and model; CSV. */
async function settlement(params) {
  const period = params.get('period') ?? lastMonth();
  const pick = form('report-period', [field(t('period'), input('period', { ...PERIOD, required: true, value: period }))], t('show'), (v) => {
    go('settlement', new URLSearchParams({ period: v.period }));
    return false;
  });
  let r;
  try {
    r = await api('GET', `/api/v1/settlement/report?period=${encodeURIComponent(period)}`);
  } catch (err) {
    // A period not closed yet is an answer, not a failure of the view.
    if (err.status !== 409) throw err;
    return [pick, h('p', { class: 'muted', 'data-not-closed': period }, `${t('notClosed')} (${err.detail})`)];
  }
  const [providerList, clusterList] = await Promise.all([all('/api/v1/providers'), all('/api/v1/clusters')]);
  const providerNames = names(providerList);
  const clusterNames = names(clusterList);
  const unattributed = h('em', {}, t('unattributed'));
  const three = (x, key) => [
    h('span', { 'data-receivables': key }, i18n.money(x.receivables)),
    h('span', { 'data-payables': key }, i18n.money(x.payables)),
    h('span', { 'data-margin': key, class: x.margin.startsWith('-') ? 'error' : undefined }, i18n.money(x.margin)),
    h('span', { 'data-payables-vat': key }, i18n.money(x.payablesVat)),
  ];
  const heads = (first) => [first, num(t('receivables')), num(t('payables')), num(t('margin')), num(t('payablesVat'))];
  return [
    pick,
    h('p', { class: 'muted' }, t('marginNote')),
    h(
      'div',
      { class: 'cards' },
      cardOf('receivables', i18n.money(r.receivables), r.receivables),
      cardOf('payables', i18n.money(r.payables), r.payables),
      cardOf('margin', i18n.money(r.margin), r.margin),
      cardOf('receivablesVat', i18n.money(r.receivablesVat), r.receivablesVat),
      cardOf('payablesVat', i18n.money(r.payablesVat), r.payablesVat),
      cardOf('invoiceCount', i18n.num(r.invoices), r.invoices),
      cardOf('statementCount', i18n.num(r.statements), r.statements),
    ),
    h(
      'p',
      {},
      h(
        'a',
        { href: `/api/v1/settlement/report.csv?period=${encodeURIComponent(r.period)}`, download: `settlement-${r.period}.csv`, 'data-csv': 'settlement' },
        t('download'),
      ),
    ),
    h('h2', {}, t('byProvider')),
    table(
      heads(t('provider')),
      r.byProvider.map((x) => [
        x.providerId ? (x.name ?? providerNames.get(x.providerId) ?? x.providerId) : unattributed.cloneNode(true),
        ...three(x, `provider:${x.providerId ?? ''}`),
      ]),
    ),
    h('h2', {}, t('byCluster')),
    table(
      [t('cluster'), t('provider'), ...heads('').slice(1)],
      r.byCluster.map((x) => [
        x.clusterId ? (clusterNames.get(x.clusterId) ?? x.clusterId) : unattributed.cloneNode(true),
        x.providerId ? (providerNames.get(x.providerId) ?? x.providerId) : '',
        ...three(x, `cluster:${x.clusterId ?? ''}`),
      ]),
    ),
    h('h2', {}, t('byModel')),
    table(
      heads(t('model')),
      r.byModel.map((x) => [x.model ?? unattributed.cloneNode(true), ...three(x, `model:${x.model ?? ''}`)]),
    ),
  ];
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
  return invoiceList(await all('/api/v1/invoices'), new Map([[session.tenantId, session.name]]));
}

/**
 * The tenant's position from the ledger: its prepaid balance (prepaid tenants) or what it owes,
 * how old that is, and what its payments have settled on each invoice.
 */
async function balancePortal() {
  const [b, invoices, paid, notes] = await Promise.all([
    api('GET', `/api/v1/tenants/${encodeURIComponent(session.tenantId)}/balance`),
    all('/api/v1/invoices'),
    all('/api/v1/payments'),
    all('/api/v1/credit-notes'),
  ]);
  // The receivable is debit-positive: below zero the tenant has paid more than it was invoiced.
  const credit = b.receivable.startsWith('-');
  const settled = invoices.filter((i) => i.paid && i.paid.replace(/[0.]/g, '') !== '');
  return [
    h('p', { class: 'muted' }, t(b.billingMode === 'prepaid' ? 'prepaidNote' : 'postpaidNote')),
    h(
      'div',
      { class: 'cards' },
      cardOf('billingMode', t(`mode_${b.billingMode}`), b.billingMode),
      ...(b.billingMode === 'prepaid' ? [cardOf('prepaid', i18n.money(b.prepaid), b.prepaid)] : []),
      cardOf(credit ? 'creditBalance' : 'receivable', i18n.money(credit ? b.receivable.slice(1) : b.receivable), b.receivable),
    ),
    h('h2', {}, t('ageing')),
    table(
      AGES.map((x) => num(`${x} ${t('days')}`)),
      [AGES.map((x) => h('span', { 'data-ageing': x }, i18n.money(b.ageing[x])))],
    ),
    h('h2', {}, t('paymentsReceived')),
    paymentTable(paid, invoices),
    h('h2', {}, t('settledInvoices')),
    table(
      [t('number'), t('period'), t('status'), num(t('amount')), num(t('paid')), num(t('credited')), num(t('outstanding'))],
      settled.map((i) => [
        i.number,
        i.period,
        h('span', { 'data-invoice-status': i.number }, invoiceStatus(i)),
        i18n.money(i.total),
        h('span', { 'data-invoice-paid': i.number }, i18n.money(i.paid)),
        i18n.money(i.credited),
        i18n.money(i.outstanding),
      ]),
    ),
    ...(notes.length ? [h('h2', {}, t('creditNotes')), creditNoteTable(notes, invoices)] : []),
    h('p', {}, h('a', { href: '#/invoices' }, t('invoices'))),
  ];
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
