package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/sqldb"
)

// MaxKeyBytes bounds an external key ("<connector>|<id>"): the unique index of the SQL store holds at most
// this many bytes.
const MaxKeyBytes = 512

var migrations = []sqldb.Migration{{
	Version: 1,
	SQLite: []string{`CREATE TABLE olctl_users (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		ext_key VARCHAR(512) NOT NULL UNIQUE,
		connector TEXT NOT NULL,
		external_id TEXT NOT NULL,
		name TEXT NOT NULL,
		last_name TEXT NOT NULL,
		title TEXT NOT NULL,
		url TEXT NOT NULL,
		gender TEXT NOT NULL,
		email TEXT NOT NULL,
		phone TEXT NOT NULL,
		picture_url TEXT NOT NULL,
		photo_id BIGINT NOT NULL DEFAULT 0,
		hash CHAR(32) NOT NULL)`},
	// VARBINARY: a VARCHAR would compare with PAD SPACE ("a" = "a "), making two external ids one user.
	MySQL: []string{`CREATE TABLE olctl_users (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		ext_key VARBINARY(512) NOT NULL,
		connector TEXT NOT NULL,
		external_id TEXT NOT NULL,
		name TEXT NOT NULL,
		last_name TEXT NOT NULL,
		title TEXT NOT NULL,
		url TEXT NOT NULL,
		gender TEXT NOT NULL,
		email TEXT NOT NULL,
		phone TEXT NOT NULL,
		picture_url TEXT NOT NULL,
		photo_id BIGINT NOT NULL DEFAULT 0,
		hash CHAR(32) NOT NULL,
		UNIQUE KEY olctl_users_ext_key (ext_key)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`},
}}

// SQLStore is a Store in the table olctl_users (SQLite or MySQL). The external key has a unique index, so
// concurrent creates of one user, from any number of processes, make one row.
type SQLStore struct {
	get, byID, create, update, exists *sql.Stmt
}

// NewSQLStore returns a Store on db, creating or migrating its table and preparing its statements. Close
// releases the statements (not db).
func NewSQLStore(ctx context.Context, db *sqldb.DB) (*SQLStore, error) {
	if db == nil {
		return nil, errors.New("users: sql store: database is required")
	}
	if err := db.Migrate(ctx, "users", migrations); err != nil {
		return nil, fmt.Errorf("users: sql store: %w", err)
	}
	s := &SQLStore{}
	for _, p := range []struct {
		stmt **sql.Stmt
		q    string
	}{
		{&s.get, "SELECT " + columns + " FROM olctl_users WHERE ext_key = ?"},
		{&s.byID, "SELECT " + columns + " FROM olctl_users WHERE id = ?"},
		{&s.create, "INSERT INTO olctl_users (ext_key, connector, external_id, name, last_name, title, url, gender, email, phone, picture_url, photo_id, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
		{&s.update, "UPDATE olctl_users SET connector = ?, external_id = ?, name = ?, last_name = ?, title = ?, url = ?, gender = ?, email = ?, phone = ?, picture_url = ?, photo_id = ?, hash = ? WHERE id = ?"},
		{&s.exists, "SELECT 1 FROM olctl_users WHERE id = ?"},
	} {
		st, err := db.PrepareContext(ctx, p.q)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("users: sql store: prepare: %w", err)
		}
		*p.stmt = st
	}
	return s, nil
}

// Close releases the prepared statements. The database stays open.
func (s *SQLStore) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.get, s.byID, s.create, s.update, s.exists} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

const columns = "id, ext_key, connector, external_id, name, last_name, title, url, gender, email, phone, picture_url, photo_id, hash"

func scanUser(row *sql.Row) (User, error) {
	var u User
	var id, photo int64
	err := row.Scan(&id, &u.Key, &u.Connector, &u.ExternalID, &u.Name, &u.LastName, &u.Title, &u.URL, &u.Gender,
		&u.Email, &u.Phone, &u.PictureURL, &photo, &u.Hash)
	u.ID, u.PhotoID = InternalID(id), files.FileID(photo)
	return u, err
}

// Get implements Store.
func (s *SQLStore) Get(ctx context.Context, key string) (User, error) {
	u, err := scanUser(s.get.QueryRowContext(ctx, key))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return User{}, fmt.Errorf("users: get %s: %w", key, err)
	}
	return u, nil
}

// ByID implements Store.
func (s *SQLStore) ByID(ctx context.Context, id InternalID) (User, error) {
	u, err := scanUser(s.byID.QueryRowContext(ctx, int64(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	if err != nil {
		return User{}, fmt.Errorf("users: get id %d: %w", id, err)
	}
	return u, nil
}

// Create implements Store: an INSERT; a unique violation on the key is ErrExists.
func (s *SQLStore) Create(ctx context.Context, u User) (InternalID, error) {
	if u.Key == "" {
		return 0, errors.New("users: create: key is required")
	}
	if len(u.Key) > MaxKeyBytes {
		return 0, fmt.Errorf("users: create: key is %d bytes, at most %d", len(u.Key), MaxKeyBytes)
	}
	res, err := s.create.ExecContext(ctx, u.Key, u.Connector, u.ExternalID, u.Name, u.LastName, u.Title, u.URL, u.Gender, u.Email, u.Phone, u.PictureURL, int64(u.PhotoID), u.Hash)
	if sqldb.IsUniqueViolation(err) {
		return 0, fmt.Errorf("%w: %s", ErrExists, u.Key)
	}
	if err != nil {
		return 0, fmt.Errorf("users: create %s: %w", u.Key, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("users: create %s: %w", u.Key, err)
	}
	return InternalID(id), nil
}

// Update implements Store.
func (s *SQLStore) Update(ctx context.Context, u User) error {
	res, err := s.update.ExecContext(ctx, u.Connector, u.ExternalID, u.Name, u.LastName, u.Title, u.URL, u.Gender, u.Email, u.Phone, u.PictureURL, int64(u.PhotoID), u.Hash, int64(u.ID))
	if err != nil {
		return fmt.Errorf("users: update id %d: %w", u.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("users: update id %d: %w", u.ID, err)
	}
	if n == 0 {
		// MySQL counts changed rows only: an identical row is found but not affected.
		var one int
		if err := s.exists.QueryRowContext(ctx, int64(u.ID)).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: id %d", ErrNotFound, u.ID)
		} else if err != nil {
			return fmt.Errorf("users: update id %d: %w", u.ID, err)
		}
	}
	return nil
}
