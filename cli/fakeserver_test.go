package cli

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/olctl/olctl/wire"
)

const (
	testLicenceKey = "test-licence-key-0123456789"
	testDomain     = "https://portal.example.com"
)

// fakeCall is one verified request the fake connector server received.
type fakeCall struct {
	Method    string
	Connector string
	Line      string
	Args      []any
	Fields    wire.Fields
}

// fakeServer is a connector server endpoint for tests: it verifies every packet with wire (signature, fields),
// records it and answers from answers (by lower-cased method), METHOD_NOT_FOUND otherwise.
type fakeServer struct {
	*httptest.Server
	creds   wire.Credentials
	mu      sync.Mutex
	calls   []fakeCall
	answers map[string]func(c fakeCall) (any, error)
	header  http.Header // extra headers of every answer (e.g. Date)
}

func newFakeServer(t *testing.T, creds wire.Credentials) *fakeServer {
	t.Helper()
	return startFakeServer(t, creds, false)
}

// newFakeTLSServer is newFakeServer over HTTPS; its Client() trusts its certificate.
func newFakeTLSServer(t *testing.T, creds wire.Credentials) *fakeServer {
	t.Helper()
	return startFakeServer(t, creds, true)
}

func startFakeServer(t *testing.T, creds wire.Credentials, useTLS bool) *fakeServer {
	t.Helper()
	fs := &fakeServer{creds: creds, answers: map[string]func(fakeCall) (any, error){
		"testconnect": func(fakeCall) (any, error) { return map[string]any{"RESULT": "OK"}, nil },
		"listconnector": func(fakeCall) (any, error) {
			return map[string]any{"botframework": "Microsoft Bot Framework", "echo": "Echo"}, nil
		},
		"infoconnect": func(c fakeCall) (any, error) {
			return map[string]any{"ID": c.Connector, "LINE": c.Line,
				"STATUS": map[string]bool{"ACTIVE": true, "CONNECTION": true, "REGISTER": true, "ERROR": false}}, nil
		},
	}, header: http.Header{}}
	guard := wire.NewReplayGuard(nil, 0)
	fs.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := wire.ReadForm(r, 0)
		if err != nil {
			wire.WriteResponse(w, nil, err)
			return
		}
		p, err := wire.Parse(fields, wire.ToServer)
		if err == nil && p.Licence != wire.Licence(fs.creds.LicenceKey) {
			err = wire.Errorf(wire.CodeLicence, "unknown portal")
		}
		if err == nil {
			err = wire.Verify(fields, fs.creds, guard)
		}
		if err == nil {
			err = p.DecodeData()
		}
		if err != nil {
			wire.WriteResponse(w, nil, err)
			return
		}
		args, _ := p.Items()
		call := fakeCall{Method: p.Command, Connector: p.Connector, Line: p.Line, Args: args, Fields: fields}
		fs.mu.Lock()
		fs.calls = append(fs.calls, call)
		answer := fs.answers[strings.ToLower(p.Command)]
		for k, v := range fs.header {
			w.Header()[k] = v
		}
		fs.mu.Unlock()
		if answer == nil {
			wire.WriteResponse(w, nil, wire.Errorf(wire.CodeMethodNotFound, "no method %s", p.Command))
			return
		}
		data, err := answer(call)
		wire.WriteResponse(w, data, err)
	}))
	fs.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-certificate test makes handshakes fail
	if useTLS {
		fs.StartTLS()
	} else {
		fs.Start()
	}
	t.Cleanup(fs.Close)
	return fs
}

// setHeader sets a header of every answer.
func (fs *fakeServer) setHeader(k, v string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.header.Set(k, v)
}

// answer sets the answer of method.
func (fs *fakeServer) answer(method string, fn func(c fakeCall) (any, error)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.answers[strings.ToLower(method)] = fn
}

// received returns the calls received so far.
func (fs *fakeServer) received() []fakeCall {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]fakeCall(nil), fs.calls...)
}

// env returns an environment configuring olctl for the fake server.
func (fs *fakeServer) env(extra ...string) map[string]string {
	env := map[string]string{
		"OLCTL_SERVER":      fs.URL,
		"OLCTL_DOMAIN":      testDomain,
		"OLCTL_LICENCE_KEY": fs.creds.LicenceKey,
		"OLCTL_CONNECTOR":   "botframework",
		"OLCTL_LINE":        "3",
	}
	if fs.creds.Mode == wire.HMACSHA256 {
		env["OLCTL_SIGNING"] = "hmac-sha256"
		env["OLCTL_SECRET"] = strings.Join(fs.creds.Secrets, ",")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func md5Creds() wire.Credentials {
	return wire.Credentials{Mode: wire.MD5, LicenceKey: testLicenceKey}
}

func hmacCreds() wire.Credentials {
	return wire.Credentials{Mode: wire.HMACSHA256, LicenceKey: testLicenceKey, Secrets: []string{"hmac-secret-one-0001"}}
}

// closedURL returns the URL of a server that has been shut down: nothing listens there.
func closedURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}
