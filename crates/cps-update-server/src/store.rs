//! Storage engines behind one trait: [`SqliteStore`] (embedded default, one file, no set-up)
//! and [`PgStore`] (PostgreSQL, several stateless server nodes on one database).
//!
//! Both keep one row per card (the record as JSON) and an append-only audit log, apply
//! numbered migrations at start, and run every change of a card in one transaction holding
//! that card's lock: `SELECT … FOR UPDATE` on PostgreSQL (two nodes never interleave one
//! card's update), `BEGIN IMMEDIATE` on SQLite (one writer at a time).

use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ServerError;

/// What a change of one card writes back, in the transaction that read it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Change {
    /// The new record (JSON), when it changed.
    pub record: Option<String>,
    /// An event for the audit log.
    pub event: Option<(String, String)>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the log (increasing).
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Card serial number (hex).
    pub serial: String,
    /// What happened (`registered`, `situations`, `renewal`, `bound`, `committed`, ...).
    pub event: String,
    /// Details (no secret).
    pub detail: String,
    /// The server node that wrote it.
    pub node: String,
}

/// A card store.
pub trait CardStore: Send + Sync {
    /// Runs `f` on the card's stored record (JSON, `None` if unknown) while holding the card's
    /// lock, then writes what it returns, both in one transaction. Nothing is written when `f`
    /// fails.
    fn with_card(
        &self,
        serial: &str,
        f: &mut dyn FnMut(Option<&str>) -> Result<Change, ServerError>,
    ) -> Result<(), ServerError>;
    /// Serial numbers in order, at most `limit`, after `after`.
    fn serials(&self, after: &str, limit: usize) -> Result<Vec<String>, ServerError>;
    /// The audit log of one card (oldest first), at most `limit` lines.
    fn audit(&self, serial: &str, limit: usize) -> Result<Vec<AuditEntry>, ServerError>;
    /// Engine name (`sqlite`, `postgresql`).
    fn engine(&self) -> &'static str;
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// SQLite

/// SQLite migrations, applied in order (index + 1 = version).
const SQLITE_MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS cards (serial TEXT PRIMARY KEY, record TEXT NOT NULL);",
    "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
        serial TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL, node TEXT NOT NULL);
     CREATE INDEX audit_serial ON audit (serial, id);
     CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
     CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
];

/// The embedded store: one SQLite file (`synchronous = FULL`, WAL).
pub struct SqliteStore {
    conn: Mutex<rusqlite::Connection>,
    node: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore(..)")
    }
}

impl SqliteStore {
    /// Opens (or creates) the database file and applies the migrations.
    pub fn open(path: &std::path::Path, node: &str) -> Result<Self, ServerError> {
        let mut conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,
                applied_at INTEGER NOT NULL);",
        )?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        for (i, m) in SQLITE_MIGRATIONS.iter().enumerate() {
            let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
            if version > current {
                tx.execute_batch(m)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                    rusqlite::params![version, now_secs()],
                )?;
            }
        }
        tx.commit()?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            node: node.to_owned(),
        })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, rusqlite::Connection>, ServerError> {
        self.conn
            .lock()
            .map_err(|_| ServerError::Storage("SQLite connection poisoned".into()))
    }
}

impl CardStore for SqliteStore {
    fn with_card(
        &self,
        serial: &str,
        f: &mut dyn FnMut(Option<&str>) -> Result<Change, ServerError>,
    ) -> Result<(), ServerError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: Option<String> = match tx.query_row(
            "SELECT record FROM cards WHERE serial = ?1",
            [serial],
            |r| r.get(0),
        ) {
            Ok(v) => Some(v),
            Err(rusqlite::Error::QueryReturnedNoRows) => None,
            Err(e) => return Err(e.into()),
        };
        let change = f(current.as_deref())?;
        if let Some(record) = &change.record {
            tx.execute(
                "INSERT INTO cards (serial, record) VALUES (?1, ?2)
                 ON CONFLICT(serial) DO UPDATE SET record = excluded.record",
                rusqlite::params![serial, record],
            )?;
        }
        if let Some((event, detail)) = &change.event {
            tx.execute(
                "INSERT INTO audit (at, serial, event, detail, node) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![now_secs(), serial, event, detail, self.node],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn serials(&self, after: &str, limit: usize) -> Result<Vec<String>, ServerError> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare("SELECT serial FROM cards WHERE serial > ?1 ORDER BY serial LIMIT ?2")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(rusqlite::params![after, limit], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn audit(&self, serial: &str, limit: usize) -> Result<Vec<AuditEntry>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT id, at, serial, event, detail, node FROM audit WHERE serial = ?1
             ORDER BY id LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(rusqlite::params![serial, limit], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                serial: r.get(2)?,
                event: r.get(3)?,
                detail: r.get(4)?,
                node: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn engine(&self) -> &'static str {
        "sqlite"
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// PostgreSQL migrations, applied in order (index + 1 = version) under an advisory lock, so
/// that nodes starting together migrate once.
const PG_MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS cards (serial TEXT PRIMARY KEY, record TEXT NOT NULL);",
    "CREATE TABLE audit (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, serial TEXT NOT NULL,
        event TEXT NOT NULL, detail TEXT NOT NULL, node TEXT NOT NULL);
     CREATE INDEX audit_serial ON audit (serial, id);
     CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
     CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_append_only();
     CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();",
];

/// Advisory lock key of the migrations ("cps-upd").
const MIGRATION_LOCK: i64 = 0x0063_7073_2D75_7064;

/// A PostgreSQL store: a small pool of connections, each change of a card in a transaction
/// that locks the card's row (`SELECT … FOR UPDATE`).
pub struct PgStore {
    config: postgres::Config,
    idle: Mutex<Vec<postgres::Client>>,
    ready: Condvar,
    open: Mutex<usize>,
    size: usize,
    node: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore(pool {})", self.size)
    }
}

/// How long a request waits for a free database connection.
const POOL_WAIT: Duration = Duration::from_secs(10);

impl PgStore {
    /// Connects (`host=127.0.0.1 port=5432 user=… dbname=…`), applies the migrations, keeps
    /// up to `pool` connections.
    pub fn connect(params: &str, pool: usize, node: &str) -> Result<Self, ServerError> {
        let mut config: postgres::Config = params.parse()?;
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("cps-update-server");
        let mut client = config.connect(postgres::NoTls)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,
                applied_at BIGINT NOT NULL)",
        )?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )?
            .try_get(0)?;
        for (i, m) in PG_MIGRATIONS.iter().enumerate() {
            let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
            if version > current {
                tx.batch_execute(m)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[&version, &now_secs()],
                )?;
            }
        }
        tx.commit()?;
        let size = pool.max(1);
        Ok(PgStore {
            config,
            idle: Mutex::new(vec![client]),
            ready: Condvar::new(),
            open: Mutex::new(1),
            size,
            node: node.to_owned(),
        })
    }

    fn poisoned() -> ServerError {
        ServerError::Storage("connection pool poisoned".into())
    }

    /// Takes a connection: an idle one, a new one while under the pool size, or waits.
    fn take(&self) -> Result<postgres::Client, ServerError> {
        let deadline = std::time::Instant::now() + POOL_WAIT;
        let mut idle = self.idle.lock().map_err(|_| Self::poisoned())?;
        loop {
            while let Some(c) = idle.pop() {
                if !c.is_closed() {
                    return Ok(c);
                }
                let mut open = self.open.lock().map_err(|_| Self::poisoned())?;
                *open = open.saturating_sub(1);
            }
            {
                let mut open = self.open.lock().map_err(|_| Self::poisoned())?;
                if *open < self.size {
                    *open += 1;
                    drop(open);
                    drop(idle);
                    return match self.config.connect(postgres::NoTls) {
                        Ok(c) => Ok(c),
                        Err(e) => {
                            if let Ok(mut open) = self.open.lock() {
                                *open = open.saturating_sub(1);
                            }
                            Err(e.into())
                        }
                    };
                }
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(ServerError::Storage(
                    "no free database connection within 10 s".into(),
                ));
            }
            idle = self
                .ready
                .wait_timeout(idle, left)
                .map_err(|_| Self::poisoned())?
                .0;
        }
    }

    fn give_back(&self, client: postgres::Client) {
        if client.is_closed() {
            if let Ok(mut open) = self.open.lock() {
                *open = open.saturating_sub(1);
            }
        } else if let Ok(mut idle) = self.idle.lock() {
            idle.push(client);
        }
        self.ready.notify_one();
    }

    fn with_client<T>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, ServerError>,
    ) -> Result<T, ServerError> {
        let mut client = self.take()?;
        let out = f(&mut client);
        self.give_back(client);
        out
    }
}

impl CardStore for PgStore {
    fn with_card(
        &self,
        serial: &str,
        f: &mut dyn FnMut(Option<&str>) -> Result<Change, ServerError>,
    ) -> Result<(), ServerError> {
        self.with_client(|client| {
            let mut tx = client.transaction()?;
            let current: Option<String> = tx
                .query_opt(
                    "SELECT record FROM cards WHERE serial = $1 FOR UPDATE",
                    &[&serial],
                )?
                .map(|r| r.try_get(0))
                .transpose()?;
            let change = f(current.as_deref())?;
            if let Some(record) = &change.record {
                tx.execute(
                    "INSERT INTO cards (serial, record) VALUES ($1, $2)
                     ON CONFLICT (serial) DO UPDATE SET record = EXCLUDED.record",
                    &[&serial, record],
                )?;
            }
            if let Some((event, detail)) = &change.event {
                tx.execute(
                    "INSERT INTO audit (at, serial, event, detail, node) VALUES ($1, $2, $3, $4, $5)",
                    &[&now_secs(), &serial, event, detail, &self.node],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn serials(&self, after: &str, limit: usize) -> Result<Vec<String>, ServerError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_client(|c| {
            let rows = c.query(
                "SELECT serial FROM cards WHERE serial > $1 ORDER BY serial LIMIT $2",
                &[&after, &limit],
            )?;
            rows.iter()
                .map(|r| r.try_get::<_, String>(0).map_err(ServerError::from))
                .collect()
        })
    }

    fn audit(&self, serial: &str, limit: usize) -> Result<Vec<AuditEntry>, ServerError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_client(|c| {
            let rows = c.query(
                "SELECT id, at, serial, event, detail, node FROM audit WHERE serial = $1
                 ORDER BY id LIMIT $2",
                &[&serial, &limit],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(AuditEntry {
                        id: r.try_get(0)?,
                        at: r.try_get(1)?,
                        serial: r.try_get(2)?,
                        event: r.try_get(3)?,
                        detail: r.try_get(4)?,
                        node: r.try_get(5)?,
                    })
                })
                .collect()
        })
    }

    fn engine(&self) -> &'static str {
        "postgresql"
    }
}
