package users

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/olctl/olctl/files"
)

// InternalID is the portal's id of a user: the row id of its record, always > 0.
type InternalID int64

// User is the portal's record of an external user.
type User struct {
	ID         InternalID
	Key        string // "<connector>|<external id>", unique
	Connector  string
	ExternalID string
	Name       string // after the two-part split; the title or the guest name when the user gave neither name
	LastName   string
	Title      string
	URL        string
	Gender     string // "M", "F" or "" (from male, female)
	Email      string
	Phone      string
	PictureURL string       // the picture URL the photo was imported from
	PhotoID    files.FileID // the imported avatar; 0 for none
	Hash       string       // md5 hex of the external user's canonical serialization
}

// Errors of a Store.
var (
	// ErrNotFound is a user the store does not have.
	ErrNotFound = errors.New("users: no such user")
	// ErrExists is a Create of a key that is already taken (another sync created it first).
	ErrExists = errors.New("users: a user with this key already exists")
)

// Store keeps user records. Implementations are safe for concurrent use and make one record per key even
// when several creates race (the loser gets ErrExists).
type Store interface {
	// Get returns the user with the external key, or ErrNotFound.
	Get(ctx context.Context, key string) (User, error)
	// ByID returns the user with the internal id, or ErrNotFound.
	ByID(ctx context.Context, id InternalID) (User, error)
	// Create inserts u (its ID is ignored) and returns its new id, or ErrExists when u.Key is taken.
	Create(ctx context.Context, u User) (InternalID, error)
	// Update replaces the record with id u.ID (its Key cannot change), or returns ErrNotFound.
	Update(ctx context.Context, u User) error
}

// NewMemoryStore returns a Store in memory, for tests and single-process tools.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{byKey: map[string]InternalID{}}
}

// MemoryStore is a Store in a map. Safe for concurrent use.
type MemoryStore struct {
	mu    sync.RWMutex
	users []User // index id-1
	byKey map[string]InternalID
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, key string) (User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byKey[key]
	if !ok {
		return User{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return s.users[id-1], nil
}

// ByID implements Store.
func (s *MemoryStore) ByID(_ context.Context, id InternalID) (User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if id < 1 || int64(id) > int64(len(s.users)) {
		return User{}, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	return s.users[id-1], nil
}

// Create implements Store.
func (s *MemoryStore) Create(_ context.Context, u User) (InternalID, error) {
	if u.Key == "" {
		return 0, errors.New("users: create: key is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byKey[u.Key]; ok {
		return 0, fmt.Errorf("%w: %s", ErrExists, u.Key)
	}
	u.ID = InternalID(len(s.users) + 1)
	s.users = append(s.users, u)
	s.byKey[u.Key] = u.ID
	return u.ID, nil
}

// Update implements Store.
func (s *MemoryStore) Update(_ context.Context, u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID < 1 || int64(u.ID) > int64(len(s.users)) {
		return fmt.Errorf("%w: id %d", ErrNotFound, u.ID)
	}
	u.Key = s.users[u.ID-1].Key
	s.users[u.ID-1] = u
	return nil
}

// Len returns the number of users.
func (s *MemoryStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.users)
}
