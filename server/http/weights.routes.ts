import { z } from 'zod';
import { WEIGHT_SOURCE_KINDS } from '../../scheduler/framework/types.js';
import type { AppContext } from '../context.js';
import { route, type AnyRoute } from './route.js';
import { timestamp } from './schemas.js';

/** A Kubernetes object name (DNS-1123 subdomain): a PersistentVolumeClaim or a Secret. */
const objectName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a Kubernetes object name (lower-case letters, digits, "-" and ".")');

const noDotDot = (p: string) => !p.split('/').includes('..');
const pathChars = /^[A-Za-z0-9._\-/+@=,~]*$/;

/** A directory inside a claim (a subPath): relative, no `..`. */
const subPath = z
  .string()
  .min(1)
  .max(1024)
  .regex(pathChars, 'must use letters, digits and "._-/+@=,~"')
  .refine((p) => !p.startsWith('/'), 'must be relative to the claim')
  .refine(noDotDot, 'must not contain ".."');

/** A directory on the nodes. */
const absolutePath = z
  .string()
  .min(2)
  .max(1024)
  .regex(pathChars, 'must use letters, digits and "._-/+@=,~"')
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine(noDotDot, 'must not contain ".."');

/** A hub repository id: `owner/name` (Hugging Face also takes a bare `name`). */
const repoId = (ownerOptional: boolean) =>
  z
    .string()
    .max(256)
    .regex(
      ownerOptional ? /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/ : /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/,
      ownerOptional ? 'must be a repository id such as "Qwen/Qwen2.5-7B-Instruct"' : 'must be a repository id "owner/name" such as "Qwen/Qwen2.5-7B-Instruct"',
    );

const revision = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/]*$/, 'must be a branch, tag or commit such as "main" or "v1.0"')
  .refine(noDotDot, 'must not contain ".."')
  .optional();

/** An http(s) base URL with no credentials, query or fragment (a mirror, an S3 endpoint). */
const serviceUrl = z
  .string()
  .max(2048)
  .regex(/^https?:\/\/[^\s'"`$\\]+$/, 'must be an http or https URL')
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.username === '' && u.password === '' && u.search === '' && u.hash === '';
    } catch {
      return false;
    }
  }, 'must be a base URL without credentials, query or fragment');

/** `s3://bucket/prefix`: the bucket a DNS-compatible name, the prefix the objects' common start. */
const s3Url = z
  .string()
  .max(1024)
  .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9._\-/+@=,~]*)?$/, 'must be an S3 URL such as "s3://models/qwen2.5-7b-instruct"')
  .refine(noDotDot, 'must not contain ".."');

/**
 * Where a model's weights come from (a model's `source`, or a cluster's own). Values end up in a
 * pod spec (volumes, an init container's environment), never in a shell command line, and are
 * held to the characters those places take.
 */
export const weightSourceSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('pvc'),
      claim: objectName.meta({ description: 'A PersistentVolumeClaim in the workloads namespace holding the weights' }),
      path: subPath.optional().meta({ description: 'The directory inside the claim; absent: its root' }),
    }),
    z.strictObject({ kind: z.literal('hostPath'), path: absolutePath.meta({ description: 'The directory on every node that holds the weights' }) }),
    z.strictObject({ kind: z.literal('modelscope'), id: repoId(false), revision }),
    z.strictObject({
      kind: z.literal('s3'),
      url: s3Url,
      secret: objectName.meta({ description: 'A Secret in the workloads namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY' }),
      endpoint: serviceUrl.optional().meta({ description: "An S3-compatible service's URL (MinIO, OSS…); absent: AWS" }),
    }),
    z.strictObject({
      kind: z.literal('huggingface'),
      id: repoId(true),
      mirror: serviceUrl.optional().meta({ description: 'A Hugging Face endpoint to download through (HF_ENDPOINT), e.g. https://hf-mirror.com' }),
      revision,
    }),
  ])
  .meta({
    description:
      "Where the weights come from: a PVC or host path that holds them (mounted read-only), or a ModelScope id, S3 URL or Hugging Face id (downloaded by an init container into the cluster's cache)",
  });

/** What an agent reports it can load weights from (the heartbeat's `weightSources`). */
export const weightSourcesReportSchema = z
  .strictObject({
    kinds: z.array(z.enum(WEIGHT_SOURCE_KINDS)).max(WEIGHT_SOURCE_KINDS.length),
    claims: z.array(objectName).max(10_000).meta({ description: 'PersistentVolumeClaims present in the workloads namespace' }),
  })
  .transform((r) => ({ kinds: [...new Set(r.kinds)], claims: [...new Set(r.claims)] }));

const clusterSourceSchema = z.object({ modelId: z.string(), model: z.string(), clusterId: z.string(), source: weightSourceSchema, updatedAt: timestamp });

const clusterModelParams = z.strictObject({ id: z.string().min(1).max(64), model: z.string().min(1).max(64) });

export function weightRoutes(ctx: AppContext): AnyRoute[] {
  const { clusters } = ctx.services;
  return [
    route({
      method: 'get',
      path: '/api/v1/clusters/:id/weights',
      tag: 'Clusters',
      summary: "What a cluster can load weights from, as its agent reported, and the cluster's own sources by model",
      auth: ['operator'],
      params: z.strictObject({ id: z.string().min(1).max(64) }),
      responses: {
        200: {
          description:
            "`reported`: the agent's last report (null: it never said, and the cluster is taken to load anything); `items`: the cluster's own sources",
          schema: z.object({
            reported: z.object({ kinds: z.array(z.enum(WEIGHT_SOURCE_KINDS)), claims: z.array(z.string()) }).nullable(),
            items: z.array(clusterSourceSchema),
          }),
        },
      },
      handler: async ({ params }) => ({ status: 200, body: await clusters.weights(params.id) }),
    }),
    route({
      method: 'put',
      path: '/api/v1/clusters/:id/weights/:model',
      tag: 'Clusters',
      summary: "Set the cluster's own weights source for a model (by model id), used there instead of the model's",
      auth: ['operator'],
      params: clusterModelParams,
      body: z.strictObject({ source: weightSourceSchema }),
      responses: { 200: { description: "The cluster's source for the model", schema: clusterSourceSchema } },
      handler: async ({ params, body }) => ({ status: 200, body: await clusters.putWeights(params.id, params.model, body.source) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/clusters/:id/weights/:model',
      tag: 'Clusters',
      summary: "Remove the cluster's own weights source for a model: the model's applies there again",
      auth: ['operator'],
      params: clusterModelParams,
      responses: { 204: { description: 'Removed' } },
      handler: async ({ params }) => {
        await clusters.deleteWeights(params.id, params.model);
        return { status: 204 };
      },
    }),
  ];
}
