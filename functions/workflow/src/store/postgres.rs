//! The PostgreSQL store: what a cluster with scale-to-zero needs (local disk does not
//! survive a pod), and what lets replicas share instances. The table is the SQLite
//! one; every update is `... WHERE version = <expected>`, so of two replicas that
//! loaded the same instance version only one claims it and runs its next step.
//! The connection is made on first use (the function starts before the database may
//! be reachable) and made again after it breaks.

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use super::StoreError;
use crate::instance::Instance;

/// A PostgreSQL database.
#[derive(Debug)]
pub struct PostgresStore {
    url: String,
    client: Mutex<Option<Client>>,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("postgres: {e}"))
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS workflow_instances (
    id TEXT PRIMARY KEY, workflow TEXT NOT NULL, version BIGINT NOT NULL, body TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS workflow_instances_by_workflow ON workflow_instances (workflow);";

impl PostgresStore {
    /// Checks `url` (`postgres://user:password@host:port/db`); connects later.
    pub fn open(url: &str) -> Result<Self, String> {
        url.parse::<tokio_postgres::Config>().map_err(|e| format!("{url}: {e}"))?;
        Ok(Self { url: url.to_owned(), client: Mutex::new(None) })
    }

    /// The connected client (connecting, and creating the table, when needed).
    async fn client(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Client>>, StoreError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await.map_err(err)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "the PostgreSQL connection ended");
                }
            });
            client.batch_execute(SCHEMA).await.map_err(err)?;
            *guard = Some(client);
        }
        Ok(guard)
    }

    pub(super) async fn insert(&self, instance: &Instance) -> Result<(), StoreError> {
        let body = serde_json::to_string(instance).map_err(err)?;
        let guard = self.client().await?;
        let client = guard.as_ref().ok_or_else(|| err("not connected"))?;
        client
            .execute(
                "INSERT INTO workflow_instances (id, workflow, version, body) VALUES ($1, $2, $3, $4)",
                &[&instance.id, &instance.workflow, &instance.version, &body],
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    pub(super) async fn update(&self, instance: &Instance) -> Result<bool, StoreError> {
        let body = serde_json::to_string(instance).map_err(err)?;
        let guard = self.client().await?;
        let client = guard.as_ref().ok_or_else(|| err("not connected"))?;
        let expected = instance.version - 1;
        let changed = client
            .execute(
                "UPDATE workflow_instances SET version = $2, body = $3 WHERE id = $1 AND version = $4",
                &[&instance.id, &instance.version, &body, &expected],
            )
            .await
            .map_err(err)?;
        Ok(changed == 1)
    }

    pub(super) async fn get(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        let guard = self.client().await?;
        let client = guard.as_ref().ok_or_else(|| err("not connected"))?;
        let row = client.query_opt("SELECT body FROM workflow_instances WHERE id = $1", &[&id]).await.map_err(err)?;
        row.map(|row| serde_json::from_str(row.get::<_, &str>(0)).map_err(err)).transpose()
    }

    pub(super) async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let guard = self.client().await?;
        let client = guard.as_ref().ok_or_else(|| err("not connected"))?;
        Ok(client.execute("DELETE FROM workflow_instances WHERE id = $1", &[&id]).await.map_err(err)? == 1)
    }

    pub(super) async fn list(&self, workflow: &str) -> Result<Vec<Instance>, StoreError> {
        let guard = self.client().await?;
        let client = guard.as_ref().ok_or_else(|| err("not connected"))?;
        let rows = client
            .query("SELECT body FROM workflow_instances WHERE workflow = $1 ORDER BY id", &[&workflow])
            .await
            .map_err(err)?;
        rows.iter().map(|row| serde_json::from_str(row.get::<_, &str>(0)).map_err(err)).collect()
    }
}
