package connector

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// component is the name of the connector server's schema in olctl_schema.
const component = "connector"

const mysqlTable = ` ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`

var migrations = []sqldb.Migration{{
	Version: 1,
	SQLite: []string{
		`CREATE TABLE conn_site (id INTEGER PRIMARY KEY AUTOINCREMENT, licence TEXT NOT NULL UNIQUE,
			domain TEXT NOT NULL, mode TEXT NOT NULL, licence_key TEXT NOT NULL, secrets TEXT NOT NULL,
			created_ms INTEGER NOT NULL)`,
		`CREATE TABLE conn_line (id INTEGER PRIMARY KEY AUTOINCREMENT, site_id INTEGER NOT NULL, line TEXT NOT NULL,
			connector TEXT NOT NULL, real_id TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
			active INTEGER NOT NULL DEFAULT 0, connection INTEGER NOT NULL DEFAULT 0,
			registered INTEGER NOT NULL DEFAULT 0, error INTEGER NOT NULL DEFAULT 0,
			entity_key TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
			UNIQUE (site_id, line, connector))`,
		`CREATE TABLE conn_param (line_ref INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
			PRIMARY KEY (line_ref, name))`,
		`CREATE TABLE conn_entity (real_id TEXT NOT NULL, entity_key TEXT NOT NULL, site_id INTEGER NOT NULL,
			line TEXT NOT NULL, PRIMARY KEY (real_id, entity_key))`,
		`CREATE TABLE conn_lane (id INTEGER PRIMARY KEY AUTOINCREMENT, site_id INTEGER NOT NULL, line TEXT NOT NULL,
			idle INTEGER NOT NULL DEFAULT 1, state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
			first_fail_ms INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL DEFAULT 0,
			sent_upto INTEGER NOT NULL DEFAULT 0, lease_owner TEXT NOT NULL DEFAULT '',
			lease_until_ms INTEGER NOT NULL DEFAULT 0, UNIQUE (site_id, line))`,
		`CREATE INDEX conn_lane_ready ON conn_lane (idle, next_at_ms)`,
		`CREATE TABLE conn_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, lane_id INTEGER NOT NULL,
			command TEXT NOT NULL, connector TEXT NOT NULL, chat_id TEXT NOT NULL, msg_id TEXT NOT NULL,
			item BLOB NOT NULL, created_ms INTEGER NOT NULL)`,
		`CREATE INDEX conn_queue_lane ON conn_queue (lane_id, id)`,
		`CREATE TABLE conn_dedup (lane_id INTEGER NOT NULL, dkey TEXT NOT NULL, created_ms INTEGER NOT NULL,
			PRIMARY KEY (lane_id, dkey))`,
		`CREATE INDEX conn_dedup_created ON conn_dedup (created_ms)`,
		`CREATE TABLE conn_dead (id INTEGER PRIMARY KEY, lane_id INTEGER NOT NULL, site_id INTEGER NOT NULL,
			line TEXT NOT NULL, command TEXT NOT NULL, connector TEXT NOT NULL, chat_id TEXT NOT NULL,
			msg_id TEXT NOT NULL, item BLOB NOT NULL, created_ms INTEGER NOT NULL, dead_ms INTEGER NOT NULL,
			attempts INTEGER NOT NULL, first_fail_ms INTEGER NOT NULL)`,
		`CREATE INDEX conn_dead_lane ON conn_dead (lane_id, id)`,
	},
	MySQL: []string{
		`CREATE TABLE conn_site (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, licence VARCHAR(64) NOT NULL,
			domain VARCHAR(512) NOT NULL, mode VARCHAR(16) NOT NULL, licence_key VARCHAR(255) NOT NULL,
			secrets TEXT NOT NULL, created_ms BIGINT NOT NULL, UNIQUE KEY conn_site_licence (licence))` + mysqlTable,
		`CREATE TABLE conn_line (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, site_id BIGINT NOT NULL,
			line VARCHAR(64) NOT NULL, connector VARCHAR(128) NOT NULL, real_id VARCHAR(64) NOT NULL,
			hash CHAR(32) NOT NULL, active TINYINT NOT NULL DEFAULT 0, connection TINYINT NOT NULL DEFAULT 0,
			registered TINYINT NOT NULL DEFAULT 0, error TINYINT NOT NULL DEFAULT 0,
			entity_key VARCHAR(255) NOT NULL DEFAULT '', created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
			UNIQUE KEY conn_line_hash (hash), UNIQUE KEY conn_line_key (site_id, line, connector))` + mysqlTable,
		`CREATE TABLE conn_param (line_ref BIGINT NOT NULL, name VARCHAR(128) NOT NULL, value TEXT NOT NULL,
			PRIMARY KEY (line_ref, name))` + mysqlTable,
		`CREATE TABLE conn_entity (real_id VARCHAR(64) NOT NULL, entity_key VARCHAR(255) NOT NULL,
			site_id BIGINT NOT NULL, line VARCHAR(64) NOT NULL, PRIMARY KEY (real_id, entity_key))` + mysqlTable,
		`CREATE TABLE conn_lane (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, site_id BIGINT NOT NULL,
			line VARCHAR(64) NOT NULL, idle TINYINT NOT NULL DEFAULT 1, state TINYINT NOT NULL DEFAULT 0,
			attempts INT NOT NULL DEFAULT 0, first_fail_ms BIGINT NOT NULL DEFAULT 0,
			next_at_ms BIGINT NOT NULL DEFAULT 0, sent_upto BIGINT NOT NULL DEFAULT 0,
			lease_owner VARCHAR(32) NOT NULL DEFAULT '', lease_until_ms BIGINT NOT NULL DEFAULT 0,
			UNIQUE KEY conn_lane_key (site_id, line), KEY conn_lane_ready (idle, next_at_ms))` + mysqlTable,
		`CREATE TABLE conn_queue (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, lane_id BIGINT NOT NULL,
			command VARCHAR(64) NOT NULL, connector VARCHAR(128) NOT NULL, chat_id VARCHAR(255) NOT NULL,
			msg_id VARCHAR(255) NOT NULL, item MEDIUMBLOB NOT NULL, created_ms BIGINT NOT NULL,
			KEY conn_queue_lane (lane_id, id))` + mysqlTable,
		`CREATE TABLE conn_dedup (lane_id BIGINT NOT NULL, dkey CHAR(64) NOT NULL, created_ms BIGINT NOT NULL,
			PRIMARY KEY (lane_id, dkey), KEY conn_dedup_created (created_ms))` + mysqlTable,
		`CREATE TABLE conn_dead (id BIGINT NOT NULL PRIMARY KEY, lane_id BIGINT NOT NULL, site_id BIGINT NOT NULL,
			line VARCHAR(64) NOT NULL, command VARCHAR(64) NOT NULL, connector VARCHAR(128) NOT NULL,
			chat_id VARCHAR(255) NOT NULL, msg_id VARCHAR(255) NOT NULL, item MEDIUMBLOB NOT NULL,
			created_ms BIGINT NOT NULL, dead_ms BIGINT NOT NULL, attempts INT NOT NULL,
			first_fail_ms BIGINT NOT NULL, KEY conn_dead_lane (lane_id, id))` + mysqlTable,
	},
	Postgres: []string{
		`CREATE TABLE conn_site (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, licence TEXT NOT NULL UNIQUE,
			domain TEXT NOT NULL, mode TEXT NOT NULL, licence_key TEXT NOT NULL, secrets TEXT NOT NULL,
			created_ms BIGINT NOT NULL)`,
		`CREATE TABLE conn_line (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, site_id BIGINT NOT NULL,
			line TEXT NOT NULL, connector TEXT NOT NULL, real_id TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
			active SMALLINT NOT NULL DEFAULT 0, connection SMALLINT NOT NULL DEFAULT 0,
			registered SMALLINT NOT NULL DEFAULT 0, error SMALLINT NOT NULL DEFAULT 0,
			entity_key TEXT NOT NULL DEFAULT '', created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
			UNIQUE (site_id, line, connector))`,
		`CREATE TABLE conn_param (line_ref BIGINT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
			PRIMARY KEY (line_ref, name))`,
		`CREATE TABLE conn_entity (real_id TEXT NOT NULL, entity_key TEXT NOT NULL, site_id BIGINT NOT NULL,
			line TEXT NOT NULL, PRIMARY KEY (real_id, entity_key))`,
		`CREATE TABLE conn_lane (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, site_id BIGINT NOT NULL,
			line TEXT NOT NULL, idle SMALLINT NOT NULL DEFAULT 1, state SMALLINT NOT NULL DEFAULT 0,
			attempts INTEGER NOT NULL DEFAULT 0, first_fail_ms BIGINT NOT NULL DEFAULT 0,
			next_at_ms BIGINT NOT NULL DEFAULT 0, sent_upto BIGINT NOT NULL DEFAULT 0,
			lease_owner TEXT NOT NULL DEFAULT '', lease_until_ms BIGINT NOT NULL DEFAULT 0, UNIQUE (site_id, line))`,
		`CREATE INDEX conn_lane_ready ON conn_lane (idle, next_at_ms)`,
		`CREATE TABLE conn_queue (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, lane_id BIGINT NOT NULL,
			command TEXT NOT NULL, connector TEXT NOT NULL, chat_id TEXT NOT NULL, msg_id TEXT NOT NULL,
			item BYTEA NOT NULL, created_ms BIGINT NOT NULL)`,
		`CREATE INDEX conn_queue_lane ON conn_queue (lane_id, id)`,
		`CREATE TABLE conn_dedup (lane_id BIGINT NOT NULL, dkey TEXT NOT NULL, created_ms BIGINT NOT NULL,
			PRIMARY KEY (lane_id, dkey))`,
		`CREATE INDEX conn_dedup_created ON conn_dedup (created_ms)`,
		`CREATE TABLE conn_dead (id BIGINT NOT NULL PRIMARY KEY, lane_id BIGINT NOT NULL, site_id BIGINT NOT NULL,
			line TEXT NOT NULL, command TEXT NOT NULL, connector TEXT NOT NULL, chat_id TEXT NOT NULL,
			msg_id TEXT NOT NULL, item BYTEA NOT NULL, created_ms BIGINT NOT NULL, dead_ms BIGINT NOT NULL,
			attempts INTEGER NOT NULL, first_fail_ms BIGINT NOT NULL)`,
		`CREATE INDEX conn_dead_lane ON conn_dead (lane_id, id)`,
	},
}, {
	// SQLite: dedup keys are pruned by rowid (rows are appended in time order, see pruneDedup), so the index
	// on their age goes: one page less to log per webhook commit, one b-tree insert less per item.
	Version: 2,
	SQLite:  []string{`DROP INDEX conn_dedup_created`},
}, {
	// A site's generation (docs/protocol.md §11): its configured profile and the BX_VERSION of its last
	// verified packet.
	Version: 3,
	SQLite: []string{
		`ALTER TABLE conn_site ADD COLUMN profile TEXT NOT NULL DEFAULT 'auto'`,
		`ALTER TABLE conn_site ADD COLUMN version TEXT NOT NULL DEFAULT ''`,
	},
	MySQL: []string{
		`ALTER TABLE conn_site ADD COLUMN profile VARCHAR(16) NOT NULL DEFAULT 'auto', ADD COLUMN version VARCHAR(64) NOT NULL DEFAULT ''`,
	},
	Postgres: []string{
		`ALTER TABLE conn_site ADD COLUMN profile TEXT NOT NULL DEFAULT 'auto'`,
		`ALTER TABLE conn_site ADD COLUMN version TEXT NOT NULL DEFAULT ''`,
	},
}, {
	// Where a line connector that lost its entity moved (docs/protocol.md §11): its methods say so until the
	// line is set up again.
	Version: 4,
	SQLite: []string{`CREATE TABLE conn_moved (site_id INTEGER NOT NULL, line TEXT NOT NULL, connector TEXT NOT NULL,
		to_site_id INTEGER NOT NULL, to_line TEXT NOT NULL, moved_ms INTEGER NOT NULL, PRIMARY KEY (site_id, line, connector))`},
	MySQL: []string{`CREATE TABLE conn_moved (site_id BIGINT NOT NULL, line VARCHAR(64) NOT NULL, connector VARCHAR(128) NOT NULL,
		to_site_id BIGINT NOT NULL, to_line VARCHAR(64) NOT NULL, moved_ms BIGINT NOT NULL,
		PRIMARY KEY (site_id, line, connector))` + mysqlTable},
	Postgres: []string{`CREATE TABLE conn_moved (site_id BIGINT NOT NULL, line TEXT NOT NULL, connector TEXT NOT NULL,
		to_site_id BIGINT NOT NULL, to_line TEXT NOT NULL, moved_ms BIGINT NOT NULL, PRIMARY KEY (site_id, line, connector))`},
}}

// Limits of identifiers stored in the records (longer ones are refused with BAD_PACKET).
const (
	maxLineLen      = 64
	maxConnectorLen = 128
	maxKeyLen       = 255
	maxParamName    = 128
	maxVersionLen   = 64
)

// Store is the connector server's SQL state: sites, line connectors and their parameters, the queue and the
// dead letters. A Server owns one; the CLI opens one with Open to inspect a queue.
type Store struct {
	db     *sqldb.DB
	own    bool
	clk    clock.Clock
	wmu    sync.Mutex // serialises write transactions on SQLite (one writer; avoids busy-wait sleeps)
	wqmu   sync.Mutex
	wq     []*writeReq // SQLite writes waiting for wmu (see write)
	sites  sync.Map    // licence → *siteRec
	lanes  laneCache
	stmts  sync.Map // query → *sql.Stmt
	lmu    sync.Mutex
	lcache map[string]cachedLine // webhook hash → line connector
	nstmts atomic.Int32
	pol    Policy // how the queue is sent (the server's; defaults in a store opened for inspection)
}

// Open opens (and migrates) the store a DSN names, for inspection tools: see Store.QueueStats, QueueList and
// DeadLetters. Close it when done.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	st, err := newStore(ctx, db, clock.System())
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	st.own = true
	return st, nil
}

func newStore(ctx context.Context, db *sqldb.DB, clk clock.Clock) (*Store, error) {
	if err := checkSQLiteFile(ctx, db); err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, component, migrations); err != nil {
		return nil, fmt.Errorf("connector: migrate: %w", err)
	}
	pol, err := Policy{}.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Store{db: db, clk: clk, pol: pol}, nil
}

// Close closes the database when the store opened it.
func (s *Store) Close() error {
	s.closeStmts()
	if s.own {
		return s.db.Close()
	}
	return nil
}

// DB returns the store's database.
func (s *Store) DB() *sqldb.DB { return s.db }

// sqlite reports a SQLite store: one process owns it, and its write transactions take turns. On MySQL and
// PostgreSQL several processes may share the store, and transactions lock the rows they change.
func (s *Store) sqlite() bool { return s.db.Dialect == sqldb.SQLite }

func (s *Store) nowMS() int64 { return s.clk.Now().UnixMilli() }

// forUpdate is the locking clause of a SELECT on MySQL and PostgreSQL ("" on SQLite, where write
// transactions are exclusive).
func (s *Store) forUpdate(skipLocked bool) string {
	if s.sqlite() {
		return ""
	}
	if skipLocked {
		return " FOR UPDATE SKIP LOCKED"
	}
	return " FOR UPDATE"
}

// insertIgnore returns an INSERT INTO into that leaves out the rows whose unique keys are taken.
func (s *Store) insertIgnore(into string) string {
	switch s.db.Dialect {
	case sqldb.MySQL:
		return "INSERT IGNORE INTO " + into
	case sqldb.Postgres:
		return "INSERT INTO " + into + " ON CONFLICT DO NOTHING"
	}
	return "INSERT OR IGNORE INTO " + into
}

// write runs fn in a write transaction, retrying deadlocks and lock wait timeouts (sqldb.IsRetryable) a few
// times.
//
// fn may run more than once (a retry), so it must set its results afresh each time, and keep in memory only
// what tx.afterCommit hands over. On SQLite, whose writers take turns anyway, the writes that queue up while
// one commits are run together in the next transaction, one after the other (flat combining): they cost
// one commit instead of one each — a commit is most of a small transaction (the WAL frames of the pages it
// touched, the locks; the table of lines is touched by nearly all of them). When one of them fails, each
// runs again in a transaction of its own, so that one cannot fail the others.
func (s *Store) write(ctx context.Context, fn func(tx *stx) error) error {
	if s.sqlite() {
		return s.combinedWrite(ctx, fn)
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.tryWrite(ctx, fn)
		if err == nil || !sqldb.IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return err
}

func (s *Store) tryWrite(ctx context.Context, fn func(tx *stx) error) error {
	var opts *sql.TxOptions
	if !s.sqlite() {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	t := &stx{tx: tx, s: s}
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, f := range t.after {
		f()
	}
	return nil
}

// writeReq is a write waiting for its turn on SQLite.
type writeReq struct {
	ctx  context.Context
	fn   func(tx *stx) error
	err  error
	done bool // guarded by wmu
}

// combinedWrite is write on SQLite: the caller queues fn and takes the writer's turn; when it gets it,
// either a previous turn ran fn already, or it runs every write queued so far.
func (s *Store) combinedWrite(ctx context.Context, fn func(tx *stx) error) error {
	r := &writeReq{ctx: ctx, fn: fn}
	s.wqmu.Lock()
	s.wq = append(s.wq, r)
	s.wqmu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if r.done {
		return r.err
	}
	s.wqmu.Lock()
	group := s.wq
	s.wq = nil
	s.wqmu.Unlock()
	if len(group) > 1 {
		// The transaction is not bound to one caller's context: a caller whose context ends fails its own
		// statements, and then everyone runs alone below.
		err := s.tryWrite(context.Background(), func(tx *stx) error {
			for _, w := range group {
				if err := w.ctx.Err(); err != nil {
					return err
				}
				if err := w.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, w := range group {
				w.done = true
			}
			return nil
		}
	}
	for _, w := range group {
		w.err = s.tryWrite(w.ctx, w.fn)
		w.done = true
	}
	return r.err
}

// maxStmts caps the prepared statements a store keeps (each is prepared once per connection that uses it;
// MySQL limits prepared statements server-wide). Queries beyond the cap run unprepared.
const maxStmts = 48

// stmt returns the cached prepared statement of q, preparing it the first time; nil when the cache is full
// or q cannot be prepared.
func (s *Store) stmt(ctx context.Context, q string) *sql.Stmt {
	if v, ok := s.stmts.Load(q); ok {
		return v.(*sql.Stmt)
	}
	if s.nstmts.Load() >= maxStmts {
		return nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	if v, loaded := s.stmts.LoadOrStore(q, st); loaded {
		_ = st.Close()
		return v.(*sql.Stmt)
	}
	s.nstmts.Add(1)
	return st
}

func (s *Store) closeStmts() {
	s.stmts.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		s.stmts.Delete(k)
		return true
	})
}

// stx is a write transaction whose queries use the store's prepared statements.
type stx struct {
	tx    *sqldb.Tx
	s     *Store
	after []func()
}

// afterCommit runs f once the transaction has committed (not after a rollback): for caches of what it wrote.
func (t *stx) afterCommit(f func()) { t.after = append(t.after, f) }

func (t *stx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.s.stmt(ctx, q); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

func (t *stx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.s.stmt(ctx, q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t *stx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.s.stmt(ctx, q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// sdb runs reads outside transactions with the store's prepared statements.
type sdb struct{ s *Store }

func (s *Store) rdb() sdb { return sdb{s} }

func (d sdb) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := d.s.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.s.db.QueryContext(ctx, q, args...)
}

func (d sdb) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := d.s.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.s.db.QueryRowContext(ctx, q, args...)
}

// badText turns a database's refusal of a text value (invalid UTF-8; on PostgreSQL also a NUL) into the
// BAD_PACKET it is: the caller sent text the records cannot hold. The transaction was rolled back.
func badText(err error) error {
	if sqldb.IsInvalidText(err) {
		return wire.Errorf(wire.CodeBadPacket, "text the database cannot store (invalid UTF-8 or a NUL): %v", err)
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ---- sites ----

type siteRec struct {
	loaded  time.Time
	id      int64
	site    Site // credentials and configured profile
	domain  string
	version string // the BX_VERSION of the site's last verified packet
	signer  *wire.Signer
}

// generation is the profile the site is pushed and acknowledged in: the configured one, or with
// ProfileAuto the one its last verified packet's BX_VERSION names (legacy before any).
func (r *siteRec) generation() wire.Profile {
	switch r.site.Profile {
	case ProfileLegacy:
		return wire.Legacy
	case ProfileCurrent:
		return wire.Current
	}
	return wire.ProfileOf(r.version)
}

// upsertSite stores a configured site (its credentials and profile override the stored ones; an empty
// Domain keeps the stored domain).
func (s *Store) upsertSite(ctx context.Context, site Site) (*siteRec, error) {
	lic := site.licence()
	c := site.credentials()
	secrets := strings.Join(site.Secrets, "\n")
	err := s.write(ctx, func(tx *stx) error {
		var id int64
		var domain string
		err := tx.QueryRowContext(ctx, `SELECT id, domain FROM conn_site WHERE licence = ?`+s.forUpdate(false), lic).Scan(&id, &domain)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO conn_site (licence, domain, mode, licence_key, secrets, profile, created_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, lic, site.Domain, string(c.Mode), site.LicenceKey, secrets, string(site.profile()), s.nowMS())
			return err
		case err != nil:
			return err
		}
		if site.Domain == "" {
			site.Domain = domain
		}
		_, err = tx.ExecContext(ctx, `UPDATE conn_site SET domain = ?, mode = ?, licence_key = ?, secrets = ?, profile = ? WHERE id = ?`,
			site.Domain, string(c.Mode), site.LicenceKey, secrets, string(site.profile()), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connector: store site %s: %w", lic, err)
	}
	s.sites.Delete(lic)
	return s.siteByLicence(ctx, lic)
}

// siteByLicence returns a known site, or LICENCE_ERROR.
func (s *Store) siteByLicence(ctx context.Context, licence string) (*siteRec, error) {
	licence = strings.ToLower(licence)
	if v, ok := s.sites.Load(licence); ok && s.fresh(v.(*siteRec)) {
		return v.(*siteRec), nil
	}
	return s.loadSite(ctx, `licence = ?`, licence)
}

// siteTTL is how long a site record is cached; another process sharing the database may have learned a
// new domain or version. A site whose domain is still unknown, or whose generation waits for its first
// verified packet (ProfileAuto, no BX_VERSION yet), is read again every time: the packet may have come to
// another process, which stored its version (noteSite), and a current portal must not be pushed to as a
// legacy one meanwhile.
const siteTTL = 10 * time.Second

func (s *Store) fresh(r *siteRec) bool {
	age := s.clk.Now().Sub(r.loaded)
	return r.domain != "" && r.generationKnown() && age >= 0 && age < siteTTL
}

// generationKnown reports that the site's generation is settled: configured, or learned from a packet.
func (r *siteRec) generationKnown() bool {
	return r.version != "" || r.site.Profile == ProfileLegacy || r.site.Profile == ProfileCurrent
}

func (s *Store) siteByID(ctx context.Context, id int64) (*siteRec, error) {
	var found *siteRec
	s.sites.Range(func(_, v any) bool {
		if r := v.(*siteRec); r.id == id {
			found = r
			return false
		}
		return true
	})
	if found != nil && s.fresh(found) {
		return found, nil
	}
	return s.loadSite(ctx, `id = ?`, id)
}

func (s *Store) loadSite(ctx context.Context, where string, arg any) (*siteRec, error) {
	var (
		r                                siteRec
		lic, mode, key, secrets, profile string
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, licence, domain, mode, licence_key, secrets, profile, version FROM conn_site WHERE `+where, arg).
		Scan(&r.id, &lic, &r.domain, &mode, &key, &secrets, &profile, &r.version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wire.Errorf(wire.CodeLicence, "unknown portal")
	}
	if err != nil {
		return nil, fmt.Errorf("connector: load site: %w", err)
	}
	r.site = Site{LicenceKey: key, Licence: lic, Mode: wire.Mode(mode), Domain: r.domain, Profile: SiteProfile(profile)}
	if secrets != "" {
		r.site.Secrets = strings.Split(secrets, "\n")
	}
	r.signer, err = wire.NewSigner(r.site.credentials(), s.clk)
	if err != nil {
		return nil, fmt.Errorf("connector: site %s: %w", lic, err)
	}
	r.loaded = s.clk.Now()
	s.sites.Store(lic, &r)
	return &r, nil
}

// noteSite records what a site's verified packet told: its BX_DOMAIN (an empty one is ignored) and its
// BX_VERSION. It writes only when they changed, and returns the site as it is now.
func (s *Store) noteSite(ctx context.Context, r *siteRec, domain, version string) (*siteRec, error) {
	if domain == "" {
		domain = r.domain
	}
	if domain == r.domain && version == r.version {
		return r, nil
	}
	err := s.write(ctx, func(tx *stx) error {
		_, err := tx.ExecContext(ctx, `UPDATE conn_site SET domain = ?, version = ? WHERE id = ?`, domain, version, r.id)
		return err
	})
	if err != nil {
		return nil, err
	}
	nr := *r
	nr.domain, nr.site.Domain, nr.version = domain, domain, version
	s.sites.Store(nr.site.licence(), &nr)
	return &nr, nil
}

// ---- line connectors ----

// lineTTL is how long a line connector read by its webhook hash is cached. Changes made by this process
// clear the cache at once; changes made by another process sharing the database are seen within lineTTL.
const lineTTL = 5 * time.Second

type cachedLine struct {
	l  *lineRec
	at time.Time
}

// writeLines is write for transactions that change line connectors: it drops the line cache.
func (s *Store) writeLines(ctx context.Context, fn func(tx *stx) error) error {
	defer s.clearLines()
	return s.write(ctx, fn)
}

func (s *Store) clearLines() {
	s.lmu.Lock()
	clear(s.lcache)
	s.lmu.Unlock()
}

// lineByHash returns the line connector of a webhook hash (nil when there is none), from the cache when
// it is fresh. The result must not be modified.
func (s *Store) lineByHash(ctx context.Context, hash string) (*lineRec, error) {
	now := s.clk.Now()
	s.lmu.Lock()
	c, ok := s.lcache[hash]
	s.lmu.Unlock()
	if ok && now.Sub(c.at) < lineTTL && !now.Before(c.at) {
		return c.l, nil
	}
	l, err := s.lineBy(ctx, s.rdb(), `hash = ?`, hash)
	if err != nil || l == nil {
		return l, err
	}
	s.lmu.Lock()
	if s.lcache == nil {
		s.lcache = map[string]cachedLine{}
	}
	if len(s.lcache) > 100_000 {
		clear(s.lcache)
	}
	s.lcache[hash] = cachedLine{l, now}
	s.lmu.Unlock()
	return l, nil
}

type lineRec struct {
	id         int64
	siteID     int64
	line       string
	connector  string
	realID     string
	hash       string
	active     bool
	connection bool
	registered bool
	errFlag    bool
	entity     string
	params     map[string]string
}

const lineCols = `id, site_id, line, connector, real_id, hash, active, connection, registered, error, entity_key`

type rowScanner interface{ Scan(dest ...any) error }

func scanLine(r rowScanner) (*lineRec, error) {
	var l lineRec
	var a, c, g, e int
	if err := r.Scan(&l.id, &l.siteID, &l.line, &l.connector, &l.realID, &l.hash, &a, &c, &g, &e, &l.entity); err != nil {
		return nil, err
	}
	l.active, l.connection, l.registered, l.errFlag = a != 0, c != 0, g != 0, e != 0
	return &l, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lineBy loads one line connector and its parameters; (nil, nil) when there is none.
func (s *Store) lineBy(ctx context.Context, q querier, where string, args ...any) (*lineRec, error) {
	l, err := scanLine(q.QueryRowContext(ctx, `SELECT `+lineCols+` FROM conn_line WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if l.params, err = s.params(ctx, q, l.id); err != nil {
		return nil, err
	}
	return l, nil
}

func (s *Store) params(ctx context.Context, q querier, lineRef int64) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, value FROM conn_param WHERE line_ref = ?`, lineRef)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

func (s *Store) linesOf(ctx context.Context, siteID int64, line string) ([]*lineRec, error) {
	q := `SELECT ` + lineCols + ` FROM conn_line WHERE site_id = ?`
	args := []any{siteID}
	if line != "" {
		q += ` AND line = ?`
		args = append(args, line)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY line, connector`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*lineRec
	for rows.Next() {
		l, err := scanLine(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// saveLine creates the line connector if needed and replaces its parameters; it resets CONNECTION and
// REGISTER (the settings changed) and sets ACTIVE.
func (s *Store) saveLine(ctx context.Context, siteID int64, line, connector string, params map[string]string) (*lineRec, error) {
	now := s.nowMS()
	var out *lineRec
	err := s.writeLines(ctx, func(tx *stx) error {
		l, err := s.lineBy(ctx, tx, `site_id = ? AND line = ? AND connector = ?`+s.forUpdate(false), siteID, line, connector)
		if err != nil {
			return err
		}
		if l == nil {
			id, err := s.db.InsertID(ctx, tx, `INSERT INTO conn_line (site_id, line, connector, real_id, hash, active, created_ms, updated_ms)
				VALUES (?, ?, ?, ?, ?, 1, ?, ?)`, siteID, line, connector, openlines.RealConnector(connector), randomHex(16), now, now)
			if err != nil {
				return err
			}
			if l, err = s.lineBy(ctx, tx, `id = ?`, id); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, `UPDATE conn_line SET active = 1, connection = 0, registered = 0, error = 0, updated_ms = ? WHERE id = ?`, now, l.id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM conn_param WHERE line_ref = ?`, l.id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM conn_moved WHERE site_id = ? AND line = ? AND connector = ?`, siteID, line, connector); err != nil {
			return err
		}
		for k, v := range params {
			if _, err := tx.ExecContext(ctx, `INSERT INTO conn_param (line_ref, name, value) VALUES (?, ?, ?)`, l.id, k, v); err != nil {
				return err
			}
		}
		l.params = params
		l.active, l.connection, l.registered, l.errFlag = true, false, false, false
		out = l
		return nil
	})
	return out, err
}

// setFlags updates status flags of a line connector; nil leaves a flag as it is.
func (s *Store) setFlags(ctx context.Context, id int64, connection, registered, errFlag *bool) error {
	var sets []string
	var args []any
	add := func(col string, v *bool) {
		if v != nil {
			sets = append(sets, col+" = ?")
			args = append(args, b2i(*v))
		}
	}
	add("connection", connection)
	add("registered", registered)
	add("error", errFlag)
	if len(sets) == 0 {
		return nil
	}
	args = append(args, s.nowMS(), id)
	return s.writeLines(ctx, func(tx *stx) error {
		_, err := tx.ExecContext(ctx, `UPDATE conn_line SET `+strings.Join(sets, ", ")+`, updated_ms = ? WHERE id = ?`, args...)
		return err
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ptr(b bool) *bool { return &b }

// deleteLineTx removes a line connector, its parameters and the entity it owned (when no other connector
// of its line uses the entity).
func (s *Store) deleteLineTx(ctx context.Context, tx *stx, l *lineRec) error {
	for _, q := range []string{`DELETE FROM conn_param WHERE line_ref = ?`, `DELETE FROM conn_line WHERE id = ?`} {
		if _, err := tx.ExecContext(ctx, q, l.id); err != nil {
			return err
		}
	}
	if l.entity == "" {
		return nil
	}
	return s.releaseEntityTx(ctx, tx, l)
}

func (s *Store) deleteLines(ctx context.Context, ls []*lineRec) error {
	return s.writeLines(ctx, func(tx *stx) error {
		for _, l := range ls {
			if err := s.deleteLineTx(ctx, tx, l); err != nil {
				return err
			}
		}
		return nil
	})
}

// recordMoveTx records that line connector from lost its entity to to, at now (ms).
func (s *Store) recordMoveTx(ctx context.Context, tx *stx, from, to *lineRec, now int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM conn_moved WHERE site_id = ? AND line = ? AND connector = ?`,
		from.siteID, from.line, from.connector); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO conn_moved (site_id, line, connector, to_site_id, to_line, moved_ms) VALUES (?, ?, ?, ?, ?, ?)`,
		from.siteID, from.line, from.connector, to.siteID, to.line, now)
	return err
}

// movedTo says where the line connector (site, line, connector), which is not there, moved with its entity:
// the site and line that took it; ok false when it never moved (or was set up again since).
func (s *Store) movedTo(ctx context.Context, siteID int64, line, connector string) (toSite int64, toLine string, ok bool, err error) {
	err = s.rdb().QueryRowContext(ctx, `SELECT to_site_id, to_line FROM conn_moved WHERE site_id = ? AND line = ? AND connector = ?`,
		siteID, line, connector).Scan(&toSite, &toLine)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	return toSite, toLine, true, nil
}

// moved is a line connector that lost its entity to another line.
type moved struct {
	siteID    int64
	line      string
	connector string
}

// claimEntity records that line connector l now owns entity (of its real channel) and marks it registered.
// Line connectors of other lines (or portals) that held the entity are deleted, and a deactivateConnector
// packet is queued to each of them; they are returned.
func (s *Store) claimEntity(ctx context.Context, l *lineRec, entity string) ([]moved, error) {
	var out []moved
	err := s.writeLines(ctx, func(tx *stx) error {
		out = out[:0]
		now := s.nowMS()
		if entity != "" {
			var oSite int64
			var oLine string
			err := tx.QueryRowContext(ctx, `SELECT site_id, line FROM conn_entity WHERE real_id = ? AND entity_key = ?`+s.forUpdate(false),
				l.realID, entity).Scan(&oSite, &oLine)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				if _, err := tx.ExecContext(ctx, `INSERT INTO conn_entity (real_id, entity_key, site_id, line) VALUES (?, ?, ?, ?)`,
					l.realID, entity, l.siteID, l.line); err != nil {
					return err
				}
			case err != nil:
				return err
			case oSite != l.siteID || oLine != l.line:
				rows, err := tx.QueryContext(ctx, `SELECT `+lineCols+` FROM conn_line WHERE site_id = ? AND line = ? AND real_id = ? AND entity_key = ?`,
					oSite, oLine, l.realID, entity)
				if err != nil {
					return err
				}
				var old []*lineRec
				for rows.Next() {
					o, err := scanLine(rows)
					if err != nil {
						rows.Close()
						return err
					}
					old = append(old, o)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return err
				}
				for _, o := range old {
					o.entity = "" // the entity row moves below
					if err := s.deleteLineTx(ctx, tx, o); err != nil {
						return err
					}
					if err := s.enqueueTx(ctx, tx, o.siteID, o.line, []Incoming{{Command: openlines.CommandDeactivateConnector, Connector: o.connector}}, now); err != nil {
						return err
					}
					if err := s.recordMoveTx(ctx, tx, o, l, now); err != nil {
						return err
					}
					out = append(out, moved{o.siteID, o.line, o.connector})
				}
				if _, err := tx.ExecContext(ctx, `UPDATE conn_entity SET site_id = ?, line = ? WHERE real_id = ? AND entity_key = ?`,
					l.siteID, l.line, l.realID, entity); err != nil {
					return err
				}
			}
		}
		// A previous entity of this line connector that no other connector of the line uses is released.
		if l.entity != "" && l.entity != entity {
			if _, err := tx.ExecContext(ctx, `UPDATE conn_line SET entity_key = '' WHERE id = ?`, l.id); err != nil {
				return err
			}
			old := *l
			if err := s.releaseEntityTx(ctx, tx, &old); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE conn_line SET entity_key = ?, registered = 1, error = 0, active = 1, updated_ms = ? WHERE id = ?`,
			entity, now, l.id)
		return err
	})
	if sqldb.IsUniqueViolation(err) { // two lines claimed a new entity at once: the second one moves it
		return s.claimEntity(ctx, l, entity)
	}
	return out, err
}

func (s *Store) releaseEntityTx(ctx context.Context, tx *stx, l *lineRec) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM conn_line WHERE site_id = ? AND line = ? AND real_id = ? AND entity_key = ?`,
		l.siteID, l.line, l.realID, l.entity).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM conn_entity WHERE real_id = ? AND entity_key = ? AND site_id = ? AND line = ?`,
		l.realID, l.entity, l.siteID, l.line)
	return err
}

// unregister marks a line connector unregistered and releases its entity.
func (s *Store) unregister(ctx context.Context, l *lineRec) error {
	return s.writeLines(ctx, func(tx *stx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE conn_line SET registered = 0, entity_key = '', updated_ms = ? WHERE id = ?`, s.nowMS(), l.id); err != nil {
			return err
		}
		if l.entity == "" {
			return nil
		}
		return s.releaseEntityTx(ctx, tx, l)
	})
}
