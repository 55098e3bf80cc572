package files_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/openlines"
)

func ExampleImporter_Import() {
	// A messenger's CDN: an avatar without a Content-Type, and a file that is gone.
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/avatars/42" {
			http.NotFound(w, r)
			return
		}
		w.Header()["Content-Type"] = nil
		_, _ = w.Write([]byte("\x89PNG\r\n\x1a\n....")) // sniffed as image/png
	}))
	defer cdn.Close()

	store := files.NewMemoryStore()
	// httptest listens on 127.0.0.1, which the importer refuses unless told otherwise.
	imp := files.NewImporter(store, files.WithAllowPrivateNetworks(true), files.WithMaxSize(10<<20))
	ids, failures := imp.Import(context.Background(), []openlines.File{
		{URL: cdn.URL + "/avatars/42?token=abc"},
		{URL: cdn.URL + "/gone.pdf"},
	})
	for _, id := range ids {
		m, _ := store.Stat(context.Background(), id)
		fmt.Println("imported", id, m.Name, m.Type, m.Size)
	}
	for _, f := range failures {
		fmt.Println("failed", f.Index, f.Code)
	}
	// Output:
	// imported 1 42.png image/png 12
	// failed 1 failed_status
}

func ExampleLinks_OutgoingFiles() {
	ctx := context.Background()
	store := files.NewMemoryStore()
	id, _ := store.Put(ctx, files.Meta{Name: "report.pdf", Type: "application/pdf"}, strings.NewReader("%PDF-1.4"))

	links, err := files.NewLinks(store, "https://portal.example.com/olctl/files", []byte("a secret of at least 16 bytes"),
		files.WithLinkTTL(24*time.Hour),
		files.WithLinkClock(clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Serve the links where they point: mux.Handle("/olctl/files/", links)
	out, _ := links.OutgoingFiles(ctx, []files.FileID{id})
	fmt.Printf("%s %s %s %d\n%s\n", out[0].Name, out[0].Type, out[0].MIME, out[0].Size, out[0].Link)
	// Output:
	// report.pdf file application/pdf 8
	// https://portal.example.com/olctl/files/1/report.pdf?exp=1735776000&sig=mGC8GWpPBRROEe_L6rrDasN797lYySo3Q4FIIr0Q414
}
