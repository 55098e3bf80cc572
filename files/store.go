package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"
)

// Meta describes a stored file.
type Meta struct {
	ID      FileID    // set by the store
	Name    string    // the sanitized file name, with an extension when the type has one
	Type    string    // the media type, e.g. image/png
	Size    int64     // set by the store: the number of bytes stored
	SHA256  string    // set by the store: lower-case hex SHA-256 of the bytes
	Created time.Time // as given to Put (the Importer sets it from its clock)
}

// Store keeps imported files. Implementations are safe for concurrent use.
type Store interface {
	// Put stores the bytes r yields under meta's Name, Type and Created, and returns the file's id. It
	// computes Size and SHA256 itself. If reading r fails, nothing is stored and the error (wrapped) is
	// returned. Storing the same bytes with the same name and type again returns the same id.
	Put(ctx context.Context, meta Meta, r io.Reader) (FileID, error)
	// Stat returns a file's metadata, or ErrNotFound.
	Stat(ctx context.Context, id FileID) (Meta, error)
	// Open returns a file's bytes and metadata, or ErrNotFound. The caller closes the reader; stores return
	// an io.ReadSeeker when they can, so that Links can serve ranges.
	Open(ctx context.Context, id FileID) (io.ReadCloser, Meta, error)
}

// dedupKey identifies a registration: the same bytes under the same name and type are one file.
func dedupKey(sum, mediaType, name string) string {
	h := sha256.New()
	h.Write([]byte(sum))
	h.Write([]byte{0})
	h.Write([]byte(mediaType))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return hex.EncodeToString(h.Sum(nil))
}

// NewMemoryStore returns a Store that keeps files in memory, for tests and small tools. The bytes of
// identical files are kept once.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{blobs: map[string][]byte{}, byKey: map[string]FileID{}}
}

// MemoryStore is a Store in memory. Safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	blobs map[string][]byte // sha256 -> bytes
	metas []Meta            // index id-1
	byKey map[string]FileID
}

// Put implements Store.
func (s *MemoryStore) Put(ctx context.Context, meta Meta, r io.Reader) (FileID, error) {
	var buf bytes.Buffer
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(&buf, h), r); err != nil {
		return 0, fmt.Errorf("files: memory store: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	meta.Size = int64(buf.Len())
	meta.SHA256 = sum
	k := dedupKey(sum, meta.Type, meta.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byKey[k]; ok {
		return id, nil
	}
	if _, ok := s.blobs[sum]; !ok {
		s.blobs[sum] = buf.Bytes()
	}
	meta.ID = FileID(len(s.metas) + 1)
	s.metas = append(s.metas, meta)
	s.byKey[k] = meta.ID
	return meta.ID, nil
}

// Stat implements Store.
func (s *MemoryStore) Stat(_ context.Context, id FileID) (Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int64(id) > int64(len(s.metas)) {
		return Meta{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return s.metas[id-1], nil
}

// Open implements Store.
func (s *MemoryStore) Open(ctx context.Context, id FileID) (io.ReadCloser, Meta, error) {
	m, err := s.Stat(ctx, id)
	if err != nil {
		return nil, Meta{}, err
	}
	s.mu.Lock()
	b := s.blobs[m.SHA256]
	s.mu.Unlock()
	return readSeekNopCloser{bytes.NewReader(b)}, m, nil
}

// Len returns the number of registered files.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.metas)
}

// Blobs returns the number of distinct contents kept.
func (s *MemoryStore) Blobs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.blobs)
}

type readSeekNopCloser struct{ *bytes.Reader }

func (readSeekNopCloser) Close() error { return nil }
