package files

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/olctl/olctl/sqldb"
)

// Bounds of the metadata a DiskStore keeps.
const (
	MaxStoredNameBytes = 255
	MaxStoredTypeBytes = 255
)

var diskMigrations = []sqldb.Migration{{
	Version: 1,
	SQLite: []string{`CREATE TABLE olctl_files (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		dedup_key CHAR(64) NOT NULL UNIQUE,
		sha256 CHAR(64) NOT NULL,
		size BIGINT NOT NULL,
		name TEXT NOT NULL,
		type VARCHAR(255) NOT NULL,
		created_at BIGINT NOT NULL)`},
	MySQL: []string{`CREATE TABLE olctl_files (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		dedup_key CHAR(64) NOT NULL,
		sha256 CHAR(64) NOT NULL,
		size BIGINT NOT NULL,
		name VARCHAR(255) NOT NULL,
		type VARCHAR(255) NOT NULL,
		created_at BIGINT NOT NULL,
		UNIQUE KEY olctl_files_dedup (dedup_key)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`},
}}

// DiskStore is a Store that keeps the bytes in a directory, content-addressed by SHA-256
// (dir/objects/ab/abcdef…), and the metadata in the SQL table olctl_files. A file is first written to
// dir/tmp, synced, and renamed into place, so a reader never sees a partial file; identical contents are kept
// once. Safe for concurrent use, also by several processes sharing the directory and the database.
type DiskStore struct {
	dir string
	db  *sqldb.DB
}

// NewDiskStore returns a DiskStore on dir (created when missing) and db (its table created or migrated).
func NewDiskStore(ctx context.Context, dir string, db *sqldb.DB) (*DiskStore, error) {
	if dir == "" {
		return nil, errors.New("files: disk store: directory is required")
	}
	if db == nil {
		return nil, errors.New("files: disk store: database is required")
	}
	for _, d := range []string{dir, filepath.Join(dir, "objects"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("files: disk store: %w", err)
		}
	}
	if err := db.Migrate(ctx, "files", diskMigrations); err != nil {
		return nil, fmt.Errorf("files: disk store: %w", err)
	}
	return &DiskStore{dir: dir, db: db}, nil
}

func (s *DiskStore) objectPath(sum string) string {
	return filepath.Join(s.dir, "objects", sum[:2], sum)
}

// Put implements Store.
func (s *DiskStore) Put(ctx context.Context, meta Meta, r io.Reader) (FileID, error) {
	if err := checkMeta(meta); err != nil {
		return 0, err
	}
	sum, size, err := s.writeObject(ctx, r)
	if err != nil {
		return 0, err
	}
	key := dedupKey(sum, meta.Type, meta.Name)
	var created int64
	if !meta.Created.IsZero() {
		created = meta.Created.UnixNano()
	}
	res, err := s.db.ExecContext(ctx, "INSERT INTO olctl_files (dedup_key, sha256, size, name, type, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		key, sum, size, meta.Name, meta.Type, created)
	if sqldb.IsUniqueViolation(err) {
		var id int64
		if err := s.db.QueryRowContext(ctx, "SELECT id FROM olctl_files WHERE dedup_key = ?", key).Scan(&id); err != nil {
			return 0, fmt.Errorf("files: disk store: read back %s: %w", meta.Name, err)
		}
		return FileID(id), nil
	}
	if err != nil {
		return 0, fmt.Errorf("files: disk store: register %s: %w", meta.Name, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("files: disk store: register %s: %w", meta.Name, err)
	}
	return FileID(id), nil
}

func checkMeta(m Meta) error {
	switch {
	case len(m.Name) > MaxStoredNameBytes:
		return fmt.Errorf("files: name is %d bytes, at most %d are stored", len(m.Name), MaxStoredNameBytes)
	case len(m.Type) > MaxStoredTypeBytes:
		return fmt.Errorf("files: type is %d bytes, at most %d are stored", len(m.Type), MaxStoredTypeBytes)
	case !utf8.ValidString(m.Name):
		return errors.New("files: name is not valid UTF-8")
	case !utf8.ValidString(m.Type):
		return errors.New("files: type is not valid UTF-8")
	}
	return nil
}

// writeObject streams r into a temporary file, then moves it to its content address.
func (s *DiskStore) writeObject(ctx context.Context, r io.Reader) (sum string, size int64, err error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return "", 0, fmt.Errorf("files: disk store: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), ctxReader{ctx, r})
	if err != nil {
		return "", 0, fmt.Errorf("files: disk store: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("files: disk store: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("files: disk store: %w", err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	final := s.objectPath(sum)
	if _, statErr := os.Stat(final); statErr == nil {
		_ = os.Remove(tmp.Name()) // already stored: deduplicated
		return sum, size, nil
	}
	if err = os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return "", 0, fmt.Errorf("files: disk store: %w", err)
	}
	if err = os.Rename(tmp.Name(), final); err != nil {
		return "", 0, fmt.Errorf("files: disk store: %w", err)
	}
	if d, dErr := os.Open(filepath.Dir(final)); dErr == nil {
		_ = d.Sync() // make the rename durable before the metadata points at it
		_ = d.Close()
	}
	return sum, size, nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Stat implements Store.
func (s *DiskStore) Stat(ctx context.Context, id FileID) (Meta, error) {
	m := Meta{ID: id}
	var created int64
	err := s.db.QueryRowContext(ctx, "SELECT sha256, size, name, type, created_at FROM olctl_files WHERE id = ?", int64(id)).
		Scan(&m.SHA256, &m.Size, &m.Name, &m.Type, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Meta{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Meta{}, fmt.Errorf("files: disk store: stat %d: %w", id, err)
	}
	if created != 0 {
		m.Created = time.Unix(0, created).UTC()
	}
	return m, nil
}

// Open implements Store. The reader is an *os.File.
func (s *DiskStore) Open(ctx context.Context, id FileID) (io.ReadCloser, Meta, error) {
	m, err := s.Stat(ctx, id)
	if err != nil {
		return nil, Meta{}, err
	}
	if len(m.SHA256) != 64 {
		return nil, Meta{}, fmt.Errorf("files: disk store: file %d has a malformed digest", id)
	}
	f, err := os.Open(s.objectPath(m.SHA256))
	if err != nil {
		return nil, Meta{}, fmt.Errorf("files: disk store: open %d: %w", id, err)
	}
	return f, m, nil
}
