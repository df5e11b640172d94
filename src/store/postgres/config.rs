//! Tenant configuration: schema, policies (with their policy-set versions) and entities;
//! every write goes through `PgStore::config_write`.

use super::*;
use crate::domain::policy::{PolicyAfter, PolicyOrder};
use crate::store::{Change, Revision};

#[async_trait::async_trait]
impl ConfigStore for PgStore {
    async fn get_schema(&self, tenant: TenantId) -> Result<String> {
        sqlx::query_scalar("SELECT cedarschema FROM tenant_schemas WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("tenant"))
    }

    async fn config_snapshot(&self, tenant: TenantId) -> Result<ConfigSnapshot> {
        let row = sqlx::query(
            "SELECT t.revision, s.cedarschema FROM tenants t \
             JOIN tenant_schemas s ON s.tenant_id = t.id WHERE t.id = $1",
        )
        .bind(tenant.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found("tenant"))?;
        Ok(ConfigSnapshot {
            revision: row.try_get("revision")?,
            cedarschema: row.try_get("cedarschema")?,
        })
    }

    async fn revision(&self, tenant: TenantId) -> Result<i64> {
        sqlx::query_scalar("SELECT revision FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("tenant"))
    }

    async fn put_schema(
        &self,
        tenant: TenantId,
        revision: i64,
        cedarschema: &str,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            sqlx::query(
                "UPDATE tenant_schemas SET cedarschema = $1, updated_at = $2 WHERE tenant_id = $3",
            )
            .bind(cedarschema)
            .bind(event.at)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?;
            Ok(Change::done(vec![(tenant, event)]))
        })
        .await
    }

    async fn insert_policy(
        &self,
        tenant: TenantId,
        revision: i64,
        policy: &Policy,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            insert_policy_row(tx, tenant, policy).await?;
            Ok(Change::versioned(vec![(tenant, event)]))
        })
        .await
    }

    async fn update_policy(
        &self,
        tenant: TenantId,
        revision: i64,
        policy: &Policy,
        expected_version: i64,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            if !update_policy_row(tx, tenant, policy, expected_version).await? {
                return Ok(Change::Refused(WriteOutcome::VersionConflict));
            }
            let cuts = grants::cut_grants_to_policy_max(tx, tenant, policy, &event.actor, event.at)
                .await?;
            let mut events = vec![(tenant, event)];
            events.extend(cuts);
            Ok(Change::versioned(events))
        })
        .await
    }

    async fn delete_policy(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Bump, async |tx| {
            let version: Option<i64> =
                sqlx::query_scalar("SELECT version FROM policies WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(version) = version else {
                return Ok(Change::Refused(WriteOutcome::NotFound));
            };
            if expected_version.is_some_and(|v| v != version) {
                return Ok(Change::Refused(WriteOutcome::VersionConflict));
            }
            let in_use = sqlx::query(
                "SELECT 1 FROM grants WHERE tenant_id = $1 AND policy_id = $2 \
                 AND status IN ('GRANTED', 'EXTENDED') AND expires_at > $3 LIMIT 1",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if in_use.is_some() {
                return Ok(Change::Refused(WriteOutcome::InUse));
            }
            sqlx::query("DELETE FROM policies WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok(Change::versioned(vec![(tenant, event)]))
        })
        .await
    }

    async fn get_policy(&self, tenant: TenantId, policy: &PolicyRef) -> Result<Option<Policy>> {
        let q = match policy {
            PolicyRef::Id(id) => {
                sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(*id)
            }
            PolicyRef::Key(k) => {
                sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 AND key = $2")
                    .bind(tenant.0)
                    .bind(k.clone())
            }
        };
        q.fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(policy_from_row)
            .transpose()
    }

    async fn list_policies(
        &self,
        tenant: TenantId,
        order: PolicyOrder,
        after: Option<PolicyAfter>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Policy>, i64)> {
        let mut tx = self.snapshot().await?;
        let rows = match order {
            PolicyOrder::Created => sqlx::query(
                "SELECT doc FROM policies WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) \
                 ORDER BY id LIMIT $3 OFFSET $4",
            )
            .bind(tenant.0)
            .bind(after.map(|a| a.id)),
            PolicyOrder::PriorityDesc => sqlx::query(
                "SELECT doc FROM policies WHERE tenant_id = $1 AND ($3::uuid IS NULL \
                 OR priority < $2 OR (priority = $2 AND id > $3)) \
                 ORDER BY priority DESC, id LIMIT $4 OFFSET $5",
            )
            .bind(tenant.0)
            .bind(after.map(|a| a.priority))
            .bind(after.map(|a| a.id)),
        }
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM policies WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((
            rows.iter().map(policy_from_row).collect::<Result<_>>()?,
            total,
        ))
    }

    async fn all_policies(&self, tenant: TenantId) -> Result<Vec<Policy>> {
        let rows = sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(policy_from_row).collect()
    }

    async fn import(
        &self,
        tenant: TenantId,
        revision: i64,
        batch: ImportBatch,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            if let Some(schema) = &batch.cedarschema {
                sqlx::query("UPDATE tenant_schemas SET cedarschema = $1 WHERE tenant_id = $2")
                    .bind(schema)
                    .bind(tenant.0)
                    .execute(&mut *tx)
                    .await?;
            }
            for p in &batch.create {
                insert_policy_row(tx, tenant, p).await?;
            }
            for (p, expected) in &batch.update {
                if !update_policy_row(tx, tenant, p, *expected).await? {
                    return Ok(Change::Refused(WriteOutcome::VersionConflict));
                }
            }
            let mut cuts = Vec::new();
            if let Some(first) = batch.events.first() {
                for (p, _) in &batch.update {
                    cuts.extend(
                        grants::cut_grants_to_policy_max(tx, tenant, p, &first.actor, first.at)
                            .await?,
                    );
                }
            }
            let mut events: Vec<(TenantId, NewEvent)> =
                batch.events.into_iter().map(|e| (tenant, e)).collect();
            events.extend(cuts);
            Ok(Change::versioned(events))
        })
        .await
    }

    async fn upsert_entities(
        &self,
        tenant: TenantId,
        revision: i64,
        rows: &[EntityRow],
        events: Vec<NewEvent>,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            let at = events.first().map_or_else(Utc::now, |e| e.at);
            // many rows per statement (an entities PUT may carry thousands)
            for chunk in rows.chunks(1000) {
                let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                    "INSERT INTO entities (tenant_id, type, id, body, updated_at) ",
                );
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(tenant.0)
                        .push_bind(r.etype.clone())
                        .push_bind(r.id.clone())
                        .push_bind(r.body.clone())
                        .push_bind(at);
                });
                q.push(
                    " ON CONFLICT (tenant_id, type, id) DO UPDATE SET body = excluded.body, \
                     updated_at = excluded.updated_at",
                );
                q.build().execute(&mut *tx).await?;
            }
            Ok(Change::done(
                events.into_iter().map(|e| (tenant, e)).collect(),
            ))
        })
        .await
    }

    async fn delete_entity(
        &self,
        tenant: TenantId,
        etype: &str,
        id: &str,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Bump, async |tx| {
            let r =
                sqlx::query("DELETE FROM entities WHERE tenant_id = $1 AND type = $2 AND id = $3")
                    .bind(tenant.0)
                    .bind(etype)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            if r.rows_affected() == 0 {
                return Ok(Change::Refused(WriteOutcome::NotFound));
            }
            Ok(Change::done(vec![(tenant, event)]))
        })
        .await
    }

    async fn list_entities(
        &self,
        tenant: TenantId,
        etype: Option<&str>,
        after: Option<(String, String)>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<EntityRow>, i64)> {
        let (after_type, after_id) = match after {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        let mut tx = self.snapshot().await?;
        let rows = sqlx::query(
            "SELECT type, id, body FROM entities WHERE tenant_id = $1 \
             AND ($2::text IS NULL OR type = $2) \
             AND ($3::text IS NULL OR (type, id) > ($3, $4::text)) \
             ORDER BY type, id LIMIT $5 OFFSET $6",
        )
        .bind(tenant.0)
        .bind(etype)
        .bind(after_type)
        .bind(after_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM entities WHERE tenant_id = $1 AND ($2::text IS NULL OR type = $2)",
        )
        .bind(tenant.0)
        .bind(etype)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((
            rows.iter().map(entity_from_row).collect::<Result<_>>()?,
            total,
        ))
    }

    async fn all_entities(&self, tenant: TenantId) -> Result<Vec<EntityRow>> {
        let rows = sqlx::query(
            "SELECT type, id, body FROM entities WHERE tenant_id = $1 ORDER BY type, id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entity_from_row).collect()
    }

    async fn load_config(&self, tenant: TenantId) -> Result<TenantConfig> {
        let mut tx = self.snapshot().await?;
        let head = sqlx::query(
            "SELECT t.revision, s.cedarschema FROM tenants t \
             JOIN tenant_schemas s ON s.tenant_id = t.id WHERE t.id = $1",
        )
        .bind(tenant.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("tenant"))?;
        let docs = sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 AND enabled")
            .bind(tenant.0)
            .fetch_all(&mut *tx)
            .await?;
        let entities = sqlx::query("SELECT type, id, body FROM entities WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(TenantConfig {
            revision: head.try_get("revision")?,
            cedarschema: head.try_get("cedarschema")?,
            policies: docs.iter().map(policy_from_row).collect::<Result<_>>()?,
            entities: entities
                .iter()
                .map(entity_from_row)
                .collect::<Result<_>>()?,
        })
    }

    async fn policy_set_version(
        &self,
        tenant: TenantId,
        version: i64,
    ) -> Result<Option<PolicySetVersion>> {
        let mut tx = self.snapshot().await?;
        let revision: Option<i64> =
            sqlx::query_scalar("SELECT revision FROM tenants WHERE id = $1")
                .bind(tenant.0)
                .fetch_optional(&mut *tx)
                .await?;
        if revision.is_none_or(|r| version > r) || version < 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT text, created_at FROM policy_set_versions WHERE tenant_id = $1 AND version <= $2 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant.0)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|r| {
            Ok(PolicySetVersion {
                version,
                text: r.try_get("text")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }
}

impl PgStore {
    /// The shape of every configuration write (policies, schema, entities, import), in one
    /// write transaction holding the tenant's chain head: the tenant's revision moves (see
    /// [`Revision`]), `change` edits the rows, the compiled text is recorded as a
    /// policy-set version when the change says so, the events are appended to the chain,
    /// and after the commit the caches hear of it.
    async fn config_write(
        &self,
        tenant: TenantId,
        revision: Revision,
        change: impl AsyncFnOnce(&mut PgConnection) -> Result<Change>,
    ) -> Result<WriteOutcome> {
        let mut tx = self.write_tx(&[tenant]).await?;
        let moved: Option<i64> = match revision {
            Revision::Expect(r) => sqlx::query_scalar(
                "UPDATE tenants SET revision = revision + 1 WHERE id = $1 AND revision = $2 \
                 RETURNING revision",
            )
            .bind(tenant.0)
            .bind(r),
            Revision::Bump => sqlx::query_scalar(
                "UPDATE tenants SET revision = revision + 1 WHERE id = $1 RETURNING revision",
            )
            .bind(tenant.0),
        }
        .fetch_optional(&mut *tx)
        .await?;
        let Some(committed) = moved else {
            return Ok(WriteOutcome::StaleRevision);
        };
        let (events, versioned) = match change(&mut tx).await? {
            Change::Done { events, versioned } => (events, versioned),
            Change::Refused(outcome) => return Ok(outcome),
        };
        if versioned {
            if let Some((_, first)) = events.first() {
                record_set_version(&mut tx, tenant, first.at).await?;
            }
        }
        let at = events.first().map_or_else(Utc::now, |(_, e)| e.at);
        super::reevaluations::start(&mut tx, tenant, committed, at).await?;
        tx.append(events).await?;
        notify(&mut tx, &Notice::Config(tenant, committed)).await?;
        tx.commit().await?;
        self.committed(Commit::Config {
            tenant,
            revision: committed,
        });
        Ok(WriteOutcome::Committed(committed))
    }
}

/// After a policy write in `conn`: records the tenant's compiled text at its (new)
/// revision when it differs from the text in force.
async fn record_set_version(
    conn: &mut PgConnection,
    tenant: TenantId,
    at: DateTime<Utc>,
) -> Result<()> {
    let revision: i64 = sqlx::query_scalar("SELECT revision FROM tenants WHERE id = $1")
        .bind(tenant.0)
        .fetch_one(&mut *conn)
        .await?;
    let docs = sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 AND enabled")
        .bind(tenant.0)
        .fetch_all(&mut *conn)
        .await?;
    let policies = docs
        .iter()
        .map(policy_from_row)
        .collect::<Result<Vec<_>>>()?;
    let text = crate::domain::policy::compiled_text(&policies);
    let current: Option<String> = sqlx::query_scalar(
        "SELECT text FROM policy_set_versions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    if current.as_deref() != Some(text.as_str()) {
        sqlx::query(
            "INSERT INTO policy_set_versions (tenant_id, version, text, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant.0)
        .bind(revision)
        .bind(&text)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn policy_doc(p: &Policy) -> Result<String> {
    serde_json::to_string(p).map_err(Error::internal)
}

pub(super) fn policy_from_row(row: &PgRow) -> Result<Policy> {
    let doc: String = row.try_get("doc")?;
    serde_json::from_str(&doc).map_err(|_| corrupt("policies.doc"))
}

async fn insert_policy_row(conn: &mut PgConnection, tenant: TenantId, p: &Policy) -> Result<()> {
    sqlx::query(
        "INSERT INTO policies (tenant_id, id, key, enabled, priority, version, created_at, \
         updated_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant.0)
    .bind(p.id)
    .bind(&p.key)
    .bind(p.enabled)
    .bind(p.priority)
    .bind(p.version)
    .bind(p.created_at)
    .bind(p.updated_at)
    .bind(policy_doc(p)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces a policy if its version is still `expected`; `false` otherwise.
async fn update_policy_row(
    conn: &mut PgConnection,
    tenant: TenantId,
    p: &Policy,
    expected: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE policies SET key = $1, enabled = $2, priority = $3, version = $4, \
         updated_at = $5, doc = $6 WHERE tenant_id = $7 AND id = $8 AND version = $9",
    )
    .bind(&p.key)
    .bind(p.enabled)
    .bind(p.priority)
    .bind(p.version)
    .bind(p.updated_at)
    .bind(policy_doc(p)?)
    .bind(tenant.0)
    .bind(p.id)
    .bind(expected)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

fn entity_from_row(row: &PgRow) -> Result<EntityRow> {
    Ok(EntityRow {
        etype: row.try_get("type")?,
        id: row.try_get("id")?,
        body: row.try_get("body")?,
    })
}
