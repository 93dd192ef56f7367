// Texts of the console and portal in English and Simplified Chinese, and locale formatting.
const TEXTS = {
  en: {
    console: 'Operator console', portal: 'Tenant portal', signIn: 'Sign in', signOut: 'Sign out', username: 'Username', password: 'Password',
    orToken: 'Or sign in with a token (the admin token, or a tenant API key)', token: 'Token', language: '中文',
    loading: 'Loading…', failed: 'Could not load: ', saved: 'Saved.', shownOnce: 'Shown only now — copy it:',
    dashboard: 'Pool', clusters: 'Clusters', tenants: 'Tenants', plans: 'Plans', workloads: 'Workloads', billing: 'Usage & invoices', alerts: 'Alerts',
    usage: 'Usage', invoices: 'Invoices', keys: 'API keys', budget: 'Budget',
    total: 'Total std tokens/min', allocated: 'Allocated std tokens/min', free: 'Free std tokens/min', efficiency: 'Energy efficiency (std tokens/s per W)',
    ready: 'Ready', notReady: 'Not ready', cordoned: 'Cordoned', byVendor: 'By vendor', byCluster: 'By cluster', overTime: 'Capacity and allocation since this page opened',
    vendor: 'Vendor', devices: 'Devices', name: 'Name', region: 'Region', state: 'State', lastHeartbeat: 'Last heartbeat', inventory: 'Inventory', unprofiled: 'Unprofiled devices',
    register: 'Register cluster', cordon: 'Cordon', uncordon: 'Uncordon', agentToken: 'Agent token', actions: 'Actions',
    kind: 'Kind', government: 'Government', enterprise: 'Enterprise', create: 'Create', quota: 'Quota (std tokens/min)', setQuota: 'Set quota',
    subscribe: 'Subscribe', plan: 'Plan', newKey: 'New API key', newUser: 'New user', admin: 'Admin', revoke: 'Revoke', prefix: 'Prefix', created: 'Created', revoked: 'Revoked',
    type: 'Type', unit: 'Unit (pay as you go)', periodic: 'Periodic (monthly)', price: 'Price per million std (¥)', fee: 'Monthly fee (¥)', included: 'Included std tokens',
    overage: 'Overage per million std (¥, empty: hard cap)', reserved: 'Reserved std tokens/min',
    tenant: 'Tenant', model: 'Model', tokensPerMin: 'Tokens/min', priority: 'Priority', regions: 'Regions (comma-separated)', reason: 'Reason', placed: 'Placed tokens/min',
    preview: 'Preview placement', wouldPlace: 'Would be placed on:', wouldWait: 'Would wait: ', rescale: 'Rescale', delete: 'Delete',
    period: 'Period', close: 'Close period', amount: 'Amount', number: 'Number', view: 'View', download: 'Download CSV', std: 'Std tokens', input: 'Input tokens', output: 'Output tokens',
    byDay: 'By day', byModel: 'By model', costSoFar: 'This period so far', monthly: 'Monthly budget (¥)', thresholds: 'Alert at (% , comma-separated)', save: 'Save',
    noData: 'Nothing yet.', placementsOn: 'Placements', billed: 'Billed by period', budgetAlert: 'Budget crossed', clusterDown: 'Cluster not ready', unprofiledAlert: 'Unprofiled devices', lines: 'Lines', total2: 'Total',
  },
  'zh-CN': {
    console: '运营控制台', portal: '租户门户', signIn: '登录', signOut: '退出', username: '用户名', password: '密码',
    orToken: '或使用令牌登录（管理员令牌或租户 API 密钥）', token: '令牌', language: 'English',
    loading: '加载中…', failed: '加载失败：', saved: '已保存。', shownOnce: '仅显示这一次，请复制：',
    dashboard: '算力池', clusters: '集群', tenants: '租户', plans: '套餐', workloads: '工作负载', billing: '用量与账单', alerts: '告警',
    usage: '用量', invoices: '账单', keys: 'API 密钥', budget: '预算',
    total: '总算力（标准 token/分钟）', allocated: '已分配（标准 token/分钟）', free: '空闲（标准 token/分钟）', efficiency: '能效（标准 token/秒/瓦）',
    ready: '就绪', notReady: '未就绪', cordoned: '已封锁', byVendor: '按厂商', byCluster: '按集群', overTime: '自打开本页以来的容量与分配',
    vendor: '厂商', devices: '设备数', name: '名称', region: '区域', state: '状态', lastHeartbeat: '最近心跳', inventory: '设备清单', unprofiled: '未建档设备',
    register: '注册集群', cordon: '封锁', uncordon: '解除封锁', agentToken: '代理令牌', actions: '操作',
    kind: '类型', government: '政府', enterprise: '企业', create: '创建', quota: '配额（标准 token/分钟）', setQuota: '设置配额',
    subscribe: '订阅', plan: '套餐', newKey: '新建 API 密钥', newUser: '新建用户', admin: '管理员', revoke: '吊销', prefix: '前缀', created: '创建时间', revoked: '吊销时间',
    type: '类型', unit: '按量计费', periodic: '包月', price: '每百万标准 token 单价（¥）', fee: '月费（¥）', included: '包含标准 token',
    overage: '超额每百万单价（¥，留空为硬上限）', reserved: '预留（标准 token/分钟）',
    tenant: '租户', model: '模型', tokensPerMin: 'Token/分钟', priority: '优先级', regions: '区域（逗号分隔）', reason: '原因', placed: '已放置 token/分钟',
    preview: '预览放置', wouldPlace: '将放置于：', wouldWait: '将等待：', rescale: '调整规模', delete: '删除',
    period: '账期', close: '结算账期', amount: '金额', number: '编号', view: '查看', download: '下载 CSV', std: '标准 token', input: '输入 token', output: '输出 token',
    byDay: '按日', byModel: '按模型', costSoFar: '本期至今费用', monthly: '月度预算（¥）', thresholds: '告警阈值（%，逗号分隔）', save: '保存',
    noData: '暂无数据。', placementsOn: '放置', billed: '各账期计费金额', budgetAlert: '超出预算阈值', clusterDown: '集群未就绪', unprofiledAlert: '未建档设备', lines: '明细', total2: '合计',
  },
};

export function initialLang() {
  const saved = localStorage.getItem('tokenpool.lang');
  if (saved && TEXTS[saved]) return saved;
  return (navigator.languages ?? [navigator.language]).some((l) => /^zh/i.test(l)) ? 'zh-CN' : 'en';
}

export function makeI18n(lang) {
  const texts = TEXTS[lang];
  const numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  const integers = new Intl.NumberFormat(lang);
  const dates = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
  return {
    lang,
    t: (key) => texts[key] ?? key,
    num: (n) => (n === null || n === undefined ? '—' : numbers.format(n)),
    // Money arrives as a decimal string and is shown as one: the integer part grouped, never a float.
    money: (s) => {
      if (s === null || s === undefined) return '—';
      const [int, frac = ''] = String(s).replace(/^-/, '').split('.');
      return `${String(s).startsWith('-') ? '-' : ''}¥${integers.format(BigInt(int))}.${frac.padEnd(2, '0')}`;
    },
    date: (iso) => (iso ? dates.format(new Date(iso)) : '—'),
  };
}
