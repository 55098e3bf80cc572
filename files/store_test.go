package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/sqldb"
)

// eachStore runs fn against each Store implementation: memory, and disk with SQLite, MariaDB and PostgreSQL.
func eachStore(t *testing.T, fn func(t *testing.T, s files.Store, objects func() int)) {
	t.Run("memory", func(t *testing.T) {
		s := files.NewMemoryStore()
		fn(t, s, s.Blobs)
	})
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		dir := t.TempDir()
		s, err := files.NewDiskStore(context.Background(), dir, db)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, s, func() int { return countFiles(t, filepath.Join(dir, "objects")) })
		if n := countFiles(t, filepath.Join(dir, "tmp")); n != 0 {
			t.Fatalf("%d temporary files left behind", n)
		}
	})
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("connection reset")
	}
	f.n--
	return copy(p, "some bytes"), nil
}

func TestStore(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s files.Store, objects func() int) {
		ctx := context.Background()
		when := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
		put := func(name, typ, body string) files.FileID {
			t.Helper()
			id, err := s.Put(ctx, files.Meta{Name: name, Type: typ, Created: when}, bytes.NewReader([]byte(body)))
			if err != nil {
				t.Fatal(err)
			}
			if id <= 0 {
				t.Fatalf("id %d", id)
			}
			return id
		}
		a := put("a.txt", "text/plain", "hello")
		if again := put("a.txt", "text/plain", "hello"); again != a {
			t.Fatalf("the same file registered twice: ids %d and %d", a, again)
		}
		b := put("b.txt", "text/plain", "hello") // same bytes, another name: another id, one object
		c := put("c.txt", "text/plain", "other")
		if b == a || c == a || c == b {
			t.Fatalf("ids %d %d %d", a, b, c)
		}
		if n := objects(); n != 2 {
			t.Fatalf("%d objects stored, want 2 (deduplicated)", n)
		}
		m, err := s.Stat(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		want := files.Meta{ID: b, Name: "b.txt", Type: "text/plain", Size: 5,
			SHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", Created: when}
		if m != want {
			t.Fatalf("Stat = %+v, want %+v", m, want)
		}
		rc, m2, err := s.Open(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		_ = rc.Close()
		if string(body) != "other" || m2.Name != "c.txt" {
			t.Fatalf("Open = %q %+v", body, m2)
		}
		if _, ok := rc.(io.ReadSeeker); !ok {
			t.Fatalf("Open returned %T, want a ReadSeeker", rc)
		}
		for _, id := range []files.FileID{0, -1, 999999} {
			if _, err := s.Stat(ctx, id); !errors.Is(err, files.ErrNotFound) {
				t.Fatalf("Stat(%d) = %v, want ErrNotFound", id, err)
			}
			if _, _, err := s.Open(ctx, id); !errors.Is(err, files.ErrNotFound) {
				t.Fatalf("Open(%d) = %v, want ErrNotFound", id, err)
			}
		}
		// A reader that fails leaves nothing behind.
		before := objects()
		if _, err := s.Put(ctx, files.Meta{Name: "x"}, &failingReader{n: 3}); err == nil {
			t.Fatal("Put of a failing reader succeeded")
		}
		if objects() != before {
			t.Fatal("a failed Put left an object")
		}
		// Concurrent registrations of one new file make one id.
		var wg sync.WaitGroup
		ids := make([]files.FileID, 16)
		errs := make([]error, 16)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids[i], errs[i] = s.Put(ctx, files.Meta{Name: "race.bin", Type: "application/octet-stream"}, bytes.NewReader([]byte("race")))
			}()
		}
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("concurrent Put %d: id %d err %v, want id %d", i, ids[i], errs[i], ids[0])
			}
		}
	})
}

func TestDiskStoreRefusesBadMeta(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		s, err := files.NewDiskStore(context.Background(), t.TempDir(), db)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []files.Meta{
			{Name: string(bytes.Repeat([]byte("n"), 256))},
			{Name: "ok", Type: string(bytes.Repeat([]byte("t"), 256))},
			{Name: "bad\xff"},
			{Name: "nul\x00.txt"},
			{Name: "ok", Type: "text/plain\x00"},
		} {
			if _, err := s.Put(context.Background(), m, bytes.NewReader(nil)); err == nil {
				t.Fatalf("Put(%.20q, %.20q) succeeded", m.Name, m.Type)
			}
		}
		// The longest name and type stored, in multi-byte characters, are kept whole.
		long := files.Meta{Name: string(bytes.Repeat([]byte("é"), files.MaxStoredNameBytes/2)), Type: string(bytes.Repeat([]byte("t"), files.MaxStoredTypeBytes))}
		id, err := s.Put(context.Background(), long, bytes.NewReader([]byte("x")))
		if err != nil {
			t.Fatal(err)
		}
		if m, err := s.Stat(context.Background(), id); err != nil || m.Name != long.Name || m.Type != long.Type {
			t.Fatalf("Stat = %q %q, %v", m.Name, m.Type, err)
		}
	})
	if _, err := files.NewDiskStore(context.Background(), "", testdb.SQLite(t)); err == nil {
		t.Fatal("NewDiskStore without a directory succeeded")
	}
}

// TestImportIntoDiskStore: the importer streams into the disk store; a cut-off download leaves nothing.
func TestImportIntoDiskStore(t *testing.T) {
	t.Parallel()
	srv := fileServer(t)
	dir := t.TempDir()
	s, err := files.NewDiskStore(context.Background(), dir, testdb.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	imp := files.NewImporter(s, files.WithAllowPrivateNetworks(true), files.WithMaxSize(64<<10))
	ids, fails := imp.Import(context.Background(), []openlines.File{
		{URL: srv.URL + "/files/report.pdf"},
		{URL: srv.URL + "/big/endless"},
		{URL: srv.URL + "/raw/avatar"},
	})
	if len(ids) != 2 || len(fails) != 1 || fails[0].Code != files.CodeBigFile || fails[0].Index != 1 {
		t.Fatalf("ids %v failures %v", ids, fails)
	}
	m, err := s.Stat(context.Background(), ids[1])
	if err != nil || m.Name != "avatar.png" || m.Type != "image/png" || m.Size != int64(len(pngBytes)) {
		t.Fatalf("Stat = %+v, %v", m, err)
	}
	if n := countFiles(t, filepath.Join(dir, "tmp")); n != 0 {
		t.Fatalf("%d temporary files left", n)
	}
	if n := countFiles(t, filepath.Join(dir, "objects")); n != 2 {
		t.Fatalf("%d objects, want 2", n)
	}
}
