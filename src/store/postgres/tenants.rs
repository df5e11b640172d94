//! Tenants and their API keys.

use super::*;
use crate::domain::quota::{Limit, QuotaSetter, TenantQuota};

#[async_trait::async_trait]
impl TenantStore for PgStore {
    async fn count_tenants(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_tenant(
        &self,
        tenant: &NewTenant,
        first_key: &KeyRecord,
        event: NewEvent,
    ) -> Result<bool> {
        // no head to lock yet: the tenant's rows are new (a tenant id is never reused)
        let mut tx = self.write_tx(&[]).await?;
        if tenant.only_if_first {
            // a mode that conflicts with itself and with inserts: processes bootstrapping
            // together look for a tenant one after another
            sqlx::query("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants)")
                .fetch_one(&mut *tx)
                .await?;
            if any {
                return Ok(false);
            }
        }
        let id = tenant.id.0;
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(&tenant.name)
            .bind(tenant.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO tenant_schemas (tenant_id, cedarschema, updated_at) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(&tenant.cedarschema)
        .bind(tenant.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_heads (tenant_id, seq, hash, anchor_seq, anchor_hash) \
             VALUES ($1, 0, $2, 0, $2)",
        )
        .bind(id)
        .bind(GENESIS_HASH)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO policy_set_versions (tenant_id, version, text, created_at) VALUES ($1, 0, '', $2)",
        )
        .bind(id)
        .bind(tenant.created_at)
        .execute(&mut *tx)
        .await?;
        insert_key(&mut tx, tenant.id, first_key).await?;
        tx.append(vec![(tenant.id, event)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn find_key(&self, id: KeyId) -> Result<Option<KeyRecord>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn create_key(&self, tenant: TenantId, key: &KeyRecord, event: NewEvent) -> Result<()> {
        let mut tx = self.write_tx(&[tenant]).await?;
        insert_key(&mut tx, tenant, key).await?;
        tx.append(vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_keys(&self, tenant: TenantId) -> Result<Vec<KeyRecord>> {
        let rows = sqlx::query("SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn tenant_quota(&self, tenant: TenantId) -> Result<TenantQuota> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT quota, self_quota FROM tenants WHERE id = $1")
                .bind(tenant.0)
                .fetch_optional(&self.pool)
                .await?;
        let (operator, own) = row.unwrap_or_default();
        crate::store::tenant_quota_from_columns(operator, own)
    }

    async fn set_tenant_quota(
        &self,
        tenant: TenantId,
        setter: QuotaSetter,
        limit: Option<Limit>,
        event: NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write_tx(&[tenant]).await?;
        let text = limit.map(|l| serde_json::json!(l).to_string());
        let sql = match setter {
            QuotaSetter::Operator => "UPDATE tenants SET quota = $1 WHERE id = $2",
            QuotaSetter::Tenant => "UPDATE tenants SET self_quota = $1 WHERE id = $2",
        };
        let n = sqlx::query(sql)
            .bind(text)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        tx.append(vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn revoke_key(
        &self,
        tenant: TenantId,
        id: KeyId,
        at: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write_tx(&[tenant]).await?;
        let revoked: Option<Option<DateTime<Utc>>> =
            sqlx::query_scalar("SELECT revoked_at FROM api_keys WHERE id = $1 AND tenant_id = $2")
                .bind(id.0)
                .bind(tenant.0)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(revoked) = revoked else {
            return Ok(false);
        };
        if revoked.is_none() {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3")
                .bind(at)
                .bind(id.0)
                .bind(tenant.0)
                .execute(&mut *tx)
                .await?;
            tx.append(vec![(tenant, event)]).await?;
            notify(&mut tx, &Notice::KeyRevoked(id)).await?;
            tx.commit().await?;
            self.committed(Commit::KeyRevoked(id));
        }
        Ok(true)
    }
}

fn key_from_row(row: &PgRow) -> Result<KeyRecord> {
    let role: String = row.try_get("role")?;
    Ok(KeyRecord {
        id: KeyId(row.try_get("id")?),
        tenant_id: TenantId(row.try_get("tenant_id")?),
        role: role.parse().map_err(|_| corrupt("api_keys.role"))?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

async fn insert_key(conn: &mut PgConnection, tenant: TenantId, key: &KeyRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, role, name, secret_hash, created_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(key.id.0)
    .bind(tenant.0)
    .bind(key.role.as_str())
    .bind(&key.name)
    .bind(&key.secret_hash)
    .bind(key.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
