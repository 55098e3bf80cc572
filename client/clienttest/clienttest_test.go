package clienttest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/client/clienttest"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

func TestServerRecordsAndAnswers(t *testing.T) {
	srv := clienttest.NewServer(t, wire.Credentials{Mode: wire.MD5, LicenceKey: "k"})
	c, err := client.New(srv.URL, client.WithDomain("https://portal.example.com"), client.WithLicenceKey("k"),
		client.WithConnector("vkgroup"), client.WithLine("2"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.TestConnect(ctx); err != nil { // the default answer: OK
		t.Fatal(err)
	}
	items := []openlines.StatusItem{{Chat: openlines.ChatRef{ID: "c"}, Message: openlines.MessageRef{ID: "m"}}}
	if err := c.SetStatusReading(ctx, items); err != nil {
		t.Fatal(err)
	}
	srv.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
		clienttest.Fail(w, wire.CodeNotActiveLine, wire.CodeLicence)
	})
	err = c.SaveSettings(ctx, client.Settings{"k": "v"})
	if e, ok := err.(*client.Error); !ok || len(e.Codes()) != 2 || e.Codes()[1] != wire.CodeLicence {
		t.Fatalf("Fail: %v", err)
	}
	calls := srv.Calls()
	if srv.Count() != 3 || len(calls) != 3 || calls[0].N != 1 || calls[2].N != 3 {
		t.Fatalf("%d calls", len(calls))
	}
	got := calls[1]
	if got.Method != "setStatusReading" || got.Connector != "vkgroup" || got.Line != "2" || got.Err != nil ||
		got.URL.Query().Get("command") != "setStatusReading" || got.Header.Get("X-Bitrix-Licence") != wire.Licence("k") {
		t.Fatalf("%+v", got)
	}
	var sent []openlines.StatusItem
	if err := got.Bind(0, &sent); err != nil || sent[0] != items[0] {
		t.Fatalf("Bind: %+v %v", sent, err)
	}
	if err := got.Bind(1, &sent); err == nil {
		t.Fatal("Bind of a missing argument")
	}
	if last := srv.Last(t); last.Method != "saveSettings" {
		t.Fatalf("Last %s", last.Method)
	}
}

// A packet that does not verify is recorded with its error and answered with its code (Lenient: the test
// sends it on purpose).
func TestServerRefusesBadPackets(t *testing.T) {
	srv := clienttest.NewServer(t, wire.Credentials{Mode: wire.MD5, LicenceKey: "k"}, clienttest.Lenient())
	c, _ := client.New(srv.URL, client.WithDomain("https://portal.example.com"), client.WithLicenceKey("other"),
		client.WithConnector("vkgroup"))
	if err := c.TestConnect(context.Background()); wire.CodeOf(err) != wire.CodeLicence {
		t.Fatalf("wrong key: %v", err)
	}
	if last := srv.Last(t); last.Err == nil || wire.CodeOf(last.Err) != wire.CodeLicence || last.Method != "testConnect" {
		t.Fatalf("%+v", last)
	}
	resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader("BX_COMMAND=x"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"OK":false`) || srv.Last(t).Err == nil {
		t.Fatalf("answer %s", body)
	}
}
