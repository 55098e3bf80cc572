// Package sqldb is the database olctl keeps its state in, and the one a caller hands to the stores of the
// SDK: users.NewSQLStore, files.NewDiskStore, bfcontext.NewSQLStore, the portal's SQL stores and
// portal.Config.DB, and connector.Config.DB all take a *DB.
//
// Three databases are supported, all run by the tests:
//
//   - SQLite, embedded (pure Go, no cgo), the default: one process owns the file. DSNs: "sqlite:PATH",
//     "file:PATH", a path ending in .db or .sqlite, or ":memory:". Open sets WAL, synchronous=NORMAL, a 10 s
//     busy timeout and immediate write transactions, and for a file checkpoints the WAL in a goroutine of its
//     own (PASSIVE every 100 ms, RESTART at 16 MiB of WAL) rather than in the commits, which SQLite's
//     wal_autocheckpoint would hold up; Close stops it. A commit is in the WAL when it returns: it survives a
//     crash of the process; on power loss the commits since the WAL's last sync may be lost, and the database
//     stays consistent. A *sql.DB given to New keeps its own settings and gets no checkpointer.
//   - MySQL or MariaDB, through github.com/go-sql-driver/mysql. DSNs: "mysql://DSN" or a driver DSN such as
//     "user:pass@tcp(db:3306)/olctl".
//   - PostgreSQL, through github.com/jackc/pgx/v5/stdlib. DSNs: "postgres://user:pass@db:5432/olctl" or
//     "postgresql://…", with pgx's parameters (sslmode, connect_timeout, …) and server settings:
//     "…?search_path=olctl" keeps the tables in the schema olctl, which the user must be allowed to create
//     tables in (PostgreSQL 15 and later let only the owner of the database create them in public).
//
// On MySQL and PostgreSQL several processes may share one database: the connector server's queue takes its
// lanes with SELECT … FOR UPDATE SKIP LOCKED, and the unique keys of the stores keep concurrent creates of
// one record to one row.
//
// Open opens a DSN with the settings olctl needs; New wraps a *sql.DB the caller opened itself. Either way,
// the statements of a DB and of its transactions (Tx) are written with ? placeholders in every dialect:
// on PostgreSQL they are rewritten to $1, $2, … (Rebind). Each store keeps its tables current with Migrate,
// which records the versions it applied in the table olctl_schema.
package sqldb
