import { expect } from 'chai';
import { AgentConfigError, loadAgentConfig } from '../../../adapters/agent-config.js';

const BASE = { TOKENPOOL_URL: 'https://tokenpool.example', TOKENPOOL_AGENT_TOKEN: 'tp_agent_x', KUBECONFIG: '/kubeconfig' };

describe('loadAgentConfig: tunnel and Gateway API routes', () => {
  it('has the tunnel off and Ingresses unless set', () => {
    const c = loadAgentConfig({ ...BASE, TOKENPOOL_SERVING_BASE_URL: 'https://gw.example' });
    expect(c.tunnel).to.equal(false);
    expect(c.ingress?.httpRoute).to.equal(undefined);
    expect(loadAgentConfig({ ...BASE, TOKENPOOL_TUNNEL: 'on' }).tunnel).to.equal(true);
  });

  it('reads HTTPRoutes with the Gateways they attach to', () => {
    const c = loadAgentConfig({
      ...BASE,
      TOKENPOOL_SERVING_BASE_URL: 'https://gw.example',
      TOKENPOOL_SERVING_ROUTE: 'httproute',
      TOKENPOOL_GATEWAY_PARENT_REFS: '[{"name":"public","namespace":"gateways","sectionName":"https"},{"name":"internal","port":8443}]',
    });
    expect(c.ingress?.httpRoute).to.deep.equal({
      parentRefs: [
        { name: 'public', namespace: 'gateways', sectionName: 'https' },
        { name: 'internal', port: 8443 },
      ],
    });
  });
});

describe('loadAgentConfig: serving settings', () => {
  it('has no ingress, tolerations, node selector or engine images unless set', () => {
    const c = loadAgentConfig(BASE);
    expect([c.ingress, c.tolerations, c.nodeSelector, c.engineImages]).to.deep.equal([undefined, [], {}, {}]);
  });

  it('reads the ingress base URL, class, TLS Secret and annotations together', () => {
    const c = loadAgentConfig({
      ...BASE,
      TOKENPOOL_SERVING_BASE_URL: 'https://gw.cluster-a.example',
      TOKENPOOL_INGRESS_CLASS: 'nginx',
      TOKENPOOL_INGRESS_TLS_SECRET: 'gw-tls',
      TOKENPOOL_INGRESS_ANNOTATIONS: '{"nginx.ingress.kubernetes.io/proxy-read-timeout":"3600"}',
    });
    expect(c.ingress).to.deep.equal({
      baseUrl: 'https://gw.cluster-a.example',
      className: 'nginx',
      tlsSecret: 'gw-tls',
      annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600' },
    });
  });

  it('reads tolerations, node selector and engine images as JSON', () => {
    const c = loadAgentConfig({
      ...BASE,
      TOKENPOOL_SERVING_TOLERATIONS: '[{"key":"huawei.com/Ascend910","operator":"Exists","effect":"NoSchedule"}]',
      TOKENPOOL_SERVING_NODE_SELECTOR: '{"pool":"inference"}',
      TOKENPOOL_ENGINE_IMAGES: '{"vllm-ascend":"registry.local/vllm-ascend:1"}',
    });
    expect(c.tolerations).to.deep.equal([{ key: 'huawei.com/Ascend910', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(c.nodeSelector).to.deep.equal({ pool: 'inference' });
    expect(c.engineImages).to.deep.equal({ 'vllm-ascend': 'registry.local/vllm-ascend:1' });
  });

  it('has no weights cache unless set, and reads the cache, allowed kinds and downloaders', () => {
    expect(loadAgentConfig(BASE).weights).to.deep.equal({ cache: undefined, downloaders: { huggingface: {}, modelscope: {}, s3: {} } });
    const c = loadAgentConfig({
      ...BASE,
      TOKENPOOL_WEIGHTS_CACHE_HOST_PATH: '/var/lib/tokenpool/weights',
      TOKENPOOL_WEIGHTS_KINDS: 'pvc, huggingface',
      TOKENPOOL_WEIGHTS_MODELSCOPE_IMAGE: 'registry.local/modelscope:1',
      TOKENPOOL_WEIGHTS_S3_COMMAND: '["rclone","copy","x","y"]',
    });
    expect(c.weights).to.deep.equal({
      kinds: ['pvc', 'huggingface'],
      cache: { hostPath: '/var/lib/tokenpool/weights' },
      downloaders: { huggingface: {}, modelscope: { image: 'registry.local/modelscope:1' }, s3: { command: ['rclone', 'copy', 'x', 'y'] } },
    });
    expect(loadAgentConfig({ ...BASE, TOKENPOOL_WEIGHTS_CACHE_PVC: 'weights-cache' }).weights.cache).to.deep.equal({ claim: 'weights-cache' });
  });

  it('refuses two weights caches at once', () => {
    expect(() => loadAgentConfig({ ...BASE, TOKENPOOL_WEIGHTS_CACHE_PVC: 'c', TOKENPOOL_WEIGHTS_CACHE_HOST_PATH: '/w' })).to.throw(
      AgentConfigError,
      /exclusive/,
    );
  });

  const bad: [string, Record<string, string>, string][] = [
    ['an unknown weights kind', { TOKENPOOL_WEIGHTS_KINDS: 'pvc,ftp' }, 'TOKENPOOL_WEIGHTS_KINDS'],
    ['a relative cache path', { TOKENPOOL_WEIGHTS_CACHE_HOST_PATH: 'weights' }, 'TOKENPOOL_WEIGHTS_CACHE_HOST_PATH'],
    ['a cache path with ..', { TOKENPOOL_WEIGHTS_CACHE_HOST_PATH: '/var/../etc' }, 'TOKENPOOL_WEIGHTS_CACHE_HOST_PATH'],
    ['a download command that is not an array', { TOKENPOOL_WEIGHTS_HUGGINGFACE_COMMAND: '"hf download"' }, 'TOKENPOOL_WEIGHTS_HUGGINGFACE_COMMAND'],
    ['a base URL with a path', { TOKENPOOL_SERVING_BASE_URL: 'https://gw.example/serving' }, 'TOKENPOOL_SERVING_BASE_URL'],
    ['a base URL that is no URL', { TOKENPOOL_SERVING_BASE_URL: 'gw.example' }, 'TOKENPOOL_SERVING_BASE_URL'],
    ['a base URL on an IP address', { TOKENPOOL_SERVING_BASE_URL: 'http://10.0.0.1:8080' }, 'TOKENPOOL_SERVING_BASE_URL'],
    [
      'a base URL whose host leaves no room for a service name',
      { TOKENPOOL_SERVING_BASE_URL: `https://${'a.'.repeat(95)}example` },
      'TOKENPOOL_SERVING_BASE_URL',
    ],
    ['a base URL of another scheme', { TOKENPOOL_SERVING_BASE_URL: 'ftp://gw.example' }, 'TOKENPOOL_SERVING_BASE_URL'],
    ['tolerations that are not an array', { TOKENPOOL_SERVING_TOLERATIONS: '{"key":"x"}' }, 'TOKENPOOL_SERVING_TOLERATIONS'],
    ['a toleration with an unknown effect', { TOKENPOOL_SERVING_TOLERATIONS: '[{"key":"x","effect":"Never"}]' }, 'TOKENPOOL_SERVING_TOLERATIONS'],
    ['a node selector that is not JSON', { TOKENPOOL_SERVING_NODE_SELECTOR: 'pool=inference' }, 'TOKENPOOL_SERVING_NODE_SELECTOR'],
    ['an engine image that is empty', { TOKENPOOL_ENGINE_IMAGES: '{"vllm-cuda":""}' }, 'TOKENPOOL_ENGINE_IMAGES'],
    ['an ingress class that is no name', { TOKENPOOL_INGRESS_CLASS: 'Nginx Class' }, 'TOKENPOOL_INGRESS_CLASS'],
    ['a tunnel setting other than on or off', { TOKENPOOL_TUNNEL: 'yes' }, 'TOKENPOOL_TUNNEL'],
    ['a route kind it does not make', { TOKENPOOL_SERVING_ROUTE: 'gateway' }, 'TOKENPOOL_SERVING_ROUTE'],
    [
      'HTTPRoutes without Gateways',
      { TOKENPOOL_SERVING_ROUTE: 'httproute', TOKENPOOL_SERVING_BASE_URL: 'https://gw.example' },
      'TOKENPOOL_GATEWAY_PARENT_REFS',
    ],
    [
      'a Gateway reference with an unknown field',
      {
        TOKENPOOL_SERVING_ROUTE: 'httproute',
        TOKENPOOL_SERVING_BASE_URL: 'https://gw.example',
        TOKENPOOL_GATEWAY_PARENT_REFS: '[{"name":"gw","kind":"Service"}]',
      },
      'TOKENPOOL_GATEWAY_PARENT_REFS',
    ],
  ];
  for (const [name, env, variable] of bad) {
    it(`refuses ${name}, naming the variable`, () => {
      expect(() => loadAgentConfig({ ...BASE, ...env }))
        .to.throw(AgentConfigError)
        .with.property('message')
        .that.contains(variable);
    });
  }
});

describe('loadAgentConfig: where unsent usage is kept', () => {
  it('keeps it in the ConfigMap tokenpool-agent-state of tokenpool-agent unless told otherwise', () => {
    expect(loadAgentConfig(BASE).state).to.deep.equal({ kind: 'configmap', namespace: 'tokenpool-agent', name: 'tokenpool-agent-state' });
    expect(loadAgentConfig({ ...BASE, TOKENPOOL_STATE_NAMESPACE: 'agents', TOKENPOOL_STATE_CONFIGMAP: 'usage' }).state).to.deep.equal({
      kind: 'configmap',
      namespace: 'agents',
      name: 'usage',
    });
  });

  it('keeps it in a file on a volume when TOKENPOOL_STATE_FILE is set', () => {
    expect(loadAgentConfig({ ...BASE, TOKENPOOL_STATE_FILE: '/var/lib/tokenpool/usage-state.json' }).state).to.deep.equal({
      kind: 'file',
      path: '/var/lib/tokenpool/usage-state.json',
    });
  });

  const bad: [string, Record<string, string>, string][] = [
    ['a relative state file', { TOKENPOOL_STATE_FILE: 'state.json' }, 'TOKENPOOL_STATE_FILE must be an absolute path'],
    ['a ConfigMap name that is none', { TOKENPOOL_STATE_CONFIGMAP: 'Usage State' }, 'TOKENPOOL_STATE_CONFIGMAP must be a ConfigMap name'],
    ['a namespace that is none', { TOKENPOOL_STATE_NAMESPACE: 'Agents' }, 'TOKENPOOL_STATE_NAMESPACE must be a Kubernetes namespace name'],
  ];
  for (const [name, env, message] of bad) {
    it(`refuses ${name}`, () => {
      expect(() => loadAgentConfig({ ...BASE, ...env })).to.throw(AgentConfigError, message);
    });
  }
});
