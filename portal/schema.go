package portal

import "github.com/olctl/olctl/sqldb"

// migrations of the portal's own tables:
//
//   - olctl_portal_items, the durable store of received items (see itemStore): one row per item taken, keyed
//     by its duplicate key (ItemKey.Sum, 24 bytes: date first, so that new rows land on the index's last
//     pages); the item itself while it waits for a retry or lies dead; (state, due_at) finds due items and
//     old finished ones.
//   - olctl_portal_status, the status of each (real connector, line) that the line gate reads.
var migrations = []sqldb.Migration{{
	Version: 1,
	SQLite: []string{
		`CREATE TABLE olctl_portal_processed (
			key_sum      BLOB NOT NULL PRIMARY KEY,
			processed_at INTEGER NOT NULL
		) WITHOUT ROWID`,
		`CREATE INDEX olctl_portal_processed_at ON olctl_portal_processed (processed_at)`,
		`CREATE TABLE olctl_portal_status (
			connector_id    TEXT NOT NULL,
			line_id         TEXT NOT NULL,
			flag_active     INTEGER NOT NULL DEFAULT 0,
			flag_connection INTEGER NOT NULL DEFAULT 0,
			flag_register   INTEGER NOT NULL DEFAULT 0,
			flag_error      INTEGER NOT NULL DEFAULT 0,
			updated_at      INTEGER NOT NULL,
			PRIMARY KEY (connector_id, line_id)
		)`,
	},
	MySQL: []string{
		`CREATE TABLE olctl_portal_processed (
			key_sum      BINARY(24) NOT NULL PRIMARY KEY,
			processed_at BIGINT NOT NULL,
			INDEX olctl_portal_processed_at (processed_at)
		) ENGINE=InnoDB`,
		`CREATE TABLE olctl_portal_status (
			connector_id    VARCHAR(191) NOT NULL,
			line_id         VARCHAR(191) NOT NULL,
			flag_active     TINYINT NOT NULL DEFAULT 0,
			flag_connection TINYINT NOT NULL DEFAULT 0,
			flag_register   TINYINT NOT NULL DEFAULT 0,
			flag_error      TINYINT NOT NULL DEFAULT 0,
			updated_at      BIGINT NOT NULL,
			PRIMARY KEY (connector_id, line_id)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
	},
	Postgres: []string{
		`CREATE TABLE olctl_portal_processed (
			key_sum      BYTEA NOT NULL PRIMARY KEY,
			processed_at BIGINT NOT NULL
		)`,
		`CREATE TABLE olctl_portal_status (
			connector_id    TEXT NOT NULL,
			line_id         TEXT NOT NULL,
			flag_active     SMALLINT NOT NULL DEFAULT 0,
			flag_connection SMALLINT NOT NULL DEFAULT 0,
			flag_register   SMALLINT NOT NULL DEFAULT 0,
			flag_error      SMALLINT NOT NULL DEFAULT 0,
			updated_at      BIGINT NOT NULL,
			PRIMARY KEY (connector_id, line_id)
		)`,
	},
}, {
	// The index on processed_at doubled the pages every record of processed items wrote; the prune scanned
	// the table instead.
	Version: 2,
	SQLite:  []string{`DROP INDEX IF EXISTS olctl_portal_processed_at`},
	MySQL:   []string{`ALTER TABLE olctl_portal_processed DROP INDEX olctl_portal_processed_at`},
}, {
	// The store of received items replaces the record of processed ones, whose keys it keeps as finished
	// items (so that a redelivery of an item processed before the upgrade is still a duplicate). The status
	// is keyed by the real connector id: rows under a virtual id were never read by a gate.
	Version: 3,
	SQLite: []string{
		`CREATE TABLE olctl_portal_items (
			id         INTEGER PRIMARY KEY AUTOINCREMENT,
			key_sum    BLOB NOT NULL,
			command    TEXT NOT NULL,
			connector  TEXT NOT NULL,
			line_id    TEXT NOT NULL,
			body       BLOB,
			state      INTEGER NOT NULL,
			attempts   INTEGER NOT NULL DEFAULT 0,
			due_at     INTEGER NOT NULL,
			last_error TEXT NOT NULL DEFAULT '',
			created_at INTEGER NOT NULL
		)`,
		`CREATE UNIQUE INDEX olctl_portal_items_key ON olctl_portal_items (key_sum)`,
		`CREATE INDEX olctl_portal_items_due ON olctl_portal_items (state, due_at)`,
		`INSERT INTO olctl_portal_items (key_sum, command, connector, line_id, state, due_at, created_at)
			SELECT key_sum, 'receivingMessage', '', '', 1, processed_at * 1000, processed_at * 1000 FROM olctl_portal_processed`,
		`DROP TABLE olctl_portal_processed`,
		`DELETE FROM olctl_portal_status WHERE connector_id LIKE '%.%'`,
	},
	MySQL: []string{
		`CREATE TABLE olctl_portal_items (
			id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
			key_sum    BINARY(24) NOT NULL,
			command    VARCHAR(64) NOT NULL,
			connector  VARCHAR(191) NOT NULL,
			line_id    VARCHAR(191) NOT NULL,
			body       LONGBLOB,
			state      TINYINT NOT NULL,
			attempts   INT NOT NULL DEFAULT 0,
			due_at     BIGINT NOT NULL,
			last_error TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			UNIQUE KEY olctl_portal_items_key (key_sum),
			KEY olctl_portal_items_due (state, due_at)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		`INSERT INTO olctl_portal_items (key_sum, command, connector, line_id, state, due_at, last_error, created_at)
			SELECT key_sum, 'receivingMessage', '', '', 1, processed_at * 1000, '', processed_at * 1000 FROM olctl_portal_processed`,
		`DROP TABLE olctl_portal_processed`,
		`DELETE FROM olctl_portal_status WHERE connector_id LIKE '%.%'`,
	},
	Postgres: []string{
		`CREATE TABLE olctl_portal_items (
			id         BIGSERIAL PRIMARY KEY,
			key_sum    BYTEA NOT NULL,
			command    TEXT NOT NULL,
			connector  TEXT NOT NULL,
			line_id    TEXT NOT NULL,
			body       BYTEA,
			state      SMALLINT NOT NULL,
			attempts   INTEGER NOT NULL DEFAULT 0,
			due_at     BIGINT NOT NULL,
			last_error TEXT NOT NULL DEFAULT '',
			created_at BIGINT NOT NULL
		)`,
		`CREATE UNIQUE INDEX olctl_portal_items_key ON olctl_portal_items (key_sum)`,
		`CREATE INDEX olctl_portal_items_due ON olctl_portal_items (state, due_at)`,
		`INSERT INTO olctl_portal_items (key_sum, command, connector, line_id, state, due_at, created_at)
			SELECT key_sum, 'receivingMessage', '', '', 1, processed_at * 1000, processed_at * 1000 FROM olctl_portal_processed`,
		`DROP TABLE olctl_portal_processed`,
		`DELETE FROM olctl_portal_status WHERE connector_id LIKE '%.%'`,
	},
}}
