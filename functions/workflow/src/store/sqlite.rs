//! The SQLite store: one table, the instance as JSON beside the columns queries need.
//! Calls are synchronous (rusqlite) and run on tokio's blocking threads, one at a
//! time on one connection: a workflow function's writes are a few per state.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::instance::Instance;

/// An open database.
#[derive(Debug)]
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &str) -> Result<Self, String> {
        if let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| format!("sqlite:{path}: cannot create {}: {e}", dir.display()))?;
        }
        let connection = Connection::open(path).map_err(|e| format!("sqlite:{path}: {e}"))?;
        connection
            .execute_batch(
                // WAL with synchronous=NORMAL: a crash of the process loses nothing, a
                // power cut at most the last commits; FULL would sync every state.
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;
                 CREATE TABLE IF NOT EXISTS workflow_instances (
                   id TEXT PRIMARY KEY, workflow TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL);
                 CREATE INDEX IF NOT EXISTS workflow_instances_by_workflow ON workflow_instances (workflow);",
            )
            .map_err(|e| format!("sqlite:{path}: {e}"))?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    /// Runs `f` on a blocking thread.
    pub(super) async fn run<A, T>(
        self: Arc<Self>,
        f: impl FnOnce(&Self, A) -> Result<T, StoreError> + Send + 'static,
        arg: A,
    ) -> Result<T, StoreError>
    where
        A: Send + 'static,
        T: Send + 'static,
    {
        tokio::task::spawn_blocking(move || f(&self, arg)).await.map_err(err)?
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn insert(&self, instance: &Instance) -> Result<(), StoreError> {
        let body = serde_json::to_string(instance).map_err(err)?;
        self.db()
            .execute(
                "INSERT INTO workflow_instances (id, workflow, version, body) VALUES (?1, ?2, ?3, ?4)",
                params![instance.id, instance.workflow, instance.version, body],
            )
            .map_err(err)?;
        Ok(())
    }

    pub(super) fn update(&self, instance: &Instance) -> Result<bool, StoreError> {
        let body = serde_json::to_string(instance).map_err(err)?;
        let changed = self
            .db()
            .execute(
                "UPDATE workflow_instances SET version = ?2, body = ?3 WHERE id = ?1 AND version = ?4",
                params![instance.id, instance.version, body, instance.version - 1],
            )
            .map_err(err)?;
        Ok(changed == 1)
    }

    pub(super) fn get(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        let body: Option<String> = self
            .db()
            .query_row("SELECT body FROM workflow_instances WHERE id = ?1", params![id], |row| row.get(0))
            .optional()
            .map_err(err)?;
        body.map(|b| serde_json::from_str(&b).map_err(err)).transpose()
    }

    pub(super) fn delete(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.db().execute("DELETE FROM workflow_instances WHERE id = ?1", params![id]).map_err(err)? == 1)
    }

    pub(super) fn list(&self, workflow: &str) -> Result<Vec<Instance>, StoreError> {
        let db = self.db();
        let mut statement =
            db.prepare("SELECT body FROM workflow_instances WHERE workflow = ?1 ORDER BY id").map_err(err)?;
        let rows = statement.query_map(params![workflow], |row| row.get::<_, String>(0)).map_err(err)?;
        let mut list = Vec::new();
        for row in rows {
            list.push(serde_json::from_str(&row.map_err(err)?).map_err(err)?);
        }
        Ok(list)
    }
}
