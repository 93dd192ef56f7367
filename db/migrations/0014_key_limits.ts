import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Limits on API keys and tenants (API.md v2): a key may carry a name, the models it may call, an
 * expiry, and request, token and concurrency rates; a tenant may carry operator-set request and
 * token rates. Null everywhere means "not set": existing keys and tenants keep working as before.
 * The bounds repeat the API's, so that no stored value can be one the API would refuse.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE api_keys
      ADD COLUMN name text CONSTRAINT api_keys_name CHECK (char_length(name) BETWEEN 1 AND 200),
      ADD COLUMN allowed_models text[],
      ADD COLUMN expires_at timestamptz,
      ADD COLUMN rpm integer CONSTRAINT api_keys_rpm CHECK (rpm > 0),
      ADD COLUMN tpm integer CONSTRAINT api_keys_tpm CHECK (tpm > 0),
      ADD COLUMN max_concurrent integer CONSTRAINT api_keys_max_concurrent CHECK (max_concurrent > 0)`.execute(db);
  await sql`
    ALTER TABLE tenants
      ADD COLUMN rpm integer CONSTRAINT tenants_rpm CHECK (rpm > 0),
      ADD COLUMN tpm integer CONSTRAINT tenants_tpm CHECK (tpm > 0)`.execute(db);
}
