package inspect_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/olctl/olctl/inspect"
	"github.com/olctl/olctl/wire"
)

// A Recorder wraps an endpoint (and a client's transport); its Handler is the live page, here behind Guard.
func ExampleRecorder() {
	rec := inspect.NewRecorder(inspect.Options{Packets: 100, Secrets: []string{"licence-key"}})
	endpoint := rec.Incoming(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		wire.WriteResponse(w, []any{}, nil)
	}))
	mux := http.NewServeMux()
	mux.Handle("/pub/imconnector/", endpoint)
	mux.Handle("/inspect/", http.StripPrefix("/inspect", inspect.Guard(rec.Handler(inspect.Page{Title: "My portal"}), "")))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	_, _ = http.Post(srv.URL+"/pub/imconnector/", "application/x-www-form-urlencoded",
		strings.NewReader("BX_COMMAND=testConnect&CONNECTOR=botframework&LINE=3&DATA=&BX_HASH=0"))
	resp, err := http.Get(srv.URL + "/inspect/api/packets/1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output: 200 application/json
}
