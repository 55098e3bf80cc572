package client

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/olctl/olctl/client/clienttest"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// statusLog is an openlines.LineStatusStore that keeps every status written, in order.
type statusLog struct {
	mu      sync.Mutex
	current map[[2]string]openlines.LineStatus
	writes  []openlines.LineStatus
	failSet error
}

func newStatusLog() *statusLog { return &statusLog{current: map[[2]string]openlines.LineStatus{}} }

func (s *statusLog) LineStatus(_ context.Context, real, line string) (openlines.LineStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current[[2]string{real, line}], nil
}

func (s *statusLog) SetLineStatus(_ context.Context, real, line string, st openlines.LineStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSet != nil {
		return s.failSet
	}
	s.current[[2]string{real, line}] = st
	s.writes = append(s.writes, st)
	return nil
}

var (
	none     = openlines.LineStatus{}
	active   = openlines.LineStatus{Active: true}
	tested   = openlines.LineStatus{Active: true, Connection: true}
	open     = openlines.LineStatus{Active: true, Connection: true, Register: true}
	errFlag  = openlines.LineStatus{Error: true}
	activeE  = openlines.LineStatus{Active: true, Error: true}
	testedE  = openlines.LineStatus{Active: true, Connection: true, Error: true}
	wasOpenE = openlines.LineStatus{Active: true, Connection: true, Register: true, Error: true}
)

// Connect runs saveSettings → testConnect → register, writing ACTIVE, CONNECTION and REGISTER in turn on
// (real id, line); full success clears ERROR; the first failure stops it with the step's code and the
// server's errors.
func TestConnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		before  openlines.LineStatus
		failAt  string // the method the server refuses, "" for none
		writes  []openlines.LineStatus
		methods []string
		codes   []wire.Code
	}{
		{name: "success", writes: []openlines.LineStatus{active, tested, open},
			methods: []string{"saveSettings", "testConnect", "register"}},
		{name: "success clears ERROR", before: wasOpenE, writes: []openlines.LineStatus{activeE, testedE, open},
			methods: []string{"saveSettings", "testConnect", "register"}},
		{name: "saveSettings fails", before: errFlag, failAt: "saveSettings", writes: []openlines.LineStatus{errFlag},
			methods: []string{"saveSettings"}, codes: []wire.Code{wire.CodeFailedSaveSettings, wire.CodeLicence}},
		{name: "testConnect fails", failAt: "testConnect", writes: []openlines.LineStatus{active, active},
			methods: []string{"saveSettings", "testConnect"}, codes: []wire.Code{wire.CodeFailedTestConnector, wire.CodeLicence}},
		{name: "register fails on an open line", before: open, failAt: "register", writes: []openlines.LineStatus{active, tested, tested},
			methods: []string{"saveSettings", "testConnect", "register"}, codes: []wire.Code{wire.CodeFailedRegister, wire.CodeLicence}},
		{name: "saveSettings fails on an open line", before: open, failAt: "saveSettings", writes: []openlines.LineStatus{none},
			methods: []string{"saveSettings"}, codes: []wire.Code{wire.CodeFailedSaveSettings, wire.CodeLicence}},
	}
	for _, s := range signings() {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				f := newFixture(t, s)
				f.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
					switch call.Method {
					case tt.failAt:
						clienttest.Fail(w, wire.CodeLicence)
					case "register":
						clienttest.OK(w, map[string]any{"URL_WEBHOOK": "https://connector.example.com/imwebhook/botframework?h=abc"})
					default:
						clienttest.OK(w, nil)
					}
				})
				store := newStatusLog()
				store.current[[2]string{"botframework", "3"}] = tt.before
				c := f.client(t, WithLineStatus(store))
				data, err := c.Connect(ctxT(t), Settings{"bot_handle": "helpdesk", "app_id": "id", "app_secret": "s"},
					Connector("botframework.skype"))
				if got := codesOf(t, err); !slices.Equal(got, tt.codes) {
					t.Fatalf("codes %v (%v), want %v", got, err, tt.codes)
				}
				if err == nil && data.String("URL_WEBHOOK") == "" {
					t.Errorf("Connect returned %v, not register's DATA", data)
				}
				if err != nil {
					var e *Error
					if !errors.As(err, &e) || e.Method != tt.failAt || e.Attempts != 1 || !errors.Is(err, wire.CodeLicence) {
						t.Errorf("error %+v", e)
					}
				}
				var methods []string
				for _, call := range f.Calls() {
					methods = append(methods, call.Method)
					if call.Connector != "botframework.skype" || call.Line != "3" {
						t.Errorf("%s went to %s/%s", call.Method, call.Connector, call.Line)
					}
				}
				if !slices.Equal(methods, tt.methods) {
					t.Errorf("methods %v, want %v", methods, tt.methods)
				}
				if !slices.Equal(store.writes, tt.writes) {
					t.Errorf("status writes %+v\nwant %+v", store.writes, tt.writes)
				}
				if _, ok := store.current[[2]string{"botframework.skype", "3"}]; ok {
					t.Error("a status was written under the virtual id")
				}
			})
		}
	}
}

// Without a status store Connect still connects; a store that fails stops it with INTERNAL_ERROR.
func TestConnectStatusStore(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	if _, err := f.client(t).Connect(ctxT(t), Settings{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	store := newStatusLog()
	store.failSet = errors.New("disk full")
	_, err := f.client(t, WithLineStatus(store)).Connect(ctxT(t), Settings{"a": "b"})
	if wire.CodeOf(err) != wire.CodeInternal || f.Last(t).Method != "saveSettings" {
		t.Fatalf("err %v after %s", err, f.Last(t).Method)
	}
}
