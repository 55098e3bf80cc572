// Package bfcontext keeps the Bot Framework context of each chat (docs/protocol.md §8.4): the whole
// recipient map of the customer's last message (the bot account the messenger addressed, stored as from)
// and the service_url to answer through, per (chat.id, virtual connector as received). The portal's receive
// pipeline writes it for the message and message_update items of a real botframework connector; the
// Output client merges it over the top level of outgoing sendMessage, updateMessage and deleteMessage
// items, where the stored values win. Both share one Store.
package bfcontext

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// Context is what a chat needs for answers to reach it.
type Context struct {
	ChatID    string // chat.id (the Bot Framework conversation id)
	Connector string // the virtual connector as received, e.g. botframework.skype
	// From is the item's whole recipient map, in its order (for Bot Framework the bot account: id, name,
	// …); nil when the item had none.
	From       *wire.Map
	ServiceURL string // where the channel answers; "" when the item had none
}

// Equal reports whether two contexts hold the same values (From compared entry by entry, in order).
func (c Context) Equal(o Context) bool {
	if c.ChatID != o.ChatID || c.Connector != o.Connector || c.ServiceURL != o.ServiceURL {
		return false
	}
	a, errA := encodeFrom(c.From)
	b, errB := encodeFrom(o.From)
	return errA == nil && errB == nil && a == b
}

// ErrNotFound is returned by Get for a chat with no stored context.
var ErrNotFound = errors.New("bfcontext: no context stored for this chat")

// Store keeps contexts keyed by (chat id, virtual connector). Get returns a copy the caller may change.
type Store interface {
	// Get returns the context of a chat, or ErrNotFound.
	Get(ctx context.Context, chatID, connector string) (Context, error)
	// Put stores c, writing only when it differs from what is stored; changed reports whether it wrote.
	Put(ctx context.Context, c Context) (changed bool, err error)
}

// NewMemoryStore returns an in-memory Store, for tests and single-process tools.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[[2]string]stored{}} }

// MemoryStore is a Store in a map. Safe for concurrent use.
type MemoryStore struct {
	mu sync.Mutex
	m  map[[2]string]stored
}

// stored is a context with From in its stored (JSON) form, so that every Get decodes a fresh copy.
type stored struct {
	from, serviceURL string
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, chatID, connector string) (Context, error) {
	s.mu.Lock()
	st, ok := s.m[[2]string{chatID, connector}]
	s.mu.Unlock()
	if !ok {
		return Context{}, ErrNotFound
	}
	from, err := decodeFrom(st.from)
	if err != nil {
		return Context{}, fmt.Errorf("bfcontext: stored recipient of chat %s: %w", chatID, err)
	}
	return Context{ChatID: chatID, Connector: connector, From: from, ServiceURL: st.serviceURL}, nil
}

// Put implements Store.
func (s *MemoryStore) Put(_ context.Context, c Context) (bool, error) {
	if c.ChatID == "" || c.Connector == "" {
		return false, errors.New("bfcontext: chat id and connector are required")
	}
	from, err := encodeFrom(c.From)
	if err != nil {
		return false, err
	}
	st := stored{from: from, serviceURL: c.ServiceURL}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{c.ChatID, c.Connector}
	if old, ok := s.m[k]; ok && old == st {
		return false, nil
	}
	s.m[k] = st
	return true, nil
}

// SQLStore is a Store in the table olctl_bf_context (SQLite, MySQL or PostgreSQL).
type SQLStore struct{ db *sqldb.DB }

var migrations = []sqldb.Migration{{
	Version: 1,
	SQLite: []string{`CREATE TABLE olctl_bf_context (
		chat_id VARCHAR(255) NOT NULL,
		connector VARCHAR(128) NOT NULL,
		from_json TEXT NOT NULL,
		service_url TEXT NOT NULL,
		PRIMARY KEY (chat_id, connector))`},
	MySQL: []string{`CREATE TABLE olctl_bf_context (
		chat_id VARCHAR(255) NOT NULL,
		connector VARCHAR(128) NOT NULL,
		from_json TEXT NOT NULL,
		service_url TEXT NOT NULL,
		PRIMARY KEY (chat_id, connector)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`},
	Postgres: []string{`CREATE TABLE olctl_bf_context (
		chat_id VARCHAR(255) NOT NULL,
		connector VARCHAR(128) NOT NULL,
		from_json TEXT NOT NULL,
		service_url TEXT NOT NULL,
		PRIMARY KEY (chat_id, connector))`},
}}

// NewSQLStore returns a Store on db, creating its table when needed.
func NewSQLStore(ctx context.Context, db *sqldb.DB) (*SQLStore, error) {
	if err := db.Migrate(ctx, "bfcontext", migrations); err != nil {
		return nil, err
	}
	return &SQLStore{db: db}, nil
}

// Get implements Store.
func (s *SQLStore) Get(ctx context.Context, chatID, connector string) (Context, error) {
	var from, url string
	err := s.db.QueryRowContext(ctx, "SELECT from_json, service_url FROM olctl_bf_context WHERE chat_id = ? AND connector = ?", chatID, connector).Scan(&from, &url)
	if errors.Is(err, sqlNoRows) {
		return Context{}, ErrNotFound
	}
	if err != nil {
		return Context{}, fmt.Errorf("bfcontext: get: %w", err)
	}
	m, err := decodeFrom(from)
	if err != nil {
		return Context{}, fmt.Errorf("bfcontext: stored recipient of chat %s: %w", chatID, err)
	}
	return Context{ChatID: chatID, Connector: connector, From: m, ServiceURL: url}, nil
}

// Connectors returns the connectors a chat has a context under (several virtual connectors of one real one
// may share a chat id), sorted; none for an unknown chat.
func (s *SQLStore) Connectors(ctx context.Context, chatID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT connector FROM olctl_bf_context WHERE chat_id = ? ORDER BY connector", chatID)
	if err != nil {
		return nil, fmt.Errorf("bfcontext: connectors: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("bfcontext: connectors: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bfcontext: connectors: %w", err)
	}
	return out, nil
}

// Put implements Store: it reads first and writes only a changed context.
func (s *SQLStore) Put(ctx context.Context, c Context) (bool, error) {
	if c.ChatID == "" || c.Connector == "" {
		return false, errors.New("bfcontext: chat id and connector are required")
	}
	old, err := s.Get(ctx, c.ChatID, c.Connector)
	if err == nil && old.Equal(c) {
		return false, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	from, err := encodeFrom(c.From)
	if err != nil {
		return false, err
	}
	q := "INSERT INTO olctl_bf_context (chat_id, connector, from_json, service_url) VALUES (?, ?, ?, ?) " +
		"ON CONFLICT (chat_id, connector) DO UPDATE SET from_json = excluded.from_json, service_url = excluded.service_url"
	if s.db.Dialect == sqldb.MySQL {
		q = "INSERT INTO olctl_bf_context (chat_id, connector, from_json, service_url) VALUES (?, ?, ?, ?) " +
			"ON DUPLICATE KEY UPDATE from_json = VALUES(from_json), service_url = VALUES(service_url)"
	}
	if _, err := s.db.ExecContext(ctx, q, c.ChatID, c.Connector, from, c.ServiceURL); err != nil {
		return false, fmt.Errorf("bfcontext: put: %w", err)
	}
	return true, nil
}
