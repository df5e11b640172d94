//! Tenants and their API keys.

use super::*;
use crate::domain::quota::{Limit, QuotaSetter, TenantQuota};

#[async_trait::async_trait]
impl TenantStore for SqliteStore {
    async fn count_tenants(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM tenants")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    async fn create_tenant(
        &self,
        tenant: &NewTenant,
        first_key: &KeyRecord,
        event: NewEvent,
    ) -> Result<bool> {
        // one writer at a time: the check and the insert see the same database
        let mut tx = self.write_tx().await?;
        if tenant.only_if_first {
            let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants)")
                .fetch_one(&mut *tx)
                .await?;
            if any {
                return Ok(false);
            }
        }
        let id = tenant.id.to_string();
        let at = format_ts(&tenant.created_at);
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(&tenant.name)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO tenant_schemas (tenant_id, cedarschema, updated_at) VALUES ($1, $2, $3)",
        )
        .bind(&id)
        .bind(&tenant.cedarschema)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_heads (tenant_id, seq, hash, anchor_seq, anchor_hash) \
             VALUES ($1, 0, $2, 0, $2)",
        )
        .bind(&id)
        .bind(GENESIS_HASH)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO policy_set_versions (tenant_id, version, text, created_at) VALUES ($1, 0, '', $2)",
        )
        .bind(&id)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        insert_key(&mut tx, tenant.id, first_key).await?;
        append_in_tx(&mut tx, vec![(tenant.id, event)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn find_key(&self, id: KeyId) -> Result<Option<KeyRecord>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn create_key(&self, tenant: TenantId, key: &KeyRecord, event: NewEvent) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
            .bind(tenant.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(Error::not_found("tenant"));
        }
        insert_key(&mut tx, tenant, key).await?;
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_keys(&self, tenant: TenantId) -> Result<Vec<KeyRecord>> {
        let rows = sqlx::query("SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn tenant_quota(&self, tenant: TenantId) -> Result<TenantQuota> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT quota, self_quota FROM tenants WHERE id = $1")
                .bind(tenant.to_string())
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
        let mut tx = self.write_tx().await?;
        let text = limit.map(|l| serde_json::json!(l).to_string());
        let sql = match setter {
            QuotaSetter::Operator => "UPDATE tenants SET quota = $1 WHERE id = $2",
            QuotaSetter::Tenant => "UPDATE tenants SET self_quota = $1 WHERE id = $2",
        };
        let n = sqlx::query(sql)
            .bind(text)
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
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
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT revoked_at FROM api_keys WHERE id = $1 AND tenant_id = $2")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let revoked: Option<String> = row.try_get("revoked_at")?;
        if revoked.is_none() {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3")
                .bind(format_ts(&at))
                .bind(id.to_string())
                .bind(tenant.to_string())
                .execute(&mut *tx)
                .await?;
            append_in_tx(&mut tx, vec![(tenant, event)]).await?;
            tx.commit().await?;
            self.committed(Commit::KeyRevoked(id));
        }
        Ok(true)
    }
}

pub(super) fn key_from_row(row: &SqliteRow) -> Result<KeyRecord> {
    let id: String = row.try_get("id")?;
    let tenant: String = row.try_get("tenant_id")?;
    let role: String = row.try_get("role")?;
    Ok(KeyRecord {
        id: id.parse().map_err(|_| corrupt("api_keys.id"))?,
        tenant_id: tenant.parse().map_err(|_| corrupt("api_keys.tenant_id"))?,
        role: role.parse().map_err(|_| corrupt("api_keys.role"))?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        created_at: ts_col(row, "created_at")?,
        revoked_at: opt_ts_col(row, "revoked_at")?,
    })
}

pub(super) async fn insert_key(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    key: &KeyRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, role, name, secret_hash, created_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(key.id.to_string())
    .bind(tenant.to_string())
    .bind(key.role.as_str())
    .bind(&key.name)
    .bind(&key.secret_hash)
    .bind(format_ts(&key.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
