/**
 * The forms that bring a member in: a cluster registered (POST /api/v1/clusters: its agent token
 * answered once) and a tenant created (POST /api/v1/tenants: its first API key answered once),
 * validated as the routes' schemas do.
 */
import type { Body } from '@/views/ops/api';
import type { Field } from '@/views/ops/fields';

/** A DNS label, as clusterName in server/http/schemas.ts. */
const CLUSTER = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
/** A lower-case region id, as regionName in server/http/schemas.ts. */
const REGION = /^[a-z][a-z0-9-]{0,62}$/;

export type ClusterBody = Body<'/api/v1/clusters', 'post'>;
export const clusterFields: Field<keyof ClusterBody>[] = [
  { key: 'name', label: 'onboard.cluster.name', kind: 'text', required: true, max: 63, pattern: CLUSTER, patternMessage: 'onboard.cluster.nameRule' },
  {
    key: 'region',
    label: 'onboard.cluster.region',
    kind: 'text',
    required: true,
    max: 63,
    pattern: REGION,
    patternMessage: 'onboard.cluster.regionRule',
    placeholder: 'onboard.cluster.regionHint',
  },
  { key: 'labels', label: 'onboard.cluster.labels', kind: 'map', placeholder: 'onboard.cluster.labelsHint' },
];

export type TenantBody = Body<'/api/v1/tenants', 'post'>;
export const tenantFields: Field<keyof TenantBody>[] = [
  { key: 'name', label: 'onboard.tenant.name', kind: 'text', required: true, max: 200 },
  { key: 'kind', label: 'onboard.tenant.kind', kind: 'select', required: true, options: ['government', 'enterprise'], optionLabel: 'kind' },
  { key: 'billingMode', label: 'onboard.tenant.billingMode', kind: 'select', options: ['postpaid', 'prepaid'], optionLabel: 'billingMode' },
  { key: 'uscc', label: 'onboard.tenant.uscc', kind: 'text', max: 18, placeholder: 'onboard.tenant.usccHint' },
];
